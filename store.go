package main

import (
	"bytes"
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
)

//go:embed schema.sql
var schemaSQL string

const (
	queryTimeout   = 5 * time.Second  // the bound on every query but an export
	exportTimeout  = 10 * time.Minute // an export streams at the client's pace
	idempotencyTTL = 24 * time.Hour
	busyTimeoutMS  = 5000   // how long SQLite itself waits for a lock held by another process
	stmtCacheSize  = 32     // prepared statements kept per connection, by query text
	maxBatch       = 256    // writes in one transaction at most
	maxCached      = 10_000 // todos in the read cache at most
	// Overload: at most maxInFlight requests work on the database at once;
	// one more waits up to queueWait for a place, then fails fast as
	// EUNAVAILABLE (503 with Retry-After) instead of queueing without limit.
	maxInFlight = 64
	queueWait   = 100 * time.Millisecond
)

// Store keeps the todos in one SQLite file.
type Store struct {
	// write has a single connection. SQLite lets one writer in at a time;
	// queueing writers here, each with a deadline, instead of inside SQLite
	// means that no request ever sees "database is locked".
	write *sql.DB
	// read is a pool of read-only connections. In WAL mode readers see the
	// last commit and never wait for the writer.
	read *sql.DB
	// Timeout bounds every query but an export; a query that runs out of it
	// fails as EUNAVAILABLE (503).
	Timeout time.Duration
	now     func() time.Time

	cache todoCache
	slots chan struct{} // one per request working on the database: see maxInFlight

	writes     chan write    // to runWriter, the one goroutine that writes
	closing    chan struct{} // closed by Close: the writer stops
	writerDone chan struct{} // closed by the writer as it stops
	closeOnce  sync.Once
}

// IdempotencyKey is a client's key for a create, with a fingerprint of its request.
type IdempotencyKey struct {
	Key         string
	Fingerprint []byte
}

// OpenStore opens (or creates) the database at path, or a throwaway one in
// memory for ":memory:", and brings its schema up to date.
func OpenStore(path string) (*Store, error) {
	s := &Store{Timeout: queryTimeout, now: time.Now, cache: todoCache{todos: map[int64]TodoJSON{}}, slots: make(chan struct{}, maxInFlight),
		writes: make(chan write, maxBatch), closing: make(chan struct{}), writerDone: make(chan struct{})}
	// synchronous=FULL: in WAL mode a commit returns only after the WAL is
	// fsynced, so a 201 survives a crash of the process or of the machine.
	params := fmt.Sprintf("_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1&_busy_timeout=%d&_stmt_cache_size=%d", busyTimeoutMS, stmtCacheSize)
	if path == ":memory:" {
		// Every connection to :memory: is a database of its own: use just one.
		db, err := sql.Open("sqlite3", ":memory:?_foreign_keys=1")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		s.write, s.read = db, db
	} else {
		var err error
		// _txlock=immediate: a write transaction takes the write lock at BEGIN,
		// so it never fails half-way on a lock it could not upgrade.
		if s.write, err = sql.Open("sqlite3", path+"?"+params+"&_txlock=immediate"); err != nil {
			return nil, err
		}
		s.write.SetMaxOpenConns(1)
		if s.read, err = sql.Open("sqlite3", path+"?"+params+"&_query_only=1"); err != nil {
			s.write.Close()
			return nil, err
		}
		readers := max(4, runtime.NumCPU())
		s.read.SetMaxOpenConns(readers)
		s.read.SetMaxIdleConns(readers)
	}

	go s.runWriter()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return s, nil
}

// Close stops the writer and closes the database; the last connection to
// close checkpoints the WAL. Writes still waiting for the writer fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	<-s.writerDone
	var err error
	if s.read != s.write {
		err = s.read.Close()
	}
	return errors.Join(err, s.write.Close())
}

// migrate applies the sections of schema.sql that the database has not seen.
func (s *Store) migrate(ctx context.Context) error {
	migrations, err := parseMigrations(schemaSQL)
	if err != nil {
		return err
	}
	var version, tables int
	if err := s.write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("its schema version is %d, newer than this program knows (%d): run a newer todo", version, len(migrations))
	}
	if version == 0 {
		if err := s.write.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
			return err
		}
		if tables > 0 {
			return errors.New("it is not a todo database: it has tables but no schema version")
		}
	}
	for v := version + 1; v <= len(migrations); v++ {
		err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
			if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
	}
	return nil
}

