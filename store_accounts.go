package main

// Accounts, their tokens and their browser sessions, and the credential
// cache that lets a request be authenticated without a query.

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

const (
	sessionLife          = 30 * 24 * time.Hour // a session's life after its last use
	touchEvery           = time.Minute         // how often last_used_at is written for a credential in use
	maxCachedCredentials = 10_000
)

// Credential is a token or a session, found by its secret, and its user.
type Credential struct {
	ID      int64
	Session bool
	User    User
	expires int64 // Unix ms; 0: never
	used    int64 // Unix ms of its last use written
}

// Token is a program's token, as its owner sees it. Secret is set only in
// the answer to its creation.
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Secret     string     `json:"token,omitempty"`
	CreatedAt  Timestamp  `json:"created_at"`
	ExpiresAt  *Timestamp `json:"expires_at"`
	LastUsedAt *Timestamp `json:"last_used_at"`
}

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
		id, err := addUser(ctx, tx, name, hash, admin, first, now)
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
func addUser(ctx context.Context, tx *sql.Tx, name, hash string, admin, first bool, now time.Time) (int64, error) {
	if first {
		res, err := tx.ExecContext(ctx, "UPDATE users SET name = ?, password = ?, admin = 1 WHERE id = ?", name, hash, BuiltinUser)
		if err != nil {
			return 0, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return BuiltinUser, nil
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
	_, err = insertList(ctx, tx, id, defaultListName, true, now)
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
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		u, err := findAccountForWrite(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := keepAnAdmin(ctx, tx, u); err != nil {
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

// CreateToken keeps a new token or session of user, of which only hash, the
// SHA-256 of its secret, is stored.
func (s *Store) CreateToken(ctx context.Context, user int64, session bool, name string, hash []byte, expires *time.Time) (Token, error) {
	t := Token{Name: name}
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		var until any
		if expires != nil {
			until = expires.UnixMilli()
			t.ExpiresAt = &Timestamp{expires.UTC().Truncate(time.Millisecond)}
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO tokens (user_id, session, name, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
			user, session, name, hash, now.UnixMilli(), until)
		if err != nil {
			return err
		}
		t.CreatedAt = Timestamp{now}
		t.ID, err = res.LastInsertId()
		return err
	})
	return t, err
}

// Tokens returns user's tokens (not its sessions), by id.
func (s *Store) Tokens(ctx context.Context, user int64) ([]Token, error) {
	tokens := []Token{}
	err := s.read(ctx, "tokens", func(ctx context.Context, conn *sql.Conn) error {
		rows, err := conn.QueryContext(ctx, "SELECT id, name, created_at, expires_at, last_used_at FROM tokens WHERE user_id = ? AND NOT session ORDER BY id", user)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t Token
			var created int64
			var expires, used sql.NullInt64
			if err := rows.Scan(&t.ID, &t.Name, &created, &expires, &used); err != nil {
				return err
			}
			t.CreatedAt, t.ExpiresAt, t.LastUsedAt = Timestamp{time.UnixMilli(created).UTC()}, timePtr(expires), timePtr(used)
			tokens = append(tokens, t)
		}
		return rows.Err()
	})
	return tokens, err
}

// DeleteToken revokes user's token or session with id, at once.
func (s *Store) DeleteToken(ctx context.Context, user, id int64) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE id = ? AND user_id = ?", id, user)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return Errorf(ENOTFOUND, "token %d does not exist", id)
		}
		return nil
	})
	s.credentials.forgetAll()
	return err
}

// Authenticate returns the credential whose secret has hash, or
// EUNAUTHORIZED when there is none or it has expired. The lookup is by the
// hash, so its time says nothing of the secret.
func (s *Store) Authenticate(ctx context.Context, hash []byte) (Credential, error) {
	key := [32]byte(hash)
	c, ok, gen := s.credentials.get(key)
	if !ok {
		err := s.read(ctx, "authenticate", func(ctx context.Context, conn *sql.Conn) error {
			var expires, used sql.NullInt64
			var created int64
			var name sql.NullString
			err := conn.QueryRowContext(ctx, `SELECT t.id, t.session, t.expires_at, t.last_used_at, u.id, u.name, u.admin, u.created_at
				FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`, hash).
				Scan(&c.ID, &c.Session, &expires, &used, &c.User.ID, &name, &c.User.Admin, &created)
			if errors.Is(err, sql.ErrNoRows) {
				return errBadCredentials
			}
			c.expires, c.used, c.User.Name = expires.Int64, used.Int64, &name.String
			c.User.CreatedAt = Timestamp{time.UnixMilli(created).UTC()}
			return err
		})
		if err != nil {
			return c, err
		}
		s.credentials.put(key, c, gen)
	}
	now := s.now()
	if c.expires != 0 && now.UnixMilli() >= c.expires {
		return c, errBadCredentials
	}
	if now.UnixMilli()-c.used >= touchEvery.Milliseconds() && s.credentials.touched(key, now) {
		s.touch(ctx, c, now)
	}
	return c, nil
}

var errBadCredentials = Errorf(EUNAUTHORIZED, "the credentials are missing, wrong, expired or revoked")

// touch writes when c was last used, once a touchEvery; a session lives on
// sessionLife after it. A touch that fails is tried again at the next use:
// the request goes on.
func (s *Store) touch(ctx context.Context, c Credential, now time.Time) {
	err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		_, err := tx.ExecContext(ctx, "UPDATE tokens SET last_used_at = ?, expires_at = iif(session, ?, expires_at) WHERE id = ?",
			now.UnixMilli(), now.Add(sessionLife).UnixMilli(), c.ID)
		return err
	})
	if err != nil {
		s.credentials.forgetAll() // it is read again, and touched again
	}
}

// credentialCache keeps the credentials used lately, by the SHA-256 of
// their secret. A revocation forgets them all (as the other caches do).
type credentialCache struct {
	mu    sync.Mutex
	creds map[[32]byte]Credential
	gen   uint64
}

func (c *credentialCache) get(key [32]byte) (Credential, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cred, ok := c.creds[key]
	return cred, ok, c.gen
}

func (c *credentialCache) put(key [32]byte, cred Credential, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.creds == nil || len(c.creds) >= maxCachedCredentials {
		c.creds = map[[32]byte]Credential{}
	}
	c.creds[key] = cred
}

// touched notes that the credential of key was used at now, and reports
// whether that should be written: once a touchEvery.
func (c *credentialCache) touched(key [32]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cred, ok := c.creds[key]
	if !ok || now.UnixMilli()-cred.used < touchEvery.Milliseconds() {
		return false
	}
	cred.used = now.UnixMilli()
	if cred.Session {
		cred.expires = now.Add(sessionLife).UnixMilli()
	}
	c.creds[key] = cred
	return true
}

func (c *credentialCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.creds = nil
	c.gen++
}
