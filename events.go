package main

// The hub of the live events (API.md, "Live events"): one goroutine reads
// what the commits changed (Store.Published), once for every stream, has each
// change rendered once, gathers each user's events into one block of text,
// and queues the block for that user's streams; each stream
// (handlers_events.go) writes its queue at its client's pace. A stream that the hub cannot serve exactly (it joined in the middle,
// it was given a list, the range was too large) reads its own user's feed
// (Store.Changes), then joins again. Nothing here knows of SQL or HTTP.

import (
	"context"
	"encoding/binary"
	"log/slog"
	"runtime/debug"
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

// stream is one client's place at the hub. Its fields below kick are the
// hub's to guard.
type stream struct {
	user int64
	base string
	wake chan struct{} // a signal that the stream has something to do
	kick func()        // makes the stream's write under way fail

	queue   []*block
	events  int   // in queue
	covered int64 // every change up to this number is sent or queued; reading while it reads its feed
	stale   bool  // it must read its feed: the hub could not serve it
	closed  bool  // closed by the hub: slow, or the service stops
	taking  bool  // served by the range being published: see publish
}

// reading is a stream's covered while it reads its own feed.
const reading = -1

// block is the text of the events of one range for one user, as seen from
// one URL, with their ids: what each of that user's streams there writes.
type block struct {
	text []byte
	keys []ChangeCursor // of its events, in order
	offs []int          // where each event starts in text
	refs int            // the streams that hold it (guarded by hub.mu): the budget counts it once
}

// after returns the part of b that follows pos, and where its client is
// after it; nothing when b is all at or before pos.
func (b *block) after(pos ChangeCursor) ([]byte, ChangeCursor) {
	for i, key := range b.keys {
		if compareKeys(key, pos) > 0 {
			// A block ends a range, which ends at the end of a number.
			return b.text[b.offs[i]:], ChangeCursor{Seq: b.keys[len(b.keys)-1].Seq, Order: endOfSeq}
		}
	}
	return nil, pos
}

// hold counts that one more stream holds b.
func (h *hub) hold(b *block) {
	if b.refs++; b.refs == 1 {
		h.waiting += len(b.text)
	}
}

// release counts that a stream no longer holds blocks.
func (h *hub) release(blocks []*block) {
	for _, b := range blocks {
		if b.refs--; b.refs == 0 {
			h.waiting -= len(b.text)
		}
	}
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
	st.queue, st.events = nil, 0
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
	st.queue, st.events = nil, 0
	st.kick()
	notify(st.wake)
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// take moves to dst the blocks queued for st, and tells whether st must
// read its feed (once its queue is empty) or is closed. The stream holds
// what it took until it has written it (written).
func (h *hub) take(st *stream, dst []*block) (blocks []*block, stale, closed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	dst = append(dst, st.queue...)
	clear(st.queue) // the blocks are the stream's now
	st.queue, st.events = st.queue[:0], 0
	return dst, len(dst) == 0 && st.stale, st.closed
}

// written tells the hub that a stream has written blocks, or given up on them.
func (h *hub) written(blocks []*block) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.release(blocks)
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
	for more := false; ; {
		if !more {
			select {
			case <-h.store.Committed():
			case <-h.idle:
			case <-retry.C:
			}
		}
		h.mu.Lock()
		if h.count == 0 {
			h.running, h.known = false, false
			h.mu.Unlock()
			return
		}
		known, pos := h.known, h.pos
		h.mu.Unlock()
		more = false
		var err error
		if !known {
			if pos, err = h.store.LastSeq(ctx); err == nil {
				h.start(pos)
				continue
			}
		} else {
			var rg Range
			if rg, err = h.store.Published(ctx, pos); err == nil {
				h.publishSafely(rg)
				if more = rg.To < rg.Latest; !more { // else the rest of a range cut short, at once
					time.Sleep(publishEvery)
				}
				continue
			}
		}
		// A read that failed (the database busy or stopping) is tried
		// again in a moment: the range is still there to read.
		h.logger.Warn("events: read what was committed", "err", err)
		retry.Reset(publishRetry)
	}
}

// publishSafely publishes rg; a bug in it closes the streams, which resume
// from their clients' last ids, rather than take the service down.
func (h *hub) publishSafely(rg Range) {
	defer func() {
		if p := recover(); p != nil {
			h.logger.Error("events: panic in publish: every stream is closed", "panic", p, "stack", string(debug.Stack()))
			h.closeAll() // publish's own defer has unlocked the hub
		}
	}()
	h.publish(rg)
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

// publish queues the changes of rg for the streams that may see them: for
// each user, one block of its events for each URL its streams use.
func (h *hub) publish(rg Range) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos = rg.To
	users := map[int64][]seenChange{} // the changes each user with a stream rg serves may see
	for _, list := range h.streams {
		for _, st := range list {
			if st.taking = st.takes(rg); st.taking {
				users[st.user] = nil
			}
		}
	}
	for i, c := range rg.Changes {
		for _, r := range c.Readers {
			if events, ok := users[r.User]; ok {
				users[r.User] = append(events, seenChange{i, r.Role})
			}
		}
	}
	texts := map[textKey][]byte{} // each change rendered once for each URL and role
	// Users who may see the same changes with the same roles share blocks:
	// by URL and what they see.
	blocks := map[string]*block{}
	var key []byte
	for user, events := range users {
		key = key[:0]
		for _, e := range events {
			key = append(append(binary.AppendUvarint(key, uint64(e.change)), e.role...), 0)
		}
		for _, st := range h.streams[user] {
			if !st.taking || len(events) == 0 {
				continue
			}
			b := blocks[st.base+"\x00"+string(key)]
			if b == nil {
				b = h.blockOf(rg, events, st.base, texts)
				blocks[st.base+"\x00"+string(key)] = b
			}
			st.queue = append(st.queue, b)
			st.events += len(b.keys)
			h.hold(b)
		}
	}
	h.settle(rg)
}

// seenChange is a change of a range that a user may see, with its role.
type seenChange struct {
	change int // its index in the range
	role   Role
}

// textKey is a change of a range, as seen from an URL with a role.
type textKey struct {
	change int
	base   string
	role   Role
}

// blockOf is the block of events, as seen from base, of a user who may see
// events of rg; texts are the changes rendered so far.
func (h *hub) blockOf(rg Range, events []seenChange, base string, texts map[textKey][]byte) *block {
	b := &block{}
	for j, e := range events {
		c := rg.Changes[e.change]
		id := ChangeCursor{Seq: c.Seq, Order: endOfSeq}
		if j+1 < len(events) && rg.Changes[events[j+1].change].Seq == c.Seq {
			id = c.key(false) // more of its number follow
		}
		k := textKey{e.change, base, e.role}
		text, ok := texts[k]
		if !ok {
			c.List.Role = e.role
			text = h.render(nil, base, c)
			texts[k] = text
		}
		b.keys, b.offs = append(b.keys, c.key(false)), append(b.offs, len(b.text))
		b.text = append(appendID(b.text, id), text...)
	}
	return b
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
			case st.events > maxWaiting: // a client that does not read is not waited for
				h.logger.Info("events: closed the stream of a client that does not read", "user", st.user, "waiting", st.events)
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
		if st == nil { // what is over is being written: a write kicked gives it back
			break
		}
		h.logger.Info("events: closed the stream with the most waiting: the streams' budget is spent", "user", st.user, "events", st.events)
		h.close(st)
	}
}

// fullest is the open stream with the most events queued, if any has some.
func (h *hub) fullest() *stream {
	var fullest *stream
	for _, list := range h.streams {
		for _, st := range list {
			if !st.closed && st.events > 0 && (fullest == nil || st.events > fullest.events) {
				fullest = st
			}
		}
	}
	return fullest
}
