package app

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestUploadSlots(t *testing.T) {
	t.Parallel()
	s := newUploadSlots(3)
	ctx := context.Background()
	var held []func()
	for range 3 {
		release, err := s.acquire(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}

	t.Run("FourthWaitsUntilItsContextEnds", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if _, err := s.acquire(short, 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("OtherAccountsDoNotWait", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		release, err := s.acquire(short, 2)
		if err != nil {
			t.Fatal(err)
		}
		release()
	})
	t.Run("FourthGetsAFreedSlot", func(t *testing.T) {
		got := make(chan func(), 1)
		go func() {
			release, err := s.acquire(ctx, 1)
			if err != nil {
				t.Error(err)
			}
			got <- release
		}()
		select {
		case <-got:
			t.Fatal("a fourth upload got a slot while three were held")
		case <-time.After(20 * time.Millisecond):
		}
		held[0]()
		held[0] = <-got
	})

	for _, release := range held {
		release()
	}
	if n := len(s.accounts); n != 0 {
		t.Errorf("%d accounts kept with no upload in flight", n)
	}
}
