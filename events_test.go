package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sseBlock is one block of an event stream, up to its blank line, as an
// EventSource parses it.
type sseBlock struct {
	id, event, data, retry string
	hasID                  bool
	comments               []string
}

// change decodes the block's data as a change of the feed.
func (b sseBlock) change(t *testing.T) changeJSON {
	t.Helper()
	var ch changeJSON
	if err := json.Unmarshal([]byte(b.data), &ch); err != nil {
		t.Fatalf("event %q: %v", b.data, err)
	}
	return ch
}

// events is a client's connection to GET /v1/events: its blocks arrive on
// a channel, closed when the stream ends (err then says why).
type events struct {
	resp   *http.Response
	cancel context.CancelFunc
	blocks chan sseBlock
	err    error // once blocks is closed
}

// openEvents opens path (a /v1/events URL) with headers (name, value
// pairs); it returns the response as it is when its status is not 200.
func openEvents(ctx context.Context, base, path string, headers ...string) (*events, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	es := &events{resp: resp, cancel: cancel, blocks: make(chan sseBlock, 64)}
	if resp.StatusCode != http.StatusOK {
		return es, nil
	}
	go es.read()
	return es, nil
}

// mustOpenEvents opens path and checks that the stream started.
func mustOpenEvents(t *testing.T, base, path string, headers ...string) *events {
	t.Helper()
	es, err := openEvents(t.Context(), base, path, headers...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(es.close)
	if es.resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(es.resp.Body)
		t.Fatalf("%s: status %d: %s", path, es.resp.StatusCode, body)
	}
	if ct := es.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	if b := es.next(t); b.retry != "2000" {
		t.Fatalf("the stream starts with %+v, want retry: 2000", b)
	}
	return es
}

func (es *events) close() {
	es.cancel()
	es.resp.Body.Close()
}

// read parses the stream into blocks (the HTML standard's event stream
// interpretation, for the fields the service sends).
func (es *events) read() {
	defer close(es.blocks)
	lines := bufio.NewReader(es.resp.Body)
	var b sseBlock
	for {
		line, err := lines.ReadString('\n')
		if err != nil {
			es.err = err
			return
		}
		line = strings.TrimSuffix(line, "\n")
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "":
			if line == "" {
				es.blocks <- b
				b = sseBlock{}
			} else {
				b.comments = append(b.comments, value)
			}
		case "id":
			b.id, b.hasID = value, true
		case "event":
			b.event = value
		case "data":
			b.data = value
		case "retry":
			b.retry = value
		}
	}
}

// next returns the next sseBlock, waiting at most 10 seconds.
func (es *events) next(t *testing.T) sseBlock {
	t.Helper()
	select {
	case b, ok := <-es.blocks:
		if !ok {
			t.Fatalf("the stream ended: %v", es.err)
		}
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no event for 10 s")
	}
	return sseBlock{}
}

// nextChange returns the next change event, past comments.
func (es *events) nextChange(t *testing.T) (sseBlock, changeJSON) {
	t.Helper()
	for {
		b := es.next(t)
		if b.event == "change" {
			return b, b.change(t)
		}
		if b.data != "" {
			t.Fatalf("an event %q: %+v", b.event, b)
		}
	}
}

// quiet checks that no change arrives for a moment.
func (es *events) quiet(t *testing.T) {
	t.Helper()
	select {
	case b := <-es.blocks:
		if b.event != "" {
			t.Fatalf("an event arrived: %+v", b)
		}
	case <-time.After(200 * time.Millisecond):
	}
}

