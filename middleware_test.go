package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestToken(t *testing.T) {
	ts := newTestServer(t, config{token: "s3cret"})
	for _, auth := range []string{"", "Bearer wrong", "Bearer s3cret2", "Basic czNjcmV0", "s3cret", "Bearer "} {
		r := ts.do(t, "GET", "/v1/todos", "", "Authorization", auth)
		r.problem(t, http.StatusUnauthorized)
		if r.header.Get("WWW-Authenticate") != `Bearer realm="todo"` {
			t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
	}
	ts.do(t, "POST", "/v1/todos", `{"title":"a"}`).problem(t, http.StatusUnauthorized)
	ts.do(t, "GET", "/v1/todos", "", "Authorization", "Bearer s3cret").want(t, http.StatusOK)
	ts.do(t, "POST", "/v1/todos", `{"title":"a"}`, "Authorization", "bearer s3cret").want(t, http.StatusCreated)
	ts.do(t, "GET", "/healthz", "").want(t, http.StatusOK)
	ts.do(t, "GET", "/readyz", "").want(t, http.StatusOK)
	if strings.Contains(ts.logs.String(), "s3cret") {
		t.Error("the token is in the log")
	}
}

func TestCORS(t *testing.T) {
	preflight := []string{"Origin", "https://app.example", "Access-Control-Request-Method", "PATCH"}

	off := newTestServer(t, config{})
	r := off.do(t, "GET", "/v1/todos", "", "Origin", "https://app.example")
	if r.header.Get("Access-Control-Allow-Origin") != "" || strings.Contains(r.header.Get("Vary"), "Origin") {
		t.Errorf("CORS headers without configuration: %v", r.header)
	}
	off.do(t, "OPTIONS", "/v1/todos", "", preflight...).problem(t, http.StatusMethodNotAllowed)

	on := newTestServer(t, config{corsOrigins: []string{"https://app.example"}, token: "t"})
	r = on.do(t, "OPTIONS", "/v1/todos/1", "", preflight...).want(t, http.StatusNoContent)
	for name, want := range map[string]string{
		"Access-Control-Allow-Origin":  "https://app.example",
		"Access-Control-Allow-Methods": corsAllowMethods,
		"Vary":                         "Origin",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for _, h := range []string{"Content-Type", "Authorization", "If-Match", "If-None-Match", "Idempotency-Key", "X-Request-ID"} {
		if !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), h) {
			t.Errorf("Access-Control-Allow-Headers lacks %s", h)
		}
	}
	r = on.do(t, "GET", "/v1/todos", "", "Origin", "https://app.example", "Authorization", "Bearer t").want(t, http.StatusOK)
	if r.header.Get("Access-Control-Allow-Origin") != "https://app.example" || r.header.Get("Vary") != "Origin" {
		t.Errorf("simple request: %v", r.header)
	}
	for _, h := range []string{"ETag", "Location", "Link", "X-Request-ID"} {
		if !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), h) {
			t.Errorf("Access-Control-Expose-Headers lacks %s", h)
		}
	}
	r = on.do(t, "GET", "/v1/todos", "", "Origin", "https://evil.example", "Authorization", "Bearer t")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin was allowed")
	}

	any := newTestServer(t, config{corsOrigins: []string{"*"}})
	if r := any.do(t, "GET", "/healthz", "", "Origin", "https://x.example"); r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("with *: %v", r.header)
	}
}

