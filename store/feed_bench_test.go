package store_test

import (
	"context"
	"database/sql"
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
// whatever its size and depth, and whoever reads: a member in circles, a
// member in none, a visitor.
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
		WrapReader: counter.Wrap, NoFeedCache: noFeedCache, PublicPosts: true})
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
	// Everyone has two circles: user1 and user3 are in the first of every
	// other author's, user0 and user4 in the second; user2 is in none.
	circles := make([][]int64, len(users))
	for i, u := range users {
		for c, in := range [][]int{{1, 3}, {0, 4}} {
			circle, err := s.CreateCircle(ctx, u.ID, fmt.Sprint("circle ", c))
			if err != nil {
				t.Fatal(err)
			}
			circles[i] = append(circles[i], circle.ID)
			for _, m := range in {
				if m != i {
					if err := s.AddCircleMember(ctx, u.ID, circle.ID, users[m].Username); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	// Five posts in a row by five authors share an audience; the circles
	// they name alternate between the author's two every 25 posts.
	for i := range 250 {
		author := i % 5
		in := store.PostInput{Content: fmt.Sprint(i), MediaURLs: []string{"https://x.example/a.jpg"}}
		circle := circles[author][i/25%2 : i/25%2+1]
		switch i / 5 % 5 {
		case 0:
			in.Audience = store.Members
		case 1:
			in.Audience, in.CircleIDs = store.Circles, circle
		case 2:
			in.Audience = store.OnlyMe
		case 3:
			in.Audience, in.HiddenFrom = store.Members, circle
		case 4:
			in.Audience = store.Public
		}
		p, err := s.CreatePost(ctx, users[author].ID, in)
		if err != nil {
			t.Fatal(err)
		}
		// By the author, who sees every post of theirs.
		if err := s.Like(ctx, p.ID, users[author].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateComment(ctx, p.ID, users[author].ID, "nice"); err != nil {
			t.Fatal(err)
		}
	}
	readers := []struct {
		name   string
		viewer int64
	}{{"member in circles", users[1].ID}, {"member in none", users[2].ID}, {"visitor", 0}}
	for _, r := range readers {
		// The deep pages start below the reader's first 30 posts: a visitor
		// sees 50.
		first, err := s.Feed(ctx, store.FeedQuery{Viewer: r.viewer, Limit: 30})
		if err != nil || first.Next == nil {
			t.Fatalf("%s: %d posts, %v", r.name, len(first.Posts), err)
		}
		for _, limit := range []int{1, 20, 100} {
			for _, after := range []*store.Key{nil, first.Next} {
				for _, author := range []*int64{nil, &users[0].ID} {
					q := store.FeedQuery{Viewer: r.viewer, Limit: limit, After: after, AuthorID: author}
					before := counter.Count()
					page, err := s.Feed(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					if n := counter.Count() - before; n != 1 {
						t.Errorf("%s, limit %d, deep %v, timeline %v: %d statements", r.name, limit, after != nil, author != nil, n)
					}
					if len(page.Posts) == 0 || page.Posts[0].Author.Username == "" || page.Posts[0].CommentCount != 1 {
						t.Errorf("%s: page lacks posts, authors or counters: %+v", r.name, page.Posts[:min(1, len(page.Posts))])
					}
				}
			}
		}
	}
}

// The benchmarks' data sets are what storetest says: the mix of audiences,
// the circles and the reader's place in them, and the same posts in both.
func TestSeedAudiences(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var posts [2]string
	for _, a := range []storetest.Audiences{storetest.AllMembers, storetest.Mixed} {
		dir := t.TempDir()
		size := storetest.Size{Users: 30, Posts: 600, LikesPerPost: 2, CommentsPerPost: 1, Audiences: a}
		if _, err := storetest.Seed(ctx, dir, os.DirFS("../migrations"), size); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, store.DBFile)+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		query := func(q string, dst ...any) {
			t.Helper()
			if err := db.QueryRow(q).Scan(dst...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		var shares [5]float64
		for i := range shares {
			query(fmt.Sprintf(`SELECT count(*) * 1.0 / %d FROM posts WHERE audience = %d`, size.Posts, i), &shares[i])
		}
		var circles, owners, smallest, largest, readerIn, readerOwners, readerPosts int
		query(`SELECT count(*), count(DISTINCT owner_id), ifnull(min(member_count), 0), ifnull(max(member_count), 0) FROM circles`,
			&circles, &owners, &smallest, &largest)
		query(`SELECT count(*), count(DISTINCT c.owner_id) FROM circle_members m JOIN circles c ON c.id = m.circle_id
			JOIN users u ON u.id = m.user_id WHERE u.username = 'reader'`, &readerIn, &readerOwners)
		query(`SELECT count(*) FROM posts p JOIN users u ON u.id = p.user_id WHERE u.username = 'reader'`, &readerPosts)
		query(`SELECT group_concat(user_id || ' ' || content || ' ' || media_urls, char(10)) FROM (SELECT * FROM posts ORDER BY id)`,
			&posts[a])
		if readerPosts != 0 {
			t.Errorf("%s: the reader has %d posts", a, readerPosts)
		}
		if a == storetest.AllMembers {
			if shares[store.Members] != 1 || circles != 0 {
				t.Errorf("members: audience shares %v, %d circles", shares, circles)
			}
			continue
		}
		for aud, want := range map[store.Audience]float64{store.Members: 0.60, store.Circles: 0.25, store.OnlyMe: 0.10, store.MembersHidden: 0.05} {
			if shares[aud] < want-0.05 || shares[aud] > want+0.05 {
				t.Errorf("mixed: %.2f of the posts for audience %d, want about %.2f", shares[aud], aud, want)
			}
		}
		if circles != 5*size.Users || owners != size.Users || smallest < 5 || largest > 20 || readerIn != 10 || readerOwners != 10 {
			t.Errorf("mixed: %d circles of %d owners, %d–%d members each; the reader in %d circles of %d owners",
				circles, owners, smallest, largest, readerIn, readerOwners)
		}
	}
	if posts[0] != posts[1] {
		t.Error("the two data sets have different posts")
	}
}

var bench struct {
	once sync.Once
	dir  string
	err  error
}

// benchFeed is the seeded benchmark database, read as its reader.
type benchFeed struct {
	s      *store.Store
	size   storetest.Size
	reader int64 // the ID of storetest.ReaderName
}

// benchStore opens the seeded benchmark database (storetest.BenchData),
// seeding it once per run. MOMENTS_BENCH_AUDIENCES chooses the data set:
// mixed (the default) or members, the same posts all for members, to
// compare with. MOMENTS_BENCH_DATA keeps both between runs, each in a
// subdirectory of its own; MOMENTS_FEED_CACHE=off measures the pages
// without the feed cache, as `moments serve` does with it.
func benchStore(b testing.TB) benchFeed {
	b.Helper()
	ctx := context.Background()
	audiences, err := storetest.ParseAudiences(os.Getenv("MOMENTS_BENCH_AUDIENCES"))
	if err != nil {
		b.Fatal(err)
	}
	bench.once.Do(func() { bench.dir, bench.err = storetest.BenchData(ctx, os.DirFS("../migrations"), audiences) })
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	s, err := store.Open(ctx, bench.dir, store.Options{Migrations: os.DirFS("../migrations"),
		NoFeedCache: os.Getenv("MOMENTS_FEED_CACHE") == "off"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	reader, err := s.UserByUsername(ctx, storetest.ReaderName)
	if err != nil {
		b.Fatal(err)
	}
	return benchFeed{s, storetest.BenchSize(audiences), reader.ID}
}

// page is a page of 20 posts as the reader sees it.
func (f benchFeed) page(after *store.Key) store.FeedQuery {
	return store.FeedQuery{Viewer: f.reader, Limit: 20, After: after}
}

// cursorAtDepth walks the feed as the reader to the page below the depth
// newest posts of the whole feed, whoever may see them
// (storetest.Size.Depth). The reader of the mixed data set sees about two
// thirds of the posts, so their page 90,000 posts deep is some 58,000
// posts into what they see: there are not 90,000 for them to walk past.
// The last pages shrink by halves, so that the walk ends within a post or
// two of depth.
func (f benchFeed) cursorAtDepth(b testing.TB, depth int) *store.Key {
	b.Helper()
	var after *store.Key
	for walked := 0; walked < depth; {
		page, err := f.s.Feed(context.Background(), store.FeedQuery{Viewer: f.reader, Limit: min(1000, (depth-walked+1)/2), After: after})
		if err != nil || page.Next == nil {
			b.Fatalf("walking to depth %d: %v", depth, err)
		}
		walked = f.size.Depth(page.Posts[len(page.Posts)-1].ID)
		after = page.Next
	}
	return after
}

// BenchmarkFeedPage compares the reader's first page with the one 90,000
// posts deep: with keyset pagination they cost the same. Both cursors are found before
// either page is timed, so that the walk to the deep one (which fills the
// cache and the heap) is behind both.
func BenchmarkFeedPage(b *testing.B) {
	f := benchStore(b)
	ctx := context.Background()
	pages := []struct {
		name  string
		after *store.Key
	}{{"first", nil}, {"deep90000", f.cursorAtDepth(b, 90_000)}}
	for _, bc := range pages {
		b.Run(bc.name, func(b *testing.B) {
			q := f.page(bc.after)
			for b.Loop() {
				page, err := f.s.Feed(ctx, q)
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
	f := benchStore(b)
	ctx := context.Background()
	queries := []store.FeedQuery{f.page(nil), f.page(f.cursorAtDepth(b, 90_000))}
	var spent [2]time.Duration
	var pages [2]int
	for i := 0; b.Loop(); i++ {
		k := i / 100 % 2
		start := time.Now()
		page, err := f.s.Feed(ctx, queries[k])
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
