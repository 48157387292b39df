package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrashSafety runs the service as a process, drives concurrent creates,
// patches and deletes, kills it with SIGKILL at a random moment, restarts it
// on the same file and audits: every acknowledged write is there, every
// acknowledged delete is gone, idempotency keys still answer, and SQLite's
// integrity check passes. TODO_CRASH_KILLS sets the number of kills (5).
func TestCrashSafety(t *testing.T) {
	kills := 5
	if v := os.Getenv("TODO_CRASH_KILLS"); v != "" {
		var err error
		if kills, err = strconv.Atoi(v); err != nil {
			t.Fatalf("TODO_CRASH_KILLS=%q", v)
		}
	}
	db := filepath.Join(t.TempDir(), "crash.db")
	var all []*trackedTodo
	audited := 0
	for kill := range kills {
		child := startChild(t, db)
		audited += auditTodos(t, child, all)
		all = append(all, driveUntilKilled(t, child, kill)...)
		if err := integrityCheck(db); err != nil {
			t.Fatalf("after kill %d: %v", kill+1, err)
		}
	}
	child := startChild(t, db)
	audited += auditTodos(t, child, all)
	child.stop(t)
	t.Logf("%d kills survived; %d acknowledged todos, %d audits of them across the restarts", kills, len(all), audited)
}

// trackedTodo is what a client was told of one todo it created.
type trackedTodo struct {
	id       int64
	key      string // Idempotency-Key of its create
	body     string
	order    int64 // the last acknowledged order
	pending  int64 // the order of a patch in flight at the kill, or 0
	deleted  bool  // a delete was acknowledged
	deleting bool  // a delete was in flight at the kill
}

// driveUntilKilled runs workers against c and SIGKILLs it at a random moment;
// it returns what the workers were told.
func driveUntilKilled(t *testing.T, c *child, round int) []*trackedTodo {
	const workers = 8
	var mu sync.Mutex
	var tracked []*trackedTodo
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var mine []*trackedTodo
			defer func() {
				mu.Lock()
				tracked = append(tracked, mine...)
				mu.Unlock()
			}()
			for n := 0; ; n++ {
				live := liveTodos(mine)
				switch {
				case len(live) < 3 || rand.IntN(3) == 0:
					td := &trackedTodo{key: fmt.Sprintf("r%d-w%d-n%d", round, w, n)}
					td.body = fmt.Sprintf(`{"title":"%s","order":0}`, td.key)
					status, body, _, err := c.send("POST", "/v1/todos", td.body, "Idempotency-Key", td.key)
					if err != nil {
						return // killed: the create may or may not have happened
					}
					if status != http.StatusCreated {
						t.Errorf("create: %d %s", status, body)
						return
					}
					var got struct{ ID int64 }
					if err := json.Unmarshal(body, &got); err != nil {
						t.Error(err)
						return
					}
					td.id = got.ID
					mine = append(mine, td)
				case rand.IntN(4) > 0:
					td := live[rand.IntN(len(live))]
					td.pending = td.order + 1
					status, body, _, err := c.send("PATCH", fmt.Sprintf("/v1/todos/%d", td.id), fmt.Sprintf(`{"order":%d}`, td.pending))
					if err != nil {
						return
					}
					if status != http.StatusOK {
						t.Errorf("patch: %d %s", status, body)
						return
					}
					td.order, td.pending = td.pending, 0
				default:
					td := live[rand.IntN(len(live))]
					td.deleting = true
					status, body, _, err := c.send("DELETE", fmt.Sprintf("/v1/todos/%d", td.id), "")
					if err != nil {
						return
					}
					if status != http.StatusNoContent {
						t.Errorf("delete: %d %s", status, body)
						return
					}
					td.deleted, td.deleting = true, false
				}
			}
		})
	}
	time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
	c.cmd.Process.Kill()
	c.cmd.Wait()
	wg.Wait()
	return tracked
}

func liveTodos(todos []*trackedTodo) []*trackedTodo {
	var live []*trackedTodo
	for _, td := range todos {
		if !td.deleted && !td.deleting {
			live = append(live, td)
		}
	}
	return live
}

// auditTodos checks every tracked todo against the restarted service, and
// settles what was in flight at the kill to what the service now says.
func auditTodos(t *testing.T, c *child, todos []*trackedTodo) int {
	t.Helper()
	for _, td := range todos {
		status, body, _, err := c.send("GET", fmt.Sprintf("/v1/todos/%d", td.id), "")
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case td.deleted && status != http.StatusNotFound:
			t.Errorf("todo %d: deleted with a 204, then %d after the restart", td.id, status)
		case td.deleting && status == http.StatusNotFound:
			td.deleted, td.deleting = true, false
		case td.deleting && status == http.StatusOK:
			td.deleting = false
			fallthrough
		case !td.deleted:
			if status != http.StatusOK {
				t.Errorf("todo %d: created with a 201, then %d after the restart", td.id, status)
				continue
			}
			var got struct{ Order int64 }
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Order != td.order && (td.pending == 0 || got.Order != td.pending) {
				t.Errorf("todo %d: order %d acknowledged (%d in flight), %d after the restart", td.id, td.order, td.pending, got.Order)
			}
			td.order, td.pending = got.Order, 0
		}
		// A retry of the create, with its key, answers with the same todo.
		status, body, header, err := c.send("POST", "/v1/todos", td.body, "Idempotency-Key", td.key)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ ID int64 }
		json.Unmarshal(body, &got)
		if status != http.StatusCreated || got.ID != td.id || header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry of the create of todo %d after the restart: %d %s", td.id, status, body)
		}
	}
	return len(todos)
}