// TestEvents: a stream starts with retry, then every change as it commits,
// each with the feed's token as its id; Last-Event-ID and ?since= resume
// after a token, ?since=0 starts with a full sync; a start that is not a
// token is a 400.
func TestEvents(t *testing.T) {
	ts := newTestServer(t, config{})
	es := mustOpenEvents(t, ts.URL, "/v1/events")
	if es.resp.Header.Get("Cache-Control") != "no-store" || es.resp.Header.Get("X-Request-ID") == "" {
		t.Errorf("headers %v", es.resp.Header)
	}
	first := ts.create(t, `{"title":"one"}`)
	b, ch := es.nextChange(t)
	if ch.Kind != "todo" || ch.Op != "put" || ch.Todo["title"] != "one" || ch.Todo["url"] != fmt.Sprintf("%s/v1/todos/%d", ts.URL, first.ID) || b.id != fmt.Sprint(ch.Seq) {
		t.Fatalf("the create's event: id %q, %+v", b.id, ch)
	}
	after := b.id
	// Each write's event is awaited: writes that commit within a moment of
	// each other go out together, as the latest state of what they changed.
	want := []string{"todo put", "todo delete", "list put"}
	var seen []changeJSON
	for i, write := range [][3]string{
		{"PATCH", fmt.Sprintf("/v1/todos/%d", first.ID), `{"completed":true}`},
		{"DELETE", fmt.Sprintf("/v1/todos/%d", first.ID), ""},
		{"POST", "/v1/lists", `{"title":"Errands"}`},
	} {
		ts.do(t, write[0], write[1], write[2]).want(t, []int{http.StatusOK, http.StatusNoContent, http.StatusCreated}[i])
		_, ch := es.nextChange(t)
		seen = append(seen, ch)
	}
	for i, ch := range seen {
		if ch.Kind+" "+ch.Op != want[i] || i > 0 && ch.Seq <= seen[i-1].Seq {
			t.Fatalf("events %+v, want %v in seq order", seen, want)
		}
	}
	if seen[0].Todo["completed"] != true || seen[1].ID != float64(first.ID) || seen[1].ListID != 1 || seen[2].List["title"] != "Errands" || seen[2].List["role"] != "owner" {
		t.Errorf("events %+v", seen)
	}

	// Reconnecting after the create gives what followed it, once.
	// The patched todo is gone: its latest state is its delete.
	for _, start := range [][]string{{"/v1/events", "Last-Event-ID", after}, {"/v1/events?since=" + after}} {
		again := mustOpenEvents(t, ts.URL, start[0], start[1:]...)
		for i := 1; i < len(want); i++ {
			if _, ch := again.nextChange(t); !reflect.DeepEqual(ch, seen[i]) {
				t.Fatalf("from %v: %+v, want %+v", start, ch, seen[i])
			}
		}
		again.quiet(t)
		again.close()
	}

	// A full sync, then the live changes.
	full := mustOpenEvents(t, ts.URL, "/v1/events?since=0")
	var ids []string
	for range 2 { // the lists Inbox and Errands: the todo was deleted
		b, ch := full.nextChange(t)
		if ch.Kind != "list" || ch.Op != "put" {
			t.Fatalf("full sync: %+v", ch)
		}
		ids = append(ids, b.id)
	}
	if !strings.HasPrefix(ids[0], "f.") || ids[1] != fmt.Sprint(seen[2].Seq) {
		t.Errorf("ids of a full sync %v: a full sync's token, then the number it ends at", ids)
	}
	ts.create(t, `{"title":"two"}`)
	if _, ch := full.nextChange(t); ch.Todo["title"] != "two" {
		t.Errorf("after the full sync: %+v", ch)
	}

	if head := ts.do(t, "HEAD", "/v1/events", "").want(t, http.StatusOK); head.header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD: %v", head.header)
	}
	for _, bad := range [][]string{{"/v1/events", "Last-Event-ID", "abc"}, {"/v1/events?since=x"}, {"/v1/events?other=1"}, {"/v1/events?since=1&since=2"}} {
		ts.do(t, "GET", bad[0], "", bad[1:]...).problem(t, http.StatusBadRequest)
	}
}

