package main

// Compression: a page of todos or an export sent gzip-compressed to a client
// that asks for it (Accept-Encoding: gzip), as it is written, never gathered
// whole first. A compressor holds about a megabyte: it takes that from the
// memory budget, and when the budget has no room the answer goes out
// uncompressed rather than waiting. Nothing here knows of todos.

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

const (
	// gzipCost is what a compressor holds at gzip.BestSpeed (measured:
	// 1.2 MB), taken from the memory budget while it works.
	gzipCost = 5 << 18
	// minCompressed is the smallest body worth compressing: below it the
	// gzip frame and the compressor's cost outweigh what it saves.
	minCompressed = 1 << 10
)

var compressors = sync.Pool{New: func() any {
	gz, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // the level is valid
	return gz
}}

// compressed calls write with w, or, when r accepts gzip, the body is at
// least minCompressed (-1: not known, a stream) and the budget has room,
// with a writer that compresses. The compressed body is ended only when
// write returns: a write that panics (a stream cut off) leaves it without
// its end, so that the client sees it is incomplete.
func (s *server) compressed(w http.ResponseWriter, r *http.Request, size int, write func(w http.ResponseWriter)) {
	w.Header().Add("Vary", "Accept-Encoding")
	if size >= 0 && size < minCompressed || !acceptsGzip(r) || !s.memory.tryTake(gzipCost) {
		write(w)
		return
	}
	defer s.memory.give(gzipCost)
	gz := compressors.Get().(*gzip.Writer)
	defer compressors.Put(gz)
	gz.Reset(w)
	w.Header().Set("Content-Encoding", "gzip")
	write(&gzipResponse{ResponseWriter: w, gz: gz})
	gz.Close() // an error means the client is gone: nothing to do
}

// gzipResponse is a ResponseWriter whose body goes through gz.
type gzipResponse struct {
	http.ResponseWriter
	gz *gzip.Writer
}

func (g *gzipResponse) WriteHeader(status int) {
	g.Header().Del("Content-Length") // of the uncompressed body
	g.ResponseWriter.WriteHeader(status)
}

func (g *gzipResponse) Write(b []byte) (int, error) { return g.gz.Write(b) }

// FlushError sends what the compressor holds, then what the connection does.
func (g *gzipResponse) FlushError() error {
	if err := g.gz.Flush(); err != nil {
		return err
	}
	return http.NewResponseController(g.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the connection's writer, for deadlines.
func (g *gzipResponse) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// acceptsGzip reports whether r's Accept-Encoding takes gzip (RFC 9110
// §12.5.3): gzip (or x-gzip) with a q above 0, or, when it is not named, *.
func acceptsGzip(r *http.Request) bool {
	named, star := -1.0, -1.0 // the weights given, -1 for none
	for _, header := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(header, ",") {
			coding, params, _ := strings.Cut(part, ";")
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				named = max(named, qValue(params))
			case "*":
				star = max(star, qValue(params))
			}
		}
	}
	if named >= 0 {
		return named > 0
	}
	return star > 0
}

// qValue is the weight in the parameters of a coding: 1 when none is given,
// 0 when it does not parse.
func qValue(params string) float64 {
	for param := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(param), "=")
		if strings.EqualFold(name, "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return 0
			}
			return q
		}
	}
	return 1
}