func TestRequestIDAndLog(t *testing.T) {
	ts := newTestServer(t, config{})
	r := ts.do(t, "GET", "/v1/todos/7", "", "X-Request-ID", "trace-42 abc")
	if p := r.problem(t, http.StatusNotFound); p.RequestID != "trace-42 abc" {
		t.Errorf("request_id %q", p.RequestID)
	}
	seen := map[string]bool{}
	for _, id := range []string{"", strings.Repeat("x", 129), "a\tb", "é"} {
		r := ts.do(t, "GET", "/healthz", "", "X-Request-ID", id)
		got := r.header.Get("X-Request-ID")
		if got == "" || got == id || seen[got] {
			t.Errorf("sent %q, got %q: want a fresh one", id, got)
		}
		seen[got] = true
	}

	var line map[string]any
	for l := range strings.SplitSeq(ts.logs.String(), "\n") {
		if strings.Contains(l, `"trace-42 abc"`) && strings.Contains(l, `"msg":"request"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string]any{"method": "GET", "route": "GET /v1/todos/{id}", "path": "/v1/todos/7", "status": float64(404), "request_id": "trace-42 abc"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	if line["bytes"].(float64) != float64(len(r.body)) || line["duration"] == nil {
		t.Errorf("log line %v", line)
	}
}

func TestMuxErrorsAreProblems(t *testing.T) {
	ts := newTestServer(t, config{})
	for _, path := range []string{"/nothing", "/v1", "/v1/todos/", "/v1/todos/1/x", "/v2/todos"} { // "/" is the web page
		ts.do(t, "GET", path, "").problem(t, http.StatusNotFound)
	}
	for _, tt := range []struct{ method, path, allow string }{
		{"PUT", "/v1/todos", "DELETE, GET, HEAD, POST"},
		{"POST", "/v1/todos/1", "DELETE, GET, HEAD, PATCH, PUT"},
		{"DELETE", "/healthz", "GET, HEAD"},
	} {
		r := ts.do(t, tt.method, tt.path, "")
		r.problem(t, http.StatusMethodNotAllowed)
		if r.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, r.header.Get("Allow"), tt.allow)
		}
	}
	r := ts.do(t, "HEAD", "/v1/todos", "").want(t, http.StatusOK)
	if len(r.body) != 0 {
		t.Errorf("HEAD body %q", r.body)
	}
}

func TestPanicIsA500(t *testing.T) {
	ts := newTestServer(t, config{})
	s := &server{logger: slog.New(slog.NewJSONHandler(ts.logs, nil)), store: ts.store}
	h := s.observe(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom: secret internals")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/todos", nil))
	r := result{rec.Code, rec.Header(), rec.Body.Bytes()}
	p := r.problem(t, http.StatusInternalServerError)
	if strings.Contains(string(r.body), "boom") || !strings.Contains(p.Detail, "request id") {
		t.Errorf("500 body %s", r.body)
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "boom: secret internals") || !strings.Contains(logs, "goroutine") {
		t.Errorf("the log lacks the panic and its stack: %s", logs)
	}
	ts.do(t, "GET", "/healthz", "").want(t, http.StatusOK) // the process lives on
}

// TestOpenModeHost: without a token, a request whose Host is not this
// machine's gets 421 and changes nothing (a page that rebinds its own name to
// 127.0.0.1 could read and delete the list); with a token, or with -open, the
// Host rule is off.
func TestOpenModeHost(t *testing.T) {
	ts := newTestServer(t, config{baseURL: "https://todo.example/api"})
	ts.create(t, `{"title":"keep me"}`)
	addr := strings.TrimPrefix(ts.URL, "http://")
	send := func(t *testing.T, request string) *http.Response {
		t.Helper()
		resp := rawRequest(t, addr, request)
		resp.Body.Close()
		return resp
	}
	for host, want := range map[string]int{
		"attacker.example:8080": 421, "attacker.example": 421, "localhost.attacker.example": 421, "127.0.0.1.nip.io": 421,
		"10.0.0.1": 421, "[::2]:8080": 421, "0.0.0.0": 421, "todo.example.attacker.example": 421,
		"localhost:8080": 200, "LocalHost": 200, "localhost.": 200, "127.0.0.1:1": 200, "127.9.9.9": 200, "[::1]:8080": 200,
		"todo.example": 200, "TODO.example:443": 200,
	} {
		t.Run(host, func(t *testing.T) {
			for _, path := range []string{"/v1/todos", "/healthz"} {
				resp := send(t, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
				if resp.StatusCode != want {
					t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
				}
				if want == 421 && resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
				}
			}
		})
	}
	if resp := send(t, "DELETE /v1/todos HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n"); resp.StatusCode != 421 || ts.count(t) != 1 {
		t.Errorf("a foreign Host's delete: %d, %d todos left", resp.StatusCode, ts.count(t))
	}
	if resp := send(t, "GET /v1/todos HTTP/1.0\r\n\r\n"); resp.StatusCode != 200 {
		t.Errorf("HTTP/1.0 without Host: %d", resp.StatusCode)
	}

	token := newTestServer(t, config{token: "s3cret"})
	if resp := rawRequest(t, strings.TrimPrefix(token.URL, "http://"),
		"GET /v1/todos HTTP/1.1\r\nHost: todo.example.org\r\nAuthorization: Bearer s3cret\r\nConnection: close\r\n\r\n"); resp.StatusCode != 200 {
		t.Errorf("with a token, a proxy's Host: %d", resp.StatusCode)
	}
	open := newTestServer(t, config{open: true})
	if resp := rawRequest(t, strings.TrimPrefix(open.URL, "http://"),
		"GET /v1/todos HTTP/1.1\r\nHost: todo.lan\r\nConnection: close\r\n\r\n"); resp.StatusCode != 200 {
		t.Errorf("with -open, another Host: %d", resp.StatusCode)
	}
}
