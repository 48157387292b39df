package main

// The read cache: the JSON of the todos read lately, kept consistent with
// the writes.

import "sync"

const maxCached = 10_000 // todos in the read cache at most

// The cache keeps the JSON of the todos read lately, so that reading a todo
// again costs no query. A write forgets the todo it touched once committed
// (before it is answered); a read keeps what it found only if nothing was
// forgotten since it began, so that a read that raced a write cannot leave
// the old todo behind.
type todoCache struct {
	mu    sync.RWMutex
	todos map[int64]RenderedTodo
	gen   uint64 // counts the forgets
}

func (c *todoCache) get(id int64) (t RenderedTodo, ok bool, gen uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok = c.todos[id]
	return t, ok, c.gen
}

func (c *todoCache) put(t RenderedTodo, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.todos) >= maxCached {
		for id := range c.todos { // the map's order is random: evict one at random
			delete(c.todos, id)
			break
		}
	}
	c.todos[t.ID] = t
}

func (c *todoCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.todos, id)
	c.gen++
}

func (c *todoCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.todos)
	c.gen++
}
