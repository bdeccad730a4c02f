// Package store owns Moments' SQLite database: opening it with the right
// pragmas, migrating its schema, and every SQL statement the application runs.
// It knows nothing of HTTP.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"moments/internal/fsutil"
)

// DBFile is the database's file name inside the data directory.
const DBFile = "moments.db"

var (
	// ErrNotFound means the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a uniqueness constraint refused the write.
	ErrConflict = errors.New("conflict")
	// ErrSchemaTooNew means the database was migrated by a newer binary.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
	// ErrDiskFull means a write failed for want of disk space (or quota).
	// Nothing of it is stored; writes work again once there is room.
	ErrDiskFull = errors.New("the disk is full")
)

// Options tune Open. The zero value is usable except for Migrations.
type Options struct {
	// Migrations holds the goose SQL files at its root.
	Migrations fs.FS
	// Synchronous is SQLite's synchronous pragma: "NORMAL" (default) or "FULL".
	Synchronous string
	// Now is the clock used for created_at; time.Now when nil.
	Now func() time.Time
	// SkipMigrate opens the database without migrating it (for `migrate`).
	SkipMigrate bool
	// Readers is the size of the read pool; 0 means GOMAXPROCS (at least
	// 2). SQLite reads are CPU-bound: connections beyond the cores only
	// contend (measured: 2 readers on 2 cores serve the feed about 40% faster
	// than 8).
	Readers int
	// WrapReader, when set, wraps the SQLite driver of the read pool. Tests
	// use it to count the statements a page runs.
	WrapReader func(driver.Driver) driver.Driver
	// NoFeedCache reads every feed page from the table (feed.go's plain
	// queries) and keeps nothing in the feed cache.
	NoFeedCache bool
	// Logger gets what the store recovers from (a panicking post-commit
	// hook); nil discards it.
	Logger *slog.Logger
	// PublicPosts lets visitors without an account read public posts, and
	// members make them (MOMENTS_PUBLIC_POSTS).
	PublicPosts bool
	// OnSnapshot, when set, is told of the copy of the database that Open
	// or MigrateUp makes before migrating an existing database, once it is
	// written and before the first migration runs.
	OnSnapshot func(Snapshot)
}

// Store is an open Moments database: one writer connection and a pool of
// read-only connections on the same WAL file.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	now    func() time.Time
	log    *slog.Logger
	goose  *goose.Provider
	path   string
	uri    string      // file: URI of the database, without parameters
	stmts  *statements // nil when opened with SkipMigrate
	cache  *feedCache
	// noFeedCache: pages come from the plain queries and the cache stays
	// empty, since nothing fills it.
	noFeedCache bool
	publicPosts bool
	keys        postKeys // the write goroutine's alone once it runs
	// accounts answers AuthUser without SQL (accountcache.go).
	accounts *accountCache
	// readSlots holds one token per read connection; see beginRead.
	readSlots  chan struct{}
	onSnapshot func(Snapshot) // Options.OnSnapshot

	// The write loop (writer.go).
	writes     chan *writeRequest
	stopWriter chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once
}

