package main

// The lists and their members, and the one place that says who may read or
// write a list: the roles view of schema.sql, read through roleIn inside a
// write and through the role cache (store_access.go) for a read.

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

var errReadOnly = Errorf(EFORBIDDEN, "you may read this list but not change it")

func errNoList(id int64) error { return Errorf(ENOTFOUND, "list %d does not exist", id) }

// roleIn returns user's role on list, inside a write transaction.
func roleIn(ctx context.Context, tx *sql.Tx, user, list int64) (Role, error) {
	var role Role
	err := tx.QueryRowContext(ctx, "SELECT role FROM roles WHERE user_id = ? AND list_id = ?", user, list).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return RoleNone, nil
	}
	return role, err
}

// mayWrite is ENOTFOUND when user cannot read list, EFORBIDDEN when it
// cannot write it.
func mayWrite(ctx context.Context, tx *sql.Tx, user, list int64) error {
	role, err := roleIn(ctx, tx, user, list)
	switch {
	case err != nil:
		return err
	case role == RoleNone:
		return errNoList(list)
	case !role.CanWrite():
		return errReadOnly
	}
	return nil
}

// mayMoveInto is mayWrite for the list_id of a todo's body: a list the user
// cannot read is a field error, as the body named it.
func mayMoveInto(ctx context.Context, tx *sql.Tx, user, list int64) error {
	err := mayWrite(ctx, tx, user, list)
	if ErrorCode(err) == ENOTFOUND {
		return invalidTodo([]FieldError{{"list_id", "must be the id of a list you can write"}})
	}
	return err
}

// listColumns are the columns of a List as user sees it, from lists l, the
// roles r of the user and the owner u, in the order scanList reads them.
const listColumns = `l.id, l.title, l.is_default, u.name, r.role, l.created_at, l.updated_at, l.version`

const listFrom = ` FROM roles r JOIN lists l ON l.id = r.list_id JOIN users u ON u.id = l.owner_id WHERE r.user_id = ?`

func scanList(row interface{ Scan(...any) error }) (List, error) {
	var l List
	var owner sql.NullString
	var created, updated int64
	err := row.Scan(&l.ID, &l.Title, &l.Default, &owner, &l.Role, &created, &updated, &l.Version)
	if owner.Valid {
		l.Owner = &owner.String
	}
	l.CreatedAt, l.UpdatedAt = Timestamp{time.UnixMilli(created).UTC()}, Timestamp{time.UnixMilli(updated).UTC()}
	return l, err
}

// Lists returns every list user can read: its own, then those shared with
// it, each by id.
func (s *Store) Lists(ctx context.Context, user int64) ([]List, error) {
	lists := []List{}
	err := s.read(ctx, "lists", func(ctx context.Context, conn *sql.Conn) error {
		rows, err := conn.QueryContext(ctx, "SELECT "+listColumns+listFrom+" ORDER BY r.role != 'owner', l.id", user)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			l, err := scanList(rows)
			if err != nil {
				return err
			}
			lists = append(lists, l)
		}
		return rows.Err()
	})
	return lists, err
}

// FindList returns the list with id as user sees it, or ENOTFOUND when user
// cannot read it.
func (s *Store) FindList(ctx context.Context, user, id int64) (List, error) {
	var l List
	err := s.read(ctx, "find list", func(ctx context.Context, conn *sql.Conn) error {
		var err error
		l, err = findList(ctx, conn, user, id)
		return err
	})
	return l, err
}

func findList(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, user, id int64) (List, error) {
	l, err := scanList(q.QueryRowContext(ctx, "SELECT "+listColumns+listFrom+" AND l.id = ?", user, id))
	if errors.Is(err, sql.ErrNoRows) {
		return l, errNoList(id)
	}
	return l, err
}

// CreateList makes a list owned by user.
func (s *Store) CreateList(ctx context.Context, user int64, title string) (List, error) {
	var l List
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		var owned int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM lists WHERE owner_id = ?", user).Scan(&owned); err != nil {
			return err
		}
		if owned >= maxOwnedLists {
			return &Error{Code: EINVALID, Message: "you own as many lists as one may",
				Fields: []FieldError{{"title", "is one list too many: delete one first"}}}
		}
		id, err := s.insertList(ctx, tx, user, title, false, now)
		if err != nil {
			return err
		}
		l, err = findList(ctx, tx, user, id)
		return err
	})
	s.access.forgetAll()
	return l, err
}

func (s *Store) insertList(ctx context.Context, tx *sql.Tx, owner int64, title string, isDefault bool, now time.Time) (int64, error) {
	seq, err := s.nextSeq(ctx, tx)
	if err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO lists (owner_id, title, is_default, created_at, updated_at, seq) VALUES (?, ?, ?, ?, ?, ?)",
		owner, title, isDefault, now.UnixMilli(), now.UnixMilli(), seq)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// RenameList sets the title of the list with id, by user (owner or editor);
