package main

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestConnectionCap: with the cap taken by idle keep-alive clients, a new
// client is answered 503 at once and its connection closed, where it used to
// get no answer at all until an idle one timed out; once a place is free, a
// new client is served.
func TestConnectionCap(t *testing.T) {
	store := mustOpenStore(t, t.TempDir()+"/cap.db")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(tcp, 3)
	srv := newHTTPServer(newServer(logger, store, config{}), logger)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := tcp.Addr().String()

	get := func(conn net.Conn) *http.Response {
		t.Helper()
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer within 2 s: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	var idle []net.Conn
	for range 3 { // kept alive, then idle: they hold every place
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if resp := get(conn); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		idle = append(idle, conn)
	}

	start := time.Now()
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	over.SetDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(over), nil)
	if err != nil {
		t.Fatalf("past the cap, no answer: %v", err)
	}
	var p problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != 503 || p.Status != 503 ||
		resp.Header.Get("Retry-After") == "" || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("past the cap: %d %v %+v (%v)", resp.StatusCode, resp.Header, p, err)
	}
	if _, err := over.Read(make([]byte, 1)); err != io.EOF || time.Since(start) > time.Second {
		t.Errorf("the connection past the cap: %v after %v, want it closed at once", err, time.Since(start))
	}

	idle[0].Close()
	for deadline := time.Now().Add(2 * time.Second); ln.open.Load() >= 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a closed connection kept its place")
		}
	}
	again, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if resp := get(again); resp.StatusCode != http.StatusOK {
		t.Errorf("with a place free: %d", resp.StatusCode)
	}
}

// TestConnLimit: the cap follows the open-file limit, keeping descriptors
// for the database, and is never more than maxConns; an idle connection
// gives its place up after 30 seconds.
func TestConnLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) })
	if lim.Max < 1024 {
		t.Skipf("the hard open-file limit is %d, below the 1,024 this test sets", lim.Max)
	}
	for soft, want := range map[uint64]int{1024: 1024 - fdReserve, 100: 36, 20: 16} {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: soft, Max: lim.Max}); err != nil {
			t.Fatal(err)
		}
		if got := connLimit(); got != want {
			t.Errorf("open-file limit %d: cap %d, want %d", soft, got, want)
		}
	}
	if lim.Max >= maxConns+fdReserve+1 {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: lim.Max, Max: lim.Max}); err != nil {
			t.Fatal(err)
		}
		if got := connLimit(); got != maxConns {
			t.Errorf("open-file limit %d: cap %d, want %d", lim.Max, got, maxConns)
		}
	}
	if got := newHTTPServer(http.NotFoundHandler(), slog.Default()).IdleTimeout; got != 30*time.Second {
		t.Errorf("IdleTimeout %v, want 30s", got)
	}
}
