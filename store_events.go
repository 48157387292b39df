package main

// What the live events (API.md, "Live events") ask of the store: a signal
// after each commit, and what the commits since a number changed, read once
// for every stream (Published), each change with the users who may see it.
// A stream that this cannot serve reads its own user's feed (Changes).

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
)

// maxPublished bounds a Published range: it ends, at the end of a number,
// before this many changes, or maxPageBytes of todos.
const maxPublished = 1_000

// Reader is a user who may see a change, and its role on the change's list.
type Reader struct {
	User int64
	Role Role
}

// Committed returns a channel that receives after the store's writer, or
// another process, has committed: a signal, which may stand for several
// commits; what they changed is read with Published.
func (s *Store) Committed() <-chan struct{} { return s.committed }

func (s *Store) signalCommit() {
	select {
	case s.committed <- struct{}{}:
	default: // a signal is waiting already
	}
}

// Range is what the commits after the number From, up to To, changed.
type Range struct {
	From, To int64
	Latest   int64 // the last number committed when it was read: past To, more is to read
	// Changes are in the feed's order (number, then tombstones, lists and
	// todos, by id), each with its Readers, and the latest state of each
	// object; a list's Role is each reader's own.
	Changes []Change
	// Granted are the users given a list, or a new role on one, in the
	// range: their feed holds more than Changes (every todo of the list).
	Granted map[int64]bool
	// Whole is false when one number changed more than a range holds:
	// Changes and Granted are then empty, and every stream reads its own feed.
	Whole bool
}

// LastSeq returns the number of the last change committed.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.read(ctx, "last change", func(ctx context.Context, q *sql.Conn) error {
		return q.QueryRowContext(ctx, "SELECT value FROM sequence").Scan(&seq)
	})
	return seq, err
}

// Published returns what was committed after the number from, for every
// user at once, as one snapshot.
func (s *Store) Published(ctx context.Context, from int64) (Range, error) {
	rg := Range{From: from, To: from, Latest: from, Whole: true}
	err := s.snapshot(ctx, "published", func(ctx context.Context, tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT value FROM sequence").Scan(&rg.Latest); err != nil || rg.Latest <= from {
			return err
		}
		rg.To = rg.Latest
		return rg.read(ctx, tx)
	})
	return rg, err
}

// read reads the range's changes, their readers and the users granted a
// list, in tx. A range ends early, at the end of a number, past
// maxPublished changes or maxPageBytes of todos: To is then before Latest.
func (rg *Range) read(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []feedQuery{
		{order: 0, sql: "SELECT seq, id, list_id, kind FROM tombstones WHERE seq > ? ORDER BY seq"},
		{order: 1, sql: `SELECT l.seq, l.id, l.id, l.id, l.title, l.is_default, u.name, 'owner', l.created_at, l.updated_at, l.version
			FROM lists l JOIN users u ON u.id = l.owner_id WHERE l.seq > ? ORDER BY l.seq, l.id`},
		{order: 2, sql: "SELECT seq, id, list_id, id, version, list_id, json FROM todos WHERE seq > ? ORDER BY seq, id"},
	} {
		q.args = []any{rg.From}
		src, err := readSource(ctx, tx, q, maxPublished)
		if err != nil {
			return err
		}
		if src.more { // the changes of its last number may go on past what it read
			rg.To = min(rg.To, src.rows[len(src.rows)-1].Seq-1)
		}
		rg.Changes = append(rg.Changes, src.rows...)
	}
	slices.SortFunc(rg.Changes, func(a, b Change) int { return compareKeys(a.key(false), b.key(false)) })
	bytes := 0
	for i, c := range rg.Changes {
		if bytes += len(c.Todo.Members); i == maxPublished || bytes > maxPageBytes {
			rg.To = min(rg.To, c.Seq-1)
			break
		}
	}
	if rg.To <= rg.From { // one number alone is more than a range holds
		*rg = Range{From: rg.From, To: rg.Latest, Latest: rg.Latest}
		return nil
	}
	if past := slices.IndexFunc(rg.Changes, func(c Change) bool { return c.Seq > rg.To }); past >= 0 {
		rg.Changes = rg.Changes[:past]
	}
	if err := rg.readReaders(ctx, tx); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, "SELECT user_id FROM members WHERE seq > ? AND seq <= ?", rg.From, rg.To)
	if err != nil {
		return err
	}
	defer rows.Close()
	rg.Granted = map[int64]bool{}
	for rows.Next() {
		var user int64
		if err := rows.Scan(&user); err != nil {
			return err
		}
		rg.Granted[user] = true
	}
	return rows.Err()
}

// readReaders gives each change its readers: those of its list, or, for a
// list deleted or no longer shared, the users its tombstone names.
func (rg *Range) readReaders(ctx context.Context, tx *sql.Tx) error {
	var lists []int64
	for _, c := range rg.Changes {
		lists = append(lists, c.ListID)
	}
	ids, _ := json.Marshal(lists) // integers: it cannot fail
	rows, err := tx.QueryContext(ctx, "SELECT list_id, user_id, role FROM roles WHERE list_id IN (SELECT value FROM json_each(?))", string(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	readers := map[int64][]Reader{}
	for rows.Next() {
		var list int64
		var r Reader
		if err := rows.Scan(&list, &r.User, &r.Role); err != nil {
			return err
		}
		readers[list] = append(readers[list], r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range rg.Changes {
		c := &rg.Changes[i]
		if c.Kind != "list" || !c.Delete {
			c.Readers = readers[c.ListID]
			continue
		}
		var users []int64
		if err := tx.QueryRowContext(ctx, "SELECT users FROM tombstones WHERE seq = ?", c.Seq).Scan(jsonColumn{&users}); err != nil {
			return err
		}
		for _, u := range users {
			c.Readers = append(c.Readers, Reader{User: u})
		}
	}
	return nil
}

// jsonColumn scans a JSON text column into v.
type jsonColumn struct{ v any }

func (j jsonColumn) Scan(src any) error {
	switch b := src.(type) {
	case string:
		return json.Unmarshal([]byte(b), j.v)
	case []byte:
		return json.Unmarshal(b, j.v)
	}
	return nil // NULL: none
}
