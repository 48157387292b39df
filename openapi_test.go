package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// patterns is a router that notes the patterns of the route table.
type patterns []string

func (p *patterns) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	*p = append(*p, pattern)
}

// TestOpenAPIRoutes: every route of the mux is in the OpenAPI document and
// the document names no route the mux lacks (the page's aside); the
// document is served as it is, without credentials.
func TestOpenAPIRoutes(t *testing.T) {
	var table patterns
	(&server{}).routes(&table)
	routed := map[string]bool{}
	for _, p := range table {
		method, path, _ := strings.Cut(p, " ")
		if !isPagePath(strings.TrimSuffix(path, "{$}")) {
			routed[method+" "+path] = true
		}
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("the document: %v, openapi %q", err, doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	for r := range routed {
		if !documented[r] {
			t.Errorf("%s is routed, not in api/openapi.json", r)
		}
	}
	for r := range documented {
		if !routed[r] {
			t.Errorf("%s is in api/openapi.json, not routed", r)
		}
	}
	if len(routed) < 30 || !slices.Contains(table, "GET /openapi.json") {
		t.Errorf("%d routes: %v", len(routed), table)
	}

	ts, _ := newAccountsServer(t, config{}, "ann")
	r := ts.do(t, "GET", "/openapi.json", "").want(t, http.StatusOK)
	if r.header.Get("Content-Type") != "application/json" || !bytes.Equal(r.body, openAPI) {
		t.Errorf("GET /openapi.json: %v, %d bytes", r.header, len(r.body))
	}
}