// with ifMatch, only if its version is in it.
func (s *Store) RenameList(ctx context.Context, user, id int64, title string, ifMatch *Versions) (List, error) {
	var l List
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		old, err := findList(ctx, tx, user, id)
		switch {
		case err != nil:
			return err
		case !old.Role.CanWrite():
			return errReadOnly
		case ifMatch != nil && !ifMatch.Has(old.Version):
			return Errorf(EPRECONDITION, "If-Match does not match the list's current ETag")
		case old.Title == title:
			l = old
			return nil
		}
		seq, err := s.nextSeq(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE lists SET title = ?, updated_at = ?, version = version + 1, seq = ? WHERE id = ?",
			title, now.UnixMilli(), seq, id); err != nil {
			return err
		}
		l, err = findList(ctx, tx, user, id)
		return err
	})
	return l, err
}

// DeleteList deletes the list with id and its todos, by its owner; not a
// default list; with ifMatch, only if its version is in it.
func (s *Store) DeleteList(ctx context.Context, user, id int64, ifMatch *Versions) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		l, err := findList(ctx, tx, user, id)
		switch {
		case err != nil:
			return err
		case l.Role != RoleOwner:
			return Errorf(EFORBIDDEN, "only the list's owner may delete it")
		case l.Default:
			return Errorf(ECONFLICT, "a default list cannot be deleted")
		case ifMatch != nil && !ifMatch.Has(l.Version):
			return Errorf(EPRECONDITION, "If-Match does not match the list's current ETag")
		}
		if err := s.buryList(ctx, tx, id, 0, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM lists WHERE id = ?", id) // its todos go with it: schema.sql
		return err
	})
	s.access.forgetAll()
	s.cache.forgetAll()
	return err
}

// Members returns the accounts the list with id is shared with, by name,
// for a user who can read it.
func (s *Store) Members(ctx context.Context, user, id int64) ([]Member, error) {
	members := []Member{}
	err := s.read(ctx, "members", func(ctx context.Context, conn *sql.Conn) error {
		if _, err := findList(ctx, conn, user, id); err != nil {
			return err
		}
		rows, err := conn.QueryContext(ctx, "SELECT u.name, m.role FROM members m JOIN users u ON u.id = m.user_id WHERE m.list_id = ? ORDER BY u.name", id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m Member
			if err := rows.Scan(&m.User, &m.Role); err != nil {
				return err
			}
			members = append(members, m)
		}
		return rows.Err()
	})
	return members, err
}

// Share gives the account name the role on the list with id, by its owner
// user; created reports whether it is a new member.
func (s *Store) Share(ctx context.Context, user, id int64, name string, role Role) (created bool, err error) {
	err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		l, member, err := findMember(ctx, tx, user, id, name)
		switch {
		case err != nil:
			return err
		case l.Role != RoleOwner:
			return Errorf(EFORBIDDEN, "only the list's owner may share it")
		case l.Owner != nil && *l.Owner == name:
			return Errorf(ECONFLICT, "%s owns the list", name)
		}
		var was Role
		err = tx.QueryRowContext(ctx, "SELECT role FROM members WHERE list_id = ? AND user_id = ?", id, member).Scan(&was)
		if err == nil && was == role {
			return nil // no change
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		created = was == RoleNone
		seq, err := s.nextSeq(ctx, tx) // the member sees the list, and its todos, as of now
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO members (list_id, user_id, role, seq) VALUES (?, ?, ?, ?)
			ON CONFLICT (list_id, user_id) DO UPDATE SET role = excluded.role, seq = excluded.seq`, id, member, role, seq)
		return err
	})
	s.access.forgetAll()
	return created, err
}

// Unshare ends the sharing of the list with id with the account name, by
// its owner user or by that member leaving.
func (s *Store) Unshare(ctx context.Context, user, id int64, name string) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		l, member, err := findMember(ctx, tx, user, id, name)
		if err != nil {
			return err
		}
		if l.Role != RoleOwner && member != user {
			return Errorf(EFORBIDDEN, "only the list's owner may end another member's sharing")
		}
		if err := s.buryList(ctx, tx, id, member, now); err != nil { // before: a tombstone only for a member
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM members WHERE list_id = ? AND user_id = ?", id, member)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return Errorf(ENOTFOUND, "the list is not shared with %s", name)
		}
		return nil
	})
	s.access.forgetAll()
	return err
}

// findMember returns the list with id as user sees it, and the id of the
// account name.
func findMember(ctx context.Context, tx *sql.Tx, user, id int64, name string) (List, int64, error) {
	l, err := findList(ctx, tx, user, id)
	if err != nil {
		return l, 0, err
	}
	var member int64
	err = tx.QueryRowContext(ctx, "SELECT id FROM users WHERE name = ?", name).Scan(&member)
	if errors.Is(err, sql.ErrNoRows) {
		return l, 0, Errorf(ENOTFOUND, "there is no account named %q", name)
	}
	return l, member, err
}
