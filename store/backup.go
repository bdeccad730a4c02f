package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"moments/internal/fsutil"
)

// Backup writes a consistent copy of the database to dest with VACUUM INTO
// while the store (and other processes on the same file) keep reading and
// writing. The copy is one read transaction: in WAL mode it sees a single
// snapshot and blocks no writer; the WAL only grows until it ends, because
// a checkpoint cannot pass a reader.
//
// The copy is made under a temporary name beside dest (mode 0600 from the
// start: it holds password hashes), synced, and only then put in place, so
// a crash never leaves a half-written file under dest. An existing dest is
// never replaced. Any path will do; it need not end in ".db".
func (s *Store) Backup(ctx context.Context, dest string) (err error) {
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("%s already exists; choose another name", dest)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// VACUUM INTO accepts an existing empty file, and creating it here gives
	// it 0600 at once (SQLite would create 0644 and leave the chmod to us).
	f, err := os.CreateTemp(filepath.Dir(dest), filepath.Base(dest)+".partial-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()

	// Neither pool can do this: the read pool is query_only, which SQLite
	// extends to VACUUM INTO's output ("attempt to write a readonly
	// database"), and the writer connection is always inside the write
	// loop's transactions, where VACUUM is refused (and a copy there would
	// hold up every write). A short-lived connection of its own, opened
	// read-only (mode=ro) so it cannot change the live database, reads one
	// snapshot and writes only the new file.
	db, err := sql.Open("sqlite", s.uri+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return fmt.Errorf("copy the database: %w", err)
	}
	// SQLite does not sync VACUUM INTO's output.
	if err := syncFile(tmp); err != nil {
		return err
	}
	return fsutil.PlaceNew(tmp, dest)
}

// syncFile flushes a file to disk.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
