package main

// Backup and restore of the database file, for todo backup and todo restore:
// a backup is a consistent copy taken while a service writes; a restore
// checks a copy and puts it in place of a database that no service holds.
// Nothing here knows of HTTP or of todos, but the schema's version.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// backupDatabase writes a consistent copy of the database at path to file,
// which must not exist. VACUUM INTO reads the database in one read
// transaction: in WAL mode a service's writes go on beside it, and the copy
// holds every commit made before it began. The copy is written beside file
// and renamed to it once on disk, so that file is never a part of a copy.
func backupDatabase(ctx context.Context, path, file string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no database to back up at %s", path)
	}
	if _, err := os.Lstat(file); err == nil {
		return fmt.Errorf("%s exists: a backup replaces no file; remove it or name another", file)
	}
	partial := file + ".partial"
	if err := os.Remove(partial); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, err := sql.Open("sqlite3", path+fmt.Sprintf("?_busy_timeout=%d", busyTimeoutMS))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", partial); err != nil {
		os.Remove(partial)
		return fmt.Errorf("back up %s: %w", path, err)
	}
	if err := syncFile(partial); err != nil {
		return err
	}
	return renameDurably(partial, file)
}

// restoreDatabase puts a copy of file in place of the database at path, once
// the copy is checked: an intact SQLite database, of a todo schema version
// that this program knows (latest or older: the service brings an older one
// up to date when it opens it). It holds the database's lock throughout, so
// it refuses while a service holds the database, and no service starts on it
// meanwhile.
func restoreDatabase(ctx context.Context, path, file string, latest int) error {
	lock, err := lockDatabase(path)
	if err != nil {
		return err
	}
	defer lock.Close()
	restoring := path + ".restoring"
	if err := copyFile(file, restoring); err != nil {
		return err
	}
	defer removeDatabase(restoring) // nothing is left of it once renamed
	if err := checkDatabase(ctx, restoring, latest); err != nil {
		return fmt.Errorf("%s cannot be restored: %w", file, err)
	}
	// The old database's WAL and shared memory go first: beside the new file
	// SQLite would take them for its own.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return renameDurably(restoring, path)
}

// checkDatabase checks that the database at path is intact and a todo
// database of a schema version from 1 to latest. It leaves no WAL behind.
func checkDatabase(ctx context.Context, path string, latest int) error {
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		return err
	}
	defer db.Close()
	var version, tables int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return errors.New("it is not a SQLite database")
	}
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("it is not intact: %w", err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("it is not intact: %w", err)
		}
		problems = append(problems, line)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("it is not intact: %w", err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		return fmt.Errorf("it is not intact: %s", strings.Join(problems, "; "))
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'todos'").Scan(&tables); err != nil {
		return err
	}
	switch {
	case version == 0 || tables == 0:
		return errors.New("it is not a todo database")
	case version > latest:
		return fmt.Errorf("its schema version is %d, newer than this program knows (%d): restore it with a newer todo", version, latest)
	}
	return nil
}

// copyFile copies from to a new file to, on disk when it returns.
func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return errors.Join(dst.Sync(), dst.Close())
}

// syncFile makes what was written to the file at path durable.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// renameDurably renames from to to, and syncs their folder, so that the new
// name survives a crash.
func renameDurably(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(to))
	if err != nil {
		return err
	}
	return errors.Join(dir.Sync(), dir.Close())
}

// removeDatabase removes the database at path and its WAL and shared memory,
// where they are.
func removeDatabase(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}
