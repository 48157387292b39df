package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run the real program as a child process: the test
// binary runs main when TODO_TEST_RUN_MAIN is set.
func TestMain(m *testing.M) {
	if os.Getenv("TODO_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// mustOpenStore opens a store on a file in a temporary folder, closed at cleanup.
func mustOpenStore(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := OpenStore(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// syncBuffer is a log destination that tests can read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testServer struct {
	*httptest.Server
	store *Store
	logs  *syncBuffer // JSON log lines
}

// newTestServer starts the real handler, in the real server, over a real
// SQLite file.
func newTestServer(t *testing.T, cfg config) *testServer {
	t.Helper()
	return serveStore(t, mustOpenStore(t, filepath.Join(t.TempDir(), "todo.db")), cfg)
}

func serveStore(t *testing.T, store *Store, cfg config) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newServer(logger, store, cfg)
	srv := httptest.NewUnstartedServer(h)
	srv.Config = newHTTPServer(h, logger) // the service's own bounds and timeouts
	srv.Start()
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, store: store, logs: logs}
}

// todoJSON is a todo as the API shows it, for the tests to read.
type todoJSON struct {
	ID          int64   `json:"id"`
	Title       string  `json:"title"`
	Notes       string  `json:"notes"`
	Completed   bool    `json:"completed"`
	Order       int64   `json:"order"`
	Due         *string `json:"due"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	CompletedAt *string `json:"completed_at"`
	URL         string  `json:"url"`
}

type result struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; a JSON body gets Content-Type application/json unless
// headers (name, value pairs) say otherwise, and a header with value "" is removed.
func (ts *testServer) do(t *testing.T, method, path, body string, headers ...string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, b}
}

func (r result) todo(t *testing.T) todoJSON {
	t.Helper()
	var v todoJSON
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return v
}

func (r result) todos(t *testing.T) []todoJSON {
	t.Helper()
	var v []todoJSON
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return v
}

// problem checks that r is problem JSON with status, and returns it.
func (r result) problem(t *testing.T, status int) problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	if p.Status != status || p.Title != http.StatusText(status) || p.Type != "about:blank" {
		t.Errorf("problem %+v does not match status %d", p, status)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v: want nosniff and no-store", r.header)
	}
	if p.RequestID == "" || p.RequestID != r.header.Get("X-Request-ID") {
		t.Errorf("request_id %q, X-Request-ID %q: want the same, not empty", p.RequestID, r.header.Get("X-Request-ID"))
	}
	return p
}

func (r result) want(t *testing.T, status int) result {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

func fields(p problem) []string {
	var names []string
	for _, e := range p.Errors {
		names = append(names, e.Field)
	}
	return names
}

func (ts *testServer) create(t *testing.T, body string) todoJSON {
	t.Helper()
	return ts.do(t, "POST", "/v1/todos", body).want(t, http.StatusCreated).todo(t)
}

func (ts *testServer) count(t *testing.T) int {
	t.Helper()
	var n int
	if err := ts.store.readDB.QueryRowContext(t.Context(), "SELECT count(*) FROM todos").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreate(t *testing.T) {
	ts := newTestServer(t, config{})
	r := ts.do(t, "POST", "/v1/todos", `{"title":"  Buy milk \t","notes":"2 litres\n","completed":true,"order":-3,"due":"2026-11-22T12:04:05.123456+02:00"}`,
		"Content-Type", "application/json; charset=utf-8").want(t, http.StatusCreated)
	got := r.todo(t)
	if got.ID <= 0 || got.Title != "Buy milk" || got.Notes != "2 litres\n" || !got.Completed || got.Order != -3 {
		t.Errorf("created %+v", got)
	}
	if got.Due == nil || *got.Due != "2026-11-22T10:04:05.123Z" {
		t.Errorf("due %v, want it in UTC to the millisecond", got.Due)
	}
	if got.CompletedAt == nil || *got.CompletedAt != got.CreatedAt || got.UpdatedAt != got.CreatedAt {
		t.Errorf("times %q %q %v: want all the same", got.CreatedAt, got.UpdatedAt, got.CompletedAt)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", got.CreatedAt); err != nil {
		t.Errorf("created_at %q: %v", got.CreatedAt, err)
	}
	wantURL := ts.URL + "/v1/todos/" + strconv.FormatInt(got.ID, 10)
	if got.URL != wantURL || r.header.Get("Location") != wantURL {
		t.Errorf("url %q, Location %q, want %q", got.URL, r.header.Get("Location"), wantURL)
	}
	if r.header.Get("ETag") != `"1"` || r.header.Get("Content-Type") != "application/json" ||
		r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", r.header)
	}

	// Defaults, and the exact JSON keys of a todo.
	r = ts.do(t, "POST", "/v1/todos", `{"title":"x"}`).want(t, http.StatusCreated)
	var raw map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"title": "x", "notes": "", "completed": false, "order": float64(0), "due": nil, "completed_at": nil}
	for k, v := range want {
		if raw[k] != v {
			t.Errorf("%s = %#v, want %#v", k, raw[k], v)
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range raw {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(keys, []string{"completed", "completed_at", "created_at", "due", "id", "notes", "order", "title", "updated_at", "url"}) {
		t.Errorf("keys %v", keys)
	}
}

func TestCreateRejectsBadInput(t *testing.T) {
	ts := newTestServer(t, config{})
	long := strings.Repeat("é", maxTitleLen+1)
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		fields      []string
	}{
		{"empty body", "", "application/json", 400, nil},
		{"blank body", "  \n", "application/json", 400, nil},
		{"not UTF-8", "{\"title\":\"\xff\"}", "application/json", 400, nil},
		{"not JSON", `{"title":`, "application/json", 400, nil},
		{"array", `[{"title":"a"}]`, "application/json", 400, nil},
		{"null", `null`, "application/json", 400, nil},
		{"string", `"a"`, "application/json", 400, nil},
		{"trailing data", `{"title":"a"} {}`, "application/json", 400, nil},
		{"trailing garbage", `{"title":"a"}x`, "application/json", 400, nil},
		{"unknown field", `{"title":"a","colour":"red"}`, "application/json", 400, []string{"colour"}},
		{"title a number", `{"title":1}`, "application/json", 400, []string{"title"}},
		{"completed a string", `{"title":"a","completed":"true"}`, "application/json", 400, []string{"completed"}},
		{"order a fraction", `{"title":"a","order":1.5}`, "application/json", 400, []string{"order"}},
		{"order beyond int64", `{"title":"a","order":99999999999999999999}`, "application/json", 400, []string{"order"}},
		{"due a number", `{"title":"a","due":1}`, "application/json", 400, []string{"due"}},
		{"text/plain", `{"title":"a"}`, "text/plain", 415, nil},
		{"no content type", `{"title":"a"}`, "", 415, nil},
		{"latin-1 charset", `{"title":"a"}`, "application/json; charset=latin1", 415, nil},
		{"merge patch type on create", `{"title":"a"}`, "application/merge-patch+json", 415, nil},
		{"too large", `{"title":"a","notes":"` + strings.Repeat("a", maxBodyBytes) + `"}`, "application/json", 413, nil},
		{"missing title", `{"notes":"a"}`, "application/json", 422, []string{"title"}},
		{"null title", `{"title":null}`, "application/json", 422, []string{"title"}},
		{"empty title", `{"title":""}`, "application/json", 422, []string{"title"}},
		{"blank title", `{"title":" \t\n "}`, "application/json", 422, []string{"title"}},
		{"title too long", `{"title":"` + long + `"}`, "application/json", 422, []string{"title"}},
		{"title with a control character", `{"title":"a\u0007b"}`, "application/json", 422, []string{"title"}},
		{"title with a newline inside", `{"title":"a\nb"}`, "application/json", 422, []string{"title"}},
		{"notes too long", `{"title":"a","notes":"` + strings.Repeat("x", maxNotesLen+1) + `"}`, "application/json", 422, []string{"notes"}},
		{"notes with NUL", `{"title":"a","notes":"a\u0000"}`, "application/json", 422, []string{"notes"}},
		{"null completed", `{"title":"a","completed":null}`, "application/json", 422, []string{"completed"}},
		{"null order", `{"title":"a","order":null}`, "application/json", 422, []string{"order"}},
		{"order beyond 2^53", `{"title":"a","order":9007199254740992}`, "application/json", 422, []string{"order"}},
		{"due not RFC 3339", `{"title":"a","due":"2026-11-22 10:00"}`, "application/json", 422, []string{"due"}},
		{"due a date only", `{"title":"a","due":"2026-11-22"}`, "application/json", 422, []string{"due"}},
		{"every field broken", `{"title":"","notes":"\u0001","completed":null,"order":null,"due":"soon"}`, "application/json", 422,
			[]string{"title", "notes", "completed", "order", "due"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(t, "POST", "/v1/todos", tt.body, "Content-Type", tt.contentType)
			p := r.problem(t, tt.status)
			if tt.fields != nil && !slices.Equal(fields(p), tt.fields) {
				t.Errorf("errors name %v, want %v", fields(p), tt.fields)
			}
			if p.Instance != "/v1/todos" || p.Detail == "" {
				t.Errorf("problem %+v", p)
			}
			for _, leak := range []string{"json:", "sql", "Go struct", ".go", "sqlite"} {
				if bytes.Contains(r.body, []byte(leak)) {
					t.Errorf("body leaks %q: %s", leak, r.body)
				}
			}
		})
	}
	if n := ts.count(t); n != 0 {
		t.Errorf("%d todos exist after only bad requests", n)
	}
	// Limits are counted in characters, not bytes.
	ts.create(t, `{"title":"`+strings.Repeat("é", maxTitleLen)+`","notes":"`+strings.Repeat("é", maxNotesLen)+`"}`)
}

func TestGet(t *testing.T) {
	ts := newTestServer(t, config{})
	created := ts.create(t, `{"title":"a"}`)
	path := "/v1/todos/" + strconv.FormatInt(created.ID, 10)

	r := ts.do(t, "GET", path, "").want(t, http.StatusOK)
	if got := r.todo(t); got != created && !equalTodo(got, created) {
		t.Errorf("got %+v, want %+v", got, created)
	}
	etag := r.header.Get("ETag")
	if etag != `"1"` {
		t.Errorf("ETag %q", etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"x", ` + etag, "*"} {
		r := ts.do(t, "GET", path, "", "If-None-Match", inm).want(t, http.StatusNotModified)
		if len(r.body) != 0 || r.header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: body %q, ETag %q", inm, r.body, r.header.Get("ETag"))
		}
	}
	ts.do(t, "GET", path, "", "If-None-Match", `"2"`).want(t, http.StatusOK)

	r = ts.do(t, "HEAD", path, "").want(t, http.StatusOK)
	if len(r.body) != 0 || r.header.Get("ETag") != etag {
		t.Errorf("HEAD: body %q, ETag %q", r.body, r.header.Get("ETag"))
	}
	// A Content-Type on a request without a body is ignored.
	ts.do(t, "GET", path, "", "Content-Type", "text/plain").want(t, http.StatusOK)

	ts.do(t, "GET", "/v1/todos/999", "").problem(t, http.StatusNotFound)
	for _, id := range []string{"0", "-1", "abc", "1.5", "+1", "01", "9223372036854775808", "1e3", "%20"} {
		p := ts.do(t, "GET", "/v1/todos/"+id, "").problem(t, http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"id"}) {
			t.Errorf("id %q: errors %v", id, p.Errors)
		}
	}
}

