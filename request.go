package main

// Reading a request: its body, its query, the id in its path and the headers
// that change what it does. Everything here turns client input into values or
// a 4xx *Error that names what was wrong; nothing writes a response.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The limits of a request (API.md).
const (
	maxBodyBytes         = 1 << 20
	bodyReadSlack        = bytes.MinRead // what a read past the end needs in the buffer
	maxLimit             = 1000          // todos in a page
	maxQueryText         = 1000          // code points of q: its LIKE pattern stays far below SQLite's bound
	maxIdempotencyKeyLen = 255
)

// decode reads r's body, a JSON object, into v; the body must be one of
// mediaTypes. It returns the body, for fingerprints.
func decode(w http.ResponseWriter, r *http.Request, v any, mediaTypes ...string) ([]byte, error) {
	// A Content-Type on a request without a body is ignored: it is then an empty body.
	if r.ContentLength != 0 && !hasMediaType(r, mediaTypes) {
		return nil, Errorf(EUNSUPPORTED, "the body must be %s", strings.Join(mediaTypes, " or "))
	}
	// Refused by its declared length before a byte is read: a client that
	// sent Expect: 100-continue then sends nothing (no 100 Continue goes out).
	if r.ContentLength > maxBodyBytes {
		return nil, Errorf(ETOOLARGE, "the body is larger than %d bytes", maxBodyBytes)
	}
	// Read into a buffer of the declared size: io.ReadAll would grow one to
	// twice that.
	buf := bytes.NewBuffer(make([]byte, 0, max(r.ContentLength, 0)+bodyReadSlack))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	body := buf.Bytes()
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, Errorf(ETOOLARGE, "the body is larger than %d bytes", maxBodyBytes)
	case err != nil:
		return nil, &Error{Code: EMALFORMED, Message: "the body could not be read", Err: err}
	}
	return body, decodeObject(body, v, "the body")
}

// decodeObject reads data, one JSON object, into v (a pointer to a struct);
// what names data in the messages ("the body", "the line").
func decodeObject(data []byte, v any, what string) error {
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return Errorf(EMALFORMED, "%s is empty; send a JSON object", what)
	case !utf8.Valid(data):
		return Errorf(EMALFORMED, "%s is not valid UTF-8", what)
	case bytes.TrimLeft(data, " \t\r\n")[0] != '{' && json.Valid(data):
		return Errorf(EMALFORMED, "%s must be a JSON object", what)
	}
	// Unmarshal finds bad syntax, data after the end and wrong types (and
	// refuses anything but an object, null aside, which the line above
	// refused); checkMembers then reads the names again, exactly.
	if err := json.Unmarshal(data, v); err != nil {
		return fieldError(err, what)
	}
	if err := checkMembers(data, v); err != nil {
		return fieldError(err, what)
	}
	return nil
}

// checkMembers refuses a member at the top level of body, a valid JSON
// object, that is given twice or is not exactly the name of a field of v (a
// pointer to a struct): encoding/json would quietly keep the last of two, and
// take "TITLE" for "title", so two readers of one body could disagree.
func checkMembers(body []byte, v any) error {
	names := jsonNames(reflect.TypeOf(v).Elem())
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the opening brace
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		switch {
		case !slices.Contains(names, name):
			return &Error{Code: EMALFORMED, Message: "the body has an unknown field",
				Fields: []FieldError{{name, "is not a field of this request"}}}
		case seen[name]:
			return &Error{Code: EMALFORMED, Message: "the body has a field twice",
				Fields: []FieldError{{name, "is given more than once"}}}
		}
		seen[name] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return err
		}
	}
	return nil
}

// jsonNames are the JSON names of the fields of struct type t, those of its
// embedded structs included.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" {
			names = append(names, jsonNames(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// fieldError turns an error from reading JSON (what: "the body") into a 400
// without Go's words: a field of the wrong type is named, bad syntax is said
// to be so.
func fieldError(err error, what string) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		want := "of another type"
		switch typeErr.Type.Kind() {
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		case reflect.Int64:
			want = "an integer"
		}
		// Field is the path of Go names and JSON names to the value
		// ("TodoInput.order" in an embedded struct): the last is the member's.
		field := typeErr.Field[strings.LastIndexByte(typeErr.Field, '.')+1:]
		return &Error{Code: EMALFORMED, Message: "a field has the wrong type",
			Fields: []FieldError{{field, "must be " + want}}, Err: err}
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: EMALFORMED, Message: what + " is not valid JSON, or has data after its end", Err: err}
}

