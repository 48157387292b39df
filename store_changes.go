package main

// The change log (API.md, "Sync"): the numbers that every change to a list
// or a todo takes, the tombstones of what was deleted or lost, and the feed
// of what changed since a number, for one user. schema.sql (version 3) says
// where each number is kept.

import (
	"cmp"
	"context"
	"database/sql"
	"time"
)

// seqAllocator gives the numbers of one batch's changes. Only the writer
// goroutine uses it: the sequence is read at a batch's first change and
// written back once before its commit.
type seqAllocator struct {
	loaded      bool
	next, saved int64
}

// nextSeq returns the next number of the sequence, inside a write.
func (s *Store) nextSeq(ctx context.Context, tx *sql.Tx) (int64, error) {
	a := &s.seqs
	if !a.loaded {
		if err := tx.QueryRowContext(ctx, "SELECT value FROM sequence").Scan(&a.saved); err != nil {
			return 0, err
		}
		a.next, a.loaded = a.saved, true
	}
	a.next++
	return a.next, nil
}

// saveSeq writes the batch's last number, before its commit. The next batch
// reads it again: another process may write between two batches.
func (s *Store) saveSeq(ctx context.Context, tx *sql.Tx) error {
	a := &s.seqs
	defer func() { a.loaded = false }()
	if !a.loaded || a.next == a.saved {
		return nil
	}
	_, err := tx.ExecContext(ctx, "UPDATE sequence SET value = ?", a.next)
	return err
}

