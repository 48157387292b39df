package main

// The bulk import's write: every todo of an import in one write, so that an
// import is created whole or not at all.

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ImportTodos creates the todos of lines as user's, in one transaction: in
// the list into, when it is not 0, else in each line's list_id, or the user's
// default list. A line whose list user cannot write makes the import
// EINVALID naming the line; an into it cannot read is EINVALID naming
// list_id, one it can only read EFORBIDDEN. Nothing is created unless all is.
func (s *Store) ImportTodos(ctx context.Context, user, into int64, lines []ImportLine) error {
	return s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		if into != 0 {
			if err := mayWrite(ctx, tx, user, into); ErrorCode(err) == ENOTFOUND {
				return &Error{Code: EINVALID, Message: fmt.Sprintf("list %d is not a list you can write", into),
					Fields: []FieldError{{"list_id", "must be the id of a list you can write"}}}
			} else if err != nil {
				return err
			}
		}
		if err := s.placeImport(ctx, tx, user, into, lines); err != nil {
			return err
		}
		for _, l := range lines {
			l.Todo.stamp(nil, now)
			seq, err := s.nextSeq(ctx, tx)
			if err != nil {
				return err
			}
			if _, err := insertTodo(ctx, tx, l.Todo, seq); err != nil {
				return err
			}
		}
		return nil
	})
}

// placeImport sets the list of every line: into, or the line's own list,
// which user must be able to write, or user's default list.
func (s *Store) placeImport(ctx context.Context, tx *sql.Tx, user, into int64, lines []ImportLine) error {
	writable := map[int64]bool{}
	var problems []FieldError
	for i := range lines {
		t := &lines[i].Todo
		switch {
		case into != 0:
			t.ListID = into
		case t.ListID == 0:
			id, err := s.defaultList(ctx, tx, user)
			if err != nil {
				return err
			}
			t.ListID = id
		default:
			ok, asked := writable[t.ListID]
			if !asked {
				err := mayWrite(ctx, tx, user, t.ListID)
				if code := ErrorCode(err); err != nil && code != ENOTFOUND && code != EFORBIDDEN {
					return err
				}
				ok, writable[t.ListID] = err == nil, err == nil
			}
			if !ok {
				problems = append(problems, FieldError{fmt.Sprintf("line %d: list_id", lines[i].Line), "must be the id of a list you can write"})
			}
		}
	}
	if problems != nil {
		return invalidImport(problems, len(problems)) // one a line
	}
	return nil
}
