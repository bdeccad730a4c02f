package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"moments/store"
	"moments/store/storetest"
)

// A page is one SQL statement — authors, counters and likes included —
// whatever its size and depth.
func TestFeedPageIsOneStatement(t *testing.T) {
	t.Parallel()
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoFeedCache=%v", off), func(t *testing.T) {
			t.Parallel()
			pagesAreOneStatement(t, off)
		})
	}
}

func pagesAreOneStatement(t *testing.T, noFeedCache bool) {
	var counter storetest.Counter
	ctx := context.Background()
	s, err := store.Open(context.Background(), t.TempDir(), store.Options{Migrations: os.DirFS("../migrations"),
		WrapReader: counter.Wrap, NoFeedCache: noFeedCache})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var users []store.User
	for i := range 5 {
		u, err := s.CreateUser(ctx, store.NewUser{Username: fmt.Sprintf("user%d", i), PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	for i := range 250 {
		p, err := s.CreatePost(ctx, users[i%5].ID, store.PostInput{Content: fmt.Sprint(i), MediaURLs: []string{"https://x.example/a.jpg"}})
		if err != nil {
			t.Fatal(err)
		}
		s.Like(ctx, p.ID, users[(i+1)%5].ID)
		s.CreateComment(ctx, p.ID, users[(i+2)%5].ID, "nice")
	}
	for _, limit := range []int{1, 20, 100} {
		for _, deep := range []bool{false, true} {
			q := store.FeedQuery{Viewer: users[1].ID, Limit: limit}
			if deep {
				first, err := s.Feed(ctx, store.FeedQuery{Viewer: 1, Limit: 120})
				if err != nil {
					t.Fatal(err)
				}
				q.After = first.Next
			}
			for _, author := range []*int64{nil, &users[0].ID} {
				q.AuthorID = author
				before := counter.Count()
				page, err := s.Feed(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if n := counter.Count() - before; n != 1 {
					t.Errorf("limit %d, deep %v, timeline %v: %d statements", limit, deep, author != nil, n)
				}
				if len(page.Posts) == 0 || page.Posts[0].Author.Username == "" || page.Posts[0].CommentCount != 1 {
					t.Errorf("page lacks authors or counters: %+v", page.Posts[:min(1, len(page.Posts))])
				}
			}
		}
	}
}

// benchSize is the benchmark data set of the issue: 100,000 posts by 1,000
// users with 0–9 media each and some likes and comments.
var benchSize = storetest.Size{Users: 1000, Posts: 100_000, LikesPerPost: 5, CommentsPerPost: 3}

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

// benchStore opens the seeded benchmark database, seeding it once per run.
// MOMENTS_BENCH_DATA keeps it between runs; MOMENTS_FEED_CACHE=off measures
// the pages without the feed cache, as `moments serve` does with it.
func benchStore(b testing.TB) *store.Store {
	b.Helper()
	benchOnce.Do(func() {
		benchDir = os.Getenv("MOMENTS_BENCH_DATA")
		if benchDir == "" {
			benchDir, benchErr = os.MkdirTemp("", "moments-bench-")
			if benchErr != nil {
				return
			}
		}
		if _, err := os.Stat(filepath.Join(benchDir, store.DBFile)); err == nil {
			return
		}
		_, benchErr = storetest.Seed(context.Background(), benchDir, os.DirFS("../migrations"), benchSize)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	s, err := store.Open(context.Background(), benchDir, store.Options{Migrations: os.DirFS("../migrations"),
		NoFeedCache: os.Getenv("MOMENTS_FEED_CACHE") == "off"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// cursorAtDepth walks the feed to the page that starts depth posts deep.
func cursorAtDepth(b testing.TB, s *store.Store, depth int) *store.Key {
	b.Helper()
	if depth == 0 {
		return nil
	}
	var after *store.Key
	for walked := 0; walked < depth; {
		page, err := s.Feed(context.Background(), store.FeedQuery{Viewer: 1, Limit: min(1000, depth-walked), After: after})
		if err != nil || page.Next == nil {
			b.Fatalf("walking to depth %d: %v", depth, err)
		}
		walked += len(page.Posts)
		after = page.Next
	}
	return after
}

// BenchmarkFeedPage compares the first page with one 90,000 posts deep: with
// keyset pagination they cost the same. Both cursors are found before
// either page is timed, so that the walk to the deep one (which fills the
// cache and the heap) is behind both.
func BenchmarkFeedPage(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	pages := []struct {
		name  string
		after *store.Key
	}{{"first", nil}, {"deep90000", cursorAtDepth(b, s, 90_000)}}
	for _, bc := range pages {
		b.Run(bc.name, func(b *testing.B) {
			q := store.FeedQuery{Viewer: 7, Limit: 20, After: bc.after}
			for b.Loop() {
				page, err := s.Feed(ctx, q)
				if err != nil || len(page.Posts) != 20 {
					b.Fatalf("%d posts, %v", len(page.Posts), err)
				}
			}
		})
	}
}

// BenchmarkFeedPageAlternating reads the first page and the page 90,000
// posts deep in turn, in batches of 100, so both see the same machine, and
// reports each one's time per page and their ratio. On a shared machine the
// separate runs of BenchmarkFeedPage can differ by more than the pages do.
func BenchmarkFeedPageAlternating(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	queries := []store.FeedQuery{
		{Viewer: 7, Limit: 20},
		{Viewer: 7, Limit: 20, After: cursorAtDepth(b, s, 90_000)},
	}
	var spent [2]time.Duration
	var pages [2]int
	for i := 0; b.Loop(); i++ {
		k := i / 100 % 2
		start := time.Now()
		page, err := s.Feed(ctx, queries[k])
		spent[k] += time.Since(start)
		pages[k]++
		if err != nil || len(page.Posts) != 20 {
			b.Fatalf("%d posts, %v", len(page.Posts), err)
		}
	}
	if pages[0] == 0 || pages[1] == 0 {
		return // too few iterations to compare
	}
	first := float64(spent[0].Nanoseconds()) / float64(pages[0]) / 1e3
	deep := float64(spent[1].Nanoseconds()) / float64(pages[1]) / 1e3
	b.ReportMetric(first, "first-µs/page")
	b.ReportMetric(deep, "deep90000-µs/page")
	b.ReportMetric(deep/first, "deep/first")
}