func hasMediaType(r *http.Request, mediaTypes []string) bool {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return false
	}
	return slices.Contains(mediaTypes, mt)
}

// acceptsNDJSON reports whether the client asked for the NDJSON export.
func acceptsNDJSON(r *http.Request) bool {
	for _, accept := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(accept, ",") {
			mt, params, err := mime.ParseMediaType(part)
			if err != nil || mt != "application/x-ndjson" {
				continue
			}
			if q, ok := params["q"]; ok {
				if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// parseID reads the {id} of the path: a positive integer, written plainly.
func parseID(r *http.Request) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, &Error{Code: EMALFORMED, Message: "the id in the path must be a positive integer",
			Fields: []FieldError{{"id", "must be a positive integer"}}}
	}
	return id, nil
}

// idempotencyKey reads the Idempotency-Key header, or returns nil without one.
func idempotencyKey(r *http.Request) (*IdempotencyKey, error) {
	values := r.Header.Values("Idempotency-Key")
	if values == nil {
		return nil, nil
	}
	if len(values) > 1 || !printableASCII(values[0], maxIdempotencyKeyLen) {
		return nil, &Error{Code: EMALFORMED, Message: "the Idempotency-Key header is not valid",
			Fields: []FieldError{{"Idempotency-Key", fmt.Sprintf("must be one value of 1 to %d printable ASCII characters", maxIdempotencyKeyLen)}}}
	}
	return &IdempotencyKey{Key: values[0]}, nil
}

func printableASCII(s string, maxLen int) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ifMatch reads If-Match: the versions that a write may apply to, or nil
// without the header. Its comparison is strong (RFC 9110, 13.1.1): a weak tag
// names no version.
func ifMatch(h http.Header) *Versions { return readETags(h.Values("If-Match"), false) }

// ifNoneMatch reads If-None-Match, whose comparison is weak (RFC 9110,
// 13.1.2): W/"3" names version 3 as "3" does. nil without the header.
func ifNoneMatch(h http.Header) *Versions { return readETags(h.Values("If-None-Match"), true) }

// readETags reads lists of entity tags as the versions they name; a tag that
// etag (response.go) would not have written names none.
func readETags(lists []string, weak bool) *Versions {
	if lists == nil {
		return nil
	}
	v := &Versions{}
	for _, list := range lists {
		for tag := range strings.SplitSeq(list, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" {
				v.Any = true
				continue
			}
			if rest, ok := strings.CutPrefix(tag, "W/"); ok {
				if !weak {
					continue
				}
				tag = rest
			}
			if version, ok := versionOf(tag); ok {
				v.List = append(v.List, version)
			}
		}
	}
	return v
}

// versionOf reads the version out of a tag that etag wrote: "3" is 3.
func versionOf(tag string) (int64, bool) {
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return 0, false
	}
	digits := tag[1 : len(tag)-1]
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != digits {
		return 0, false
	}
	return n, true
}

// listParameters are the query parameters of GET /v1/todos.
var listParameters = []string{"completed", "list_id", "q", "due_before", "due_after", "updated_since", "sort", "limit", "cursor"}

// queryParameters reads a query string in which only the parameters named
// in allowed may appear, each once: it returns those, and the problems of
// the others (the whole query, when it does not parse).
func queryParameters(rawQuery string, allowed ...string) (url.Values, []FieldError) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, []FieldError{{"query", "is not a valid query string"}}
	}
	var problems []FieldError
	for name, vs := range values {
		switch {
		case name == "":
			problems = append(problems, FieldError{"query", "has a parameter without a name"})
		case !slices.Contains(allowed, name):
			problems = append(problems, FieldError{name, "is not a parameter of this route"})
		case len(vs) > 1:
			problems = append(problems, FieldError{name, "is given more than once"})
		default:
			continue
		}
		delete(values, name)
	}
	return values, problems
}

