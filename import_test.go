package main

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// importBody posts body as an import.
func (ts *testServer) importBody(t *testing.T, path, body string, headers ...string) result {
	t.Helper()
	return ts.do(t, "POST", path, body, append([]string{"Content-Type", "application/x-ndjson"}, headers...)...)
}

// exportAll reads the export of every todo as lines of todoJSON.
func (ts *testServer) exportAll(t *testing.T, headers ...string) (string, []todoJSON) {
	t.Helper()
	r := ts.do(t, "GET", "/v1/todos", "", append([]string{"Accept", "application/x-ndjson"}, headers...)...).want(t, http.StatusOK)
	var todos []todoJSON
	for line := range strings.Lines(string(r.body)) {
		todos = append(todos, result{body: []byte(line)}.todo(t))
	}
	return string(r.body), todos
}

// TestImport imports lines of every kind a client sends: the fields of a
// create, a line of an export (its extra members ignored), a list_id, blank
// lines, CRLF line ends and no final newline.
func TestImport(t *testing.T) {
	ts := newTestServer(t, config{})
	list := ts.do(t, "POST", "/v1/lists", `{"title":"errands"}`).want(t, http.StatusCreated)
	var l listJSON
	list.decodeJSON(t, &l)
	body := `{"title":"first"}` + "\n" +
		`{"title":"  second  ","notes":"n","completed":true,"order":-3,"due":"2027-01-02T03:04:05+01:00"}` + "\r\n" +
		"\n   \n" +
		`{"id":77,"url":"http://elsewhere/v1/todos/77","title":"exported","notes":"","completed":false,"order":0,"due":null,"created_at":"2020-01-01T00:00:00Z","updated_at":"2020-01-01T00:00:00Z","completed_at":null,"list_id":` + strconv.FormatInt(l.ID, 10) + `}`
	r := ts.importBody(t, "/v1/todos", body).want(t, http.StatusCreated)
	if got := string(r.body); got != `{"created":3}`+"\n" && got != `{"created":3}` {
		t.Errorf("body %q, want {\"created\":3}", got)
	}
	_, todos := ts.exportAll(t)
	if len(todos) != 3 {
		t.Fatalf("%d todos after the import, want 3", len(todos))
	}
	first, second, exported := todos[0], todos[1], todos[2]
	if first.Title != "first" || first.ListID == l.ID || first.Completed {
		t.Errorf("first: %+v", first)
	}
	if second.Title != "second" || second.Notes != "n" || !second.Completed || second.Order != -3 ||
		second.Due == nil || *second.Due != "2027-01-02T02:04:05.000Z" || second.CompletedAt == nil {
		t.Errorf("second: %+v, due %v", second, *second.Due)
	}
	if exported.Title != "exported" || exported.ListID != l.ID || exported.ID == 77 || exported.CreatedAt == "2020-01-01T00:00:00Z" {
		t.Errorf("the exported line: %+v (id, url and times are the import's own)", exported)
	}
	ts.importBody(t, "/v1/todos", "").want(t, http.StatusCreated) // nothing to import: nothing made
	if n := ts.count(t); n != 3 {
		t.Errorf("%d todos after an empty import, want 3", n)
	}
}

// TestImportAllOrNothing: an import with bad lines creates nothing, and its
// 422 names every bad line, and the field of the line when there is one.
func TestImportAllOrNothing(t *testing.T) {
	ts := newTestServer(t, config{})
	ts.create(t, `{"title":"there before"}`)
	lines := []string{
		`{"title":"good"}`,
		`not json`,
		`{"title":""}`,
		`{"title":"x","nick":"y"}`,
		`{"title":"x","order":"high"}`,
		`["title"]`,
		`{"title":"x","list_id":0}`,
		`{"title":"x","due":"tomorrow","notes":"\u0000"}`,
		`{"title":"good too"}`,
	}
	p := ts.importBody(t, "/v1/todos", strings.Join(lines, "\n")).problem(t, http.StatusUnprocessableEntity)
	want := []string{"line 2", "line 3: title", "line 4: nick", "line 5: order", "line 6", "line 7: list_id", "line 8: notes", "line 8: due"}
	if got := fields(p); !slices.Equal(got, want) {
		t.Errorf("errors name %q, want %q", got, want)
	}
	if !strings.Contains(p.Detail, "7 line(s)") || !strings.Contains(p.Detail, "nothing was imported") {
		t.Errorf("detail %q", p.Detail)
	}
	// Lists are asked once every line is good on its own.
	p = ts.importBody(t, "/v1/todos", `{"title":"good"}`+"\n"+`{"title":"x","list_id":999}`).problem(t, http.StatusUnprocessableEntity)
	if got := fields(p); !slices.Equal(got, []string{"line 2: list_id"}) {
		t.Errorf("errors name %q, want line 2: list_id", got)
	}
	if n := ts.count(t); n != 1 {
		t.Errorf("%d todos after refused imports, want the 1 there before", n)
	}

	// Many bad lines: the first 100 problems are named, and the count says all.
	many := strings.Repeat(`{"title":""}`+"\n", 250)
	p = ts.importBody(t, "/v1/todos", many).problem(t, http.StatusUnprocessableEntity)
	if len(p.Errors) != maxImportProblems || p.Errors[99].Field != "line 100: title" || !strings.Contains(p.Detail, "250 line(s)") {
		t.Errorf("%d errors, the last %+v, detail %q", len(p.Errors), p.Errors[len(p.Errors)-1], p.Detail)
	}
}