// Open creates dir (0700) if needed, opens dir/moments.db and, unless
// opts.SkipMigrate, migrates it to the newest schema this binary knows
// (keeping a copy of the old one first, see migrate).
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.Migrations == nil {
		return nil, errors.New("store: no migrations given")
	}
	sync := opts.Synchronous
	switch sync {
	case "":
		sync = "NORMAL"
	case "NORMAL", "FULL":
	default:
		return nil, fmt.Errorf("store: synchronous must be NORMAL or FULL, not %q", sync)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	abs, err := filepath.Abs(filepath.Join(dir, DBFile))
	if err != nil {
		return nil, err
	}
	if !opts.SkipMigrate {
		if err := checkUsable(dir, abs); err != nil {
			return nil, err
		}
	}
	s := &Store{now: opts.Now, path: abs, cache: newFeedCache(minKey), accounts: newAccountCache(), onSnapshot: opts.OnSnapshot,
		noFeedCache: opts.NoFeedCache, publicPosts: opts.PublicPosts}
	if s.now == nil {
		s.now = time.Now
	}
	s.log = opts.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	// Every connection gets its pragmas from the DSN, so a connection the
	// pool opens later is configured exactly like the first.
	base := url.Values{}
	base.Set("_busy_timeout", "5000")
	base.Set("_journal_mode", "WAL")
	base.Set("_foreign_keys", "1")
	base.Set("_synchronous", sync)
	fileURI := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath()
	s.uri = fileURI

	w := cloneValues(base)
	w.Set("_txlock", "immediate")
	s.writer, err = sql.Open("sqlite", fileURI+"?"+w.Encode())
	if err != nil {
		return nil, err
	}
	// SQLite has one writer at a time; one connection queues writers in Go
	// instead of letting them spin on SQLITE_BUSY.
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxLifetime(0)
	s.writer.SetConnMaxIdleTime(0)

	r := cloneValues(base)
	r.Set("_query_only", "1")
	var readDriver driver.Driver = &sqlite.Driver{}
	if opts.WrapReader != nil {
		readDriver = opts.WrapReader(readDriver)
	}
	s.reader = sql.OpenDB(connector{dsn: fileURI + "?" + r.Encode(), driver: readDriver})
	readers := opts.Readers
	if readers <= 0 {
		readers = max(2, runtime.GOMAXPROCS(0))
	}
	s.readSlots = make(chan struct{}, readers)
	s.reader.SetMaxOpenConns(readers)
	s.reader.SetMaxIdleConns(readers)
	s.reader.SetConnMaxLifetime(0)
	s.reader.SetConnMaxIdleTime(0)

	// The writer must exist (and set WAL) before readers open the file.
	if err := s.writer.PingContext(ctx); err != nil {
		s.closePools()
		return nil, damaged(abs, fmt.Errorf("open %s: %w", abs, err))
	}
	if !opts.SkipMigrate {
		// A server refuses a damaged database at start; maintenance
		// commands (backup, migrate status) read what is there.
		if err := s.quickCheck(ctx); err != nil {
			s.closePools()
			return nil, damaged(abs, err)
		}
	}

	s.goose, err = goose.NewProvider(goose.DialectSQLite3, s.writer, opts.Migrations,
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		s.closePools()
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	if err := s.checkSchemaAge(ctx); err != nil {
		s.closePools()
		return nil, err
	}
	if !opts.SkipMigrate {
		if _, err := s.migrate(ctx); err != nil {
			s.closePools()
			return nil, err
		}
		if err := s.prepare(ctx); err != nil {
			s.closePools()
			return nil, err
		}
		if err := s.loadPostKeys(ctx); err != nil {
			s.closePools()
			return nil, err
		}
		s.startWriter()
	}
	return s, nil
}

// loadPostKeys starts post keys and the feed cache from the newest post.
func (s *Store) loadPostKeys(ctx context.Context) error {
	top := minKey
	err := s.writer.QueryRowContext(ctx, `SELECT created_at, id FROM posts ORDER BY created_at DESC, id DESC LIMIT 1`).
		Scan(&top.at, &top.id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the newest post: %w", err)
	}
	s.keys.last = top
	// The highest ID ever given: AUTOINCREMENT remembers it in
	// sqlite_sequence even after that post was deleted.
	if err := s.writer.QueryRowContext(ctx, `SELECT max(ifnull(max(id), 0),
		ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'posts'), 0)) FROM posts`).Scan(&s.keys.maxID); err != nil {
		return fmt.Errorf("read the highest post ID: %w", err)
	}
	s.cache = newFeedCache(top)
	return nil
}

// connector opens connections of one DSN with a given driver.
type connector struct {
	dsn    string
	driver driver.Driver
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.driver }

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// checkSchemaAge refuses a database that a newer binary migrated: running an
// old binary on it could silently write rows the new schema does not expect.
func (s *Store) checkSchemaAge(ctx context.Context) error {
	current, err := s.goose.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if known := s.LatestVersion(); current > known {
		return fmt.Errorf("%w: %s is at schema version %d, this binary knows up to %d; run a newer moments",
			ErrSchemaTooNew, s.path, current, known)
	}
	return nil
}

// LatestVersion is the newest schema version this binary carries.
func (s *Store) LatestVersion() int64 {
	sources := s.goose.ListSources()
	if len(sources) == 0 {
		return 0
	}
	return sources[len(sources)-1].Version
}

// beginRead waits for a read connection to be free; endRead gives it back.
// Every read goes through them so that reads are served in arrival order:
// database/sql hands a freed connection to a random waiter, which under load
// leaves a few requests waiting many times longer than the rest. Goroutines
// blocked sending on a channel are woken first come, first served.
func (s *Store) beginRead(ctx context.Context) error {
	select {
	case s.readSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) endRead() { <-s.readSlots }

// Path is the database file's absolute path.
func (s *Store) Path() string { return s.path }

// Ping runs a real query on a read connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.beginRead(ctx); err != nil {
		return err
	}
	defer s.endRead()
	var one int
	return s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close stops the write loop (writes still queued fail with ErrClosed),
// then closes the prepared statements and both pools. It is safe to call
// more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stopWriter != nil {
			close(s.stopWriter)
			<-s.writerDone
		}
	})
	var err error
	if s.stmts != nil {
		err = s.stmts.close()
	}
	return errors.Join(err, s.closePools())
}

