package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// replica is a client's copy of what one account can read, and its token.
type replica struct {
	name  string
	token string // the sync token, "" before the first sync
	lists map[float64]map[string]any
	todos map[float64]map[string]any
	pulls int // changes applied
}

// changeJSON is a change of the feed, or of an event, as a client reads it.
type changeJSON struct {
	Seq    int64          `json:"seq"`
	Kind   string         `json:"kind"`
	Op     string         `json:"op"`
	ID     float64        `json:"id"`
	ListID float64        `json:"list_id"`
	Todo   map[string]any `json:"todo"`
	List   map[string]any `json:"list"`
}

// key is where the change stands in the feed: number, then deletes, lists
// and todos, then id.
func (ch changeJSON) key() ChangeCursor {
	switch {
	case ch.Op == "delete":
		return ChangeCursor{Seq: ch.Seq, Order: 0, ID: int64(ch.ID)}
	case ch.Kind == "list":
		return ChangeCursor{Seq: ch.Seq, Order: 1, ID: int64(ch.List["id"].(float64))}
	}
	return ChangeCursor{Seq: ch.Seq, Order: 2, ID: int64(ch.Todo["id"].(float64))}
}

// apply applies one change to the copy.
func (c *replica) apply(ch changeJSON) {
	c.pulls++
	switch {
	case ch.Kind == "todo" && ch.Op == "put":
		c.todos[ch.Todo["id"].(float64)] = ch.Todo
	case ch.Kind == "todo":
		delete(c.todos, ch.ID)
	case ch.Op == "put":
		c.lists[ch.List["id"].(float64)] = ch.List
	default:
		delete(c.lists, ch.ID)
		for id, td := range c.todos {
			if td["list_id"].(float64) == ch.ID {
				delete(c.todos, id)
			}
		}
	}
}

// sync applies every page of GET /v1/changes since its token to the copy.
func (c *replica) sync(t *testing.T, w *world) {
	t.Helper()
	if c.token == "" {
		c.lists, c.todos = map[float64]map[string]any{}, map[float64]map[string]any{}
	}
	for {
		var page struct {
			Changes []changeJSON
			Next    string `json:"next"`
			More    bool   `json:"more"`
		}
		w.as(c.name, "GET", "/v1/changes?limit=7&since="+url.QueryEscape(c.token), "").want(t, http.StatusOK).decodeJSON(t, &page)
		for _, ch := range page.Changes {
			c.apply(ch)
		}
		c.token = page.Next
		if !page.More {
			return
		}
	}
}

// truth is what the account reads now: GET /v1/lists and every page of GET /v1/todos.
func truth(t *testing.T, w *world, name string) (lists, todos map[float64]map[string]any) {
	t.Helper()
	lists, todos = map[float64]map[string]any{}, map[float64]map[string]any{}
	var ls []map[string]any
	w.as(name, "GET", "/v1/lists", "").want(t, http.StatusOK).decodeJSON(t, &ls)
	for _, l := range ls {
		lists[l["id"].(float64)] = l
	}
	for path := "/v1/todos?limit=50"; path != ""; {
		r := w.as(name, "GET", path, "").want(t, http.StatusOK)
		var page []map[string]any
		r.decodeJSON(t, &page)
		for _, td := range page {
			todos[td["id"].(float64)] = td
		}
		path = ""
		if link := r.header.Get("Link"); link != "" {
			next := strings.TrimPrefix(strings.Split(link, ">")[0], "<"+w.ts.URL)
			path = next
		}
	}
	return lists, todos
}

