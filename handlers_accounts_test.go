package main

import (
	"crypto/sha256"
	"database/sql"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOpenModeIsTheBuiltinUser: with no account, everyone is the built-in
// user, which has no name and owns the Inbox that every todo lands in.
func TestOpenModeIsTheBuiltinUser(t *testing.T) {
	ts := newTestServer(t, config{})
	var me struct {
		ID    int64   `json:"id"`
		Name  *string `json:"name"`
		Admin bool    `json:"admin"`
	}
	ts.do(t, "GET", "/v1/me", "").want(t, http.StatusOK).decodeJSON(t, &me)
	if me.ID != BuiltinUser || me.Name != nil || !me.Admin {
		t.Errorf("me %+v", me)
	}
	var lists []listJSON
	ts.do(t, "GET", "/v1/lists", "").want(t, http.StatusOK).decodeJSON(t, &lists)
	if len(lists) != 1 || lists[0].Title != "Inbox" || !lists[0].Default || lists[0].Owner != nil || lists[0].Role != "owner" {
		t.Errorf("lists %+v", lists)
	}
	if td := ts.create(t, `{"title":"x"}`); td.ListID != lists[0].ID {
		t.Errorf("a todo landed in list %d", td.ListID)
	}
	ts.do(t, "PATCH", "/v1/me", `{"password":"a new password","current_password":"none"}`).problem(t, http.StatusForbidden)
	ts.do(t, "GET", "/v1/tokens", "").want(t, http.StatusOK)
}

// TestAccountsMode: once an account exists, every route but the health
// checks and the sign-in routes needs credentials; the first account is the
// built-in user, and keeps what was made before.
func TestAccountsMode(t *testing.T) {
	ts := newTestServer(t, config{})
	before := ts.create(t, `{"title":"made in the open mode"}`)
	if _, err := ts.store.CreateUser(t.Context(), "ada", hashPassword(passwordOf("ada")), false); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/todos", "/v1/lists", "/v1/me", "/v1/todos/1", "/v1/nothing"} {
		r := ts.do(t, "GET", path, "")
		r.problem(t, http.StatusUnauthorized)
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="todo"` {
			t.Errorf("WWW-Authenticate %q", got)
		}
	}
	ts.do(t, "GET", "/healthz", "").want(t, http.StatusOK)
	ts.do(t, "GET", "/readyz", "").want(t, http.StatusOK)
	token := ts.signIn(t, "ada")
	got := ts.do(t, "GET", "/v1/todos/"+strconv.FormatInt(before.ID, 10), "", "Authorization", bearer(token)).want(t, http.StatusOK).todo(t)
	if !equalTodo(got, before) {
		t.Errorf("the built-in user's todo became %+v", got)
	}
	var me struct {
		ID    int64  `json:"id"`
		Name  string `json:"name"`
		Admin bool   `json:"admin"`
	}
	ts.do(t, "GET", "/v1/me", "", "Authorization", bearer(token)).want(t, http.StatusOK).decodeJSON(t, &me)
	if me.ID != BuiltinUser || me.Name != "ada" || !me.Admin {
		t.Errorf("the first account is %+v", me)
	}
	// A Host rule is the open mode's: with accounts, credentials decide.
	ts.do(t, "GET", "/v1/me", "", "Authorization", bearer(token), "Host", "todo.example.org").want(t, http.StatusOK)
}

// TestUsers: the admin's routes, their rules and their conflicts.
func TestUsers(t *testing.T) {
	ts, tokens := newAccountsServer(t, config{}, "ada", "bob")
	admin, user := bearer(tokens["ada"]), bearer(tokens["bob"])
	for _, tt := range []struct{ body, field string }{
		{`{"name":"Bob2","password":"long enough"}`, "name"},
		{`{"name":".bob","password":"long enough"}`, "name"},
		{`{"name":"` + strings.Repeat("a", 65) + `","password":"long enough"}`, "name"},
		{`{"name":"carl","password":"short"}`, "password"},
		{`{"password":"long enough"}`, "name"},
		{`{"name":"carl"}`, "password"},
		{`{"name":"carl","password":"` + strings.Repeat("p", 1025) + `"}`, "password"},
	} {
		p := ts.do(t, "POST", "/v1/users", tt.body, "Authorization", admin).problem(t, http.StatusUnprocessableEntity)
		if f := fields(p); len(f) != 1 || f[0] != tt.field {
			t.Errorf("%s: fields %v, want %s", tt.body, f, tt.field)
		}
	}
	p := ts.do(t, "POST", "/v1/users", `{"name":"carl","password":"long enough \ud800"}`, "Authorization", admin).problem(t, http.StatusUnprocessableEntity)
	if f := fields(p); len(f) != 1 || f[0] != "password" {
		t.Errorf("an unpaired surrogate: fields %v", f)
	}
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/v1/users", `{"name":"carl","password":"long enough","current_password":"x"}`},
		{"PATCH", "/v1/users/bob", `{"name":"robert"}`},
		{"PATCH", "/v1/me", `{"admin":true,"password":"long enough","current_password":"x"}`},
		{"POST", "/v1/session", `{"name":"ada","password":"x","admin":true}`},
		{"POST", "/v1/users", `{"name":"carl","password":"long enough","role":"x"}`},
	} {
		ts.do(t, tt.method, tt.path, tt.body, "Authorization", admin).problem(t, http.StatusBadRequest)
	}
	ts.do(t, "POST", "/v1/users", `{"name":"bob","password":"long enough"}`, "Authorization", admin).problem(t, http.StatusConflict)
	r := ts.do(t, "POST", "/v1/users", `{"name":"carl.d-2_x","password":"`+passwordOf("carl.d-2_x")+`"}`, "Authorization", admin).want(t, http.StatusCreated)
	if loc := r.header.Get("Location"); !strings.HasSuffix(loc, "/v1/users/carl.d-2_x") {
		t.Errorf("Location %q", loc)
	}
	var users []struct {
		ID    int64  `json:"id"`
		Name  string `json:"name"`
		Admin bool   `json:"admin"`
	}
	ts.do(t, "GET", "/v1/users", "", "Authorization", admin).want(t, http.StatusOK).decodeJSON(t, &users)
	if len(users) != 3 || users[0].Name != "ada" || !users[0].Admin || users[1].Name != "bob" || users[1].Admin || users[2].Name != "carl.d-2_x" {
		t.Errorf("users %+v", users)
	}
	// The last admin stays one, and cannot be deleted.
	ts.do(t, "PATCH", "/v1/users/ada", `{"admin":false}`, "Authorization", admin).problem(t, http.StatusConflict)
	ts.do(t, "DELETE", "/v1/users/ada", "", "Authorization", admin).problem(t, http.StatusConflict)
	ts.do(t, "PATCH", "/v1/users/bob", `{"admin":true}`, "Authorization", admin).want(t, http.StatusOK)
	ts.do(t, "PATCH", "/v1/users/ada", `{"admin":false}`, "Authorization", admin).want(t, http.StatusOK)
	ts.do(t, "GET", "/v1/users", "", "Authorization", admin).problem(t, http.StatusForbidden) // ada no longer is one
	ts.do(t, "GET", "/v1/users", "", "Authorization", user).want(t, http.StatusOK)
	ts.do(t, "PATCH", "/v1/users/nobody", `{"admin":true}`, "Authorization", user).problem(t, http.StatusNotFound)

	// A new password revokes the account's tokens; deleting an account
	// deletes its lists and their todos.
	carl := ts.signIn(t, "carl.d-2_x")
	todo := ts.do(t, "POST", "/v1/todos", `{"title":"carl's"}`, "Authorization", bearer(carl)).want(t, http.StatusCreated).todo(t)
	ts.do(t, "PATCH", "/v1/users/carl.d-2_x", `{"password":"another password"}`, "Authorization", user).want(t, http.StatusOK)
	ts.do(t, "GET", "/v1/me", "", "Authorization", bearer(carl)).problem(t, http.StatusUnauthorized)
	ts.do(t, "DELETE", "/v1/users/carl.d-2_x", "", "Authorization", user).want(t, http.StatusNoContent)
	ts.do(t, "DELETE", "/v1/users/carl.d-2_x", "", "Authorization", user).problem(t, http.StatusNotFound)
	var n int
	if err := ts.store.readDB.QueryRow("SELECT count(*) FROM todos WHERE id = ?", todo.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("the deleted account's todo is still there (%d, %v)", n, err)
	}
}

// TestSignUp: with -signup anyone may make an account, not an admin; without
// it, no one but an admin.
func TestSignUp(t *testing.T) {
	ts, _ := newAccountsServer(t, config{signup: true}, "ada")
	ts.do(t, "POST", "/v1/users", `{"name":"eve","password":"long enough","admin":true}`).problem(t, http.StatusForbidden)
	ts.do(t, "POST", "/v1/users", `{"name":"eve","password":"long enough"}`).want(t, http.StatusCreated)
	ts.signIn(t, "ada")
	closed, _ := newAccountsServer(t, config{}, "ada")
	closed.do(t, "POST", "/v1/users", `{"name":"eve","password":"long enough"}`).problem(t, http.StatusUnauthorized)
}

// TestChangeMyPassword: the current password is asked; the other tokens and
// sessions of the account are revoked, not the one in use.
func TestChangeMyPassword(t *testing.T) {
	ts, tokens := newAccountsServer(t, config{}, "ada")
	other := ts.signIn(t, "ada")
	auth := bearer(tokens["ada"])
	ts.do(t, "PATCH", "/v1/me", `{"password":"a new password","current_password":"wrong one"}`, "Authorization", auth).problem(t, http.StatusForbidden)
	p := ts.do(t, "PATCH", "/v1/me", `{"password":"short","current_password":"`+passwordOf("ada")+`"}`, "Authorization", auth).problem(t, http.StatusUnprocessableEntity)
	if f := fields(p); len(f) != 1 || f[0] != "password" {
		t.Errorf("fields %v", f)
	}
	ts.do(t, "PATCH", "/v1/me", `{"password":"a new password","current_password":"`+passwordOf("ada")+`"}`, "Authorization", auth).want(t, http.StatusOK)
	ts.do(t, "GET", "/v1/me", "", "Authorization", auth).want(t, http.StatusOK)
	ts.do(t, "GET", "/v1/me", "", "Authorization", bearer(other)).problem(t, http.StatusUnauthorized)
	ts.do(t, "POST", "/v1/tokens", "", "Authorization", basic("ada", "a new password")).want(t, http.StatusCreated)
}

// TestTokens: the shape of a token, that only its SHA-256 is kept, its
// listing, expiry and revocation, and the ways a request carries it.
func TestTokens(t *testing.T) {
	ts, _ := newAccountsServer(t, config{}, "ada", "bob")
	r := ts.do(t, "POST", "/v1/tokens", `{"name":"laptop","expires_in":3600}`, "Authorization", basic("ada", passwordOf("ada"))).want(t, http.StatusCreated)
	var tok struct {
		ID         int64   `json:"id"`
		Name       string  `json:"name"`
		Token      string  `json:"token"`
		CreatedAt  string  `json:"created_at"`
		ExpiresAt  *string `json:"expires_at"`
		LastUsedAt *string `json:"last_used_at"`
	}
	r.decodeJSON(t, &tok)
	if !regexp.MustCompile(`^todo_[A-Za-z0-9_-]{43}$`).MatchString(tok.Token) || tok.Name != "laptop" || tok.ExpiresAt == nil || tok.LastUsedAt != nil {
		t.Fatalf("token %+v", tok)
	}
	created, _ := time.Parse(time.RFC3339, tok.CreatedAt)
	expires, _ := time.Parse(time.RFC3339, *tok.ExpiresAt)
	if d := expires.Sub(created); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expires %s after its creation", d)
	}
	sum := sha256.Sum256([]byte(tok.Token))
	var hash []byte
	if err := ts.store.readDB.QueryRow("SELECT hash FROM tokens WHERE id = ?", tok.ID).Scan(&hash); err != nil || string(hash) != string(sum[:]) {
		t.Errorf("the stored hash is not the token's SHA-256 (%v)", err)
	}
	if dump := dumpDatabase(t, ts.store.readDB); strings.Contains(dump, tok.Token) || strings.Contains(dump, passwordOf("ada")) {
		t.Error("the database holds a token or a password in the clear")
	}

	for _, auth := range []string{bearer(tok.Token), basic("ada", tok.Token), "bearer " + tok.Token} {
		ts.do(t, "GET", "/v1/me", "", "Authorization", auth).want(t, http.StatusOK)
	}
	for _, auth := range []string{bearer(tok.Token + "x"), basic("bob", tok.Token), basic("ada", passwordOf("ada")), bearer(""), "Digest x"} {
		ts.do(t, "GET", "/v1/me", "", "Authorization", auth).problem(t, http.StatusUnauthorized)
	}
	var list []map[string]any
	ts.do(t, "GET", "/v1/tokens", "", "Authorization", bearer(tok.Token)).want(t, http.StatusOK).decodeJSON(t, &list)
	if len(list) != 2 || list[1]["name"] != "laptop" || list[1]["token"] != nil || list[1]["last_used_at"] == nil {
		t.Errorf("tokens %v", list)
	}
	// Another account's token is not there to revoke; one's own goes at once.
	bobs := ts.signIn(t, "bob")
	ts.do(t, "DELETE", "/v1/tokens/"+strconv.FormatInt(tok.ID, 10), "", "Authorization", bearer(bobs)).problem(t, http.StatusNotFound)
	ts.do(t, "DELETE", "/v1/tokens/"+strconv.FormatInt(tok.ID, 10), "", "Authorization", bearer(tok.Token)).want(t, http.StatusNoContent)
	ts.do(t, "GET", "/v1/me", "", "Authorization", bearer(tok.Token)).problem(t, http.StatusUnauthorized)

	// An expired token is refused.
	short := ts.do(t, "POST", "/v1/tokens", `{"expires_in":1}`, "Authorization", basic("bob", passwordOf("bob"))).want(t, http.StatusCreated)
	var s struct{ Token string }
	short.decodeJSON(t, &s)
	ts.store.now = func() time.Time { return time.Now().Add(2 * time.Second) }
	ts.do(t, "GET", "/v1/me", "", "Authorization", bearer(s.Token)).problem(t, http.StatusUnauthorized)
	for _, body := range []string{`{"expires_in":0}`, `{"name":""}`, `{"name":null}`, `{"expires_in":"soon"}`} {
		r := ts.do(t, "POST", "/v1/tokens", body, "Authorization", basic("bob", passwordOf("bob")))
		if r.status != http.StatusUnprocessableEntity && r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d", body, r.status)
		}
	}
	ts.do(t, "POST", "/v1/tokens", "", "Authorization", basic("bob", "wrong password")).problem(t, http.StatusUnauthorized)
	ts.do(t, "POST", "/v1/tokens", "", "Authorization", bearer(bobs)).problem(t, http.StatusUnauthorized)
}

// dumpDatabase returns every value of every table, as text.
func dumpDatabase(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"users", "tokens", "lists", "members", "todos", "idempotency_keys"} {
		rows, err := db.Query("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			values := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range values {
				ptrs[i] = &values[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range values {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintln(&b, v)
			}
		}
		rows.Close()
	}
	return b.String()
}

// TestSessions: the cookie's attributes, that it signs a browser in, the
// same-origin rule for its writes, and signing out.
func TestSessions(t *testing.T) {
	ts, _ := newAccountsServer(t, config{}, "ada")
	ts.do(t, "POST", "/v1/session", `{"name":"ada","password":"wrong password"}`).problem(t, http.StatusUnauthorized)
	r := ts.do(t, "POST", "/v1/session", `{"name":"ada","password":"`+passwordOf("ada")+`"}`).want(t, http.StatusNoContent)
	setCookie := r.header.Get("Set-Cookie")
	for _, attr := range []string{"todo_session=", "Path=/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(setCookie, attr) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, attr)
		}
	}
	if strings.Contains(setCookie, "Secure") {
		t.Errorf("Set-Cookie %q is Secure over http", setCookie)
	}
	cookie := strings.Split(setCookie, ";")[0]
	ts.do(t, "GET", "/v1/me", "", "Cookie", cookie).want(t, http.StatusOK)
	ts.do(t, "POST", "/v1/todos", `{"title":"x"}`, "Cookie", cookie).problem(t, http.StatusForbidden)
	ts.do(t, "POST", "/v1/todos", `{"title":"x"}`, "Cookie", cookie, "Origin", "https://evil.example").problem(t, http.StatusForbidden)
	ts.do(t, "POST", "/v1/todos", `{"title":"x"}`, "Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", ts.URL).problem(t, http.StatusForbidden)
	ts.do(t, "POST", "/v1/todos", `{"title":"x"}`, "Cookie", cookie, "Origin", ts.URL).want(t, http.StatusCreated)
	ts.do(t, "POST", "/v1/todos", `{"title":"x"}`, "Cookie", cookie, "Sec-Fetch-Site", "same-origin").want(t, http.StatusCreated)
	// A session is no bearer token, and it is not listed among the tokens.
	ts.do(t, "GET", "/v1/me", "", "Authorization", bearer(strings.TrimPrefix(cookie, "todo_session="))).problem(t, http.StatusUnauthorized)
	var list []any
	ts.do(t, "GET", "/v1/tokens", "", "Cookie", cookie).want(t, http.StatusOK).decodeJSON(t, &list)
	if len(list) != 1 { // the helper's token
		t.Errorf("tokens %v", list)
	}
	ts.do(t, "DELETE", "/v1/session", "", "Cookie", cookie, "Origin", "https://evil.example").problem(t, http.StatusForbidden)
	out := ts.do(t, "DELETE", "/v1/session", "", "Cookie", cookie, "Sec-Fetch-Site", "same-origin").want(t, http.StatusNoContent)
	if sc := out.header.Get("Set-Cookie"); !strings.Contains(sc, "todo_session=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("sign-out Set-Cookie %q", sc)
	}
	ts.do(t, "GET", "/v1/me", "", "Cookie", cookie).problem(t, http.StatusUnauthorized)

	secure, _ := newAccountsServer(t, config{baseURL: "https://todo.example.org"}, "ada")
	r = secure.do(t, "POST", "/v1/session", `{"name":"ada","password":"`+passwordOf("ada")+`"}`).want(t, http.StatusNoContent)
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "Secure") {
		t.Errorf("Set-Cookie %q behind https lacks Secure", sc)
	}
}
