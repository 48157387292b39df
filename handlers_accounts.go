package main

// The handlers of accounts: the caller itself (/v1/me), the accounts an
// admin manages (/v1/users), tokens, and the browser's session.

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	maxTokenNameLen = 100
	maxTokenLife    = 10 * 365 * 24 * time.Hour
	// cookieLife is the session cookie's Max-Age; the session itself ends
	// sessionLife after its last use, which the service checks.
	cookieLife = 400 * 24 * time.Hour
)

// AccountInput is the body of the account routes.
type AccountInput struct {
	Name            Optional[string] `json:"name"`
	Password        Optional[string] `json:"password"`
	CurrentPassword Optional[string] `json:"current_password"`
	Admin           Optional[bool]   `json:"admin"`
}

// check refuses a member of in that is not among allowed (400), and
// returns the field errors of in, for the fields of required and for the
// others present (422).
func (in AccountInput) check(allowed string, required ...string) error {
	if err := in.only(allowed); err != nil {
		return err
	}
	var problems []FieldError
	for _, f := range []struct {
		name  string
		field Optional[string]
		rule  func(string) string
	}{{"name", in.Name, checkName}, {"password", in.Password, checkPassword}} {
		switch {
		case !f.field.Present && slices.Contains(required, f.name):
			problems = append(problems, FieldError{f.name, "is required"})
		case f.field.Null:
			problems = append(problems, FieldError{f.name, "must not be null"})
		case f.field.unpaired:
			problems = append(problems, FieldError{f.name, unpairedMessage})
		case f.field.Present && f.rule(f.field.Value) != "":
			problems = append(problems, FieldError{f.name, f.rule(f.field.Value)})
		}
	}
	if in.Admin.Null {
		problems = append(problems, FieldError{"admin", "must be true or false, not null"})
	}
	if problems != nil {
		return &Error{Code: EINVALID, Message: "the account is not valid", Fields: problems}
	}
	return nil
}

// only refuses, as an unknown field (400), a member of in that the route
// does not take: allowed names those it takes.
func (in AccountInput) only(allowed string) error {
	for _, f := range []struct {
		name    string
		present bool
	}{{"name", in.Name.Present}, {"password", in.Password.Present}, {"current_password", in.CurrentPassword.Present}, {"admin", in.Admin.Present}} {
		if f.present && !slices.Contains(strings.Fields(allowed), f.name) {
			return &Error{Code: EMALFORMED, Message: "the body has an unknown field",
				Fields: []FieldError{{f.name, "is not a field of this request"}}}
		}
	}
	return nil
}

var errAdminsOnly = Errorf(EFORBIDDEN, "only an admin may do this")

func (s *server) getMe(w http.ResponseWriter, r *http.Request) {
	u, err := s.store.FindUser(r.Context(), callerFrom(r.Context()).User)
	if err != nil {
		writeError(w, r, err)
		return
	}
	encode(w, r, http.StatusOK, u)
}

