package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of the store and of the whole handler stack, in process, on a
// real SQLite file with synchronous=FULL. Run them with
//
//	go test -run '^$' -bench . -benchmem
//
// The harness in ../shared/bench measures the service over real HTTP.

// seededStore returns a store holding rows todos.
func seededStore(b *testing.B, rows int) *Store {
	b.Helper()
	s := mustOpenStore(b, filepath.Join(b.TempDir(), "bench.db"))
	seedTodos(b, s, rows)
	return s
}

func BenchmarkStoreCreate(b *testing.B) {
	s := seededStore(b, 0)
	t := Todo{Title: "benchmark todo"}
	for b.Loop() {
		if _, _, err := s.CreateTodo(b.Context(), BuiltinUser, t, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreCreateParallel(b *testing.B) {
	s := seededStore(b, 0)
	t := Todo{Title: "benchmark todo"}
	b.SetParallelism(32) // many requests at once, as under load
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.CreateTodo(b.Context(), BuiltinUser, t, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStoreFind is a point read of a todo read before: the cache.
func BenchmarkStoreFind(b *testing.B) {
	s := seededStore(b, 10_000)
	for b.Loop() {
		if _, err := s.FindTodo(b.Context(), BuiltinUser, 5); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreFindUncached is a point read that misses the cache: SQLite.
func BenchmarkStoreFindUncached(b *testing.B) {
	s := seededStore(b, 10_000)
	for b.Loop() {
		s.cache.forgetAll()
		if _, err := s.FindTodo(b.Context(), BuiltinUser, 5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStorePage(b *testing.B) {
	s := seededStore(b, 10_000)
	f := Filter{Sort: SortByDue, Limit: 100, After: &Position{Value: 0, ID: 5}}
	for b.Loop() {
		n := 0
		if err := s.ListTodos(b.Context(), BuiltinUser, f, func(RenderedTodo, Position) error { n++; return nil }); err != nil || n != 100 {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkStoreExport(b *testing.B) {
	const rows = 10_000
	s := seededStore(b, rows)
	for b.Loop() {
		n := 0
		if err := s.ListTodos(b.Context(), BuiltinUser, Filter{Sort: SortByID}, func(RenderedTodo, Position) error { n++; return nil }); err != nil || n != rows {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// handlerBench serves requests straight into the handler stack, with the
// request log written as in production (text, info level), to io.Discard.
func handlerBench(b *testing.B, rows int) http.Handler {
	b.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	return newServer(logger, seededStore(b, rows), config{})
}

func serve(b *testing.B, h http.Handler, method, target, body string, wantStatus int, header ...string) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	req.Host = "localhost" // not example.com, which the open mode refuses
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != wantStatus {
		b.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
	}
}

func BenchmarkHandlerGet(b *testing.B) {
	h := handlerBench(b, 10_000)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serve(b, h, "GET", "/v1/todos/5", "", http.StatusOK)
		}
	})
}

func BenchmarkHandlerCreate(b *testing.B) {
	h := handlerBench(b, 0)
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serve(b, h, "POST", "/v1/todos", `{"title":"a benchmark todo"}`, http.StatusCreated)
		}
	})
}

func BenchmarkHandlerPage(b *testing.B) {
	h := handlerBench(b, 10_000)
	for b.Loop() {
		serve(b, h, "GET", "/v1/todos?limit=100&sort=-due", "", http.StatusOK)
	}
}

func BenchmarkHandlerExport(b *testing.B) {
	const rows = 10_000
	h := handlerBench(b, rows)
	for b.Loop() {
		serve(b, h, "GET", "/v1/todos", "", http.StatusOK, "Accept", "application/x-ndjson")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// BenchmarkHandlerPatch is a PATCH that changes a todo each time, by many
// clients at once, as under load: the write path with its transaction work.
func BenchmarkHandlerPatch(b *testing.B) {
	h := handlerBench(b, 10_000)
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			serve(b, h, "PATCH", fmt.Sprintf("/v1/todos/%d", 1+i%1000), fmt.Sprintf(`{"order":%d}`, i), http.StatusOK)
		}
	})
}

// BenchmarkCreateWithStreams is POST /v1/todos over real HTTP from 50
// clients at once, as the harness sends it, with no event stream open and
// with 100 open, each of them receiving every create: 13 accounts follow one
// list shared with them all (an account has 8 streams at most). Issue 10
// asks that the second keep 0.8× the first's creates/s.
func BenchmarkCreateWithStreams(b *testing.B) {
	for _, streams := range []int{0, 100} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) { benchCreateWithStreams(b, streams) })
	}
}

func benchCreateWithStreams(b *testing.B, streams int) {
	ctx := b.Context()
	store := mustOpenStore(b, filepath.Join(b.TempDir(), "bench.db"))
	ownerToken, list, readers := sharedList(b, store, (streams+maxStreamsPerUser-1)/maxStreamsPerUser)
	srv := httptest.NewServer(newServer(slog.New(slog.NewTextHandler(io.Discard, nil)), store, config{}))
	defer srv.Close()

	// Each stream counts the blocks it gets (each ends with a blank line):
	// retry, then one an event.
	blocks := make([]atomic.Int64, streams)
	followers := &http.Client{Transport: &http.Transport{ReadBufferSize: 64 << 10}}
	for i := range streams {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/events", nil)
		req.Header.Set("Authorization", bearer(readers[i%len(readers)]))
		resp, err := followers.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("stream %d: %v", i, err)
		}
		defer resp.Body.Close()
		go func() {
			buf, last := make([]byte, 64<<10), byte(0)
			for {
				n, err := resp.Body.Read(buf)
				if n > 0 {
					k := bytes.Count(buf[:n], []byte("\n\n"))
					if last == '\n' && buf[0] == '\n' {
						k++
					}
					blocks[i].Add(int64(k))
					last = buf[n-1]
				}
				if err != nil {
					return
				}
			}
		}()
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := fmt.Sprintf(`{"title":"a benchmark todo with a title about as long as the harness's","list_id":%d}`, list)
	b.SetParallelism(25) // 50 at once on 2 CPUs, as the harness's wrk
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/todos", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", bearer(ownerToken))
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
	end := time.Now()
	for i := range blocks {
		for blocks[i].Load() < int64(b.N)+1 {
			if time.Since(end) > 30*time.Second {
				b.Fatalf("stream %d has %d events of %d", i, blocks[i].Load()-1, b.N)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if streams > 0 {
		b.ReportMetric(time.Since(end).Seconds(), "s-behind")
	}
}

// BenchmarkMetricsObserve is what the metrics add to every request: its
// counter and its histogram, found by route, method and status.
func BenchmarkMetricsObserve(b *testing.B) {
	var m httpMetrics
	r := httptest.NewRequest("GET", "/v1/todos/5", nil)
	r.Pattern = "GET /v1/todos/{id}"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.observe(r, http.StatusOK, time.Millisecond)
		}
	})
}
