package main

// The export: every todo a filter selects, however many, read in chunks of
// short queries, so that a slow client holds no connection and no read
// transaction while it reads.

import (
	"context"
	"errors"
	"fmt"
)

const maxExports = 4 // exports running at once; one more is a 503

// exportRows bounds the rows of an export read in one query; most chunks end
// sooner, when their bytes fill the stream's batch. A variable only so that a
// test can make chunks end by rows.
var exportRows = 5000

var errTooManyExports = &Error{Code: EUNAVAILABLE,
	Message: fmt.Sprintf("%d exports are running, as many as run at once; retry in a moment", maxExports)}

// ExportTodos calls each for every todo that f selects, in f's order, however
// many, and flush between the chunks it reads them in. A chunk is one short
// query, which ends when each says it has enough (its buffer is full) or after
// exportRows rows; flush then sends what each gathered, at the client's pace,
// while no connection and no read transaction is held: a slow client cannot
// take a connection that others need, nor keep the WAL from being
// checkpointed. At most maxExports run at once.
func (s *Store) ExportTodos(ctx context.Context, user int64, f Filter, each func(t RenderedTodo) (enough bool), flush func() error) error {
	f, err := s.narrow(ctx, user, f)
	if err != nil {
		return err
	}
	select {
	case s.exports <- struct{}{}:
		defer func() { <-s.exports }()
	default:
		return errTooManyExports
	}
	f.Limit = exportRows
	for {
		last, n, enough, err := s.exportChunk(ctx, user, f, each)
		if err != nil || !enough && n < exportRows {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		f.After = &last
	}
}

// errChunkFull ends the query of an export's chunk whose bytes are gathered.
var errChunkFull = errors.New("the chunk is full")

// exportChunk reads one chunk of an export. Its query gives up after
// s.Timeout without producing a row, however long the chunk takes in all.
func (s *Store) exportChunk(ctx context.Context, user int64, f Filter, each func(RenderedTodo) bool) (last Position, n int, enough bool, err error) {
	err = s.scanTodos(ctx, user, f, "export todos", true, func(t RenderedTodo, at Position) error {
		last, n = at, n+1
		if enough = each(t); enough {
			return errChunkFull
		}
		return nil
	})
	if err == errChunkFull {
		err = nil
	}
	return last, n, enough, err
}
