package main

// The read cache: the JSON of the todos read lately, kept consistent with
// the writes.

import "sync"

const (
	maxCacheBytes = 32 << 20 // the read cache's size at most, counted as below
	// cacheEntryBytes is what an entry costs beside its JSON: the map's slot,
	// the RenderedTodo and the slice's header, rounded up.
	cacheEntryBytes = 128
)

// The cache keeps the JSON of the todos read lately, so that reading a todo
// again costs no query. A write forgets the todo it touched once committed
// (before it is answered); a read keeps what it found only if nothing was
// forgotten since it began, so that a read that raced a write cannot leave
// the old todo behind.
type todoCache struct {
	mu    sync.RWMutex
	todos map[int64]RenderedTodo
	bytes int    // what the entries cost, by cacheCost: at most maxCacheBytes
	gen   uint64 // counts the forgets
}

func cacheCost(t RenderedTodo) int { return cacheEntryBytes + len(t.Members) }

func (c *todoCache) get(id int64) (t RenderedTodo, ok bool, gen uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok = c.todos[id]
	return t, ok, c.gen
}

// put keeps t, unless a write forgot something since the read of t began
// (gen), evicting todos at random while it would pass maxCacheBytes.
func (c *todoCache) put(t RenderedTodo, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cost := cacheCost(t)
	if gen != c.gen || cost > maxCacheBytes {
		return
	}
	c.remove(t.ID)
	for id, old := range c.todos { // the map's order is random: evict at random
		if c.bytes+cost <= maxCacheBytes {
			break
		}
		delete(c.todos, id)
		c.bytes -= cacheCost(old)
	}
	c.todos[t.ID] = t
	c.bytes += cost
}

// remove drops the todo with id, if kept; c.mu is held.
func (c *todoCache) remove(id int64) {
	if old, ok := c.todos[id]; ok {
		delete(c.todos, id)
		c.bytes -= cacheCost(old)
	}
}

func (c *todoCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(id)
	c.gen++
}

func (c *todoCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.todos)
	c.bytes = 0
	c.gen++
}