// TestEventsHeartbeat: a stream sends a comment every heartbeatEvery, and
// lives past the server's read timeout, which would otherwise end it.
func TestEventsHeartbeat(t *testing.T) {
	defer func(d time.Duration) { heartbeatEvery = d }(heartbeatEvery)
	heartbeatEvery = 50 * time.Millisecond
	store := mustOpenStore(t, filepath.Join(t.TempDir(), "todo.db"))
	logger := slog.New(slog.DiscardHandler)
	h := newServer(logger, store, config{})
	srv := httptest.NewUnstartedServer(h)
	srv.Config = newHTTPServer(h, logger)
	srv.Config.ReadTimeout = 100 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	es := mustOpenEvents(t, srv.URL, "/v1/events")
	start := time.Now()
	pings := 0
	for time.Since(start) < 500*time.Millisecond {
		b := es.next(t)
		if len(b.comments) != 1 || b.comments[0] != "ping" || b.event != "" || b.data != "" {
			t.Fatalf("a sseBlock %+v, want the comment ping", b)
		}
		pings++
	}
	if pings < 5 {
		t.Errorf("%d pings in %v", pings, time.Since(start))
	}
	if _, _, err := store.CreateTodo(t.Context(), BuiltinUser, Todo{Title: "late", ListID: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ch := es.nextChange(t); ch.Todo["title"] != "late" {
		t.Errorf("after the read timeout: %+v", ch)
	}
}

// TestEventsSharing: a stream carries only what its user may see; sharing a
// list starts its events (the list, and its todos, at the number of the
// sharing), a change of role sends the list again, unsharing stops them
// with the list's delete. A stranger sees nothing of it.
func TestEventsSharing(t *testing.T) {
	ts, tokens := newAccountsServer(t, config{}, "ann", "bob", "cy")
	as := func(name, method, path, body string) result {
		return ts.do(t, method, path, body, "Authorization", bearer(tokens[name]))
	}
	open := func(name string, headers ...string) *events {
		return mustOpenEvents(t, ts.URL, "/v1/events", append(headers, "Authorization", bearer(tokens[name]))...)
	}
	// marker has name write to its own list, and checks that its stream's
	// next change is that: nothing else came before.
	markers := 0
	marker := func(name string, es *events) {
		t.Helper()
		markers++
		title := fmt.Sprintf("marker %d of %s", markers, name)
		as(name, "POST", "/v1/todos", `{"title":"`+title+`"}`).want(t, http.StatusCreated)
		if _, ch := es.nextChange(t); ch.Todo["title"] != title {
			t.Fatalf("%s saw %+v before its own change", name, ch)
		}
	}
	bob, cy := open("bob"), open("cy")

	var list listJSON
	as("ann", "POST", "/v1/lists", `{"title":"Shared"}`).want(t, http.StatusCreated).decodeJSON(t, &list)
	as("ann", "POST", "/v1/todos", fmt.Sprintf(`{"title":"first","list_id":%d}`, list.ID)).want(t, http.StatusCreated)
	marker("bob", bob)

	members := fmt.Sprintf("/v1/lists/%d/members/bob", list.ID)
	as("ann", "PUT", members, `{"role":"viewer"}`).want(t, http.StatusCreated)
	b1, got := bob.nextChange(t)
	b2, todo := bob.nextChange(t)
	if got.Kind != "list" || got.List["title"] != "Shared" || got.List["role"] != "viewer" || todo.Todo["title"] != "first" || got.Seq != todo.Seq {
		t.Fatalf("the sharing: %+v then %+v, want the list and its todo at one number", got, todo)
	}
	if b1.id != fmt.Sprintf("%d.1.%d", got.Seq, list.ID) || b2.id != fmt.Sprint(got.Seq) {
		t.Errorf("ids %q and %q: within a number the change, at its end the number", b1.id, b2.id)
	}
	// A client that drops after the list resumes with its todo, not the list.
	again := open("bob", "Last-Event-ID", b1.id)
	if _, ch := again.nextChange(t); !reflect.DeepEqual(ch, todo) {
		t.Errorf("resumed within the number: %+v", ch)
	}
	again.close()

	as("ann", "POST", "/v1/todos", fmt.Sprintf(`{"title":"second","list_id":%d}`, list.ID)).want(t, http.StatusCreated)
	if _, ch := bob.nextChange(t); ch.Todo["title"] != "second" {
		t.Fatalf("a change in the shared list: %+v", ch)
	}
	as("ann", "PUT", members, `{"role":"editor"}`).want(t, http.StatusOK)
	if _, ch := bob.nextChange(t); ch.Kind != "list" || ch.List["role"] != "editor" {
		t.Fatalf("a new role: %+v", ch)
	}
	for range 2 { // the list's todos again, at the number of the new role
		if _, ch := bob.nextChange(t); ch.Kind != "todo" {
			t.Fatalf("a new role: %+v", ch)
		}
	}
	as("ann", "DELETE", members, "").want(t, http.StatusNoContent)
	if _, ch := bob.nextChange(t); ch.Kind != "list" || ch.Op != "delete" || ch.ID != float64(list.ID) {
		t.Fatalf("the end of the sharing: %+v", ch)
	}
	as("ann", "POST", "/v1/todos", fmt.Sprintf(`{"title":"third","list_id":%d}`, list.ID)).want(t, http.StatusCreated)
	marker("bob", bob)
	marker("cy", cy)
}

// TestEventsCaps: at most 8 streams per account (the 9th is 429 with
// Retry-After) and 1,000 in all (503 with Retry-After); a stream closed
// gives its place back.
func TestEventsCaps(t *testing.T) {
	names := make([]string, maxStreams/maxStreamsPerUser+1)
	for i := range names {
		names[i] = fmt.Sprintf("user%03d", i)
	}
	ts, tokens := newAccountsServer(t, config{}, names...)
	open := func(name string) *events {
		es, err := openEvents(t.Context(), ts.URL, "/v1/events", "Authorization", bearer(tokens[name]))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(es.close)
		return es
	}
	var first []*events
	for range maxStreamsPerUser {
		es := open(names[0])
		if es.resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", len(first)+1, es.resp.StatusCode)
		}
		first = append(first, es)
	}
	ninth := open(names[0])
	body, _ := io.ReadAll(ninth.resp.Body)
	if ninth.resp.StatusCode != http.StatusTooManyRequests || ninth.resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "as many event streams") {
		t.Fatalf("the 9th stream of an account: %d %v %s", ninth.resp.StatusCode, ninth.resp.Header, body)
	}
	first[0].close()
	eventually(t, "a closed stream's place", func() bool {
		es := open(names[0])
		es.close()
		return es.resp.StatusCode == http.StatusOK
	})

	var wg sync.WaitGroup
	statuses := make(chan int, maxStreams)
	clients := make(chan struct{}, 16) // opening at once: a burst of 1,000 would be shed as overload (503)
	for _, name := range names[1 : len(names)-1] {
		for range maxStreamsPerUser {
			clients <- struct{}{}
			wg.Go(func() {
				defer func() { <-clients }()
				es, err := openEvents(t.Context(), ts.URL, "/v1/events", "Authorization", bearer(tokens[name]))
				if err != nil {
					t.Error(err)
					statuses <- 0
					return
				}
				t.Cleanup(es.close)
				statuses <- es.resp.StatusCode
			})
		}
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for status := range statuses {
		if status == http.StatusOK {
			ok++
		}
	}
	if ok != maxStreams-maxStreamsPerUser {
		t.Fatalf("%d streams opened, want %d", ok, maxStreams-maxStreamsPerUser)
	}
	hub := ts.Config.Handler.(*server).events
	eventually(t, "the closed streams gone", func() bool {
		hub.mu.Lock()
		defer hub.mu.Unlock()
		return hub.count == maxStreams-1
	})
	// names[0] holds 7 and the others 992: one more is the 1,000th.
	open(names[len(names)-1])
	last := open(names[len(names)-1])
	body, _ = io.ReadAll(last.resp.Body)
	if last.resp.StatusCode != http.StatusServiceUnavailable || last.resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a stream beyond %d: %d %v %s", maxStreams, last.resp.StatusCode, last.resp.Header, body)
	}
}