func equalTodo(a, b todoJSON) bool {
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	return bytes.Equal(aj, bj)
}

func TestPatch(t *testing.T) {
	ts := newTestServer(t, config{})
	created := ts.create(t, `{"title":"a","notes":"n","order":5,"due":"2030-01-01T00:00:00Z"}`)
	path := fmt.Sprintf("/v1/todos/%d", created.ID)
	time.Sleep(2 * time.Millisecond) // so that updated_at moves

	r := ts.do(t, "PATCH", path, `{"completed":true,"title":" b "}`, "Content-Type", "application/merge-patch+json").want(t, http.StatusOK)
	got := r.todo(t)
	if got.Title != "b" || !got.Completed || got.Notes != "n" || got.Order != 5 || got.Due == nil {
		t.Errorf("after patch: %+v", got)
	}
	if got.CompletedAt == nil || *got.CompletedAt != got.UpdatedAt || got.UpdatedAt == created.UpdatedAt || got.CreatedAt != created.CreatedAt {
		t.Errorf("times after completing: created %s updated %s completed %v", got.CreatedAt, got.UpdatedAt, got.CompletedAt)
	}
	if r.header.Get("ETag") != `"2"` {
		t.Errorf("ETag %q, want \"2\"", r.header.Get("ETag"))
	}

	// null clears notes and due; completing again keeps completed_at.
	got2 := ts.do(t, "PATCH", path, `{"notes":null,"due":null,"completed":true}`).want(t, http.StatusOK).todo(t)
	if got2.Notes != "" || got2.Due != nil || *got2.CompletedAt != *got.CompletedAt {
		t.Errorf("after clearing: %+v", got2)
	}
	got3 := ts.do(t, "PATCH", path, `{"completed":false}`).want(t, http.StatusOK).todo(t)
	if got3.CompletedAt != nil {
		t.Errorf("completed_at %v after un-completing", *got3.CompletedAt)
	}

	// A patch that changes nothing is not a write: same ETag, same updated_at.
	before := ts.do(t, "GET", path, "")
	r = ts.do(t, "PATCH", path, `{}`).want(t, http.StatusOK)
	if r.header.Get("ETag") != before.header.Get("ETag") || r.todo(t).UpdatedAt != before.todo(t).UpdatedAt {
		t.Errorf("empty patch changed the todo: ETag %s -> %s", before.header.Get("ETag"), r.header.Get("ETag"))
	}

	for _, tt := range []struct {
		body   string
		status int
		fields []string
	}{
		{`{"title":null}`, 422, []string{"title"}},
		{`{"completed":null}`, 422, []string{"completed"}},
		{`{"order":null}`, 422, []string{"order"}},
		{`{"title":"","order":null}`, 422, []string{"title", "order"}},
		{`{"due":"tomorrow"}`, 422, []string{"due"}},
		{`{"id":7}`, 400, []string{"id"}},
		{`{"created_at":"2020-01-01T00:00:00Z"}`, 400, []string{"created_at"}},
		{`{"order":"1"}`, 400, []string{"order"}},
		{`[]`, 400, nil},
		{``, 400, nil},
	} {
		p := ts.do(t, "PATCH", path, tt.body, "Content-Type", "application/json").problem(t, tt.status)
		if tt.fields != nil && !slices.Equal(fields(p), tt.fields) {
			t.Errorf("%s: errors %v, want %v", tt.body, fields(p), tt.fields)
		}
	}
	ts.do(t, "PATCH", path, `{"title":"c"}`, "Content-Type", "text/plain").problem(t, http.StatusUnsupportedMediaType)
	ts.do(t, "PATCH", "/v1/todos/999", `{"title":"c"}`).problem(t, http.StatusNotFound)
	ts.do(t, "PATCH", "/v1/todos/x", `{"title":"c"}`).problem(t, http.StatusBadRequest)

	after := ts.do(t, "GET", path, "")
	if !bytes.Equal(after.body, before.body) {
		t.Errorf("rejected patches changed the todo:\n%s\n%s", before.body, after.body)
	}
}

