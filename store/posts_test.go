package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestCreateAndReadPost(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	alice := mustCreate(t, s, "alice")
	bob := mustCreate(t, s, "bob")

	media := []string{"https://b.example/2.jpg", "https://a.example/1.jpg"}
	p, err := s.CreatePost(ctx, alice.ID, PostInput{Content: "hello <b>world</b>", MediaURLs: media})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.MediaURLs()
	if err != nil || len(got) != 2 || got[0] != media[0] || got[1] != media[1] {
		t.Errorf("media = %v, %v; order must be kept", got, err)
	}
	if p.Author.Username != "alice" || p.Content != "hello <b>world</b>" || p.LikedByMe || p.LikeCount != 0 {
		t.Errorf("post = %+v", p)
	}
	none, err := s.CreatePost(ctx, bob.ID, PostInput{Content: "no photos"})
	if err != nil || none.MediaJSON != "[]" {
		t.Errorf("nil media stored as %q, %v", none.MediaJSON, err)
	}
	if _, err := s.Post(ctx, 999, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing post: %v", err)
	}
	if _, err := s.CreatePost(ctx, 999, PostInput{Content: "ghost"}); err == nil {
		t.Error("a post by a missing user was stored")
	}
	// The CHECK keeps more than nine media out even if a caller forgets.
	if _, err := s.CreatePost(ctx, alice.ID, PostInput{Content: "ten", MediaURLs: make([]string, 10)}); err == nil {
		t.Error("ten media URLs were stored")
	}
}

