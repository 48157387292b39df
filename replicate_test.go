package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestReplicationSurvivesTheMachine runs Litestream (deploy/litestream.yml)
// beside the service while writers create todos, kills both at once with
// SIGKILL, as the loss of the machine would, restores the database from the
// file replica into a new place, and finds there every todo acknowledged
// more than 2 s before the kill. It needs the litestream binary: .ci/run
// installs it and sets TODO_LITESTREAM, which makes a missing binary fail.
func TestReplicationSurvivesTheMachine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: replication runs for about ten seconds")
	}
	bin, err := exec.LookPath("litestream")
	if env := os.Getenv("TODO_LITESTREAM"); env != "" {
		bin, err = env, nil
	}
	if err != nil {
		t.Skip("no litestream binary on PATH (go install github.com/benbjohnson/litestream/cmd/litestream@v0.5.18, or TODO_LITESTREAM)")
	}
	dir := t.TempDir()
	db, replica, restored := filepath.Join(dir, "todo.db"), filepath.Join(dir, "replica"), filepath.Join(dir, "restored.db")
	c := startChild(t, db)
	env := append(os.Environ(), "TODO_DB="+db, "LITESTREAM_REPLICA_URL=file://"+replica)
	var logs bytes.Buffer
	ls := exec.Command(bin, "replicate", "-config", "deploy/litestream.yml")
	ls.Env, ls.Stdout, ls.Stderr = env, &logs, &logs
	if err := ls.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Process.Kill(); ls.Wait() })

	type ack struct {
		id    int64
		title string
		at    time.Time
	}
	var (
		mu   sync.Mutex
		acks []ack
		wg   sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				title := fmt.Sprintf("writer %d, todo %d", w, i)
				status, body, _, err := c.send("POST", "/v1/todos", `{"title":"`+title+`"}`)
				if err != nil || status != http.StatusCreated {
					continue // the kill, or a 503 under load: not acknowledged
				}
				var todo todoJSON
				if err := json.Unmarshal(body, &todo); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acks = append(acks, ack{todo.ID, title, time.Now()})
				mu.Unlock()
			}
		})
	}
	time.Sleep(5*time.Second + rand.N(3*time.Second))
	killed := time.Now()
	ls.Process.Kill()
	c.cmd.Process.Kill()
	close(stop)
	wg.Wait()
	ls.Wait()

	out, err := exec.Command(bin, "restore", "-o", restored, "file://"+replica).CombinedOutput()
	if err != nil {
		t.Fatalf("litestream restore: %v\n%s\nreplicate's log:\n%s", err, out, logs.String())
	}
	if err := checkDatabase(t.Context(), restored, 99); err != nil {
		t.Fatalf("the restored database: %v", err)
	}
	raw, err := sql.Open("sqlite3", restored+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var due, kept, total int
	var oldestLost time.Duration
	for _, a := range acks {
		var title string
		err := raw.QueryRow("SELECT title FROM todos WHERE id = ?", a.id).Scan(&title)
		if err == nil && title == a.title {
			kept++
		} else {
			oldestLost = max(oldestLost, killed.Sub(a.at))
		}
		if a.at.Before(killed.Add(-2 * time.Second)) {
			due++
			if err != nil || title != a.title {
				t.Errorf("todo %d (%q), acknowledged %s before the kill, restored as %q, %v", a.id, a.title, killed.Sub(a.at).Round(time.Millisecond), title, err)
			}
		}
	}
	raw.QueryRow("SELECT count(*) FROM todos").Scan(&total)
	t.Logf("%d todos acknowledged, %d of them more than 2 s before the kill; the restore holds %d of those acknowledged (%d todos in all): lost %d, the oldest acknowledged %s before the kill",
		len(acks), due, kept, total, len(acks)-kept, oldestLost.Round(time.Millisecond))
	if due == 0 {
		t.Error("no todo was acknowledged more than 2 s before the kill: nothing was tested")
	}
}