func TestPut(t *testing.T) {
	ts := newTestServer(t, config{})
	created := ts.create(t, `{"title":"a","notes":"n","order":5,"completed":true,"due":"2030-01-01T00:00:00Z"}`)
	path := fmt.Sprintf("/v1/todos/%d", created.ID)

	got := ts.do(t, "PUT", path, `{"title":"b"}`).want(t, http.StatusOK).todo(t)
	if got.ID != created.ID || got.Title != "b" || got.Notes != "" || got.Order != 0 || got.Completed || got.Due != nil || got.CompletedAt != nil {
		t.Errorf("after replace: %+v; fields left out must take their defaults", got)
	}
	if got.CreatedAt != created.CreatedAt {
		t.Errorf("created_at changed: %s -> %s", created.CreatedAt, got.CreatedAt)
	}
	p := ts.do(t, "PUT", path, `{"notes":"x"}`).problem(t, http.StatusUnprocessableEntity)
	if !slices.Equal(fields(p), []string{"title"}) {
		t.Errorf("errors %v", p.Errors)
	}
	ts.do(t, "PUT", path, `{"title":"b"}`, "Content-Type", "application/merge-patch+json").problem(t, http.StatusUnsupportedMediaType)
	ts.do(t, "PUT", "/v1/todos/999", `{"title":"b"}`).problem(t, http.StatusNotFound)
}

