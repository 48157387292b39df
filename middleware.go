package main

// The middleware that every request passes, in this order: observe,
// checkHost, cors, authenticate (auth.go), then budgetBodies (memory.go). Each is a
// plain func(http.Handler) http.Handler.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

const maxRequestIDLen = 128

// CORS: what a preflight allows and what a browser may read.
const (
	corsAllowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Content-Type, Authorization, If-Match, If-None-Match, Idempotency-Key, X-Request-ID"
	corsExposeHeaders = "ETag, Location, Link, X-Request-ID, Retry-After, Idempotent-Replayed"
)

// requestInfo is what every handler may need to know of its request.
type requestInfo struct {
	id     string
	log    *slog.Logger // the service's; logger adds request_id
	caller *Caller      // set by authenticate, in place: a copy of the request would hide its Pattern from observe
}

// logger returns a logger for the request's own lines. It is made only when
// needed: most requests log nothing but their request line.
func (info requestInfo) logger() *slog.Logger { return info.log.With("request_id", info.id) }

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) requestInfo {
	if info, ok := ctx.Value(requestInfoKey{}).(requestInfo); ok {
		return info
	}
	return requestInfo{log: slog.Default()}
}

// newRequestID returns an id that is unique within this run of the service:
// a random prefix drawn at start and a count. Drawing random bytes for every
// request cost a system call each.
func (s *server) newRequestID() string {
	return s.idPrefix + strconv.FormatUint(s.requests.Add(1), 10)
}

// observe gives each request its id (the client's, if sane) and the headers
// every response carries, recovers a panic as a 500, and writes one log line
// when the request is done.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !printableASCII(id, maxRequestIDLen) {
			id = s.newRequestID()
		}
		rec := &recorder{ResponseWriter: w}
		info := requestInfo{id: id, log: s.logger, caller: &rec.caller}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		rec.req = r
		h := w.Header()
		h.Set("X-Request-ID", id)
		// Nothing here is for a browser to guess the type of, or for a cache
		// to keep: todos change, and ETags serve the clients that revalidate.
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")

		s.metrics.inFlight.Add(1)
		defer func() {
			s.metrics.inFlight.Add(-1)
			elapsed := time.Since(start)
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				info.logger().Error("panic", "panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(rec, r, fmt.Errorf("panic: %v", p))
					p = nil
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			s.logger.LogAttrs(r.Context(), level, "request", slog.String("request_id", id),
				slog.String("method", r.Method), slog.String("route", r.Pattern),
				slog.String("path", r.URL.Path), slog.Int("status", status),
				slog.Int64("bytes", rec.bytes), slog.Duration("duration", elapsed))
			s.metrics.observe(r, status, elapsed)
			if p != nil { // the response was under way: abort it so the client sees it broken
				panic(http.ErrAbortHandler)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// recorder notes the status and size of a response for the log line.
type recorder struct {
	http.ResponseWriter
	req    *http.Request
	status int
	bytes  int64
	// muxError is set when the mux's own plain-text 404 or 405 is answered
	// as problem JSON instead; discard, once that is written, drops the text.
	muxError, discard bool
	// caller is where authenticate notes who is calling (requestInfo.caller):
	// kept here, it costs the request no allocation of its own.
	caller Caller
}

func (w *recorder) WriteHeader(status int) {
	// ServeMux answers an unknown path, or a method the path does not serve,
	// itself, before any pattern is set on the request.
	if w.status == 0 && !w.muxError && w.req.Pattern == "" &&
		(status == http.StatusNotFound || status == http.StatusMethodNotAllowed) {
		w.muxError = true
		err := Errorf(ENOTFOUND, "there is nothing at this path")
		if status == http.StatusMethodNotAllowed {
			err = Errorf(ENOTALLOWED, "this path does not serve %s; see Allow", w.req.Method)
		}
		writeError(w, w.req, err)
		w.discard = true
		return
	}
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.discard {
		return len(b), nil
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// cors lets the configured origins' browsers call the API, and answers their
// preflight requests.
func (s *server) cors(next http.Handler) http.Handler {
	if len(s.cfg.corsOrigins) == 0 {
		return next
	}
	anyOrigin := slices.Contains(s.cfg.corsOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		allowed := origin != "" && (anyOrigin || slices.Contains(s.cfg.corsOrigins, origin))
		if allowed {
			if anyOrigin {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if allowed {
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkHost answers 421 to a request whose Host is not this machine's, in the
// open mode (no token) unless -open: a web page whose name an attacker
// rebinds to 127.0.0.1 reaches the service with its own name as Host, and
// must not read or change the todos. A request without Host (HTTP/1.0) is
// served; so are localhost, loopback addresses and the -base-url host.
func (s *server) checkHost(next http.Handler) http.Handler {
	if s.cfg.token != "" || s.cfg.open {
		return next
	}
	// In the accounts mode every route needs credentials that such a page
	// does not have: the rule is the open mode's.
	var public string
	if u, err := url.Parse(s.cfg.baseURL); err == nil && s.cfg.baseURL != "" {
		public = u.Hostname()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
		if r.Host != "" && !s.store.HasAccounts() && !strings.EqualFold(host, "localhost") && !isLoopbackIP(host) &&
			(public == "" || !strings.EqualFold(host, public)) {
			writeError(w, r, Errorf(EMISDIRECTED, "this service answers only on localhost: with no token it is open to anyone who reaches it"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isLoopbackIP reports whether host is a loopback address (127.0.0.0/8, ::1).
func isLoopbackIP(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