// eventually polls cond for up to 5 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
	}
}

// TestEventsSlowConsumer: a client that does not read is not waited for:
// once more than maxWaiting events wait for it, its stream is closed, well
// before the write timeout; it resumes from the last id it got, and has
// every change once.
func TestEventsSlowConsumer(t *testing.T) {
	ts := newTestServer(t, config{})
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	conn, err := dialer.DialContext(t.Context(), "tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // the stream starts: from now on
	notes := strings.Repeat("n", 2000)
	const creates = 3 * maxWaiting
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < creates; i += 4 {
				if _, _, err := ts.store.CreateTodo(t.Context(), BuiltinUser, Todo{Title: fmt.Sprint("todo ", i), Notes: notes, ListID: 1}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	wrote := time.Now()

	// What the client reads now is what the kernel kept, then the end.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	es := &events{resp: resp, cancel: func() {}, blocks: make(chan sseBlock, 64)}
	go es.read()
	seen := map[string]bool{}
	last := ""
	for b := range es.blocks {
		if b.event == "change" {
			ch := b.change(t)
			seen[ch.Todo["title"].(string)] = true
			last = b.id
		}
	}
	if ne, ok := es.err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the stream of a client that does not read was not closed (%d events)", len(seen))
	}
	if len(seen) == 0 || len(seen) >= creates || time.Since(wrote) > 5*time.Second {
		t.Fatalf("%d of %d events before the stream was closed, %v after the last write", len(seen), creates, time.Since(wrote))
	}
	if !strings.Contains(ts.logs.String(), "does not read") {
		t.Error("the log does not say why the stream was closed")
	}
	again := mustOpenEvents(t, ts.URL, "/v1/events", "Last-Event-ID", last)
	for len(seen) < creates {
		_, ch := again.nextChange(t)
		if title := ch.Todo["title"].(string); seen[title] {
			t.Fatalf("%s came twice", title)
		} else {
			seen[title] = true
		}
	}
	again.quiet(t)
}

// liveClient keeps a copy of what an account can read from a full sync and
// then only its event stream, which it drops at random moments and opens
// again with Last-Event-ID, as EventSource does.
type liveClient struct {
	replica
	last    ChangeCursor // the key of the last change applied
	lastID  string       // the id of the last event, "" before the first
	opens   int
	err     error         // the first thing wrong it saw
	marker  string        // the title of the todo that tells it has caught up
	caught  chan struct{} // closed when the marker came
	stop    func()        // ends run
	stopped chan struct{} // closed when run returns
}

func (c *liveClient) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

// run follows the stream until ctx is done.
func (c *liveClient) run(ctx context.Context, base, token string, rng *rand.Rand) {
	defer close(c.stopped)
	for ctx.Err() == nil {
		path, headers := "/v1/events?since="+c.token, []string{"Authorization", bearer(token)}
		if c.lastID != "" {
			path, headers = "/v1/events", append(headers, "Last-Event-ID", c.lastID)
		}
		es, err := openEvents(ctx, base, path, headers...)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			c.fail("open: %v", err)
			return
		case es.resp.StatusCode != http.StatusOK:
			c.fail("open: status %d", es.resp.StatusCode)
			return
		}
		c.opens++
		for drop := rng.IntN(30); drop > 0; {
			b, ok := <-es.blocks
			if !ok {
				break
			}
			if b.event != "change" {
				continue
			}
			var ch changeJSON
			if err := json.Unmarshal([]byte(b.data), &ch); err != nil {
				c.fail("event %q: %v", b.data, err)
				return
			}
			if compareKeys(ch.key(), c.last) <= 0 {
				c.fail("event %+v came after %+v: out of order, or again", ch.key(), c.last)
			}
			c.last, c.lastID = ch.key(), b.id
			c.apply(ch)
			if ch.Todo["title"] == c.marker && ch.Op == "put" {
				select {
				case <-c.caught:
					c.fail("the marker came twice")
				default:
					close(c.caught)
				}
			}
			drop--
		}
		es.close()
	}
}

// TestEventsExact: writers in several goroutines do random operations of
// four accounts (creates, patches, moves, deletes, bulk deletes, lists made,
// renamed and deleted, sharing begun, changed and ended) while a client of
// each account, and of a stranger to them all, follows its events,
// dropping the stream at random moments and resuming with Last-Event-ID.
// Each event comes once, in seq order, and each client's copy ends exactly
// what its account reads; the stranger got nothing but its own change.
func TestEventsExact(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			w := newWorld(t) // ada is in no list but her own
			names := []string{"olga", "ed", "vi", "stan"}
			everyone := append([]string{"ada"}, names...)
			clients := map[string]*liveClient{}
			for i, name := range everyone {
				c := &liveClient{replica: replica{name: name}, marker: "caught up: " + name, caught: make(chan struct{}), stopped: make(chan struct{})}
				c.sync(t, w)
				c.pulls = 0
				c.last, _ = decodeChangeCursor(c.token)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				c.stop = cancel
				clients[name] = c
				go c.run(ctx, w.ts.URL, w.tokens[name], rand.New(rand.NewPCG(seed, uint64(i))))
			}
			t.Run("writers", func(t *testing.T) {
				for i := range 4 {
					t.Run(fmt.Sprint(i), func(t *testing.T) {
						t.Parallel()
						ww := *w
						ww.t = t
						rng := rand.New(rand.NewPCG(seed, uint64(100+i)))
						for range 100 {
							randomOperation(t, &ww, rng, names[rng.IntN(len(names))], names)
						}
					})
				}
			})
			// One client at a time: its own change last, which tells it
			// has had every change before; then it stops, and its copy
			// must be what its account reads.
			opens, pulls := 0, 0
			for _, name := range everyone {
				c := clients[name]
				w.as(name, "POST", "/v1/todos", `{"title":"`+c.marker+`"}`).want(t, http.StatusCreated)
				select {
				case <-c.caught:
				case <-c.stopped:
				case <-time.After(20 * time.Second):
					t.Fatalf("%s's marker did not come", name)
				}
				c.stop()
				<-c.stopped
				if c.err != nil {
					t.Fatalf("%s: %v", name, c.err)
				}
				lists, todos := truth(t, w, name)
				if d := differences(c.lists, lists) + differences(c.todos, todos); d != "" {
					t.Errorf("%s's copy differs from what it reads:%s", name, d)
				}
				opens += c.opens
				pulls += c.pulls
			}
			if ada := clients["ada"]; ada.pulls != 1 {
				t.Errorf("the stranger had %d events, want 1, its own", ada.pulls)
			}
			t.Logf("%d events applied, over %d streams opened", pulls, opens)
		})
	}
}

