package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
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
