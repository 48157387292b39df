package main

// GET /v1/events: the live events (API.md, "Live events") as Server-Sent
// Events. A stream first reads its user's feed from where its client was
// (Last-Event-ID, or ?since=, else now), then writes what the hub
// (events.go) queues for it, and reads its feed again whenever the hub says
// it must. Every event's id is the feed's token after it.

import (
	"errors"
	"net/http"
	"time"
)

const (
	eventsRetry = "2000"   // ms: how long EventSource waits before it reconnects
	feedPage    = 500      // changes of the feed read at once
	streamChunk = 32 << 10 // a piece of a stream written under one deadline: 30 s at about 1 KB/s
)

// heartbeatEvery is how often an idle stream sends a comment, so that
// proxies keep it open. A variable: the tests shorten it.
var heartbeatEvery = 20 * time.Second

// appendEvent appends the event of c, as seen from base, without its id.
func appendEvent(b []byte, base string, c Change) []byte {
	b = append(b, "event: change\ndata: "...)
	return append(appendChange(b, base, c), "\n\n"...)
}

func appendID(b []byte, after ChangeCursor) []byte {
	b = append(b, "id: "...)
	return append(append(b, encodeChangeCursor(after)...), '\n')
}

func (s *server) streamEvents(w http.ResponseWriter, r *http.Request) {
	pos, err := parseEventsStart(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	if r.Method == http.MethodHead { // what a stream would start with, and no stream
		w.WriteHeader(http.StatusOK)
		return
	}
	rc := http.NewResponseController(w)
	// net.Conn's methods may be called from any goroutine: the hub kicks a
	// slow stream by making its write fail at once.
	st, err := s.events.subscribe(callerFrom(r.Context()).User, s.baseURL(r), func() { rc.SetWriteDeadline(time.Now()) })
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer s.events.unsubscribe(st)
	stale := true // the stream reads its feed after pos first; started now where the hub is, it need not
	if pos == nil {
		seq, ok := s.events.joinNow(st)
		if !ok {
			if seq, err = s.store.LastSeq(r.Context()); err != nil {
				writeError(w, r, err)
				return
			}
		}
		pos, stale = &ChangeCursor{Seq: seq, Order: endOfSeq}, !ok
	}
	// The server's read timeout would end the request's context: a stream
	// reads nothing more of its client, and lives as long as it reads.
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return
	}
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	w.WriteHeader(http.StatusOK)
	out := &eventWriter{w: w, rc: rc, buf: []byte("retry: " + eventsRetry + "\n\n")}
	if out.flush() != nil {
		return
	}
	s.follow(r, out, st, pos, stale)
}

// follow writes the stream's events until it must end: its feed when the
// hub says it must, else what the hub queues for it, and a comment when
// there is nothing to say.
func (s *server) follow(r *http.Request, out *eventWriter, st *stream, pos *ChangeCursor, stale bool) {
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	var blocks []*block
	for {
		if stale && !s.catchUp(r, out, st, pos) {
			return
		}
		var closed bool
		blocks, stale, closed = s.events.take(st, blocks[:0])
		switch {
		case closed:
			return
		case len(blocks) > 0:
			if s.writeBlocks(out, blocks, pos) != nil {
				return
			}
			clear(blocks) // they may go
			continue
		case stale:
			continue
		}
		select {
		case <-st.wake:
		case <-heartbeat.C:
			// A token or a session revoked since ends the stream.
			if callerFrom(r.Context()).Credential != 0 {
				if _, err := s.accountCaller(r); err != nil {
					return
				}
			}
			out.buf = append(out.buf, ": ping\n\n"...)
			if out.flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// writeBlocks writes what the blocks that the stream took from the hub hold
// after pos, and moves pos.
func (s *server) writeBlocks(out *eventWriter, blocks []*block, pos *ChangeCursor) error {
	defer s.events.written(blocks)
	for _, b := range blocks {
		var text []byte
		if text, *pos = b.after(*pos); len(text) > 0 {
			if err := writeIn(out.w, out.rc, text, streamChunk); err != nil {
				return err
			}
		}
	}
	return out.rc.Flush()
}

// catchUp writes the feed of st's user after pos until it has caught up
// with the hub, and moves pos. It reports false when the stream must end.
func (s *server) catchUp(r *http.Request, out *eventWriter, st *stream, pos *ChangeCursor) bool {
	base, user := s.baseURL(r), callerFrom(r.Context()).User
	for {
		s.events.readFeed(st)
		for more := true; more; {
			var err error
			more, err = s.writeFeedPage(r, out, base, user, pos)
			switch {
			case err == nil:
			case ErrorCode(err) == EUNAVAILABLE: // busy: the stream waits a moment for its turn
				select {
				case <-time.After(publishRetry):
				case <-r.Context().Done():
					return false
				}
			case ErrorCode(err) == EEXPIRED:
				out.buf = append(out.buf, "event: reset\ndata: {\"type\":\"/problems/sync-expired\"}\n\n"...)
				out.flush()
				return false
			default:
				return false
			}
		}
		if s.events.caughtUp(st, pos.Seq) {
			return true
		}
	}
}

// writeFeedPage writes a page of the feed of user after pos, and moves pos.
func (s *server) writeFeedPage(r *http.Request, out *eventWriter, base string, user int64, pos *ChangeCursor) (more bool, err error) {
	if err := s.memory.take(r.Context(), pageCost); err != nil {
		return true, err
	}
	defer s.memory.give(pageCost)
	changes, next, more, err := s.store.Changes(r.Context(), user, *pos, feedPage)
	if err != nil {
		return true, err
	}
	for _, c := range changes {
		out.buf = appendEvent(appendID(out.buf, c.After), base, c)
	}
	*pos = next
	return more, out.flush()
}

// parseEventsStart reads where a stream starts: after Last-Event-ID (which
// EventSource sends when it reconnects), else after ?since= (a token of the
// feed), else (nil) now.
func parseEventsStart(r *http.Request) (*ChangeCursor, error) {
	values, problems := queryParameters(r.URL.RawQuery, "since")
	if problems != nil {
		return nil, queryError(problems)
	}
	name, token := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if token == "" {
		if !values.Has("since") {
			return nil, nil
		}
		name, token = "since", values.Get("since")
	}
	c, ok := decodeChangeCursor(token)
	if !ok {
		return nil, &Error{Code: EMALFORMED, Message: "the stream cannot start there",
			Fields: []FieldError{{name, "is not a sync token; take it from an event's id or the feed's next"}}}
	}
	return &c, nil
}

// eventWriter gathers a stream's events and sends them.
type eventWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
}

// flush sends what was gathered, and all of it.
func (e *eventWriter) flush() error {
	err := writePieces(e.w, e.rc, e.buf)
	e.buf = e.buf[:0]
	if cap(e.buf) > maxPageBytes { // a page of the feed: not kept for the stream's life
		e.buf = nil
	}
	if err != nil {
		return err
	}
	return e.rc.Flush()
}
