package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// realMigrations is the repository's migrations as a MapFS, and the newest
// version among them, so tests can add migrations after it.
func realMigrations(t *testing.T) (fstest.MapFS, int64) {
	t.Helper()
	m := fstest.MapFS{}
	var latest int64
	err := fs.WalkDir(testMigrations(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(testMigrations(), path)
		if err != nil {
			return err
		}
		m[path] = &fstest.MapFile{Data: b}
		v, err := strconv.ParseInt(path[:strings.IndexByte(path, '_')], 10, 64)
		latest = max(latest, v)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, latest
}

// migration makes the SQL of a migration that runs up and has a down.
func migration(up, down string) string {
	return "-- +goose Up\n" + up + "\n-- +goose Down\n" + down + "\n"
}

// createTable is a migration that works: it adds table name.
func createTable(name string) string {
	return migration("CREATE TABLE "+name+" (x INTEGER) STRICT;", "DROP TABLE "+name+";")
}

// failing is a migration whose first statement works and whose second
// fails.
const failing = "-- +goose Up\nCREATE TABLE half_done (x INTEGER) STRICT;\nINSERT INTO no_such_table VALUES (1);\n" +
	"-- +goose Down\nDROP TABLE half_done;\n"

// failingNoTx is the same outside goose's transaction, as a migration
// that must run outside one is written; its failure leaves the BEGIN open.
const failingNoTx = "-- +goose NO TRANSACTION\n-- +goose Up\nBEGIN;\nCREATE TABLE half_done (x INTEGER) STRICT;\n" +
	"INSERT INTO no_such_table VALUES (1);\nCOMMIT;\n-- +goose Down\nDROP TABLE half_done;\n"

// withMigrations is base plus the given migrations, numbered after latest.
func withMigrations(base fstest.MapFS, latest int64, sqls ...string) fstest.MapFS {
	m := maps.Clone(base)
	for i, sql := range sqls {
		v := latest + 1 + int64(i)
		m[fmt.Sprintf("%05d_extra.sql", v)] = &fstest.MapFile{Data: []byte(sql)}
	}
	return m
}

// oldInstance is a database at the real migrations' version holding alice.
func oldInstance(t *testing.T, base fstest.MapFS) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, Options{Migrations: base})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "alice")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// at is a clock stopped at a given time.
func at(t time.Time) func() time.Time { return func() time.Time { return t } }

var upgradeTime = time.Date(2026, 12, 4, 18, 25, 33, 0, time.UTC)

