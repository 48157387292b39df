package main

// The todo queries: the writes (each run by the writer goroutine), the reads
// (from the pool of readers, and the cache), the list query and row mapping.

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// CreateTodo stores t as user's new todo, in t.ListID or, when that is 0,
// the user's default list, and returns it with its id and times. With a key,
// a retry of the same request within a day returns the todo as it was
// created and replayed true; the same key with another request is EINVALID.
func (s *Store) CreateTodo(ctx context.Context, user int64, t Todo, key *IdempotencyKey) (created RenderedTodo, replayed bool, err error) {
	err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		if key != nil {
			prior, found, err := findIdempotent(ctx, tx, user, *key, now)
			if err != nil || found {
				created, replayed = prior, found
				return err
			}
		}
		var err error
		if t.ListID == 0 {
			t.ListID, err = s.defaultList(ctx, tx, user)
		} else {
			err = mayMoveInto(ctx, tx, user, t.ListID)
		}
		if err != nil {
			return err
		}
		t.stamp(nil, now)
		seq, err := s.nextSeq(ctx, tx)
		if err != nil {
			return err
		}
		if created, err = insertTodo(ctx, tx, t, seq); err != nil {
			return err
		}
		if key != nil {
			return saveIdempotent(ctx, tx, user, *key, created, now)
		}
		return nil
	})
	return created, replayed, err
}

// UpdateTodo applies u, by user, to the todo with id, in one transaction, so
// that its precondition (If-Match) is checked atomically with the write. An
// update that leaves the content as it was writes nothing. A todo user cannot
// read is ENOTFOUND, one it cannot write EFORBIDDEN; a move needs the right to
// write both lists.
func (s *Store) UpdateTodo(ctx context.Context, user, id int64, u TodoUpdate) (RenderedTodo, error) {
	var updated RenderedTodo
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		old, err := findTodoForWrite(ctx, tx, user, id)
		if err != nil {
			return err
		}
		t, err := u.Apply(old)
		if err != nil {
			return err
		}
		if t.ListID != old.ListID {
			if err := mayMoveInto(ctx, tx, user, t.ListID); err != nil {
				return err
			}
			// Whoever reads the list it leaves, and not the one it enters, sees it go.
			if err := s.buryTodo(ctx, tx, old.ID, old.ListID, now); err != nil {
				return err
			}
		}
		if sameContent(old, t) {
			updated = old.Render()
			return nil
		}
		t.stamp(&old, now)
		seq, err := s.nextSeq(ctx, tx)
		if err != nil {
			return err
		}
		updated, err = updateTodo(ctx, tx, t, seq)
		return err
	})
	s.cache.forget(id)
	return updated, err
}

// DeleteTodo deletes, by user, the todo with id; with ifMatch, only if its
// version is in it, checked in the same transaction.
func (s *Store) DeleteTodo(ctx context.Context, user, id int64, ifMatch *Versions) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		t, err := findTodoForWrite(ctx, tx, user, id)
		if err != nil {
			return err
		}
		if err := checkVersion(ifMatch, t); err != nil {
			return err
		}
		if err := s.buryTodo(ctx, tx, id, t.ListID, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM todos WHERE id = ?", id)
		return err
	})
	s.cache.forget(id)
	return err
}

// DeleteTodos deletes, by user, the todos of list (which user must be able
// to write) or, when list is 0, of every list user owns; with completed, only
// those whose completed is *completed.
func (s *Store) DeleteTodos(ctx context.Context, user, list int64, completed *bool) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		where, args := "list_id IN (SELECT id FROM lists WHERE owner_id = ?)", []any{user}
		if list != 0 {
			if err := mayWrite(ctx, tx, user, list); err != nil {
				return err
			}
			where, args = "list_id = ?", []any{list}
		}
		if completed != nil {
			where, args = where+" AND completed = ?", append(args, *completed)
		}
		if err := s.buryTodos(ctx, tx, where, args, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM todos WHERE "+where, args...)
		return err
	})
	s.cache.forgetAll()
	return err
}

