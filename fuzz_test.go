package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets feed client input to the real handler over a real store.
// The property is the same for all: never a panic, never a 5xx, and every 4xx
// is problem JSON that names what was wrong. The seeds in testdata/fuzz run
// with every go test; to fuzz one target for a while:
//
//	go test -run '^$' -fuzz '^FuzzTodoBody$' -fuzztime 10m .

func fuzzServer(f *testing.F) http.Handler {
	store, err := OpenStore(filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	served := newServer(slog.New(slog.NewTextHandler(io.Discard, nil)), store, config{})
	// httptest's requests say Host: example.com, which the open mode refuses (421).
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Host = "localhost"
		served.ServeHTTP(w, r)
	})
	// One todo to patch, replace and read.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, jsonRequest("POST", "/v1/todos", `{"title":"seed"}`))
	if rec.Code != http.StatusCreated {
		f.Fatalf("seed: %d %s", rec.Code, rec.Body)
	}
	return h
}

func jsonRequest(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// checkAnswer asserts the fuzz property on one answer; named lists the
// statuses whose problem must name a field.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, named ...int) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if rec.Code < 400 {
		return
	}
	var p problem
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d with Content-Type %q", rec.Code, ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Detail == "" {
		t.Fatalf("status %d, problem %s (%v)", rec.Code, rec.Body, err)
	}
	for _, status := range named {
		if rec.Code == status && (len(p.Errors) == 0 || p.Errors[0].Field == "") {
			t.Fatalf("status %d names no field: %s", rec.Code, rec.Body)
		}
	}
}

func FuzzTodoBody(f *testing.F) {
	h := fuzzServer(f)
	for _, seed := range []string{`{"title":"a"}`, `{"title":null,"due":"2026-01-01T00:00:00Z"}`, `{"order":1e400}`,
		`[]`, `{"title":"a"}{}`, "{\"title\":\"\xff\"}", `{"notes":"\u0000"}`, `{"completed":"yes","x":1}`} {
		f.Add(byte(0), seed)
	}
	f.Fuzz(func(t *testing.T, method byte, body string) {
		m, target := [...]string{"POST", "PUT", "PATCH"}[method%3], "/v1/todos/1"
		if m == "POST" {
			target = "/v1/todos"
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, jsonRequest(m, target, body))
		checkAnswer(t, rec, http.StatusUnprocessableEntity)
	})
}

func FuzzListQuery(f *testing.F) {
	h := fuzzServer(f)
	for _, seed := range []string{"completed=true&q=%25_", "sort=-due&limit=2", "due_before=2026-01-01T00:00:00%2B02:00",
		"cursor=ZHVlOmZhbHNlOjE6MQ", "limit=0&limit=1", "%zz", "q=%ff", "sort=due&cursor=" + strings.Repeat("A", 300)} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, rawQuery string, export bool) {
		r := httptest.NewRequest("GET", "/v1/todos", nil)
		r.URL.RawQuery = rawQuery
		if export {
			r.Header.Set("Accept", "application/x-ndjson")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		checkAnswer(t, rec, http.StatusBadRequest)
		r.Method = "DELETE" // the same query on the route that deletes
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		checkAnswer(t, rec, http.StatusBadRequest)
	})
}

func FuzzPathID(f *testing.F) {
	h := fuzzServer(f)
	for _, seed := range []string{"1", "0", "-1", "01", "+1", "9223372036854775808", "1e3", " 1", "1/x", "%31"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		for _, method := range []string{"GET", "DELETE"} {
			r := httptest.NewRequest(method, "/v1/todos/1", nil)
			r.URL = &url.URL{Path: "/v1/todos/" + id}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			checkAnswer(t, rec, http.StatusBadRequest)
			if method == "DELETE" && rec.Code == http.StatusNoContent {
				h.ServeHTTP(httptest.NewRecorder(), jsonRequest("POST", "/v1/todos", `{"title":"again"}`))
			}
		}
	})
}

func FuzzHeaders(f *testing.F) {
	h := fuzzServer(f)
	f.Add("trace-1", "key-1", `"1"`, "application/json")
	f.Add("a\r\nX-Injected: 1", "k\x00", `W/"1", *`, "application/json; charset=latin1")
	f.Add(strings.Repeat("x", 200), strings.Repeat("k", 300), "", "text/plain")
	f.Fuzz(func(t *testing.T, requestID, key, ifMatch, contentType string) {
		for _, r := range []*http.Request{
			jsonRequest("POST", "/v1/todos", `{"title":"h"}`),
			jsonRequest("PATCH", "/v1/todos/1", `{"order":1}`),
			httptest.NewRequest("GET", "/v1/todos/1", nil),
		} {
			// Set straight into the map: a client library would refuse some of these.
			r.Header["X-Request-Id"] = []string{requestID}
			r.Header["Idempotency-Key"] = []string{key}
			r.Header["If-Match"] = []string{ifMatch}
			r.Header["If-None-Match"] = []string{ifMatch}
			r.Header["Content-Type"] = []string{contentType}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			checkAnswer(t, rec)
			if id := rec.Header().Get("X-Request-ID"); !printableASCII(id, maxRequestIDLen) {
				t.Fatalf("X-Request-ID %q", id)
			}
		}
	})
}
