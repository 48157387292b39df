package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestExportsDoNotStarveReads: four exports whose clients read nothing used
// to hold every read connection, and pin the WAL: a page, an uncached read and
// /readyz got 503 beside them, a fifth export no answer at all, and the WAL
// grew with every write. Now they hold no connection while they wait for
// their clients: the others answer at once, the fifth export is a 503 at
// once, and the WAL is checkpointed as writes go on.
func TestExportsDoNotStarveReads(t *testing.T) {
	ts := newTestServer(t, config{})
	notes := strings.Repeat("n", maxNotesLen)
	seedTodosWithNotes(t, ts.store, 2000, notes) // 20 MB of NDJSON: more than the sockets buffer
	addr := strings.TrimPrefix(ts.URL, "http://")
	for range maxExports {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := io.WriteString(conn, "GET /v1/todos HTTP/1.1\r\nHost: localhost\r\nAccept: application/x-ndjson\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // the exports start, and fill their sockets

	within := func(name string, limit time.Duration, f func()) {
		t.Helper()
		start := time.Now()
		f()
		if d := time.Since(start); d > limit {
			t.Errorf("%s took %v beside the stalled exports", name, d)
		}
	}
	within("an uncached read", time.Second, func() {
		ts.store.cache.forgetAll()
		ts.do(t, "GET", "/v1/todos/7", "").want(t, http.StatusOK)
	})
	within("a page", time.Second, func() { ts.do(t, "GET", "/v1/todos?limit=10&sort=-due", "").want(t, http.StatusOK) })
	within("/readyz", time.Second, func() { ts.do(t, "GET", "/readyz", "").want(t, http.StatusOK) })
	within("a fifth export", time.Second, func() {
		r := ts.do(t, "GET", "/v1/todos", "", "Accept", "application/x-ndjson")
		if p := r.problem(t, http.StatusServiceUnavailable); !strings.Contains(p.Detail, "exports") || r.header.Get("Retry-After") == "" {
			t.Errorf("a fifth export: %+v", p)
		}
	})

	// 50 MB of writes beside the stalled exports: with nothing pinning it,
	// the WAL is checkpointed and reused from its start, and stays at the
	// size the seeding (one transaction of 39 MB) gave it, under 64 MiB.
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 125 {
				id := int64(1 + (w*125+i)%2000)
				body := fmt.Sprintf(`{"notes":"%d%s"}`, i, notes[:maxNotesLen-4])
				if r := ts.do(t, "PATCH", fmt.Sprintf("/v1/todos/%d", id), body); r.status != http.StatusOK {
					t.Errorf("patch: %d %s", r.status, r.body)
					return
				}
			}
		})
	}
	wg.Wait()
	wal, err := os.Stat(ts.store.path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if wal.Size() >= maxWALBytes {
		t.Errorf("the WAL is %d MB after 50 MB of writes beside the exports: something pins it", wal.Size()>>20)
	}
}

// TestExportAcrossChunks: an export is read in chunks, ended by the bytes
// gathered or by a count of rows (made small here); every todo still comes
// exactly once, in the order asked for, across their boundaries.
func TestExportAcrossChunks(t *testing.T) {
	ts := newTestServer(t, config{})
	seedTodos(t, ts.store, exportRows*2+500)                               // chunks ended by rows
	seedTodosWithNotes(t, ts.store, 100, strings.Repeat("é", maxNotesLen)) // and by bytes
	want := ts.count(t)
	defer func(n int) { exportRows = n }(exportRows)
	for _, tt := range []struct {
		key  string
		rows int
	}{{"id", 5000}, {"-id", 5000}, {"due", 5000}, {"-order", 97}, {"updated_at", 97}, {"id", 1}} {
		key := tt.key
		exportRows = tt.rows
		t.Run(fmt.Sprintf("%s by %d", key, tt.rows), func(t *testing.T) {
			r := ts.do(t, "GET", "/v1/todos?sort="+key, "", "Accept", "application/x-ndjson").want(t, http.StatusOK)
			lines := strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
			if len(lines) != want {
				t.Fatalf("%d lines, want %d", len(lines), want)
			}
			seen := map[int64]bool{}
			var prev todoJSON
			for i, line := range lines {
				var td todoJSON
				if err := json.Unmarshal([]byte(line), &td); err != nil {
					t.Fatalf("line %d: %v", i, err)
				}
				if seen[td.ID] {
					t.Fatalf("todo %d came twice", td.ID)
				}
				seen[td.ID] = true
				if i > 0 && !inOrder(key, prev, td) {
					t.Fatalf("%d before %d breaks sort %s", prev.ID, td.ID, key)
				}
				prev = td
			}
		})
	}
}

