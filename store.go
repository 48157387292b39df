package main

// The store's connection to SQLite: opening the file with its pragmas, the
// pool of readers beside the one writer, closing, and the mapping of SQLite's
// errors to the service's codes. The queries live in store_todos.go, the
// writer goroutine in store_writer.go.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
)

const (
	queryTimeout  = 5 * time.Second // the bound on a query; an export's, without producing a row
	busyTimeoutMS = 5000            // how long SQLite itself waits for a lock held by another process
	stmtCacheSize = 32              // prepared statements kept per connection, by query text
	maxWALBytes   = 64 << 20        // the WAL's size after a checkpoint, at most
)

// Store keeps the todos in one SQLite file.
type Store struct {
	// writeDB has a single connection. SQLite lets one writer in at a time;
	// queueing writers here, each with a deadline, instead of inside SQLite
	// means that no request ever sees "database is locked".
	writeDB *sql.DB
	// readDB is a pool of read-only connections. In WAL mode readers see the
	// last commit and never wait for the writer.
	readDB *sql.DB
	lock   *os.File   // held while the store is open: see lockDatabase
	path   string     // of the database file
	files  []openFile // the files it holds open: see checkFiles
	// Timeout bounds a query (an export's, between two rows); a query that
	// runs out of it fails as EUNAVAILABLE (503).
	Timeout time.Duration
	now     func() time.Time

	cache       todoCache
	access      roleCache
	defaults    sync.Map     // user → its default list: see defaultList
	seqs        seqAllocator // the writer's: see nextSeq
	stats       storeStats   // for the metrics
	credentials credentialCache
	accounts    atomic.Bool   // see HasAccounts
	slots       chan struct{} // one per request working on the database: see maxInFlight
	exports     chan struct{} // one per export running: see maxExports

	queue      chan writeJob // to runWriter, the one goroutine that writes
	committed  chan struct{} // a signal after a commit: see Committed
	closing    chan struct{} // closed by Close: the writer stops
	writerDone chan struct{} // closed by the writer as it stops
	closeOnce  sync.Once
}

// OpenStore opens (or creates) the database at path, or a throwaway one in
// memory for ":memory:", and brings its schema up to date.
func OpenStore(path string) (*Store, error) {
	migrations, err := parseMigrations(schemaSQL, goSteps)
	if err != nil {
		return nil, err
	}
	return openStore(path, migrations, true)
}

// openSharedStore opens the database at path, as OpenStore does, for a
// command that may run beside a service: without the lock that makes a
// service the only one on its database.
func openSharedStore(path string) (*Store, error) {
	migrations, err := parseMigrations(schemaSQL, goSteps)
	if err != nil {
		return nil, err
	}
	return openStore(path, migrations, false)
}

// openStore is OpenStore with the migrations to apply, and whether to take
// the database's lock.
func openStore(path string, migrations []migration, lock bool) (*Store, error) {
	s := &Store{path: path, Timeout: queryTimeout, now: time.Now, cache: todoCache{todos: map[int64]RenderedTodo{}}, slots: make(chan struct{}, maxInFlight), exports: make(chan struct{}, maxExports),
		stats: storeStats{batchSizes: newHistogram(batchBuckets, 1), commits: newHistogram(secondsBuckets, 1e9)},
		queue: make(chan writeJob, maxBatch), committed: make(chan struct{}, 1), closing: make(chan struct{}), writerDone: make(chan struct{})}
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
		s.writeDB, s.readDB = db, db
	} else {
		var err error
		if lock {
			if s.lock, err = lockDatabase(path); err != nil {
				return nil, err
			}
		}
		// _txlock=immediate: a write transaction takes the write lock at BEGIN,
		// so it never fails half-way on a lock it could not upgrade.
		if s.writeDB, err = sql.Open("sqlite3", path+"?"+params+"&_txlock=immediate"); err != nil {
			s.unlock()
			return nil, err
		}
		s.writeDB.SetMaxOpenConns(1)
		if s.readDB, err = sql.Open("sqlite3", path+"?"+params+"&_query_only=1"); err != nil {
			s.writeDB.Close()
			s.unlock()
			return nil, err
		}
		readers := max(4, runtime.NumCPU())
		s.readDB.SetMaxOpenConns(readers)
		s.readDB.SetMaxIdleConns(readers)
	}

	go s.runWriter()
	if err := s.prepare(migrations); err != nil {
		s.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return s, nil
}

