package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLists: a list's fields, its ETag and If-Match, its title rules, the
// default list that stays, and a delete that takes the list's todos along.
func TestLists(t *testing.T) {
	ts := newTestServer(t, config{})
	for _, body := range []string{`{}`, `{"title":""}`, `{"title":"  "}`, `{"title":null}`, `{"title":"a\u0007"}`, `{"title":"` + strings.Repeat("é", 201) + `"}`} {
		p := ts.do(t, "POST", "/v1/lists", body).problem(t, http.StatusUnprocessableEntity)
		if f := fields(p); len(f) != 1 || f[0] != "title" {
			t.Errorf("%s: fields %v", body, f)
		}
	}
	ts.do(t, "POST", "/v1/lists", `{"title":"x","owner":"me"}`).problem(t, http.StatusBadRequest)
	r := ts.do(t, "POST", "/v1/lists", `{"title":"  Groceries  "}`).want(t, http.StatusCreated)
	var l listJSON
	r.decodeJSON(t, &l)
	id := strconv.FormatInt(l.ID, 10)
	if l.Title != "Groceries" || l.Default || l.Role != "owner" || l.Owner != nil || l.URL != ts.URL+"/v1/lists/"+id ||
		l.TodosURL != ts.URL+"/v1/todos?list_id="+id || l.CreatedAt == "" || l.UpdatedAt != l.CreatedAt {
		t.Errorf("list %+v", l)
	}
	if r.header.Get("Location") != l.URL || r.header.Get("ETag") != `"1"` {
		t.Errorf("Location %q, ETag %q", r.header.Get("Location"), r.header.Get("ETag"))
	}
	ts.do(t, "GET", "/v1/lists/"+id, "", "If-None-Match", `"1"`).want(t, http.StatusNotModified)
	ts.do(t, "PATCH", "/v1/lists/"+id, `{"title":"Shopping"}`, "If-Match", `"7"`).problem(t, http.StatusPreconditionFailed)
	r = ts.do(t, "PATCH", "/v1/lists/"+id, `{"title":"Shopping"}`, "If-Match", `"1"`).want(t, http.StatusOK)
	if r.header.Get("ETag") != `"2"` {
		t.Errorf("ETag after a rename %q", r.header.Get("ETag"))
	}
	ts.do(t, "GET", "/v1/lists/99", "").problem(t, http.StatusNotFound)
	ts.do(t, "GET", "/v1/lists/abc", "").problem(t, http.StatusBadRequest)

	inList := ts.create(t, `{"title":"milk","list_id":`+id+`}`)
	inbox := ts.create(t, `{"title":"elsewhere"}`)
	if inList.ListID != l.ID || inbox.ListID == l.ID {
		t.Errorf("list_id %d and %d", inList.ListID, inbox.ListID)
	}
	if got := ts.do(t, "GET", "/v1/todos?list_id="+id, "").want(t, http.StatusOK).todos(t); len(got) != 1 || got[0].ID != inList.ID {
		t.Errorf("the list's todos %+v", got)
	}
	ts.do(t, "GET", "/v1/todos?list_id=0", "").problem(t, http.StatusBadRequest)
	ts.do(t, "GET", "/v1/todos?list_id=99", "").problem(t, http.StatusNotFound)
	ts.do(t, "POST", "/v1/todos", `{"title":"x","list_id":99}`).problem(t, http.StatusUnprocessableEntity)

	ts.do(t, "DELETE", "/v1/lists/"+strconv.FormatInt(inbox.ListID, 10), "").problem(t, http.StatusConflict)
	ts.do(t, "DELETE", "/v1/lists/"+id, "", "If-Match", `"1"`).problem(t, http.StatusPreconditionFailed)
	ts.do(t, "DELETE", "/v1/lists/"+id, "", "If-Match", `"2"`).want(t, http.StatusNoContent)
	ts.do(t, "GET", "/v1/todos/"+strconv.FormatInt(inList.ID, 10), "").problem(t, http.StatusNotFound)
	ts.do(t, "GET", "/v1/todos/"+strconv.FormatInt(inbox.ID, 10), "").want(t, http.StatusOK)
}

