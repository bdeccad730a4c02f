package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/pressly/goose/v3"

	"moments/internal/fsutil"
)

// SnapshotDir is the folder of the data directory where a copy of the
// database is kept before each upgrade.
const SnapshotDir = "backups"

// KeepSnapshots is how many of those copies are kept; older ones are
// deleted as new ones are made.
const KeepSnapshots = 3

// snapshotTime is the UTC time in a snapshot's name: it sorts as it reads.
const snapshotTime = "20060102T150405Z"

// snapshotName matches the names snapshot gives, and nothing else in
// SnapshotDir: the time, then a sequence number when a second copy was
// made in the same second.
var snapshotName = regexp.MustCompile(`^pre-migrate-\d+-to-\d+-(\d{8}T\d{6}Z)(?:-(\d+))?\.db$`)

// Snapshot is the copy of the database made before migrating it.
type Snapshot struct {
	Path     string // absolute
	From, To int64  // the schema version copied, and the one being migrated to
	Removed  int    // older snapshots deleted to keep the newest KeepSnapshots
}

// migrate applies every pending migration. An existing database is first
// copied to SnapshotDir, because goose applies each migration in its own
// transaction: when the second of three fails, the first stays applied.
// If a migration fails, the copy is put back and the store closed, so the
// database is whole at its old version and the error says so. A new
// database (version 0) has nothing worth copying.
func (s *Store) migrate(ctx context.Context) ([]*goose.MigrationResult, error) {
	from, err := s.goose.GetDBVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	to := s.LatestVersion()
	if from == 0 || from >= to {
		res, err := s.goose.Up(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate %s: %w", s.path, err)
		}
		return res, nil
	}
	snap, err := s.snapshot(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: no copy of the database could be made first, so nothing was migrated: %w", s.path, err)
	}
	if s.onSnapshot != nil {
		s.onSnapshot(snap)
	}
	res, err := s.goose.Up(ctx)
	if err == nil {
		return res, nil
	}
	what := err.Error()
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		what = fmt.Sprintf("migration %05d failed: %v", partial.Failed.Source.Version, partial.Err)
	}
	// Closing the connections ends what the failed migration left open (a
	// NO TRANSACTION migration may leave a transaction begun on the one
	// writer connection) before the file is replaced.
	closeErr := s.Close()
	if err := replaceDatabase(s.path, snap.Path); err != nil {
		return nil, fmt.Errorf("migrate %s: %s; putting the copy made before it back failed too (%v): "+
			"with Moments stopped, restore it with moments restore from %s", s.path, what, errors.Join(err, closeErr), snap.Path)
	}
	return nil, fmt.Errorf("migrate %s: %s; the database is back at version %d (restored from %s)", s.path, what, from, snap.Path)
}

// snapshot copies the database to SnapshotDir as
// pre-migrate-FROM-to-TO-TIME.db and deletes the oldest such copies
// beyond KeepSnapshots. Nothing else in the folder is touched.
func (s *Store) snapshot(ctx context.Context, from, to int64) (Snapshot, error) {
	dir := filepath.Join(filepath.Dir(s.path), SnapshotDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Snapshot{}, err
	}
	// A server that fails its upgrade and is restarted at once by its
	// service manager can come back within the same second.
	base := fmt.Sprintf("pre-migrate-%d-to-%d-%s", from, to, s.now().UTC().Format(snapshotTime))
	path := filepath.Join(dir, base+".db")
	for n := 2; ; n++ {
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			break
		}
		path = filepath.Join(dir, fmt.Sprintf("%s-%d.db", base, n))
	}
	if err := s.Backup(ctx, path); err != nil {
		return Snapshot{}, err
	}
	removed, err := pruneSnapshots(dir, filepath.Base(path))
	if err != nil {
		return Snapshot{}, fmt.Errorf("delete older copies: %w", err)
	}
	return Snapshot{Path: path, From: from, To: to, Removed: removed}, nil
}

// pruneSnapshots deletes the oldest snapshots in dir so that KeepSnapshots
// are left, counting the one just made, which is kept whatever its name
// says (a clock set back would otherwise make it the oldest).
func pruneSnapshots(dir, made string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	type found struct {
		name, at string
		seq      int
	}
	var older []found
	for _, e := range entries {
		m := snapshotName.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() || e.Name() == made {
			continue
		}
		seq := 1
		if m[2] != "" {
			seq, _ = strconv.Atoi(m[2])
		}
		older = append(older, found{e.Name(), m[1], seq})
	}
	// Newest first.
	slices.SortFunc(older, func(a, b found) int {
		return cmp.Or(cmp.Compare(b.at, a.at), cmp.Compare(b.seq, a.seq))
	})
	removed := 0
	for _, f := range older[min(len(older), KeepSnapshots-1):] {
		if err := os.Remove(filepath.Join(dir, f.name)); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// replaceDatabase puts a copy of the database file from in place of the
// one at path, which no connection may have open. The copy is made under a
// temporary name and renamed over path, so a crash leaves one whole file
// or the other.
func replaceDatabase(path, from string) error {
	dir := filepath.Dir(path)
	tmp, err := fsutil.CopyTemp(from, dir, filepath.Base(path)+".restore-*")
	if err != nil {
		return err
	}
	// A -wal beside the new file would be replayed into it. Closing the
	// last connection folded the WAL into the old file and removed it; one
	// still there is of the state being thrown away.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return fsutil.SyncDir(dir)
}
