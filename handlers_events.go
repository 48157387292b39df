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
	eventsRetry = "2000" // ms: how long EventSource waits before it reconnects
	feedPage    = 500    // changes of the feed read at once
	streamChunk = 64 << 10
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
	rc := http.NewResponseController(w)
	// net.Conn's methods may be called from any goroutine: the hub kicks a
	// slow stream by making its write fail at once.
	st, err := s.events.subscribe(callerFrom(r.Context()).User, s.baseURL(r), func() { rc.SetWriteDeadline(time.Now()) })
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer s.events.unsubscribe(st)
	stale := true // the stream starts with its feed, but from now where the hub is
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
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
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
	var items []item
	for {
		if stale && !s.catchUp(r, out, st, pos) {
			return
		}
		var closed bool
		items, stale, closed = s.events.take(st, items[:0])
		switch {
		case closed:
			return
		case len(items) > 0:
			if s.writeItems(out, st, items, pos) != nil {
				return
			}
			clear(items) // the texts may go
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

// writeItems writes the events that st took from the hub, streamChunk
// bytes at a time, and moves pos.
func (s *server) writeItems(out *eventWriter, st *stream, items []item, pos *ChangeCursor) error {
	from := 0
	for i, it := range items {
		if compareKeys(it.key, *pos) > 0 {
			out.buf = append(appendID(out.buf, it.id()), it.text.b...)
			*pos = it.id()
		}
		if len(out.buf) >= streamChunk || i == len(items)-1 {
			err := out.flush()
			if err != nil {
				i = len(items) - 1 // what is left is given up on as well
			}
			s.events.written(st, items[from:i+1])
			if err != nil {
				return err
			}
			from = i + 1
		}
	}
	return nil
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
	var problems []FieldError
	for name, vs := range r.URL.Query() {
		switch {
		case name != "since":
			problems = append(problems, FieldError{name, "is not a parameter of this route"})
		case len(vs) > 1:
			problems = append(problems, FieldError{name, "is given more than once"})
		}
	}
	if problems != nil {
		return nil, queryError(problems)
	}
	name, token := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if token == "" {
		name, token = "since", r.URL.Query().Get("since")
		if !r.URL.Query().Has("since") {
			return nil, nil
		}
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

// flush sends what was gathered: as one write, under one write deadline, up
// to a chunk of events (see writeItems), else in pieces.
func (e *eventWriter) flush() error {
	var err error
	if len(e.buf) <= streamChunk+maxTodoBytes {
		if err = e.rc.SetWriteDeadline(time.Now().Add(pieceWriteTimeout)); err == nil || errors.Is(err, http.ErrNotSupported) {
			_, err = e.w.Write(e.buf)
		}
	} else {
		err = writePieces(e.w, e.rc, e.buf)
	}
	if err == nil {
		err = e.rc.Flush()
	}
	e.buf = e.buf[:0]
	if cap(e.buf) > 2*streamChunk { // a page of the feed: not kept for the stream's life
		e.buf = nil
	}
	return err
}
