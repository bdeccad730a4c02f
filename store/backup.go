package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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

// BackupInfo is what CheckBackup found in a backup.
type BackupInfo struct {
	Version int64 // the backup's schema version
	Latest  int64 // the newest this binary knows; Open migrates the backup up to it
}

// CheckBackup checks, before anything is replaced by it, that the file at
// path is an intact Moments database that this binary can run: SQLite's
// integrity_check passes, it has Moments' tables and schema version table,
// and its version is not newer than migrations know (ErrSchemaTooNew).
//
// The file is opened immutable: read-only, without locks, and without
// reading or making a -wal or -shm beside it, so what is checked is
// exactly the file a restore copies, and a backup on read-only media can
// be checked too. A -wal beside it means the file alone is not the whole
// database (the last writes of a server that was killed are in it), so
// such a file is refused rather than restored without them.
func CheckBackup(ctx context.Context, path string, migrations fs.FS) (BackupInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return BackupInfo{}, err
	}
	if !fi.Mode().IsRegular() {
		return BackupInfo{}, fmt.Errorf("%s is not a file", path)
	}
	if wal, err := os.Stat(path + "-wal"); err == nil && wal.Size() > 0 {
		return BackupInfo{}, fmt.Errorf("%s is not complete without %s-wal beside it; "+
			"start Moments once on a directory holding both (as moments.db and moments.db-wal) and back that up", path, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return BackupInfo{}, err
	}
	uri := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath() + "?mode=ro&immutable=1"
	db, err := sql.Open("sqlite", uri)
	if err != nil {
		return BackupInfo{}, err
	}
	defer db.Close()

	// integrity_check answers one row, "ok", or up to 100 rows of problems.
	var verdict string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&verdict); err != nil {
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_NOTADB {
			return BackupInfo{}, fmt.Errorf("%s is not a database", path)
		}
		return BackupInfo{}, fmt.Errorf("%s is damaged: %v", path, err)
	}
	if verdict != "ok" {
		return BackupInfo{}, fmt.Errorf("%s is damaged: integrity_check: %s", path, strings.ReplaceAll(verdict, "\n", " "))
	}

	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema
		WHERE type = 'table' AND name IN ('goose_db_version', 'users', 'posts')`).Scan(&tables); err != nil {
		return BackupInfo{}, fmt.Errorf("read %s: %w", path, err)
	}
	var version sql.NullInt64
	if tables == 3 {
		if err := db.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version`).Scan(&version); err != nil {
			return BackupInfo{}, fmt.Errorf("read the schema version of %s: %w", path, err)
		}
	}
	if !version.Valid || version.Int64 < 1 {
		return BackupInfo{}, fmt.Errorf("%s is not a Moments database (no Moments tables or schema version in it)", path)
	}
	// The provider only lists the migrations; it runs nothing on db.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return BackupInfo{}, fmt.Errorf("load migrations: %w", err)
	}
	info := BackupInfo{Version: version.Int64}
	if sources := p.ListSources(); len(sources) > 0 {
		info.Latest = sources[len(sources)-1].Version
	}
	if info.Version > info.Latest {
		return info, fmt.Errorf("%w: %s is at schema version %d, this binary knows up to %d; restore it with a newer moments",
			ErrSchemaTooNew, path, info.Version, info.Latest)
	}
	return info, nil
}
