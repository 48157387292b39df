package main

// Migrations: the schema, versioned, brought up to date at start. A version
// is a section of schema.sql and, where SQL alone cannot do the job, a Go
// step as well (goSteps), run after the SQL in the same transaction.

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

//go:embed schema.sql
var schemaSQL string

// goSteps are the parts of migrations that need the program, by version: a
// version that changes the shape of a todo adds its columns in schema.sql
// and renders every stored todo again here, with renderTodos. Every version
// has its section in schema.sql, if only a comment, so that the file lists
// them all.
var goSteps = map[int]func(ctx context.Context, tx *sql.Tx) error{
	2: renderTodos, // a todo has a list_id
}

// A migration takes the schema from the version before it to its own.
type migration struct {
	sql  string                                      // its section of schema.sql
	step func(ctx context.Context, tx *sql.Tx) error // or nil
}

// parseMigrations splits schema at its "-- version N" lines, which must count
// up from 1, and gives each version its Go step from steps.
func parseMigrations(schema string, steps map[int]func(context.Context, *sql.Tx) error) ([]migration, error) {
	var migrations []migration
	for _, line := range strings.Split(schema, "\n") {
		if n, ok := strings.CutPrefix(line, "-- version "); ok {
			if v, err := strconv.Atoi(n); err != nil || v != len(migrations)+1 {
				return nil, fmt.Errorf("schema.sql: %q is out of sequence", line)
			}
			migrations = append(migrations, migration{})
		} else if len(migrations) > 0 {
			migrations[len(migrations)-1].sql += line + "\n"
		}
	}
	for v, step := range steps {
		if v < 1 || v > len(migrations) {
			return nil, fmt.Errorf("the Go step of version %d has no section in schema.sql", v)
		}
		migrations[v-1].step = step
	}
	return migrations, nil
}

// migrate applies the migrations that the database has not seen, each in a
// transaction of its own that also sets user_version to its version.
func (s *Store) migrate(ctx context.Context, migrations []migration) error {
	var version, tables int
	if err := s.writeDB.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("its schema version is %d, newer than this program knows (%d): run a newer todo", version, len(migrations))
	}
	if version == 0 {
		if err := s.writeDB.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
			return err
		}
		if tables > 0 {
			return errors.New("it is not a todo database: it has tables but no schema version")
		}
	}
	for v := version + 1; v <= len(migrations); v++ {
		m := migrations[v-1]
		err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if m.step != nil {
				if err := m.step(ctx, tx); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
	}
	return nil
}
