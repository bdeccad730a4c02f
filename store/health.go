package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"moments/internal/fsutil"
)

// ErrUnhealthy wraps what Health finds wrong; its message says what, in
// words an operator can act on, and names no file.
var ErrUnhealthy = errors.New("unhealthy")

// Health checks what the server needs to do its work: the database answers
// a query, and, when writes is set, the data directory takes a write that
// reaches the disk (a database that still answers reads can sit on a full
// or read-only disk).
func (s *Store) Health(ctx context.Context, writes bool) error {
	if err := s.Ping(ctx); err != nil {
		return fmt.Errorf("%w: the database does not answer", ErrUnhealthy)
	}
	if !writes {
		return nil
	}
	if err := probeWrite(s.Dir()); err != nil {
		return fmt.Errorf("%w: the data directory does not take writes (%s)", ErrUnhealthy, writeProblem(err))
	}
	return nil
}

// Dir is the data directory.
func (s *Store) Dir() string { return filepath.Dir(s.path) }

// probeWrite writes, syncs and removes a small file in dir.
func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, 4096))
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// writeProblem says in a few words why a write failed.
func writeProblem(err error) string {
	switch {
	case fsutil.DiskFull(err):
		return "the disk is full"
	case errors.Is(err, syscall.EROFS):
		return "the file system is read-only"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error() // the system's reason, without the path
	}
	return "it cannot be written"
}

// checkUsable refuses, with one line naming the path and the reason, a
// data directory that takes no writes and a database file this process
// cannot open for reading and writing: either would otherwise fail later,
// on the first write, with a less helpful error.
func checkUsable(dir, dbPath string) error {
	if err := probeWrite(dir); err != nil {
		return fmt.Errorf("the data directory %s does not take writes (%s)", dir, writeProblem(err))
	}
	f, err := os.OpenFile(dbPath, os.O_RDWR, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A new instance: the database is made here, private from the
		// start (SQLite gives its -wal and -shm files the same mode).
		f, err = os.OpenFile(dbPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return nil // made meanwhile by another process
		}
		if err != nil {
			return fmt.Errorf("%s cannot be created (%s)", dbPath, writeProblem(err))
		}
	case err != nil:
		return fmt.Errorf("%s cannot be opened for reading and writing (%s)", dbPath, writeProblem(err))
	}
	return f.Close()
}

// quickCheck runs SQLite's quick_check, which reads every page of the
// database: a damaged file is refused at start instead of failing
// requests at random later. It runs on a connection of its own with a
// small page cache, closed afterwards: on the writer, whose cache stays,
// reading the whole file left the server 4–5 MB larger for good.
func (s *Store) quickCheck(ctx context.Context) error {
	db, err := sql.Open("sqlite", s.uri+"?mode=ro&_pragma=busy_timeout(5000)&_pragma=cache_size(-256)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA quick_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" && len(problems) < 3 {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s is damaged (%s); restore a backup with moments restore", s.path, strings.Join(problems, "; "))
	}
	return nil
}
