package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// getRaw sends GET path with headers, through a client that leaves the body
// as it came (Go's own asks for gzip and decompresses unseen).
func (ts *testServer) getRaw(t *testing.T, path string, headers ...string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func gunzip(t *testing.T, b []byte) ([]byte, error) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	return io.ReadAll(zr)
}

// TestCompression: a page and an export are gzip-compressed for a client
// that asks, and are then exactly what a client that does not ask gets;
// a small page, or a client that refuses gzip, gets the body as it is.
func TestCompression(t *testing.T) {
	ts := newTestServer(t, config{})
	seedTodos(t, ts.store, 3000)
	for path, accept := range map[string]string{"/v1/todos?limit=1000&sort=-due": "application/json", "/v1/todos?sort=order": "application/x-ndjson"} {
		resp, plain, err := ts.getRaw(t, path, "Accept", accept)
		if err != nil || resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("%s %s without gzip: %v, Content-Encoding %q", path, accept, err, resp.Header.Get("Content-Encoding"))
		}
		resp, packed, err := ts.getRaw(t, path, "Accept", accept, "Accept-Encoding", "br;q=1, gzip;q=0.8")
		if err != nil || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Length") != "" ||
			!strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("%s %s with gzip: %v, headers %v", path, accept, err, resp.Header)
		}
		body, err := gunzip(t, packed)
		if err != nil || !bytes.Equal(body, plain) || resp.Header.Get("Link") == "" && accept == "application/json" {
			t.Errorf("%s %s: %d bytes compressed give %d (%v), want the %d sent uncompressed", path, accept, len(packed), len(body), err, len(plain))
		}
		t.Logf("%s %s: %d bytes, %d compressed", path, accept, len(plain), len(packed))
	}
	for _, encoding := range []string{"gzip;q=0", "identity", "deflate, br", "gzip;q=0, *"} {
		if resp, _, _ := ts.getRaw(t, "/v1/todos?limit=100", "Accept-Encoding", encoding); resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", encoding, resp.Header.Get("Content-Encoding"))
		}
	}
	if resp, _, _ := ts.getRaw(t, "/v1/todos?limit=1", "Accept-Encoding", "gzip"); resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Content-Length") == "" {
		t.Errorf("a page of one todo: headers %v, want it sent as it is", resp.Header)
	}
}

// TestCompressionWithoutRoom: when the memory budget has no room for a
// compressor, the answer goes out uncompressed at once, not a 503.
func TestCompressionWithoutRoom(t *testing.T) {
	ts := newTestServer(t, config{})
	seedTodos(t, ts.store, 100)
	h := ts.Config.Handler.(*server)
	// Room for the page alone: what it gives back once built is less than a compressor.
	if !h.memory.tryTake(memoryBudget - pageCost) {
		t.Fatal("the budget is not free")
	}
	defer h.memory.give(memoryBudget - pageCost)
	resp, body, err := ts.getRaw(t, "/v1/todos", "Accept-Encoding", "gzip")
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "" || !bytes.HasPrefix(body, []byte("[{")) {
		t.Errorf("status %d, headers %v, %v", resp.StatusCode, resp.Header, err)
	}
}

// TestCompressedExportCutMidway: a compressed export cut off midway ends
// without the gzip trailer too: what came decompresses, then reads as
// unexpectedly ended.
func TestCompressedExportCutMidway(t *testing.T) {
	ts := newTestServer(t, config{})
	seedTodosWithNotes(t, ts.store, 30, "match "+strings.Repeat("m", maxNotesLen-6))
	seedTodosWithNotes(t, ts.store, 2000, strings.Repeat("n", maxNotesLen))
	ts.store.Timeout = 2 * time.Millisecond
	resp, packed, err := ts.getRaw(t, "/v1/todos?q=match", "Accept", "application/x-ndjson", "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusOK || err == nil || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d, %v, headers %v: want 200, gzip, cut off", resp.StatusCode, err, resp.Header)
	}
	body, err := gunzip(t, packed)
	if !errors.Is(err, io.ErrUnexpectedEOF) || strings.Count(string(body), "\n") < 20 {
		t.Errorf("%d lines, then %v: want the first batch, then an unexpected end", strings.Count(string(body), "\n"), err)
	}
}
