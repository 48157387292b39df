package main

// Helpers that the tests share: a store on a file in a temporary folder, the
// real handler in the service's own http.Server, requests and their answers,
// the program run as a child process, and seed data.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	// The tests hash many passwords: at the service's 600,000 iterations
	// each would take a good part of a second. TestPasswordHash and
	// TestSignInTakesAsLongForAnyName use the service's own cost.
	passwordIterations = 1_000
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

// mustOpenStoreWith is mustOpenStore with the migrations to apply.
func mustOpenStoreWith(tb testing.TB, path string, migrations []migration) *Store {
	tb.Helper()
	s, err := openStore(path, migrations, true)
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
	ListID      int64   `json:"list_id"`
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
	if p.Status != status || p.Title != http.StatusText(status) || p.Type != "about:blank" && status != http.StatusGone {
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

// get reads the todo with id through the API.
func (ts *testServer) get(t *testing.T, id int64) todoJSON {
	t.Helper()
	return ts.do(t, "GET", "/v1/todos/"+strconv.FormatInt(id, 10), "").want(t, http.StatusOK).todo(t)
}

func (ts *testServer) count(t *testing.T) int {
	t.Helper()
	var n int
	if err := ts.store.readDB.QueryRowContext(t.Context(), "SELECT count(*) FROM todos").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func equalTodo(a, b todoJSON) bool {
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	return bytes.Equal(aj, bj)
}

func openRaw(path string) (*sql.DB, error) { return sql.Open("sqlite3", path) }

type child struct {
	cmd  *exec.Cmd
	base string
	http *http.Client
}

func startChild(t *testing.T, db string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "TODO_TEST_RUN_MAIN=1", "TODO_ADDR=127.0.0.1:0", "TODO_DB="+db, "TODO_LOG_LEVEL=warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	base := strings.TrimPrefix(strings.TrimSpace(line), "listening on ")
	return &child{cmd: cmd, base: base, http: &http.Client{Timeout: 10 * time.Second}}
}

func (c *child) stop(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(os.Interrupt)
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// send makes one request; err is non-nil when no answer came (the kill).
func (c *child) send(method, path, body string, header ...string) (int, []byte, http.Header, error) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// seedTodos adds rows todos to s in one transaction: a third without a due
// time, half of them completed, with ten values of order.
func seedTodos(tb testing.TB, s *Store, rows int) { seedTodosWithNotes(tb, s, rows, "") }

// seedTodosWithNotes is seedTodos with notes on every todo.
func seedTodosWithNotes(tb testing.TB, s *Store, rows int, notes string) {
	tb.Helper()
	err := s.writeTx(tb.Context(), func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		for i := range rows {
			t := Todo{Title: fmt.Sprintf("todo number %d, with a title about as long as a real one tends to be", i),
				Notes: notes, Completed: i%2 == 0, Order: int64(i % 10), ListID: 1}
			if i%3 != 0 {
				due := now.Add(time.Duration(i) * time.Second)
				t.Due = &Timestamp{due}
			}
			t.stamp(nil, now)
			if _, err := insertTodo(ctx, tx, t, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// passwordOf is the password the tests give the account name.
func passwordOf(name string) string { return "password of " + name }

// newAccountsServer starts a test server whose database has an account for
// each of names (the first is the built-in user, and an admin), and returns
// it with a token of each account, taken through POST /v1/tokens.
func newAccountsServer(t *testing.T, cfg config, names ...string) (*testServer, map[string]string) {
	t.Helper()
	ts := newTestServer(t, cfg)
	tokens := map[string]string{}
	for _, name := range names {
		if _, err := ts.store.CreateUser(t.Context(), name, hashPassword(passwordOf(name)), false); err != nil {
			t.Fatal(err)
		}
		tokens[name] = ts.signIn(t, name)
	}
	return ts, tokens
}

// signIn takes a token of the account name, with its password.
func (ts *testServer) signIn(t *testing.T, name string) string {
	t.Helper()
	r := ts.do(t, "POST", "/v1/tokens", "", "Authorization", basic(name, passwordOf(name))).want(t, http.StatusCreated)
	var tok struct{ Token string }
	if err := json.Unmarshal(r.body, &tok); err != nil || tok.Token == "" {
		t.Fatalf("no token in %s (%v)", r.body, err)
	}
	return tok.Token
}

func basic(name, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+password))
}

func bearer(token string) string { return "Bearer " + token }

// listJSON is a list as the API shows it.
type listJSON struct {
	ID        int64   `json:"id"`
	Title     string  `json:"title"`
	Default   bool    `json:"default"`
	Owner     *string `json:"owner"`
	Role      string  `json:"role"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
	URL       string  `json:"url"`
	TodosURL  string  `json:"todos_url"`
}

// decodeJSON reads the body of r into v.
func (r result) decodeJSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
}

// sharedList makes, in s, an account "owner" with a list shared with n
// accounts as viewers, and a token of each, made in the store: the owner's,
// the list's id and the viewers' tokens.
func sharedList(tb testing.TB, s *Store, n int) (owner string, list int64, viewers []string) {
	tb.Helper()
	ctx := tb.Context()
	account := func(name string) (User, string) {
		u, err := s.CreateUser(ctx, name, hashPassword(passwordOf(name)), false)
		if err != nil {
			tb.Fatal(err)
		}
		secret := "todo_test_" + name
		if _, err := s.CreateToken(ctx, u.ID, false, "test", secretHash(secret), nil); err != nil {
			tb.Fatal(err)
		}
		return u, secret
	}
	u, owner := account("owner")
	l, err := s.CreateList(ctx, u.ID, "shared")
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		v, token := account(fmt.Sprintf("viewer%03d", i))
		if _, err := s.Share(ctx, u.ID, l.ID, *v.Name, RoleViewer); err != nil {
			tb.Fatal(err)
		}
		viewers = append(viewers, token)
	}
	return owner, l.ID, viewers
}
