package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// scrape reads the value of each series of GET /metrics, by its name and labels.
func scrape(t *testing.T, ts *testServer, headers ...string) map[string]float64 {
	t.Helper()
	r := ts.do(t, "GET", "/metrics", "", headers...).want(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	series := map[string]float64{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(r.body)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return series
}

// TestMetrics: the counters and histograms move as requests are served, with
// the route's pattern (never the path) and a bounded method as labels; the
// store's batches, commits and cache count too.
func TestMetrics(t *testing.T) {
	ts := newTestServer(t, config{})
	before := scrape(t, ts)
	for range 3 {
		ts.create(t, `{"title":"x"}`)
	}
	ts.get(t, 1)
	ts.get(t, 1)
	ts.do(t, "GET", "/v1/todos/999", "").want(t, http.StatusNotFound)
	ts.do(t, "GET", "/no/such/path/42", "").want(t, http.StatusNotFound)
	ts.do(t, "BREW", "/v1/todos", "").want(t, http.StatusMethodNotAllowed)
	after := scrape(t, ts)
	moved := func(series string) float64 { return after[series] - before[series] }
	for series, want := range map[string]float64{
		`todo_http_requests_total{route="/v1/todos",method="POST",code="201"}`:                 3,
		`todo_http_requests_total{route="/v1/todos/{id}",method="GET",code="200"}`:             2,
		`todo_http_requests_total{route="/v1/todos/{id}",method="GET",code="404"}`:             1,
		`todo_http_requests_total{route="unmatched",method="GET",code="404"}`:                  1,
		`todo_http_requests_total{route="unmatched",method="other",code="405"}`:                1,
		`todo_http_request_duration_seconds_count{route="/v1/todos",method="POST"}`:            3,
		`todo_http_request_duration_seconds_bucket{route="/v1/todos",method="POST",le="+Inf"}`: 3,
		`todo_write_batches_total`:           3,
		`todo_write_batch_size_count`:        3,
		`todo_commit_duration_seconds_count`: 3,
		`todo_cache_hits_total`:              1,
		`todo_cache_misses_total`:            2, // 1 the first time, and 999
	} {
		if got := moved(series); got != want {
			t.Errorf("%s moved by %v, want %v", series, got, want)
		}
	}
	if moved(`todo_http_request_duration_seconds_sum{route="/v1/todos",method="POST"}`) <= 0 || after["go_goroutines"] < 1 ||
		after["go_memstats_heap_alloc_bytes"] <= 0 || after["todo_http_requests_in_flight"] != 1 { // the scrape itself
		t.Errorf("the sum, the runtime's or the in-flight gauge: %v", after)
	}
	for series := range after {
		if regexp.MustCompile(`/v1/todos/[0-9]|/no/such`).MatchString(series) {
			t.Errorf("a path in a label: %s", series)
		}
	}
}

// TestMetricsAccess: open in the open mode, the token in the shared-token
// mode, an admin with accounts; and anyone on -metrics-addr.
func TestMetricsAccess(t *testing.T) {
	token := newTestServer(t, config{token: "secret"})
	token.do(t, "GET", "/metrics", "").problem(t, http.StatusUnauthorized)
	scrape(t, token, "Authorization", "Bearer secret")
	accounts, tokens := newAccountsServer(t, config{}, "ann", "bob") // ann, the first, is an admin
	accounts.do(t, "GET", "/metrics", "").problem(t, http.StatusUnauthorized)
	accounts.do(t, "GET", "/metrics", "", "Authorization", bearer(tokens["bob"])).problem(t, http.StatusForbidden)
	scrape(t, accounts, "Authorization", bearer(tokens["ann"]))
}

// TestMetricsAddr: -metrics-addr serves /metrics alone, without
// credentials, beside a service that asks for its token.
func TestMetricsAddr(t *testing.T) {
	env := map[string]string{"TODO_DB": filepath.Join(t.TempDir(), "metrics.db"), "TODO_TOKEN": "secret", "TODO_METRICS_ADDR": "127.0.0.1:0"}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stdout, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, stdoutW, io.Discard)
	}()
	lines := bufio.NewReader(stdout)
	first, _ := lines.ReadString('\n')
	second, _ := lines.ReadString('\n')
	go io.Copy(io.Discard, stdout)
	base := strings.TrimPrefix(strings.TrimSpace(first), "listening on ")
	scraper := strings.TrimPrefix(strings.TrimSpace(second), "metrics on ")
	get := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get(base+"/metrics") != http.StatusUnauthorized || get(scraper) != http.StatusOK || get(strings.TrimSuffix(scraper, "/metrics")+"/v1/todos") != http.StatusNotFound {
		t.Errorf("the service at %s, the scraper's listener at %s", base, scraper)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