// FindTodo returns the todo with id, or ENOTFOUND when there is none or user
// cannot read it.
func (s *Store) FindTodo(ctx context.Context, user, id int64) (RenderedTodo, error) {
	t, ok, gen := s.cache.get(id)
	if ok {
		s.stats.cacheHits.Add(1)
	} else {
		s.stats.cacheMisses.Add(1)
		var err error
		if t, err = s.readTodo(ctx, id); err != nil {
			return t, err
		}
		s.cache.put(t, gen)
	}
	return t, s.mayRead(ctx, user, t)
}

// readTodo reads the todo with id from the database. (Apart from FindTodo,
// so that a read from the cache allocates nothing for its closure.)
func (s *Store) readTodo(ctx context.Context, id int64) (t RenderedTodo, err error) {
	err = s.read(ctx, "find todo", func(ctx context.Context, conn *sql.Conn) error {
		err := conn.QueryRowContext(ctx, "SELECT id, version, list_id, json FROM todos WHERE id = ?", id).
			Scan(&t.ID, &t.Version, &t.ListID, &t.Members)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoTodo(id)
		}
		return err
	})
	return t, err
}

// mayRead is ENOTFOUND, as if t did not exist, when user cannot read it.
func (s *Store) mayRead(ctx context.Context, user int64, t RenderedTodo) error {
	role, err := s.roleOn(ctx, user, t.ListID)
	if err == nil && role == RoleNone {
		err = errNoTodo(t.ID)
	}
	return err
}

func errNoTodo(id int64) error { return Errorf(ENOTFOUND, "todo %d does not exist", id) }

// ListTodos calls each for every todo that f selects among those user can
// read, in f's order, with its keyset position, in one query bounded by
// s.Timeout: a page. t.Members is only valid during the call.
func (s *Store) ListTodos(ctx context.Context, user int64, f Filter, each func(t RenderedTodo, at Position) error) error {
	f, err := s.narrow(ctx, user, f)
	if err != nil {
		return err
	}
	return s.scanTodos(ctx, user, f, "list todos", false, each)
}

// narrow returns f for the lists user can read: ENOTFOUND when f names one
// it cannot read; when it can read only one list (the open mode's, or an
// account's that shares none), f names that one, and the query need not ask
// the roles of every row (listQuery).
func (s *Store) narrow(ctx context.Context, user int64, f Filter) (Filter, error) {
	if user == Everyone {
		return f, nil
	}
	roles, err := s.roles(ctx, user)
	switch {
	case err != nil:
		return f, err
	case f.ListID != 0 && roles[f.ListID] == RoleNone:
		return f, errNoList(f.ListID)
	case f.ListID == 0 && len(roles) == 1:
		for id := range roles {
			f.ListID = id
		}
	}
	return f, nil
}

// scanTodos runs the list query of f on a connection of the read pool and
// calls each for every row, until each returns an error. The query gives up
// after s.Timeout: in all, or with perRow, without producing a row.
func (s *Store) scanTodos(ctx context.Context, user int64, f Filter, op string, perRow bool, each func(t RenderedTodo, at Position) error) error {
	return s.withReader(ctx, func(conn *sql.Conn) error { return s.scanRows(ctx, conn, user, f, op, perRow, each) })
}