func TestIfMatch(t *testing.T) {
	ts := newTestServer(t, config{})
	created := ts.create(t, `{"title":"a"}`)
	path := fmt.Sprintf("/v1/todos/%d", created.ID)

	for _, tt := range []struct{ method, body string }{
		{"PATCH", `{"title":"b"}`}, {"PUT", `{"title":"b"}`}, {"DELETE", ""},
	} {
		for _, stale := range []string{`"2"`, `W/"1"`, `"x"`} {
			ts.do(t, tt.method, path, tt.body, "If-Match", stale).problem(t, http.StatusPreconditionFailed)
		}
	}
	if got := ts.do(t, "GET", path, "").todo(t); got.Title != "a" {
		t.Fatalf("a failed precondition changed the todo: %+v", got)
	}
	r := ts.do(t, "PATCH", path, `{"title":"b"}`, "If-Match", `"0", "1"`).want(t, http.StatusOK)
	ts.do(t, "PUT", path, `{"title":"c"}`, "If-Match", r.header.Get("ETag")).want(t, http.StatusOK)
	ts.do(t, "PUT", path, `{"title":"d"}`, "If-Match", r.header.Get("ETag")).problem(t, http.StatusPreconditionFailed)
	ts.do(t, "PATCH", path, `{"title":"d"}`, "If-Match", "*").want(t, http.StatusOK)
	ts.do(t, "DELETE", path, "", "If-Match", `"4"`).want(t, http.StatusNoContent)
	ts.do(t, "DELETE", path, "", "If-Match", "*").problem(t, http.StatusNotFound)

	// Two writers with the same ETag: exactly one wins.
	created = ts.create(t, `{"title":"race"}`)
	path = fmt.Sprintf("/v1/todos/%d", created.ID)
	statuses := make(chan int, 10)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			statuses <- ts.do(t, "PATCH", path, fmt.Sprintf(`{"order":%d}`, i+1), "If-Match", `"1"`).status
		})
	}
	wg.Wait()
	close(statuses)
	won := 0
	for s := range statuses {
		if s == http.StatusOK {
			won++
		} else if s != http.StatusPreconditionFailed {
			t.Errorf("status %d", s)
		}
	}
	if won != 1 {
		t.Errorf("%d conditional writes won, want exactly 1", won)
	}
}

func TestDelete(t *testing.T) {
	ts := newTestServer(t, config{})
	a := ts.create(t, `{"title":"a"}`)
	b := ts.create(t, `{"title":"b"}`)
	ts.do(t, "DELETE", fmt.Sprintf("/v1/todos/%d", b.ID), "", "Content-Type", "application/json").want(t, http.StatusNoContent)
	ts.do(t, "GET", fmt.Sprintf("/v1/todos/%d", b.ID), "").problem(t, http.StatusNotFound)
	ts.do(t, "DELETE", fmt.Sprintf("/v1/todos/%d", b.ID), "").problem(t, http.StatusNotFound)
	ts.do(t, "DELETE", "/v1/todos/zero", "").problem(t, http.StatusBadRequest)
	// The newest id was deleted; it is still never given again.
	if c := ts.create(t, `{"title":"c"}`); c.ID != b.ID+1 || a.ID >= b.ID {
		t.Errorf("ids %d %d %d: an id was reused", a.ID, b.ID, c.ID)
	}
}

func TestDeleteAll(t *testing.T) {
	ts := newTestServer(t, config{})
	for i := range 6 {
		ts.create(t, fmt.Sprintf(`{"title":"t%d","completed":%t}`, i, i%2 == 0))
	}
	for _, q := range []string{"?completed=yes", "?done=true", "?completed=true&completed=false", "?completed=true&limit=5", "?%zz"} {
		ts.do(t, "DELETE", "/v1/todos"+q, "").problem(t, http.StatusBadRequest)
	}
	if n := ts.count(t); n != 6 {
		t.Fatalf("%d todos after rejected deletes, want 6", n)
	}
	ts.do(t, "DELETE", "/v1/todos?completed=true", "").want(t, http.StatusNoContent)
	left := ts.do(t, "GET", "/v1/todos", "").want(t, http.StatusOK).todos(t)
	if len(left) != 3 || slices.ContainsFunc(left, func(t todoJSON) bool { return t.Completed }) {
		t.Errorf("after deleting the completed: %+v", left)
	}
	ts.create(t, `{"title":"done","completed":true}`)
	ts.do(t, "DELETE", "/v1/todos?completed=false", "").want(t, http.StatusNoContent)
	if left := ts.do(t, "GET", "/v1/todos", "").todos(t); len(left) != 1 || !left[0].Completed {
		t.Errorf("after deleting the open ones: %+v", left)
	}
	ts.do(t, "DELETE", "/v1/todos", "").want(t, http.StatusNoContent)
	if n := ts.count(t); n != 0 {
		t.Errorf("%d todos after deleting all", n)
	}
}

