package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// world is a database with five accounts: ada (the admin), olga who owns
// the list "Shared plans" with the todo "the secret plan" in it, ed its
// editor, vi its viewer, and stan, a stranger to it. Each also has a todo
// of its own in its Inbox.
type world struct {
	t      *testing.T
	ts     *testServer
	tokens map[string]string
	list   int64            // olga's shared list
	todo   int64            // the todo in it
	token  int64            // the id of olga's token
	mine   map[string]int64 // each account's own todo
}

const (
	sharedTitle = "Shared plans"
	secretTodo  = "the secret plan"
)

func newWorld(t *testing.T) *world {
	t.Helper()
	ts, tokens := newAccountsServer(t, config{}, "ada", "olga", "ed", "vi", "stan")
	w := &world{t: t, ts: ts, tokens: tokens, mine: map[string]int64{}}
	var l listJSON
	w.as("olga", "POST", "/v1/lists", `{"title":"`+sharedTitle+`"}`).want(t, http.StatusCreated).decodeJSON(t, &l)
	w.list = l.ID
	w.as("olga", "PUT", w.path("/v1/lists/{L}/members/ed"), `{"role":"editor"}`).want(t, http.StatusCreated)
	w.as("olga", "PUT", w.path("/v1/lists/{L}/members/vi"), `{"role":"viewer"}`).want(t, http.StatusCreated)
	w.todo = w.as("olga", "POST", "/v1/todos", fmt.Sprintf(`{"title":%q,"list_id":%d}`, secretTodo, w.list)).want(t, http.StatusCreated).todo(t).ID
	for _, name := range []string{"olga", "ed", "vi", "stan"} {
		w.mine[name] = w.as(name, "POST", "/v1/todos", `{"title":"mine"}`).want(t, http.StatusCreated).todo(t).ID
	}
	var olgas []Token
	w.as("olga", "GET", "/v1/tokens", "").want(t, http.StatusOK).decodeJSON(t, &olgas)
	w.token = olgas[0].ID
	return w
}

// as sends a request with name's token, or with no credentials for "".
func (w *world) as(name, method, path, body string, headers ...string) result {
	if name != "" {
		headers = append(headers, "Authorization", bearer(w.tokens[name]))
	}
	return w.ts.do(w.t, method, path, body, headers...)
}

// path fills in {L} (the shared list), {T} (the todo in it) and {token}
// (olga's token).
func (w *world) path(p string) string {
	return strings.NewReplacer("{L}", fmt.Sprint(w.list), "{T}", fmt.Sprint(w.todo), "{token}", fmt.Sprint(w.token)).Replace(p)
}

