package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRun runs the whole program: flags from the environment, the bound
// address on stdout, and a clean stop when its context ends.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TODO_DB": filepath.Join(dir, "run.db"), "TODO_LOG_FORMAT": "json"}
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stdoutW := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, stdoutW, &stderr)
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || strings.HasSuffix(base, ":0") {
		t.Fatalf("first line %q", line)
	}
	resp, err := http.Post(base+"/v1/todos", "application/json", strings.NewReader(`{"title":"run"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("run did not stop")
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("log: %s", stderr.String())
	}
	if _, err := os.Stat(env["TODO_DB"] + "-wal"); !os.IsNotExist(err) {
		t.Errorf("the WAL is still there after a clean stop: %v", err)
	}

	for _, args := range [][]string{{"-log-format", "xml"}, {"-log-level", "loud"}, {"-base-url", "ftp://x"}, {"-cors-origins", "example.com"}, {"extra"}, {"-db", filepath.Join(dir, "no", "such", "dir", "x.db")},
		{"-change-retention", "0"}, {"-change-retention", "-1h"}, {"-change-retention", "a month"}} {
		if err := run(t.Context(), args, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
			t.Errorf("run %v started", args)
		}
	}
}

// TestSignalStopsCleanly runs the program as a process and stops it with
// SIGTERM: it exits 0, and what it acknowledged is in the file.
func TestSignalStopsCleanly(t *testing.T) {
	db := filepath.Join(t.TempDir(), "signal.db")
	c := startChild(t, db)
	if status, body, _, err := c.send("POST", "/v1/todos", `{"title":"kept"}`); err != nil || status != http.StatusCreated {
		t.Fatalf("create: %d %s %v", status, body, err)
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	s := mustOpenStore(t, db)
	if todo, err := s.FindTodo(t.Context(), BuiltinUser, 1); err != nil || !strings.Contains(string(todo.Members), `"title":"kept"`) {
		t.Errorf("after the stop: %s, %v", todo.Members, err)
	}
}

// TestOpenModeListensOnLoopback: without a token the service refuses to
// start on an address that is not loopback, with one line, unless -open (or
// TODO_OPEN) says the operator means it; with a token it starts.
func TestOpenModeListensOnLoopback(t *testing.T) {
	dir := t.TempDir()
	env := func(extra ...string) func(string) string {
		vars := map[string]string{"TODO_DB": filepath.Join(dir, "open.db")}
		for i := 0; i+1 < len(extra); i += 2 {
			vars[extra[i]] = extra[i+1]
		}
		return func(k string) string { return vars[k] }
	}
	refusal, cancel := context.WithTimeout(t.Context(), 5*time.Second) // if it serves after all, it stops
	defer cancel()
	err := run(refusal, []string{"-addr", "0.0.0.0:0"}, env(), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "serves only loopback") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("the open mode on every address: %v", err)
	}
	if err := run(t.Context(), nil, env("TODO_OPEN", "maybe"), io.Discard, io.Discard); err == nil {
		t.Error("TODO_OPEN=maybe was taken")
	}
	for _, tt := range []struct {
		args []string
		env  func(string) string
	}{
		{[]string{"-addr", "0.0.0.0:0", "-open"}, env()},
		{[]string{"-addr", "0.0.0.0:0"}, env("TODO_OPEN", "true")},
		{[]string{"-addr", "0.0.0.0:0", "-token", "s3cret"}, env()},
		{[]string{"-addr", "127.0.0.1:0"}, env()},
	} {
		ctx, cancel := context.WithCancel(t.Context())
		stdout, stdoutW := io.Pipe()
		done := make(chan error, 1)
		go func() { done <- run(ctx, tt.args, tt.env, stdoutW, io.Discard) }()
		go func() { bufio.NewReader(stdout).ReadString('\n'); cancel() }() // started: stop it
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run %v: %v", tt.args, err)
			}
		case <-time.After(shutdownTimeout + 5*time.Second):
			t.Fatalf("run %v did not stop", tt.args)
		}
		cancel()
	}
}