func TestListFilters(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"Buy MILK","due":"2026-01-01T00:00:00Z"}`)
	ts.create(t, `{"title":"call mum","notes":"about the milk","completed":true,"due":"2026-06-01T00:00:00Z"}`)
	ts.create(t, `{"title":"100% done_ok"}`)
	ts.create(t, `{"title":"1000 done"}`)
	time.Sleep(5 * time.Millisecond)
	since := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(5 * time.Millisecond)
	ts.do(t, "PATCH", "/v1/todos/4", `{"order":1}`).want(t, http.StatusOK)

	tests := []struct {
		query string
		ids   []int64
	}{
		{"", []int64{1, 2, 3, 4}},
		{"?completed=true", []int64{2}},
		{"?completed=false", []int64{1, 3, 4}},
		{"?q=milk", []int64{1, 2}},
		{"?q=MiLk&completed=false", []int64{1}},
		{"?q=0%25", []int64{3}},    // % is literal
		{"?q=e_o", []int64{3}},     // _ is literal
		{"?q=%27%20OR%201=1", nil}, // quotes are data
		{"?q=", []int64{1, 2, 3, 4}},
		{"?due_before=2026-06-01T00:00:00Z", []int64{1}},
		{"?due_after=2026-06-01T00:00:00Z", []int64{2}},
		{"?due_after=2025-12-31T23:00:00-01:00", []int64{1, 2}},
		{"?due_before=2026-06-01T02:00:00%2B02:00", []int64{1}},
		{"?updated_since=" + url.QueryEscape(since), []int64{4}},
		{"?sort=-id", []int64{4, 3, 2, 1}},
		{"?sort=due", []int64{1, 2, 3, 4}},
		{"?sort=-due", []int64{4, 3, 2, 1}},
		{"?sort=order&q=done", []int64{3, 4}},
		{"?sort=-updated_at&limit=1", []int64{4}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := ts.do(t, "GET", "/v1/todos"+tt.query, "").want(t, http.StatusOK)
			var ids []int64
			for _, td := range r.todos(t) {
				ids = append(ids, td.ID)
			}
			if !slices.Equal(ids, tt.ids) {
				t.Errorf("ids %v, want %v", ids, tt.ids)
			}
		})
	}

	bad := []struct{ query, field string }{
		{"?completed=1", "completed"},
		{"?completed=true&completed=true", "completed"},
		{"?sort=title", "sort"},
		{"?sort=--id", "sort"},
		{"?limit=0", "limit"},
		{"?limit=1001", "limit"},
		{"?limit=ten", "limit"},
		{"?due_before=yesterday", "due_before"},
		{"?due_after=2026-01-01", "due_after"},
		{"?updated_since=2026-01-01T00:00:00+02:00", "updated_since"}, // an unescaped + is a space
		{"?cursor=abc", "cursor"},
		{"?q=%ff", "q"},
		{"?page=2", "page"},
		{"?%zz=1", "query"},
		{"?=0", "query"}, // found by FuzzListQuery
	}
	for _, tt := range bad {
		p := ts.do(t, "GET", "/v1/todos"+tt.query, "").problem(t, http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{tt.field}) || !strings.Contains(p.Detail, tt.field) {
			t.Errorf("%s: %q %v, want %s named", tt.query, p.Detail, p.Errors, tt.field)
		}
	}
}

// TestPaging walks a few hundred todos page by page with every sort key,
// following the Link header, and checks that each todo comes exactly once and
// in the right order, even with a todo created mid-walk.
func TestPaging(t *testing.T) {
	ts := newTestServer(t, config{})
	const n = 250
	for i := range n {
		due := "null"
		if i%3 != 0 { // a third without a due time; the rest with ties
			due = fmt.Sprintf(`"2026-01-%02dT00:00:00Z"`, 1+i%7)
		}
		ts.create(t, fmt.Sprintf(`{"title":"t%d","order":%d,"due":%s}`, i, i%5, due))
	}
	for _, key := range []string{"id", "-id", "due", "-due", "order", "-order", "updated_at", "-updated_at"} {
		t.Run(key, func(t *testing.T) {
			var got []todoJSON
			next := ts.URL + "/v1/todos?limit=17&sort=" + key
			for pages := 0; next != ""; pages++ {
				if pages > n {
					t.Fatal("paging does not end")
				}
				u, _ := url.Parse(next)
				r := ts.do(t, "GET", u.RequestURI(), "").want(t, http.StatusOK)
				page := r.todos(t)
				got = append(got, page...)
				next = ""
				if link := r.header.Get("Link"); link != "" {
					target, rel, ok := strings.Cut(link, ">; ")
					if !ok || rel != `rel="next"` || !strings.HasPrefix(target, "<"+ts.URL+"/v1/todos?") {
						t.Fatalf("Link %q", link)
					}
					next = target[1:]
					if len(page) != 17 {
						t.Fatalf("a page of %d before the last", len(page))
					}
				}
				if pages == 3 && key == "id" { // a row created mid-walk comes once, at the end
					ts.create(t, `{"title":"late"}`)
				}
			}
			want := ts.do(t, "GET", "/v1/todos?limit=1000&sort="+key, "").todos(t)
			if len(got) != len(want) {
				t.Fatalf("%d todos paged, want %d", len(got), len(want))
			}
			seen := map[int64]bool{}
			for i, td := range got {
				if seen[td.ID] {
					t.Fatalf("todo %d came twice", td.ID)
				}
				seen[td.ID] = true
				if td.ID != want[i].ID {
					t.Fatalf("position %d: id %d, want %d", i, td.ID, want[i].ID)
				}
				if i > 0 && !inOrder(key, got[i-1], td) {
					t.Fatalf("%+v before %+v breaks sort %s", got[i-1], td, key)
				}
			}
		})
	}
	// A cursor belongs to its sort.
	r := ts.do(t, "GET", "/v1/todos?limit=1&sort=due", "")
	cursor := strings.SplitN(strings.SplitN(r.header.Get("Link"), "cursor=", 2)[1], "&", 2)[0]
	cursor = strings.SplitN(cursor, ">", 2)[0]
	ts.do(t, "GET", "/v1/todos?sort=due&cursor="+cursor, "").want(t, http.StatusOK)
	ts.do(t, "GET", "/v1/todos?sort=order&cursor="+cursor, "").problem(t, http.StatusBadRequest)
	ts.do(t, "GET", "/v1/todos?sort=-due&cursor="+cursor, "").problem(t, http.StatusBadRequest)
}

// inOrder reports whether a may come before b under the sort key.
func inOrder(key string, a, b todoJSON) bool {
	desc := strings.HasPrefix(key, "-")
	if desc {
		a, b = b, a
	}
	var ka, kb string
	switch strings.TrimPrefix(key, "-") {
	case "due":
		ka, kb = "9999", "9999" // no due sorts last
		if a.Due != nil {
			ka = *a.Due
		}
		if b.Due != nil {
			kb = *b.Due
		}
	case "order":
		ka, kb = fmt.Sprintf("%020d", a.Order+1e9), fmt.Sprintf("%020d", b.Order+1e9)
	case "updated_at":
		ka, kb = a.UpdatedAt, b.UpdatedAt
	}
	return ka < kb || (ka == kb && a.ID < b.ID)
}

func TestExport(t *testing.T) {
	ts := newTestServer(t, config{})
	for i := range 30 {
		ts.create(t, fmt.Sprintf(`{"title":"t%d","completed":%t}`, i, i%3 == 0))
	}
	r := ts.do(t, "GET", "/v1/todos?completed=false&sort=-id", "", "Accept", "application/json;q=0.5, application/x-ndjson").want(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" || r.header.Get("Link") != "" {
		t.Errorf("Content-Type %q, Link %q", ct, r.header.Get("Link"))
	}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	var ids []int64
	for sc.Scan() {
		var td todoJSON
		if err := json.Unmarshal(sc.Bytes(), &td); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if td.Completed {
			t.Errorf("todo %d is completed", td.ID)
		}
		ids = append(ids, td.ID)
	}
	if len(ids) != 20 || !slices.IsSortedFunc(ids, func(a, b int64) int { return int(b - a) }) {
		t.Errorf("exported ids %v: want 20, newest first", ids)
	}
	ts.do(t, "GET", "/v1/todos?limit=5", "", "Accept", "application/x-ndjson").problem(t, http.StatusBadRequest)
	ts.do(t, "GET", "/v1/todos?q=nothing", "", "Accept", "application/x-ndjson").want(t, http.StatusOK)
	if r := ts.do(t, "GET", "/v1/todos", "", "Accept", "application/x-ndjson;q=0"); r.header.Get("Content-Type") != "application/json" {
		t.Errorf("q=0 still exported")
	}
}

func TestIdempotency(t *testing.T) {
	ts := newTestServer(t, config{})
	body := `{"title":"pay rent"}`
	first := ts.do(t, "POST", "/v1/todos", body, "Idempotency-Key", "k1").want(t, http.StatusCreated)
	ts.do(t, "PATCH", "/v1/todos/1", `{"title":"changed since"}`).want(t, http.StatusOK)
	again := ts.do(t, "POST", "/v1/todos", body, "Idempotency-Key", "k1").want(t, http.StatusCreated)
	if !bytes.Equal(first.body, again.body) || first.header.Get("Location") != again.header.Get("Location") ||
		first.header.Get("ETag") != again.header.Get("ETag") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a retry answered differently:\n%s %v\n%s %v", first.body, first.header, again.body, again.header)
	}
	if n := ts.count(t); n != 1 {
		t.Errorf("%d todos after a retry, want 1", n)
	}
	p := ts.do(t, "POST", "/v1/todos", `{"title":"other"}`, "Idempotency-Key", "k1").problem(t, http.StatusUnprocessableEntity)
	if !strings.Contains(p.Detail, "Idempotency-Key") {
		t.Errorf("detail %q", p.Detail)
	}
	for _, key := range []string{strings.Repeat("k", 256), "a\tb", "clé"} {
		ts.do(t, "POST", "/v1/todos", body, "Idempotency-Key", key).problem(t, http.StatusBadRequest)
	}
	// An invalid request does not take the key.
	ts.do(t, "POST", "/v1/todos", `{"title":""}`, "Idempotency-Key", "k2").problem(t, http.StatusUnprocessableEntity)
	ts.do(t, "POST", "/v1/todos", body, "Idempotency-Key", "k2").want(t, http.StatusCreated)

	// Concurrent retries of one request: one todo, the same answer for all.
	const retries = 16
	bodies := make(chan string, retries)
	var wg sync.WaitGroup
	for range retries {
		wg.Go(func() {
			r := ts.do(t, "POST", "/v1/todos", `{"title":"once"}`, "Idempotency-Key", "k3")
			if r.status != http.StatusCreated {
				t.Errorf("status %d: %s", r.status, r.body)
			}
			bodies <- string(r.body)
		})
	}
	wg.Wait()
	close(bodies)
	var distinct []string
	for b := range bodies {
		if !slices.Contains(distinct, b) {
			distinct = append(distinct, b)
		}
	}
	if len(distinct) != 1 {
		t.Errorf("%d different answers to concurrent retries: %v", len(distinct), distinct)
	}
	if n := ts.count(t); n != 3 {
		t.Errorf("%d todos, want 3", n)
	}

	// After a day the key is forgotten.
	ts.store.now = func() time.Time { return time.Now().Add(idempotencyTTL + time.Minute) }
	if got := ts.do(t, "POST", "/v1/todos", body, "Idempotency-Key", "k1").want(t, http.StatusCreated); got.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("a key older than a day was replayed")
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "todo.db")
	store, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	ts := serveStore(t, store, config{})
	created := ts.create(t, `{"title":"survive","due":"2027-03-04T05:06:07.089Z"}`)
	ts.do(t, "POST", "/v1/todos", `{"title":"keyed"}`, "Idempotency-Key", "restart").want(t, http.StatusCreated)
	ts.Close()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	ts = serveStore(t, mustOpenStore(t, path), config{})
	got := ts.do(t, "GET", fmt.Sprintf("/v1/todos/%d", created.ID), "").want(t, http.StatusOK).todo(t)
	got.URL, created.URL = "", ""
	if !equalTodo(got, created) {
		t.Errorf("after restart %+v, want %+v", got, created)
	}
	r := ts.do(t, "POST", "/v1/todos", `{"title":"keyed"}`, "Idempotency-Key", "restart").want(t, http.StatusCreated)
	if r.header.Get("Idempotent-Replayed") != "true" || ts.count(t) != 2 {
		t.Errorf("the idempotency key did not survive the restart")
	}
}

func TestConcurrentCreates(t *testing.T) {
	ts := newTestServer(t, config{})
	const workers, each = 16, 20
	ids := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r := ts.do(t, "POST", "/v1/todos", fmt.Sprintf(`{"title":"w%d-%d"}`, w, i))
				if r.status != http.StatusCreated {
					t.Errorf("status %d: %s", r.status, r.body)
					return
				}
				ids <- r.todo(t).ID
			}
		})
	}
	// Readers beside the writers never see "database is locked".
	for range 4 {
		wg.Go(func() {
			for range 20 {
				if r := ts.do(t, "GET", "/v1/todos?limit=50", ""); r.status != http.StatusOK {
					t.Errorf("list: %d %s", r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("id %d given twice", id)
		}
		seen[id] = true
	}
	if len(seen) != workers*each || ts.count(t) != workers*each {
		t.Errorf("%d ids, %d rows; want %d", len(seen), ts.count(t), workers*each)
	}
}

func TestToken(t *testing.T) {
	ts := newTestServer(t, config{token: "s3cret"})
	for _, auth := range []string{"", "Bearer wrong", "Bearer s3cret2", "Basic czNjcmV0", "s3cret", "Bearer "} {
		r := ts.do(t, "GET", "/v1/todos", "", "Authorization", auth)
		r.problem(t, http.StatusUnauthorized)
		if r.header.Get("WWW-Authenticate") != "Bearer" {
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
	if r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Vary") != "" {
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
	for _, path := range []string{"/", "/v1", "/v1/todos/", "/v1/todos/1/x", "/v2/todos"} {
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

func TestDatabaseTimeoutIs503(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"a"}`)
	ts.store.Timeout = 100 * time.Millisecond
	// Hold the one writer connection, as a stuck write would.
	conn, err := ts.store.writeDB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := ts.do(t, "POST", "/v1/todos", `{"title":"b"}`)
	r.problem(t, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the 503 took %v", d)
	}
	ts.do(t, "GET", "/v1/todos/1", "").want(t, http.StatusOK) // reads go on
	conn.Close()
	ts.do(t, "POST", "/v1/todos", `{"title":"b"}`).want(t, http.StatusCreated)

	ts.store.Close()
	r = ts.do(t, "GET", "/readyz", "")
	r.problem(t, http.StatusServiceUnavailable)
	ts.do(t, "GET", "/healthz", "").want(t, http.StatusOK)
}

