package store

import (
	"context"
	"fmt"
	"testing"
)

func feedOf(t *testing.T, s *Store, viewer int64) []Post {
	t.Helper()
	page, err := s.Feed(context.Background(), FeedQuery{Viewer: viewer, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Posts
}

// A profile change shows on every cached post at once; a deleted post
// leaves the feed at once.
func TestFeedCacheInvalidation(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	alice := mustCreate(t, s, "alice")
	bob := mustCreate(t, s, "bob")
	a1, _ := s.CreatePost(ctx, alice.ID, "a1", nil)
	b1, _ := s.CreatePost(ctx, bob.ID, "b1", nil)
	feedOf(t, s, 0) // warm
	feedOf(t, s, 0)

	name, avatar := "Alice L.", "https://x.example/a.png"
	if _, err := s.UpdateProfile(ctx, alice.ID, ProfileUpdate{DisplayName: &name, AvatarURL: &avatar}); err != nil {
		t.Fatal(err)
	}
	for _, p := range feedOf(t, s, 0) {
		if p.ID == a1.ID && (p.Author.DisplayName != name || p.Author.AvatarURL != avatar) {
			t.Errorf("stale author on a cached post: %+v", p.Author)
		}
		if p.ID == b1.ID && p.Author.DisplayName != "" {
			t.Errorf("bob's post changed: %+v", p.Author)
		}
	}

	if err := s.DeletePost(ctx, b1.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range feedOf(t, s, 0) {
		if p.ID == b1.ID {
			t.Error("a deleted post is still in the feed")
		}
	}

	// Counters and likes never come from the cache.
	if err := s.Like(ctx, a1.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	got := feedOf(t, s, bob.ID)
	if len(got) != 1 || got[0].LikeCount != 1 || !got[0].LikedByMe {
		t.Errorf("after a like: %+v", got)
	}
}

// A page that read a post before a profile change must not put the old
// author into the cache after it.
func TestFeedCacheRefusesStaleFill(t *testing.T) {
	t.Parallel()
	c := newFeedCache()
	_, gen, _ := c.begin()
	c.forgetAuthor(1) // the change lands while the page is running
	c.put(gen, map[int64]*cachedPost{7: {author: Author{ID: 1, DisplayName: "old"}}})
	if len(c.entries) != 0 {
		t.Fatal("a stale entry was cached")
	}
	_, gen, _ = c.begin()
	c.put(gen, map[int64]*cachedPost{7: {author: Author{ID: 1, DisplayName: "new"}}})
	if c.entries[7] == nil {
		t.Fatal("a fresh entry was not cached")
	}
}

// The cache stays within its bound, and pages stay right whatever it holds.
func TestFeedCacheEviction(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	s.cache.max = 10
	ctx := context.Background()
	u := mustCreate(t, s, "alice")
	for i := range 60 {
		if _, err := s.CreatePost(ctx, u.ID, fmt.Sprint("post ", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 {
		posts := feedOf(t, s, 0)
		if len(posts) != 60 {
			t.Fatalf("round %d: %d posts", round, len(posts))
		}
		for i, p := range posts {
			if want := fmt.Sprint("post ", 59-i); p.Content != want || p.Author.Username != "alice" {
				t.Fatalf("round %d: post %d = %q by %q, want %q", round, i, p.Content, p.Author.Username, want)
			}
		}
		if n := len(s.cache.entries); n > 10 {
			t.Fatalf("cache holds %d entries, bound 10", n)
		}
	}
}

// Posts read from the table (a cold cache) come back exactly as written,
// whatever their text holds: the page record carries byte lengths, so
// spaces, quotes, multi-byte characters and JSON-looking text pass through.
func TestFeedColdReadsTextExactly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestIn(t, dir)
	ctx := context.Background()
	alice := mustCreate(t, s, "alice")
	name, avatar := `Ålice "the" 🐇 0 12 `, "https://x.example/a b.png"
	if _, err := s.UpdateProfile(ctx, alice.ID, ProfileUpdate{DisplayName: &name, AvatarURL: &avatar}); err != nil {
		t.Fatal(err)
	}
	texts := []string{"plain", "  two  spaces 0 1 2 ", "ünïcödé — 🎉\nline\ttab", `["json", 1]`, `\" ' \\`, "9"}
	for _, text := range texts {
		if _, err := s.CreatePost(ctx, alice.ID, text, []string{"https://x.example/1.jpg", "https://x.example/a b.jpg"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	cold := openTestIn(t, dir)
	for round := range 2 { // cold, then from the cache
		got := feedOf(t, cold, 0)
		if len(got) != len(texts) {
			t.Fatalf("round %d: %d posts, want %d", round, len(got), len(texts))
		}
		for i, p := range got {
			want := texts[len(texts)-1-i]
			if p.Content != want || p.Author.DisplayName != name || p.Author.AvatarURL != avatar ||
				p.MediaJSON != `["https://x.example/1.jpg","https://x.example/a b.jpg"]` {
				t.Errorf("round %d, post %d: %q by %+v with %s, want %q", round, i, p.Content, p.Author, p.MediaJSON, want)
			}
		}
	}
}

// parsePage keeps newest-first order even if the records come in another
// order, and refuses records it cannot read instead of guessing.
func TestParsePage(t *testing.T) {
	t.Parallel()
	e := &cachedPost{createdAt: fromMillis(1000)}
	pins := &pinned{entries: map[int64]*cachedPost{1: e, 2: e, 3: {createdAt: fromMillis(2000)}}}
	var posts []Post
	if _, err := parsePage("1 5 6 1 0 3 0 0 0 0 2 0 0 0 0", pins, &posts); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, p := range posts {
		ids = append(ids, p.ID)
	}
	if fmt.Sprint(ids) != "[3 2 1]" || posts[2].LikeCount != 5 || posts[2].CommentCount != 6 || !posts[2].LikedByMe {
		t.Errorf("got %v, %+v", ids, posts)
	}
	for _, bad := range []string{
		"1 5 6 1",              // too few fields
		"1 5 6 1 x",            // not a number
		"4 0 0 0 0",            // neither pinned nor read
		"4 0 0 0 40 [1,\"a\"]", // cut short
		"4 0 0 0 7 [1,\"a\"]",  // not the seven fields
		"1 0 0 0 missing",      // the author row was missing
	} {
		posts = posts[:0]
		if _, err := parsePage(bad, pins, &posts); err == nil {
			t.Errorf("parsePage(%q) accepted it: %+v", bad, posts)
		}
	}
}

// SQLite gives a new post the ID of a deleted newest post; the cache never
// shows the deleted post's text for it.
func TestFeedCacheReusedID(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	alice := mustCreate(t, s, "alice")
	s.CreatePost(ctx, alice.ID, "older", nil)
	gone, _ := s.CreatePost(ctx, alice.ID, "deleted", nil)
	feedOf(t, s, 0)
	if err := s.DeletePost(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	again, err := s.CreatePost(ctx, alice.ID, "new", nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != gone.ID {
		t.Logf("ID %d not reused (was %d)", again.ID, gone.ID)
	}
	if got := feedOf(t, s, 0); len(got) != 2 || got[0].ID != again.ID || got[0].Content != "new" {
		t.Errorf("feed after delete and create: %+v", got)
	}
}
