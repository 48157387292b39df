package main

// The todo queries: the writes (each run by the writer goroutine), the reads
// (from the pool of readers, and the cache), the list query and row mapping.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

const maxExports = 4 // exports running at once; one more is a 503

// exportRows bounds the rows of an export read in one query; most chunks end
// sooner, when their bytes fill the stream's batch. A variable only so that a
// test can make chunks end by rows.
var exportRows = 5000

// CreateTodo stores t as a new todo and returns it with its id and times.
// With a key, a retry of the same request within a day returns the todo as it
// was created and replayed true; the same key with another request is EINVALID.
func (s *Store) CreateTodo(ctx context.Context, t Todo, key *IdempotencyKey) (created RenderedTodo, replayed bool, err error) {
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

// UpdateTodo applies u to the todo with id, in one transaction, so that its
// precondition (If-Match) is checked atomically with the write. An update
// that leaves the content as it was writes nothing.
func (s *Store) UpdateTodo(ctx context.Context, id int64, u TodoUpdate) (RenderedTodo, error) {
	var updated RenderedTodo
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		old, err := findTodoForWrite(ctx, tx, id)
		if err != nil {
			return err
		}
		t, err := u.Apply(old)
		if err != nil {
			return err
		}
		if sameContent(old, t) {
			updated = old.Render()
			return nil
		}
		t.stamp(&old, now)
		updated, err = updateTodo(ctx, tx, t)
		return err
	})
	s.cache.forget(id)
	return updated, err
}

