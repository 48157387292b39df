package main

// Idempotency keys: a create with a key is answered the same on a retry.
// Keys belong to the user that sent them.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"time"
)

const idempotencyTTL = 24 * time.Hour

// IdempotencyKey is a client's key for a create, with a fingerprint of its request.
type IdempotencyKey struct {
	Key         string
	Fingerprint []byte
}

// findIdempotent looks up a key younger than a day, and the todo it created.
func findIdempotent(ctx context.Context, tx *sql.Tx, user int64, key IdempotencyKey, now time.Time) (RenderedTodo, bool, error) {
	var fingerprint []byte
	t := RenderedTodo{Version: FirstVersion}
	err := tx.QueryRowContext(ctx,
		"SELECT fingerprint, todo_id, todo_json FROM idempotency_keys WHERE user_id = ? AND key = ? AND created_at >= ?",
		user, key.Key, now.Add(-idempotencyTTL).UnixMilli()).Scan(&fingerprint, &t.ID, &t.Members)
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		return t, false, err
	}
	if !bytes.Equal(fingerprint, key.Fingerprint) {
		return t, false, Errorf(EINVALID, "the Idempotency-Key was already used for a different request")
	}
	return t, true, nil
}

// saveIdempotent records key for the todo t just created, and forgets the
// keys that have expired.
func saveIdempotent(ctx context.Context, tx *sql.Tx, user int64, key IdempotencyKey, t RenderedTodo, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM idempotency_keys WHERE created_at < ?",
		now.Add(-idempotencyTTL).UnixMilli()); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx,
		"INSERT INTO idempotency_keys (user_id, key, fingerprint, todo_id, todo_json, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		user, key.Key, key.Fingerprint, t.ID, t.Members, now.UnixMilli())
	return err
}