// TestListsOwnedAtMost: the 1,001st list an account owns is a 422.
func TestListsOwnedAtMost(t *testing.T) {
	ts := newTestServer(t, config{})
	err := ts.store.writeTx(t.Context(), func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		for i := 1; i < maxOwnedLists; i++ { // the Inbox is the first
			if _, err := ts.store.insertList(ctx, tx, BuiltinUser, fmt.Sprint("list ", i), false, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p := ts.do(t, "POST", "/v1/lists", `{"title":"one too many"}`).problem(t, http.StatusUnprocessableEntity)
	if f := fields(p); len(f) != 1 || f[0] != "title" {
		t.Errorf("fields %v", f)
	}
	var lists []listJSON
	ts.do(t, "GET", "/v1/lists", "").want(t, http.StatusOK).decodeJSON(t, &lists)
	if len(lists) != maxOwnedLists {
		t.Errorf("%d lists", len(lists))
	}
}

// TestSharing: the members' routes, their answers and their rules.
func TestSharing(t *testing.T) {
	w := newWorld(t)
	var members []Member
	w.as("vi", "GET", w.path("/v1/lists/{L}/members"), "").want(t, http.StatusOK).decodeJSON(t, &members)
	if fmt.Sprint(members) != "[{ed editor} {vi viewer}]" {
		t.Errorf("members %v", members)
	}
	r := w.as("olga", "PUT", w.path("/v1/lists/{L}/members/stan"), `{"role":"viewer"}`).want(t, http.StatusCreated)
	if !strings.HasSuffix(r.header.Get("Location"), w.path("/v1/lists/{L}/members/stan")) || string(r.body) != `{"user":"stan","role":"viewer"}`+"\n" {
		t.Errorf("Location %q, body %s", r.header.Get("Location"), r.body)
	}
	w.as("olga", "PUT", w.path("/v1/lists/{L}/members/stan"), `{"role":"editor"}`).want(t, http.StatusOK)
	for _, body := range []string{`{"role":"owner"}`, `{"role":""}`, `{}`, `{"role":null}`} {
		p := w.as("olga", "PUT", w.path("/v1/lists/{L}/members/stan"), body).problem(t, http.StatusUnprocessableEntity)
		if f := fields(p); len(f) != 1 || f[0] != "role" {
			t.Errorf("%s: fields %v", body, f)
		}
	}
	w.as("olga", "PUT", w.path("/v1/lists/{L}/members/olga"), `{"role":"viewer"}`).problem(t, http.StatusConflict)
	w.as("olga", "PUT", w.path("/v1/lists/{L}/members/nobody"), `{"role":"viewer"}`).problem(t, http.StatusNotFound)
	w.as("olga", "DELETE", w.path("/v1/lists/{L}/members/ada"), "").problem(t, http.StatusNotFound)
	// The default list can be shared too; its owner's other lists stay its own.
	var lists []listJSON
	w.as("stan", "GET", "/v1/lists", "").want(t, http.StatusOK).decodeJSON(t, &lists)
	if len(lists) != 2 || !lists[0].Default || lists[1].ID != w.list || lists[1].Role != "editor" {
		t.Errorf("stan's lists %+v", lists)
	}
}

// TestMoveTodo: PATCH and PUT move a todo to a list the caller can write,
// from one it can write; a PUT without list_id keeps the todo in its list.
func TestMoveTodo(t *testing.T) {
	w := newWorld(t)
	mine := "/v1/todos/" + strconv.FormatInt(w.mine["ed"], 10)
	moved := w.as("ed", "PATCH", mine, w.path(`{"list_id":{L}}`)).want(t, http.StatusOK).todo(t)
	if moved.ListID != w.list {
		t.Fatalf("list_id %d", moved.ListID)
	}
	kept := w.as("ed", "PUT", mine, `{"title":"replaced"}`).want(t, http.StatusOK).todo(t)
	if kept.ListID != w.list || kept.Title != "replaced" {
		t.Errorf("after a PUT: %+v", kept)
	}
	// vi may read the list the todo is in, not write it: it cannot take it out.
	var viLists []listJSON
	w.as("vi", "GET", "/v1/lists", "").want(t, http.StatusOK).decodeJSON(t, &viLists)
	w.as("vi", "PATCH", mine, fmt.Sprintf(`{"list_id":%d}`, viLists[0].ID)).problem(t, http.StatusForbidden)
	for _, body := range []string{`{"list_id":999}`, `{"list_id":0}`, `{"list_id":null}`} {
		p := w.as("ed", "PATCH", mine, body).problem(t, http.StatusUnprocessableEntity)
		if f := fields(p); len(f) != 1 || f[0] != "list_id" {
			t.Errorf("%s: fields %v", body, f)
		}
	}
	// A list the caller cannot read is the same 422 as one that does not exist.
	var stanLists []listJSON
	w.as("stan", "GET", "/v1/lists", "").want(t, http.StatusOK).decodeJSON(t, &stanLists)
	p := w.as("ed", "PATCH", mine, fmt.Sprintf(`{"list_id":%d}`, stanLists[0].ID)).problem(t, http.StatusUnprocessableEntity)
	if p.Detail != w.as("ed", "PATCH", mine, `{"list_id":999}`).problem(t, http.StatusUnprocessableEntity).Detail {
		t.Error("a stranger's list and no list answer differently")
	}
}

// TestDeleteTodosWithAccounts: DELETE /v1/todos empties the lists the caller
// owns, not those shared with it; with list_id, that list, for its owner or
// an editor.
func TestDeleteTodosWithAccounts(t *testing.T) {
	w := newWorld(t)
	w.as("ed", "DELETE", "/v1/todos", "").want(t, http.StatusNoContent)
	w.as("ed", "GET", w.path("/v1/todos/{T}"), "").want(t, http.StatusOK)
	w.as("ed", "GET", "/v1/todos/"+strconv.FormatInt(w.mine["ed"], 10), "").problem(t, http.StatusNotFound)
	w.as("olga", "GET", "/v1/todos/"+strconv.FormatInt(w.mine["olga"], 10), "").want(t, http.StatusOK)
	w.as("ed", "DELETE", w.path("/v1/todos?list_id={L}&completed=true"), "").want(t, http.StatusNoContent)
	w.as("ed", "GET", w.path("/v1/todos/{T}"), "").want(t, http.StatusOK)
	w.as("ed", "DELETE", w.path("/v1/todos?list_id={L}"), "").want(t, http.StatusNoContent)
	w.as("olga", "GET", w.path("/v1/todos/{T}"), "").problem(t, http.StatusNotFound)
	w.as("olga", "GET", "/v1/todos/"+strconv.FormatInt(w.mine["olga"], 10), "").want(t, http.StatusOK)
}

// TestIdempotencyKeysPerAccount: the same key from two accounts is two
// creates; a replay is the account's own.
func TestIdempotencyKeysPerAccount(t *testing.T) {
	w := newWorld(t)
	a := w.as("ed", "POST", "/v1/todos", `{"title":"once"}`, "Idempotency-Key", "k1").want(t, http.StatusCreated).todo(t)
	b := w.as("vi", "POST", "/v1/todos", `{"title":"once"}`, "Idempotency-Key", "k1").want(t, http.StatusCreated).todo(t)
	again := w.as("ed", "POST", "/v1/todos", `{"title":"once"}`, "Idempotency-Key", "k1").want(t, http.StatusCreated).todo(t)
	if a.ID == b.ID || again.ID != a.ID {
		t.Errorf("ids %d, %d, then %d", a.ID, b.ID, again.ID)
	}
}