// parseMigrations splits schema.sql at its "-- version N" lines, which must
// count up from 1.
func parseMigrations(schema string) ([]string, error) {
	var migrations []string
	for _, line := range strings.Split(schema, "\n") {
		if n, ok := strings.CutPrefix(line, "-- version "); ok {
			if v, err := strconv.Atoi(n); err != nil || v != len(migrations)+1 {
				return nil, fmt.Errorf("schema.sql: %q is out of sequence", line)
			}
			migrations = append(migrations, "")
		} else if len(migrations) > 0 {
			migrations[len(migrations)-1] += line + "\n"
		}
	}
	return migrations, nil
}

// Ping checks that the database answers a read.
func (s *Store) Ping(ctx context.Context) error {
	var v int
	if err := s.read.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return s.dbError(ctx, "ping", err)
	}
	return nil
}

var errBusy = &Error{Code: EUNAVAILABLE, Message: "the service is busy; retry in a moment"}

// enter takes a place among the requests working on the database, waiting
// at most queueWait; leave gives it back.
func (s *Store) enter(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	wait := time.NewTimer(queueWait)
	defer wait.Stop()
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-wait.C:
		return errBusy
	case <-ctx.Done():
		return s.dbError(ctx, "wait for a place", ctx.Err())
	}
}

func (s *Store) leave() { <-s.slots }

// writeTx hands fn to the writer goroutine and returns once fn's batch is
// committed, or fn failed. fn runs in a transaction with other writes; its
// ctx carries the batch's deadline, and now is the batch's one timestamp.
func (s *Store) writeTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx, now time.Time) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	w := write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	wait, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	select {
	case s.writes <- w:
	case <-wait.Done():
		return s.dbError(wait, "wait for the writer", wait.Err())
	case <-s.closing:
		return errClosed
	}
	select {
	case err := <-w.done: // the writer answers every write it takes
		return err
	case <-s.writerDone: // the store closed; the writer answers before it stops
		select {
		case err := <-w.done:
			return err
		default:
			return errClosed
		}
	}
}

var errClosed = &Error{Code: EUNAVAILABLE, Message: "the service is stopping"}

// write is one request's part of a batch.
type write struct {
	ctx  context.Context // the request's: a write whose client is gone is skipped
	fn   func(ctx context.Context, tx *sql.Tx, now time.Time) error
	done chan error // buffered, so that the writer never waits
}

// runWriter is the one goroutine that writes. It takes every write waiting at
// the moment, up to maxBatch, into one transaction: while it commits a batch,
// the next one gathers, and one fsync serves them all (group commit).
func (s *Store) runWriter() {
	defer close(s.writerDone)
	for {
		var batch []write
		select {
		case w := <-s.writes:
			batch = append(batch, w)
		case <-s.closing:
			return
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case w := <-s.writes:
				batch = append(batch, w)
			default:
				break gather
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
		errs := s.runBatch(ctx, batch)
		for i, w := range batch {
			w.done <- s.dbError(ctx, "write", errs[i])
		}
		cancel()
	}
}

// runBatch runs each write of batch inside a savepoint, so that a write that
// fails is undone alone, then commits them all. It returns each write's error.
func (s *Store) runBatch(ctx context.Context, batch []write) []error {
	errs := make([]error, len(batch))
	failAll := func(err error) []error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return failAll(err)
	}
	defer tx.Rollback() // after a commit it does nothing
	now := s.now().UTC().Truncate(time.Millisecond)
	for i, w := range batch {
		if err := w.ctx.Err(); err != nil {
			errs[i] = &Error{Code: EUNAVAILABLE, Message: "the request ended before its write began", Err: err}
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT write"); err != nil {
			return failAll(err)
		}
		if errs[i] = w.fn(ctx, tx, now); errs[i] != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO write"); err != nil {
				// After some errors (a full disk, an I/O error) SQLite has
				// rolled back the whole transaction itself: the batch fails
				// with the write's own error.
				var se sqlite3.Error
				if errors.As(errs[i], &se) {
					return failAll(errs[i])
				}
				return failAll(err)
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE write"); err != nil {
			return failAll(err)
		}
	}
	// Durability: with journal_mode=WAL and synchronous=FULL, COMMIT returns
	// only after the WAL is fsynced. No write of the batch is answered before
	// this returns, so an acknowledged write survives a crash of the process
	// or of the machine; if the commit fails, every write in it fails.
	if err := tx.Commit(); err != nil {
		return failAll(err)
	}
	return errs
}