func (s *Store) closePools() error {
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// MigrationStatus is one migration file and whether it is applied.
type MigrationStatus struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// MigrationStatus lists every migration this binary knows.
func (s *Store) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	st, err := s.goose.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, m := range st {
		out = append(out, MigrationStatus{
			Version:   m.Source.Version,
			Name:      filepath.Base(m.Source.Path),
			Applied:   m.State == goose.StateApplied,
			AppliedAt: m.AppliedAt,
		})
	}
	return out, nil
}

// MigrateUp applies every pending migration and returns the versions
// applied. As at Open, an existing database is copied first, and put back
// if a migration fails; the store is closed then.
func (s *Store) MigrateUp(ctx context.Context) ([]int64, error) {
	res, err := s.migrate(ctx)
	var versions []int64
	for _, r := range res {
		versions = append(versions, r.Source.Version)
	}
	return versions, err
}

// MigrateDown rolls back the newest applied migration and returns its version.
func (s *Store) MigrateDown(ctx context.Context) (int64, error) {
	res, err := s.goose.Down(ctx)
	if err != nil {
		return 0, err
	}
	return res.Source.Version, nil
}

// SchemaVersion is the version the database is at.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	return s.goose.GetDBVersion(ctx)
}

// formatError turns SQLite's constraint failures into domain errors; every
// other error passes through untouched.
func formatError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", ErrConflict, err)
		}
		if se.Code()&0xff == sqlite3.SQLITE_FULL {
			return fmt.Errorf("%w: %v", ErrDiskFull, err)
		}
	}
	if fsutil.DiskFull(err) {
		return fmt.Errorf("%w: %v", ErrDiskFull, err)
	}
	return err
}

// damaged rewords SQLite's "file is not a database" and "database disk
// image is malformed" as what they mean for an operator.
func damaged(path string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%s is damaged or not a Moments database; restore a backup with moments restore", path)
		}
	}
	return err
}

// millis is the storage form of a time: unix milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis turns a stored time back into UTC.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// maxPageSize bounds every list query, whatever the caller validated.
const maxPageSize = 1000

func checkLimit(limit int) error {
	if limit < 1 || limit > maxPageSize {
		return fmt.Errorf("store: page size %d is not within 1..%d", limit, maxPageSize)
	}
	return nil
}

// PublicPosts reports whether the store was opened to allow public posts
// (Options.PublicPosts).
func (s *Store) PublicPosts() bool { return s.publicPosts }