// Walking the cursors while posts are being created visits every post that
// existed when the walk began exactly once, newest first.
func TestFeedWalkWithConcurrentInserts(t *testing.T) {
	t.Parallel()
	bothFeeds(t, func(t *testing.T, opts Options) {
		s := openTestWith(t, t.TempDir(), opts)
		ctx := context.Background()
		u := mustCreate(t, s, "alice")
		const existing = 300
		want := map[int64]bool{}
		for i := range existing {
			p, err := s.CreatePost(ctx, u.ID, PostInput{Content: fmt.Sprintf("post %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			want[p.ID] = true
		}

		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.CreatePost(ctx, u.ID, PostInput{Content: fmt.Sprintf("new %d", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()

		// The first page may include posts created after the walk began; only
		// those that existed before count.
		seen := map[int64]int{}
		var last *Key
		var after *Key
		for pages := 0; ; pages++ {
			page, err := s.Feed(ctx, FeedQuery{Viewer: 1, Limit: 7, After: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page.Posts {
				cur := Key{CreatedAt: millis(p.CreatedAt), ID: p.ID}
				if last != nil && !(cur.CreatedAt < last.CreatedAt || cur.CreatedAt == last.CreatedAt && cur.ID < last.ID) {
					t.Fatalf("not newest first: %+v after %+v", cur, *last)
				}
				last = &cur
				seen[p.ID]++
			}
			if page.Next == nil {
				break
			}
			after = page.Next
			if pages > 1000 {
				t.Fatal("the walk does not end")
			}
		}
		close(stop)
		wg.Wait()

		for id := range want {
			if seen[id] != 1 {
				t.Errorf("post %d seen %d times", id, seen[id])
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("post %d seen %d times", id, n)
			}
		}
	})
}

// Posts created in the same millisecond are ordered by ID, and pages split
// between them lose nothing.
func TestFeedTiesOnCreatedAt(t *testing.T) {
	t.Parallel()
	bothFeeds(t, func(t *testing.T, opts Options) {
		frozen := time.UnixMilli(1_700_000_000_000)
		opts.Now = func() time.Time { return frozen }
		s, err := Open(context.Background(), t.TempDir(), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		u := mustCreate(t, s, "alice")
		for i := range 10 {
			if _, err := s.CreatePost(ctx, u.ID, PostInput{Content: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		var ids []int64
		var after *Key
		for {
			page, err := s.Feed(ctx, FeedQuery{Viewer: 1, Limit: 3, After: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page.Posts {
				ids = append(ids, p.ID)
			}
			if page.Next == nil {
				break
			}
			after = page.Next
		}
		if len(ids) != 10 {
			t.Fatalf("ids = %v", ids)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] >= ids[i-1] {
				t.Fatalf("ids = %v, want descending", ids)
			}
		}
	})
}

func TestTimelineAndLikedByMe(t *testing.T) {
	t.Parallel()
	bothFeeds(t, func(t *testing.T, opts Options) {
		s := openTestWith(t, t.TempDir(), opts)
		ctx := context.Background()
		alice := mustCreate(t, s, "alice")
		bob := mustCreate(t, s, "bob")
		a1, _ := s.CreatePost(ctx, alice.ID, PostInput{Content: "a1"})
		s.CreatePost(ctx, bob.ID, PostInput{Content: "b1"})
		a2, _ := s.CreatePost(ctx, alice.ID, PostInput{Content: "a2"})
		if err := s.Like(ctx, a1.ID, bob.ID); err != nil {
			t.Fatal(err)
		}

		page, err := s.Feed(ctx, FeedQuery{AuthorID: &alice.ID, Viewer: bob.ID, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Posts) != 2 || page.Posts[0].ID != a2.ID || page.Posts[1].ID != a1.ID || page.Next != nil {
			t.Fatalf("timeline = %+v", page)
		}
		if page.Posts[0].LikedByMe || !page.Posts[1].LikedByMe || page.Posts[1].LikeCount != 1 {
			t.Errorf("likes as bob: %+v", page.Posts)
		}
		// A visitor sees public posts only, and these are for members.
		if anon, err := s.Feed(ctx, FeedQuery{AuthorID: &alice.ID, Limit: 10}); err != nil || len(anon.Posts) != 0 {
			t.Errorf("a visitor's timeline: %+v, %v", anon.Posts, err)
		}
		// A timeline page with a cursor stays within the author.
		first, _ := s.Feed(ctx, FeedQuery{AuthorID: &alice.ID, Viewer: bob.ID, Limit: 1})
		rest, _ := s.Feed(ctx, FeedQuery{AuthorID: &alice.ID, Viewer: bob.ID, Limit: 10, After: first.Next})
		if len(rest.Posts) != 1 || rest.Posts[0].ID != a1.ID {
			t.Errorf("second timeline page = %+v", rest.Posts)
		}
		if _, err := s.Feed(ctx, FeedQuery{Viewer: 1, Limit: 0}); err == nil {
			t.Error("a page of size 0 was accepted")
		}
	})
}

// 50 goroutines liking and unliking one post: the counter equals the rows.
func TestLikeCountUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	author := mustCreate(t, s, "author")
	p, _ := s.CreatePost(ctx, author.ID, PostInput{Content: "like me"})
	var users []User
	for i := range 10 {
		users = append(users, mustCreate(t, s, fmt.Sprintf("fan%d", i)))
	}
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := users[g%len(users)] // five goroutines per user: duplicates race
			for i := range 20 {
				var err error
				if (g+i)%3 == 0 {
					err = s.Unlike(ctx, p.ID, u.ID)
				} else {
					err = s.Like(ctx, p.ID, u.ID)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var rows int64
	if err := s.reader.QueryRow(`SELECT count(*) FROM likes WHERE post_id = ?`, p.ID).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Post(ctx, p.ID, author.ID)
	if got.LikeCount != rows {
		t.Fatalf("like_count = %d, rows = %d", got.LikeCount, rows)
	}
	if rows > int64(len(users)) {
		t.Fatalf("%d likes from %d users", rows, len(users))
	}
	if err := s.Like(ctx, 999, users[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("like of a missing post: %v", err)
	}
	if err := s.Unlike(ctx, 999, users[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("unlike of a missing post: %v", err)
	}
}

func TestCommentsAndCascades(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	alice := mustCreate(t, s, "alice")
	bob := mustCreate(t, s, "bob")
	p, _ := s.CreatePost(ctx, alice.ID, PostInput{Content: "post"})
	var ids []int64
	for i := range 5 {
		c, err := s.CreateComment(ctx, p.ID, bob.ID, fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		if c.Author.Username != "bob" || c.PostID != p.ID {
			t.Errorf("comment = %+v", c)
		}
		ids = append(ids, c.ID)
	}
	if _, err := s.CreateComment(ctx, 999, bob.ID, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("comment on a missing post: %v", err)
	}

	// Oldest first, in pages.
	var got []int64
	var after *Key
	for {
		page, next, err := s.Comments(ctx, p.ID, alice.ID, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			got = append(got, c.ID)
		}
		if next == nil {
			break
		}
		after = next
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("comments = %v, want %v", got, ids)
	}
	if _, _, err := s.Comments(ctx, 999, 0, 10, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("comments of a missing post: %v", err)
	}
	empty, _ := s.CreatePost(ctx, bob.ID, PostInput{Content: "quiet"})
	if page, next, err := s.Comments(ctx, empty.ID, alice.ID, 10, nil); err != nil || len(page) != 0 || next != nil {
		t.Errorf("comments of a post without any: %v, %v, %v", page, next, err)
	}

	ca, pa, visible, err := s.CommentOwners(ctx, ids[0], bob.ID)
	if err != nil || ca != bob.ID || pa != alice.ID || !visible {
		t.Errorf("owners = %d, %d, %v, %v", ca, pa, visible, err)
	}
	if err := s.DeleteComment(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteComment(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	post, _ := s.Post(ctx, p.ID, alice.ID)
	if post.CommentCount != 4 {
		t.Errorf("comment_count = %d, want 4", post.CommentCount)
	}

	// Deleting the post takes its likes and comments with it.
	s.Like(ctx, p.ID, bob.ID)
	if err := s.DeletePost(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePost(ctx, p.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	var likes, comments int
	s.reader.QueryRow(`SELECT count(*) FROM likes WHERE post_id = ?`, p.ID).Scan(&likes)
	s.reader.QueryRow(`SELECT count(*) FROM comments WHERE post_id = ?`, p.ID).Scan(&comments)
	if likes != 0 || comments != 0 {
		t.Errorf("after delete: %d likes, %d comments left", likes, comments)
	}
}
