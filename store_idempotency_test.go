package main

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIdempotency(t *testing.T) {
	ts := newTestServer(t, config{})
	body := `{"title":"pay rent"}`
	first := ts.do(t, "POST", "/v1/todos", body, "Idempotency-Key", "k1").want(t, http.StatusCreated)
	ts.do(t, "PATCH", "/v1/todos/1", `{"title":"changed since"}`).want(t, http.StatusOK)
	again := ts.do(t, "POST", "/v1/todos", body, "Idempotency-Key", "k1").want(t, http.StatusCreated)
	if !bytes.Equal(first.body, again.body) || first.header.Get("Location") != again.header.Get("Location") ||
		first.header.Get("ETag") != again.header.Get("ETag") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a retry answered differently:\n%s %v\n%s %v", first.body, first.header, again.body, again.header)
	}
	if n := ts.count(t); n != 1 {
		t.Errorf("%d todos after a retry, want 1", n)
	}
	p := ts.do(t, "POST", "/v1/todos", `{"title":"other"}`, "Idempotency-Key", "k1").problem(t, http.StatusUnprocessableEntity)
	if !strings.Contains(p.Detail, "Idempotency-Key") {
		t.Errorf("detail %q", p.Detail)
	}
	for _, key := range []string{strings.Repeat("k", 256), "a\tb", "clé"} {
		ts.do(t, "POST", "/v1/todos", body, "Idempotency-Key", key).problem(t, http.StatusBadRequest)
	}
	// An invalid request does not take the key.
	ts.do(t, "POST", "/v1/todos", `{"title":""}`, "Idempotency-Key", "k2").problem(t, http.StatusUnprocessableEntity)
	ts.do(t, "POST", "/v1/todos", body, "Idempotency-Key", "k2").want(t, http.StatusCreated)

	// Concurrent retries of one request: one todo, the same answer for all.
	const retries = 16
	bodies := make(chan string, retries)
	var wg sync.WaitGroup
	for range retries {
		wg.Go(func() {
			r := ts.do(t, "POST", "/v1/todos", `{"title":"once"}`, "Idempotency-Key", "k3")
			if r.status != http.StatusCreated {
				t.Errorf("status %d: %s", r.status, r.body)
			}
			bodies <- string(r.body)
		})
	}
	wg.Wait()
	close(bodies)
	var distinct []string
	for b := range bodies {
		if !slices.Contains(distinct, b) {
			distinct = append(distinct, b)
		}
	}
	if len(distinct) != 1 {
		t.Errorf("%d different answers to concurrent retries: %v", len(distinct), distinct)
	}
	if n := ts.count(t); n != 3 {
		t.Errorf("%d todos, want 3", n)
	}

	// After a day the key is forgotten.
	ts.store.now = func() time.Time { return time.Now().Add(idempotencyTTL + time.Minute) }
	if got := ts.do(t, "POST", "/v1/todos", body, "Idempotency-Key", "k1").want(t, http.StatusCreated); got.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("a key older than a day was replayed")
	}
}
