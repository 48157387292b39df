package main

// Migrations: the schema, versioned, applied at start.

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

// migrate applies the sections of schema.sql that the database has not seen.
func (s *Store) migrate(ctx context.Context) error {
	migrations, err := parseMigrations(schemaSQL)
	if err != nil {
		return err
	}
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
		err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
			if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
				return err
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

// parseMigrations splits schema.sql at its "-- version N" lines, which must
// count up from 1.
func parseMigrations(schema string) ([]string, error) {
	var migrations []string
	for _, line := range strings.Split(schema, "\n") {
		if n, ok := strings.CutPrefix(line, "-- version "); ok {
			if v, err := strconv.Atoi(n); err != nil || v != len(migrations)+1 {
				return nil, fmt.Errorf("schema.sql: %q is out of sequence", line)
			}
			migrations = append(migrations, "")
		} else if len(migrations) > 0 {
			migrations[len(migrations)-1] += line + "\n"
		}
	}
	return migrations, nil
}
