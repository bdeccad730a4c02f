package store

import (
	"context"
	"errors"
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
	a1, _ := s.CreatePost(ctx, alice.ID, PostInput{Content: "a1"})
	b1, _ := s.CreatePost(ctx, bob.ID, PostInput{Content: "b1"})
	feedOf(t, s, 1) // warm
	feedOf(t, s, 1)

	name, avatar := "Alice L.", "https://x.example/a.png"
	if _, err := s.UpdateProfile(ctx, alice.ID, ProfileUpdate{DisplayName: &name, AvatarURL: &avatar}); err != nil {
		t.Fatal(err)
	}
	for _, p := range feedOf(t, s, 1) {
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
	for _, p := range feedOf(t, s, 1) {
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
	top := feedKey{100, 7}
	c := newFeedCache(top)
	stale := []*cachedPost{{id: 7, key: top, author: Author{ID: 1, DisplayName: "old"}}}
	w := c.window(feedList, nil, 21, nil)
	c.profileChanged(Author{ID: 1, DisplayName: "new"}) // the change lands while the page is running
	c.fill(feedList, w.gen, minKey, top.next(), stale)
	if c.size != 0 {
		t.Fatal("a stale post was cached")
	}
	w = c.window(feedList, nil, 21, nil)
	c.fill(feedList, w.gen, minKey, top.next(), []*cachedPost{{id: 7, key: top, author: Author{ID: 1, DisplayName: "new"}}})
	if got := c.window(feedList, nil, 21, nil); len(got.posts) != 1 || got.posts[0].author.DisplayName != "new" {
		t.Fatalf("a fresh post was not cached: %+v", got)
	}
}

// A page that read a post before its delete must not put it back into the
// cache after it: pages would not show it, but it would hold memory.
func TestFeedCacheRefusesDeletedPostFill(t *testing.T) {
	t.Parallel()
	old, top := feedKey{90, 6}, feedKey{100, 7}
	c := newFeedCache(top)
	read := []*cachedPost{{id: 7, key: top}, {id: 6, key: old}}
	w := c.window(feedList, nil, 21, nil)
	c.deleted(1, old) // the delete lands while the page is running
	c.fill(feedList, w.gen, minKey, top.next(), read)
	if c.size != 0 {
		t.Fatalf("%d posts cached from a page read before a delete", c.size)
	}
	w = c.window(feedList, nil, 21, nil)
	c.fill(feedList, w.gen, minKey, top.next(), read[:1])
	if got := c.window(feedList, nil, 21, nil); len(got.posts) != 1 || got.posts[0].id != 7 {
		t.Fatalf("a page read after the delete was not cached: %+v", got)
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
		if _, err := s.CreatePost(ctx, u.ID, PostInput{Content: fmt.Sprint("post ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 {
		posts := feedOf(t, s, 1)
		if len(posts) != 60 {
			t.Fatalf("round %d: %d posts", round, len(posts))
		}
		for i, p := range posts {
			if want := fmt.Sprint("post ", 59-i); p.Content != want || p.Author.Username != "alice" {
				t.Fatalf("round %d: post %d = %q by %q, want %q", round, i, p.Content, p.Author.Username, want)
			}
		}
		if n := s.cache.size; n > 10 {
			t.Fatalf("cache holds %d posts, bound 10", n)
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
		if _, err := s.CreatePost(ctx, alice.ID, PostInput{Content: text, MediaURLs: []string{"https://x.example/1.jpg", "https://x.example/a b.jpg"}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	cold := openTestIn(t, dir)
	for round := range 2 { // cold, then from the cache
		got := feedOf(t, cold, 1)
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

// parsePage keeps newest-first order even if the posts come in another
// order, and refuses columns it cannot read instead of guessing.
func TestParsePage(t *testing.T) {
	t.Parallel()
	window := []*cachedPost{{id: 1, key: feedKey{1000, 1}}, {id: 2, key: feedKey{1000, 2}}, {id: 3, key: feedKey{2000, 3}}}
	miss := `[1,9,"ann","Ann","","hi there","[]",500,0,0,"[]","[]"]`
	unseenMiss := `[0,9,"ann","Ann","","only for ann's circle","[]",400,2,0,"[3]","[]"]`
	good := pageText{ids: "1 3 2 4", likes: "5 0 0 0", comments: "6 0 0 0", liked: "3 1",
		misses: fmt.Sprintf("4 %d %s 7 %d %s", len(miss), miss, len(unseenMiss), unseenMiss)}
	var posts []Post
	var entries, unseen []*cachedPost
	read, err := parsePage(good, window, &posts, &entries, &unseen)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, p := range posts {
		ids = append(ids, p.ID)
	}
	if fmt.Sprint(ids) != "[3 2 1 4]" || read != 2 || len(entries) != 4 || entries[3].id != 4 {
		t.Fatalf("got %v, %d read, %+v", ids, read, posts)
	}
	// A post read for the cache that the viewer may not see is not on the
	// page, and keeps what the cache needs.
	if len(unseen) != 1 || unseen[0].id != 7 || unseen[0].audience != Circles || unseen[0].circlesJSON != "[3]" {
		t.Errorf("unseen = %+v", unseen)
	}
	if p := posts[2]; p.LikeCount != 5 || p.CommentCount != 6 || !p.LikedByMe {
		t.Errorf("post 1: %+v", p)
	}
	if posts[1].LikedByMe || !posts[0].LikedByMe {
		t.Errorf("liked: %v %v", posts[1].LikedByMe, posts[0].LikedByMe)
	}
	if p := posts[3]; !p.LikedByMe || p.Author.Username != "ann" || p.Content != "hi there" || millis(p.CreatedAt) != 500 {
		t.Errorf("post read from the table: %+v", p)
	}
	for name, bad := range map[string]pageText{
		"fewer counts than IDs":            {ids: "1 2", likes: "0", comments: "0 0"},
		"more counts than IDs":             {ids: "1", likes: "0 0", comments: "0 0"},
		"counts without IDs":               {likes: "0", comments: "0"},
		"not a number":                     {ids: "1 x", likes: "0 0", comments: "0 0"},
		"miss cut short":                   {ids: "4", likes: "0", comments: "0", misses: `4 40 [1,"a"]`},
		"miss of seven fields":             {ids: "4", likes: "0", comments: "0", misses: `4 7 [1,"a"]`},
		"author row missing":               {ids: "4", likes: "0", comments: "0", misses: "4 missing"},
		"liked ID not a number":            {ids: "1", likes: "0", comments: "0", liked: "1 x"},
		"in the window's range, not in it": {ids: "5", likes: "0", comments: "0"},
	} {
		posts, entries, unseen = posts[:0], entries[:0], unseen[:0]
		if _, err := parsePage(bad, window, &posts, &entries, &unseen); err == nil {
			t.Errorf("%s: parsePage(%+v) accepted it: %+v", name, bad, posts)
		}
	}
	posts, entries = posts[:0], entries[:0]
	if _, err := parsePage(pageText{ids: "5", likes: "0", comments: "0"}, window, &posts, &entries, &unseen); !errors.Is(err, errNotInWindow) {
		t.Errorf("a post missing from the window: %v", err)
	}
}

// SQLite would give a new post the ID of a deleted newest post; the store
// never does, and the feed never shows the deleted post's text.
func TestFeedCacheReusedID(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	alice := mustCreate(t, s, "alice")
	s.CreatePost(ctx, alice.ID, PostInput{Content: "older"})
	gone, _ := s.CreatePost(ctx, alice.ID, PostInput{Content: "deleted"})
	feedOf(t, s, 1)
	if err := s.DeletePost(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	again, err := s.CreatePost(ctx, alice.ID, PostInput{Content: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == gone.ID {
		t.Errorf("ID %d given twice", again.ID)
	}
	if got := feedOf(t, s, 1); len(got) != 2 || got[0].ID != again.ID || got[0].Content != "new" {
		t.Errorf("feed after delete and create: %+v", got)
	}
}