func TestSchemaVersions(t *testing.T) {
	migrations, err := parseMigrations(schemaSQL)
	if err != nil || len(migrations) == 0 {
		t.Fatalf("schema.sql: %d migrations, %v", len(migrations), err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "todo.db")
	s := mustOpenStore(t, path)
	var version int
	if err := s.readDB.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(migrations) {
		t.Errorf("user_version %d (%v), want %d", version, err, len(migrations))
	}
	var mode string
	if err := s.writeDB.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q (%v)", mode, err)
	}
	var sync, fk int
	if err := s.writeDB.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous %d (%v), want 2 (FULL)", sync, err)
	}
	if err := s.writeDB.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys %d (%v)", fk, err)
	}
	s.Close()
	mustOpenStore(t, path).Close() // reopening an up-to-date database changes nothing

	raw := func(path, sql string) {
		db, err := openRaw(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(sql); err != nil {
			t.Fatal(err)
		}
	}
	raw(path, fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1))
	if _, err := OpenStore(path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("a newer database opened: %v", err)
	}
	other := filepath.Join(dir, "other.db")
	raw(other, "CREATE TABLE notes (x)")
	if _, err := OpenStore(other); err == nil || !strings.Contains(err.Error(), "not a todo database") {
		t.Errorf("a foreign database opened: %v", err)
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("junk"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(junk); err == nil {
		t.Error("a file that is not a database opened")
	}
	for _, bad := range []string{"-- version 2\nSELECT 1;", "-- version 1\n-- version 1\n", "-- version x\n"} {
		if _, err := parseMigrations(bad); err == nil {
			t.Errorf("parseMigrations(%q) took an out-of-sequence schema", bad)
		}
	}
}

func openRaw(path string) (*sql.DB, error) { return sql.Open("sqlite3", path) }

func TestMemoryStore(t *testing.T) {
	ts := serveStore(t, mustOpenStore(t, ":memory:"), config{})
	ts.create(t, `{"title":"a"}`)
	if got := ts.do(t, "GET", "/v1/todos", "").todos(t); len(got) != 1 {
		t.Errorf("%d todos in the memory store", len(got))
	}
}

func TestBaseURL(t *testing.T) {
	ts := newTestServer(t, config{baseURL: "https://todo.example/api"})
	ts.create(t, `{"title":"a"}`)
	r := ts.do(t, "POST", "/v1/todos", `{"title":"b"}`)
	if loc := r.header.Get("Location"); loc != "https://todo.example/api/v1/todos/2" || r.todo(t).URL != loc {
		t.Errorf("Location %q", loc)
	}
	if link := ts.do(t, "GET", "/v1/todos?limit=1", "").header.Get("Link"); !strings.HasPrefix(link, "<https://todo.example/api/v1/todos?") {
		t.Errorf("Link %q", link)
	}
}

// TestRun runs the whole program: flags from the environment, the bound
// address on stdout, and a clean stop when its context ends.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TODO_DB": filepath.Join(dir, "run.db"), "TODO_LOG_FORMAT": "json"}
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stdoutW := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, stdoutW, &stderr)
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || strings.HasSuffix(base, ":0") {
		t.Fatalf("first line %q", line)
	}
	resp, err := http.Post(base+"/v1/todos", "application/json", strings.NewReader(`{"title":"run"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("run did not stop")
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("log: %s", stderr.String())
	}
	if _, err := os.Stat(env["TODO_DB"] + "-wal"); !os.IsNotExist(err) {
		t.Errorf("the WAL is still there after a clean stop: %v", err)
	}

	for _, args := range [][]string{{"-log-format", "xml"}, {"-log-level", "loud"}, {"-base-url", "ftp://x"}, {"-cors-origins", "example.com"}, {"extra"}, {"-db", filepath.Join(dir, "no", "such", "dir", "x.db")}} {
		if err := run(t.Context(), args, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
			t.Errorf("run %v started", args)
		}
	}
}

// TestSignalStopsCleanly runs the program as a process and stops it with
// SIGTERM: it exits 0, and what it acknowledged is in the file.
func TestSignalStopsCleanly(t *testing.T) {
	db := filepath.Join(t.TempDir(), "signal.db")
	c := startChild(t, db)
	if status, body, _, err := c.send("POST", "/v1/todos", `{"title":"kept"}`); err != nil || status != http.StatusCreated {
		t.Fatalf("create: %d %s %v", status, body, err)
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	s := mustOpenStore(t, db)
	if todo, err := s.FindTodo(t.Context(), 1); err != nil || !strings.Contains(string(todo.Members), `"title":"kept"`) {
		t.Errorf("after the stop: %s, %v", todo.Members, err)
	}
}

// TestAppendJSONString checks the hand-written JSON string encoder against
// encoding/json: both must read back as the same string, for any bytes.
func TestAppendJSONString(t *testing.T) {
	inputs := []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f",
		"é ü 日本 🙂", "\u2028\u2029", "</script>&", "bad \xff\xfe utf-8", "cut \xe6\x97", strings.Repeat("a\"", 100)}
	for i := range 500 { // and some random bytes
		b := make([]byte, i%40)
		for j := range b {
			b[j] = byte((i*7919 + j*104729) % 256)
		}
		inputs = append(inputs, string(b))
	}
	for _, s := range inputs {
		got := appendJSONString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("%q: invalid JSON %s", s, got)
		}
		want, _ := json.Marshal(s)
		var a, b string
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("%q: reads back as %q, encoding/json's as %q", s, a, b)
		}
	}
}

// TestReadsSeeAcknowledgedWrites races reads of one todo against writes to it:
// a read that starts after a write was answered sees that write or a later
// one, never an older one left in the read cache.
func TestReadsSeeAcknowledgedWrites(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"hot"}`)
	version := func(r result) int {
		v, err := strconv.Atoi(strings.Trim(r.header.Get("ETag"), `"`))
		if err != nil {
			t.Errorf("ETag %q", r.header.Get("ETag"))
		}
		return v
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				written := ts.do(t, "PATCH", "/v1/todos/1", fmt.Sprintf(`{"order":%d}`, w*100+i+1)).want(t, http.StatusOK)
				if read := ts.do(t, "GET", "/v1/todos/1", ""); version(read) < version(written) {
					t.Errorf("read version %d after write %d was answered", version(read), version(written))
				}
			}
		})
		wg.Go(func() { // readers that keep filling the cache
			for range 50 {
				ts.do(t, "GET", "/v1/todos/1", "").want(t, http.StatusOK)
			}
		})
	}
	wg.Wait()
	ts.do(t, "DELETE", "/v1/todos/1", "").want(t, http.StatusNoContent)
	ts.do(t, "GET", "/v1/todos/1", "").problem(t, http.StatusNotFound)
}

