package main

// The instants of the API: RFC 3339 read strictly, and written in UTC to the
// millisecond, in the years 0001 to 9999, so that every time the service
// writes can be read back. Nothing here knows of HTTP or SQL.

import (
	"errors"
	"strings"
	"time"
)

const timeLayout = "2006-01-02T15:04:05.000Z" // RFC 3339, UTC, milliseconds

// Timestamp is an instant as a todo holds it: in UTC, to the millisecond.
type Timestamp struct{ time.Time }

// MarshalJSON writes t as the API does: RFC 3339, UTC, three decimals.
func (t Timestamp) MarshalJSON() ([]byte, error) { return appendJSONTime(nil, &t), nil }

// appendJSONTime appends t as an RFC 3339 string in UTC to the millisecond,
// or null for nil.
func appendJSONTime(b []byte, t *Timestamp) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, timeLayout)
	return append(b, '"')
}

// ParseTime reads an RFC 3339 date-time (section 5.6: "T" and "Z" in either
// case, a fraction after a dot, an offset of Z or of at most 23:59) and
// returns it in UTC, to the millisecond the API keeps. Its year in UTC must be
// 0001 to 9999, so that it is written back as RFC 3339.
func ParseTime(s string) (time.Time, error) {
	if !isRFC3339(s) {
		return time.Time{}, errors.New("not an RFC 3339 date-time")
	}
	t, err := time.Parse(time.RFC3339, strings.ToUpper(s)) // the dates, hours and minutes that exist
	if err != nil {
		return time.Time{}, err
	}
	t = t.UTC().Truncate(time.Millisecond)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, errors.New("its year in UTC is not 0001 to 9999")
	}
	return t, nil
}

// isRFC3339 reports whether s has the form of an RFC 3339 date-time:
// 2006-01-02T15:04:05, a fraction after a dot or none, then Z or ±hh:mm with
// hh at most 23 and mm at most 59 (time.Parse alone takes 24:00, and a comma).
func isRFC3339(s string) bool {
	const form = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(form) {
		return false
	}
	for i := range len(form) {
		switch c := s[i]; form[i] {
		case 'd':
			if c < '0' || c > '9' {
				return false
			}
		case 'T':
			if c != 'T' && c != 't' {
				return false
			}
		default:
			if c != form[i] {
				return false
			}
		}
	}
	rest := s[len(form):]
	if frac, ok := strings.CutPrefix(rest, "."); ok {
		digits := len(frac) - len(strings.TrimLeft(frac, "0123456789"))
		if digits == 0 {
			return false
		}
		rest = frac[digits:]
	}
	if rest == "Z" || rest == "z" {
		return true
	}
	return len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigits(rest[1:3]) && isDigits(rest[4:6]) && rest[1:3] <= "23" && rest[4:6] <= "59"
}

func isDigits(s string) bool { return strings.Trim(s, "0123456789") == "" }