// differences lists the objects in which a copy and what is read differ.
func differences(copied, read map[float64]map[string]any) string {
	var d strings.Builder
	for id, v := range read {
		if !reflect.DeepEqual(copied[id], v) {
			fmt.Fprintf(&d, "\n%v: copy %v, read %v", id, copied[id], v)
		}
	}
	for id, v := range copied {
		if _, ok := read[id]; !ok {
			fmt.Fprintf(&d, "\n%v: copy %v, not read", id, v)
		}
	}
	return d.String()
}

// TestMemoryWithStreams: 1,000 streams open (125 accounts, one list shared
// with them all), of which 990 do not read, while large todos are written
// into the list: the service's resident memory stays under 256 MiB.
func TestMemoryWithStreams(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory multiplies the process's: .ci/run runs this test again without -race")
	}
	db := filepath.Join(t.TempDir(), "memory.db")
	s := mustOpenStore(t, db)
	ownerToken, list, readers := sharedList(t, s, maxStreams/maxStreamsPerUser)
	s.Close()
	c := startChild(t, db)
	addr := strings.TrimPrefix(c.base, "http://")
	small := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
		return err
	}}
	for i := range maxStreams {
		conn, err := small.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "GET /v1/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n\r\n", readers[i%len(readers)])
		if i%100 == 0 { // a reader
			go io.Copy(io.Discard, conn)
		}
		if i%50 == 0 {
			time.Sleep(20 * time.Millisecond) // not a burst: the service would shed it (503)
		}
	}
	body := fmt.Sprintf(`{"title":"big","list_id":%d,"notes":"%s"}`, list, strings.Repeat("日", maxNotesLen))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for range 100 {
				status, b, _, err := c.send("POST", "/v1/todos", body, "Authorization", bearer(ownerToken))
				if err != nil || status != http.StatusCreated {
					t.Errorf("writer %d: %d %s %v", w, status, b, err)
					return
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(time.Second) // the last events go out
	if status, body, _, err := c.send("GET", "/readyz", ""); err != nil || status != http.StatusOK {
		t.Errorf("/readyz beside them: %d %s %v", status, body, err)
	}
	hwm := vmHWM(t, c.cmd.Process.Pid)
	t.Logf("peak resident memory with %d streams: %d MiB", maxStreams, hwm>>20)
	if hwm >= 256<<20 {
		t.Errorf("peak resident memory %d MiB, want under 256", hwm>>20)
	}
}

// TestHubSurvivesAPanic: a bug in publishing closes the streams (their
// clients resume from their last ids) and leaves the service up.
func TestHubSurvivesAPanic(t *testing.T) {
	logs := &syncBuffer{}
	store := mustOpenStore(t, filepath.Join(t.TempDir(), "todo.db"))
	h := newHub(store, slog.New(slog.NewJSONHandler(logs, nil)), func([]byte, string, Change) []byte { panic("a bug") })
	kicked := false
	st, err := h.subscribe(BuiltinUser, "http://localhost", func() { kicked = true })
	if err != nil {
		t.Fatal(err)
	}
	defer h.unsubscribe(st)
	if !h.caughtUp(st, 1) { // the sequence starts at 1, where the hub starts
		t.Fatal("not caught up at 1")
	}
	h.publishSafely(Range{From: 1, To: 2, Latest: 2, Whole: true,
		Changes: []Change{{Seq: 2, Kind: "todo", Readers: []Reader{{User: BuiltinUser, Role: RoleOwner}}}}})
	h.mu.Lock()
	closed := st.closed
	h.mu.Unlock()
	if !closed || !kicked || !strings.Contains(logs.String(), "panic in publish") {
		t.Errorf("closed %v, kicked %v, log %s", closed, kicked, logs)
	}
}

// TestEventsOnlyAfterCommit: a change inside a transaction that has not
// committed is not sent, even when the hub reads meanwhile; once it
// commits, it is.
func TestEventsOnlyAfterCommit(t *testing.T) {
	ts := newTestServer(t, config{})
	es := mustOpenEvents(t, ts.URL, "/v1/events")
	inserted, commit := make(chan struct{}), make(chan struct{})
	go ts.store.writeTx(t.Context(), func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		seq, err := ts.store.nextSeq(ctx, tx)
		if err != nil {
			return err
		}
		td := Todo{Title: "not yet", ListID: 1}
		td.stamp(nil, now)
		if _, err := insertTodo(ctx, tx, td, seq); err != nil {
			return err
		}
		close(inserted)
		<-commit
		return nil
	})
	<-inserted
	ts.store.signalCommit() // the hub reads now: what it reads must not hold the todo
	es.quiet(t)
	close(commit)
	if _, ch := es.nextChange(t); ch.Todo["title"] != "not yet" {
		t.Errorf("after the commit: %+v", ch)
	}
}
