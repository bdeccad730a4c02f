package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database to dest with VACUUM INTO,
// while the store (and other processes) keep reading and writing: in WAL
// mode the copy reads one snapshot and blocks no writer. The copy is made
// under a temporary name beside dest, synced, and renamed into place, so a
// crash never leaves a half-written file under dest. An existing dest is
// never overwritten.
func (s *Store) Backup(ctx context.Context, dest string) (err error) {
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("%s already exists; choose another name", dest)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return err
	}
	tmp := dest + ".partial-" + hex.EncodeToString(suffix[:])
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()

	// The read pool is query_only, which SQLite applies to VACUUM INTO's
	// output too, and the writer runs inside transactions, where VACUUM
	// cannot: a connection of its own does the copy.
	db, err := sql.Open("sqlite", s.uri+"?_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return fmt.Errorf("copy the database: %w", err)
	}
	if err := syncFile(tmp, 0o600); err != nil {
		return err
	}
	// Link instead of rename: it fails rather than replace a dest that
	// appeared meanwhile.
	if err := os.Link(tmp, dest); err != nil {
		return err
	}
	if err := os.Remove(tmp); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dest))
}

// syncFile sets a file's mode and flushes it to disk.
func syncFile(path string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
