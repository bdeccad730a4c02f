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
)

// A backup taken while writes go on is a consistent database holding at
// least everything committed before it began.
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
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if _, err := s.CreatePost(ctx, u.ID, fmt.Sprint("during ", i), nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	out := filepath.Join(t.TempDir(), "backup.db")
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
	page, err := restored.Feed(ctx, FeedQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	before := 0
	for _, p := range page.Posts {
		if strings.HasPrefix(p.Content, "before ") {
			before++
		}
	}
	if before != 50 {
		t.Errorf("the backup holds %d of the 50 posts committed before it", before)
	}
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
