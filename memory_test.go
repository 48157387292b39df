package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestByteBudget: bytes are taken while there are enough, a taker waits a
// moment for more and then gives up, and bytes given back wake a waiter.
func TestByteBudget(t *testing.T) {
	b := newByteBudget(100)
	if err := b.take(t.Context(), 60); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.take(t.Context(), 60); err != errNoMemory || time.Since(start) < memoryWait {
		t.Fatalf("over the budget: %v after %v", err, time.Since(start))
	}
	done := make(chan error)
	go func() { done <- b.take(t.Context(), 60) }()
	time.Sleep(memoryWait / 4)
	b.give(60)
	if err := <-done; err != nil {
		t.Fatalf("a waiter was not woken by bytes given back: %v", err)
	}
	b.give(60)
	if b.free != 100 || b.waiting != 0 {
		t.Errorf("free %d, waiting %d", b.free, b.waiting)
	}
}

// TestPageByteBudget: a page of large todos ends once it holds
// maxPageBytes, with a next link, where it used to hold all the todos asked
// for (a thousand of 40 KB, 40 MB, for each client that asked); following
// the links gives every todo once.
func TestPageByteBudget(t *testing.T) {
	ts := newTestServer(t, config{})
	seedTodosWithNotes(t, ts.store, 200, strings.Repeat("日", maxNotesLen)) // 30 KB of JSON each
	next, seen, pages := "/v1/todos?limit=1000", map[int64]bool{}, 0
	for ; next != ""; pages++ {
		r := ts.do(t, "GET", next, "").want(t, http.StatusOK)
		if len(r.body) > maxPageBytes+maxTodoBytes {
			t.Fatalf("a page of %d bytes", len(r.body))
		}
		for _, td := range r.todos(t) {
			if seen[td.ID] {
				t.Fatalf("todo %d came twice", td.ID)
			}
			seen[td.ID] = true
		}
		next = ""
		if link := r.header.Get("Link"); link != "" {
			next = strings.TrimPrefix(strings.SplitN(link, ">", 2)[0], "<"+ts.URL)
		}
	}
	if len(seen) != 200 || pages < 6 {
		t.Errorf("%d todos in %d pages", len(seen), pages)
	}
}
