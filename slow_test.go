package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowHeaders opens hundreds of connections that trickle a header a byte
// at a time: a normal client is still answered within a second, and the
// server drops the tricklers at its read-header timeout.
func TestSlowHeaders(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"a"}`)
	addr := strings.TrimPrefix(ts.URL, "http://")
	const tricklers = 200
	dropped := make(chan time.Duration, tricklers)
	var wg sync.WaitGroup
	start := time.Now()
	for range tricklers {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		wg.Go(func() {
			header := "GET /v1/todos/1 HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("s", 100)
			for i := range len(header) {
				if _, err := conn.Write([]byte{header[i]}); err != nil {
					dropped <- time.Since(start) // the server closed it
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
		})
	}
	slowest := time.Duration(0)
	for range 10 {
		begin := time.Now()
		ts.do(t, "GET", "/v1/todos/1", "").want(t, http.StatusOK)
		slowest = max(slowest, time.Since(begin))
		time.Sleep(100 * time.Millisecond)
	}
	if slowest > time.Second {
		t.Errorf("a normal request took %v beside the tricklers", slowest)
	}
	wg.Wait()
	close(dropped)
	n, last := 0, time.Duration(0)
	for d := range dropped {
		n, last = n+1, max(last, d)
	}
	if n != tricklers || last > readHeaderTimeout+5*time.Second {
		t.Errorf("%d of %d tricklers dropped, the last after %v", n, tricklers, last)
	}
	t.Logf("slowest normal request %v beside %d tricklers; all dropped by %v", slowest, tricklers, last.Round(time.Millisecond))
}

// TestSlowExport reads an export slowly: while it keeps reading it gets all of
// it, even past the server's write timeout; when it stops, it is cut off.
func TestSlowExport(t *testing.T) {
	defer func(d time.Duration) { pieceWriteTimeout = d }(pieceWriteTimeout)
	pieceWriteTimeout = time.Second
	store := mustOpenStore(t, filepath.Join(t.TempDir(), "slow.db"))
	const rows = 60_000 // ~18 MB: more than the socket buffers hold
	seedTodos(t, store, rows)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := newServer(logger, store, config{})
	srv := httptest.NewUnstartedServer(h)
	srv.Config = newHTTPServer(h, logger)
	srv.Config.WriteTimeout = time.Second // shorter than the slow export
	srv.Start()
	t.Cleanup(srv.Close)

	export := func() *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/v1/todos", nil)
		req.Header.Set("Accept", "application/x-ndjson")
		// Uncompressed: compressed, these 18 MB of alike lines would fit
		// in the socket buffers, and nothing would wait on the reader.
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	// A slow reader that keeps reading.
	start := time.Now()
	resp := export()
	r := bufio.NewReaderSize(resp.Body, 1<<20)
	lines := 0
	for {
		line, err := r.ReadSlice('\n')
		if err == io.EOF && len(line) == 0 {
			break
		}
		if err != nil {
			t.Fatalf("after %d lines and %v: %v", lines, time.Since(start), err)
		}
		if lines++; lines%5000 == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	resp.Body.Close()
	took := time.Since(start)
	if lines != rows || took < srv.Config.WriteTimeout {
		t.Errorf("%d of %d lines in %v: want all, over more than the write timeout", lines, rows, took)
	}

	// A reader that stops: the export is cut off, without its end.
	resp = export()
	defer resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * pieceWriteTimeout)
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil {
		t.Errorf("a reader that stopped for %v still got the whole export (%d more bytes)", 3*pieceWriteTimeout, n)
	}
	t.Logf("slow reader: %d lines in %v; stopped reader cut off after %d more bytes (%v)", lines, took.Round(time.Millisecond), n, err)
}