// buryTodo leaves the tombstone of a todo deleted from list, or moved out of it.
func (s *Store) buryTodo(ctx context.Context, tx *sql.Tx, id, list int64, now time.Time) error {
	seq, err := s.nextSeq(ctx, tx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO tombstones (seq, kind, id, list_id, at) VALUES (?, 'todo', ?, ?, ?)", seq, id, list, now.UnixMilli())
	return err
}

// buryTodos leaves a tombstone for each todo that where (a condition on
// todos, with args) selects, before they are deleted.
func (s *Store) buryTodos(ctx context.Context, tx *sql.Tx, where string, args []any, now time.Time) error {
	if _, err := s.nextSeq(ctx, tx); err != nil { // loads the sequence
		return err
	}
	base := s.seqs.next - 1
	res, err := tx.ExecContext(ctx, `INSERT INTO tombstones (seq, kind, id, list_id, at)
		SELECT ? + row_number() OVER (ORDER BY id), 'todo', id, list_id, ? FROM todos WHERE `+where,
		append([]any{base, now.UnixMilli()}, args...)...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	s.seqs.next = base + n
	return err
}

// buryList leaves the tombstone of the list with id for the users who lose
// it: only for, or, when 0, everyone who can read it.
func (s *Store) buryList(ctx context.Context, tx *sql.Tx, id, only int64, now time.Time) error {
	seq, err := s.nextSeq(ctx, tx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO tombstones (seq, kind, id, list_id, users, at)
		SELECT ?, 'list', ?, ?, json_group_array(user_id), ? FROM roles WHERE list_id = ? AND (? = 0 OR user_id = ?)`,
		seq, id, id, now.UnixMilli(), id, only, only)
	return err
}

// Change is one entry of the feed: a put of a list or a todo as it is now,
// or the delete of one.
type Change struct {
	Seq    int64
	Kind   string // "todo" or "list"
	Delete bool
	ID     int64
	ListID int64        // of a todo
	Todo   RenderedTodo // of a put of a todo
	List   List         // of a put of a list
	// After is where the feed resumes after this change: its token.
	After ChangeCursor
	// Readers are the users who may see it, in a Published range.
	Readers []Reader
	order   int // 0 a tombstone, 1 a list, 2 a todo: the order of changes of one number
}

// ChangeCursor is where a page of the feed starts: after the change
// (Seq, Order, ID); Order endOfSeq is after every change numbered Seq. A
// full sync (Full) goes by Order and ID, and ends at Seq, the number of its
// first page.
type ChangeCursor struct {
	Full      bool
	Seq       int64
	Order, ID int64
}

// endOfSeq is the Order after every change of a number: a token "41" is
// (41, endOfSeq), after everything numbered 41.
const endOfSeq = 3

// key is where c stands in the feed: by number, then tombstones, lists and
// todos, then id; in a full sync, lists then todos, by id.
func (c Change) key(full bool) ChangeCursor {
	if full {
		return ChangeCursor{Full: true, Order: int64(c.order), ID: c.ID}
	}
	return ChangeCursor{Seq: c.Seq, Order: int64(c.order), ID: c.ID}
}

func compareKeys(a, b ChangeCursor) int {
	return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Order, b.Order), cmp.Compare(a.ID, b.ID))
}

// errSyncExpired is a token older than the change log keeps.
var errSyncExpired = Errorf(EEXPIRED, "the sync token is older than the change log keeps: start over with a full sync (no since)")

// Changes returns what changed, for user, after cursor: at most limit
// changes and maxPageBytes of todos, in order, and whether more follow. A
// full sync gives every list and todo user can read now.
func (s *Store) Changes(ctx context.Context, user int64, after ChangeCursor, limit int) (changes []Change, next ChangeCursor, more bool, err error) {
	err = s.snapshot(ctx, "changes", func(ctx context.Context, tx *sql.Tx) error {
		var pruned int64
		if err := tx.QueryRowContext(ctx, "SELECT value, pruned FROM sequence").Scan(&next.Seq, &pruned); err != nil {
			return err
		}
		if !after.Full && after.Seq < pruned {
			return errSyncExpired
		}
		if after.Full && after.Order == 0 {
			after.Seq = next.Seq // the first page of a full sync: it ends at the number of now
		}
		var err error
		if changes, more, err = feed(ctx, tx, user, after, limit); err != nil {
			return err
		}
		switch {
		case more && after.Full: // the next page of the full sync, which ends at after.Seq
			next = changes[len(changes)-1].key(true)
			next.Seq = after.Seq
		case more:
			next = changes[len(changes)-1].key(false)
		case after.Full:
			next = ChangeCursor{Seq: after.Seq, Order: endOfSeq}
		default: // everything up to now is in the answer
			next = ChangeCursor{Seq: max(after.Seq, next.Seq), Order: endOfSeq}
		}
		setAfter(changes, next, after.Full)
		return nil
	})
	return changes, next, more, err
}

// setAfter gives each change its token: within a number, the change
// itself; at a number's last change, the whole number; the last change, next.
func setAfter(changes []Change, next ChangeCursor, full bool) {
	for i := range changes {
		c := &changes[i]
		switch {
		case i == len(changes)-1:
			c.After = next
		case full:
			c.After = c.key(true)
			c.After.Seq = next.Seq
		case changes[i+1].Seq != c.Seq:
			c.After = ChangeCursor{Seq: c.Seq, Order: endOfSeq}
		default:
			c.After = c.key(false)
		}
	}
}

// source is one query of the feed, read in order of its keys: its rows, and
// whether it has more than it gave.
type source struct {
	rows []Change
	more bool
}

// feed reads each source of the feed after cursor and merges them.
func feed(ctx context.Context, tx *sql.Tx, user int64, after ChangeCursor, limit int) ([]Change, bool, error) {
	var sources []source
	for _, q := range feedQueries(user, after) {
		src, err := readSource(ctx, tx, q, limit)
		if err != nil {
			return nil, false, err
		}
		sources = append(sources, src)
	}
	return merge(sources, limit, after.Full)
}

// merge takes the changes of sources in order, up to limit or maxPageBytes;
// it stops, with more, where a source that has more ran out of the rows it
// read, since its next row might come first.
func merge(sources []source, limit int, full bool) ([]Change, bool, error) {
	var out []Change
	bytes := 0
	for {
		best := -1
		for i, src := range sources {
			if len(src.rows) == 0 {
				if src.more {
					return out, true, nil
				}
				continue
			}
			if best < 0 || compareKeys(src.rows[0].key(full), sources[best].rows[0].key(full)) < 0 {
				best = i
			}
		}
		if best < 0 {
			return out, false, nil
		}
		if len(out) == limit || bytes >= maxPageBytes {
			return out, true, nil
		}
		c := sources[best].rows[0]
		sources[best].rows = sources[best].rows[1:]
		out = append(out, c)
		bytes += len(c.Todo.Members) + 64
	}
}

// feedQuery is a query of the feed: its SQL, its arguments, what its rows are.
type feedQuery struct {
	sql   string
	args  []any
	order int
}

// feedQueries are the queries of the feed for user after cursor. Each row
// is (seq, id, list_id, then what its kind needs), by (seq, id).
func feedQueries(user int64, after ChangeCursor) []feedQuery {
	// A source of order o starts after the cursor: (seq, id) > bound(o).
	bound := func(o int) []any {
		switch {
		case int64(o) > after.Order:
			return []any{after.Seq, 0}
		case int64(o) == after.Order:
			return []any{after.Seq, after.ID}
		}
		return []any{after.Seq, int64(1<<63 - 1)}
	}
	readable := "SELECT list_id FROM roles WHERE user_id = ?"
	if after.Full { // every list and todo: lists, then todos, by id
		afterList, afterTodo := int64(0), int64(0)
		switch after.Order {
		case 1:
			afterList = after.ID
		case 2:
			afterList, afterTodo = 1<<63-1, after.ID
		}
		return []feedQuery{
			{order: 1, sql: "SELECT max(l.seq, r.granted), l.id, l.id, " + listColumns + listFrom + " AND l.id > ? ORDER BY l.id",
				args: []any{user, afterList}},
			{order: 2, sql: "SELECT seq, id, list_id, id, version, list_id, json FROM todos WHERE +list_id IN (" + readable + ") AND id > ? ORDER BY id",
				args: []any{user, afterTodo}},
		}
	}
	// A list or a todo changes, for user, at the greater of its own number
	// and the number at which user was given its list (granted).
	return []feedQuery{
		{order: 0, sql: `SELECT seq, id, list_id, kind FROM tombstones
			WHERE (seq, id) > (?, ?) AND (kind = 'todo' AND list_id IN (` + readable + `)
				OR kind = 'list' AND EXISTS (SELECT 1 FROM json_each(users) WHERE value = ?))
			ORDER BY seq, id`, args: append(bound(0), user, user)},
		{order: 1, sql: "SELECT max(l.seq, r.granted) AS s, l.id, l.id, " + listColumns + listFrom +
			" AND (max(l.seq, r.granted), l.id) > (?, ?) ORDER BY s, l.id",
			args: append([]any{user}, bound(1)...)},
		// The todos changed at or after the cursor's number, in lists given
		// before it (by the index of seq); and every todo of the lists given
		// at or after it.
		{order: 2, sql: `SELECT seq, id, list_id, id, version, list_id, json FROM todos
			WHERE seq >= ? AND +list_id IN (` + readable + ` AND granted < ?) AND (seq, id) > (?, ?) ORDER BY seq, id`,
			args: append([]any{after.Seq, user, after.Seq}, bound(2)...)},
		{order: 2, sql: `SELECT max(t.seq, r.granted) AS s, t.id, t.list_id, t.id, t.version, t.list_id, t.json
			FROM roles r JOIN todos t ON t.list_id = r.list_id
			WHERE r.user_id = ? AND r.granted >= ? AND (max(t.seq, r.granted), t.id) > (?, ?) ORDER BY s, t.id`,
			args: append([]any{user, after.Seq}, bound(2)...)},
	}
}

// readSource reads the rows of q, up to limit and one more, or maxPageBytes.
func readSource(ctx context.Context, tx *sql.Tx, q feedQuery, limit int) (source, error) {
	var src source
	rows, err := tx.QueryContext(ctx, q.sql+" LIMIT ?", append(q.args, limit+1)...)
	if err != nil {
		return src, err
	}
	defer rows.Close()
	bytes := 0
	for rows.Next() {
		if len(src.rows) == limit || bytes >= maxPageBytes {
			src.more = true
			break
		}
		c := Change{order: q.order}
		if err := scanChange(rows, &c); err != nil {
			return src, err
		}
		bytes += len(c.Todo.Members) + 64
		src.rows = append(src.rows, c)
	}
	return src, rows.Err()
}

// scanChange reads a row of a feed query into c, by c.order.
func scanChange(rows *sql.Rows, c *Change) error {
	switch c.order {
	case 0:
		c.Delete = true
		return rows.Scan(&c.Seq, &c.ID, &c.ListID, &c.Kind)
	case 1:
		c.Kind = "list"
		dest := []any{&c.Seq, &c.ID, &c.ListID}
		l, err := scanList(rowScanner(func(list ...any) error { return rows.Scan(append(dest, list...)...) }))
		c.List = l
		return err
	}
	c.Kind = "todo"
	return rows.Scan(&c.Seq, &c.ID, &c.ListID, &c.Todo.ID, &c.Todo.Version, &c.Todo.ListID, &c.Todo.Members)
}

// rowScanner makes a func a Scan.
type rowScanner func(dest ...any) error

func (f rowScanner) Scan(dest ...any) error { return f(dest...) }

// Prune forgets the tombstones older than before, and notes the newest
// number it forgot: a sync from before it can no longer be exact (410).
func (s *Store) Prune(ctx context.Context, before time.Time) error {
	return s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		var newest sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT max(seq) FROM tombstones WHERE at < ?", before.UnixMilli()).Scan(&newest); err != nil || !newest.Valid {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM tombstones WHERE seq <= ?", newest.Int64); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE sequence SET pruned = max(pruned, ?)", newest.Int64)
		return err
	})
}
