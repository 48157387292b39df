package main

import (
	"errors"
	"fmt"
	"testing"
)

// TestErrorCode: the code of an *Error is found through wrapping; any other
// error is internal. The cause stays reachable, and in the text for the log.
func TestErrorCode(t *testing.T) {
	cause := errors.New("disk I/O error")
	e := &Error{Code: EUNAVAILABLE, Message: "the database could not write", Err: cause}
	for err, want := range map[error]string{
		e:                               EUNAVAILABLE,
		fmt.Errorf("write: %w", e):      EUNAVAILABLE,
		Errorf(ENOTFOUND, "todo %d", 7): ENOTFOUND,
		cause:                           EINTERNAL,
		fmt.Errorf("write: %w", cause):  EINTERNAL,
		errors.Join(errors.New("x"), e): EUNAVAILABLE,
	} {
		if got := ErrorCode(err); got != want {
			t.Errorf("ErrorCode(%v) = %q, want %q", err, got, want)
		}
	}
	if !errors.Is(e, cause) || e.Error() != "unavailable: the database could not write: disk I/O error" {
		t.Errorf("%q", e.Error())
	}
	if got := Errorf(ENOTFOUND, "todo %d does not exist", 7).Error(); got != "not_found: todo 7 does not exist" {
		t.Errorf("%q", got)
	}
}