// snapshots lists the snapshot folder's entries.
func snapshots(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, SnapshotDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// readOnly opens a database file without changing it.
func readOnly(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkOld checks that a database file is the old instance: at version
// want, with alice, and none of the tables the newer migrations add.
func checkOld(t *testing.T, path string, want int64) {
	t.Helper()
	db := readOnly(t, path)
	var version int64
	if err := db.QueryRow(`SELECT max(version_id) FROM goose_db_version`).Scan(&version); err != nil || version != want {
		t.Errorf("%s: version %d, %v; want %d", path, version, err, want)
	}
	var name string
	if err := db.QueryRow(`SELECT username FROM users`).Scan(&name); err != nil || name != "alice" {
		t.Errorf("%s: user %q, %v", path, name, err)
	}
	var extra int
	db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name LIKE 'extra%' OR name = 'half_done'`).Scan(&extra)
	if extra != 0 {
		t.Errorf("%s holds %d tables of the newer migrations", path, extra)
	}
	var ok string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("%s: integrity_check %q, %v", path, ok, err)
	}
}

// Upgrading an existing database first copies it, whole, to
// backups/pre-migrate-FROM-to-TO-TIME.db, and says so once.
func TestUpgradeSnapshotsTheOldDatabase(t *testing.T) {
	t.Parallel()
	base, n := realMigrations(t)
	dir := oldInstance(t, base)
	var told []Snapshot
	newer := withMigrations(base, n, createTable("extra_a"), createTable("extra_b"))
	opts := Options{Migrations: newer, Now: at(upgradeTime), OnSnapshot: func(s Snapshot) { told = append(told, s) }}
	s, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.SchemaVersion(context.Background()); v != n+2 {
		t.Errorf("version %d after the upgrade, want %d", v, n+2)
	}
	s.Close()

	want := fmt.Sprintf("pre-migrate-%d-to-%d-20261204T182533Z.db", n, n+2)
	if got := snapshots(t, dir); !slices.Equal(got, []string{want}) {
		t.Fatalf("snapshots %v, want [%s]", got, want)
	}
	path := filepath.Join(dir, SnapshotDir, want)
	if len(told) != 1 || told[0] != (Snapshot{Path: path, From: n, To: n + 2}) {
		t.Errorf("told %+v", told)
	}
	for p, mode := range map[string]os.FileMode{path: 0o600, filepath.Join(dir, SnapshotDir): 0o700 | os.ModeDir} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, mode %v (want %v)", p, err, fi.Mode(), mode)
		}
	}
	checkOld(t, path, n)

	// Nothing pending: no copy.
	opts.Now = at(upgradeTime.Add(time.Hour))
	s, err = Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := snapshots(t, dir); len(got) != 1 || len(told) != 1 {
		t.Errorf("reopening without pending migrations made a copy: %v", got)
	}
}

func TestNewDatabaseGetsNoSnapshot(t *testing.T) {
	t.Parallel()
	base, n := realMigrations(t)
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, Options{
		Migrations: withMigrations(base, n, createTable("extra_a")),
		OnSnapshot: func(s Snapshot) { t.Errorf("told of %+v", s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, SnapshotDir)); !os.IsNotExist(err) {
		t.Errorf("a new database made the snapshot folder: %v", err)
	}
}

// Only the newest KeepSnapshots copies stay; other files in the folder are
// never touched, and the copy just made stays even when the clock was set
// back.
func TestUpgradeKeepsTheNewestSnapshots(t *testing.T) {
	t.Parallel()
	base, n := realMigrations(t)
	dir := oldInstance(t, base)
	others := []string{"mine.db", "pre-migrate-notes.txt", "pre-migrate-1-to-2-old.db"}
	os.Mkdir(filepath.Join(dir, SnapshotDir), 0o700)
	for _, name := range others {
		if err := os.WriteFile(filepath.Join(dir, SnapshotDir, name), []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	day := func(d int) time.Time { return upgradeTime.AddDate(0, 0, d) }
	name := func(from int64, d int) string {
		return fmt.Sprintf("pre-migrate-%d-to-%d-%s.db", from, from+1, day(d).Format(snapshotTime))
	}
	var extras []string
	for i, c := range []struct {
		day     int
		removed int
		want    []string
	}{
		{1, 0, []string{name(n, 1)}},
		{2, 0, []string{name(n, 1), name(n+1, 2)}},
		{3, 0, []string{name(n, 1), name(n+1, 2), name(n+2, 3)}},
		{4, 1, []string{name(n+1, 2), name(n+2, 3), name(n+3, 4)}},
		{0, 1, []string{name(n+2, 3), name(n+3, 4), name(n+4, 0)}}, // the clock went back
	} {
		extras = append(extras, createTable(fmt.Sprint("extra_", i)))
		var told Snapshot
		s, err := Open(context.Background(), dir, Options{
			Migrations: withMigrations(base, n, extras...),
			Now:        at(day(c.day)),
			OnSnapshot: func(s Snapshot) { told = s },
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if told.Removed != c.removed {
			t.Errorf("upgrade %d: removed %d, want %d", i, told.Removed, c.removed)
		}
		want := append(slices.Clone(others), c.want...)
		slices.Sort(want)
		if got := snapshots(t, dir); !slices.Equal(got, want) {
			t.Errorf("upgrade %d: %v, want %v", i, got, want)
		}
	}
	for _, name := range others {
		if b, _ := os.ReadFile(filepath.Join(dir, SnapshotDir, name)); string(b) != "keep me" {
			t.Errorf("%s was changed", name)
		}
	}
}

// A migration that fails after an earlier one of the same upgrade
// succeeded leaves the database as it was before the upgrade, and the
// error names the copy it was restored from.
func TestFailedUpgradeRestoresTheSnapshot(t *testing.T) {
	t.Parallel()
	base, n := realMigrations(t)
	for _, tc := range []struct {
		name      string
		bad       string
		migrateUp bool // by MigrateUp (moments migrate up) rather than Open
	}{
		{"in a transaction", failing, false},
		{"NO TRANSACTION", failingNoTx, false},
		{"MigrateUp", failing, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := oldInstance(t, base)
			newer := withMigrations(base, n, createTable("extra_a"), tc.bad, createTable("extra_c"))
			upgrade := func() error {
				opts := Options{Migrations: newer, Now: at(upgradeTime), SkipMigrate: tc.migrateUp}
				s, err := Open(context.Background(), dir, opts)
				if !tc.migrateUp {
					if err == nil {
						s.Close()
					}
					return err
				}
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				applied, err := s.MigrateUp(context.Background())
				if len(applied) != 0 {
					t.Errorf("MigrateUp says it applied %v", applied)
				}
				return err
			}
			for try, suffix := range []string{".db", "-2.db"} {
				err := upgrade()
				snap := filepath.Join(dir, SnapshotDir, fmt.Sprintf("pre-migrate-%d-to-%d-20261204T182533Z%s", n, n+3, suffix))
				if err == nil {
					t.Fatal("the upgrade succeeded")
				}
				msg := err.Error()
				for _, want := range []string{
					fmt.Sprintf("migrate %s: migration %05d failed: ", filepath.Join(dir, DBFile), n+2),
					"no such table: no_such_table",
					fmt.Sprintf("; the database is back at version %d (restored from %s)", n, snap),
				} {
					if !strings.Contains(msg, want) {
						t.Errorf("try %d: error %q lacks %q", try, msg, want)
					}
				}
				if strings.Contains(msg, "\n") {
					t.Errorf("error of more than one line: %q", msg)
				}
				checkOld(t, filepath.Join(dir, DBFile), n)
				checkOld(t, snap, n)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".restore-") {
					t.Errorf("left behind: %s", e.Name())
				}
			}
			// The old binary runs on it as before.
			s, err := Open(context.Background(), dir, Options{Migrations: base})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.UserByUsername(context.Background(), "alice"); err != nil {
				t.Errorf("alice after the failed upgrade: %v", err)
			}
		})
	}
}
