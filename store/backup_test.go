package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
		if _, err := s.CreatePost(ctx, u.ID, fmt.Sprint("before ", i), nil); err != nil {
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
			if _, err := s.CreatePost(ctx, u.ID, fmt.Sprint("during ", i), nil); err != nil {
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
