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
	"sync"
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

// pages are the page as each mode serves it, its mode written into it; files
// are its assets. Both are read once from what is embedded.
var (
	pages = sync.OnceValue(func() map[string][]byte {
		html, _ := webFiles.ReadFile("web/index.html") // embedded: it is there
		pages := map[string][]byte{}
		for _, mode := range []string{"open", "token", "accounts"} {
			pages[mode] = bytes.Replace(html, []byte(`data-mode="open"`), []byte(`data-mode="`+mode+`"`), 1)
		}
		return pages
	})
	files = sync.OnceValue(func() map[string][]byte {
		files := map[string][]byte{}
		for path := range pageAssets {
			files[path], _ = webFiles.ReadFile("web" + path) // embedded: it is there
		}
		return files
	})
)

// page serves the page of the mode the service is in.
func (s *server) page(w http.ResponseWriter, r *http.Request) {
	mode := "open"
	switch {
	case s.cfg.token != "":
		mode = "token"
	case s.store.HasAccounts():
		mode = "accounts"
	}
	writeAsset(w, "text/html; charset=utf-8", pages()[mode])
}

// pageAsset serves one of the page's files.
func (s *server) pageAsset(w http.ResponseWriter, r *http.Request) {
	writeAsset(w, pageAssets[r.URL.Path], files()[r.URL.Path])
}

func writeAsset(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body) // a client gone: nothing to tell it
}
