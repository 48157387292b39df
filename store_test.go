package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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

func TestMemoryStore(t *testing.T) {
	ts := serveStore(t, mustOpenStore(t, ":memory:"), config{})
	ts.create(t, `{"title":"a"}`)
	if got := ts.do(t, "GET", "/v1/todos", "").todos(t); len(got) != 1 {
		t.Errorf("%d todos in the memory store", len(got))
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

// TestOneProcessPerDatabase: while a service holds a database, a second one
// on it refuses to start, with one line and exit status 1, where it used to
// serve beside it (and the first one's cache then served todos the second had
// deleted). The lock goes with a clean stop, and with a killed process.
func TestOneProcessPerDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "todo.db")
	first := mustOpenStore(t, path)
	if _, err := OpenStore(path); err == nil || !strings.Contains(err.Error(), "in use by another todo process") {
		t.Fatalf("a second store opened: %v", err)
	}
	first.Close()
	mustOpenStore(t, path).Close()

	c := startChild(t, path)
	second := exec.Command(os.Args[0])
	second.Env = append(os.Environ(), "TODO_TEST_RUN_MAIN=1", "TODO_ADDR=127.0.0.1:0", "TODO_DB="+path)
	var stderr bytes.Buffer
	second.Stderr = &stderr
	out, err := second.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || len(out) != 0 ||
		strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "in use by another todo process") {
		t.Fatalf("a second service: %v, stdout %q, stderr %q", err, out, stderr.String())
	}
	if _, err := OpenStore(path); err == nil {
		t.Fatal("a store opened beside a running service")
	}
	c.cmd.Process.Kill()
	c.cmd.Wait()
	mustOpenStore(t, path) // the kernel dropped the killed process's lock
}

// TestStorageFaults: when the database's folder, its WAL or the file itself
// is removed or replaced under a running service, SQLite writes on into the
// files it has open, which the disk will not keep: a create used to get 201
// and be lost at the next stop. Now writes get 503, and so does /readyz.
func TestStorageFaults(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault func(t *testing.T, dir, path string)
	}{
		{"folder removed", func(t *testing.T, dir, _ string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"WAL removed", func(t *testing.T, _, path string) {
			if err := os.Remove(path + "-wal"); err != nil {
				t.Fatal(err)
			}
		}},
		{"database replaced", func(t *testing.T, _, path string) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path, path+".old"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "todo.db")
			ts := serveStore(t, mustOpenStore(t, path), config{})
			ts.create(t, `{"title":"before"}`)
			ts.do(t, "GET", "/readyz", "").want(t, http.StatusOK)
			tt.fault(t, dir, path)
			r := ts.do(t, "POST", "/v1/todos", `{"title":"after"}`)
			if p := r.problem(t, http.StatusServiceUnavailable); !strings.Contains(p.Detail, "gone") {
				t.Errorf("detail %q", p.Detail)
			}
			ts.do(t, "GET", "/readyz", "").problem(t, http.StatusServiceUnavailable)
			ts.do(t, "GET", "/healthz", "").want(t, http.StatusOK)
		})
	}
}

// TestReadWaitsAMomentForAConnection: with every connection of the read
// pool taken, a read that needs one gets a 503 with Retry-After after a
// moment (100 ms), where it used to wait the query's 5 s; once one is free,
// reads are served.
func TestReadWaitsAMomentForAConnection(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"a"}`)
	var held []*sql.Conn
	for range ts.store.readDB.Stats().MaxOpenConnections {
		conn, err := ts.store.readDB.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
	}
	ts.store.cache.forgetAll()
	for _, tt := range []struct{ path, accept string }{
		{"/v1/todos/1", ""}, {"/v1/todos", ""}, {"/v1/todos", "application/x-ndjson"}, {"/readyz", ""},
	} {
		start := time.Now()
		r := ts.do(t, "GET", tt.path, "", "Accept", tt.accept)
		r.problem(t, http.StatusServiceUnavailable)
		if d := time.Since(start); d > time.Second || r.header.Get("Retry-After") == "" {
			t.Errorf("GET %s %s: 503 after %v, Retry-After %q", tt.path, tt.accept, d, r.header.Get("Retry-After"))
		}
	}
	for _, conn := range held {
		conn.Close()
	}
	ts.do(t, "GET", "/v1/todos/1", "").want(t, http.StatusOK)
}
