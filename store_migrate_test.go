package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSchemaVersions(t *testing.T) {
	migrations, err := parseMigrations(schemaSQL, goSteps)
	if err != nil || len(migrations) == 0 {
		t.Fatalf("schema.sql: %d migrations, %v", len(migrations), err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "todo.db")
	s := mustOpenStore(t, path)
	var version int
	if err := s.readDB.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(migrations) {
		t.Errorf("user_version %d (%v), want %d", version, err, len(migrations))
	}
	var mode string
	if err := s.writeDB.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q (%v)", mode, err)
	}
	var sync, fk int
	if err := s.writeDB.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous %d (%v), want 2 (FULL)", sync, err)
	}
	if err := s.writeDB.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys %d (%v)", fk, err)
	}
	s.Close()
	mustOpenStore(t, path).Close() // reopening an up-to-date database changes nothing

	raw := func(path, sql string) {
		db, err := openRaw(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(sql); err != nil {
			t.Fatal(err)
		}
	}
	raw(path, fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1))
	if _, err := OpenStore(path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("a newer database opened: %v", err)
	}
	other := filepath.Join(dir, "other.db")
	raw(other, "CREATE TABLE notes (x)")
	if _, err := OpenStore(other); err == nil || !strings.Contains(err.Error(), "not a todo database") {
		t.Errorf("a foreign database opened: %v", err)
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("junk"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(junk); err == nil {
		t.Error("a file that is not a database opened")
	}
	for _, bad := range []string{"-- version 2\nSELECT 1;", "-- version 1\n-- version 1\n", "-- version x\n"} {
		if _, err := parseMigrations(bad, nil); err == nil {
			t.Errorf("parseMigrations(%q) took an out-of-sequence schema", bad)
		}
	}
}

// TestGoMigration upgrades a database with a version whose Go step renders
// every todo's stored JSON again with the program's encoder, as a version
// that adds a field to a todo would; a failing step undoes its SQL too; and
// a Go step needs its section in schema.sql.
func TestGoMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "todo.db")
	s := mustOpenStore(t, path)
	seedTodos(t, s, 2500) // more than renderTodos reads at a time
	s.Close()
	db, err := openRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	// The JSON of an older shape, as a todo without notes would have it.
	if _, err := db.Exec(`UPDATE todos SET json = '"title":"old shape"'`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	shipped, err := parseMigrations(schemaSQL, goSteps)
	if err != nil {
		t.Fatal(err)
	}
	next := len(shipped) + 1 // the version this test adds
	v2 := schemaSQL + fmt.Sprintf("\n-- version %d\n-- The stored JSON is rendered again (a Go step).\n", next)
	migrations, err := parseMigrations(v2, map[int]func(context.Context, *sql.Tx) error{next: renderTodos})
	if err != nil {
		t.Fatal(err)
	}
	s, err = openStore(path, migrations, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var version int
	if err := s.readDB.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != next {
		t.Fatalf("user_version %d (%v), want %d", version, err, next)
	}
	n := 0
	err = s.ListTodos(t.Context(), BuiltinUser, Filter{Sort: SortByID}, func(rt RenderedTodo, _ Position) error {
		n++
		var td todoJSON
		if err := json.Unmarshal(rt.AppendJSON(nil, "http://x/"), &td); err != nil {
			return err
		}
		if !strings.HasPrefix(td.Title, "todo number ") || td.CreatedAt == "" || rt.Version != FirstVersion {
			return fmt.Errorf("todo %d after the migration: %s", rt.ID, rt.Members)
		}
		return nil
	})
	if err != nil || n != 2500 {
		t.Fatalf("%d todos rendered again: %v", n, err)
	}
	s.Close()

	// A step that fails leaves the database as it was: its SQL is undone.
	failing, err := parseMigrations(v2+fmt.Sprintf("\n-- version %d\nCREATE TABLE half (x);\n", next+1), map[int]func(context.Context, *sql.Tx) error{
		next + 1: func(context.Context, *sql.Tx) error { return errors.New("the step failed") }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openStore(path, failing, true); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("migrate to version %d", next+1)) || !strings.Contains(err.Error(), "the step failed") {
		t.Fatalf("a failing step: %v", err)
	}
	s = mustOpenStoreWith(t, path, migrations)
	var tables int
	if err := s.readDB.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'half'").Scan(&tables); err != nil || tables != 0 {
		t.Errorf("the failed version left its table (%d, %v)", tables, err)
	}

	if _, err := parseMigrations(schemaSQL, map[int]func(context.Context, *sql.Tx) error{next: renderTodos}); err == nil {
		t.Error("a Go step without its section in schema.sql was taken")
	}
}

// TestUpgradeFromRelease1 opens a database that the first release's binary
// made (testdata/release-1.db; see testdata/README.md): every todo lands in
// the built-in user's Inbox with its id, times, version and ETag unchanged,
// its JSON as before with list_id added; an idempotency key of then still
// replays; and the first account made takes them all.
func TestUpgradeFromRelease1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "todo.db")
	data, err := os.ReadFile("testdata/release-1.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := openRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		version int64
		members string
	}
	before := map[int64]row{}
	rows, err := raw.Query("SELECT id, version, json FROM todos")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var r row
		if err := rows.Scan(&id, &r.version, &r.members); err != nil {
			t.Fatal(err)
		}
		before[id] = r
	}
	rows.Close()
	var version int
	if err := raw.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != 1 || len(before) != 4 {
		t.Fatalf("testdata/release-1.db: version %d (%v), %d todos", version, err, len(before))
	}
	// The key of then replays only within a day of its making: the store's
	// clock is set to an hour after it.
	var keyMade int64
	if err := raw.QueryRow("SELECT created_at FROM idempotency_keys").Scan(&keyMade); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	store := mustOpenStore(t, path)
	store.now = func() time.Time { return time.UnixMilli(keyMade).Add(time.Hour) }
	ts := serveStore(t, store, config{})
	var lists []listJSON
	ts.do(t, "GET", "/v1/lists", "").want(t, http.StatusOK).decodeJSON(t, &lists)
	if len(lists) != 1 || lists[0].Title != "Inbox" || !lists[0].Default {
		t.Fatalf("lists %+v", lists)
	}
	for id, old := range before {
		r := ts.do(t, "GET", fmt.Sprintf("/v1/todos/%d", id), "").want(t, http.StatusOK)
		if r.header.Get("ETag") != fmt.Sprintf(`"%d"`, old.version) {
			t.Errorf("todo %d: ETag %s, was version %d", id, r.header.Get("ETag"), old.version)
		}
		var got, want map[string]any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		wantJSON := fmt.Sprintf(`{"id":%d,%s,"list_id":%d,"url":"%s/v1/todos/%d"}`, id, old.members, lists[0].ID, ts.URL, id)
		if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("todo %d\n got %v\nwant %v", id, got, want)
		}
	}
	r := ts.do(t, "POST", "/v1/todos", `{"title":"once, with a key ✓","completed":true}`, "Idempotency-Key", "k-1").want(t, http.StatusCreated)
	if r.header.Get("Idempotent-Replayed") != "true" || r.todo(t).ID != 4 {
		t.Errorf("the key of release 1 did not replay: %s", r.body)
	}
	if next := ts.create(t, `{"title":"after the upgrade"}`); next.ID != 6 {
		t.Errorf("the next id is %d, want 6: ids are never reused", next.ID)
	}
	if _, err := ts.store.CreateUser(t.Context(), "ada", hashPassword(passwordOf("ada")), false); err != nil {
		t.Fatal(err)
	}
	if todos := ts.do(t, "GET", "/v1/todos", "", "Authorization", bearer(ts.signIn(t, "ada"))).want(t, http.StatusOK).todos(t); len(todos) != 5 {
		t.Errorf("the first account has %d todos, want 5", len(todos))
	}
}
