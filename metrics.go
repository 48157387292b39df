package main

// Prometheus metrics (API.md, "Operations"): the counters, gauges and
// histograms of the service, kept with atomics, and GET /metrics, which
// writes them in the text format 0.0.4 by hand. Labels take bounded values
// only: the route's pattern, never the path; a known method or "other".

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Buckets of the histograms: seconds of a request or a commit, writes in a batch.
var (
	secondsBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	batchBuckets   = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}
)

// histogram counts observations in buckets, with their sum.
type histogram struct {
	bounds []float64
	counts []atomic.Uint64 // one a bound, and one past the last
	sum    atomic.Uint64   // in units of 1/scale: an integer adds without a lock or a retry
	scale  float64
}

// newHistogram returns a histogram of bounds whose sum counts in 1/scale.
func newHistogram(bounds []float64, scale float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1), scale: scale}
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v) // the first bound at or above v
	h.counts[i].Add(1)
	h.sum.Add(uint64(math.Round(v * h.scale)))
}

// write writes h as the family name's series, with labels (`a="b",` or "").
func (h *histogram) write(w io.Writer, name, labels string) {
	var total uint64
	for i, bound := range h.bounds {
		total += h.counts[i].Load()
		fmt.Fprintf(w, "%s_bucket{%sle=\"%s\"} %d\n", name, labels, strconv.FormatFloat(bound, 'g', -1, 64), total)
	}
	total += h.counts[len(h.bounds)].Load()
	fmt.Fprintf(w, "%s_bucket{%sle=\"+Inf\"} %d\n", name, labels, total)
	labels = "{" + strings.TrimSuffix(labels, ",") + "}"
	if labels == "{}" {
		labels = ""
	}
	fmt.Fprintf(w, "%s_sum%s %s\n%s_count%s %d\n", name, labels, strconv.FormatFloat(float64(h.sum.Load())/h.scale, 'g', -1, 64), name, labels, total)
}

// httpMetrics are the requests' metrics, by route and method.
type httpMetrics struct {
	inFlight atomic.Int64
	failures atomic.Uint64 // failed sign-ins
	routes   sync.Map      // routeKey → *routeMetrics
}

type routeKey struct{ route, method string }

// routeMetrics are one route's and method's: what they answered, by status,
// and how long it took.
type routeMetrics struct {
	codes    [600]atomic.Uint64
	duration *histogram
}

// routeOf is the route label of r: its pattern without the method, or
// "unmatched".
func routeOf(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	if _, path, ok := strings.Cut(r.Pattern, " "); ok {
		return path
	}
	return r.Pattern
}

// methodOf is the method label of r: one of the API's, or "other".
func methodOf(r *http.Request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return r.Method
	}
	return "other"
}

// observe counts a request answered with status after elapsed.
func (m *httpMetrics) observe(r *http.Request, status int, elapsed time.Duration) {
	key := routeKey{routeOf(r), methodOf(r)}
	rm, ok := m.routes.Load(key)
	if !ok {
		rm, _ = m.routes.LoadOrStore(key, &routeMetrics{duration: newHistogram(secondsBuckets, 1e9)})
	}
	if status >= 100 && status < 600 { // net/http writes no other
		rm.(*routeMetrics).codes[status].Add(1)
	}
	rm.(*routeMetrics).duration.observe(elapsed.Seconds())
}

// family writes the HELP and TYPE lines of a family.
func family(w io.Writer, name, kind, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
}

// metricsHandler serves GET /metrics: in the accounts mode, to an admin.
func (s *server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	if s.store.HasAccounts() && s.cfg.token == "" && !callerFrom(r.Context()).Admin {
		writeError(w, r, Errorf(EFORBIDDEN, "the metrics are an admin's, or -metrics-addr's"))
		return
	}
	s.writeMetrics(w)
}

// writeMetrics writes every family, series sorted by their labels.
func (s *server) writeMetrics(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	var keys []routeKey
	s.metrics.routes.Range(func(k, _ any) bool { keys = append(keys, k.(routeKey)); return true })
	slices.SortFunc(keys, func(a, b routeKey) int {
		return cmp.Or(strings.Compare(a.route, b.route), strings.Compare(a.method, b.method))
	})
	routes := make([]*routeMetrics, len(keys))
	var shed uint64 // the 503s of every route
	family(&b, "todo_http_requests_total", "counter", "HTTP requests answered, by route pattern, method and status code.")
	for i, k := range keys {
		rm, _ := s.metrics.routes.Load(k)
		routes[i] = rm.(*routeMetrics)
		for code := range routes[i].codes {
			if n := routes[i].codes[code].Load(); n > 0 {
				fmt.Fprintf(&b, "todo_http_requests_total{route=%q,method=%q,code=\"%d\"} %d\n", k.route, k.method, code, n)
			}
		}
		shed += routes[i].codes[http.StatusServiceUnavailable].Load()
	}
	family(&b, "todo_http_request_duration_seconds", "histogram", "Time from a request's arrival to its answer, by route pattern and method.")
	for i, k := range keys {
		routes[i].duration.write(&b, "todo_http_request_duration_seconds", fmt.Sprintf("route=%q,method=%q,", k.route, k.method))
	}
	st := &s.store.stats
	for _, c := range []struct {
		name, kind, help string
		value            float64
	}{
		{"todo_http_requests_in_flight", "gauge", "Requests being answered.", float64(s.metrics.inFlight.Load())},
		{"todo_http_requests_shed_total", "counter", "Requests answered 503: the service at one of its bounds, or the database late.", float64(shed)},
		{"todo_signin_failures_total", "counter", "Sign-ins with a wrong name or password.", float64(s.metrics.failures.Load())},
		{"todo_event_streams", "gauge", "Event streams open.", float64(s.events.open())},
		{"todo_write_batches_total", "counter", "Transactions of the writer: each commits the writes that waited together.", float64(st.batches.Load())},
		{"todo_cache_hits_total", "counter", "Reads of one todo answered from the cache.", float64(st.cacheHits.Load())},
		{"todo_cache_misses_total", "counter", "Reads of one todo that went to the database.", float64(st.cacheMisses.Load())},
		{"go_goroutines", "gauge", "Goroutines that exist.", float64(runtime.NumGoroutine())},
	} {
		family(&b, c.name, c.kind, c.help)
		fmt.Fprintf(&b, "%s %s\n", c.name, strconv.FormatFloat(c.value, 'g', -1, 64))
	}
	family(&b, "todo_write_batch_size", "histogram", "Writes in one transaction of the writer.")
	st.batchSizes.write(&b, "todo_write_batch_size", "")
	family(&b, "todo_commit_duration_seconds", "histogram", "Time a transaction of the writer took to commit, its fsync included.")
	st.commits.write(&b, "todo_commit_duration_seconds", "")
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	family(&b, "go_memstats_heap_alloc_bytes", "gauge", "Bytes of the heap allocated and not yet freed.")
	fmt.Fprintf(&b, "go_memstats_heap_alloc_bytes %d\n", mem.HeapAlloc)
	family(&b, "go_memstats_sys_bytes", "gauge", "Bytes of memory obtained from the system.")
	fmt.Fprintf(&b, "go_memstats_sys_bytes %d\n", mem.Sys)
	io.WriteString(w, b.String()) // a client gone: nothing to tell it
}

// storeStats are what the store counts for the metrics; it knows nothing of
// them otherwise.
type storeStats struct {
	batches                atomic.Uint64
	batchSizes, commits    *histogram
	cacheHits, cacheMisses atomic.Uint64
}
