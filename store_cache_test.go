package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestReadsSeeAcknowledgedWrites races reads of one todo against writes to it:
// a read that starts after a write was answered sees that write or a later
// one, never an older one left in the read cache.
func TestReadsSeeAcknowledgedWrites(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"hot"}`)
	version := func(r result) int {
		v, err := strconv.Atoi(strings.Trim(r.header.Get("ETag"), `"`))
		if err != nil {
			t.Errorf("ETag %q", r.header.Get("ETag"))
		}
		return v
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				written := ts.do(t, "PATCH", "/v1/todos/1", fmt.Sprintf(`{"order":%d}`, w*100+i+1)).want(t, http.StatusOK)
				if read := ts.do(t, "GET", "/v1/todos/1", ""); version(read) < version(written) {
					t.Errorf("read version %d after write %d was answered", version(read), version(written))
				}
			}
		})
		wg.Go(func() { // readers that keep filling the cache
			for range 50 {
				ts.do(t, "GET", "/v1/todos/1", "").want(t, http.StatusOK)
			}
		})
	}
	wg.Wait()
	ts.do(t, "DELETE", "/v1/todos/1", "").want(t, http.StatusNoContent)
	ts.do(t, "GET", "/v1/todos/1", "").problem(t, http.StatusNotFound)
}

func TestCacheRefusesAStaleRead(t *testing.T) {
	c := todoCache{todos: map[int64]RenderedTodo{}}
	_, ok, gen := c.get(1)
	if ok {
		t.Fatal("hit in an empty cache")
	}
	c.forget(1) // a write committed while the read was under way
	c.put(RenderedTodo{ID: 1, Version: 1}, gen)
	if _, ok, _ := c.get(1); ok {
		t.Error("a read that raced a write was kept")
	}
	_, _, gen = c.get(1)
	c.put(RenderedTodo{ID: 1, Version: 2}, gen)
	if got, ok, _ := c.get(1); !ok || got.Version != 2 {
		t.Errorf("got %+v, %t", got, ok)
	}
	c.forgetAll()
	if _, ok, _ := c.get(1); ok {
		t.Error("forgetAll kept a todo")
	}
}

// TestCacheBoundInBytes: the cache holds at most maxCacheBytes, counted
// exactly, however large its todos; it used to hold 10,000 of any size
// (0.6 GB of large todos).
func TestCacheBoundInBytes(t *testing.T) {
	c := todoCache{todos: map[int64]RenderedTodo{}}
	large := make([]byte, 100<<10)
	for id := range int64(1000) { // 100 MB offered
		_, _, gen := c.get(id)
		c.put(RenderedTodo{ID: id, Version: 1, Members: large}, gen)
	}
	sum := 0
	for _, td := range c.todos {
		sum += cacheCost(td)
	}
	if sum != c.bytes || c.bytes > maxCacheBytes || c.bytes < maxCacheBytes-cacheCost(RenderedTodo{Members: large}) {
		t.Errorf("the cache holds %d todos, %d bytes, and counts %d: want at most %d, and nearly full", len(c.todos), sum, c.bytes, maxCacheBytes)
	}
	_, _, gen := c.get(5000) // the same todo again replaces itself, and costs once
	c.put(RenderedTodo{ID: 5000, Members: []byte("x")}, gen)
	c.put(RenderedTodo{ID: 5000, Members: []byte("yy")}, gen)
	c.forget(5000)
	sum = 0
	for _, td := range c.todos {
		sum += cacheCost(td)
	}
	if sum != c.bytes {
		t.Errorf("counted %d, holds %d", c.bytes, sum)
	}
	// Larger than the whole cache: not kept. (An id not offered before: of
	// the ones above, a third are still kept, at random.)
	c.put(RenderedTodo{ID: 9999, Members: make([]byte, maxCacheBytes)}, c.gen)
	if _, ok, _ := c.get(9999); ok {
		t.Error("a todo larger than the cache was kept")
	}
	c.forgetAll()
	if c.bytes != 0 || len(c.todos) != 0 {
		t.Errorf("after forgetAll: %d bytes, %d todos", c.bytes, len(c.todos))
	}
}
