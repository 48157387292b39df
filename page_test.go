package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestPage: the page and its assets are served without credentials in every
// mode, under the Content-Security-Policy, with the mode written into the
// page; no other path is.
func TestPage(t *testing.T) {
	open := newTestServer(t, config{})
	token := newTestServer(t, config{token: "secret"})
	accounts, _ := newAccountsServer(t, config{}, "ann")
	for mode, ts := range map[string]*testServer{"open": open, "token": token, "accounts": accounts} {
		r := ts.do(t, "GET", "/", "").want(t, http.StatusOK)
		if r.header.Get("Content-Security-Policy") != "default-src 'self'" || r.header.Get("Content-Type") != "text/html; charset=utf-8" ||
			!strings.Contains(string(r.body), `data-mode="`+mode+`"`) || strings.Contains(string(r.body), "<script>") {
			t.Errorf("%s: GET / %v\n%s", mode, r.header, r.body)
		}
		for path, contentType := range pageAssets {
			r := ts.do(t, "GET", path, "").want(t, http.StatusOK)
			if r.header.Get("Content-Type") != contentType || r.header.Get("Content-Security-Policy") != pageCSP || len(r.body) == 0 {
				t.Errorf("%s: GET %s %v", mode, path, r.header)
			}
		}
		other := http.StatusNotFound // a path of neither the page nor the API: as any unknown path
		if mode != "open" {
			other = http.StatusUnauthorized
		}
		ts.do(t, "GET", "/index.html", "").problem(t, other)
		ts.do(t, "POST", "/", "").problem(t, http.StatusMethodNotAllowed)
	}
	// An API route still asks for credentials.
	token.do(t, "GET", "/v1/todos", "").problem(t, http.StatusUnauthorized)
	accounts.do(t, "GET", "/v1/todos", "").problem(t, http.StatusUnauthorized)
}
