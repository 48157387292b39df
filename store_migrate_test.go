package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

	v2 := schemaSQL + "\n-- version 2\n-- The stored JSON is rendered again (a Go step).\n"
	migrations, err := parseMigrations(v2, map[int]func(context.Context, *sql.Tx) error{2: renderTodos})
	if err != nil {
		t.Fatal(err)
	}
	s, err = openStore(path, migrations)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var version int
	if err := s.readDB.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != 2 {
		t.Fatalf("user_version %d (%v), want 2", version, err)
	}
	n := 0
	err = s.ListTodos(t.Context(), Filter{Sort: SortByID}, func(rt RenderedTodo, _ Position) error {
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
	failing, err := parseMigrations(v2+"\n-- version 3\nCREATE TABLE half (x);\n", map[int]func(context.Context, *sql.Tx) error{
		3: func(context.Context, *sql.Tx) error { return errors.New("the step failed") }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openStore(path, failing); err == nil || !strings.Contains(err.Error(), "migrate to version 3") || !strings.Contains(err.Error(), "the step failed") {
		t.Fatalf("a failing step: %v", err)
	}
	s = mustOpenStoreWith(t, path, migrations)
	var tables int
	if err := s.readDB.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'half'").Scan(&tables); err != nil || tables != 0 {
		t.Errorf("the failed version left its table (%d, %v)", tables, err)
	}

	if _, err := parseMigrations(schemaSQL, map[int]func(context.Context, *sql.Tx) error{2: renderTodos}); err == nil {
		t.Error("a Go step without its section in schema.sql was taken")
	}
}
