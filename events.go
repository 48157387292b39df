package main

// The hub of the live events (API.md, "Live events"): one goroutine reads
// what the commits changed (Store.Published), once for every stream, has each
// change rendered once, and queues it for the streams of the users who may
// see it; each stream (handlers_events.go) writes its queue at its client's
// pace. A stream that the hub cannot serve exactly (it joined in the middle,
// it was given a list, the range was too large) reads its own user's feed
// (Store.Changes), then joins again. Nothing here knows of SQL or HTTP.

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

const (
	maxStreamsPerUser = 8
	maxStreams        = 1_000
	maxWaiting        = 1_000    // events waiting for one stream: past it, the stream is closed
	waitingBudget     = 16 << 20 // bytes of events waiting, for all the streams together
	publishRetry      = 100 * time.Millisecond
	// publishEvery is the hub's pace: what commits within it goes out in
	// one write to each stream, not one a commit. Under a load of writes
	// that is what keeps a hundred streams from costing the writers half
	// their throughput in system calls; idle, an event waits no longer.
	publishEvery = 50 * time.Millisecond
)

var (
	errTooManyStreams = &Error{Code: ETOOMANY, RetryAfter: 10 * time.Second,
		Message: "this account has as many event streams open as it may (8): close one first"}
	errStreamsFull = &Error{Code: EUNAVAILABLE, Message: "the service has as many event streams open as it may; retry in a moment"}
)

// hub hands what each commit changed to the streams that may see it.
type hub struct {
	store  *Store
	logger *slog.Logger
	// render appends the text of the event of c, as seen from base (the
	// URL the stream's client reaches the API at): its "event" and "data"
	// lines, without its id, which is the stream's.
	render func(b []byte, base string, c Change) []byte

	mu      sync.Mutex
	streams map[int64][]*stream // by user
	count   int
	waiting int  // bytes of the texts that streams hold: queued, or taken and not yet written
	running bool // the goroutine of run
	known   bool // pos is where the goroutine is
	pos     int64
	idle    chan struct{} // to run: the last stream is gone
}

// stream is one client's place at the hub. Its fields below mu are the
// hub's to guard.
type stream struct {
	user int64
	base string
	wake chan struct{} // a signal that the stream has something to do
	kick func()        // makes the stream's write under way fail

	queue   []item
	bytes   int   // of queue
	held    int   // bytes of events taken, not yet written
	covered int64 // every change up to this number is sent or queued; reading while it reads its feed
	stale   bool  // it must read its feed: the hub could not serve it
	closed  bool  // closed by the hub: slow, or the service stops
	taking  bool  // served by the range being published: see publish
}

// reading is a stream's covered while it reads its own feed.
const reading = -1

// item is an event queued for a stream.
type item struct {
	key  ChangeCursor
	more bool       // more changes of its number follow for the stream: its id is key, else the number
	text *eventText // shared by every stream that sees it from the same URL
}

// eventText is an event's text, and the number of streams that hold it (guarded
// by hub.mu): the hub's budget counts it once, while it is held.
type eventText struct {
	b    []byte
	refs int
}

// hold counts that one more stream holds t.
func (h *hub) hold(t *eventText) {
	if t.refs++; t.refs == 1 {
		h.waiting += len(t.b)
	}
}

// release counts that a stream no longer holds the texts of items.
func (h *hub) release(items []item) {
	for _, it := range items {
		if it.text.refs--; it.text.refs == 0 {
			h.waiting -= len(it.text.b)
		}
	}
}

// id is where the stream's client resumes after the item.
func (it item) id() ChangeCursor {
	if it.more {
		return it.key
	}
	return ChangeCursor{Seq: it.key.Seq, Order: endOfSeq}
}

func newHub(store *Store, logger *slog.Logger, render func([]byte, string, Change) []byte) *hub {
	return &hub{store: store, logger: logger, render: render, streams: map[int64][]*stream{}, idle: make(chan struct{}, 1)}
}

// subscribe gives user a stream, which starts by reading its feed.
func (h *hub) subscribe(user int64, base string, kick func()) (*stream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case len(h.streams[user]) >= maxStreamsPerUser:
		return nil, errTooManyStreams
	case h.count >= maxStreams:
		return nil, errStreamsFull
	}
	st := &stream{user: user, base: base, kick: kick, wake: make(chan struct{}, 1), covered: reading}
	h.streams[user] = append(h.streams[user], st)
	h.count++
	if !h.running {
		h.running = true
		go h.run()
	}
	return st, nil
}

func (h *hub) unsubscribe(st *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := h.streams[st.user]
	for i, other := range list {
		if other == st {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(h.streams, st.user)
	} else {
		h.streams[st.user] = list
	}
	h.release(st.queue)
	st.queue, st.bytes = nil, 0
	if h.count--; h.count == 0 {
		notify(h.idle)
	}
}

// closeAll closes every stream: the service stops.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, list := range h.streams {
		for _, st := range list {
			h.close(st)
		}
	}
}