// parseFilter reads a query string into a Filter. Only the parameters named
// in allowed may appear; every bad or unknown one is named in the error.
func parseFilter(rawQuery string, allowed ...string) (Filter, error) {
	f := Filter{Sort: SortByID}
	values, problems := queryParameters(rawQuery, allowed...)
	for name, vs := range values {
		if message := setListParameter(&f, name, vs[0]); message != "" {
			problems = append(problems, FieldError{name, message})
		}
	}
	if cursor := values.Get("cursor"); values.Has("cursor") && problems == nil {
		var ok bool
		if f.After, ok = decodeCursor(f, cursor); !ok {
			problems = append(problems, FieldError{"cursor", "is not a cursor of this list; take it from the next link"})
		}
	}
	if problems != nil {
		return f, queryError(problems)
	}
	return f, nil
}

// setListParameter sets the part of f that the parameter name holds, and
// returns what is wrong with its value, or "". The cursor is read last, by
// parseFilter, for it belongs to the sort.
func setListParameter(f *Filter, name, v string) (problem string) {
	timeParam := func(t **time.Time) string {
		parsed, err := ParseTime(v)
		if err != nil {
			return "must be an RFC 3339 date-time in the years 0001 to 9999, like 2026-11-22T10:04:05Z (a + in an offset is sent as %2B)"
		}
		*t = &parsed
		return ""
	}
	switch name {
	case "completed":
		completed := v == "true"
		f.Completed = &completed
		if v != "true" && v != "false" {
			return "must be true or false"
		}
	case "q":
		f.Text = v
		switch {
		case !utf8.ValidString(v):
			return "must be valid UTF-8"
		case utf8.RuneCountInString(v) > maxQueryText:
			return fmt.Sprintf("must be at most %d characters", maxQueryText)
		case strings.ContainsRune(v, 0):
			return "must not contain NUL"
		}
	case "due_before":
		return timeParam(&f.DueBefore)
	case "due_after":
		return timeParam(&f.DueAfter)
	case "updated_since":
		return timeParam(&f.UpdatedSince)
	case "sort":
		key, desc := strings.CutPrefix(v, "-")
		f.Sort, f.Descending = SortKey(key), desc
		if !slices.Contains(sortKeys, f.Sort) {
			return "must be id, due, order or updated_at, with a - before it to reverse"
		}
	case "list_id":
		id, err := strconv.ParseInt(v, 10, 64)
		f.ListID = id
		if err != nil || id < 1 {
			return "must be the id of a list"
		}
	case "limit":
		n, err := strconv.Atoi(v)
		f.Limit = n
		if err != nil || n < 1 || n > maxLimit {
			return fmt.Sprintf("must be an integer from 1 to %d", maxLimit)
		}
	}
	return ""
}

// refusePaging refuses the parameters of paging on an export, which has none.
func refusePaging(r *http.Request) error {
	var problems []FieldError
	query := r.URL.Query()
	for _, name := range []string{"cursor", "limit"} {
		if query.Has(name) {
			problems = append(problems, FieldError{name, "does not apply to an export (Accept: application/x-ndjson)"})
		}
	}
	if problems != nil {
		return queryError(problems)
	}
	return nil
}

// queryError is the 400 for bad query parameters, each named.
func queryError(problems []FieldError) error {
	slices.SortFunc(problems, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	names := make([]string, len(problems))
	for i, p := range problems {
		names[i] = p.Field
	}
	return &Error{Code: EMALFORMED, Message: "bad query parameter: " + strings.Join(names, ", "), Fields: problems}
}

// A cursor is the sort it belongs to and the last row's place in it, so
// that a cursor of one sort is refused by another.
func encodeCursor(f Filter, last Position) string {
	raw := fmt.Sprintf("%s:%t:%d:%d", f.Sort, f.Descending, last.Value, last.ID)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(f Filter, cursor string) (*Position, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, false
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 4 || parts[0] != string(f.Sort) || parts[1] != strconv.FormatBool(f.Descending) {
		return nil, false
	}
	value, err1 := strconv.ParseInt(parts[2], 10, 64)
	id, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || id < 0 {
		return nil, false
	}
	return &Position{Value: value, ID: id}, true
}
