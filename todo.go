package main

// The todo: its fields, their rules with their messages, its JSON shape
// declared once (and the fast encoder that writes it), a write to it as
// values, and what a list of todos asks for. Nothing here knows of HTTP or SQL.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
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
)

// Todo is one item of the list. Its json tags are the API's shape of a todo
// (API.md, "The todo"): encoding/json of a Todo is exactly what a client
// reads. The service writes that shape by hand (Render, AppendJSON), several
// times faster; TestRenderIsEncodingJSON holds the two together.
type Todo struct {
	ID          int64      `json:"id"`
	Title       string     `json:"title"`
	Notes       string     `json:"notes"`
	Completed   bool       `json:"completed"`
	Order       int64      `json:"order"`
	Due         *Timestamp `json:"due"` // nil: no due time
	CreatedAt   Timestamp  `json:"created_at"`
	UpdatedAt   Timestamp  `json:"updated_at"`
	CompletedAt *Timestamp `json:"completed_at"` // nil while not completed
	ListID      int64      `json:"list_id"`
	// URL is the todo's address. It depends on the request (its host, or
	// -base-url), so the store leaves it empty and AppendJSON writes it.
	URL     string `json:"url"`
	Version int64  `json:"-"` // changes with every write; the ETag is made of it
}

// RenderedTodo is a todo rendered as JSON, as the store keeps it and hands it
// out: Members holds the object's members other than id and url (the url
// depends on the request), rendered once at every write so that a read only
// copies them. Members is shared: read-only.
type RenderedTodo struct {
	ID      int64
	Version int64 // the ETag is made of it
	ListID  int64 // who may read it depends on it
	Members []byte
}

// AppendJSON appends the todo's JSON object. Its url is collection, the
// absolute URL of the collection ending in a slash, followed by its id.
func (t RenderedTodo) AppendJSON(b []byte, collection string) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, t.ID, 10)
	b = append(append(b, ','), t.Members...)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, collection)
	b = strconv.AppendInt(b[:len(b)-1], t.ID, 10) // before the closing quote
	return append(b, `"}`...)
}

// Render renders t as encoding/json would, but for id and url. By hand,
// because encoding/json took several times as long.
func (t Todo) Render() RenderedTodo {
	return RenderedTodo{ID: t.ID, Version: t.Version, ListID: t.ListID, Members: t.appendMembers(make([]byte, 0, 256))}
}

func (t Todo) appendMembers(b []byte) []byte {
	b = append(b, `"title":`...)
	b = appendJSONString(b, t.Title)
	b = append(b, `,"notes":`...)
	b = appendJSONString(b, t.Notes)
	b = append(b, `,"completed":`...)
	b = strconv.AppendBool(b, t.Completed)
	b = append(b, `,"order":`...)
	b = strconv.AppendInt(b, t.Order, 10)
	b = append(b, `,"due":`...)
	b = appendJSONTime(b, t.Due)
	b = append(b, `,"created_at":`...)
	b = appendJSONTime(b, &t.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendJSONTime(b, &t.UpdatedAt)
	b = append(b, `,"completed_at":`...)
	b = appendJSONTime(b, t.CompletedAt)
	b = append(b, `,"list_id":`...)
	return strconv.AppendInt(b, t.ListID, 10)
}

// appendJSONString appends s as a JSON string (RFC 8259): quotes, backslashes
// and control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(append(b, s[start:i]...), `\ufffd`...)
				start = i + size
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

// stamp sets what the server owns after a write at now: the timestamps and the
// version. old is the todo before the write, nil for a new one.
func (t *Todo) stamp(old *Todo, now time.Time) {
	t.UpdatedAt = Timestamp{now}
	if old == nil {
		t.CreatedAt = Timestamp{now}
		t.Version = FirstVersion
	} else {
		t.ID, t.CreatedAt, t.Version = old.ID, old.CreatedAt, old.Version+1
		t.CompletedAt = old.CompletedAt
	}
	switch {
	case !t.Completed:
		t.CompletedAt = nil
	case t.CompletedAt == nil: // completed just now
		t.CompletedAt = &Timestamp{now}
	}
}

// sameContent reports whether a and b hold the same client-visible fields, so
// that a write which changes nothing is not a change. It compares every field
// a client can write: TestSameContentCoversEveryField fails when one is added
// to Todo and not here.
func sameContent(a, b Todo) bool {
	return a.Title == b.Title && a.Notes == b.Notes && a.Completed == b.Completed &&
		a.Order == b.Order && equalTimePtr(a.Due, b.Due) && a.ListID == b.ListID
}

func equalTimePtr(a, b *Timestamp) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b.Time)
}

