package main

// How the hub of the live events publishes (events.go holds the hub and
// its streams): one goroutine, while streams are open, reads what the commits
// changed (Store.Published), once for every stream; has each change rendered
// once for each URL and role; gathers the events of the users who may see
// the same changes into one block of text; and queues the block for their
// streams, which write it at their clients' pace. Nothing here knows of SQL
// or HTTP.

import (
	"context"
	"encoding/binary"
	"runtime/debug"
	"time"
)

const (
	// publishEvery is the hub's pace: what commits within it goes out in
	// one write to each stream, not one a commit. Under a load of writes
	// that is what keeps a hundred streams from costing the writers half
	// their throughput in system calls; an event after a quiet moment goes
	// out at once.
	publishEvery = 50 * time.Millisecond
	publishRetry = 100 * time.Millisecond // after a read that failed
)

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
			k := st.base + "\x00" + string(key)
			b := blocks[k]
			if b == nil {
				b = h.blockOf(rg, events, st.base, texts)
				blocks[k] = b
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
