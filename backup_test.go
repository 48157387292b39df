package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackupUnderWrites: todo backup, run while writers create todos through
// the running service, makes an intact copy that holds every todo
// acknowledged before the backup began, as it was acknowledged.
func TestBackupUnderWrites(t *testing.T) {
	ts := newTestServer(t, config{})
	seedTodos(t, ts.store, 20_000) // enough for the copy to take a while
	var (
		mu    sync.Mutex
		acked = map[int64]string{} // id → title
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				title := fmt.Sprintf("writer %d, todo %d", w, i)
				r := ts.do(t, "POST", "/v1/todos", `{"title":"`+title+`"}`).want(t, http.StatusCreated)
				id := r.todo(t).ID
				mu.Lock()
				acked[id] = title
				mu.Unlock()
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	before := make(map[int64]string, len(acked))
	for id, title := range acked {
		before[id] = title
	}
	mu.Unlock()
	file := filepath.Join(t.TempDir(), "backup.db")
	start := time.Now()
	out, err := command(t, ts.store.path, "", "backup", file)
	took := time.Since(start)
	mu.Lock()
	during := len(acked) - len(before)
	mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if err != nil || !strings.Contains(out, "backed up") {
		t.Fatalf("todo backup: %q, %v", out, err)
	}
	t.Logf("backup of %d todos took %s; %d creates were acknowledged meanwhile, %d before it", 20_000+len(before), took.Round(time.Millisecond), during, len(before))

	if err := checkDatabase(t.Context(), file, 99); err != nil {
		t.Fatalf("the backup is not intact: %v", err)
	}
	db, err := sql.Open("sqlite3", file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for id, title := range before {
		var got string
		if err := db.QueryRow("SELECT title FROM todos WHERE id = ?", id).Scan(&got); err != nil || got != title {
			t.Fatalf("todo %d, acknowledged before the backup: %q, %v in the backup; want %q", id, got, err, title)
		}
	}
	if _, err := command(t, ts.store.path, "", "backup", file); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a backup onto an existing file: %v, want a refusal", err)
	}
	if _, err := os.Stat(file + ".partial"); !os.IsNotExist(err) {
		t.Errorf("a partial copy is left: %v", err)
	}
}

// TestRestore: a backup restored gives the database as it was when backed
// up; restore refuses while a service holds the database, and refuses a file
// that is not an intact todo database of a known version, leaving the
// database as it was.
func TestRestore(t *testing.T) {
	dir := t.TempDir()
	db, file := filepath.Join(dir, "todo.db"), filepath.Join(dir, "backup.db")
	s := mustOpenStore(t, db)
	seedTodos(t, s, 2000)
	if _, err := command(t, db, "", "backup", file); err != nil {
		t.Fatal(err)
	}
	seedTodos(t, s, 10) // after the backup

	if _, err := command(t, db, "", "restore", file); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("restore while a service holds the database: %v, want a refusal", err)
	}
	s.Close()

	notSQLite := filepath.Join(dir, "notes.txt")
	os.WriteFile(notSQLite, []byte(strings.Repeat("not a database\n", 1000)), 0o600)
	corrupt := filepath.Join(dir, "corrupt.db")
	b, _ := os.ReadFile(file)
	copy(b[len(b)/2:], strings.Repeat("garbage!", 512))
	os.WriteFile(corrupt, b, 0o600)
	newer := filepath.Join(dir, "newer.db")
	other := filepath.Join(dir, "other.db")
	for path, setup := range map[string]string{newer: "", other: "CREATE TABLE t (x)"} {
		copyFile(file, path)
		raw, _ := sql.Open("sqlite3", path)
		if setup == "" {
			setup = "PRAGMA user_version = 99"
		} else {
			raw.Exec("DROP TABLE todos")
		}
		if _, err := raw.Exec(setup); err != nil {
			t.Fatal(err)
		}
		raw.Close()
	}
	for from, want := range map[string]string{
		notSQLite: "not a SQLite database", corrupt: "not intact", newer: "newer than this program",
		other: "not a todo database", filepath.Join(dir, "missing.db"): "no such file",
	} {
		if _, err := command(t, db, "", "restore", from); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("restore %s: %v, want %q", filepath.Base(from), err, want)
		}
	}
	if _, err := os.Stat(db + ".restoring"); !os.IsNotExist(err) {
		t.Errorf("a refused restore left its copy: %v", err)
	}
	if n := countTodos(t, db); n != 2010 {
		t.Errorf("%d todos after the refusals, want the 2010 there were", n)
	}

	if out, err := command(t, db, "", "restore", file); err != nil || !strings.Contains(out, "restored") {
		t.Fatalf("restore: %q, %v", out, err)
	}
	if n := countTodos(t, db); n != 2000 {
		t.Errorf("%d todos after the restore, want the 2000 of the backup", n)
	}
	for _, suffix := range []string{"-wal", "-shm", ".restoring"} {
		if _, err := os.Stat(db + suffix); !os.IsNotExist(err) {
			t.Errorf("%s is left after the restore: %v", suffix, err)
		}
	}
}

// countTodos opens the database at path as the service does, and counts its todos.
func countTodos(t *testing.T, path string) int {
	t.Helper()
	s := mustOpenStore(t, path)
	defer s.Close()
	var n int
	if err := s.readDB.QueryRow("SELECT count(*) FROM todos").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
