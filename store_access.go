package main

// The role cache: each user's roles on lists, read lately, so that a read
// checks access without a query. Writes inside a transaction ask the roles
// view instead (roleIn): they must see the state they commit on. And each
// user's default list, which never changes.

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedRoles bounds the roles the cache keeps, in all; past it, it
// starts over. A user has at most maxOwnedLists lists of its own and those
// shared with it.
const maxCachedRoles = 100_000

// roleCache keeps each user's role on every list it can read. A write that
// changes roles (a list made or deleted, a sharing, an account removed)
// forgets all of it once committed; a read keeps what it found only if
// nothing was forgotten since it began (as todoCache does).
type roleCache struct {
	mu    sync.RWMutex
	users map[int64]map[int64]Role // user → list → role
	count int                      // roles kept
	gen   uint64                   // counts the forgets
}

func (c *roleCache) get(user int64) (roles map[int64]Role, ok bool, gen uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	roles, ok = c.users[user]
	return roles, ok, c.gen
}

func (c *roleCache) put(user int64, roles map[int64]Role, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.users == nil || c.count+len(roles) > maxCachedRoles {
		c.users, c.count = map[int64]map[int64]Role{}, 0
	}
	c.users[user] = roles
	c.count += len(roles)
}

func (c *roleCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users, c.count = nil, 0
	c.gen++
}

// roleOn returns user's role on list, RoleNone when it cannot read it.
func (s *Store) roleOn(ctx context.Context, user, list int64) (Role, error) {
	roles, err := s.roles(ctx, user)
	return roles[list], err
}

// roles returns user's role on each list it can read. The map is shared:
// read-only.
func (s *Store) roles(ctx context.Context, user int64) (map[int64]Role, error) {
	roles, ok, gen := s.access.get(user)
	if ok {
		return roles, nil
	}
	roles = map[int64]Role{}
	err := s.read(ctx, "roles", func(ctx context.Context, conn *sql.Conn) error {
		rows, err := conn.QueryContext(ctx, "SELECT list_id, role FROM roles WHERE user_id = ?", user)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var role Role
			if err := rows.Scan(&id, &role); err != nil {
				return err
			}
			roles[id] = role
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	s.access.put(user, roles, gen)
	return roles, nil
}

// defaultList returns user's default list, inside a write. A user's default
// list is made with it and never changes, so it is asked of the database
// once; s.defaults forgets it only with the user.
func (s *Store) defaultList(ctx context.Context, tx *sql.Tx, user int64) (int64, error) {
	if id, ok := s.defaults.Load(user); ok {
		return id.(int64), nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, "SELECT id FROM lists WHERE owner_id = ? AND is_default", user).Scan(&id)
	if err == nil {
		s.defaults.Store(user, id)
	}
	return id, err
}
