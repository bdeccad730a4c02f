package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"moments/internal/testutil"
)

// The cache's promise, checked against a model of the table through random
// creates, edits, deletes, profile changes and page reads with small
// bounds: every segment holds exactly the posts of its list whose keys lie
// in its range, with their current content and their authors' current
// names, and the cache stays within its bound.
func TestFeedCacheModel(t *testing.T) {
	t.Parallel()
	for run := range 60 {
		rng := rand.New(rand.NewPCG(uint64(run), 7))
		c := newFeedCache(minKey)
		c.max = 1 + rng.IntN(40)
		names := map[int64]string{1: "a", 2: "b", 3: "c"}
		var table []*cachedPost // every post, oldest first
		var nextID, at int64 = 1, 1000
		create := func() {
			at += rng.Int64N(3) // ties on created_at too
			author := 1 + rng.Int64N(3)
			e := &cachedPost{id: nextID, key: feedKey{at, nextID}, author: Author{ID: author, DisplayName: names[author]},
				content: fmt.Sprint("post ", nextID)}
			nextID++
			table = append(table, e)
			c.added(e)
		}
		for range 20 {
			create()
		}
		for op := range 400 {
			switch k := rng.IntN(10); {
			case k < 2:
				create()
			case k < 3 && len(table) > 0:
				i := rng.IntN(len(table))
				c.deleted(table[i].author.ID, table[i].key)
				table = slices.Delete(table, i, i+1)
			case k < 4:
				author := 1 + rng.Int64N(3)
				names[author] = fmt.Sprint(op)
				c.profileChanged(Author{ID: author, DisplayName: names[author]})
			case k < 5 && len(table) > 0:
				// An edit: the post keeps its key and gets new content.
				i := rng.IntN(len(table))
				old := table[i]
				table[i] = &cachedPost{id: old.id, key: old.key, author: Author{ID: old.author.ID, DisplayName: names[old.author.ID]},
					content: fmt.Sprintf("post %d, edit %d", old.id, op)}
				c.replaced(table[i])
			case k < 6 && len(table) > 0:
				// A page read before an edit fills the cache after it: what it
				// read is stale, and must not be kept.
				stalePageAcrossEdit(t, rng, c, table, names)
			default:
				modelPage(t, rng, c, table, names)
			}
			checkCache(t, fmt.Sprintf("run %d, op %d", run, op), c, table, names)
		}
	}
}

// modelPage reads a random page the way Store.Feed does, with the model's
// table standing in for SQL.
func modelPage(t *testing.T, rng *rand.Rand, c *feedCache, table []*cachedPost, names map[int64]string) {
	list := rng.Int64N(4)  // the feed or an author's timeline
	var rows []*cachedPost // the list, newest first
	for i := len(table) - 1; i >= 0; i-- {
		if list == feedList || table[i].author.ID == list {
			rows = append(rows, table[i])
		}
	}
	var before *feedKey
	if len(rows) > 0 && rng.IntN(4) > 0 {
		k := rows[rng.IntN(len(rows))].key
		switch rng.IntN(6) {
		case 0:
			k.id++ // a cursor between posts, as after a delete
		case 1:
			k.at += 10 // a cursor from above the newest post
		}
		before = &k
	}
	limit := 1 + rng.IntN(8)
	w := c.window(list, before, limit+1, nil)
	var page []*cachedPost
	misses := 0
	for _, r := range rows {
		if before != nil && !r.key.less(*before) {
			continue
		}
		if len(page) == limit+1 {
			break
		}
		if !r.key.less(w.lo) && r.key.less(w.hi) {
			i := slices.IndexFunc(w.posts, func(e *cachedPost) bool { return e.id == r.id })
			if i < 0 {
				t.Fatalf("post %d is in the window's range [%v, %v) but not in the window", r.id, w.lo, w.hi)
			}
			page = append(page, w.posts[i])
			continue
		}
		misses++
		page = append(page, &cachedPost{id: r.id, key: r.key, author: Author{ID: r.author.ID, DisplayName: names[r.author.ID]},
			content: r.content})
	}
	if misses == 0 {
		return
	}
	lo, hi := pageRange(&w, before, page, limit)
	c.fill(list, w.gen, lo, hi, page)
}

