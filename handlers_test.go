package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCreate(t *testing.T) {
	ts := newTestServer(t, config{})
	r := ts.do(t, "POST", "/v1/todos", `{"title":"  Buy milk \t","notes":"2 litres\n","completed":true,"order":-3,"due":"2026-11-22T12:04:05.123456+02:00"}`,
		"Content-Type", "application/json; charset=utf-8").want(t, http.StatusCreated)
	got := r.todo(t)
	if got.ID <= 0 || got.Title != "Buy milk" || got.Notes != "2 litres\n" || !got.Completed || got.Order != -3 {
		t.Errorf("created %+v", got)
	}
	if got.Due == nil || *got.Due != "2026-11-22T10:04:05.123Z" {
		t.Errorf("due %v, want it in UTC to the millisecond", got.Due)
	}
	if got.CompletedAt == nil || *got.CompletedAt != got.CreatedAt || got.UpdatedAt != got.CreatedAt {
		t.Errorf("times %q %q %v: want all the same", got.CreatedAt, got.UpdatedAt, got.CompletedAt)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", got.CreatedAt); err != nil {
		t.Errorf("created_at %q: %v", got.CreatedAt, err)
	}
	wantURL := ts.URL + "/v1/todos/" + strconv.FormatInt(got.ID, 10)
	if got.URL != wantURL || r.header.Get("Location") != wantURL {
		t.Errorf("url %q, Location %q, want %q", got.URL, r.header.Get("Location"), wantURL)
	}
	if r.header.Get("ETag") != `"1"` || r.header.Get("Content-Type") != "application/json" ||
		r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", r.header)
	}

	// Defaults, and the exact JSON keys of a todo.
	r = ts.do(t, "POST", "/v1/todos", `{"title":"x"}`).want(t, http.StatusCreated)
	var raw map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"title": "x", "notes": "", "completed": false, "order": float64(0), "due": nil, "completed_at": nil, "list_id": float64(1)}
	for k, v := range want {
		if raw[k] != v {
			t.Errorf("%s = %#v, want %#v", k, raw[k], v)
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range raw {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(keys, []string{"completed", "completed_at", "created_at", "due", "id", "list_id", "notes", "order", "title", "updated_at", "url"}) {
		t.Errorf("keys %v", keys)
	}
}

func TestCreateRejectsBadInput(t *testing.T) {
	ts := newTestServer(t, config{})
	long := strings.Repeat("é", maxTitleLen+1)
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		fields      []string
	}{
		{"empty body", "", "application/json", 400, nil},
		{"blank body", "  \n", "application/json", 400, nil},
		{"not UTF-8", "{\"title\":\"\xff\"}", "application/json", 400, nil},
		{"not JSON", `{"title":`, "application/json", 400, nil},
		{"array", `[{"title":"a"}]`, "application/json", 400, nil},
		{"null", `null`, "application/json", 400, nil},
		{"string", `"a"`, "application/json", 400, nil},
		{"trailing data", `{"title":"a"} {}`, "application/json", 400, nil},
		{"trailing garbage", `{"title":"a"}x`, "application/json", 400, nil},
		{"unknown field", `{"title":"a","colour":"red"}`, "application/json", 400, []string{"colour"}},
		{"title a number", `{"title":1}`, "application/json", 400, []string{"title"}},
		{"completed a string", `{"title":"a","completed":"true"}`, "application/json", 400, []string{"completed"}},
		{"order a fraction", `{"title":"a","order":1.5}`, "application/json", 400, []string{"order"}},
		{"order beyond int64", `{"title":"a","order":99999999999999999999}`, "application/json", 400, []string{"order"}},
		{"due a number", `{"title":"a","due":1}`, "application/json", 400, []string{"due"}},
		{"text/plain", `{"title":"a"}`, "text/plain", 415, nil},
		{"no content type", `{"title":"a"}`, "", 415, nil},
		{"latin-1 charset", `{"title":"a"}`, "application/json; charset=latin1", 415, nil},
		{"merge patch type on create", `{"title":"a"}`, "application/merge-patch+json", 415, nil},
		{"too large", `{"title":"a","notes":"` + strings.Repeat("a", maxBodyBytes) + `"}`, "application/json", 413, nil},
		{"missing title", `{"notes":"a"}`, "application/json", 422, []string{"title"}},
		{"null title", `{"title":null}`, "application/json", 422, []string{"title"}},
		{"empty title", `{"title":""}`, "application/json", 422, []string{"title"}},
		{"blank title", `{"title":" \t\n "}`, "application/json", 422, []string{"title"}},
		{"title too long", `{"title":"` + long + `"}`, "application/json", 422, []string{"title"}},
		{"title with a control character", `{"title":"a\u0007b"}`, "application/json", 422, []string{"title"}},
		{"title with a newline inside", `{"title":"a\nb"}`, "application/json", 422, []string{"title"}},
		{"notes too long", `{"title":"a","notes":"` + strings.Repeat("x", maxNotesLen+1) + `"}`, "application/json", 422, []string{"notes"}},
		{"notes with NUL", `{"title":"a","notes":"a\u0000"}`, "application/json", 422, []string{"notes"}},
		{"null completed", `{"title":"a","completed":null}`, "application/json", 422, []string{"completed"}},
		{"null order", `{"title":"a","order":null}`, "application/json", 422, []string{"order"}},
		{"order beyond 2^53", `{"title":"a","order":9007199254740992}`, "application/json", 422, []string{"order"}},
		{"due not RFC 3339", `{"title":"a","due":"2026-11-22 10:00"}`, "application/json", 422, []string{"due"}},
		{"due a date only", `{"title":"a","due":"2026-11-22"}`, "application/json", 422, []string{"due"}},
		{"due in the year 0", `{"title":"a","due":"0000-01-01T00:00:00+14:00"}`, "application/json", 422, []string{"due"}},
		{"due past 9999", `{"title":"a","due":"9999-12-31T23:59:59.999-14:00"}`, "application/json", 422, []string{"due"}},
		{"due with a 24-hour offset", `{"title":"a","due":"2026-11-22T10:00:00+24:00"}`, "application/json", 422, []string{"due"}},
		{"due with a comma", `{"title":"a","due":"2026-11-22T10:00:00,5Z"}`, "application/json", 422, []string{"due"}},
		{"title with an unpaired surrogate", `{"title":"a\ud800"}`, "application/json", 422, []string{"title"}},
		{"notes with an unpaired surrogate", `{"title":"a","notes":"\udc00 b"}`, "application/json", 422, []string{"notes"}},
		{"every field broken", `{"title":"","notes":"\u0001","completed":null,"order":null,"due":"soon"}`, "application/json", 422,
			[]string{"title", "notes", "completed", "order", "due"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(t, "POST", "/v1/todos", tt.body, "Content-Type", tt.contentType)
			p := r.problem(t, tt.status)
			if tt.fields != nil && !slices.Equal(fields(p), tt.fields) {
				t.Errorf("errors name %v, want %v", fields(p), tt.fields)
			}
			if p.Instance != "/v1/todos" || p.Detail == "" {
				t.Errorf("problem %+v", p)
			}
			for _, leak := range []string{"json:", "sql", "Go struct", ".go", "sqlite"} {
				if bytes.Contains(r.body, []byte(leak)) {
					t.Errorf("body leaks %q: %s", leak, r.body)
				}
			}
		})
	}
	if n := ts.count(t); n != 0 {
		t.Errorf("%d todos exist after only bad requests", n)
	}
	// RFC 3339 allows a lower-case t and z; an escaped surrogate pair is one character.
	if got := ts.create(t, `{"title":"\ud83d\ude00","due":"2026-11-22t10:04:05z"}`); got.Title != "😀" || *got.Due != "2026-11-22T10:04:05.000Z" {
		t.Errorf("created %+v", got)
	}
	ts.do(t, "DELETE", "/v1/todos", "").want(t, http.StatusNoContent)
	// Limits are counted in characters, not bytes.
	ts.create(t, `{"title":"`+strings.Repeat("é", maxTitleLen)+`","notes":"`+strings.Repeat("é", maxNotesLen)+`"}`)
}

func TestGet(t *testing.T) {
	ts := newTestServer(t, config{})
	created := ts.create(t, `{"title":"a"}`)
	path := "/v1/todos/" + strconv.FormatInt(created.ID, 10)

	r := ts.do(t, "GET", path, "").want(t, http.StatusOK)
	if got := r.todo(t); got != created && !equalTodo(got, created) {
		t.Errorf("got %+v, want %+v", got, created)
	}
	etag := r.header.Get("ETag")
	if etag != `"1"` {
		t.Errorf("ETag %q", etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"x", ` + etag, "*"} {
		r := ts.do(t, "GET", path, "", "If-None-Match", inm).want(t, http.StatusNotModified)
		if len(r.body) != 0 || r.header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: body %q, ETag %q", inm, r.body, r.header.Get("ETag"))
		}
	}
	ts.do(t, "GET", path, "", "If-None-Match", `"2"`).want(t, http.StatusOK)

	r = ts.do(t, "HEAD", path, "").want(t, http.StatusOK)
	if len(r.body) != 0 || r.header.Get("ETag") != etag {
		t.Errorf("HEAD: body %q, ETag %q", r.body, r.header.Get("ETag"))
	}
	// A Content-Type on a request without a body is ignored.
	ts.do(t, "GET", path, "", "Content-Type", "text/plain").want(t, http.StatusOK)

	ts.do(t, "GET", "/v1/todos/999", "").problem(t, http.StatusNotFound)
	for _, id := range []string{"0", "-1", "abc", "1.5", "+1", "01", "9223372036854775808", "1e3", "%20"} {
		p := ts.do(t, "GET", "/v1/todos/"+id, "").problem(t, http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"id"}) {
			t.Errorf("id %q: errors %v", id, p.Errors)
		}
	}
}

func TestPatch(t *testing.T) {
	ts := newTestServer(t, config{})
	created := ts.create(t, `{"title":"a","notes":"n","order":5,"due":"2030-01-01T00:00:00Z"}`)
	path := fmt.Sprintf("/v1/todos/%d", created.ID)
	time.Sleep(2 * time.Millisecond) // so that updated_at moves

	r := ts.do(t, "PATCH", path, `{"completed":true,"title":" b "}`, "Content-Type", "application/merge-patch+json").want(t, http.StatusOK)
	got := r.todo(t)
	if got.Title != "b" || !got.Completed || got.Notes != "n" || got.Order != 5 || got.Due == nil {
		t.Errorf("after patch: %+v", got)
	}
	if got.CompletedAt == nil || *got.CompletedAt != got.UpdatedAt || got.UpdatedAt == created.UpdatedAt || got.CreatedAt != created.CreatedAt {
		t.Errorf("times after completing: created %s updated %s completed %v", got.CreatedAt, got.UpdatedAt, got.CompletedAt)
	}
	if r.header.Get("ETag") != `"2"` {
		t.Errorf("ETag %q, want \"2\"", r.header.Get("ETag"))
	}

	// null clears notes and due; completing again keeps completed_at.
	got2 := ts.do(t, "PATCH", path, `{"notes":null,"due":null,"completed":true}`).want(t, http.StatusOK).todo(t)
	if got2.Notes != "" || got2.Due != nil || *got2.CompletedAt != *got.CompletedAt {
		t.Errorf("after clearing: %+v", got2)
	}
	got3 := ts.do(t, "PATCH", path, `{"completed":false}`).want(t, http.StatusOK).todo(t)
	if got3.CompletedAt != nil {
		t.Errorf("completed_at %v after un-completing", *got3.CompletedAt)
	}

	// A patch that changes nothing is not a write: same ETag, same updated_at.
	before := ts.do(t, "GET", path, "")
	r = ts.do(t, "PATCH", path, `{}`).want(t, http.StatusOK)
	if r.header.Get("ETag") != before.header.Get("ETag") || r.todo(t).UpdatedAt != before.todo(t).UpdatedAt {
		t.Errorf("empty patch changed the todo: ETag %s -> %s", before.header.Get("ETag"), r.header.Get("ETag"))
	}

	for _, tt := range []struct {
		body   string
		status int
		fields []string
	}{
		{`{"title":null}`, 422, []string{"title"}},
		{`{"completed":null}`, 422, []string{"completed"}},
		{`{"order":null}`, 422, []string{"order"}},
		{`{"title":"","order":null}`, 422, []string{"title", "order"}},
		{`{"due":"tomorrow"}`, 422, []string{"due"}},
		{`{"id":7}`, 400, []string{"id"}},
		{`{"created_at":"2020-01-01T00:00:00Z"}`, 400, []string{"created_at"}},
		{`{"order":"1"}`, 400, []string{"order"}},
		{`[]`, 400, nil},
		{``, 400, nil},
	} {
		p := ts.do(t, "PATCH", path, tt.body, "Content-Type", "application/json").problem(t, tt.status)
		if tt.fields != nil && !slices.Equal(fields(p), tt.fields) {
			t.Errorf("%s: errors %v, want %v", tt.body, fields(p), tt.fields)
		}
	}
	ts.do(t, "PATCH", path, `{"title":"c"}`, "Content-Type", "text/plain").problem(t, http.StatusUnsupportedMediaType)
	ts.do(t, "PATCH", "/v1/todos/999", `{"title":"c"}`).problem(t, http.StatusNotFound)
	ts.do(t, "PATCH", "/v1/todos/x", `{"title":"c"}`).problem(t, http.StatusBadRequest)

	after := ts.do(t, "GET", path, "")
	if !bytes.Equal(after.body, before.body) {
		t.Errorf("rejected patches changed the todo:\n%s\n%s", before.body, after.body)
	}
}

func TestPut(t *testing.T) {
	ts := newTestServer(t, config{})
	created := ts.create(t, `{"title":"a","notes":"n","order":5,"completed":true,"due":"2030-01-01T00:00:00Z"}`)
	path := fmt.Sprintf("/v1/todos/%d", created.ID)

	got := ts.do(t, "PUT", path, `{"title":"b"}`).want(t, http.StatusOK).todo(t)
	if got.ID != created.ID || got.Title != "b" || got.Notes != "" || got.Order != 0 || got.Completed || got.Due != nil || got.CompletedAt != nil {
		t.Errorf("after replace: %+v; fields left out must take their defaults", got)
	}
	if got.CreatedAt != created.CreatedAt {
		t.Errorf("created_at changed: %s -> %s", created.CreatedAt, got.CreatedAt)
	}
	p := ts.do(t, "PUT", path, `{"notes":"x"}`).problem(t, http.StatusUnprocessableEntity)
	if !slices.Equal(fields(p), []string{"title"}) {
		t.Errorf("errors %v", p.Errors)
	}
	ts.do(t, "PUT", path, `{"title":"b"}`, "Content-Type", "application/merge-patch+json").problem(t, http.StatusUnsupportedMediaType)
	ts.do(t, "PUT", "/v1/todos/999", `{"title":"b"}`).problem(t, http.StatusNotFound)
}

func TestIfMatch(t *testing.T) {
	ts := newTestServer(t, config{})
	created := ts.create(t, `{"title":"a"}`)
	path := fmt.Sprintf("/v1/todos/%d", created.ID)

	for _, tt := range []struct{ method, body string }{
		{"PATCH", `{"title":"b"}`}, {"PUT", `{"title":"b"}`}, {"DELETE", ""},
	} {
		for _, stale := range []string{`"2"`, `W/"1"`, `"x"`} {
			ts.do(t, tt.method, path, tt.body, "If-Match", stale).problem(t, http.StatusPreconditionFailed)
		}
	}
	if got := ts.do(t, "GET", path, "").todo(t); got.Title != "a" {
		t.Fatalf("a failed precondition changed the todo: %+v", got)
	}
	r := ts.do(t, "PATCH", path, `{"title":"b"}`, "If-Match", `"0", "1"`).want(t, http.StatusOK)
	ts.do(t, "PUT", path, `{"title":"c"}`, "If-Match", r.header.Get("ETag")).want(t, http.StatusOK)
	ts.do(t, "PUT", path, `{"title":"d"}`, "If-Match", r.header.Get("ETag")).problem(t, http.StatusPreconditionFailed)
	ts.do(t, "PATCH", path, `{"title":"d"}`, "If-Match", "*").want(t, http.StatusOK)
	ts.do(t, "DELETE", path, "", "If-Match", `"4"`).want(t, http.StatusNoContent)
	ts.do(t, "DELETE", path, "", "If-Match", "*").problem(t, http.StatusNotFound)

	// Two writers with the same ETag: exactly one wins.
	created = ts.create(t, `{"title":"race"}`)
	path = fmt.Sprintf("/v1/todos/%d", created.ID)
	statuses := make(chan int, 10)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			statuses <- ts.do(t, "PATCH", path, fmt.Sprintf(`{"order":%d}`, i+1), "If-Match", `"1"`).status
		})
	}
	wg.Wait()
	close(statuses)
	won := 0
	for s := range statuses {
		if s == http.StatusOK {
			won++
		} else if s != http.StatusPreconditionFailed {
			t.Errorf("status %d", s)
		}
	}
	if won != 1 {
		t.Errorf("%d conditional writes won, want exactly 1", won)
	}
}

func TestDelete(t *testing.T) {
	ts := newTestServer(t, config{})
	a := ts.create(t, `{"title":"a"}`)
	b := ts.create(t, `{"title":"b"}`)
	ts.do(t, "DELETE", fmt.Sprintf("/v1/todos/%d", b.ID), "", "Content-Type", "application/json").want(t, http.StatusNoContent)
	ts.do(t, "GET", fmt.Sprintf("/v1/todos/%d", b.ID), "").problem(t, http.StatusNotFound)
	ts.do(t, "DELETE", fmt.Sprintf("/v1/todos/%d", b.ID), "").problem(t, http.StatusNotFound)
	ts.do(t, "DELETE", "/v1/todos/zero", "").problem(t, http.StatusBadRequest)
	// The newest id was deleted; it is still never given again.
	if c := ts.create(t, `{"title":"c"}`); c.ID != b.ID+1 || a.ID >= b.ID {
		t.Errorf("ids %d %d %d: an id was reused", a.ID, b.ID, c.ID)
	}
}

func TestDeleteAll(t *testing.T) {
	ts := newTestServer(t, config{})
	for i := range 6 {
		ts.create(t, fmt.Sprintf(`{"title":"t%d","completed":%t}`, i, i%2 == 0))
	}
	for _, q := range []string{"?completed=yes", "?done=true", "?completed=true&completed=false", "?completed=true&limit=5", "?%zz"} {
		ts.do(t, "DELETE", "/v1/todos"+q, "").problem(t, http.StatusBadRequest)
	}
	if n := ts.count(t); n != 6 {
		t.Fatalf("%d todos after rejected deletes, want 6", n)
	}
	ts.do(t, "DELETE", "/v1/todos?completed=true", "").want(t, http.StatusNoContent)
	left := ts.do(t, "GET", "/v1/todos", "").want(t, http.StatusOK).todos(t)
	if len(left) != 3 || slices.ContainsFunc(left, func(t todoJSON) bool { return t.Completed }) {
		t.Errorf("after deleting the completed: %+v", left)
	}
	ts.create(t, `{"title":"done","completed":true}`)
	ts.do(t, "DELETE", "/v1/todos?completed=false", "").want(t, http.StatusNoContent)
	if left := ts.do(t, "GET", "/v1/todos", "").todos(t); len(left) != 1 || !left[0].Completed {
		t.Errorf("after deleting the open ones: %+v", left)
	}
	ts.do(t, "DELETE", "/v1/todos", "").want(t, http.StatusNoContent)
	if n := ts.count(t); n != 0 {
		t.Errorf("%d todos after deleting all", n)
	}
}

func TestListFilters(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"Buy MILK","due":"2026-01-01T00:00:00Z"}`)
	ts.create(t, `{"title":"call mum","notes":"about the milk","completed":true,"due":"2026-06-01T00:00:00Z"}`)
	ts.create(t, `{"title":"100% done_ok"}`)
	ts.create(t, `{"title":"1000 done"}`)
	time.Sleep(5 * time.Millisecond)
	since := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(5 * time.Millisecond)
	ts.do(t, "PATCH", "/v1/todos/4", `{"order":1}`).want(t, http.StatusOK)

	tests := []struct {
		query string
		ids   []int64
	}{
		{"", []int64{1, 2, 3, 4}},
		{"?completed=true", []int64{2}},
		{"?completed=false", []int64{1, 3, 4}},
		{"?q=milk", []int64{1, 2}},
		{"?q=MiLk&completed=false", []int64{1}},
		{"?q=0%25", []int64{3}},    // % is literal
		{"?q=e_o", []int64{3}},     // _ is literal
		{"?q=%27%20OR%201=1", nil}, // quotes are data
		{"?q=", []int64{1, 2, 3, 4}},
		{"?due_before=2026-06-01T00:00:00Z", []int64{1}},
		{"?due_after=2026-06-01T00:00:00Z", []int64{2}},
		{"?due_after=2025-12-31T23:00:00-01:00", []int64{1, 2}},
		{"?due_before=2026-06-01T02:00:00%2B02:00", []int64{1}},
		{"?updated_since=" + url.QueryEscape(since), []int64{4}},
		{"?sort=-id", []int64{4, 3, 2, 1}},
		{"?sort=due", []int64{1, 2, 3, 4}},
		{"?sort=-due", []int64{4, 3, 2, 1}},
		{"?sort=order&q=done", []int64{3, 4}},
		{"?sort=-updated_at&limit=1", []int64{4}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := ts.do(t, "GET", "/v1/todos"+tt.query, "").want(t, http.StatusOK)
			var ids []int64
			for _, td := range r.todos(t) {
				ids = append(ids, td.ID)
			}
			if !slices.Equal(ids, tt.ids) {
				t.Errorf("ids %v, want %v", ids, tt.ids)
			}
		})
	}

	bad := []struct{ query, field string }{
		{"?completed=1", "completed"},
		{"?completed=true&completed=true", "completed"},
		{"?sort=title", "sort"},
		{"?sort=--id", "sort"},
		{"?limit=0", "limit"},
		{"?limit=1001", "limit"},
		{"?limit=ten", "limit"},
		{"?due_before=yesterday", "due_before"},
		{"?due_after=2026-01-01", "due_after"},
		{"?due_after=0000-12-31T00:00:00Z", "due_after"},
		{"?due_before=2026-01-01T00:00:00%2B24:00", "due_before"},
		{"?updated_since=2026-01-01T00:00:00+02:00", "updated_since"}, // an unescaped + is a space
		{"?cursor=abc", "cursor"},
		{"?q=%ff", "q"},
		{"?q=" + strings.Repeat("_", 25001), "q"}, // a LIKE pattern past SQLite's 50,000 bytes was a 500
		{"?q=%00", "q"},                           // SQLite ended the pattern at the NUL: it matched every todo
		{"?page=2", "page"},
		{"?%zz=1", "query"},
		{"?=0", "query"}, // found by FuzzListQuery
	}
	for _, tt := range bad {
		p := ts.do(t, "GET", "/v1/todos"+tt.query, "").problem(t, http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{tt.field}) || !strings.Contains(p.Detail, tt.field) {
			t.Errorf("%s: %q %v, want %s named", tt.query, p.Detail, p.Errors, tt.field)
		}
	}
}

// TestPaging walks a few hundred todos page by page with every sort key,
// following the Link header, and checks that each todo comes exactly once and
// in the right order, even with a todo created mid-walk.
func TestPaging(t *testing.T) {
	ts := newTestServer(t, config{})
	const n = 250
	for i := range n {
		due := "null"
		if i%3 != 0 { // a third without a due time; the rest with ties
			due = fmt.Sprintf(`"2026-01-%02dT00:00:00Z"`, 1+i%7)
		}
		ts.create(t, fmt.Sprintf(`{"title":"t%d","order":%d,"due":%s}`, i, i%5, due))
	}
	for _, key := range []string{"id", "-id", "due", "-due", "order", "-order", "updated_at", "-updated_at"} {
		t.Run(key, func(t *testing.T) {
			var got []todoJSON
			next := ts.URL + "/v1/todos?limit=17&sort=" + key
			for pages := 0; next != ""; pages++ {
				if pages > n {
					t.Fatal("paging does not end")
				}
				u, _ := url.Parse(next)
				r := ts.do(t, "GET", u.RequestURI(), "").want(t, http.StatusOK)
				page := r.todos(t)
				got = append(got, page...)
				next = ""
				if link := r.header.Get("Link"); link != "" {
					target, rel, ok := strings.Cut(link, ">; ")
					if !ok || rel != `rel="next"` || !strings.HasPrefix(target, "<"+ts.URL+"/v1/todos?") {
						t.Fatalf("Link %q", link)
					}
					next = target[1:]
					if len(page) != 17 {
						t.Fatalf("a page of %d before the last", len(page))
					}
				}
				if pages == 3 && key == "id" { // a row created mid-walk comes once, at the end
					ts.create(t, `{"title":"late"}`)
				}
			}
			want := ts.do(t, "GET", "/v1/todos?limit=1000&sort="+key, "").todos(t)
			if len(got) != len(want) {
				t.Fatalf("%d todos paged, want %d", len(got), len(want))
			}
			seen := map[int64]bool{}
			for i, td := range got {
				if seen[td.ID] {
					t.Fatalf("todo %d came twice", td.ID)
				}
				seen[td.ID] = true
				if td.ID != want[i].ID {
					t.Fatalf("position %d: id %d, want %d", i, td.ID, want[i].ID)
				}
				if i > 0 && !inOrder(key, got[i-1], td) {
					t.Fatalf("%+v before %+v breaks sort %s", got[i-1], td, key)
				}
			}
		})
	}
	// A cursor belongs to its sort.
	r := ts.do(t, "GET", "/v1/todos?limit=1&sort=due", "")
	cursor := strings.SplitN(strings.SplitN(r.header.Get("Link"), "cursor=", 2)[1], "&", 2)[0]
	cursor = strings.SplitN(cursor, ">", 2)[0]
	ts.do(t, "GET", "/v1/todos?sort=due&cursor="+cursor, "").want(t, http.StatusOK)
	ts.do(t, "GET", "/v1/todos?sort=order&cursor="+cursor, "").problem(t, http.StatusBadRequest)
	ts.do(t, "GET", "/v1/todos?sort=-due&cursor="+cursor, "").problem(t, http.StatusBadRequest)
}

// inOrder reports whether a may come before b under the sort key.
func inOrder(key string, a, b todoJSON) bool {
	desc := strings.HasPrefix(key, "-")
	if desc {
		a, b = b, a
	}
	var ka, kb string
	switch strings.TrimPrefix(key, "-") {
	case "due":
		ka, kb = "9999", "9999" // no due sorts last
		if a.Due != nil {
			ka = *a.Due
		}
		if b.Due != nil {
			kb = *b.Due
		}
	case "order":
		ka, kb = fmt.Sprintf("%020d", a.Order+1e9), fmt.Sprintf("%020d", b.Order+1e9)
	case "updated_at":
		ka, kb = a.UpdatedAt, b.UpdatedAt
	}
	return ka < kb || (ka == kb && a.ID < b.ID)
}

func TestExport(t *testing.T) {
	ts := newTestServer(t, config{})
	for i := range 30 {
		ts.create(t, fmt.Sprintf(`{"title":"t%d","completed":%t}`, i, i%3 == 0))
	}
	r := ts.do(t, "GET", "/v1/todos?completed=false&sort=-id", "", "Accept", "application/json;q=0.5, application/x-ndjson").want(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" || r.header.Get("Link") != "" {
		t.Errorf("Content-Type %q, Link %q", ct, r.header.Get("Link"))
	}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	var ids []int64
	for sc.Scan() {
		var td todoJSON
		if err := json.Unmarshal(sc.Bytes(), &td); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if td.Completed {
			t.Errorf("todo %d is completed", td.ID)
		}
		ids = append(ids, td.ID)
	}
	if len(ids) != 20 || !slices.IsSortedFunc(ids, func(a, b int64) int { return int(b - a) }) {
		t.Errorf("exported ids %v: want 20, newest first", ids)
	}
	ts.do(t, "GET", "/v1/todos?limit=5", "", "Accept", "application/x-ndjson").problem(t, http.StatusBadRequest)
	ts.do(t, "GET", "/v1/todos?q=nothing", "", "Accept", "application/x-ndjson").want(t, http.StatusOK)
	if r := ts.do(t, "GET", "/v1/todos", "", "Accept", "application/x-ndjson;q=0"); r.header.Get("Content-Type") != "application/json" {
		t.Errorf("q=0 still exported")
	}
}

func TestConcurrentCreates(t *testing.T) {
	ts := newTestServer(t, config{})
	const workers, each = 16, 20
	ids := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r := ts.do(t, "POST", "/v1/todos", fmt.Sprintf(`{"title":"w%d-%d"}`, w, i))
				if r.status != http.StatusCreated {
					t.Errorf("status %d: %s", r.status, r.body)
					return
				}
				ids <- r.todo(t).ID
			}
		})
	}
	// Readers beside the writers never see "database is locked".
	for range 4 {
		wg.Go(func() {
			for range 20 {
				if r := ts.do(t, "GET", "/v1/todos?limit=50", ""); r.status != http.StatusOK {
					t.Errorf("list: %d %s", r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("id %d given twice", id)
		}
		seen[id] = true
	}
	if len(seen) != workers*each || ts.count(t) != workers*each {
		t.Errorf("%d ids, %d rows; want %d", len(seen), ts.count(t), workers*each)
	}
}

func TestBaseURL(t *testing.T) {
	ts := newTestServer(t, config{baseURL: "https://todo.example/api"})
	ts.create(t, `{"title":"a"}`)
	r := ts.do(t, "POST", "/v1/todos", `{"title":"b"}`)
	if loc := r.header.Get("Location"); loc != "https://todo.example/api/v1/todos/2" || r.todo(t).URL != loc {
		t.Errorf("Location %q", loc)
	}
	if link := ts.do(t, "GET", "/v1/todos?limit=1", "").header.Get("Link"); !strings.HasPrefix(link, "<https://todo.example/api/v1/todos?") {
		t.Errorf("Link %q", link)
	}
}