// FirstVersion is the version of a todo as created.
const FirstVersion = 1

// Versions is a set of a todo's versions, as an If-Match or If-None-Match
// header names them.
type Versions struct {
	Any  bool // "*": every version
	List []int64
}

// Has reports whether version is in the set.
func (v *Versions) Has(version int64) bool { return v.Any || slices.Contains(v.List, version) }

// checkVersion is the precondition of a write on t: with ifMatch set, t's
// version must be in it.
func checkVersion(ifMatch *Versions, t Todo) error {
	if ifMatch != nil && !ifMatch.Has(t.Version) {
		return Errorf(EPRECONDITION, "If-Match does not match the todo's current ETag")
	}
	return nil
}

// TodoUpdate is a write to a todo that exists: a merge patch (RFC 7396) of
// Input or, with Replace, a replacement by it in which the fields left out
// take their defaults; with IfMatch, only if the todo's version is in it.
type TodoUpdate struct {
	Input   TodoInput
	Replace bool
	IfMatch *Versions
}

// Apply returns the todo that u makes of old, or EPRECONDITION, or EINVALID
// with every broken field rule, in that order. The store keeps old's id,
// created_at and version (stamp).
func (u TodoUpdate) Apply(old Todo) (Todo, error) {
	if err := checkVersion(u.IfMatch, old); err != nil {
		return old, err
	}
	t := old
	var problems []FieldError
	if u.Replace {
		t, problems = NewTodo(u.Input)
		if !u.Input.ListID.Present { // a replace keeps the todo in its list
			t.ListID = old.ListID
		}
	} else {
		problems = u.Input.ApplyTo(&t)
	}
	if problems != nil {
		return old, invalidTodo(problems)
	}
	return t, nil
}

func invalidTodo(problems []FieldError) error {
	return &Error{Code: EINVALID, Message: "the todo is not valid", Fields: problems}
}

// Optional is a value in a request body that may be absent, null, or set.
type Optional[T any] struct {
	Present bool // the field was present
	Null    bool // it was JSON null
	Value   T
	// unpaired notes an escaped surrogate without its pair ("\ud800"), which
	// encoding/json would quietly turn into U+FFFD: a field rule refuses it.
	unpaired bool
}

// UnmarshalJSON records that the field was present, and whether it was null.
func (f *Optional[T]) UnmarshalJSON(b []byte) error {
	f.Present = true
	f.unpaired = hasUnpairedSurrogate(b)
	if string(b) == "null" {
		f.Null = true
		return nil
	}
	return json.Unmarshal(b, &f.Value)
}

const unpairedMessage = `must not contain an unpaired surrogate, like \ud800: it is no character`

// hasUnpairedSurrogate reports whether the JSON value b escapes half of a
// surrogate pair (RFC 8259, section 8.2) without the other half.
func hasUnpairedSurrogate(b []byte) bool {
	isHalf := func(i int, lo, hi rune) bool { // is b[i:] a \uXXXX escape within lo..hi?
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return false
		}
		r, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
		return err == nil && rune(r) >= lo && rune(r) <= hi
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		switch {
		case isHalf(i, 0xD800, 0xDBFF) && isHalf(i+6, 0xDC00, 0xDFFF):
			i += 11 // the pair
		case isHalf(i, 0xD800, 0xDFFF):
			return true
		default:
			i++ // an escape of one character: \\ or \" are not the start of another
		}
	}
	return false
}

