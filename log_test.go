package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// stuckWriter is a log destination that stops taking lines until released.
type stuckWriter struct {
	entered, release chan struct{}
	once             sync.Once
	mu               sync.Mutex
	out              bytes.Buffer
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered); <-w.release })
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

// TestLogBuffer: lines come out in order; while the destination takes none,
// at most maxLogBuffer bytes wait and the lines past that are dropped and
// counted, not kept; Close writes out the rest.
func TestLogBuffer(t *testing.T) {
	dest := &stuckWriter{entered: make(chan struct{}), release: make(chan struct{})}
	b := newLogBuffer(dest)
	b.Write([]byte("first\n"))
	<-dest.entered // the flush took the first line, and is stuck writing it

	line := []byte(strings.Repeat("x", 1023) + "\n")
	const written = maxLogBuffer/1024 + 100
	for i := range written {
		copy(line, fmt.Sprintf("%06d", i))
		if n, err := b.Write(line); n != len(line) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	close(dest.release)
	b.Close()

	lines := strings.Split(strings.TrimSuffix(dest.out.String(), "\n"), "\n")
	kept := maxLogBuffer / 1024
	if len(lines) != 2+kept || lines[0] != "first" ||
		lines[1] != fmt.Sprintf("todo: %d log lines were dropped: the log was not taking them", written-kept) {
		t.Fatalf("%d lines, beginning %q", len(lines), lines[:min(2, len(lines))])
	}
	for i, l := range lines[2:] {
		if !strings.HasPrefix(l, fmt.Sprintf("%06d", i)) {
			t.Fatalf("line %d is %.10q: out of order", i, l)
		}
	}
}