func TestCacheRefusesAStaleRead(t *testing.T) {
	c := todoCache{todos: map[int64]RenderedTodo{}}
	_, ok, gen := c.get(1)
	if ok {
		t.Fatal("hit in an empty cache")
	}
	c.forget(1) // a write committed while the read was under way
	c.put(RenderedTodo{ID: 1, Version: 1}, gen)
	if _, ok, _ := c.get(1); ok {
		t.Error("a read that raced a write was kept")
	}
	_, _, gen = c.get(1)
	c.put(RenderedTodo{ID: 1, Version: 2}, gen)
	if got, ok, _ := c.get(1); !ok || got.Version != 2 {
		t.Errorf("got %+v, %t", got, ok)
	}
	c.forgetAll()
	if _, ok, _ := c.get(1); ok {
		t.Error("forgetAll kept a todo")
	}
}

// TestFullDisk fills the database (PRAGMA max_page_count stands in for a
// full disk): writes get 507 and change nothing, reads go on, and writes work
// again once there is room.
func TestFullDisk(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"before"}`)
	var pages int
	if err := ts.store.writeDB.QueryRowContext(t.Context(), "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.store.writeDB.ExecContext(t.Context(), fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	big := `{"title":"big","notes":"` + strings.Repeat("n", maxNotesLen) + `"}`
	var full bool
	for range 20 { // until a write needs a page it cannot have
		r := ts.do(t, "POST", "/v1/todos", big)
		if r.status == http.StatusCreated {
			continue
		}
		p := r.problem(t, http.StatusInsufficientStorage)
		if strings.Contains(string(r.body), "SQLITE") || strings.Contains(p.Detail, "sqlite") {
			t.Errorf("the body leaks the database's error: %s", r.body)
		}
		full = true
		break
	}
	if !full {
		t.Fatal("the database never filled up")
	}
	n := ts.count(t)
	ts.do(t, "PATCH", "/v1/todos/1", `{"notes":"`+strings.Repeat("x", maxNotesLen)+`"}`).problem(t, http.StatusInsufficientStorage)
	ts.do(t, "GET", "/v1/todos/1", "").want(t, http.StatusOK)
	if got := ts.do(t, "GET", "/v1/todos/1", "").todo(t); got.Notes != "" {
		t.Errorf("a failed patch was half-written: notes %q", got.Notes)
	}
	if ts.count(t) != n {
		t.Errorf("a failed create left a row")
	}
	if _, err := ts.store.writeDB.ExecContext(t.Context(), "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	ts.create(t, big)
	if got := ts.do(t, "GET", "/v1/todos", "").todos(t); len(got) != n+1 {
		t.Errorf("%d todos after the disk had room again, want %d", len(got), n+1)
	}
}

// TestOverload bounds the requests working on the database: with every place
// taken by stuck writes, more requests get a 503 with Retry-After at once,
// not a place in an endless queue, and the service recovers when the load goes.
func TestOverload(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"a"}`)
	ts.store.slots = make(chan struct{}, 2)         // a bound of two, for the test
	conn, err := ts.store.writeDB.Conn(t.Context()) // the writes get stuck behind this
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stuck := make(chan int, 2)
	for range 2 {
		wg.Go(func() { stuck <- ts.do(t, "POST", "/v1/todos", `{"title":"stuck"}`).status })
	}
	for len(ts.store.slots) < 2 { // until both hold their place
		time.Sleep(time.Millisecond)
	}
	for _, path := range []string{"/v1/todos", "/v1/todos?sort=due"} {
		start := time.Now()
		r := ts.do(t, "GET", path, "")
		r.problem(t, http.StatusServiceUnavailable)
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("the 503 took %v", d)
		}
	}
	ts.do(t, "GET", "/healthz", "").want(t, http.StatusOK) // touches no database
	conn.Close()
	wg.Wait()
	close(stuck)
	for s := range stuck {
		if s != http.StatusCreated {
			t.Errorf("a write that waited got %d", s)
		}
	}
	ts.do(t, "GET", "/v1/todos", "").want(t, http.StatusOK)
	ts.create(t, `{"title":"after"}`)
}

// get reads the todo with id through the API.
func (ts *testServer) get(t *testing.T, id int64) todoJSON {
	t.Helper()
	return ts.do(t, "GET", "/v1/todos/"+strconv.FormatInt(id, 10), "").want(t, http.StatusOK).todo(t)
}
