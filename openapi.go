package main

// The OpenAPI document (API.md, "Operations"): api/openapi.json, an OpenAPI
// 3.1 description of every route but the page's, embedded in the binary and
// served as it is, without credentials. TestOpenAPIRoutes keeps it and the
// route table the same.

import (
	_ "embed"
	"net/http"
)

//go:embed api/openapi.json
var openAPI []byte

func (s *server) openAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, openAPI)
}
