package main

// Writing a response: JSON, a todo with its ETag, a page of todos with its
// Link, a stream of NDJSON lines, and problem JSON for every error, with
// statusOf, the one place where an error code becomes an HTTP status.
// Nothing here reads the request's input.

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"
)

const (
	retryAfter = "1" // what a 503 tells the client to wait, in seconds
	// An export is read from the database exportBatch bytes at a time; it and
	// a page are sent in pieces of writePiece bytes (see writePieces).
	exportBatch = 256 << 10
	writePiece  = 16 << 10
)

// pieceWriteTimeout bounds the write of each piece of an export or a page. A
// variable only so that a test can wait less.
var pieceWriteTimeout = 30 * time.Second

// etag is the strong validator of a todo at version, quoted as the header carries it.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// writeTodo answers with t as JSON, and its ETag; collection is the URL its url starts with.
func writeTodo(w http.ResponseWriter, status int, t RenderedTodo, collection string) {
	w.Header().Set("ETag", etag(t.Version))
	body := t.AppendJSON(make([]byte, 0, 512), collection)
	writeJSON(w, status, append(body, '\n'))
}

// encode answers with v as JSON.
func encode(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	writeJSON(w, status, append(body, '\n'))
}

// writeJSON answers with body, a JSON text; one larger than a piece (a
// page) goes out in pieces, each under its own write deadline.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	// An error here means the client is gone, or stopped reading: nothing to do.
	if len(body) <= writePiece {
		w.Write(body)
	} else {
		writePieces(w, http.NewResponseController(w), body)
	}
}

// pageCost is what a page may hold, taken from the memory budget: its bytes,
// and the todo that passes them.
const pageCost = maxPageBytes + maxTodoBytes

// errPageFull ends the query of a page that is full.
var errPageFull = errors.New("the page is full")

// todoPage gathers a page of todos as a JSON array. It is handed one row
// more than the page holds, which it does not keep: that row tells that a
// next page follows.
type todoPage struct {
	body       []byte
	collection string
	limit      int
	rows       int
	last       Position // of the last todo on the page: the next page's cursor
	more       bool
}

func newTodoPage(collection string, limit int) *todoPage {
	return &todoPage{body: append(make([]byte, 0, 4096), '['), collection: collection, limit: limit}
}

// add appends t, at its place in the list, to the page. Past limit rows or
// maxPageBytes, the page is full, and t starts the next one.
func (p *todoPage) add(t RenderedTodo, at Position) error {
	if p.rows == p.limit || len(p.body) >= maxPageBytes {
		p.more = true
		return errPageFull
	}
	if p.rows > 0 {
		p.body = append(p.body, ',')
	}
	p.body = t.AppendJSON(p.body, p.collection)
	p.last, p.rows = at, p.rows+1
	return nil
}

// finish closes the page's array and returns its body.
func (p *todoPage) finish() []byte {
	p.body = append(p.body, "]\n"...)
	return p.body
}

// writePage answers with a page's body; next, when not empty, is the URL of
// the next page, for the Link header (RFC 8288).
func writePage(w http.ResponseWriter, body []byte, next string) {
	if next != "" {
		w.Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, body)
}

// writePieces writes data in pieces of writePiece bytes, each under a fresh
// write deadline of pieceWriteTimeout: a client that reads 1 KB a second
// takes 16 s a piece and gets everything; one that stops reading is cut off.
func writePieces(w http.ResponseWriter, rc *http.ResponseController, data []byte) error {
	return writeIn(w, rc, data, writePiece)
}

// writeIn is writePieces with pieces of size bytes.
func writeIn(w http.ResponseWriter, rc *http.ResponseController, data []byte, size int) error {
	for len(data) > 0 {
		err := rc.SetWriteDeadline(time.Now().Add(pieceWriteTimeout))
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		piece := min(len(data), size)
		if _, err := w.Write(data[:piece]); err != nil {
			return err
		}
		data = data[piece:]
	}
	return nil
}

// ndjsonStream writes todos as NDJSON, one a line, gathering up to
// exportBatch bytes and sending them in pieces: its memory does not grow with
// the rows. Each piece is written under a fresh write deadline: a stream is
// cut off when the client stops reading, not because it is long.
type ndjsonStream struct {
	w          http.ResponseWriter
	rc         *http.ResponseController
	collection string
	buf        []byte
	sent       bool // the status line is out: an error can no longer be a problem
}

