package main

// Tokens and browser sessions: made, listed, revoked, found by the hash of
// their secret (Authenticate), and the credential cache that spares a
// request that query.

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

// Credential is a token or a session, found by its secret, and its user.
type Credential struct {
	ID      int64
	Session bool
	User    User
	expires int64 // Unix ms; 0: never
	used    int64 // Unix ms of its last use written
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
