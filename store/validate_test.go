package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestStoreRefusesWhatTheAPIRefuses: a value the HTTP layer would refuse is
// refused here too, whatever path it came by.
func TestStoreRefusesWhatTheAPIRefuses(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	alice := mustCreate(t, s, "alice")
	p, err := s.CreatePost(ctx, alice.ID, PostInput{Content: "a post"})
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(s string) *string { return &s }
	tenURLs := make([]string, MaxMediaPerPost+1)
	for i := range tenURLs {
		tenURLs[i] = "https://example.com/p.jpg"
	}
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"look-alike username", func() error {
			_, err := s.CreateUser(ctx, NewUser{Username: "\u0430lice", PasswordHash: "h"})
			return err
		}},
		{"username with NUL", func() error {
			_, err := s.CreateUser(ctx, NewUser{Username: "bob\x00", PasswordHash: "h"})
			return err
		}},
		{"empty username", func() error { _, err := s.CreateUser(ctx, NewUser{PasswordHash: "h"}); return err }},
		{"100 KB username", func() error {
			_, err := s.CreateUser(ctx, NewUser{Username: strings.Repeat("a", 100_000), PasswordHash: "h"})
			return err
		}},
		{"no password hash", func() error { _, err := s.CreateUser(ctx, NewUser{Username: "carol"}); return err }},
		{"display name with newline", func() error {
			_, err := s.CreateUser(ctx, NewUser{Username: "carol", PasswordHash: "h", DisplayName: "Carol\nAdmin"})
			return err
		}},
		{"900 KB bio", func() error {
			_, err := s.UpdateProfile(ctx, alice.ID, ProfileUpdate{Bio: ptr(strings.Repeat("x", 900_000))})
			return err
		}},
		{"bidi override in a display name", func() error {
			_, err := s.UpdateProfile(ctx, alice.ID, ProfileUpdate{DisplayName: ptr("\u202egnp.exe")})
			return err
		}},
		{"invalid UTF-8 in a bio", func() error {
			_, err := s.UpdateProfile(ctx, alice.ID, ProfileUpdate{Bio: ptr("a\xffb")})
			return err
		}},
		{"ten photos", func() error {
			_, err := s.CreatePost(ctx, alice.ID, PostInput{Content: "x", MediaURLs: tenURLs})
			return err
		}},
		{"empty post", func() error { _, err := s.CreatePost(ctx, alice.ID, PostInput{Content: "  "}); return err }},
		{"long post", func() error {
			_, err := s.CreatePost(ctx, alice.ID, PostInput{Content: strings.Repeat("é", MaxPostChars+1)})
			return err
		}},
		{"post with NUL", func() error { _, err := s.CreatePost(ctx, alice.ID, PostInput{Content: "a\x00b"}); return err }},
		{"long comment", func() error {
			_, err := s.CreateComment(ctx, p.ID, alice.ID, strings.Repeat("x", MaxCommentChars+1))
			return err
		}},
		{"comment with an isolate", func() error { _, err := s.CreateComment(ctx, p.ID, alice.ID, "\u2066x"); return err }},
	} {
		if err := tc.do(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
	// The limits themselves are allowed.
	if _, err := s.CreatePost(ctx, alice.ID, PostInput{Content: strings.Repeat("é", MaxPostChars), MediaURLs: tenURLs[:MaxMediaPerPost]}); err != nil {
		t.Errorf("the longest post with nine photos: %v", err)
	}
	if _, err := s.UpdateProfile(ctx, alice.ID, ProfileUpdate{Bio: ptr(strings.Repeat("x", MaxBioChars)),
		DisplayName: ptr("\u200fאליס")}); err != nil {
		t.Errorf("the longest bio and a right-to-left mark: %v", err)
	}
}
