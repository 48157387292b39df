package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hostile is one malformed or hostile request, written as raw HTTP so that
// nothing on the way tidies it up, with the status it must get.
type hostile struct {
	name   string
	method string
	target string
	header string // extra header lines, each ending in \r\n
	body   string
	want   int
}

// rawRequest writes a request on a fresh connection and reads the answer.
func rawRequest(t *testing.T, addr, raw string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return resp
}

func jsonBody(h hostile) string {
	if h.header == "" && h.body != "" {
		return "Content-Type: application/json\r\n"
	}
	return h.header
}

func TestHostileRequests(t *testing.T) {
	ts := newTestServer(t, config{})
	seed := ts.create(t, `{"title":"seed","notes":"keep me"}`)
	addr := strings.TrimPrefix(ts.URL, "http://")
	nest := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	ct := func(v string) string { return "Content-Type: " + v + "\r\n" }

	catalogue := []hostile{
		// Bodies.
		{"broken JSON", "POST", "/v1/todos", "", `{"title":`, 400},
		{"trailing comma", "POST", "/v1/todos", "", `{"title":"a",}`, 400},
		{"single quotes", "POST", "/v1/todos", "", `{'title':'a'}`, 400},
		{"deeply nested array", "POST", "/v1/todos", "", nest, 400},
		{"deeply nested title", "POST", "/v1/todos", "", `{"title":` + nest + `}`, 400},
		{"huge exponent", "POST", "/v1/todos", "", `{"title":"a","order":1e999999}`, 400},
		{"order with a fraction", "POST", "/v1/todos", "", `{"title":"a","order":1.0}`, 400},
		{"order past 2^53", "POST", "/v1/todos", "", `{"title":"a","order":9007199254740993}`, 422},
		{"order past int64", "POST", "/v1/todos", "", `{"title":"a","order":-9223372036854775809}`, 400},
		{"invalid UTF-8", "POST", "/v1/todos", "", "{\"title\":\"\xc3\x28\"}", 400},
		{"raw NUL in a string", "POST", "/v1/todos", "", "{\"title\":\"a\x00b\"}", 400},
		{"escaped NUL in the title", "POST", "/v1/todos", "", `{"title":"a\u0000b"}`, 422},
		{"escaped escape in the title", "POST", "/v1/todos", "", `{"title":"\u001b[31mred"}`, 422},
		{"duplicate keys", "POST", "/v1/todos", "", `{"title":"a","title":""}`, 400},
		{"duplicate keys, other case", "POST", "/v1/todos", "", `{"title":"a","TITLE":"b"}`, 400},
		{"empty object", "POST", "/v1/todos", "", `{}`, 422},
		{"null", "POST", "/v1/todos", "", `null`, 400},
		{"true", "POST", "/v1/todos", "", `true`, 400},
		{"a number", "POST", "/v1/todos", "", `123`, 400},
		{"an array", "POST", "/v1/todos", "", `[{"title":"a"}]`, 400},
		{"a byte-order mark", "POST", "/v1/todos", "", "\xef\xbb\xbf{\"title\":\"a\"}", 400},
		{"title of spaces", "POST", "/v1/todos", "", `{"title":"\u00a0\u2003 "}`, 422},
		{"title of 501 characters", "POST", "/v1/todos", "", `{"title":"` + strings.Repeat("x", 501) + `"}`, 422},
		{"notes of 10,001 characters", "POST", "/v1/todos", "", `{"title":"a","notes":"` + strings.Repeat("x", 10001) + `"}`, 422},
		{"month 13", "POST", "/v1/todos", "", `{"title":"a","due":"2026-13-01T00:00:00Z"}`, 422},
		{"leap second", "POST", "/v1/todos", "", `{"title":"a","due":"2026-06-30T23:59:60Z"}`, 422},
		{"year 10000", "POST", "/v1/todos", "", `{"title":"a","due":"10000-01-01T00:00:00Z"}`, 422},
		{"SQL in the title is data", "POST", "/v1/todos", "", `{"title":"'); DROP TABLE todos; --"}`, 201},
		{"a body over 1 MiB", "POST", "/v1/todos", "", `{"title":"a","notes":"` + strings.Repeat("x", 1<<20) + `"}`, 413},
		{"text/plain", "POST", "/v1/todos", ct("text/plain"), `{"title":"a"}`, 415},
		{"UTF-16", "POST", "/v1/todos", ct("application/json; charset=utf-16"), `{"title":"a"}`, 415},
		{"a near miss of a type", "POST", "/v1/todos", ct("application/jsonx"), `{"title":"a"}`, 415},
		{"a malformed type", "POST", "/v1/todos", ct("application/json; ;;"), `{"title":"a"}`, 415},
		{"a type in capitals", "POST", "/v1/todos", ct("APPLICATION/JSON"), `{"title":"upper"}`, 201},
		{"a patch of server fields", "PATCH", "/v1/todos/1", "", `{"id":2,"version":9}`, 400},
		{"a patch with a null title", "PATCH", "/v1/todos/1", "", `{"title":null}`, 422},

		// Queries.
		{"% and _ in q", "GET", "/v1/todos?q=%25_", "", "", 200},
		{"SQL in q", "GET", "/v1/todos?q=%27%20OR%201%3D1%20--", "", "", 200},
		{"NUL in q", "GET", "/v1/todos?q=%00", "", "", 400}, // it ended SQLite's pattern, which then matched every todo
		{"invalid UTF-8 in q", "GET", "/v1/todos?q=%C3%28", "", "", 400},
		{"SQL in sort", "GET", "/v1/todos?sort=id;DROP%20TABLE%20todos", "", "", 400},
		{"a negative limit", "GET", "/v1/todos?limit=-1", "", "", 400},
		{"a huge limit", "GET", "/v1/todos?limit=99999999999999999999", "", "", 400},
		{"a limit in exponent form", "GET", "/v1/todos?limit=1e2", "", "", 400},
		{"TRUE in capitals", "GET", "/v1/todos?completed=TRUE", "", "", 400},
		{"a time that is a word", "GET", "/v1/todos?due_before=now", "", "", 400},
		{"a cursor of junk", "GET", "/v1/todos?cursor=!!!", "", "", 400},
		{"a forged cursor", "GET", "/v1/todos?cursor=aWQ6ZmFsc2U6MSBPUiAxPTE6MQ", "", "", 400},
		{"a parameter twice", "GET", "/v1/todos?sort=id&sort=due", "", "", 400},
		{"a parameter without a name", "GET", "/v1/todos?=1", "", "", 400},
		{"a bad escape", "GET", "/v1/todos?%zz", "", "", 400},
		{"a long q", "GET", "/v1/todos?q=" + strings.Repeat("a", 10000), "", "", 400},
		{"the longest q", "GET", "/v1/todos?q=" + strings.Repeat("_", 1000), "", "", 200},
		{"an export with a limit", "GET", "/v1/todos?limit=5", "Accept: application/x-ndjson\r\n", "", 400},
		{"a bad q-value in Accept", "GET", "/v1/todos", "Accept: application/x-ndjson;q=abc\r\n", "", 200},

		// Ids and paths. ServeMux redirects a path that is not clean (307) to
		// the clean one, where the checks apply.
		{"id 0", "GET", "/v1/todos/0", "", "", 400},
		{"id -1", "GET", "/v1/todos/-1", "", "", 400},
		{"id abc", "GET", "/v1/todos/abc", "", "", 400},
		{"id past int64", "GET", "/v1/todos/99999999999999999999", "", "", 400},
		{"id with NUL", "GET", "/v1/todos/1%00", "", "", 400},
		{"id with a fraction", "GET", "/v1/todos/1.0", "", "", 400},
		{"id with a leading zero", "GET", "/v1/todos/01", "", "", 400},
		{"a double slash", "GET", "//v1/todos", "", "", 307},
		{"a dot-dot after an id", "GET", "/v1/todos/1/..", "", "", 307},
		{"a dot segment", "GET", "/v1/./todos", "", "", 307},
		{"an escaped dot-dot", "GET", "/v1/todos/%2e%2e/healthz", "", "", 404},
		{"a trailing slash", "GET", "/v1/todos/", "", "", 404},
		{"capitals", "GET", "/V1/TODOS", "", "", 404},
		{"a newline in the path", "GET", "/v1/todos/%0Atime=forged", "", "", 400},
		{"TRACE", "TRACE", "/v1/todos", "", "", 405},
		{"PUT on the collection", "PUT", "/v1/todos", "", `{"title":"a"}`, 405},
		{"POST on a todo", "POST", "/v1/todos/1", "", `{"title":"a"}`, 405},
		{"OPTIONS without CORS", "OPTIONS", "/v1/todos", "", "", 405},
		{"a made-up method", "BREW", "/v1/todos", "", "", 405},

		// Headers.
		{"a request id of 129 characters", "GET", "/healthz", "X-Request-ID: " + strings.Repeat("r", 129) + "\r\n", "", 200},
		{"a request id with a tab", "GET", "/healthz", "X-Request-ID: a\tb\r\n", "", 200},
		{"a request id with DEL", "GET", "/healthz", "X-Request-ID: a\x7fb\r\n", "", 400},
		{"a request id of UTF-8", "GET", "/healthz", "X-Request-ID: \xc3\xa9t\xc3\xa9\r\n", "", 200},
		{"an Idempotency-Key of 256 characters", "POST", "/v1/todos", ct("application/json") + "Idempotency-Key: " + strings.Repeat("k", 256) + "\r\n", `{"title":"a"}`, 400},
		{"an Idempotency-Key with DEL", "POST", "/v1/todos", ct("application/json") + "Idempotency-Key: a\x7fb\r\n", `{"title":"a"}`, 400},
		{"two Idempotency-Keys", "POST", "/v1/todos", ct("application/json") + "Idempotency-Key: a\r\nIdempotency-Key: b\r\n", `{"title":"a"}`, 400},
		{"If-Match of junk", "PATCH", "/v1/todos/1", ct("application/json") + "If-Match: junk\r\n", `{"title":"x"}`, 412},
		{"If-Match of a weak tag", "DELETE", "/v1/todos/1", "If-Match: W/\"1\"\r\n", "", 412},
		{"If-None-Match of junk", "GET", "/v1/todos/1", "If-None-Match: ,,,\r\n", "", 200},
		{"a token nobody asked for", "GET", "/v1/todos", "Authorization: Bearer x\r\n", "", 200},
		{"a header over 64 KiB", "GET", "/v1/todos", "X-Big: " + strings.Repeat("b", 70<<10) + "\r\n", "", 431},
		{"a NUL in a header", "GET", "/v1/todos", "X-Bad: a\x00b\r\n", "", 400},
		{"a negative Content-Length", "POST", "/v1/todos", ct("application/json") + "Content-Length: -1\r\n", "", 400},
		{"two Content-Lengths", "POST", "/v1/todos", ct("application/json") + "Content-Length: 1\r\nContent-Length: 2\r\n", "", 400},
		// The first answer, before any of the body is sent: never 100 Continue.
		{"Expect: 100-continue, too large", "POST", "/v1/todos", ct("application/json") + "Expect: 100-continue\r\nContent-Length: 100000000000\r\n", "", 413},
		{"Expect: 100-continue, too large, PATCH", "PATCH", "/v1/todos/1", ct("application/json") + "Expect: 100-continue\r\nContent-Length: 1048577\r\n", "", 413},
		{"a bad chunk", "POST", "/v1/todos", ct("application/json") + "Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n", 400},
	}
	if len(catalogue) < 60 {
		t.Fatalf("%d requests in the catalogue, want at least 60", len(catalogue))
	}
	created := 0
	for _, h := range catalogue {
		t.Run(h.name, func(t *testing.T) {
			header := jsonBody(h)
			if !strings.Contains(header, "Content-Length") && !strings.Contains(header, "Transfer-Encoding") {
				header += fmt.Sprintf("Content-Length: %d\r\n", len(h.body))
			}
			raw := h.method + " " + h.target + " HTTP/1.1\r\nHost: " + addr + "\r\n" + header + "Connection: close\r\n\r\n" + h.body
			resp := rawRequest(t, addr, raw)
			defer resp.Body.Close()
			var body struct {
				Status  int
				Errors  []FieldError
				Request string `json:"request_id"`
			}
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != h.want {
				t.Errorf("status %d, want %d", resp.StatusCode, h.want)
			}
			if resp.StatusCode >= 500 {
				t.Errorf("a 5xx")
			}
			if resp.Header.Get("X-Injected") != "" {
				t.Error("a header was injected")
			}
			if id := resp.Header.Get("X-Request-ID"); id != "" && !printableASCII(id, maxRequestIDLen) {
				t.Errorf("X-Request-ID %q", id)
			}
			// The service's own 4xx are problem JSON; net/http answers a few
			// malformed requests itself (431, bad framing), before any handler.
			if resp.StatusCode >= 400 && resp.Header.Get("X-Request-ID") != "" &&
				(resp.Header.Get("Content-Type") != "application/problem+json" || body.Status != resp.StatusCode) {
				t.Errorf("not problem JSON: %s, status %d", resp.Header.Get("Content-Type"), body.Status)
			}
			if resp.StatusCode == http.StatusCreated {
				created++
			}
		})
	}

	// Nothing changed that should not have.
	if got := ts.do(t, "GET", "/v1/todos/1", "").todo(t); !equalTodo(got, seed) {
		t.Errorf("the seed todo changed: %+v", got)
	}
	if n := ts.count(t); n != 1+created {
		t.Errorf("%d todos, want %d", n, 1+created)
	}
	// No client value forged a log line: each line is one JSON object.
	for line := range strings.SplitSeq(strings.TrimSpace(ts.logs.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("a log line that is not one record: %q", line)
		}
	}
	t.Logf("%d hostile requests", len(catalogue))
}