func integrityCheck(path string) error {
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		return err
	}
	defer db.Close()
	var result string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&result); err != nil {
		return err
	}
	if result != "ok" {
		return fmt.Errorf("integrity_check: %s", result)
	}
	return nil
}

// TestStopUnderLoad sends SIGTERM while writes are in flight: every request
// either gets its answer or is refused before it starts (no todo exists that
// nobody was told of), nothing acknowledged is lost, and the process exits 0
// within the shutdown bound.
func TestStopUnderLoad(t *testing.T) {
	db := filepath.Join(t.TempDir(), "stop.db")
	c := startChild(t, db)
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 16 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				title := fmt.Sprintf("w%d-%d", w, n)
				status, body, _, err := c.send("POST", "/v1/todos", `{"title":"`+title+`"}`)
				if err != nil {
					continue // refused: the listener is closed, or the connection was idle
				}
				if status != http.StatusCreated {
					t.Errorf("create during the stop: %d %s", status, body)
					return
				}
				mu.Lock()
				acked[title] = true
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	c.cmd.Process.Signal(syscall.SIGTERM)
	err := c.cmd.Wait()
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("exit: %v", err)
	}
	if took > shutdownTimeout {
		t.Errorf("the stop took %v, past its bound of %v", took, shutdownTimeout)
	}

	s := mustOpenStore(t, db)
	stored := map[string]bool{}
	err = s.ListTodos(t.Context(), BuiltinUser, Filter{Sort: SortByID}, func(todo RenderedTodo, _ Position) error {
		var v struct{ Title string }
		if err := json.Unmarshal([]byte("{"+string(todo.Members)+"}"), &v); err != nil {
			return err
		}
		stored[v.Title] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for title := range acked {
		if !stored[title] {
			t.Errorf("%s was acknowledged and is gone", title)
		}
	}
	for title := range stored {
		if !acked[title] {
			t.Errorf("%s was stored, but its client got no answer", title)
		}
	}
	t.Logf("%d creates acknowledged before and during the stop, all kept; stopped in %v", len(acked), took.Round(time.Millisecond))
}

// TestEventsSurviveACrash: clients follow /v1/events while the service is
// written to and killed with SIGKILL; after each restart, every change a
// client was sent is in the change log, at the number it was sent with and
// as it was described, or changed again later.
func TestEventsSurviveACrash(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crash.db")
	var mu sync.Mutex
	var received []changeJSON
	audited := 0
	for kill := range 3 {
		c := startChild(t, db)
		audited += auditEvents(t, c, received)
		var wg sync.WaitGroup
		for range 4 {
			es, err := openEvents(t.Context(), c.base, "/v1/events")
			if err != nil || es.resp.StatusCode != http.StatusOK {
				t.Fatalf("open a stream: %v", err)
			}
			defer es.close()
			wg.Go(func() {
				for b := range es.blocks { // until the process dies
					if b.event == "change" {
						mu.Lock()
						received = append(received, b.change(t))
						mu.Unlock()
					}
				}
			})
		}
		driveUntilKilled(t, c, kill)
		wg.Wait()
	}
	c := startChild(t, db)
	audited += auditEvents(t, c, received)
	c.stop(t)
	t.Logf("%d changes sent to the clients before 3 kills, %d audits of them across the restarts", len(received), audited)
	if len(received) == 0 {
		t.Error("no change was sent")
	}
}

// auditEvents checks that each change of received is in the change log of
// the service c, and returns how many it checked.
func auditEvents(t *testing.T, c *child, received []changeJSON) int {
	t.Helper()
	latest := map[[2]any]changeJSON{} // by kind and id: the log keeps each object's latest change
	since := "1"                      // the sequence starts at 1: every change is after it
	for {
		status, body, _, err := c.send("GET", "/v1/changes?limit=5000&since="+since, "")
		var page struct {
			Changes []changeJSON
			Next    string
			More    bool
		}
		if err != nil || status != http.StatusOK || json.Unmarshal(body, &page) != nil {
			t.Fatalf("GET /v1/changes: %d %s %v", status, body, err)
		}
		for _, ch := range page.Changes {
			latest[[2]any{ch.Kind, ch.key().ID}] = ch
		}
		if since = page.Next; !page.More {
			break
		}
	}
	top, err := strconv.ParseInt(since, 10, 64)
	if err != nil {
		t.Fatalf("the last token %q", since)
	}
	for _, sent := range received {
		got, ok := latest[[2]any{sent.Kind, sent.key().ID}]
		switch {
		case sent.Seq > top:
			t.Fatalf("change %d was sent, and the log ends at %d", sent.Seq, top)
		case !ok || got.Seq < sent.Seq:
			t.Fatalf("change %+v was sent; the log has %+v", sent, got)
		case got.Seq > sent.Seq: // changed again since
		case got.Op != sent.Op || !sameButURL(got.Todo, sent.Todo):
			t.Fatalf("change %d was sent as %+v; the log has %+v", sent.Seq, sent, got)
		}
	}
	return len(received)
}

// sameButURL compares two todos but for their URLs, which name the port of
// a process that is gone.
func sameButURL(a, b map[string]any) bool {
	a, b = maps.Clone(a), maps.Clone(b)
	delete(a, "url")
	delete(b, "url")
	return reflect.DeepEqual(a, b)
}
