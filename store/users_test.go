package store

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func mustCreate(t *testing.T, s *Store, name string) User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), NewUser{Username: name, PasswordHash: "h"})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

func TestFirstUserIsAdmin(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	first := mustCreate(t, s, "alice")
	second := mustCreate(t, s, "bob")
	if !first.IsAdmin || second.IsAdmin {
		t.Errorf("first admin=%v, second admin=%v", first.IsAdmin, second.IsAdmin)
	}
	if first.CreatedAt.IsZero() || first.ID == 0 {
		t.Errorf("first = %+v", first)
	}
}

// Two racing first registrations: exactly one admin.
func TestFirstAdminIsAtomic(t *testing.T) {
	t.Parallel()
	for round := 0; round < 10; round++ {
		s := openTest(t)
		var wg sync.WaitGroup
		users := make([]User, 8)
		for i := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u, err := s.CreateUser(context.Background(), NewUser{
					Username: "racer" + string(rune('a'+i)), PasswordHash: "h",
				})
				if err != nil {
					t.Error(err)
				}
				users[i] = u
			}()
		}
		wg.Wait()
		admins := 0
		for _, u := range users {
			if u.IsAdmin {
				admins++
			}
		}
		if admins != 1 {
			t.Fatalf("round %d: %d admins", round, admins)
		}
	}
}

func TestUsernamesUniqueIgnoringCase(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	mustCreate(t, s, "alice")
	_, err := s.CreateUser(context.Background(), NewUser{Username: "ALICE", PasswordHash: "h"})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	u, err := s.UserByUsername(context.Background(), "AlIcE")
	if err != nil || u.Username != "alice" {
		t.Fatalf("lookup ignoring case = %+v, %v", u, err)
	}
}

func TestOnlyFirst(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, NewUser{Username: "first", PasswordHash: "h", OnlyFirst: true}); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateUser(ctx, NewUser{Username: "second", PasswordHash: "h", OnlyFirst: true})
	if !errors.Is(err, ErrRegistrationClosed) {
		t.Fatalf("err = %v", err)
	}
}

func TestCredentialsAndPassword(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	u := mustCreate(t, s, "alice")
	_, hash, err := s.Credentials(ctx, "alice")
	if err != nil || hash != "h" {
		t.Fatalf("Credentials = %q, %v", hash, err)
	}
	if err := s.SetPassword(ctx, u.ID, "h2"); err != nil {
		t.Fatal(err)
	}
	got, hash, _ := s.Credentials(ctx, "alice")
	if hash != "h2" || got.TokenVersion != u.TokenVersion+1 {
		t.Errorf("after SetPassword: hash %q, version %d → %d", hash, u.TokenVersion, got.TokenVersion)
	}
	if err := s.SetPassword(ctx, 999, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPassword(missing) = %v", err)
	}
	if _, _, err := s.Credentials(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Credentials(missing) = %v", err)
	}
}

func TestUpdateProfile(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	u := mustCreate(t, s, "alice")
	name, bio := "Alice L.", "hello"
	got, err := s.UpdateProfile(ctx, u.ID, ProfileUpdate{DisplayName: &name})
	if err != nil || got.DisplayName != name || got.Bio != "" {
		t.Fatalf("UpdateProfile = %+v, %v", got, err)
	}
	got, err = s.UpdateProfile(ctx, u.ID, ProfileUpdate{Bio: &bio})
	if err != nil || got.DisplayName != name || got.Bio != bio {
		t.Fatalf("partial update lost a field: %+v, %v", got, err)
	}
	if _, err := s.UpdateProfile(ctx, 999, ProfileUpdate{Bio: &bio}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing user: %v", err)
	}
}

