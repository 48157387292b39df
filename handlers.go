package main

// The route table, the API's table of contents, and its handlers: each reads
// its request (request.go), calls the store, and writes the answer
// (response.go). No SQL here, and no rule of a todo.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

const (
	defaultLimit      = 100 // todos in a page when the client names no limit
	readyTimeout      = time.Second
	importReadTimeout = 5 * time.Minute // 64 MiB at about 220 KB/s
)

var errImportRunning = &Error{Code: EUNAVAILABLE, Message: "an import is running, and one runs at a time; retry in a moment"}

// server holds what the handlers depend on.
type server struct {
	logger *slog.Logger
	store  *Store
	cfg    config

	memory   *byteBudget   // what bodies and pages may hold at once
	idPrefix string        // of the request ids it makes
	requests atomic.Uint64 // counts the request ids it made
	guesses  guessLimiter  // failed sign-ins
	hashing  chan struct{} // a turn to check a password: see takeTurn
	events   *hub          // the live events' streams
	imports  chan struct{} // one per import running: see importTodos
	metrics  httpMetrics

	handler http.Handler // the routes behind the middleware
}

// newServer returns the service's whole HTTP handler: the routes behind the
// middleware chain.
func newServer(logger *slog.Logger, store *Store, cfg config) *server {
	s := &server{logger: logger, store: store, cfg: cfg, idPrefix: rand.Text()[:10] + "-", memory: newByteBudget(memoryBudget),
		hashing: make(chan struct{}, max(1, runtime.NumCPU()/2)), events: newHub(store, logger, appendEvent), imports: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	s.routes(mux)
	// A request passes these in order: observe (request id, recovery, the log
	// line), checkHost, cors, authenticate, budgetBodies, then the route.
	s.handler = s.observe(s.checkHost(s.cors(s.authenticate(s.budgetBodies(mux)))))
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// router is what routes needs of a ServeMux (and a test of the table, of it).
type router interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// routes is the API's table of contents. ServeMux answers HEAD for every GET,
// and 404 or 405 (with Allow) for the rest; observe makes those problem JSON.
func (s *server) routes(mux router) {
	mux.HandleFunc("GET /v1/todos", s.listTodos)
	mux.HandleFunc("POST /v1/todos", s.createTodo)
	mux.HandleFunc("DELETE /v1/todos", s.deleteTodos)
	mux.HandleFunc("GET /v1/todos/{id}", s.getTodo)
	mux.HandleFunc("PATCH /v1/todos/{id}", s.patchTodo)
	mux.HandleFunc("PUT /v1/todos/{id}", s.replaceTodo)
	mux.HandleFunc("DELETE /v1/todos/{id}", s.deleteTodo)
	mux.HandleFunc("GET /v1/lists", s.listLists)
	mux.HandleFunc("POST /v1/lists", s.createList)
	mux.HandleFunc("GET /v1/lists/{id}", s.getList)
	mux.HandleFunc("PATCH /v1/lists/{id}", s.renameList)
	mux.HandleFunc("DELETE /v1/lists/{id}", s.deleteList)
	mux.HandleFunc("GET /v1/lists/{id}/members", s.listMembers)
	mux.HandleFunc("PUT /v1/lists/{id}/members/{name}", s.share)
	mux.HandleFunc("DELETE /v1/lists/{id}/members/{name}", s.unshare)
	mux.HandleFunc("GET /v1/changes", s.listChanges)
	mux.HandleFunc("GET /v1/events", s.streamEvents)
	mux.HandleFunc("GET /v1/me", s.getMe)
	mux.HandleFunc("PATCH /v1/me", s.changeMe)
	mux.HandleFunc("GET /v1/users", s.listUsers)
	mux.HandleFunc("POST /v1/users", s.createUser)
	mux.HandleFunc("PATCH /v1/users/{name}", s.changeUser)
	mux.HandleFunc("DELETE /v1/users/{name}", s.deleteUser)
	mux.HandleFunc("GET /v1/tokens", s.listTokens)
	mux.HandleFunc("POST /v1/tokens", s.createToken)
	mux.HandleFunc("DELETE /v1/tokens/{id}", s.deleteToken)
	mux.HandleFunc("POST /v1/session", s.createSession)
	mux.HandleFunc("DELETE /v1/session", s.deleteSession)
	mux.HandleFunc("GET /{$}", s.page)
	for path := range pageAssets {
		mux.HandleFunc("GET "+path, s.pageAsset)
	}
	mux.HandleFunc("GET /metrics", s.metricsHandler)
	mux.HandleFunc("GET /openapi.json", s.openAPI)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
}

func (s *server) createTodo(w http.ResponseWriter, r *http.Request) {
	if hasMediaType(r, []string{"application/x-ndjson"}) {
		s.importTodos(w, r)
		return
	}
	key, err := idempotencyKey(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var in TodoInput
	body, err := decode(w, r, &in, "application/json")
	if err != nil {
		writeError(w, r, err)
		return
	}
	todo, problems := NewTodo(in)
	if problems != nil {
		writeError(w, r, invalidTodo(problems))
		return
	}
	if key != nil {
		sum := sha256.Sum256(body)
		key.Fingerprint = sum[:]
	}
	t, replayed, err := s.store.CreateTodo(r.Context(), callerFrom(r.Context()).User, todo, key)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Location", s.todoURL(r, t.ID))
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeTodo(w, http.StatusCreated, t, s.collectionURL(r))
}

func (s *server) getTodo(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	t, err := s.store.FindTodo(r.Context(), callerFrom(r.Context()).User, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if inm := ifNoneMatch(r.Header); inm != nil && inm.Has(t.Version) {
		w.Header().Set("ETag", etag(t.Version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeTodo(w, http.StatusOK, t, s.collectionURL(r))
}

func (s *server) patchTodo(w http.ResponseWriter, r *http.Request) {
	s.changeTodo(w, r, false, "application/json", "application/merge-patch+json")
}

func (s *server) replaceTodo(w http.ResponseWriter, r *http.Request) {
	s.changeTodo(w, r, true, "application/json")
}

// changeTodo is PATCH and, with replace, PUT: the store checks If-Match and
// applies the body in one transaction with the write.
func (s *server) changeTodo(w http.ResponseWriter, r *http.Request, replace bool, mediaTypes ...string) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var in TodoInput
	if _, err := decode(w, r, &in, mediaTypes...); err != nil {
		writeError(w, r, err)
		return
	}
	t, err := s.store.UpdateTodo(r.Context(), callerFrom(r.Context()).User, id, TodoUpdate{Input: in, Replace: replace, IfMatch: ifMatch(r.Header)})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeTodo(w, http.StatusOK, t, s.collectionURL(r))
}

func (s *server) deleteTodo(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.store.DeleteTodo(r.Context(), callerFrom(r.Context()).User, id, ifMatch(r.Header)); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) deleteTodos(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.RawQuery, "completed", "list_id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.store.DeleteTodos(r.Context(), callerFrom(r.Context()).User, f.ListID, f.Completed); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) listTodos(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.RawQuery, listParameters...)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if acceptsNDJSON(r) {
		s.exportTodos(w, r, f)
		return
	}
	if f.Limit == 0 {
		f.Limit = defaultLimit
	}
	held := int64(pageCost) // what a page may reach, while it is built
	if err := s.memory.take(r.Context(), held); err != nil {
		writeError(w, r, err)
		return
	}
	defer func() { s.memory.give(held) }()
	page := newTodoPage(s.collectionURL(r), f.Limit)
	f.Limit++ // one more row tells whether a next page exists
	if err := s.store.ListTodos(r.Context(), callerFrom(r.Context()).User, f, page.add); err != nil && err != errPageFull {
		writeError(w, r, err)
		return
	}
	body := page.finish()
	// While it is written, at the client's pace, it holds only its own size.
	s.memory.give(held - int64(cap(body)))
	held = int64(cap(body))
	next := ""
	if page.more {
		query := r.URL.Query() // already checked by parseFilter
		query.Set("cursor", encodeCursor(f, page.last))
		next = s.baseURL(r) + "/v1/todos?" + query.Encode()
	}
	s.compressed(w, r, len(body), func(w http.ResponseWriter) { writePage(w, body, next) })
}

// importTodos is POST /v1/todos of NDJSON: a bulk import, all or nothing.
// One runs at a time (the next is 503 at once): it holds what its lines
// hold, up to maxImportBytes, until it is written.
func (s *server) importTodos(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.RawQuery, "list_id")
	switch {
	case err != nil:
	case r.Header.Get("Idempotency-Key") != "":
		err = &Error{Code: EMALFORMED, Message: "an import takes no Idempotency-Key: it is all or nothing, so a client that is unsure can look before it sends it again",
			Fields: []FieldError{{"Idempotency-Key", "is not taken by an import"}}}
	case r.ContentLength > maxImportBytes: // before a byte is read, as for Expect: 100-continue
		err = Errorf(ETOOLARGE, "the import is larger than %d bytes", maxImportBytes)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	select {
	case s.imports <- struct{}{}:
		defer func() { <-s.imports }()
	default:
		writeError(w, r, errImportRunning)
		return
	}
	// 64 MiB takes longer to send than a body's read timeout allows.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(importReadTimeout))
	lines, err := readImport(r.Body)
	if err == nil {
		err = s.store.ImportTodos(r.Context(), callerFrom(r.Context()).User, f.ListID, lines)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	encode(w, r, http.StatusCreated, map[string]int{"created": len(lines)})
}

// exportTodos streams every todo that f selects as NDJSON.
func (s *server) exportTodos(w http.ResponseWriter, r *http.Request, f Filter) {
	if err := refusePaging(r); err != nil {
		writeError(w, r, err)
		return
	}
	s.compressed(w, r, -1, func(w http.ResponseWriter) {
		stream := newNDJSONStream(w, s.collectionURL(r))
		stream.end(r, s.store.ExportTodos(r.Context(), callerFrom(r.Context()).User, f, stream.add, stream.flush))
	})
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	encode(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		writeError(w, r, &Error{Code: EUNAVAILABLE, Message: "the database does not answer", Err: err})
		return
	}
	encode(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

// baseURL is where clients reach the API: the configured public URL, or the
// request's own scheme and host.
func (s *server) baseURL(r *http.Request) string {
	if s.cfg.baseURL != "" {
		return s.cfg.baseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" { // HTTP/1.0 may send none
		host = "localhost"
	}
	return scheme + "://" + host
}

// collectionURL is the todos' URL, ending in a slash: a todo's URL is it and the id.
func (s *server) collectionURL(r *http.Request) string { return s.baseURL(r) + "/v1/todos/" }

func (s *server) todoURL(r *http.Request, id int64) string {
	return s.collectionURL(r) + strconv.FormatInt(id, 10)
}
