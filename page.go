package main

// The web page (API.md, "The web page"): one page and its assets, embedded
// in the binary from web/, served without credentials under a
// Content-Security-Policy that lets it load nothing from elsewhere and run
// no inline script. The page finds the mode it is in from its own <html>
// element, and does everything else through the API.

import (
	"bytes"
	"embed"
	"net/http"
	"strconv"
)

//go:embed web
var webFiles embed.FS

// pageCSP lets the page load its own script, style and icon, and nothing
// from another origin; no inline script runs.
const pageCSP = "default-src 'self'"

// pageAssets are the page's files, by path, with their types.
var pageAssets = map[string]string{
	"/app.js":   "text/javascript; charset=utf-8",
	"/app.css":  "text/css; charset=utf-8",
	"/icon.svg": "image/svg+xml",
}

// isPagePath reports whether path is the page's or one of its assets, which
// need no credentials.
func isPagePath(path string) bool {
	_, asset := pageAssets[path]
	return path == "/" || asset
}

// page serves the page, its mode written into it: open, token or accounts.
func (s *server) page(w http.ResponseWriter, r *http.Request) {
	html, err := webFiles.ReadFile("web/index.html")
	if err != nil { // it is embedded: it cannot be missing
		writeError(w, r, err)
		return
	}
	mode := "open"
	switch {
	case s.cfg.token != "":
		mode = "token"
	case s.store.HasAccounts():
		mode = "accounts"
	}
	html = bytes.Replace(html, []byte(`data-mode="open"`), []byte(`data-mode="`+mode+`"`), 1)
	writeAsset(w, "text/html; charset=utf-8", html)
}

// pageAsset serves one of the page's files.
func (s *server) pageAsset(w http.ResponseWriter, r *http.Request) {
	body, err := webFiles.ReadFile("web" + r.URL.Path)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeAsset(w, pageAssets[r.URL.Path], body)
}

func writeAsset(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body) // a client gone: nothing to tell it
}