// scanRows is scanTodos on conn.
func (s *Store) scanRows(ctx context.Context, conn *sql.Conn, user int64, f Filter, op string, perRow bool, each func(t RenderedTodo, at Position) error) error {
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
	query, args := listQuery(user, f)
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
		if err := rows.Scan(&t.ID, &t.Version, &t.ListID, &at.Value, &fields); err != nil {
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

// sortExpr is the SQL for each sort key; each has an index ending in id.
var sortExpr = map[SortKey]string{
	SortByID:        "id",
	SortByDue:       "ifnull(due, 9223372036854775807)", // noDue; as in the index todos_by_due
	SortByOrder:     `"order"`,
	SortByUpdatedAt: "updated_at",
}

// listQuery builds the SELECT for f among the todos user can read: those of
// f.ListID, which the store has checked user can read (narrow), or else of
// every list the roles view gives user (of every list, for Everyone). Paging is by keyset (the last row's
// sort value and id), so that a page costs the same deep in the list as at
// its head, and a row inserted meanwhile is neither skipped nor repeated.
func listQuery(user int64, f Filter) (string, []any) {
	// The unary + keeps SQLite from reading by the index of list_id, which
	// would then sort the rows: a page goes by the sort's index.
	var where []string
	var args []any
	switch {
	case f.ListID != 0:
		where, args = []string{"+list_id = ?"}, []any{f.ListID}
	case user != Everyone:
		where, args = []string{"+list_id IN (SELECT list_id FROM roles WHERE user_id = ?)"}, []any{user}
	}
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
	q.WriteString("SELECT id, version, list_id, " + key + ", json FROM todos")
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
const todoColumns = `id, title, notes, completed, "order", due, created_at, updated_at, completed_at, version, list_id`

// scanTodo reads a Todo from a row of todoColumns.
func scanTodo(row interface{ Scan(...any) error }) (Todo, error) {
	var t Todo
	var due, completedAt sql.NullInt64
	var createdAt, updatedAt int64
	err := row.Scan(&t.ID, &t.Title, &t.Notes, &t.Completed, &t.Order, &due,
		&createdAt, &updatedAt, &completedAt, &t.Version, &t.ListID)
	t.Due, t.CompletedAt = timePtr(due), timePtr(completedAt)
	t.CreatedAt, t.UpdatedAt = Timestamp{time.UnixMilli(createdAt).UTC()}, Timestamp{time.UnixMilli(updatedAt).UTC()}
	return t, err
}

// findTodoForWrite reads the todo with id, whole, inside a write
// transaction, for a write by user: ENOTFOUND when user cannot read it,
// EFORBIDDEN when it cannot write it. The write path needs its fields, where
// reads need only its JSON.
func findTodoForWrite(ctx context.Context, tx *sql.Tx, user, id int64) (Todo, error) {
	t, err := scanTodo(tx.QueryRowContext(ctx, "SELECT "+todoColumns+" FROM todos WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Todo{}, errNoTodo(id)
	}
	if err != nil {
		return t, err
	}
	role, err := roleIn(ctx, tx, user, t.ListID)
	switch {
	case err != nil:
		return t, err
	case role == RoleNone:
		return t, errNoTodo(id)
	case !role.CanWrite():
		return t, errReadOnly
	}
	return t, nil
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

func insertTodo(ctx context.Context, tx *sql.Tx, t Todo, seq int64) (RenderedTodo, error) {
	j := t.Render()
	// Exec and LastInsertId, not RETURNING: through mattn/go-sqlite3 an insert
	// with RETURNING measured 18 µs against 5 µs without.
	res, err := tx.ExecContext(ctx, `INSERT INTO todos
		(title, notes, completed, "order", due, created_at, updated_at, completed_at, version, list_id, json, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Title, t.Notes, t.Completed, t.Order, millis(t.Due),
		t.CreatedAt.UnixMilli(), t.UpdatedAt.UnixMilli(), millis(t.CompletedAt), t.Version, t.ListID, j.Members, seq)
	if err != nil {
		return j, err
	}
	j.ID, err = res.LastInsertId()
	return j, err
}

func updateTodo(ctx context.Context, tx *sql.Tx, t Todo, seq int64) (RenderedTodo, error) {
	j := t.Render()
	_, err := tx.ExecContext(ctx, `UPDATE todos SET
		title = ?, notes = ?, completed = ?, "order" = ?, due = ?,
		updated_at = ?, completed_at = ?, version = ?, list_id = ?, json = ?, seq = ? WHERE id = ?`,
		t.Title, t.Notes, t.Completed, t.Order, millis(t.Due),
		t.UpdatedAt.UnixMilli(), millis(t.CompletedAt), t.Version, t.ListID, j.Members, seq, t.ID)
	return j, err
}
