package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStatusOf: every code has its status, and anything else is a 500.
func TestStatusOf(t *testing.T) {
	for code, want := range map[string]int{
		EMALFORMED: 400, EINVALID: 422, EUNAUTHORIZED: 401, ENOTFOUND: 404, ENOTALLOWED: 405, ECONFLICT: 409,
		EMISDIRECTED: 421, EPRECONDITION: 412, ETOOLARGE: 413, EUNSUPPORTED: 415, EUNAVAILABLE: 503, EFULL: 507, EINTERNAL: 500, "no such code": 500,
	} {
		if got := statusOf(code); got != want {
			t.Errorf("statusOf(%q) = %d, want %d", code, got, want)
		}
	}
}

// TestWriteError: the problem body and headers of each kind of error; an
// internal one shows the client nothing of its cause, and logs all of it.
func TestWriteError(t *testing.T) {
	var logs bytes.Buffer
	info := requestInfo{id: "req-1", log: slog.New(slog.NewTextHandler(&logs, nil))}
	tests := []struct {
		name    string
		err     error
		status  int
		header  string // a header that must be set
		detail  string
		logged  string
		secrets string // what the body must not hold
	}{
		{"invalid, with fields", &Error{Code: EINVALID, Message: "the todo is not valid", Fields: []FieldError{{"title", "must not be empty"}}},
			422, "", "the todo is not valid", "", ""},
		{"wrapped", fmt.Errorf("context: %w", Errorf(ENOTFOUND, "todo 7 does not exist")), 404, "", "todo 7 does not exist", "", ""},
		{"unauthorized", Errorf(EUNAUTHORIZED, "a valid bearer token is required"), 401, "WWW-Authenticate", "a valid bearer token is required", "", ""},
		{"unavailable, with a cause", &Error{Code: EUNAVAILABLE, Message: "the database did not answer in time", Err: errors.New("database is locked")},
			503, "Retry-After", "the database did not answer in time", "database is locked", "locked"},
		{"internal", errors.New("open /srv/todo.db: sql: no rows"), 500, "", "something failed on our side", "/srv/todo.db", "todo.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			r := httptest.NewRequestWithContext(context.WithValue(t.Context(), requestInfoKey{}, info), "PATCH", "/v1/todos/7", nil)
			rec := httptest.NewRecorder()
			rec.Header().Set("ETag", `"3"`) // set before the error: a problem has none
			writeError(rec, r, tt.err)
			var p problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != tt.status || p.Status != tt.status ||
				p.Title != http.StatusText(tt.status) || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %v %s (%v)", rec.Code, rec.Header(), rec.Body, err)
			}
			if p.Instance != "/v1/todos/7" || p.RequestID != "req-1" || !strings.HasPrefix(p.Detail, tt.detail) {
				t.Errorf("problem %+v", p)
			}
			if tt.header != "" && rec.Header().Get(tt.header) == "" || rec.Header().Get("ETag") != "" {
				t.Errorf("headers %v: want %s and no ETag", rec.Header(), tt.header)
			}
			if tt.secrets != "" && strings.Contains(rec.Body.String(), tt.secrets) {
				t.Errorf("the body shows %q: %s", tt.secrets, rec.Body)
			}
			if tt.logged != "" && (!strings.Contains(logs.String(), tt.logged) || !strings.Contains(logs.String(), "req-1")) {
				t.Errorf("the log lacks %q: %s", tt.logged, logs.String())
			}
			if tt.name == "invalid, with fields" && (len(p.Errors) != 1 || p.Errors[0] != FieldError{"title", "must not be empty"}) {
				t.Errorf("errors %+v", p.Errors)
			}
		})
	}
}

// TestWriteTodo: a todo is answered with its ETag, its url and a length.
func TestWriteTodo(t *testing.T) {
	rec := httptest.NewRecorder()
	td := Todo{ID: 7, Title: "a", Version: 3}
	writeTodo(rec, http.StatusCreated, td.Render(), "http://h/v1/todos/")
	got := result{rec.Code, rec.Header(), rec.Body.Bytes()}.want(t, http.StatusCreated).todo(t)
	if got.URL != "http://h/v1/todos/7" || got.Title != "a" || rec.Header().Get("ETag") != `"3"` ||
		rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Content-Length") != fmt.Sprint(rec.Body.Len()) {
		t.Errorf("%+v, headers %v", got, rec.Header())
	}
}
