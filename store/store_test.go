package store

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testMigrations is the repository's real migrations folder.
func testMigrations() fs.FS { return os.DirFS(filepath.Join("..", "migrations")) }

// openTest opens a migrated store in a fresh temporary directory.
func openTest(t testing.TB) *Store {
	t.Helper()
	return openTestIn(t, t.TempDir())
}

func openTestIn(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, Options{Migrations: testMigrations()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenCreatesPrivateDataDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s := openTestIn(t, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode = %o, want 700", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, DBFile)); err != nil {
		t.Errorf("database file: %v", err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// Pragmas are per connection in SQLite, so every pooled connection must have
// them, not just the first one.
func TestPragmasHoldOnEveryConnection(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), t.TempDir(), Options{Migrations: testMigrations(), Readers: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	check := func(t *testing.T, db *sql.DB, n int, queryOnly int) {
		t.Helper()
		conns := make([]*sql.Conn, n)
		for i := range conns {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = c
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i, c := range conns {
			var mode string
			var fk, busy, sync, qo int
			for _, q := range []struct {
				sql  string
				dest any
			}{
				{"PRAGMA journal_mode", &mode},
				{"PRAGMA foreign_keys", &fk},
				{"PRAGMA busy_timeout", &busy},
				{"PRAGMA synchronous", &sync},
				{"PRAGMA query_only", &qo},
			} {
				if err := c.QueryRowContext(ctx, q.sql).Scan(q.dest); err != nil {
					t.Fatalf("conn %d: %s: %v", i, q.sql, err)
				}
			}
			if mode != "wal" || fk != 1 || busy != 5000 || sync != 1 || qo != queryOnly {
				t.Errorf("conn %d: journal_mode=%s foreign_keys=%d busy_timeout=%d synchronous=%d query_only=%d",
					i, mode, fk, busy, sync, qo)
			}
		}
	}
	t.Run("reader", func(t *testing.T) { check(t, s.reader, 4, 1) })
	t.Run("writer", func(t *testing.T) { check(t, s.writer, 1, 0) })
}

func TestReaderCannotWrite(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	_, err := s.reader.ExecContext(context.Background(), "CREATE TABLE nope (x INTEGER)")
	if err == nil {
		t.Fatal("the read pool accepted a write")
	}
}

func TestSynchronousFull(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), t.TempDir(), Options{Migrations: testMigrations(), Synchronous: "FULL"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var sync int
	if err := s.writer.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if sync != 2 {
		t.Errorf("synchronous = %d, want 2 (FULL)", sync)
	}
	if _, err := Open(context.Background(), t.TempDir(), Options{Migrations: testMigrations(), Synchronous: "OFF"}); err == nil {
		t.Error("synchronous=OFF was accepted")
	}
}

func tables(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.writer.Query(`SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name != 'goose_db_version' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	return names
}

func TestMigrationsRoundTrip(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	latest := s.LatestVersion()
	if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
		t.Fatalf("after Open: version %d, %v; want %d", v, err, latest)
	}
	full := strings.Join(tables(t, s), ",")

	// Down all the way, then up again: every Down must undo its Up.
	for v := latest; v > 0; v-- {
		got, err := s.MigrateDown(ctx)
		if err != nil {
			t.Fatalf("down from %d: %v", v, err)
		}
		if got != v {
			t.Fatalf("rolled back %d, want %d", got, v)
		}
	}
	if left := tables(t, s); len(left) != 0 {
		t.Fatalf("tables left after rolling everything back: %v", left)
	}
	applied, err := s.MigrateUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(applied)) != latest {
		t.Fatalf("applied %v, want %d migrations", applied, latest)
	}
	if again := strings.Join(tables(t, s), ","); again != full {
		t.Errorf("tables after round trip = %s, want %s", again, full)
	}
}

func TestReopenIsNoOp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{Migrations: testMigrations()})
	if err != nil {
		t.Fatal(err)
	}
	status1, _ := s.MigrationStatus(ctx)
	s.Close()

	s2 := openTestIn(t, dir)
	status2, err := s2.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(status1) != len(status2) {
		t.Fatalf("status length changed: %d → %d", len(status1), len(status2))
	}
	for i := range status1 {
		if !status2[i].Applied || !status1[i].AppliedAt.Equal(status2[i].AppliedAt) {
			t.Errorf("migration %d re-applied on reopen: %+v → %+v", status1[i].Version, status1[i], status2[i])
		}
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestIn(t, dir)
	// Pretend a newer binary applied a migration this one does not know.
	if _, err := s.writer.Exec(`INSERT INTO goose_db_version (version_id, is_applied, tstamp)
		VALUES (?, 1, CURRENT_TIMESTAMP)`, s.LatestVersion()+1); err != nil {
		t.Fatal(err)
	}
	s.Close()

	_, err := Open(context.Background(), dir, Options{Migrations: testMigrations()})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), "newer moments") {
		t.Errorf("message %q does not tell the user what to do", err)
	}
}

func TestOpenRefusesFileAsDataDir(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), file, Options{Migrations: testMigrations()}); err == nil {
		t.Fatal("Open accepted a file as the data directory")
	}
}

func TestTimesAreMilliseconds(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 19, 4, 5, 123_456_789, time.FixedZone("x", 3600))
	got := fromMillis(millis(at))
	if !got.Equal(at.Truncate(time.Millisecond)) || got.Location() != time.UTC {
		t.Errorf("round trip = %v, want %v in UTC", got, at.Truncate(time.Millisecond))
	}
}

// bothFeeds runs a feed test as two subtests: with the feed cache, and
// without it (MOMENTS_FEED_CACHE=off), where every page is a plain query.
// opts is what the test's store is opened with.
func bothFeeds(t *testing.T, test func(t *testing.T, opts Options)) {
	t.Helper()
	for _, mode := range []struct {
		name string
		off  bool
	}{{"Cached", false}, {"Plain", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			test(t, Options{Migrations: testMigrations(), NoFeedCache: mode.off})
		})
	}
}

// openTestWith opens a migrated store in dir with opts.
func openTestWith(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
