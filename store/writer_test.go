package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"moments/internal/testutil"
)

// Writes that share a transaction succeed or fail on their own: a failing
// one rolls back to its savepoint and leaves its neighbours committed.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("user%03d", i)
			if i%10 == 0 {
				name = "dup" // all but the first of these conflict
			}
			_, errs[i] = s.CreateUser(ctx, NewUser{Username: name, PasswordHash: "h"})
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		switch {
		case err == nil:
		case i%10 == 0 && errors.Is(err, ErrConflict):
			failed++
		default:
			t.Errorf("write %d: %v", i, err)
		}
	}
	if failed != 19 {
		t.Errorf("%d duplicate names refused, want 19", failed)
	}
	var n int
	s.reader.QueryRow(`SELECT count(*) FROM users`).Scan(&n)
	if n != 181 {
		t.Errorf("%d users stored, want 181", n)
	}
}

func TestWritePanicIsAnError(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	err := s.withTx(context.Background(), func(*sql.Tx) error { panic("boom") })
	if err == nil || err.Error() != "store: write panicked: boom" {
		t.Fatalf("err = %v", err)
	}
	// The loop survived.
	if _, err := s.CreateUser(context.Background(), NewUser{Username: "after", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
}

func TestWritesAfterCloseFail(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	s.Close()
	s.Close() // twice is fine
	_, err := s.CreateUser(context.Background(), NewUser{Username: "late", PasswordHash: "h"})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

func TestCancelledWriteIsNotApplied(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.CreateUser(ctx, NewUser{Username: "cancelled", PasswordHash: "h"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.UserByUsername(context.Background(), "cancelled"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a cancelled write was stored: %v", err)
	}
}

// TestPanickingHookEmptiesTheCaches: a post-commit hook that panics does
// not stop the write loop or report a committed write as failed; it is
// logged with the request's context, and the caches are emptied.
func TestPanickingHookEmptiesTheCaches(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	s := openTestWith(t, t.TempDir(), Options{Migrations: testMigrations(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	u := mustCreate(t, s, "alice")
	for i := range 5 {
		if _, err := s.CreatePost(ctx, u.ID, PostInput{Content: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Feed(ctx, FeedQuery{Viewer: 1, Limit: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if s.cache.size == 0 || len(s.accounts.entries) == 0 {
		t.Fatal("nothing cached to begin with")
	}
	type key struct{}
	hookCtx := context.WithValue(ctx, key{}, "req-1")
	err := s.withTxThen(hookCtx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET bio = 'committed' WHERE id = ?`, u.ID)
		return err
	}, func() { panic("a bug in a hook") })
	if err != nil {
		t.Fatalf("a committed write was reported as %v", err)
	}
	if s.cache.size != 0 || len(s.accounts.entries) != 0 {
		t.Errorf("after the panic: %d posts and %d accounts cached", s.cache.size, len(s.accounts.entries))
	}
	if got, _ := s.UserByID(ctx, u.ID); got.Bio != "committed" {
		t.Errorf("the write did not commit: bio %q", got.Bio)
	}
	line := logs.String()
	if !strings.Contains(line, "post-commit hook panicked") || !strings.Contains(line, "a bug in a hook") {
		t.Errorf("log: %s", line)
	}
	// The write loop goes on.
	if _, err := s.CreatePost(ctx, u.ID, PostInput{Content: "after"}); err != nil {
		t.Fatal(err)
	}
	if page, err := s.Feed(ctx, FeedQuery{Viewer: 1, Limit: 1}); err != nil || page.Posts[0].Content != "after" {
		t.Errorf("page after the panic: %+v, %v", page, err)
	}
}