// TodoInput is the body of a create (POST), a replace (PUT) or a merge patch
// (PATCH): the fields a client may write.
type TodoInput struct {
	Title     Optional[string] `json:"title"`
	Notes     Optional[string] `json:"notes"`
	Completed Optional[bool]   `json:"completed"`
	Order     Optional[int64]  `json:"order"`
	Due       Optional[string] `json:"due"`
	ListID    Optional[int64]  `json:"list_id"` // absent on a create: the caller's default list
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
	if !in.Title.Present {
		problems = append([]FieldError{{"title", "is required"}}, problems...)
	}
	return t, problems
}

// ApplyTo sets the fields present in in on t (RFC 7396 merge patch), and
// returns every field that breaks a rule. t is only meaningful without problems.
func (in TodoInput) ApplyTo(t *Todo) []FieldError {
	var problems []FieldError
	bad := func(field, message string) { problems = append(problems, FieldError{field, message}) }

	if f := in.Title; f.Present {
		title := strings.TrimSpace(f.Value)
		switch {
		case f.Null:
			bad("title", "must not be null")
		case f.unpaired:
			bad("title", unpairedMessage)
		case checkTitle(title, maxTitleLen) != "":
			bad("title", checkTitle(title, maxTitleLen))
		}
		t.Title = title
	}
	if f := in.Notes; f.Present {
		switch {
		case f.unpaired:
			bad("notes", unpairedMessage)
		case utf8.RuneCountInString(f.Value) > maxNotesLen:
			bad("notes", fmt.Sprintf("must be at most %d characters", maxNotesLen))
		case strings.ContainsFunc(f.Value, isForbiddenInNotes):
			bad("notes", `must not contain control characters other than \n, \r and \t`)
		}
		t.Notes = f.Value // "" when null
	}
	if f := in.Completed; f.Present {
		if f.Null {
			bad("completed", "must be true or false, not null")
		}
		t.Completed = f.Value
	}
	if f := in.Order; f.Present {
		switch {
		case f.Null:
			bad("order", "must be an integer, not null")
		case f.Value > maxJSONInt || f.Value < -maxJSONInt:
			bad("order", fmt.Sprintf("must be between %d and %d", -maxJSONInt, maxJSONInt))
		}
		t.Order = f.Value
	}
	if f := in.Due; f.Present {
		t.Due = nil
		if !f.Null {
			due, err := ParseTime(f.Value)
			if err != nil {
				bad("due", "must be an RFC 3339 date-time in the years 0001 to 9999, like 2026-11-22T10:04:05Z, or null")
			}
			t.Due = &Timestamp{due}
		}
	}
	if f := in.ListID; f.Present {
		if f.Null || f.Value < 1 {
			bad("list_id", "must be the id of a list")
		}
		t.ListID = f.Value
	}
	return problems
}

// checkTitle returns what is wrong with a trimmed title, a todo's or a
// list's, or "".
func checkTitle(title string, maxLen int) string {
	switch {
	case title == "":
		return "must not be empty"
	case utf8.RuneCountInString(title) > maxLen:
		return fmt.Sprintf("must be at most %d characters", maxLen)
	case strings.ContainsFunc(title, unicode.IsControl):
		return "must not contain control characters"
	}
	return ""
}

func isForbiddenInNotes(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
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

// sortKeys are the sort keys a list takes.
var sortKeys = []SortKey{SortByID, SortByDue, SortByOrder, SortByUpdatedAt}

// Filter is what a list asks for: which todos, in which order, from where.
type Filter struct {
	Completed    *bool
	Text         string // in title or notes, ASCII case-insensitively
	DueBefore    *time.Time
	DueAfter     *time.Time
	UpdatedSince *time.Time
	ListID       int64 // 0: every list the caller can read
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
