package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// user runs "todo user ARGS..." on db with stdin, and returns its output.
func user(t *testing.T, db, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errs bytes.Buffer
	getenv := func(name string) string {
		if name == "TODO_DB" {
			return db
		}
		return ""
	}
	err := runCommand(t.Context(), append([]string{"user"}, args...), getenv, strings.NewReader(stdin), &out, &errs)
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
