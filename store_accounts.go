package main

// Accounts: made, listed, found for a sign-in, changed and deleted; and the
// mode (HasAccounts).

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// HasAccounts reports whether the database has an account: the accounts
// mode. It is read from the database at start, after a write that makes or
// removes accounts, and when another process changes the database.
func (s *Store) HasAccounts() bool { return s.accounts.Load() }

func (s *Store) loadAccounts(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) error {
	var exists bool
	err := q.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users WHERE password IS NOT NULL)").Scan(&exists)
	s.accounts.Store(exists)
	return err
}

const userColumns = "id, name, admin, created_at"

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var name sql.NullString
	var created int64
	err := row.Scan(&u.ID, &name, &u.Admin, &created)
	if name.Valid {
		u.Name = &name.String
	}
	u.CreatedAt = Timestamp{time.UnixMilli(created).UTC()}
	return u, err
}

func errNoUser(name string) error { return Errorf(ENOTFOUND, "there is no account named %q", name) }

// CreateUser makes the account name with the password hash, and its default
// list. The first account is the built-in user given a name, an admin, who
// keeps the lists made before accounts.
func (s *Store) CreateUser(ctx context.Context, name, hash string, admin bool) (User, error) {
	var u User
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		var taken, first bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users WHERE name = ?), NOT EXISTS (SELECT 1 FROM users WHERE password IS NOT NULL)",
			name).Scan(&taken, &first); err != nil {
			return err
		}
		if taken {
			return Errorf(ECONFLICT, "the name %q is taken", name)
		}
		id, err := s.addUser(ctx, tx, name, hash, admin, first, now)
		if err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
		return err
	})
	if err == nil {
		s.accounts.Store(true)
		s.access.forgetAll()
	}
	return u, err
}

// addUser gives the built-in user a name when first, or else adds a user
// with its default list; it returns the account's id.
func (s *Store) addUser(ctx context.Context, tx *sql.Tx, name, hash string, admin, first bool, now time.Time) (int64, error) {
	if first {
		res, err := tx.ExecContext(ctx, "UPDATE users SET name = ?, password = ?, admin = 1 WHERE id = ?", name, hash, BuiltinUser)
		if err != nil {
			return 0, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			// Its lists now have an owner by name: a change to each.
			seq, err := s.nextSeq(ctx, tx)
			if err == nil {
				_, err = tx.ExecContext(ctx, "UPDATE lists SET seq = ? WHERE owner_id = ?", seq, BuiltinUser)
			}
			return BuiltinUser, err
		}
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO users (name, password, admin, created_at) VALUES (?, ?, ?, ?)",
		name, hash, admin || first, now.UnixMilli())
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	_, err = s.insertList(ctx, tx, id, defaultListName, true, now)
	return id, err
}

// Users returns every account, by id.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	users := []User{}
	err := s.read(ctx, "users", func(ctx context.Context, conn *sql.Conn) error {
		rows, err := conn.QueryContext(ctx, "SELECT "+userColumns+" FROM users WHERE password IS NOT NULL ORDER BY id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			users = append(users, u)
		}
		return rows.Err()
	})
	return users, err
}

// FindUser returns the user with id, an account or the built-in user.
func (s *Store) FindUser(ctx context.Context, id int64) (User, error) {
	var u User
	err := s.read(ctx, "find user", func(ctx context.Context, conn *sql.Conn) error {
		var err error
		u, err = scanUser(conn.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			return Errorf(ENOTFOUND, "the user is gone")
		}
		return err
	})
	return u, err
}

// FindAccount returns the account name and its password hash, for a
// sign-in, or ENOTFOUND.
func (s *Store) FindAccount(ctx context.Context, name string) (User, string, error) {
	var u User
	var hash string
	err := s.read(ctx, "find account", func(ctx context.Context, conn *sql.Conn) error {
		var created int64
		u.Name = new(string)
		err := conn.QueryRowContext(ctx, "SELECT id, name, admin, created_at, password FROM users WHERE name = ? AND password IS NOT NULL", name).
			Scan(&u.ID, u.Name, &u.Admin, &created, &hash)
		u.CreatedAt = Timestamp{time.UnixMilli(created).UTC()}
		if errors.Is(err, sql.ErrNoRows) {
			return errNoUser(name)
		}
		return err
	})
	return u, hash, err
}

// ChangeAccount sets, on the account name, the password hash when it is not
// "" (revoking its tokens and sessions, but keep) and admin when it is not
// nil. The last admin stays one.
func (s *Store) ChangeAccount(ctx context.Context, name, hash string, admin *bool, keep int64) (User, error) {
	var u User
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		old, err := findAccountForWrite(ctx, tx, name)
		if err != nil {
			return err
		}
		if hash != "" {
			if _, err := tx.ExecContext(ctx, "UPDATE users SET password = ? WHERE id = ?", hash, old.ID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE user_id = ? AND id != ?", old.ID, keep); err != nil {
				return err
			}
		}
		if admin != nil && *admin != old.Admin {
			if !*admin {
				if err := keepAnAdmin(ctx, tx, old); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "UPDATE users SET admin = ? WHERE id = ?", *admin, old.ID); err != nil {
				return err
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", old.ID))
		return err
	})
	s.credentials.forgetAll()
	return u, err
}

// DeleteUser deletes the account name, its tokens and sessions, its lists
// and their todos, and its sharings; not the last admin.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		u, err := findAccountForWrite(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := keepAnAdmin(ctx, tx, u); err != nil {
			return err
		}
		if err := s.buryListsOf(ctx, tx, u.ID, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM idempotency_keys WHERE user_id = ?", u.ID); err != nil {
			return err
		}
		// Its lists, their todos (schema.sql), tokens and sharings go with it.
		_, err = tx.ExecContext(ctx, "DELETE FROM users WHERE id = ?", u.ID)
		return err
	})
	s.credentials.forgetAll()
	s.access.forgetAll()
	s.cache.forgetAll()
	s.defaults.Clear()
	return err
}

// buryListsOf leaves the tombstones of the lists that user owns, for
// everyone who reads them, before they go with it.
func (s *Store) buryListsOf(ctx context.Context, tx *sql.Tx, user int64, now time.Time) error {
	rows, err := tx.QueryContext(ctx, "SELECT id FROM lists WHERE owner_id = ?", user)
	if err != nil {
		return err
	}
	var lists []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		lists = append(lists, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, id := range lists {
		if err := s.buryList(ctx, tx, id, 0, now); err != nil {
			return err
		}
	}
	return nil
}

func findAccountForWrite(ctx context.Context, tx *sql.Tx, name string) (User, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE name = ? AND password IS NOT NULL", name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, errNoUser(name)
	}
	return u, err
}

// keepAnAdmin is ECONFLICT when u is the last admin.
func keepAnAdmin(ctx context.Context, tx *sql.Tx, u User) error {
	var others bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users WHERE admin AND password IS NOT NULL AND id != ?)", u.ID).Scan(&others); err != nil {
		return err
	}
	if u.Admin && !others {
		return Errorf(ECONFLICT, "%s is the last admin: make another admin first", *u.Name)
	}
	return nil
}
