package main

// The log: slog in the configured format and level, written through a buffer
// so that no request waits on the log's destination.

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

const (
	logFlushEvery = 100 * time.Millisecond
	maxLogBuffer  = 4 << 20 // bytes of log waiting to be written, at most
)

// newLogger returns the service's logger, writing to w in the configured format and level.
func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logBuffer gathers log lines in memory and writes them out in the
// background, every logFlushEvery, so that no request waits on a write to the
// log (a system call each, and a stall when stderr is a slow pipe). If the
// destination stops taking lines, at most maxLogBuffer bytes wait: further
// lines are dropped and counted. Lines of the last moments before a crash
// may be lost; Close writes out the rest.
type logBuffer struct {
	out  io.Writer
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	buf  []byte
	lost int
}

func newLogBuffer(out io.Writer) *logBuffer {
	b := &logBuffer{out: out, stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// Write takes one log line; slog writes each line in a single call.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > maxLogBuffer {
		b.lost++
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *logBuffer) run() {
	defer close(b.done)
	tick := time.NewTicker(logFlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			b.flush()
		case <-b.stop:
			b.flush()
			return
		}
	}
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	lines, lost := b.buf, b.lost
	b.buf, b.lost = nil, 0
	b.mu.Unlock()
	if lost > 0 {
		fmt.Fprintf(b.out, "todo: %d log lines were dropped: the log was not taking them\n", lost)
	}
	b.out.Write(lines) // nowhere to report a failure to write the log
}

// Close writes out what is left and stops.
func (b *logBuffer) Close() {
	close(b.stop)
	<-b.done
}