// close closes st, which the hub holds, and frees its queue.
func (h *hub) close(st *stream) {
	st.closed = true
	h.release(st.queue)
	st.queue, st.bytes = nil, 0
	st.kick()
	notify(st.wake)
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// take moves to dst the events queued for st, and tells whether st must
// read its feed (once its queue is empty) or is closed. The stream holds
// what it took until it has written it (written).
func (h *hub) take(st *stream, dst []item) (items []item, stale, closed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	dst = append(dst, st.queue...)
	clear(st.queue) // the texts are the stream's now
	st.queue = st.queue[:0]
	st.held += st.bytes
	st.bytes = 0
	return dst, len(dst) == 0 && st.stale, st.closed
}

// written tells the hub that st has written items, or given up on them.
func (h *hub) written(st *stream, items []item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, it := range items {
		st.held -= len(it.text.b)
	}
	h.release(items)
}

// joinNow starts st where the hub is, when it knows: st then has nothing of
// its feed to read.
func (h *hub) joinNow(st *stream) (int64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.known {
		return 0, false
	}
	st.covered = h.pos
	return h.pos, true
}

// readFeed notes that st reads its feed: it is stale no longer, and the hub
// queues nothing for it until it has caught up (caughtUp).
func (h *hub) readFeed(st *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st.covered, st.stale = reading, false
}

// caughtUp tells the hub that st has read its feed up to the number seq. It
// reports false when st must read further: the hub has already handed
// others changes past seq.
func (h *hub) caughtUp(st *stream, seq int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known && h.pos > seq {
		return false
	}
	st.covered = seq
	return true
}

// run publishes what the commits change, while streams are open.
func (h *hub) run() {
	ctx := context.Background()
	retry := time.NewTimer(0) // at once: where the hub starts
	defer retry.Stop()
	for {
		select {
		case <-h.store.Committed():
		case <-h.idle:
		case <-retry.C:
		}
		h.mu.Lock()
		if h.count == 0 {
			h.running, h.known = false, false
			h.mu.Unlock()
			return
		}
		known, pos := h.known, h.pos
		h.mu.Unlock()
		var err error
		if !known {
			pos, err = h.store.LastSeq(ctx)
			if err == nil {
				h.start(pos)
				continue
			}
		} else {
			var rg Range
			if rg, err = h.store.Published(ctx, pos); err == nil {
				h.publish(rg)
				time.Sleep(publishEvery)
				continue
			}
		}
		// A read that failed (the database busy or stopping) is tried
		// again in a moment: the range is still there to read.
		h.logger.Warn("events: read what was committed", "err", err)
		retry.Reset(publishRetry)
	}
}

// start sets where the hub starts: a stream that has read its feed only up
// to an earlier number must read on.
func (h *hub) start(pos int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos, h.known = pos, true
	for _, list := range h.streams {
		for _, st := range list {
			if st.covered != reading && st.covered < pos {
				st.stale = true
				notify(st.wake)
			}
		}
	}
}

// publish queues the changes of rg for the streams that may see them.
func (h *hub) publish(rg Range) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos = rg.To
	var taking []*stream // the streams rg serves
	for _, list := range h.streams {
		for _, st := range list {
			if st.taking = st.takes(rg); st.taking {
				taking = append(taking, st)
			}
		}
	}
	if len(taking) == 0 {
		h.settle(rg)
		return
	}
	type variant struct {
		base string
		role Role
		text *eventText
	}
	var texts []variant // of one change: each rendered once
	for i := range rg.Changes {
		c := &rg.Changes[i]
		texts = texts[:0]
		for _, r := range c.Readers {
			for _, st := range h.streams[r.User] {
				if !st.taking || c.Seq <= st.covered {
					continue
				}
				var text *eventText
				for _, v := range texts {
					if v.base == st.base && v.role == r.Role {
						text = v.text
					}
				}
				if text == nil {
					seen := *c
					seen.List.Role = r.Role
					text = &eventText{b: h.render(nil, st.base, seen)}
					texts = append(texts, variant{st.base, r.Role, text})
				}
				if n := len(st.queue); n > 0 && st.queue[n-1].key.Seq == c.Seq {
					st.queue[n-1].more = true
				}
				st.queue = append(st.queue, item{key: c.key(false), text: text})
				st.bytes += len(text.b)
				h.hold(text)
			}
		}
	}
	h.settle(rg)
}

// takes reports whether st can be served from rg: it has had what came
// before rg, and rg holds everything its feed would.
func (st *stream) takes(rg Range) bool {
	return !st.closed && !st.stale && st.covered != reading && st.covered >= rg.From && rg.Whole && !rg.Granted[st.user]
}

// settle moves each stream past rg, or has it read its feed; closes the
// streams whose clients do not read; and wakes the others.
func (h *hub) settle(rg Range) {
	for _, list := range h.streams {
		for _, st := range list {
			switch {
			case st.closed || st.covered == reading:
				continue
			case !st.taking:
				st.stale = true
			case len(st.queue) > maxWaiting: // a client that does not read is not waited for
				h.logger.Info("events: closed the stream of a client that does not read", "user", st.user, "waiting", len(st.queue))
				h.close(st)
				continue
			default:
				st.covered = max(st.covered, rg.To)
			}
			if len(st.queue) > 0 || st.stale {
				notify(st.wake)
			}
		}
	}
	for h.waiting > waitingBudget {
		st := h.fullest()
		h.logger.Info("events: closed the stream that does not read with the most waiting", "user", st.user, "bytes", st.bytes+st.held)
		h.close(st)
	}
}

// fullest is the stream with the most bytes waiting.
func (h *hub) fullest() *stream {
	var fullest *stream
	for _, list := range h.streams {
		for _, st := range list {
			if fullest == nil || st.bytes+st.held > fullest.bytes+fullest.held {
				fullest = st
			}
		}
	}
	return fullest
}