// TestExportQueryGivesUp: an export's query that works for the store's
// timeout without producing a row gives up, as a 503 with Retry-After when
// no line was sent yet; it was bounded only by the export's 10 minutes.
func TestExportQueryGivesUp(t *testing.T) {
	ts := newTestServer(t, config{})
	seedTodosWithNotes(t, ts.store, 2000, strings.Repeat("n", maxNotesLen)) // 20 MB of notes to search
	ts.store.Timeout = time.Millisecond
	r := ts.do(t, "GET", "/v1/todos?q=not-there", "", "Accept", "application/x-ndjson")
	if r.problem(t, http.StatusServiceUnavailable); r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	ts.store.Timeout = queryTimeout
	if r := ts.do(t, "GET", "/v1/todos?q=not-there", "", "Accept", "application/x-ndjson").want(t, http.StatusOK); len(r.body) != 0 {
		t.Errorf("%d bytes found", len(r.body))
	}
}

// vmHWM is the peak resident memory of the process pid, from /proc.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var n int64
			fmt.Sscanf(strings.TrimSpace(kb), "%d kB", &n)
			return n << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// TestMemoryStaysBounded: the service, as a process, beside 20 clients that
// ask for pages of a thousand large todos and read nothing, 4 exports that
// read nothing, 300 clients that send bodies of 1 MiB at once and an import
// of 64 MiB, stays
// under 256 MiB of resident memory (the pages alone took it to 1.5 GB, the
// bodies to 600 MB); a health check is answered beside them.
func TestMemoryStaysBounded(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory multiplies the process's: .ci/run runs this test again without -race")
	}
	db := filepath.Join(t.TempDir(), "memory.db")
	s := mustOpenStore(t, db)
	seedTodosWithNotes(t, s, 1000, strings.Repeat("日", maxNotesLen)) // 30 MB of JSON
	s.Close()
	c := startChild(t, db)
	addr := strings.TrimPrefix(c.base, "http://")
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		return conn
	}
	for range 20 {
		io.WriteString(dial(), "GET /v1/todos?limit=1000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
	}
	for range maxExports {
		io.WriteString(dial(), "GET /v1/todos HTTP/1.1\r\nHost: localhost\r\nAccept: application/x-ndjson\r\n\r\n")
	}
	var wg sync.WaitGroup
	// The largest import there may be, 64 MiB of todos with notes, first:
	// past the budget the bodies below take, it would be a 503.
	line := `{"title":"imported","notes":"` + strings.Repeat("日", maxNotesLen) + `"}` + "\n"
	imported := strings.Repeat(line, maxImportBytes/len(line))
	wg.Go(func() {
		status, body, _, err := c.send("POST", "/v1/todos", imported, "Content-Type", "application/x-ndjson")
		if err != nil || status != http.StatusCreated {
			t.Errorf("the import beside them: %d %.200s %v", status, body, err)
		}
		t.Logf("the import of %d MB beside them: %d %s", len(imported)>>20, status, bytes.TrimSpace(body))
	})
	time.Sleep(200 * time.Millisecond) // until it has its place in the budget
	body := `{"title":"big","notes":"` + strings.Repeat("x", maxBodyBytes-40) + `"}`
	for range 300 {
		conn := dial()
		wg.Go(func() {
			io.WriteString(conn, fmt.Sprintf("POST /v1/todos HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
		})
	}
	wg.Wait()
	time.Sleep(3 * time.Second) // the pages are built a few at a time: until all are
	if status, body, _, err := c.send("GET", "/readyz", ""); err != nil || status != http.StatusOK {
		t.Errorf("/readyz beside them: %d %s %v", status, body, err)
	}
	hwm := vmHWM(t, c.cmd.Process.Pid)
	t.Logf("peak resident memory: %d MiB", hwm>>20)
	if hwm >= 256<<20 {
		t.Errorf("peak resident memory %d MiB, want under 256", hwm>>20)
	}
}

// TestExportCutMidway: when an export's query works past the store's
// timeout without a row after lines were sent, the response is cut off
// without its final chunk, so that the client sees it is incomplete.
func TestExportCutMidway(t *testing.T) {
	ts := newTestServer(t, config{})
	seedTodosWithNotes(t, ts.store, 30, "match "+strings.Repeat("m", maxNotesLen-6)) // 300 KB that match: a batch, sent
	seedTodosWithNotes(t, ts.store, 2000, strings.Repeat("n", maxNotesLen))          // then 20 MB to search in vain
	ts.store.Timeout = 2 * time.Millisecond
	req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL+"/v1/todos?q=match", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || err == nil {
		t.Fatalf("status %d, %d bytes, read error %v: want 200 and a stream cut off", resp.StatusCode, len(body), err)
	}
	if lines := strings.Count(string(body), "\n"); lines < 20 {
		t.Errorf("%d lines before the cut, want the first batch", lines)
	}
}