// DeleteTodo deletes the todo with id; with ifMatch, only if its version is
// in it, checked in the same transaction.
func (s *Store) DeleteTodo(ctx context.Context, id int64, ifMatch *Versions) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		t, err := findTodoForWrite(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := checkVersion(ifMatch, t); err != nil {
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
func (s *Store) FindTodo(ctx context.Context, id int64) (RenderedTodo, error) {
	t, ok, gen := s.cache.get(id)
	if ok {
		return t, nil
	}
	if err := s.enter(ctx); err != nil {
		return t, err
	}
	defer s.leave()
	conn, err := s.reader(ctx)
	if err != nil {
		return t, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	err = conn.QueryRowContext(ctx, "SELECT id, version, json FROM todos WHERE id = ?", id).
		Scan(&t.ID, &t.Version, &t.Members)
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
// keyset position, in one query bounded by s.Timeout: a page. t.Members is
// only valid during the call.
func (s *Store) ListTodos(ctx context.Context, f Filter, each func(t RenderedTodo, at Position) error) error {
	return s.scanTodos(ctx, f, "list todos", false, each)
}

// scanTodos runs the list query of f on a connection of the read pool and
// calls each for every row, until each returns an error. The query gives up
// after s.Timeout: in all, or with perRow, without producing a row.
func (s *Store) scanTodos(ctx context.Context, f Filter, op string, perRow bool, each func(t RenderedTodo, at Position) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	conn, err := s.reader(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var cancel context.CancelFunc
	var idle *time.Timer
	if perRow {
		ctx, cancel = context.WithCancel(ctx)
		idle = time.AfterFunc(s.Timeout, cancel)
		defer idle.Stop()
	} else {
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
	}
	defer cancel()
	query, args := listQuery(f)
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return s.dbError(ctx, op, err)
	}
	defer rows.Close()
	var t RenderedTodo
	var at Position
	var fields sql.RawBytes // not copied: each appends it where it goes
	for rows.Next() {
		if idle != nil {
			idle.Reset(s.Timeout)
		}
		if err := rows.Scan(&t.ID, &t.Version, &at.Value, &fields); err != nil {
			return s.dbError(ctx, op, err)
		}
		t.Members, at.ID = fields, t.ID
		if err := each(t, at); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.dbError(ctx, op, err)
	}
	return nil
}

var errTooManyExports = &Error{Code: EUNAVAILABLE,
	Message: fmt.Sprintf("%d exports are running, as many as run at once; retry in a moment", maxExports)}

// ExportTodos calls each for every todo that f selects, in f's order, however
// many, and flush between the chunks it reads them in. A chunk is one short
// query, which ends when each says it has enough (its buffer is full) or after
// exportRows rows; flush then sends what each gathered, at the client's pace,
// while no connection and no read transaction is held: a slow client cannot
// take a connection that others need, nor keep the WAL from being
// checkpointed. At most maxExports run at once.
func (s *Store) ExportTodos(ctx context.Context, f Filter, each func(t RenderedTodo) (enough bool), flush func() error) error {
	select {
	case s.exports <- struct{}{}:
		defer func() { <-s.exports }()
	default:
		return errTooManyExports
	}
	f.Limit = exportRows
	for {
		last, n, enough, err := s.exportChunk(ctx, f, each)
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
func (s *Store) exportChunk(ctx context.Context, f Filter, each func(RenderedTodo) bool) (last Position, n int, enough bool, err error) {
	err = s.scanTodos(ctx, f, "export todos", true, func(t RenderedTodo, at Position) error {
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

// todoColumns are the columns of a Todo, in the order scanTodo reads them.
const todoColumns = `id, title, notes, completed, "order", due, created_at, updated_at, completed_at, version`

// scanTodo reads a Todo from a row of todoColumns.
func scanTodo(row interface{ Scan(...any) error }) (Todo, error) {
	var t Todo
	var due, completedAt sql.NullInt64
	var createdAt, updatedAt int64
	err := row.Scan(&t.ID, &t.Title, &t.Notes, &t.Completed, &t.Order, &due,
		&createdAt, &updatedAt, &completedAt, &t.Version)
	t.Due, t.CompletedAt = timePtr(due), timePtr(completedAt)
	t.CreatedAt, t.UpdatedAt = Timestamp{time.UnixMilli(createdAt).UTC()}, Timestamp{time.UnixMilli(updatedAt).UTC()}
	return t, err
}

// findTodoForWrite reads the todo with id, whole, inside a write
// transaction: the write path needs its fields, where reads need only its JSON.
func findTodoForWrite(ctx context.Context, tx *sql.Tx, id int64) (Todo, error) {
	t, err := scanTodo(tx.QueryRowContext(ctx, "SELECT "+todoColumns+" FROM todos WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Todo{}, Errorf(ENOTFOUND, "todo %d does not exist", id)
	}
	return t, err
}

// renderTodos renders the stored JSON of every todo again, from its columns,
// with the program's encoder: the Go step of a migration that changes the
// shape of a todo. The todos of idempotency keys keep the JSON they were
// answered with, which a replay must repeat.
func renderTodos(ctx context.Context, tx *sql.Tx) error {
	const chunk = 1000 // todos read at a time, by keyset: memory stays flat
	for after := int64(0); ; {
		rows, err := tx.QueryContext(ctx, "SELECT "+todoColumns+" FROM todos WHERE id > ? ORDER BY id LIMIT ?", after, chunk)
		if err != nil {
			return err
		}
		var todos []Todo
		for rows.Next() {
			t, err := scanTodo(rows)
			if err != nil {
				rows.Close()
				return err
			}
			todos = append(todos, t)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, t := range todos {
			if _, err := tx.ExecContext(ctx, "UPDATE todos SET json = ? WHERE id = ?", t.Render().Members, t.ID); err != nil {
				return err
			}
			after = t.ID
		}
		if len(todos) < chunk {
			return nil
		}
	}
}

func timePtr(ms sql.NullInt64) *Timestamp {
	if !ms.Valid {
		return nil
	}
	return &Timestamp{time.UnixMilli(ms.Int64).UTC()}
}

func millis(t *Timestamp) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func insertTodo(ctx context.Context, tx *sql.Tx, t Todo) (RenderedTodo, error) {
	j := t.Render()
	// Exec and LastInsertId, not RETURNING: through mattn/go-sqlite3 an insert
	// with RETURNING measured 18 µs against 5 µs without.
	res, err := tx.ExecContext(ctx, `INSERT INTO todos
		(title, notes, completed, "order", due, created_at, updated_at, completed_at, version, json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Title, t.Notes, t.Completed, t.Order, millis(t.Due),
		t.CreatedAt.UnixMilli(), t.UpdatedAt.UnixMilli(), millis(t.CompletedAt), t.Version, j.Members)
	if err != nil {
		return j, err
	}
	j.ID, err = res.LastInsertId()
	return j, err
}

func updateTodo(ctx context.Context, tx *sql.Tx, t Todo) (RenderedTodo, error) {
	j := t.Render()
	_, err := tx.ExecContext(ctx, `UPDATE todos SET
		title = ?, notes = ?, completed = ?, "order" = ?, due = ?,
		updated_at = ?, completed_at = ?, version = ?, json = ? WHERE id = ?`,
		t.Title, t.Notes, t.Completed, t.Order, millis(t.Due),
		t.UpdatedAt.UnixMilli(), millis(t.CompletedAt), t.Version, j.Members, t.ID)
	return j, err
}
