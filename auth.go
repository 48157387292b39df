package main

// Who is calling: the three modes (open, shared token, accounts), the
// credentials a request may carry (a bearer token, Basic with a token, the
// session cookie), the same-origin rule for cookies, and the sign-in with a
// password, bounded against guessing.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
	"time"
)

const (
	sessionCookie = "todo_session"
	// passwordWait bounds the wait for a turn to check a password: PBKDF2
	// takes the CPU for a moment, so only a few run at once (server.hashing).
	passwordWait = 2 * time.Second
)

// Caller is who a request comes from.
type Caller struct {
	User       int64
	Admin      bool
	Credential int64 // the token or session it came with; 0 without one
	Cookie     bool  // it came with the session cookie
}

// callerFrom returns the caller that authenticate found for the request.
func callerFrom(ctx context.Context) Caller {
	if c := requestInfoFrom(ctx).caller; c != nil {
		return *c
	}
	return Caller{}
}

// The built-in user, in the open and shared-token modes, may do everything.
var builtinCaller = Caller{User: BuiltinUser, Admin: true}

// authenticate finds the caller of every route but those that need none
// (the health checks, and the sign-in routes, which check a password
// themselves), and answers 401 when it cannot.
func (s *server) authenticate(next http.Handler) http.Handler {
	var token [32]byte
	if s.cfg.token != "" {
		token = sha256.Sum256([]byte(s.cfg.token))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if needsNoCaller(r) {
			next.ServeHTTP(w, r)
			return
		}
		var caller Caller
		var err error
		switch {
		case s.cfg.token != "": // shared token, until a restart even once accounts exist
			scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			got := sha256.Sum256([]byte(strings.TrimSpace(secret)))
			caller, err = builtinCaller, nil
			if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], token[:]) != 1 {
				err = Errorf(EUNAUTHORIZED, "a valid bearer token is required")
			}
		case !s.store.HasAccounts(): // open
			caller = builtinCaller
		default:
			caller, err = s.accountCaller(r)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		if info := requestInfoFrom(r.Context()); info.caller != nil {
			*info.caller = caller
		}
		next.ServeHTTP(w, r)
	})
}

// needsNoCaller reports whether r's route finds no caller in authenticate.
func needsNoCaller(r *http.Request) bool {
	if isPagePath(r.URL.Path) {
		return true
	}
	switch r.URL.Path {
	case "/healthz", "/readyz", "/v1/session", "/openapi.json":
		return true
	case "/v1/tokens":
		return r.Method == http.MethodPost
	}
	return false
}

// accountCaller is the account whose token or session r carries. A request
// with none is anonymous only where the route allows it: a sign-up.
func (s *server) accountCaller(r *http.Request) (Caller, error) {
	secret, name, cookie := credentialOf(r)
	if secret == "" {
		if s.cfg.signup && r.Method == http.MethodPost && r.URL.Path == "/v1/users" {
			return Caller{}, nil
		}
		return Caller{}, errBadCredentials
	}
	cred, err := s.store.Authenticate(r.Context(), secretHash(secret))
	if err != nil {
		return Caller{}, err
	}
	if cred.Session != cookie || name != "" && name != *cred.User.Name {
		return Caller{}, errBadCredentials
	}
	if cookie && !isSafe(r.Method) && !s.sameOrigin(r) {
		return Caller{}, errCrossOrigin
	}
	return Caller{User: cred.User.ID, Admin: cred.User.Admin, Credential: cred.ID, Cookie: cookie}, nil
}

var errCrossOrigin = Errorf(EFORBIDDEN, "a request signed in by the session cookie that changes something must come from this service's own page")

// credentialOf returns the secret that r carries: a bearer token, a token
// as the password of Basic credentials (with their name), or the session
// cookie (cookie true).
func credentialOf(r *http.Request) (secret, name string, cookie bool) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		if name, password, ok := r.BasicAuth(); ok {
			return password, name, false
		}
		scheme, token, _ := strings.Cut(auth, " ")
		if strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token), "", false
		}
		return "", "", false
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value, "", true
	}
	return "", "", false
}

func isSafe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// sameOrigin reports whether r comes from the service's own origin, by the
// browser's word: Sec-Fetch-Site, or else Origin.
func (s *server) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin := r.Header.Get("Origin")
	return origin != "" && origin == s.baseURL(r)
}

// decoyHash is checked against the password of a sign-in for a name with
// no account, so that it takes as long as one for a name with one.
func decoyHash() string {
	return encodeHash(passwordIterations, make([]byte, 16), make([]byte, sha256.Size))
}

// signIn returns the account whose name and password these are. Failed
// sign-ins are counted by name and by client address: past the bound, the
// answer is 429 until the window has passed, right password or not.
func (s *server) signIn(r *http.Request, name, password string) (User, error) {
	// A name longer than any account's is counted as its first bytes: the
	// limiter's keys stay small, whatever a client sends.
	keys := []string{"name " + name[:min(len(name), maxNameLen+1)], "addr " + clientAddr(r)}
	if wait := s.guesses.wait(time.Now(), keys...); wait > 0 {
		return User{}, &Error{Code: ETOOMANY, RetryAfter: wait,
			Message: "too many failed sign-ins for this name or from this address; wait and retry"}
	}
	if err := s.takeTurn(r.Context()); err != nil {
		return User{}, err
	}
	defer func() { <-s.hashing }()
	u, hash, err := s.store.FindAccount(r.Context(), name)
	found := err == nil
	if ErrorCode(err) == ENOTFOUND {
		hash = decoyHash()
	} else if err != nil {
		return User{}, err
	}
	if !passwordMatches(hash, password) || !found {
		s.guesses.fail(time.Now(), keys...)
		s.metrics.failures.Add(1)
		return User{}, Errorf(EUNAUTHORIZED, "the name or the password is wrong")
	}
	return u, nil
}

// takeTurn waits for a turn to check a password, at most passwordWait.
func (s *server) takeTurn(ctx context.Context) error {
	wait, cancel := context.WithTimeout(ctx, passwordWait)
	defer cancel()
	select {
	case s.hashing <- struct{}{}:
		return nil
	case <-wait.Done():
		return errBusy
	}
}

// clientAddr is the address a request came from, without its port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