// TestSyncInvariant drives several accounts through hundreds of random
// operations (creates, patches, moves, deletes one and in bulk, lists made,
// renamed and deleted, sharing begun, changed and ended) and, at random
// moments, has a client apply GET /v1/changes since its token to its copy:
// the copy must then be exactly what GET /v1/lists and GET /v1/todos return.
func TestSyncInvariant(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 9))
			w := newWorld(t)
			names := []string{"olga", "ed", "vi", "stan"}
			replicas := map[string]*replica{}
			for _, n := range names {
				replicas[n] = &replica{name: n}
			}
			checks := 0
			for op := range 400 {
				actor := names[rng.IntN(len(names))]
				randomOperation(t, w, rng, actor, names)
				if rng.IntN(8) == 0 || op == 399 {
					c := replicas[names[rng.IntN(len(names))]]
					if rng.IntN(10) == 0 {
						c.token = "" // a client that starts over
					}
					c.sync(t, w)
					lists, todos := truth(t, w, c.name)
					if !reflect.DeepEqual(lists, c.lists) || !reflect.DeepEqual(todos, c.todos) {
						t.Fatalf("after operation %d, %s's copy differs from what it reads:\ncopy lists %v\nread lists %v\ncopy todos %d: %v\nread todos %d: %v",
							op, c.name, c.lists, lists, len(c.todos), c.todos, len(todos), todos)
					}
					checks++
				}
			}
			pulls := 0
			for _, c := range replicas {
				pulls += c.pulls
			}
			t.Logf("%d checks, %d changes applied", checks, pulls)

			// The change log pruned (as a short -change-retention would):
			// a client whose token is older gets 410, starts over, and
			// holds what it reads again.
			randomOperation(t, w, rng, "olga", names)
			w.as("olga", "DELETE", "/v1/todos", "")
			if err := w.ts.store.Prune(t.Context(), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			for _, c := range replicas {
				if c.token == "" {
					continue
				}
				r := w.as(c.name, "GET", "/v1/changes?since="+url.QueryEscape(c.token), "")
				if r.status == http.StatusGone {
					c.token = ""
				}
				c.sync(t, w)
				if lists, todos := truth(t, w, c.name); !reflect.DeepEqual(lists, c.lists) || !reflect.DeepEqual(todos, c.todos) {
					t.Errorf("after the pruning, %s's copy differs from what it reads", c.name)
				}
			}
		})
	}
}

// randomOperation has actor do something to what it can see, allowed or
// not (a refused write must change nothing).
func randomOperation(t *testing.T, w *world, rng *rand.Rand, actor string, names []string) {
	t.Helper()
	var lists []listJSON
	w.as(actor, "GET", "/v1/lists", "").want(t, http.StatusOK).decodeJSON(t, &lists)
	todos := w.as(actor, "GET", "/v1/todos?limit=1000", "").want(t, http.StatusOK).todos(t)
	list := lists[rng.IntN(len(lists))]
	todoPath := func() string {
		if len(todos) == 0 {
			return "/v1/todos/999999"
		}
		return fmt.Sprintf("/v1/todos/%d", todos[rng.IntN(len(todos))].ID)
	}
	other := names[rng.IntN(len(names))]
	switch rng.IntN(12) {
	case 0, 1, 2:
		w.as(actor, "POST", "/v1/todos", fmt.Sprintf(`{"title":"t%d","list_id":%d}`, rng.IntN(1000), list.ID))
	case 3, 4:
		w.as(actor, "PATCH", todoPath(), fmt.Sprintf(`{"completed":%t,"order":%d}`, rng.IntN(2) == 0, rng.IntN(5)))
	case 5:
		w.as(actor, "PATCH", todoPath(), fmt.Sprintf(`{"list_id":%d}`, list.ID)) // a move
	case 6:
		w.as(actor, "DELETE", todoPath(), "")
	case 7:
		if len(lists) < 6 {
			w.as(actor, "POST", "/v1/lists", fmt.Sprintf(`{"title":"l%d"}`, rng.IntN(1000)))
		}
	case 8:
		w.as(actor, "PATCH", fmt.Sprintf("/v1/lists/%d", list.ID), fmt.Sprintf(`{"title":"r%d"}`, rng.IntN(1000)))
	case 9:
		if rng.IntN(3) == 0 {
			w.as(actor, "DELETE", fmt.Sprintf("/v1/lists/%d", list.ID), "")
		} else {
			w.as(actor, "DELETE", fmt.Sprintf("/v1/lists/%d/members/%s", list.ID, other), "")
		}
	case 10:
		role := []string{"editor", "viewer"}[rng.IntN(2)]
		w.as(actor, "PUT", fmt.Sprintf("/v1/lists/%d/members/%s", list.ID, other), `{"role":"`+role+`"}`)
	case 11:
		if rng.IntN(2) == 0 {
			w.as(actor, "DELETE", "/v1/todos?completed=true", "")
		} else {
			w.as(actor, "DELETE", fmt.Sprintf("/v1/todos?list_id=%d&completed=true", list.ID), "")
		}
	}
}

