package main

// The service's one error type, with the codes that the domain, the store and
// the handlers speak. Nothing here knows of HTTP: statusOf, in response.go,
// maps a code to a status.

import (
	"errors"
	"fmt"
	"time"
)

// Error codes say what went wrong.
const (
	EMALFORMED    = "malformed"    // input that cannot be read at all
	EINVALID      = "invalid"      // well-formed input that breaks a rule
	EUNAUTHORIZED = "unauthorized" // no token, or a wrong one
	EFORBIDDEN    = "forbidden"    // the caller may not do this
	ENOTFOUND     = "not_found"
	ENOTALLOWED   = "not_allowed" // a method the path does not serve
	EMISDIRECTED  = "misdirected" // a Host that the service does not answer for
	ECONFLICT     = "conflict"
	EPRECONDITION = "precondition_failed" // If-Match does not match
	EEXPIRED      = "sync_expired"        // a sync token older than the change log keeps
	ETOOLARGE     = "too_large"
	ETOOMANY      = "too_many_requests" // too many failed sign-ins, or streams: see Error.RetryAfter
	EUNSUPPORTED  = "unsupported_media_type"
	EUNAVAILABLE  = "unavailable" // the database did not answer in time, or failed to
	EFULL         = "full"        // the database has no room for a write
	EINTERNAL     = "internal"    // a bug
)

// Error is the service's one error type. Message and Fields are for the
// client; Err, the cause, is only logged.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	Err     error
	// RetryAfter is when the client may try again, for ETOOMANY.
	RetryAfter time.Duration
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
