package main

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// holdWriter keeps the writer goroutine inside a write until the returned
// function is called: the writes queued meanwhile gather into one batch.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	held, done := make(chan struct{}), make(chan struct{})
	go s.writeTx(t.Context(), func(context.Context, *sql.Tx, time.Time) error {
		close(held)
		<-done
		return nil
	})
	<-held
	var once sync.Once
	release = func() { once.Do(func() { close(done) }) }
	t.Cleanup(release)
	return release
}

// waitQueued waits until n writes wait for the writer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); len(s.queue) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", len(s.queue), n)
		}
	}
}

// TestPanicInAWrite injects a panic into the middle write of a batch of
// three: that write fails as a 500 with the panic and its stack in the log,
// the two creates beside it commit in the same transaction, and the service
// serves on.
func TestPanicInAWrite(t *testing.T) {
	ts := newTestServer(t, config{})
	release := holdWriter(t, ts.store)

	// A request whose write panics, as a nil map in a field rule once did.
	bug := &server{logger: slog.New(slog.NewJSONHandler(ts.logs, nil)), store: ts.store}
	buggy := bug.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := ts.store.writeTx(r.Context(), func(context.Context, *sql.Tx, time.Time) error {
			var m map[string]int
			//lint:ignore SA5000 the panic is what this test is about
			m["boom"]++
			return nil
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))

	var wg sync.WaitGroup
	var first, last result
	wg.Go(func() { first = ts.do(t, "POST", "/v1/todos", `{"title":"before the panic"}`) })
	waitQueued(t, ts.store, 1)
	rec := httptest.NewRecorder()
	wg.Go(func() { buggy.ServeHTTP(rec, httptest.NewRequest("PATCH", "/v1/todos/1", nil)) })
	waitQueued(t, ts.store, 2)
	wg.Go(func() { last = ts.do(t, "POST", "/v1/todos", `{"title":"after the panic"}`) })
	waitQueued(t, ts.store, 3)
	release()
	wg.Wait()

	p := result{rec.Code, rec.Header(), rec.Body.Bytes()}.problem(t, http.StatusInternalServerError)
	if strings.Contains(rec.Body.String(), "boom") || strings.Contains(p.Detail, "nil map") {
		t.Errorf("the 500 leaks the panic: %s", rec.Body)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "panic in a write: assignment to entry in nil map") || !strings.Contains(logs, "goroutine") ||
		!strings.Contains(logs, p.RequestID) {
		t.Errorf("the log lacks the panic, its stack or its request id: %s", logs)
	}
	a, b := first.want(t, http.StatusCreated).todo(t), last.want(t, http.StatusCreated).todo(t)
	if a.CreatedAt != b.CreatedAt {
		t.Errorf("created at %s and %s: the writes were not in one batch", a.CreatedAt, b.CreatedAt)
	}
	for _, td := range []todoJSON{a, b} {
		if got := ts.get(t, td.ID); got.Title != td.Title {
			t.Errorf("todo %d: %+v, want %+v", td.ID, got, td)
		}
	}
	if n := ts.count(t); n != 2 {
		t.Errorf("%d todos, want 2", n)
	}
	ts.create(t, `{"title":"the service serves on"}`)
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
