package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// user runs "todo user ARGS..." on db with stdin, and returns its output.
func user(t *testing.T, db, stdin string, args ...string) (string, error) {
	t.Helper()
	return command(t, db, stdin, append([]string{"user"}, args...)...)
}

// command runs "todo ARGS..." with TODO_DB=db and stdin, and returns its output.
func command(t *testing.T, db, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errs bytes.Buffer
	getenv := func(name string) string {
		if name == "TODO_DB" {
			return db
		}
		return ""
	}
	err := runCommand(t.Context(), args, getenv, strings.NewReader(stdin), &out, &errs)
	return out.String(), err
}

// TestUserCommands: add, passwd, rm and list, and their refusals.
func TestUserCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "todo.db")
	for _, tt := range []struct {
		stdin string
		args  []string
		want  string // in the error
	}{
		{"long enough\n", []string{"add", "Ada"}, "lower-case"},
		{"short\n", []string{"add", "ada"}, "password"},
		{"", []string{"add", "ada"}, "password"},
		{"long enough\n", []string{"add"}, "argument"},
		{"long enough\n", []string{"add", "ada", "bob"}, "argument"},
		{"", []string{"grant", "ada"}, "no such command"},
		{"", []string{"rm", "nobody"}, "no account"},
		{"", []string{}, "usage"},
	} {
		if _, err := user(t, db, tt.stdin, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("todo user %q: %v, want an error with %q", tt.args, err, tt.want)
		}
	}
	if out, err := user(t, db, "first password\r\n", "add", "ada"); err != nil || !strings.Contains(out, "admin true") {
		t.Fatalf("add ada: %q, %v", out, err)
	}
	if out, err := user(t, db, "second password\n", "add", "bob"); err != nil || !strings.Contains(out, "admin false") {
		t.Fatalf("add bob: %q, %v", out, err)
	}
	if _, err := user(t, db, "third password\n", "add", "-admin", "cy"); err != nil {
		t.Fatal(err)
	}
	if _, err := user(t, db, "x password\n", "add", "bob"); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("a second bob: %v", err)
	}
	out, err := user(t, db, "", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "ada") || !strings.Contains(lines[1], "true") ||
		!strings.Contains(lines[2], "bob") || !strings.Contains(lines[2], "false") || !strings.Contains(lines[3], "cy") {
		t.Errorf("list:\n%s", out)
	}
	if _, err := user(t, db, "", "rm", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := user(t, db, "", "rm", "cy"); err != nil {
		t.Fatal(err)
	}
	if _, err := user(t, db, "", "rm", "ada"); err == nil || !strings.Contains(err.Error(), "last admin") {
		t.Errorf("rm of the last admin: %v", err)
	}
	s := mustOpenStore(t, db)
	if _, hash, err := s.FindAccount(t.Context(), "ada"); err != nil || !passwordMatches(hash, "first password") {
		t.Errorf("ada's password is not the first line of stdin without its CR LF (%v)", err)
	}
}

// TestUserCommandsBesideAService: the commands run on the database of a
// running service (another process), which sees what they change within a
// second: it leaves the open mode for the accounts mode, and a new password
// revokes the account's tokens.
func TestUserCommandsBesideAService(t *testing.T) {
	db := filepath.Join(t.TempDir(), "todo.db")
	c := startChild(t, db)
	if status, _, _, err := c.send("POST", "/v1/todos", `{"title":"made in the open mode"}`); err != nil || status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, err)
	}
	if _, err := user(t, db, "first password\n", "add", "ada"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the accounts mode", func() bool {
		status, _, _, _ := c.send("GET", "/v1/todos", "")
		return status == http.StatusUnauthorized
	})
	status, body, _, err := c.send("POST", "/v1/tokens", "", "Authorization", basic("ada", "first password"))
	var tok struct{ Token string }
	if err != nil || status != http.StatusCreated || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("sign in: %d %s %v", status, body, err)
	}
	if status, body, _, _ := c.send("GET", "/v1/todos", "", "Authorization", bearer(tok.Token)); status != http.StatusOK || !strings.Contains(string(body), "made in the open mode") {
		t.Fatalf("ada's todos: %d %s", status, body)
	}
	if _, err := user(t, db, "second password\n", "passwd", "ada"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the token's revocation", func() bool {
		status, _, _, _ := c.send("GET", "/v1/todos", "", "Authorization", bearer(tok.Token))
		return status == http.StatusUnauthorized
	})
}

