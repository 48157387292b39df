package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The field rules of a todo (API.md, "The todo").
const (
	maxTitleLen = 500    // code points, after trimming
	maxNotesLen = 10_000 // code points
	maxJSONInt  = 1<<53 - 1
	timeLayout  = "2006-01-02T15:04:05.000Z" // RFC 3339, UTC, milliseconds
)

// Todo is one item of the list, as the store keeps it.
type Todo struct {
	ID          int64
	Title       string
	Notes       string
	Completed   bool
	Order       int64
	Due         *time.Time // nil: no due time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	CompletedAt *time.Time // nil while not completed
	Version     int64      // changes with every write; the ETag is made of it
}

// todoJSON is the JSON form of a todo that clients see.
type todoJSON struct {
	ID          int64   `json:"id"`
	Title       string  `json:"title"`
	Notes       string  `json:"notes"`
	Completed   bool    `json:"completed"`
	Order       int64   `json:"order"`
	Due         *string `json:"due"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	CompletedAt *string `json:"completed_at"`
	URL         string  `json:"url"`
}

// toJSON returns the client's view of t; url is the todo's absolute URL.
func (t Todo) toJSON(url string) todoJSON {
	return todoJSON{
		ID: t.ID, Title: t.Title, Notes: t.Notes, Completed: t.Completed, Order: t.Order,
		Due: formatTimePtr(t.Due), CreatedAt: formatTime(t.CreatedAt), UpdatedAt: formatTime(t.UpdatedAt),
		CompletedAt: formatTimePtr(t.CompletedAt), URL: url,
	}
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

// stamp sets what the server owns after a write at now: the timestamps and the
// version. old is the todo before the write, nil for a new one.
func (t *Todo) stamp(old *Todo, now time.Time) {
	t.UpdatedAt = now
	if old == nil {
		t.CreatedAt = now
		t.Version = 1
	} else {
		t.ID, t.CreatedAt, t.Version = old.ID, old.CreatedAt, old.Version+1
		t.CompletedAt = old.CompletedAt
	}
	switch {
	case !t.Completed:
		t.CompletedAt = nil
	case t.CompletedAt == nil: // completed just now
		t.CompletedAt = &now
	}
}

// sameContent reports whether a and b hold the same client-visible fields, so
// that a write which changes nothing is not a change.
func sameContent(a, b Todo) bool {
	return a.Title == b.Title && a.Notes == b.Notes && a.Completed == b.Completed &&
		a.Order == b.Order && equalTimePtr(a.Due, b.Due)
}

func equalTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// Field is a value in a request body that may be absent, null, or set.
type Field[T any] struct {
	Set   bool // the field was present
	Null  bool // it was JSON null
	Value T
}

// UnmarshalJSON records that the field was present, and whether it was null.
func (f *Field[T]) UnmarshalJSON(b []byte) error {
	f.Set = true
	if string(b) == "null" {
		f.Null = true
		return nil
	}
	return json.Unmarshal(b, &f.Value)
}

// TodoInput is the body of a create (POST), a replace (PUT) or a merge patch
// (PATCH): the fields a client may write.
type TodoInput struct {
	Title     Field[string] `json:"title"`
	Notes     Field[string] `json:"notes"`
	Completed Field[bool]   `json:"completed"`
	Order     Field[int64]  `json:"order"`
	Due       Field[string] `json:"due"`
}

// FieldError says what is wrong with one field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// NewTodo returns the todo that a create or a replace with in describes:
// fields left out take their defaults, and the title is required.
func NewTodo(in TodoInput) (Todo, []FieldError) {
	var t Todo
	problems := in.ApplyTo(&t)
	if !in.Title.Set {
		problems = append([]FieldError{{"title", "is required"}}, problems...)
	}
	return t, problems
}

// ApplyTo sets the fields present in in on t (RFC 7396 merge patch), and
// returns every field that breaks a rule. t is only meaningful without problems.
func (in TodoInput) ApplyTo(t *Todo) []FieldError {
	var problems []FieldError
	bad := func(field, message string) { problems = append(problems, FieldError{field, message}) }

	if f := in.Title; f.Set {
		title := strings.TrimSpace(f.Value)
		switch {
		case f.Null:
			bad("title", "must not be null")
		case title == "":
			bad("title", "must not be empty")
		case utf8.RuneCountInString(title) > maxTitleLen:
			bad("title", fmt.Sprintf("must be at most %d characters", maxTitleLen))
		case strings.ContainsFunc(title, unicode.IsControl):
			bad("title", "must not contain control characters")
		}
		t.Title = title
	}
	if f := in.Notes; f.Set {
		switch {
		case utf8.RuneCountInString(f.Value) > maxNotesLen:
			bad("notes", fmt.Sprintf("must be at most %d characters", maxNotesLen))
		case strings.ContainsFunc(f.Value, isForbiddenInNotes):
			bad("notes", `must not contain control characters other than \n, \r and \t`)
		}
		t.Notes = f.Value // "" when null
	}
	if f := in.Completed; f.Set {
		if f.Null {
			bad("completed", "must be true or false, not null")
		}
		t.Completed = f.Value
	}
	if f := in.Order; f.Set {
		switch {
		case f.Null:
			bad("order", "must be an integer, not null")
		case f.Value > maxJSONInt || f.Value < -maxJSONInt:
			bad("order", fmt.Sprintf("must be between %d and %d", -maxJSONInt, maxJSONInt))
		}
		t.Order = f.Value
	}
	if f := in.Due; f.Set {
		t.Due = nil
		if !f.Null {
			due, err := ParseTime(f.Value)
			if err != nil {
				bad("due", "must be an RFC 3339 date-time, like 2026-11-22T10:04:05Z, or null")
			}
			t.Due = &due
		}
	}
	return problems
}

func isForbiddenInNotes(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
}

// ParseTime reads an RFC 3339 date-time and returns it in UTC, to the
// millisecond the API keeps.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

// SortKey names the order of a list.
type SortKey string

// The sort keys of a list; ties are broken by id.
const (
	SortByID        SortKey = "id"
	SortByDue       SortKey = "due"
	SortByOrder     SortKey = "order"
	SortByUpdatedAt SortKey = "updated_at"
)

// noDue is the sort value of a todo without a due time: later than any other.
const noDue = math.MaxInt64

// Value returns t's value for the sort key k: the first half of a keyset
// position (the id is the second).
func (k SortKey) Value(t Todo) int64 {
	switch k {
	case SortByDue:
		if t.Due == nil {
			return noDue
		}
		return t.Due.UnixMilli()
	case SortByOrder:
		return t.Order
	case SortByUpdatedAt:
		return t.UpdatedAt.UnixMilli()
	}
	return t.ID
}

// Filter is what a list asks for: which todos, in which order, from where.
type Filter struct {
	Completed    *bool
	Text         string // in title or notes, ASCII case-insensitively
	DueBefore    *time.Time
	DueAfter     *time.Time
	UpdatedSince *time.Time
	Sort         SortKey
	Descending   bool
	After        *Position // keyset: only todos after this one in sort order
	Limit        int       // 0: no limit
}

// Position is a todo's place in a sorted list: its sort value and its id.
type Position struct {
	Value int64
	ID    int64
}