// stalePageAcrossEdit reads a page of the feed from the table as it is,
// then edits a post on it, then offers what it read to the cache, as a page
// whose query ran just before an edit committed would.
func stalePageAcrossEdit(t *testing.T, rng *rand.Rand, c *feedCache, table []*cachedPost, names map[int64]string) {
	t.Helper()
	n := min(len(table), 1+rng.IntN(5))
	w := c.window(feedList, nil, n, nil)
	page := make([]*cachedPost, 0, n)
	for i := len(table) - 1; i >= len(table)-n; i-- {
		page = append(page, table[i])
	}
	i := len(table) - 1 - rng.IntN(n)
	old := table[i]
	table[i] = &cachedPost{id: old.id, key: old.key, author: Author{ID: old.author.ID, DisplayName: names[old.author.ID]},
		content: old.content + " (edited)"}
	c.replaced(table[i])
	lo, hi := pageRange(&w, nil, page, n-1)
	c.fill(feedList, w.gen, lo, hi, page)
}

func checkCache(t *testing.T, at string, c *feedCache, table []*cachedPost, names map[int64]string) {
	t.Helper()
	total := 0
	for list, segs := range c.lists {
		for i, s := range segs {
			if !s.lo.less(s.hi) || i > 0 && s.lo.less(segs[i-1].hi) {
				t.Fatalf("%s: list %d: segment %d [%v, %v) is empty or overlaps the one before", at, list, i, s.lo, s.hi)
			}
			var want, got []int64
			for _, e := range table {
				if (list == feedList || e.author.ID == list) && !e.key.less(s.lo) && e.key.less(s.hi) {
					want = append(want, e.id)
				}
			}
			for _, e := range s.posts {
				got = append(got, e.id)
				if e.author.DisplayName != names[e.author.ID] {
					t.Fatalf("%s: post %d has author name %q, want %q", at, e.id, e.author.DisplayName, names[e.author.ID])
				}
				if i := slices.IndexFunc(table, func(r *cachedPost) bool { return r.id == e.id }); i >= 0 && table[i].content != e.content {
					t.Fatalf("%s: post %d holds %q, the table has %q", at, e.id, e.content, table[i].content)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s: list %d: segment [%v, %v) holds %v, the table has %v", at, list, s.lo, s.hi, got, want)
			}
			total += len(s.posts)
		}
	}
	if total != c.size || c.size > c.max {
		t.Fatalf("%s: %d posts held, size says %d, bound %d", at, total, c.size, c.max)
	}
}

// openWithClock opens a store in a temporary directory whose time is clk.
func openWithClock(t *testing.T) (*Store, *testutil.Clock) {
	t.Helper()
	clk := testutil.NewClock(time.UnixMilli(1_800_000_000_000))
	s, err := Open(context.Background(), t.TempDir(), Options{Migrations: testMigrations(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk
}

// Pages from the store, whatever the cache holds, equal the same pages read
// straight from the table, through random creates (with a clock that goes
// back now and then), deletes, profile changes, likes and comments.
func TestFeedMatchesTable(t *testing.T) {
	t.Parallel()
	s, clk := openWithClock(t)
	s.cache.max = 25
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	var users []int64
	for i := range 4 {
		users = append(users, mustCreate(t, s, fmt.Sprint("user", i)).ID)
	}
	var posts []int64
	for op := range 1500 {
		switch k := rng.IntN(20); {
		case k < 5:
			clk.Advance(time.Duration(rng.IntN(5)-1) * time.Millisecond)
			if rng.IntN(50) == 0 {
				clk.Advance(-time.Second)
			}
			p, err := s.CreatePost(ctx, users[rng.IntN(4)], PostInput{Content: fmt.Sprint("post ", op), MediaURLs: []string{fmt.Sprintf("https://x.example/%d.jpg", op)}})
			if err != nil {
				t.Fatal(err)
			}
			posts = append(posts, p.ID)
		case k < 6 && len(posts) > 0:
			i := rng.IntN(len(posts))
			if err := s.DeletePost(ctx, posts[i]); err != nil {
				t.Fatal(err)
			}
			posts = slices.Delete(posts, i, i+1)
		case k < 7:
			name := fmt.Sprint("name ", op)
			if _, err := s.UpdateProfile(ctx, users[rng.IntN(4)], ProfileUpdate{DisplayName: &name}); err != nil {
				t.Fatal(err)
			}
		case k < 9 && len(posts) > 0:
			post, user := posts[rng.IntN(len(posts))], users[rng.IntN(4)]
			like := s.Like
			if rng.IntN(2) == 0 {
				like = s.Unlike
			}
			if err := like(ctx, post, user); err != nil {
				t.Fatal(err)
			}
		case k < 10 && len(posts) > 0:
			if _, err := s.CreateComment(ctx, posts[rng.IntN(len(posts))], users[rng.IntN(4)], "c"); err != nil {
				t.Fatal(err)
			}
		default:
			q := FeedQuery{Viewer: int64(rng.IntN(5)), Limit: 1 + rng.IntN(8)}
			if rng.IntN(3) == 0 {
				q.AuthorID = &users[rng.IntN(4)]
			}
			for pages := rng.IntN(6); ; pages-- { // a few pages of a walk
				got, err := s.Feed(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				want := tablePage(t, s, q)
				if fmt.Sprint(pageView(got)) != fmt.Sprint(pageView(want)) {
					t.Fatalf("op %d, %+v:\n got %v\nwant %v", op, q, pageView(got), pageView(want))
				}
				if n := s.cache.resets.Load(); n != 0 {
					t.Fatalf("op %d: the cache was emptied %d times", op, n)
				}
				if got.Next == nil || pages == 0 {
					break
				}
				q.After = got.Next
			}
		}
	}
}

// tablePage reads a page with the plain query, the feed without its cache:
// the reference the cache's pages are compared with.
func tablePage(t *testing.T, s *Store, q FeedQuery) PostPage {
	t.Helper()
	ctx := context.Background()
	if err := s.beginRead(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.endRead()
	page, err := s.plainPage(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// pageView is what a reader sees of a page.
func pageView(p PostPage) []string {
	var v []string
	for _, p := range p.Posts {
		v = append(v, fmt.Sprintf("%d %+v %q %s %d %d/%d/%v %v %s %s %v", p.ID, p.Author, p.Content, p.MediaJSON,
			millis(p.CreatedAt), p.LikeCount, p.CommentCount, p.LikedByMe,
			p.Audience, p.CircleIDsJSON, p.HiddenFromJSON, p.EditedAt.UnixMilli()))
	}
	if p.Next != nil {
		v = append(v, fmt.Sprintf("next %+v", *p.Next))
	}
	return v
}

// The store gives every new post a time no earlier than the post before it
// and an ID above every ID before it, whatever the clock does.
func TestPostKeysOnlyGrow(t *testing.T) {
	t.Parallel()
	s, clk := openWithClock(t)
	ctx := context.Background()
	u := mustCreate(t, s, "alice")
	var created []Post
	for i, step := range []time.Duration{0, time.Millisecond, -time.Hour, 0, 2 * time.Hour, -time.Millisecond} {
		clk.Advance(step)
		p, err := s.CreatePost(ctx, u.ID, PostInput{Content: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(created); n > 0 && (p.CreatedAt.Before(created[n-1].CreatedAt) || p.ID <= created[n-1].ID) {
			t.Fatalf("post %d: %v, ID %d after %v, ID %d", i, p.CreatedAt, p.ID, created[n-1].CreatedAt, created[n-1].ID)
		}
		created = append(created, p)
	}
	if got := created[2].CreatedAt; !got.Equal(created[1].CreatedAt) {
		t.Errorf("after the clock went back an hour: %v, want %v", got, created[1].CreatedAt)
	}
	feed := feedOf(t, s, 1)
	for i, p := range feed {
		if want := created[len(created)-1-i]; p.ID != want.ID || !p.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("feed[%d] = %d at %v, want %d at %v", i, p.ID, p.CreatedAt, want.ID, want.CreatedAt)
		}
	}

	// Deleting the newest post does not free its ID, in this run or the next.
	newest := created[len(created)-1]
	if err := s.DeletePost(ctx, newest.ID); err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePost(ctx, u.ID, PostInput{Content: "after the delete"})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID <= newest.ID {
		t.Errorf("ID %d after deleting %d", p.ID, newest.ID)
	}
}

// A post written to the table without the store (another process, a
// hand-made fix) inside a range the cache holds cannot break a page: the
// page is read from the table and the cache starts over.
func TestFeedSurvivesOutsideWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestIn(t, dir)
	ctx := context.Background()
	u := mustCreate(t, s, "alice")
	var ps []Post
	for i := range 10 {
		p, err := s.CreatePost(ctx, u.ID, PostInput{Content: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	feedOf(t, s, 1) // the cache now holds the whole feed
	if s.cache.size != 10 {
		t.Fatalf("cache holds %d posts", s.cache.size)
	}

	other, err := sql.Open("sqlite", "file:"+s.Path()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// Older than every post: inside the range the cache holds, which
	// reaches the end of the feed.
	if _, err := other.Exec(`INSERT INTO posts (id, user_id, content, media_urls, created_at) VALUES (1000, ?, 'outside', '[]', ?)`,
		u.ID, millis(ps[0].CreatedAt)-1); err != nil {
		t.Fatal(err)
	}
	q := FeedQuery{Viewer: 1, Limit: 100}
	got, err := s.Feed(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if want := tablePage(t, s, q); fmt.Sprint(pageView(got)) != fmt.Sprint(pageView(want)) || len(got.Posts) != 11 {
		t.Fatalf("got %v\nwant %v", pageView(got), pageView(want))
	}
	if s.cache.size != 0 || s.cache.resets.Load() != 1 {
		t.Errorf("the cache still holds %d posts, emptied %d times", s.cache.size, s.cache.resets.Load())
	}
	// The next read fills the cache again, and pages stay right.
	for range 2 {
		got, err := s.Feed(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if want := tablePage(t, s, q); fmt.Sprint(pageView(got)) != fmt.Sprint(pageView(want)) {
			t.Fatalf("got %v\nwant %v", pageView(got), pageView(want))
		}
	}
}

// Once pages have been read, reading them again, at any depth and in a
// timeline too, takes every post from the cache; so does the first page
// after a new post.
func TestWarmPagesReadNoPosts(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	alice, bob := mustCreate(t, s, "alice"), mustCreate(t, s, "bob")
	for i := range 60 {
		if _, err := s.CreatePost(ctx, []int64{alice.ID, bob.ID}[i%2], PostInput{Content: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(q FeedQuery) int64 {
		before := s.cache.tableReads.Load()
		for {
			page, err := s.Feed(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if page.Next == nil {
				return s.cache.tableReads.Load() - before
			}
			q.After = page.Next
		}
	}
	for _, q := range []FeedQuery{{Viewer: 1, Limit: 7}, {Viewer: 1, Limit: 5, AuthorID: &bob.ID}} {
		if n := walk(q); n == 0 {
			t.Errorf("%+v: a cold walk read nothing from the table", q)
		}
		if n := walk(q); n != 0 {
			t.Errorf("%+v: a warm walk read %d posts from the table", q, n)
		}
	}
	if _, err := s.CreatePost(ctx, alice.ID, PostInput{Content: "new"}); err != nil {
		t.Fatal(err)
	}
	before := s.cache.tableReads.Load()
	if page := feedOf(t, s, 1); page[0].Content != "new" {
		t.Fatalf("first post %q", page[0].Content)
	}
	if n := s.cache.tableReads.Load() - before; n != 0 {
		t.Errorf("the first page after a new post read %d posts from the table", n)
	}
}

// Pages read while posts are created and deleted and profiles change stay
// whole: newest first, each post with its own text and its own author's
// name, and the cache never finds itself wrong.
func TestFeedCacheUnderConcurrentChanges(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	s.cache.max = 30
	ctx := context.Background()
	var users []int64
	for i := range 3 {
		users = append(users, mustCreate(t, s, fmt.Sprint("user", i)).ID)
	}
	// Every text each post has had, in order, and how many of them had
	// committed: a page may show a post as it was when the page's query
	// ran, but never older than its last edit committed before the page
	// began. A text is added before its edit starts, since a page may show
	// it as soon as the edit commits, before UpdatePost returns.
	var mu sync.Mutex
	texts := map[int64][]string{}
	committed := map[int64]int{}
	authors := map[int64]int64{} // post ID → its author; the write goroutine's of the test alone
	create := func(i int) int64 {
		p, err := s.CreatePost(ctx, users[i%3], PostInput{Content: fmt.Sprint("post ", i)})
		if err != nil {
			t.Error(err)
			return 0
		}
		mu.Lock()
		texts[p.ID] = []string{p.Content}
		committed[p.ID] = 1
		authors[p.ID] = p.Author.ID
		mu.Unlock()
		return p.ID
	}
	var ids []int64
	for i := range 100 {
		ids = append(ids, create(i))
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(5, 6))
		for i := range 400 {
			switch rng.IntN(5) {
			case 0:
				ids = append(ids, create(1000+i))
			case 1:
				j := rng.IntN(len(ids))
				if err := s.DeletePost(ctx, ids[j]); err != nil {
					t.Error(err)
				}
				ids = slices.Delete(ids, j, j+1)
			case 2:
				u := rng.IntN(3)
				name := fmt.Sprintf("user%d v%d", u, i)
				if _, err := s.UpdateProfile(ctx, users[u], ProfileUpdate{DisplayName: &name}); err != nil {
					t.Error(err)
				}
			case 3:
				if err := s.Like(ctx, ids[rng.IntN(len(ids))], users[rng.IntN(3)]); err != nil {
					t.Error(err)
				}
			case 4:
				id := ids[rng.IntN(len(ids))]
				text := fmt.Sprintf("post %d, edit %d", id, i)
				mu.Lock()
				texts[id] = append(texts[id], text)
				mu.Unlock()
				mu.Lock()
				author := authors[id]
				mu.Unlock()
				if _, err := s.UpdatePost(ctx, id, author, PostChange{Content: &text}); err != nil {
					t.Error(err)
				}
				mu.Lock()
				committed[id]++
				mu.Unlock()
			}
		}
	})
	for r := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for {
				select {
				case <-done:
					return
				default:
				}
				q := FeedQuery{Limit: 1 + rng.IntN(8), Viewer: users[rng.IntN(3)]}
				if rng.IntN(3) == 0 {
					q.AuthorID = &users[rng.IntN(3)]
				}
				var last *Post
				for range 1 + rng.IntN(10) {
					mu.Lock()
					edits := make(map[int64]int, len(committed)) // each post's last committed text
					for id, n := range committed {
						edits[id] = n - 1
					}
					mu.Unlock()
					page, err := s.Feed(ctx, q)
					if err != nil {
						t.Error(err)
						return
					}
					for i := range page.Posts {
						p := &page.Posts[i]
						if last != nil && !(p.CreatedAt.Before(last.CreatedAt) || p.CreatedAt.Equal(last.CreatedAt) && p.ID < last.ID) {
							t.Errorf("post %d after post %d", p.ID, last.ID)
						}
						mu.Lock()
						version := slices.Index(texts[p.ID], p.Content)
						mu.Unlock()
						if e, ok := edits[p.ID]; ok && version < e {
							t.Errorf("post %d shows %q, older than its edit %d", p.ID, p.Content, e)
						}
						if want := fmt.Sprintf("user%d", slices.Index(users, p.Author.ID)); p.Author.Username != want ||
							p.Author.DisplayName != "" && !strings.HasPrefix(p.Author.DisplayName, want+" ") {
							t.Errorf("post %d by %+v", p.ID, p.Author)
						}
						if q.AuthorID != nil && p.Author.ID != *q.AuthorID {
							t.Errorf("post %d by %d in %d's timeline", p.ID, p.Author.ID, *q.AuthorID)
						}
						last = p
					}
					if page.Next == nil {
						break
					}
					q.After = page.Next
				}
			}
		})
	}
	wg.Wait()
	if n := s.cache.resets.Load(); n != 0 {
		t.Errorf("the cache was emptied %d times", n)
	}
	// Afterwards, every page equals the table's.
	for _, author := range []*int64{nil, &users[0]} {
		q := FeedQuery{Limit: 6, Viewer: users[1], AuthorID: author}
		for {
			got, err := s.Feed(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if want := tablePage(t, s, q); fmt.Sprint(pageView(got)) != fmt.Sprint(pageView(want)) {
				t.Fatalf("%+v:\n got %v\nwant %v", q, pageView(got), pageView(want))
			}
			if got.Next == nil {
				break
			}
			q.After = got.Next
		}
	}
}

// Making room takes only as many posts as needed from the least recently
// used segment, its oldest first, rather than the whole segment.
func TestFeedCacheEvictsOnlyWhatItMust(t *testing.T) {
	t.Parallel()
	// A millisecond a post, so that no post shares the time of a page's
	// last one (a page also reads those, when the window lacks them).
	s, clk := openWithClock(t)
	s.cache.max = 30
	ctx := context.Background()
	u := mustCreate(t, s, "alice")
	for i := range 100 {
		clk.Advance(time.Millisecond)
		if _, err := s.CreatePost(ctx, u.ID, PostInput{Content: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	first := FeedQuery{Viewer: 1, Limit: 20}
	if _, err := s.Feed(ctx, first); err != nil { // holds posts 99 down to 79
		t.Fatal(err)
	}
	deep := tablePage(t, s, FeedQuery{Viewer: 1, Limit: 50}) // a cursor, without the cache
	before := s.cache.tableReads.Load()
	if _, err := s.Feed(ctx, FeedQuery{Viewer: 1, Limit: 20, After: deep.Next}); err != nil { // 21 more, 12 over the bound
		t.Fatal(err)
	}
	if read := s.cache.tableReads.Load() - before; read != 21 || s.cache.size != 30 {
		t.Fatalf("the deep page read %d posts; the cache holds %d", read, s.cache.size)
	}
	before = s.cache.tableReads.Load()
	page, err := s.Feed(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if read := s.cache.tableReads.Load() - before; read != 12 || page.Posts[0].Content != "99" {
		t.Errorf("the first page read %d posts from the table again, want the 12 given up", read)
	}
}