// TestImportBounds: past its bounds an import is refused whole, with the
// status that says which bound.
func TestImportBounds(t *testing.T) {
	ts := newTestServer(t, config{})
	p := ts.importBody(t, "/v1/todos", strings.Repeat(`{"title":"t"}`+"\n", maxImportLines+1)).problem(t, http.StatusRequestEntityTooLarge)
	if !strings.Contains(p.Detail, "100000 lines") {
		t.Errorf("detail %q", p.Detail)
	}
	ts.importBody(t, "/v1/todos", strings.Repeat(`{"title":"t"}`+"\n", maxImportLines)).want(t, http.StatusCreated)
	if n := ts.count(t); n != maxImportLines {
		t.Fatalf("%d todos, want %d", n, maxImportLines)
	}

	long := `{"title":"t","notes":"` + strings.Repeat("n", maxImportLineSize) + `"}`
	p = ts.importBody(t, "/v1/todos", `{"title":"ok"}`+"\n"+long+"\n"+`{"title":""}`).problem(t, http.StatusUnprocessableEntity)
	if got := fields(p); !slices.Equal(got, []string{"line 2", "line 3: title"}) {
		t.Errorf("errors %+v", p.Errors)
	}

	big := strings.Repeat(`{"title":"`+strings.Repeat("t", 400)+`"}`+"\n", maxImportBytes/400)
	ts.importBody(t, "/v1/todos", big).problem(t, http.StatusRequestEntityTooLarge)
	ts.importBody(t, "/v1/todos", `{"title":"t"}`, "Idempotency-Key", "k1").problem(t, http.StatusBadRequest)
	ts.importBody(t, "/v1/todos?limit=3", `{"title":"t"}`).problem(t, http.StatusBadRequest)
	if n := ts.count(t); n != maxImportLines {
		t.Errorf("%d todos after the refusals, want %d", n, maxImportLines)
	}
}

// TestImportIntoLists: ?list_id puts every line in that list, whatever the
// lines say; a list the caller cannot read is a 422 naming list_id, one it
// can only read a 403; a line's list it cannot write names the line.
func TestImportIntoLists(t *testing.T) {
	ts, tokens := newAccountsServer(t, config{}, "ann", "bob")
	ann, bob := []string{"Authorization", bearer(tokens["ann"])}, []string{"Authorization", bearer(tokens["bob"])}
	var shared, own listJSON
	ts.do(t, "POST", "/v1/lists", `{"title":"shared"}`, ann...).want(t, http.StatusCreated).decodeJSON(t, &shared)
	ts.do(t, "PUT", fmt.Sprintf("/v1/lists/%d/members/bob", shared.ID), `{"role":"viewer"}`, ann...).want(t, http.StatusCreated)
	ts.do(t, "POST", "/v1/lists", `{"title":"bob's"}`, bob...).want(t, http.StatusCreated).decodeJSON(t, &own)

	line := fmt.Sprintf(`{"title":"into","list_id":%d}`, shared.ID)
	ts.importBody(t, fmt.Sprintf("/v1/todos?list_id=%d", shared.ID), line, bob...).problem(t, http.StatusForbidden)
	p := ts.importBody(t, "/v1/todos?list_id=9999", line, bob...).problem(t, http.StatusUnprocessableEntity)
	if got := fields(p); !slices.Equal(got, []string{"list_id"}) {
		t.Errorf("errors %+v, want list_id", p.Errors)
	}
	p = ts.importBody(t, "/v1/todos", `{"title":"mine"}`+"\n"+line+"\n"+line, bob...).problem(t, http.StatusUnprocessableEntity)
	if got := fields(p); !slices.Equal(got, []string{"line 2: list_id", "line 3: list_id"}) {
		t.Errorf("errors %+v", p.Errors)
	}
	ts.importBody(t, fmt.Sprintf("/v1/todos?list_id=%d", own.ID), line+"\n"+`{"title":"two"}`, bob...).want(t, http.StatusCreated)
	_, todos := ts.exportAll(t, bob...)
	if len(todos) != 2 || todos[0].ListID != own.ID || todos[1].ListID != own.ID {
		t.Errorf("bob's todos %+v: want both in list %d", todos, own.ID)
	}
	if _, annTodos := ts.exportAll(t, ann...); len(annTodos) != 0 {
		t.Errorf("ann's shared list got %+v", annTodos)
	}
}

// TestImportRoundTrip: the export of one service, imported into an empty
// one, gives the same todos (their ids, urls and times are the new
// service's own).
func TestImportRoundTrip(t *testing.T) {
	from := newTestServer(t, config{})
	from.create(t, `{"title":"plain"}`)
	from.create(t, `{"title":"full","notes":"line one\nline two \u00e9 \ud83d\ude00","completed":true,"order":9007199254740991,"due":"9999-12-31T23:59:59.999Z"}`)
	from.create(t, `{"title":"<b>&amp;</b> \"quoted\"","order":-5,"due":"0001-01-01T00:00:00Z"}`)
	exported, before := from.exportAll(t)

	to := newTestServer(t, config{})
	to.importBody(t, "/v1/todos", exported).want(t, http.StatusCreated)
	_, after := to.exportAll(t)
	if len(after) != len(before) {
		t.Fatalf("%d todos after the round trip, want %d", len(after), len(before))
	}
	for i := range before {
		a, b := before[i], after[i]
		a.ID, a.URL, a.CreatedAt, a.UpdatedAt, a.CompletedAt = 0, "", "", "", nil
		b.ID, b.URL, b.CreatedAt, b.UpdatedAt, b.CompletedAt = 0, "", "", "", nil
		if !equalTodo(a, b) {
			t.Errorf("todo %d: exported %+v, imported %+v", i, before[i], after[i])
		}
		if (before[i].CompletedAt == nil) != (after[i].CompletedAt == nil) {
			t.Errorf("todo %d: completed_at %v, imported %v", i, before[i].CompletedAt, after[i].CompletedAt)
		}
	}
}