// dbError turns a database error into an *Error: a deadline, a lock or an
// I/O error is EUNAVAILABLE, a full disk EFULL, an *Error passes through, and
// anything else is internal.
func (s *Store) dbError(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	var se sqlite3.Error
	isSQLite := errors.As(err, &se)
	switch {
	case errors.As(err, &e):
		return err
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded),
		isSQLite && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked):
		return &Error{Code: EUNAVAILABLE, Message: "the database did not answer in time", Err: fmt.Errorf("%s: %w", op, err)}
	case isSQLite && se.Code == sqlite3.ErrFull:
		return &Error{Code: EFULL, Message: "the database is full: nothing was written", Err: fmt.Errorf("%s: %w", op, err)}
	case isSQLite && se.Code == sqlite3.ErrIoErr:
		return &Error{Code: EUNAVAILABLE, Message: "the database could not write: nothing was written", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// CreateTodo stores t as a new todo and returns it with its id and times.
// With a key, a retry of the same request within a day returns the todo as it
// was created and replayed true; the same key with another request is EINVALID.
func (s *Store) CreateTodo(ctx context.Context, t Todo, key *IdempotencyKey) (created TodoJSON, replayed bool, err error) {
	err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		if key != nil {
			prior, found, err := findIdempotent(ctx, tx, *key, now)
			if err != nil || found {
				created, replayed = prior, found
				return err
			}
		}
		t.stamp(nil, now)
		var err error
		if created, err = insertTodo(ctx, tx, t); err != nil {
			return err
		}
		if key != nil {
			return saveIdempotent(ctx, tx, *key, created, now)
		}
		return nil
	})
	return created, replayed, err
}

// UpdateTodo changes the todo with id by calling change on it, all in one
// transaction, so that a check inside change (If-Match) is atomic with the
// write. A change that leaves the content as it was writes nothing.
func (s *Store) UpdateTodo(ctx context.Context, id int64, change func(*Todo) error) (TodoJSON, error) {
	var updated TodoJSON
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		old, err := findTodo(ctx, tx, id)
		if err != nil {
			return err
		}
		t := old
		if err := change(&t); err != nil {
			return err
		}
		if sameContent(old, t) {
			updated = old.JSON()
			return nil
		}
		t.stamp(&old, now)
		updated, err = updateTodo(ctx, tx, t)
		return err
	})
	s.cache.forget(id)
	return updated, err
}

// DeleteTodo deletes the todo with id if check, called on it in the same
// transaction, returns nil.
func (s *Store) DeleteTodo(ctx context.Context, id int64, check func(Todo) error) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		t, err := findTodo(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := check(t); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM todos WHERE id = ?", id)
		return err
	})
	s.cache.forget(id)
	return err
}

// DeleteTodos deletes every todo, or only those whose completed is *completed.
func (s *Store) DeleteTodos(ctx context.Context, completed *bool) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		var err error
		if completed == nil {
			_, err = tx.ExecContext(ctx, "DELETE FROM todos")
		} else {
			_, err = tx.ExecContext(ctx, "DELETE FROM todos WHERE completed = ?", *completed)
		}
		return err
	})
	s.cache.forgetAll()
	return err
}

// FindTodo returns the todo with id, or ENOTFOUND.
func (s *Store) FindTodo(ctx context.Context, id int64) (TodoJSON, error) {
	t, ok, gen := s.cache.get(id)
	if ok {
		return t, nil
	}
	if err := s.enter(ctx); err != nil {
		return t, err
	}
	defer s.leave()
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	err := s.read.QueryRowContext(ctx, "SELECT id, version, json FROM todos WHERE id = ?", id).
		Scan(&t.ID, &t.Version, &t.Fields)
	if errors.Is(err, sql.ErrNoRows) {
		return t, Errorf(ENOTFOUND, "todo %d does not exist", id)
	}
	if err != nil {
		return t, s.dbError(ctx, "find todo", err)
	}
	s.cache.put(t, gen)
	return t, nil
}

