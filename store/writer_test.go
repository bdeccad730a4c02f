package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
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