// changeMe changes the caller's password, given the current one, and
// revokes every other token and session of the account.
func (s *server) changeMe(w http.ResponseWriter, r *http.Request) {
	caller := callerFrom(r.Context())
	var in AccountInput
	if _, err := decode(w, r, &in, "application/json", "application/merge-patch+json"); err != nil {
		writeError(w, r, err)
		return
	}
	if err := in.check("password current_password", "password"); err != nil {
		writeError(w, r, err)
		return
	}
	if caller.Credential == 0 {
		writeError(w, r, Errorf(EFORBIDDEN, "there is no account to change: the service has none (todo user add makes one)"))
		return
	}
	me, err := s.store.FindUser(r.Context(), caller.User)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := s.signIn(r, *me.Name, in.CurrentPassword.Value); err != nil {
		if ErrorCode(err) == EUNAUTHORIZED {
			err = Errorf(EFORBIDDEN, "current_password is not the account's password")
		}
		writeError(w, r, err)
		return
	}
	u, err := s.store.ChangeAccount(r.Context(), *me.Name, hashPassword(in.Password.Value), nil, caller.Credential)
	if err != nil {
		writeError(w, r, err)
		return
	}
	encode(w, r, http.StatusOK, u)
}

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) {
	if !callerFrom(r.Context()).Admin {
		writeError(w, r, errAdminsOnly)
		return
	}
	users, err := s.store.Users(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	encode(w, r, http.StatusOK, users)
}

// createUser makes an account: an admin's call, or anyone's with -signup
// (bounded per client address as sign-ins are).
func (s *server) createUser(w http.ResponseWriter, r *http.Request) {
	caller := callerFrom(r.Context())
	if !caller.Admin && !s.cfg.signup {
		writeError(w, r, errAdminsOnly)
		return
	}
	var in AccountInput
	if _, err := decode(w, r, &in, "application/json"); err != nil {
		writeError(w, r, err)
		return
	}
	if err := in.check("name password admin", "name", "password"); err != nil {
		writeError(w, r, err)
		return
	}
	if in.Admin.Value && !caller.Admin {
		writeError(w, r, Errorf(EFORBIDDEN, "only an admin may make an admin"))
		return
	}
	if !caller.Admin {
		key := "signup " + clientAddr(r)
		if wait := s.guesses.wait(time.Now(), key); wait > 0 {
			writeError(w, r, &Error{Code: ETOOMANY, RetryAfter: wait, Message: "too many sign-ups from this address; wait and retry"})
			return
		}
		s.guesses.fail(time.Now(), key)
	}
	u, err := s.store.CreateUser(r.Context(), in.Name.Value, hashPassword(in.Password.Value), in.Admin.Value)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Location", s.baseURL(r)+"/v1/users/"+*u.Name)
	encode(w, r, http.StatusCreated, u)
}

func (s *server) changeUser(w http.ResponseWriter, r *http.Request) {
	caller := callerFrom(r.Context())
	if !caller.Admin {
		writeError(w, r, errAdminsOnly)
		return
	}
	var in AccountInput
	if _, err := decode(w, r, &in, "application/json", "application/merge-patch+json"); err != nil {
		writeError(w, r, err)
		return
	}
	if err := in.check("password admin"); err != nil {
		writeError(w, r, err)
		return
	}
	hash, keep := "", int64(0)
	if in.Password.Present {
		hash = hashPassword(in.Password.Value)
	}
	if me, err := s.store.FindUser(r.Context(), caller.User); err == nil && me.Name != nil && *me.Name == r.PathValue("name") {
		keep = caller.Credential // an admin changing its own password stays signed in
	}
	var admin *bool
	if in.Admin.Present {
		admin = &in.Admin.Value
	}
	u, err := s.store.ChangeAccount(r.Context(), r.PathValue("name"), hash, admin, keep)
	if err != nil {
		writeError(w, r, err)
		return
	}
	encode(w, r, http.StatusOK, u)
}

func (s *server) deleteUser(w http.ResponseWriter, r *http.Request) {
	if !callerFrom(r.Context()).Admin {
		writeError(w, r, errAdminsOnly)
		return
	}
	if err := s.store.DeleteUser(r.Context(), r.PathValue("name")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// TokenInput is the optional body of POST /v1/tokens.
type TokenInput struct {
	Name      Optional[string] `json:"name"`
	ExpiresIn Optional[int64]  `json:"expires_in"` // seconds
}

// createToken signs in with Basic credentials (a name and a password) and
// answers a new token, whose secret is shown this once.
func (s *server) createToken(w http.ResponseWriter, r *http.Request) {
	name, password, ok := r.BasicAuth()
	if !ok {
		writeError(w, r, Errorf(EUNAUTHORIZED, "sign in with the account's name and password as Basic credentials"))
		return
	}
	var in TokenInput
	if r.ContentLength != 0 || r.Header.Get("Transfer-Encoding") != "" { // the body is optional
		if _, err := decode(w, r, &in, "application/json"); err != nil {
			writeError(w, r, err)
			return
		}
	}
	tokenName, expires, err := in.check(time.Now())
	if err != nil {
		writeError(w, r, err)
		return
	}
	u, err := s.signIn(r, name, password)
	if err != nil {
		writeError(w, r, err)
		return
	}
	secret, hash := newSecret()
	t, err := s.store.CreateToken(r.Context(), u.ID, false, tokenName, hash, expires)
	if err != nil {
		writeError(w, r, err)
		return
	}
	t.Secret = secret
	w.Header().Set("Location", s.baseURL(r)+"/v1/tokens/"+strconv.FormatInt(t.ID, 10))
	encode(w, r, http.StatusCreated, t)
}

// check returns the token's name (by default "token") and when it expires
// (nil: never), or the field errors of in.
func (in TokenInput) check(now time.Time) (string, *time.Time, error) {
	var problems []FieldError
	name := strings.TrimSpace(in.Name.Value)
	if !in.Name.Present {
		name = "token"
	} else if in.Name.Null || name == "" || utf8.RuneCountInString(name) > maxTokenNameLen || strings.ContainsFunc(name, unicode.IsControl) || in.Name.unpaired {
		problems = append(problems, FieldError{"name", "must be 1 to 100 characters, without control characters"})
	}
	var expires *time.Time
	if f := in.ExpiresIn; f.Present && !f.Null {
		if f.Value < 1 || f.Value > int64(maxTokenLife/time.Second) {
			problems = append(problems, FieldError{"expires_in", "must be a number of seconds from 1 to ten years, or null for never"})
		}
		at := now.Add(time.Duration(f.Value) * time.Second)
		expires = &at
	}
	if problems != nil {
		return "", nil, &Error{Code: EINVALID, Message: "the token is not valid", Fields: problems}
	}
	return name, expires, nil
}

func (s *server) listTokens(w http.ResponseWriter, r *http.Request) {
	tokens, err := s.store.Tokens(r.Context(), callerFrom(r.Context()).User)
	if err != nil {
		writeError(w, r, err)
		return
	}
	encode(w, r, http.StatusOK, tokens)
}

func (s *server) deleteToken(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.store.DeleteToken(r.Context(), callerFrom(r.Context()).User, id); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// createSession signs in with a name and a password in the body, and sets
// the session cookie.
func (s *server) createSession(w http.ResponseWriter, r *http.Request) {
	var in AccountInput
	if _, err := decode(w, r, &in, "application/json"); err != nil {
		writeError(w, r, err)
		return
	}
	if err := in.only("name password"); err != nil { // no rules: a wrong one is a 401
		writeError(w, r, err)
		return
	}
	u, err := s.signIn(r, in.Name.Value, in.Password.Value)
	if err != nil {
		writeError(w, r, err)
		return
	}
	secret, hash := newSecret()
	expires := time.Now().Add(sessionLife)
	if _, err := s.store.CreateToken(r.Context(), u.ID, true, "session", hash, &expires); err != nil {
		writeError(w, r, err)
		return
	}
	s.setSessionCookie(w, r, secret, int(cookieLife/time.Second))
	w.WriteHeader(http.StatusNoContent)
}

// deleteSession signs out: the session is revoked and the cookie cleared.
func (s *server) deleteSession(w http.ResponseWriter, r *http.Request) {
	if secret, _, cookie := credentialOf(r); cookie {
		if !s.sameOrigin(r) {
			writeError(w, r, errCrossOrigin)
			return
		}
		if cred, err := s.store.Authenticate(r.Context(), secretHash(secret)); err == nil && cred.Session {
			if err := s.store.DeleteToken(r.Context(), cred.User.ID, cred.ID); err != nil {
				writeError(w, r, err)
				return
			}
		}
	}
	s.setSessionCookie(w, r, "", -1) // Max-Age=0: the browser drops it
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: strings.HasPrefix(s.baseURL(r), "https:")})
}