// ListTodos calls each for every todo that f selects, in f's order, with its
// keyset position, reading the rows as it goes: memory does not grow with
// their number. With no limit (an export) the query is bounded by
// exportTimeout instead of s.Timeout. t.Fields is only valid during the call.
func (s *Store) ListTodos(ctx context.Context, f Filter, each func(t TodoJSON, at Position) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	timeout := s.Timeout
	if f.Limit == 0 {
		timeout = exportTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	query, args := listQuery(f)
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return s.dbError(ctx, "list todos", err)
	}
	defer rows.Close()
	var t TodoJSON
	var at Position
	var fields sql.RawBytes // not copied: each appends it where it goes
	for rows.Next() {
		if err := rows.Scan(&t.ID, &t.Version, &at.Value, &fields); err != nil {
			return s.dbError(ctx, "list todos", err)
		}
		t.Fields, at.ID = fields, t.ID
		if err := each(t, at); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.dbError(ctx, "list todos", err)
	}
	return nil
}

// The cache keeps the JSON of the todos read lately, so that reading a todo
// again costs no query. A write forgets the todo it touched once committed
// (before it is answered); a read keeps what it found only if nothing was
// forgotten since it began, so that a read that raced a write cannot leave
// the old todo behind.
type todoCache struct {
	mu    sync.RWMutex
	todos map[int64]TodoJSON
	gen   uint64 // counts the forgets
}

func (c *todoCache) get(id int64) (t TodoJSON, ok bool, gen uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok = c.todos[id]
	return t, ok, c.gen
}

func (c *todoCache) put(t TodoJSON, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.todos) >= maxCached {
		for id := range c.todos { // the map's order is random: evict one at random
			delete(c.todos, id)
			break
		}
	}
	c.todos[t.ID] = t
}

func (c *todoCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.todos, id)
	c.gen++
}

func (c *todoCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.todos)
	c.gen++
}

// sortExpr is the SQL for each sort key; each has an index ending in id.
var sortExpr = map[SortKey]string{
	SortByID:        "id",
	SortByDue:       "ifnull(due, 9223372036854775807)", // noDue; as in the index todos_by_due
	SortByOrder:     `"order"`,
	SortByUpdatedAt: "updated_at",
}