func newNDJSONStream(w http.ResponseWriter, collection string) *ndjsonStream {
	w.Header().Set("Content-Type", "application/x-ndjson")
	return &ndjsonStream{w: w, rc: http.NewResponseController(w), collection: collection,
		buf: make([]byte, 0, exportBatch+maxTodoBytes)}
}

// add appends t's line, and reports whether the batch is full: time to flush.
func (st *ndjsonStream) add(t RenderedTodo) (full bool) {
	st.buf = append(t.AppendJSON(st.buf, st.collection), '\n')
	return len(st.buf) >= exportBatch
}

// flush sends what add gathered.
func (st *ndjsonStream) flush() error {
	if len(st.buf) == 0 {
		return nil
	}
	st.sent = true
	err := writePieces(st.w, st.rc, st.buf)
	st.buf = st.buf[:0]
	if err == nil {
		// What a compressor holds goes too: the client has every line so far.
		if err = st.rc.Flush(); errors.Is(err, http.ErrNotSupported) {
			err = nil
		}
	}
	return err
}

// end sends what is left, or answers err: as a problem while nothing was
// sent, else by cutting the stream off without its last chunk, so that the
// client sees that it is incomplete.
func (st *ndjsonStream) end(r *http.Request, err error) {
	if err == nil {
		err = st.flush()
	}
	switch {
	case err == nil: // with no rows, net/http sends the 200 and its headers
	case !st.sent:
		writeError(st.w, r, err)
	default:
		requestInfoFrom(r.Context()).logger().Warn("export cut short", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// statusOf is the HTTP status of an error code.
func statusOf(code string) int {
	switch code {
	case EMALFORMED:
		return http.StatusBadRequest
	case EINVALID:
		return http.StatusUnprocessableEntity
	case EUNAUTHORIZED:
		return http.StatusUnauthorized
	case EFORBIDDEN:
		return http.StatusForbidden
	case ENOTFOUND:
		return http.StatusNotFound
	case ENOTALLOWED:
		return http.StatusMethodNotAllowed
	case EMISDIRECTED:
		return http.StatusMisdirectedRequest
	case ECONFLICT:
		return http.StatusConflict
	case EPRECONDITION:
		return http.StatusPreconditionFailed
	case EEXPIRED:
		return http.StatusGone
	case ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case ETOOMANY:
		return http.StatusTooManyRequests
	case EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case EFULL:
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

// problem is an RFC 9457 problem details body.
type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Instance  string       `json:"instance"`
	RequestID string       `json:"request_id"`
	Errors    []FieldError `json:"errors,omitempty"`
}

// problemType is the problem's type: about:blank, but for the one problem
// whose type a client acts on.
func problemType(code string) string {
	if code == EEXPIRED {
		return "/problems/sync-expired" // start over with a full sync
	}
	return "about:blank"
}

// writeError answers r with err as problem JSON. An internal error is logged in
// full and shown to the client only as a failure with the request id.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	info := requestInfoFrom(r.Context())
	code := ErrorCode(err)
	status := statusOf(code)
	p := problem{
		Type:      problemType(code),
		Title:     http.StatusText(status),
		Status:    status,
		Instance:  r.URL.EscapedPath(),
		RequestID: info.id,
	}
	var e *Error
	if code == EINTERNAL || !errors.As(err, &e) {
		info.logger().Error("internal error", "err", err)
		p.Detail = "something failed on our side; the log has the details under this request id"
	} else {
		p.Detail, p.Errors = e.Message, e.Fields
		level := slog.LevelDebug // the client's mistake, already in the response
		if status >= 500 {
			level = slog.LevelWarn
		}
		if e.Err != nil && info.log.Enabled(r.Context(), level) {
			info.logger().Log(r.Context(), level, "request failed", "code", code, "err", e.Err)
		}
	}

	h := w.Header()
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="todo"`)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", retryAfter)
	case http.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	body, merr := json.Marshal(p)
	if merr != nil { // cannot happen: every field is a string, an int or a FieldError
		info.logger().Error("encode problem", "err", merr)
	}
	body = append(body, '\n')
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("ETag")
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
		info.logger().Debug("write problem", "err", err)
	}
}