// TestAccessByRole runs every route that reads or writes a list, a todo, a
// member, an account or a token as the list's owner, editor, viewer, a
// stranger and no one, on a world of its own each, and checks the status: a
// stranger gets 404 (never 403, and never the data), a viewer 403 on every
// write, no credentials 401. (PATCH /v1/me and the sign-in routes, which
// take a password, are in handlers_accounts_test.go.)
func TestAccessByRole(t *testing.T) {
	callers := []string{"olga", "ed", "vi", "stan", ""}
	const ndjson = "application/x-ndjson"
	tests := []struct {
		method, path, body string
		accept             string
		want               [5]int // owner, editor, viewer, stranger, none
	}{
		{"GET", "/v1/lists/{L}", "", "", [5]int{200, 200, 200, 404, 401}},
		{"PATCH", "/v1/lists/{L}", `{"title":"renamed"}`, "", [5]int{200, 200, 403, 404, 401}},
		{"DELETE", "/v1/lists/{L}", "", "", [5]int{204, 403, 403, 404, 401}},
		{"GET", "/v1/lists/{L}/members", "", "", [5]int{200, 200, 200, 404, 401}},
		{"PUT", "/v1/lists/{L}/members/ada", `{"role":"viewer"}`, "", [5]int{201, 403, 403, 404, 401}},
		{"PUT", "/v1/lists/{L}/members/ed", `{"role":"viewer"}`, "", [5]int{200, 403, 403, 404, 401}},
		{"DELETE", "/v1/lists/{L}/members/vi", "", "", [5]int{204, 403, 204, 404, 401}}, // vi may leave
		{"DELETE", "/v1/lists/{L}/members/ed", "", "", [5]int{204, 204, 403, 404, 401}}, // ed may leave
		{"GET", "/v1/todos/{T}", "", "", [5]int{200, 200, 200, 404, 401}},
		{"PATCH", "/v1/todos/{T}", `{"completed":true}`, "", [5]int{200, 200, 403, 404, 401}},
		{"PUT", "/v1/todos/{T}", `{"title":"replaced"}`, "", [5]int{200, 200, 403, 404, 401}},
		{"DELETE", "/v1/todos/{T}", "", "", [5]int{204, 204, 403, 404, 401}},
		{"GET", "/v1/todos?list_id={L}", "", "", [5]int{200, 200, 200, 404, 401}},
		{"GET", "/v1/todos?list_id={L}", "", ndjson, [5]int{200, 200, 200, 404, 401}},
		{"POST", "/v1/todos", `{"title":"new","list_id":{L}}`, "", [5]int{201, 201, 403, 422, 401}},
		{"DELETE", "/v1/todos?list_id={L}", "", "", [5]int{204, 204, 403, 404, 401}},
		{"PATCH", "/v1/todos/{mine}", `{"list_id":{L}}`, "", [5]int{200, 200, 403, 422, 401}}, // a move into the list
		{"GET", "/v1/lists", "", "", [5]int{200, 200, 200, 200, 401}},
		{"GET", "/v1/todos", "", "", [5]int{200, 200, 200, 200, 401}},
		{"GET", "/v1/todos", "", ndjson, [5]int{200, 200, 200, 200, 401}},
		{"DELETE", "/v1/todos", "", "", [5]int{204, 204, 204, 204, 401}},
		{"GET", "/v1/me", "", "", [5]int{200, 200, 200, 200, 401}},
		{"GET", "/v1/tokens", "", "", [5]int{200, 200, 200, 200, 401}},
		{"DELETE", "/v1/tokens/{token}", "", "", [5]int{204, 404, 404, 404, 401}},
		{"GET", "/v1/users", "", "", [5]int{403, 403, 403, 403, 401}},
		{"POST", "/v1/users", `{"name":"newcomer","password":"long enough"}`, "", [5]int{403, 403, 403, 403, 401}},
		{"PATCH", "/v1/users/stan", `{"admin":true}`, "", [5]int{403, 403, 403, 403, 401}},
		{"DELETE", "/v1/users/stan", "", "", [5]int{403, 403, 403, 403, 401}},
	}
	for _, tt := range tests {
		for i, caller := range callers {
			name := fmt.Sprintf("%s %s %s as %q", tt.method, tt.path, tt.accept, caller)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t)
				path := strings.ReplaceAll(w.path(tt.path), "{mine}", fmt.Sprint(w.mine[caller]))
				body := w.path(tt.body)
				r := w.as(caller, tt.method, path, body, "Accept", tt.accept)
				if r.status != tt.want[i] {
					t.Fatalf("status %d, want %d; body %s", r.status, tt.want[i], r.body)
				}
				if caller == "stan" && (strings.Contains(string(r.body), secretTodo) || strings.Contains(string(r.body), sharedTitle)) {
					t.Errorf("the stranger saw the list or its todo: %s", r.body)
				}
				if caller == "stan" || r.status < 300 {
					return
				}
				// A refused write changed nothing: the owner sees the todo and the list as they were.
				got := w.as("olga", "GET", w.path("/v1/todos/{T}"), "").want(t, http.StatusOK).todo(t)
				if got.Title != secretTodo || got.Completed || got.ListID != w.list {
					t.Errorf("after a refused %s %s, the todo is %+v", tt.method, path, got)
				}
			})
		}
	}
}

// TestWhatEachRoleSees checks the data behind the statuses: every list and
// todo a caller can read, and none other.
func TestWhatEachRoleSees(t *testing.T) {
	w := newWorld(t)
	for _, tt := range []struct {
		caller string
		lists  []string
		role   string // on the shared list
	}{
		{"olga", []string{"Inbox", sharedTitle}, "owner"},
		{"ed", []string{"Inbox", sharedTitle}, "editor"},
		{"vi", []string{"Inbox", sharedTitle}, "viewer"},
		{"stan", []string{"Inbox"}, ""},
	} {
		var lists []listJSON
		w.as(tt.caller, "GET", "/v1/lists", "").want(t, http.StatusOK).decodeJSON(t, &lists)
		var titles []string
		for _, l := range lists {
			titles = append(titles, l.Title)
			if l.ID == w.list && (l.Role != tt.role || l.Owner == nil || *l.Owner != "olga" || l.Default) {
				t.Errorf("%s sees the shared list as %+v", tt.caller, l)
			}
		}
		if fmt.Sprint(titles) != fmt.Sprint(tt.lists) {
			t.Errorf("%s sees the lists %q, want %q", tt.caller, titles, tt.lists)
		}
		todos := w.as(tt.caller, "GET", "/v1/todos", "").want(t, http.StatusOK).todos(t)
		seen := map[int64]bool{}
		for _, td := range todos {
			seen[td.ID] = true
		}
		if seen[w.todo] != (tt.role != "") || !seen[w.mine[tt.caller]] || len(todos) != map[bool]int{true: 2, false: 1}[tt.role != ""] {
			t.Errorf("%s sees the todos %v", tt.caller, todos)
		}
	}
	// Unsharing ends it at once; sharing again gives it back.
	w.as("olga", "DELETE", w.path("/v1/lists/{L}/members/vi"), "").want(t, http.StatusNoContent)
	w.as("vi", "GET", w.path("/v1/todos/{T}"), "").want(t, http.StatusNotFound)
	w.as("olga", "PUT", w.path("/v1/lists/{L}/members/vi"), `{"role":"editor"}`).want(t, http.StatusCreated)
	w.as("vi", "PATCH", w.path("/v1/todos/{T}"), `{"order":4}`).want(t, http.StatusOK)
}