// listQuery builds the SELECT for f. Paging is by keyset (the last row's sort
// value and id), so that a page costs the same deep in the list as at its
// head, and a row inserted meanwhile is neither skipped nor repeated.
func listQuery(f Filter) (string, []any) {
	var where []string
	var args []any
	if f.Completed != nil {
		where, args = append(where, "completed = ?"), append(args, *f.Completed)
	}
	if f.Text != "" {
		// LIKE folds ASCII case; the escapes make % and _ in the text literal.
		pattern := "%" + likeEscaper.Replace(f.Text) + "%"
		where = append(where, `(title LIKE ? ESCAPE '\' OR notes LIKE ? ESCAPE '\')`)
		args = append(args, pattern, pattern)
	}
	if f.DueBefore != nil {
		where, args = append(where, "due < ?"), append(args, f.DueBefore.UnixMilli())
	}
	if f.DueAfter != nil {
		where, args = append(where, "due >= ?"), append(args, f.DueAfter.UnixMilli())
	}
	if f.UpdatedSince != nil {
		where, args = append(where, "updated_at >= ?"), append(args, f.UpdatedSince.UnixMilli())
	}
	key, dir, cmp := sortExpr[f.Sort], "ASC", ">"
	if f.Descending {
		dir, cmp = "DESC", "<"
	}
	if f.After != nil {
		if f.Sort == SortByID {
			where, args = append(where, "id "+cmp+" ?"), append(args, f.After.ID)
		} else {
			where = append(where, "("+key+", id) "+cmp+" (?, ?)")
			args = append(args, f.After.Value, f.After.ID)
		}
	}

	var q strings.Builder
	q.WriteString("SELECT id, version, " + key + ", json FROM todos")
	if len(where) > 0 {
		q.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	if f.Sort == SortByID {
		q.WriteString(" ORDER BY id " + dir)
	} else {
		q.WriteString(" ORDER BY " + key + " " + dir + ", id " + dir)
	}
	if f.Limit > 0 {
		q.WriteString(" LIMIT ?")
		args = append(args, f.Limit)
	}
	return q.String(), args
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// findTodo reads the todo with id, whole, inside a write transaction: the
// write path needs its fields, where reads need only its JSON.
func findTodo(ctx context.Context, tx *sql.Tx, id int64) (Todo, error) {
	var t Todo
	var due, completedAt sql.NullInt64
	var createdAt, updatedAt int64
	err := tx.QueryRowContext(ctx, `SELECT id, title, notes, completed, "order", due,
		created_at, updated_at, completed_at, version FROM todos WHERE id = ?`, id).
		Scan(&t.ID, &t.Title, &t.Notes, &t.Completed, &t.Order, &due,
			&createdAt, &updatedAt, &completedAt, &t.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return Todo{}, Errorf(ENOTFOUND, "todo %d does not exist", id)
	}
	t.Due, t.CompletedAt = timePtr(due), timePtr(completedAt)
	t.CreatedAt, t.UpdatedAt = time.UnixMilli(createdAt).UTC(), time.UnixMilli(updatedAt).UTC()
	return t, err
}

func timePtr(ms sql.NullInt64) *time.Time {
	if !ms.Valid {
		return nil
	}
	t := time.UnixMilli(ms.Int64).UTC()
	return &t
}

func millis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func insertTodo(ctx context.Context, tx *sql.Tx, t Todo) (TodoJSON, error) {
	j := t.JSON()
	// Exec and LastInsertId, not RETURNING: through mattn/go-sqlite3 an insert
	// with RETURNING measured 18 µs against 5 µs without.
	res, err := tx.ExecContext(ctx, `INSERT INTO todos
		(title, notes, completed, "order", due, created_at, updated_at, completed_at, version, json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Title, t.Notes, t.Completed, t.Order, millis(t.Due),
		t.CreatedAt.UnixMilli(), t.UpdatedAt.UnixMilli(), millis(t.CompletedAt), t.Version, j.Fields)
	if err != nil {
		return j, err
	}
	j.ID, err = res.LastInsertId()
	return j, err
}

func updateTodo(ctx context.Context, tx *sql.Tx, t Todo) (TodoJSON, error) {
	j := t.JSON()
	_, err := tx.ExecContext(ctx, `UPDATE todos SET
		title = ?, notes = ?, completed = ?, "order" = ?, due = ?,
		updated_at = ?, completed_at = ?, version = ?, json = ? WHERE id = ?`,
		t.Title, t.Notes, t.Completed, t.Order, millis(t.Due),
		t.UpdatedAt.UnixMilli(), millis(t.CompletedAt), t.Version, j.Fields, t.ID)
	return j, err
}

// findIdempotent looks up a key younger than a day, and the todo it created.
func findIdempotent(ctx context.Context, tx *sql.Tx, key IdempotencyKey, now time.Time) (TodoJSON, bool, error) {
	var fingerprint []byte
	t := TodoJSON{Version: FirstVersion}
	err := tx.QueryRowContext(ctx,
		"SELECT fingerprint, todo_id, todo_json FROM idempotency_keys WHERE key = ? AND created_at >= ?",
		key.Key, now.Add(-idempotencyTTL).UnixMilli()).Scan(&fingerprint, &t.ID, &t.Fields)
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		return t, false, err
	}
	if !bytes.Equal(fingerprint, key.Fingerprint) {
		return t, false, Errorf(EINVALID, "the Idempotency-Key was already used for a different request")
	}
	return t, true, nil
}

// saveIdempotent records key for the todo t just created, and forgets the
// keys that have expired.
func saveIdempotent(ctx context.Context, tx *sql.Tx, key IdempotencyKey, t TodoJSON, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM idempotency_keys WHERE created_at < ?",
		now.Add(-idempotencyTTL).UnixMilli()); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx,
		"INSERT INTO idempotency_keys (key, fingerprint, todo_id, todo_json, created_at) VALUES (?, ?, ?, ?, ?)",
		key.Key, key.Fingerprint, t.ID, t.Fields, now.UnixMilli())
	return err
}
