package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
)

// Error codes say what went wrong in words that the domain, the store and the
// handlers share. statusOf is the one place that turns them into HTTP statuses.
const (
	EMALFORMED    = "malformed"    // input that cannot be read at all
	EINVALID      = "invalid"      // well-formed input that breaks a rule
	EUNAUTHORIZED = "unauthorized" // no token, or a wrong one
	ENOTFOUND     = "not_found"
	ENOTALLOWED   = "not_allowed" // a method the path does not serve
	ECONFLICT     = "conflict"
	EPRECONDITION = "precondition_failed" // If-Match does not match
	ETOOLARGE     = "too_large"
	EUNSUPPORTED  = "unsupported_media_type"
	EUNAVAILABLE  = "unavailable" // the database did not answer in time, or failed to
	EFULL         = "full"        // the database has no room for a write
	EINTERNAL     = "internal"    // a bug
)

// retryAfter is what a 503 tells the client to wait, in seconds.
const retryAfter = "1"

// Error is the service's one error type. Message and Fields are for the
// client; Err, the cause, is only logged.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	Err     error
}

// Errorf returns an *Error with code and a message for the client.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error returns the message and, after it, the cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of err, or EINTERNAL for an error that is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

func statusOf(code string) int {
	switch code {
	case EMALFORMED:
		return http.StatusBadRequest
	case EINVALID:
		return http.StatusUnprocessableEntity
	case EUNAUTHORIZED:
		return http.StatusUnauthorized
	case ENOTFOUND:
		return http.StatusNotFound
	case ENOTALLOWED:
		return http.StatusMethodNotAllowed
	case ECONFLICT:
		return http.StatusConflict
	case EPRECONDITION:
		return http.StatusPreconditionFailed
	case ETOOLARGE:
		return http.StatusRequestEntityTooLarge
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

// writeError answers r with err as problem JSON. An internal error is logged in
// full and shown to the client only as a failure with the request id.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	info := requestInfoFrom(r.Context())
	code := ErrorCode(err)
	status := statusOf(code)
	p := problem{
		Type:      "about:blank",
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
		h.Set("WWW-Authenticate", "Bearer")
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", retryAfter)
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
