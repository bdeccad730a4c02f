package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A backup taken while writes go on is one snapshot: it holds everything
// committed before it began, and of the writes made during it exactly a
// prefix, never a later write without an earlier one.
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	u := mustCreate(t, s, "alice")
	for i := range 50 {
		if _, err := s.CreatePost(ctx, u.ID, PostInput{Content: fmt.Sprint("before ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var acked atomic.Int64 // writes during the backup that have committed
	var wg sync.WaitGroup
	wg.Add(1)
	writing := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(writing)
		for i := 0; !stop.Load(); i++ {
			if _, err := s.CreatePost(ctx, u.ID, PostInput{Content: fmt.Sprint("during ", i)}); err != nil {
				t.Error(err)
				return
			}
			acked.Add(1)
		}
	}()
	// The backup starts with writes in full flow.
	for acked.Load() < 20 {
		select {
		case <-writing:
			t.Fatal("the writer stopped")
		case <-time.After(time.Millisecond):
		}
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	ackedAtStart := acked.Load()
	err := s.Backup(ctx, out)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v", err, fi.Mode())
	}
	if left, _ := filepath.Glob(out + ".partial-*"); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// The copy is a working database of the same schema.
	dir := t.TempDir()
	if err := os.Rename(out, filepath.Join(dir, DBFile)); err != nil {
		t.Fatal(err)
	}
	restored := openTestIn(t, dir)
	var ok string
	if err := restored.reader.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check = %q, %v", ok, err)
	}
	rows, err := restored.reader.Query(`SELECT content FROM posts`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	before, during := 0, map[int]bool{}
	for rows.Next() {
		var content string
		if err := rows.Scan(&content); err != nil {
			t.Fatal(err)
		}
		var i int
		if _, err := fmt.Sscanf(content, "during %d", &i); err == nil {
			during[i] = true
		} else if strings.HasPrefix(content, "before ") {
			before++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if before != 50 {
		t.Errorf("the backup holds %d of the 50 posts committed before it", before)
	}
	if int64(len(during)) < ackedAtStart {
		t.Errorf("the backup holds %d writes of the %d committed when it began", len(during), ackedAtStart)
	}
	for i := range len(during) {
		if !during[i] {
			t.Fatalf("the backup holds %d writes made during it but not write %d: not one snapshot", len(during), i)
		}
	}
	t.Logf("%d writes committed when the backup began, %d in it, %d in all", ackedAtStart, len(during), acked.Load())
}

func TestBackupNeverOverwrites(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	out := filepath.Join(t.TempDir(), "exists.db")
	if err := os.WriteFile(out, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.Backup(context.Background(), out)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious" {
		t.Fatal("the existing file was changed")
	}
	if err := s.Backup(context.Background(), filepath.Join(t.TempDir(), "no", "such", "dir.db")); err == nil {
		t.Fatal("a backup into a missing directory succeeded")
	}
}

// A failed backup leaves nothing behind: no file under the name asked
// for, no temporary file beside it.
func TestBackupFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	mustCreate(t, s, "alice")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Backup(ctx, filepath.Join(dir, "cancelled.db")); err == nil {
		t.Fatal("a cancelled backup succeeded")
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a failed backup left %v", left)
	}
}

// The store the backup command uses is opened without migrating, so
// without a write loop; the copy needs neither.
func TestBackupFromMaintenanceStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestIn(t, dir)
	mustCreate(t, s, "alice")
	maint, err := Open(context.Background(), dir, Options{Migrations: testMigrations(), SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer maint.Close()
	out := filepath.Join(t.TempDir(), "copy")
	if err := maint.Backup(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Fatalf("backup without an extension: %v", err)
	}
}

// CheckBackup accepts a backup this binary can run and refuses, with one
// line each, what a restore must not put in place; it changes nothing
// beside the file it reads.
func TestCheckBackup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openTestIn(t, dir)
	mustCreate(t, s, "alice")
	good := filepath.Join(t.TempDir(), "good.db")
	if err := s.Backup(ctx, good); err != nil {
		t.Fatal(err)
	}
	latest := s.LatestVersion()

	// Any page of the file but the first, overwritten: a b-tree page of a
	// copy VACUUM INTO made (which has no free pages).
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	damaged := slices.Clone(raw)
	mid := len(raw) / page / 2 * page
	for i := mid; i < mid+page; i++ {
		damaged[i] = byte(i * 7)
	}
	other := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", "file:"+other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE notes (text TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	newer := filepath.Join(t.TempDir(), "newer.db")
	os.WriteFile(newer, raw, 0o600)
	db, _ = sql.Open("sqlite", "file:"+newer)
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, latest+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	withWAL := filepath.Join(t.TempDir(), "live.db")
	os.WriteFile(withWAL, raw, 0o600)
	os.WriteFile(withWAL+"-wal", []byte("frames"), 0o600)

	write := func(name string, b []byte) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"damaged", write("damaged.db", damaged), "is damaged"},
		{"text", write("notes.txt", []byte(strings.Repeat("not a database\n", 500))), "is not a database"},
		{"empty", write("empty.db", nil), "is not a Moments database"},
		{"another application's", other, "is not a Moments database"},
		{"newer", newer, fmt.Sprintf("is at schema version %d, this binary knows up to %d", latest+1, latest)},
		{"missing", filepath.Join(dir, "none.db"), "no such file"},
		{"a folder", dir, "is not a file"},
		{"with a -wal", withWAL, "is not complete without " + withWAL + "-wal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckBackup(ctx, tc.path, testMigrations())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("more than one line: %q", err)
			}
			t.Log(err)
		})
	}

	// A backup, and a stopped instance's own database file (in WAL mode),
	// pass; nothing appears beside either.
	s.Close()
	for _, path := range []string{good, filepath.Join(dir, DBFile)} {
		before, _ := os.ReadDir(filepath.Dir(path))
		info, err := CheckBackup(ctx, path, testMigrations())
		if err != nil || info != (BackupInfo{Version: latest, Latest: latest}) {
			t.Errorf("%s: %+v, %v", path, info, err)
		}
		if after, _ := os.ReadDir(filepath.Dir(path)); len(after) != len(before) {
			t.Errorf("checking %s added files: %v → %v", path, before, after)
		}
	}
}
