package main

// The write path: one goroutine writes, and commits the writes waiting at
// the moment together (group commit); and the bound on the requests that
// work on the database at once.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/mattn/go-sqlite3"
)

const (
	maxBatch = 256 // writes in one transaction at most
	// Overload: at most maxInFlight requests work on the database at once;
	// one more waits up to queueWait for a place, then fails fast as
	// EUNAVAILABLE (503 with Retry-After) instead of queueing without limit.
	maxInFlight = 64
	queueWait   = 100 * time.Millisecond
)

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
	job := writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	wait, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	select {
	case s.queue <- job:
	case <-wait.Done():
		return s.dbError(wait, "wait for the writer", wait.Err())
	case <-s.closing:
		return errClosed
	}
	select {
	case err := <-job.done: // the writer answers every write it takes
		return err
	case <-s.writerDone: // the store closed; the writer answers before it stops
		select {
		case err := <-job.done:
			return err
		default:
			return errClosed
		}
	}
}

// watchEvery is how often the writer looks for commits made by another
// process: a command such as todo user add, run beside the service, takes
// effect within a second.
const watchEvery = 500 * time.Millisecond

// watch forgets what the caches hold when another process has committed
// since data_version was seen, and returns the version it sees now.
// (SQLite's data_version changes only for the commits of other connections.)
func (s *Store) watch(seen int64) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	var version int64
	if err := s.writeDB.QueryRowContext(ctx, "PRAGMA data_version").Scan(&version); err != nil {
		return seen
	}
	if seen != 0 && version != seen { // 0: the first look
		s.cache.forgetAll()
		s.access.forgetAll()
		s.credentials.forgetAll()
		s.defaults.Clear()
		if err := s.loadAccounts(ctx, s.writeDB); err != nil {
			return seen // try again at the next tick
		}
		s.signalCommit()
	}
	return version
}

var errClosed = &Error{Code: EUNAVAILABLE, Message: "the service is stopping"}

// writeJob is one request's part of a batch.
type writeJob struct {
	ctx  context.Context // the request's: a write whose client is gone is skipped
	fn   func(ctx context.Context, tx *sql.Tx, now time.Time) error
	done chan error // buffered, so that the writer never waits
}

// runWriter is the one goroutine that writes. It takes every write waiting at
// the moment, up to maxBatch, into one transaction: while it commits a batch,
// the next one gathers, and one fsync serves them all (group commit).
func (s *Store) runWriter() {
	defer close(s.writerDone)
	watch := time.NewTicker(watchEvery)
	defer watch.Stop()
	seen := s.watch(0) // the database's data_version
	for {
		var batch []writeJob
		select {
		case job := <-s.queue:
			batch = append(batch, job)
		case <-watch.C:
			seen = s.watch(seen)
			continue
		case <-s.closing:
			return
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case job := <-s.queue:
				batch = append(batch, job)
			default:
				break gather
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
		errs := s.runBatch(ctx, batch)
		s.signalCommit() // the live events read what is committed: see Published
		for i, job := range batch {
			job.done <- s.dbError(ctx, "write", errs[i])
		}
		cancel()
	}
}

// runBatch runs each write of batch inside a savepoint, so that a write that
// fails is undone alone, then commits them all. It returns each write's error.
func (s *Store) runBatch(ctx context.Context, batch []writeJob) []error {
	errs := make([]error, len(batch))
	failAll := func(err error) []error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	tx, err := s.writeDB.BeginTx(ctx, nil)
	if err != nil {
		return failAll(err)
	}
	defer tx.Rollback() // after a commit it does nothing
	now := s.now().UTC().Truncate(time.Millisecond)
	s.seqs.loaded = false // read again: another process may have written since
	for i, job := range batch {
		if err := job.ctx.Err(); err != nil {
			errs[i] = &Error{Code: EUNAVAILABLE, Message: "the request ended before its write began", Err: err}
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT write"); err != nil {
			return failAll(err)
		}
		if errs[i] = runJob(ctx, tx, now, job); errs[i] != nil {
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
	if err := s.saveSeq(ctx, tx); err != nil {
		return failAll(err)
	}
	// Durability: with journal_mode=WAL and synchronous=FULL, COMMIT returns
	// only after the WAL is fsynced. No write of the batch is answered before
	// this returns, so an acknowledged write survives a crash of the process
	// or of the machine; if the commit fails, every write in it fails.
	if err := s.commit(tx, len(batch)); err != nil {
		return failAll(err)
	}
	// The commit is in the files SQLite has open; they must still be the
	// ones at the database's path, or the writes are not on disk to stay.
	if err := s.checkFiles(); err != nil {
		return failAll(err)
	}
	return errs
}

// commit commits the batch of n writes in tx, and counts it.
func (s *Store) commit(tx *sql.Tx, n int) error {
	start := time.Now()
	if err := tx.Commit(); err != nil {
		return err
	}
	s.stats.commits.observe(time.Since(start).Seconds())
	s.stats.batches.Add(1)
	s.stats.batchSizes.observe(float64(n))
	return nil
}

// runJob runs one write, and turns a panic in it into that write's error,
// with the stack for the log: a bug in one write must not take the other
// writes of its batch, or the process, down with it.
func runJob(ctx context.Context, tx *sql.Tx, now time.Time, job writeJob) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a write: %v\n%s", p, debug.Stack())
		}
	}()
	return job.fn(ctx, tx, now)
}
