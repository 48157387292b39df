package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSchemaVersions(t *testing.T) {
	migrations, err := parseMigrations(schemaSQL)
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
		if _, err := parseMigrations(bad); err == nil {
			t.Errorf("parseMigrations(%q) took an out-of-sequence schema", bad)
		}
	}
}