// TestSyncExpired: a token from before the newest pruned tombstone is a 410
// whose type ends in /sync-expired; a full sync still works, and so does a
// token from after it.
func TestSyncExpired(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"before the token"}`)
	old := ts.do(t, "GET", "/v1/changes", "").want(t, http.StatusOK)
	var first struct{ Next string }
	old.decodeJSON(t, &first)
	td := ts.create(t, `{"title":"x"}`)
	ts.do(t, "DELETE", fmt.Sprintf("/v1/todos/%d", td.ID), "").want(t, http.StatusNoContent)
	if err := ts.store.Prune(t.Context(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	p := ts.do(t, "GET", "/v1/changes?since="+first.Next, "").problem(t, http.StatusGone)
	if !strings.HasSuffix(p.Type, "/sync-expired") {
		t.Errorf("type %q", p.Type)
	}
	var full struct{ Next string }
	ts.do(t, "GET", "/v1/changes", "").want(t, http.StatusOK).decodeJSON(t, &full)
	ts.do(t, "GET", "/v1/changes?since="+full.Next, "").want(t, http.StatusOK)
	for _, q := range []string{"since=abc", "since=-1", "since=1.5.1", "since=f.1", "limit=0", "limit=5001", "other=1", "since=1&since=2"} {
		ts.do(t, "GET", "/v1/changes?"+q, "").problem(t, http.StatusBadRequest)
	}
}

// TestPruneChanges: the service prunes the change log at start (and then
// every minute): with a retention of a millisecond, a token from before a
// deletion soon gets 410.
func TestPruneChanges(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"x"}`)
	var before struct{ Next string }
	ts.do(t, "GET", "/v1/changes", "").want(t, http.StatusOK).decodeJSON(t, &before)
	ts.do(t, "DELETE", "/v1/todos/1", "").want(t, http.StatusNoContent)
	time.Sleep(2 * time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { pruneChanges(ctx, ts.store, time.Millisecond, slog.New(slog.DiscardHandler)); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for ts.do(t, "GET", "/v1/changes?since="+before.Next, "").status != http.StatusGone {
		if time.Now().After(deadline) {
			t.Fatal("the change log was not pruned at start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestChangeLogCost: the change log adds to a write at most one insert (a
// tombstone, for a delete or a move), and to a batch one update (the
// sequence), counted by SQLite's total_changes on the writer's connection.
func TestChangeLogCost(t *testing.T) {
	ts := newTestServer(t, config{})
	changes := func() int64 {
		var n int64
		if err := ts.store.writeDB.QueryRowContext(t.Context(), "SELECT total_changes()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var list listJSON
	ts.do(t, "POST", "/v1/lists", `{"title":"other"}`).want(t, http.StatusCreated).decodeJSON(t, &list)
	for _, w := range []struct {
		name                 string
		method, path, body   string
		status               int
		rows, withoutChanges int64
	}{
		{"create", "POST", "/v1/todos", `{"title":"a"}`, http.StatusCreated, 2, 1},
		{"patch", "PATCH", "/v1/todos/1", `{"completed":true}`, http.StatusOK, 2, 1},
		{"move", "PATCH", "/v1/todos/1", fmt.Sprintf(`{"list_id":%d}`, list.ID), http.StatusOK, 3, 1},
		{"delete", "DELETE", "/v1/todos/1", "", http.StatusNoContent, 3, 1},
	} {
		before := changes()
		ts.do(t, w.method, w.path, w.body).want(t, w.status)
		if got := changes() - before; got != w.rows {
			t.Errorf("a %s changed %d rows, want %d: %d of its own, the change log's insert, the sequence", w.name, got, w.rows, w.withoutChanges)
		}
	}
	// Ten creates in one batch: ten inserts, one update of the sequence.
	before := changes()
	release := holdWriter(t, ts.store)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { ts.do(t, "POST", "/v1/todos", `{"title":"b"}`).want(t, http.StatusCreated) })
	}
	waitQueued(t, ts.store, 10)
	release()
	wg.Wait()
	if got := changes() - before; got != 11 {
		t.Errorf("a batch of ten creates changed %d rows, want 11", got)
	}
}
