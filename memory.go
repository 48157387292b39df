package main

// The memory that requests may hold: a request's body and a page of todos
// take their bytes from one budget before they are read or built, and give
// them back once answered. However many clients send large bodies or ask for
// large pages, and however slowly they read, what the service holds for them
// stays bounded; past the budget a request waits a moment, then gets 503.
// Nothing here knows of routes or SQL.

import (
	"context"
	"net/http"
	"sync"
	"time"
)

const (
	memoryBudget = 64 << 20  // bytes of bodies and pages held at once
	memoryLimit  = 128 << 20 // the runtime's soft limit: past it, the garbage is collected sooner
	maxPageBytes = 1 << 20   // a page ends early, with its next link, once it holds this much
	// maxTodoBytes bounds a todo's JSON: 500 and 10,000 characters of up to
	// four bytes each, and the rest.
	maxTodoBytes = 48 << 10
	memoryWait   = 100 * time.Millisecond
)

var errNoMemory = &Error{Code: EUNAVAILABLE, Message: "the service holds as much for other requests as it may; retry in a moment"}

// byteBudget is a count of bytes that requests take and give back.
type byteBudget struct {
	mu      sync.Mutex
	free    int64
	waiting int
	freed   chan struct{} // closed when bytes are given back to a waiter
}

func newByteBudget(n int64) *byteBudget { return &byteBudget{free: n, freed: make(chan struct{})} }

// take takes n bytes, waiting at most memoryWait for them.
func (b *byteBudget) take(ctx context.Context, n int64) error {
	var wait *time.Timer
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return nil
		}
		b.waiting++
		freed := b.freed
		b.mu.Unlock()
		if wait == nil {
			wait = time.NewTimer(memoryWait)
			defer wait.Stop()
		}
		var err error
		select {
		case <-freed:
		case <-wait.C:
			err = errNoMemory
		case <-ctx.Done():
			err = errNoMemory
		}
		b.mu.Lock()
		b.waiting--
		b.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// tryTake takes n bytes if they are free now, and reports whether it did.
func (b *byteBudget) tryTake(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.free < n {
		return false
	}
	b.free -= n
	return true
}

// give gives n bytes back, and wakes the requests waiting for some.
func (b *byteBudget) give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free += n
	if b.waiting > 0 {
		close(b.freed)
		b.freed = make(chan struct{})
	}
}

// budgetBodies takes from the budget what a request's body may hold, before
// any of it is read, and gives it back when the request is answered.
func (s *server) budgetBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 0 || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		n := int64(2 * maxBodyBytes) // of unknown length: its buffer grows, by doubling
		if r.ContentLength > 0 && r.ContentLength <= maxBodyBytes {
			n = r.ContentLength + bodyReadSlack
		}
		if err := s.memory.take(r.Context(), n); err != nil {
			writeError(w, r, err)
			return
		}
		defer s.memory.give(n)
		next.ServeHTTP(w, r)
	})
}
