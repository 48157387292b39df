package main

// The hub of the live events (API.md, "Live events"): the streams open, by
// user, and their caps; what is queued for each, taken and written; a
// stream's moves between the hub's blocks and its own user's feed
// (Store.Changes), which it reads when the hub cannot serve it exactly (it
// starts from a token, it was given a list, one number changed too much);
// the closing of a slow stream. How the hub publishes is events_publish.go.
// Nothing here knows of SQL or HTTP.

import (
	"log/slog"
	"sync"
	"time"
)

const (
	maxStreamsPerUser = 8
	maxStreams        = 1_000
	maxWaiting        = 1_000    // events waiting for one stream: past it, the stream is closed
	waitingBudget     = 16 << 20 // bytes of events waiting, for all the streams together
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
	waiting int  // bytes of the blocks that streams hold: queued, or taken and not yet written
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

func newHub(store *Store, logger *slog.Logger, render func([]byte, string, Change) []byte) *hub {
	return &hub{store: store, logger: logger, render: render, streams: map[int64][]*stream{}, idle: make(chan struct{}, 1)}
}

// subscribe gives user a stream. It reads its feed first (readFeed, caughtUp),
// unless it starts where the hub is (joinNow).
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

// open is the number of streams open.
func (h *hub) open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
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