// prepare makes a database just opened ready to serve: its schema up to
// date, the WAL's bound, the mode it is in, the files it holds.
func (s *Store) prepare(migrations []migration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.migrate(ctx, migrations); err != nil {
		return err
	}
	// After a checkpoint, SQLite truncates a WAL that a long reader made grow
	// back to this size (the writer is the one connection that checkpoints).
	if _, err := s.writeDB.ExecContext(ctx, fmt.Sprintf("PRAGMA journal_size_limit = %d", maxWALBytes)); err != nil {
		return err
	}
	if err := s.loadAccounts(ctx, s.writeDB); err != nil {
		return err
	}
	if s.path == ":memory:" {
		return nil
	}
	return s.noteFiles()
}

// Close stops the writer and closes the database; the last connection to
// close checkpoints the WAL. Writes still waiting for the writer fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	<-s.writerDone
	var err error
	if s.readDB != s.writeDB {
		err = s.readDB.Close()
	}
	err = errors.Join(err, s.writeDB.Close())
	// last: the database is closed before another process may open it
	return errors.Join(err, s.unlock())
}

func (s *Store) unlock() error {
	if s.lock == nil {
		return nil
	}
	return s.lock.Close()
}

// lockDatabase takes the lock that makes a process the only one serving the
// database at path: an exclusive flock on a file beside it, PATH-lock, never
// removed (removing it would let a process that had opened it lock a file
// that no longer has the name). Not on the database itself: a second file
// descriptor of it, closed, would drop the POSIX locks that SQLite holds.
// The lock goes with the file's Close, or with the process.
func lockDatabase(path string) (*os.File, error) {
	f, err := os.OpenFile(path+"-lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("database %s is in use by another todo process (it holds %s-lock): one process per database", path, path)
		}
		return nil, fmt.Errorf("lock database %s: %w", path, err)
	}
	return f, nil
}

// Ping checks that the database answers a read.
func (s *Store) Ping(ctx context.Context) error {
	conn, err := s.reader(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var v int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return s.dbError(ctx, "ping", err)
	}
	return s.checkFiles()
}

// reader takes a connection of the read pool for one query, waiting at most
// queueWait for one: past that, the request gets 503 at once rather than a
// place in a queue behind slower ones. Closing it gives it back to the pool.
func (s *Store) reader(ctx context.Context) (*sql.Conn, error) {
	wait, cancel := context.WithTimeout(ctx, queueWait)
	defer cancel()
	conn, err := s.readDB.Conn(wait)
	if err != nil && ctx.Err() == nil && wait.Err() != nil {
		return nil, errBusy
	}
	if err != nil {
		return nil, s.dbError(ctx, "wait for a connection", err)
	}
	return conn, nil
}

// read runs fn on a connection of the read pool, bounded by s.Timeout, and
// maps its error; op names it in the log.
func (s *Store) read(ctx context.Context, op string, fn func(ctx context.Context, conn *sql.Conn) error) error {
	return s.withReader(ctx, func(conn *sql.Conn) error {
		ctx, cancel := context.WithTimeout(ctx, s.Timeout)
		defer cancel()
		return s.dbError(ctx, op, fn(ctx, conn))
	})
}

// snapshot is read with a read-only transaction: one snapshot for every
// query of fn.
func (s *Store) snapshot(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.read(ctx, op, func(ctx context.Context, conn *sql.Conn) error {
		tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		defer tx.Rollback() // it wrote nothing
		return fn(ctx, tx)
	})
}

// withReader runs fn on a connection of the read pool, once the request has
// its place among those at the database (enter).
func (s *Store) withReader(ctx context.Context, fn func(conn *sql.Conn) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	conn, err := s.reader(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn)
}

// fileID names a file by what stays when it is renamed and goes when it is
// removed: its device and inode.
type fileID struct{ dev, ino uint64 }

// openFile is a file the store holds open, and its name.
type openFile struct {
	path string
	id   fileID
}

func statID(path string) (fileID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, err
	}
	return fileID{uint64(st.Dev), st.Ino}, nil
}

// checkFiles reports whether the database's path and its WAL's still name
// the files the store opened. SQLite keeps writing to a file removed under it
// (or replaced), and a commit there succeeds, but the file on disk will not
// hold it: such a write must not be acknowledged.
func (s *Store) checkFiles() error {
	for _, f := range s.files {
		id, err := statID(f.path)
		if err == nil && id != f.id {
			err = errors.New("replaced by another file")
		}
		if err != nil {
			return &Error{Code: EUNAVAILABLE, Err: fmt.Errorf("%s: %w", f.path, err),
				Message: "the database's files are gone or were replaced: nothing can be written until the service restarts"}
		}
	}
	return nil
}

// noteFiles records the files the store holds open, for checkFiles: the
// database and its WAL, which WAL mode keeps while a connection is open.
func (s *Store) noteFiles() error {
	for _, path := range []string{s.path, s.path + "-wal"} {
		id, err := statID(path)
		if err != nil {
			return err
		}
		s.files = append(s.files, openFile{path, id})
	}
	return nil
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