func TestUpdateAccountKeepsAnAdmin(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	admin := mustCreate(t, s, "admin")
	bob := mustCreate(t, s, "bob")
	yes, no := true, false

	if _, err := s.UpdateAccount(ctx, admin.ID, AdminUpdate{IsAdmin: &no}); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demoting the last admin: %v", err)
	}
	if _, err := s.UpdateAccount(ctx, admin.ID, AdminUpdate{Disabled: &yes}); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("disabling the last admin: %v", err)
	}
	if got, _ := s.UserByID(ctx, admin.ID); !got.IsAdmin || got.Disabled {
		t.Fatalf("refused change was applied: %+v", got)
	}

	// Disabling bumps the token version once; enabling does not undo it.
	got, err := s.UpdateAccount(ctx, bob.ID, AdminUpdate{Disabled: &yes})
	if err != nil || !got.Disabled || got.TokenVersion != bob.TokenVersion+1 {
		t.Fatalf("disable = %+v, %v", got, err)
	}
	got, _ = s.UpdateAccount(ctx, bob.ID, AdminUpdate{Disabled: &yes})
	if got.TokenVersion != bob.TokenVersion+1 {
		t.Errorf("disabling twice bumped the version twice")
	}
	got, _ = s.UpdateAccount(ctx, bob.ID, AdminUpdate{Disabled: &no, IsAdmin: &yes})
	if got.Disabled || !got.IsAdmin || got.TokenVersion != bob.TokenVersion+1 {
		t.Errorf("enable+promote = %+v", got)
	}
	// With two admins, one may step down.
	if _, err := s.UpdateAccount(ctx, admin.ID, AdminUpdate{IsAdmin: &no}); err != nil {
		t.Errorf("demoting one of two admins: %v", err)
	}
	if _, err := s.UpdateAccount(ctx, 999, AdminUpdate{IsAdmin: &no}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing user: %v", err)
	}
}

func TestListUsersPages(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	for _, n := range []string{"u_a", "u_b", "u_c", "u_d", "u_e"} {
		mustCreate(t, s, n)
	}
	var seen []string
	var after *Key
	for {
		page, next, err := s.ListUsers(ctx, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page {
			seen = append(seen, u.Username)
		}
		if next == nil {
			break
		}
		after = next
	}
	want := []string{"u_e", "u_d", "u_c", "u_b", "u_a"}
	if len(seen) != len(want) {
		t.Fatalf("seen %v", seen)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("seen %v, want %v", seen, want)
		}
	}
}

// AuthUser answers from its cache until an account change commits; then the
// next answer is the new row. A row read before a change is not cached
// after it.
func TestAccountCache(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	mustCreate(t, s, "admin")
	alice := mustCreate(t, s, "alice")
	auth := func() Principal {
		t.Helper()
		p, err := s.AuthUser(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := auth()
	if cached, ok := s.accounts.get(alice.ID); !ok || cached != before || before.Username != "alice" {
		t.Fatalf("not cached: %+v, %v", cached, ok)
	}
	if err := s.SetPassword(ctx, alice.ID, "h2"); err != nil {
		t.Fatal(err)
	}
	if p := auth(); p.TokenVersion != before.TokenVersion+1 {
		t.Errorf("after a password change: %+v, was %+v", p, before)
	}
	yes := true
	if _, err := s.UpdateAccount(ctx, alice.ID, AdminUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if p := auth(); !p.Disabled {
		t.Errorf("after disabling: %+v", p)
	}
	if _, err := s.UpdateAccount(ctx, alice.ID, AdminUpdate{IsAdmin: &yes}); err != nil {
		t.Fatal(err)
	}
	if p := auth(); !p.IsAdmin {
		t.Errorf("after promoting: %+v", p)
	}
	if _, err := s.AuthUser(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}
	if _, ok := s.accounts.get(999); ok {
		t.Error("an unknown account was cached")
	}

	gen := s.accounts.gen.Load()
	s.accounts.forget()
	s.accounts.put(gen, 99, Principal{ID: 99})
	if _, ok := s.accounts.get(99); ok {
		t.Error("a row read before an invalidation was cached after it")
	}

	s.accounts.max = 3
	for i := range 10 {
		s.accounts.put(s.accounts.gen.Load(), int64(i), Principal{ID: int64(i)})
	}
	if n := len(s.accounts.entries); n > 3 {
		t.Errorf("%d entries, bound 3", n)
	}
}
