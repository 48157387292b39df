package main

// The sync feed, GET /v1/changes: what changed since a token, for the
// caller (the store's Changes), as JSON, and its tokens.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

const (
	defaultChangesLimit = 500
	maxChangesLimit     = 5_000
)

func (s *server) listChanges(w http.ResponseWriter, r *http.Request) {
	after, limit, err := parseChangesQuery(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.memory.take(r.Context(), pageCost); err != nil {
		writeError(w, r, err)
		return
	}
	defer s.memory.give(pageCost)
	changes, next, more, err := s.store.Changes(r.Context(), callerFrom(r.Context()).User, after, limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	b := append(make([]byte, 0, 4096), `{"changes":[`...)
	for i, c := range changes {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendChange(b, s.baseURL(r), c)
	}
	b = append(b, `],"next":`...)
	b = strconv.AppendQuote(b, encodeChangeCursor(next))
	b = append(b, `,"more":`...)
	b = strconv.AppendBool(b, more)
	writeJSON(w, http.StatusOK, append(b, "}\n"...))
}

// appendChange appends c as the feed shows it (API.md, "Sync"), with the
// URLs under base, where the client reaches the API.
func appendChange(b []byte, base string, c Change) []byte {
	op := "put"
	if c.Delete {
		op = "delete"
	}
	b = fmt.Appendf(b, `{"seq":%d,"kind":%q,"op":%q,`, c.Seq, c.Kind, op)
	switch {
	case c.Delete && c.Kind == "todo":
		return fmt.Appendf(b, `"id":%d,"list_id":%d}`, c.ID, c.ListID)
	case c.Delete:
		return fmt.Appendf(b, `"id":%d}`, c.ID)
	case c.Kind == "todo":
		return append(c.Todo.AppendJSON(append(b, `"todo":`...), base+"/v1/todos/"), '}')
	}
	setListURLs(base, &c.List)
	list, _ := json.Marshal(c.List) // strings, numbers and times only: it cannot fail
	return append(append(append(b, `"list":`...), list...), '}')
}

// parseChangesQuery reads since and limit.
func parseChangesQuery(r *http.Request) (ChangeCursor, int, error) {
	after, limit := ChangeCursor{Full: true}, defaultChangesLimit
	values, problems := queryParameters(r.URL.RawQuery, "since", "limit")
	if values.Has("limit") {
		n, err := strconv.Atoi(values.Get("limit"))
		if limit = n; err != nil || n < 1 || n > maxChangesLimit {
			problems = append(problems, FieldError{"limit", fmt.Sprintf("must be an integer from 1 to %d", maxChangesLimit)})
		}
	}
	if values.Has("since") {
		var ok bool
		if after, ok = decodeChangeCursor(values.Get("since")); !ok {
			problems = append(problems, FieldError{"since", "is not a sync token; take it from next"})
		}
	}
	if problems != nil {
		return after, limit, queryError(problems)
	}
	return after, limit, nil
}

// A token is the number of the last change seen, "41"; in the middle of a
// page of equal numbers, "41.2.7" (the number, the kind's order, the id);
// in a full sync, "f." and where it is, after the number it will end at.
func encodeChangeCursor(c ChangeCursor) string {
	switch {
	case c.Full:
		return fmt.Sprintf("f.%d.%d.%d", c.Seq, c.Order, c.ID)
	case c.Order != endOfSeq:
		return fmt.Sprintf("%d.%d.%d", c.Seq, c.Order, c.ID)
	}
	return strconv.FormatInt(c.Seq, 10)
}

func decodeChangeCursor(token string) (ChangeCursor, bool) {
	if token == "" || token == "0" {
		return ChangeCursor{Full: true}, true
	}
	var c ChangeCursor
	rest, full := strings.CutPrefix(token, "f.")
	parts := strings.Split(rest, ".")
	if len(parts) != 1 && len(parts) != 3 || full && len(parts) != 3 {
		return c, false
	}
	var n [3]int64
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 0 || p != strconv.FormatInt(v, 10) {
			return c, false
		}
		n[i] = v
	}
	if len(parts) == 1 {
		return ChangeCursor{Seq: n[0], Order: endOfSeq}, true
	}
	if n[1] > 2 || n[2] < 1 {
		return c, false
	}
	return ChangeCursor{Full: full, Seq: n[0], Order: n[1], ID: n[2]}, true
}