// waitFor polls done for up to a second: what another process changed must
// be seen within it.
func waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	start := time.Now()
	for !done() {
		if time.Since(start) > time.Second {
			t.Fatalf("%s was not seen within %s", what, time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%s seen after %s", what, time.Since(start).Round(time.Millisecond))
}

// TestExportImportCommands: todo export writes what GET /v1/todos exports
// (every todo, or what -user can read, or -list's), and todo import of it
// into an empty database gives the same todos; a bad line is refused on one
// line that names it, and imports nothing.
func TestExportImportCommands(t *testing.T) {
	ts, tokens := newAccountsServer(t, config{}, "ann", "bob")
	ann, bob := []string{"Authorization", bearer(tokens["ann"])}, []string{"Authorization", bearer(tokens["bob"])}
	ts.do(t, "POST", "/v1/todos", `{"title":"ann's","notes":"n","due":"2027-01-01T00:00:00Z"}`, ann...).want(t, http.StatusCreated)
	var l listJSON
	ts.do(t, "POST", "/v1/lists", `{"title":"bob's other"}`, bob...).want(t, http.StatusCreated).decodeJSON(t, &l)
	ts.do(t, "POST", "/v1/todos", `{"title":"bob's","completed":true,"order":4,"list_id":`+strconv.FormatInt(l.ID, 10)+`}`, bob...).want(t, http.StatusCreated)
	db := ts.store.path

	all, err := command(t, db, "", "export")
	if err != nil || strings.Count(all, "\n") != 2 {
		t.Fatalf("todo export: %q, %v", all, err)
	}
	for name, headers := range map[string][]string{"ann": ann, "bob": bob} {
		http, _ := ts.exportAll(t, headers...)
		mine, err := command(t, db, "", "export", "-user", name)
		members, _, _ := strings.Cut(mine, `"url"`) // the url is of -base-url, or the request's host
		if err != nil || strings.Count(mine, "\n") != 1 || !strings.Contains(all, mine) || !strings.HasPrefix(http, members) {
			t.Errorf("todo export -user %s: %q, %v; the API exports %q", name, mine, err, http)
		}
	}
	if only, err := command(t, db, "", "export", "-list", strconv.FormatInt(l.ID, 10)); err != nil || !strings.Contains(only, "bob's") || strings.Contains(only, "ann's") {
		t.Errorf("todo export -list: %q, %v", only, err)
	}

	// Into an empty database: its one list is the built-in user's, 1. Lines
	// of other lists are refused until those lists exist.
	empty := filepath.Join(t.TempDir(), "empty.db")
	if _, err := command(t, empty, all, "import", "-"); err == nil || !strings.Contains(err.Error(), "line 2: list_id") {
		t.Errorf("import of lines of a list that is not there: %v", err)
	}
	anns, _ := command(t, db, "", "export", "-user", "ann")
	if out, err := command(t, empty, anns, "import", "-"); err != nil || out != "imported 1 todos\n" {
		t.Fatalf("todo import: %q, %v", out, err)
	}
	again, err := command(t, empty, "", "export")
	if err != nil {
		t.Fatal(err)
	}
	var before, after []todoJSON
	for line := range strings.Lines(anns) {
		before = append(before, result{body: []byte(line)}.todo(t))
	}
	for line := range strings.Lines(again) {
		after = append(after, result{body: []byte(line)}.todo(t))
	}
	for i := range before {
		a, b := before[i], after[i]
		a.ID, a.URL, a.CreatedAt, a.UpdatedAt = 0, "", "", ""
		b.ID, b.URL, b.CreatedAt, b.UpdatedAt = 0, "", "", ""
		if len(after) != len(before) || !equalTodo(a, b) {
			t.Errorf("todo %d: exported %+v, imported %+v", i, before[i], after[i])
		}
	}

	file := filepath.Join(t.TempDir(), "todos.ndjson")
	os.WriteFile(file, []byte(`{"title":"fine"}`+"\n"+`{"title":""}`+"\n"), 0o600)
	if _, err := command(t, db, "", "import", "-user", "bob", file); err == nil || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), "line 2: title must not be empty") {
		t.Errorf("import of a bad line: %v, want one line naming line 2", err)
	}
	os.WriteFile(file, []byte(`{"title":"into bob's other"}`), 0o600)
	if _, err := command(t, db, "", "import", "-user", "ann", "-list", strconv.FormatInt(l.ID, 10), file); err == nil || !strings.Contains(err.Error(), "list_id") {
		t.Errorf("ann's import into bob's list: %v, want a refusal", err)
	}
	if _, err := command(t, db, "", "import", "-user", "bob", "-list", strconv.FormatInt(l.ID, 10), file); err != nil {
		t.Fatal(err)
	}
	if _, bobs := ts.exportAll(t, bob...); len(bobs) != 2 || bobs[1].Title != "into bob's other" || bobs[1].ListID != l.ID {
		t.Errorf("bob's todos after his import: %+v", bobs)
	}
	if _, err := command(t, db, "", "import", "-user", "nobody", file); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Errorf("import for no account: %v", err)
	}
}

// TestHealthcheck: todo healthcheck exits 0 (no error) when /readyz answers
// 200, and not when nothing listens or the service is not ready.
func TestHealthcheck(t *testing.T) {
	ts := newTestServer(t, config{})
	addr := strings.TrimPrefix(ts.URL, "http://")
	if out, err := command(t, "", "", "healthcheck", "-addr", addr); err != nil || !strings.Contains(out, "ready") {
		t.Errorf("healthcheck of a ready service: %q, %v", out, err)
	}
	_, port, _ := strings.Cut(addr, ":")
	if _, err := command(t, "", "", "healthcheck", "-addr", "0.0.0.0:"+port); err != nil {
		t.Errorf("healthcheck of a listener on every address, asked on loopback: %v", err)
	}
	ts.store.Close() // the database no longer answers: /readyz is 503
	if _, err := command(t, "", "", "healthcheck", "-addr", addr); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck of a service whose database is closed: %v, want not ready", err)
	}
	ts.Close()
	if _, err := command(t, "", "", "healthcheck", "-addr", addr); err == nil {
		t.Error("healthcheck with nothing listening: no error")
	}
}
