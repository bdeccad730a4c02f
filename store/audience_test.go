package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"moments/internal/testutil"
)

// referenceVisible is the audience rule written a second time, in Go, from
// the raw tables: the author's history window from users (not the copy the
// posts keep), circle membership from circle_members. The differential
// test holds the SQL rule to it.
type reference struct {
	now     int64
	public  bool
	posts   []refPost
	days    map[int64]int            // users.history_visible_days
	members map[int64]map[int64]bool // circle → its members
}

type refPost struct {
	id, author, at  int64
	audience        Audience
	shown, hiddenBy []int64 // post_circles, hidden = 0 and 1
}

func readReference(t *testing.T, s *Store) reference {
	t.Helper()
	ctx := context.Background()
	r := reference{now: millis(s.now()), public: s.publicPosts, days: map[int64]int{}, members: map[int64]map[int64]bool{}}
	rows, err := s.reader.QueryContext(ctx, `SELECT id, history_visible_days FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var d int
		if err := rows.Scan(&id, &d); err != nil {
			t.Fatal(err)
		}
		r.days[id] = d
	}
	rows.Close()
	rows, err = s.reader.QueryContext(ctx, `SELECT circle_id, user_id FROM circle_members`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c, u int64
		if err := rows.Scan(&c, &u); err != nil {
			t.Fatal(err)
		}
		if r.members[c] == nil {
			r.members[c] = map[int64]bool{}
		}
		r.members[c][u] = true
	}
	rows.Close()
	rows, err = s.reader.QueryContext(ctx, `SELECT id, user_id, created_at, audience FROM posts ORDER BY created_at DESC, id DESC`)
	if err != nil {
		t.Fatal(err)
	}
	index := map[int64]int{}
	for rows.Next() {
		var p refPost
		if err := rows.Scan(&p.id, &p.author, &p.at, &p.audience); err != nil {
			t.Fatal(err)
		}
		index[p.id] = len(r.posts)
		r.posts = append(r.posts, p)
	}
	rows.Close()
	rows, err = s.reader.QueryContext(ctx, `SELECT post_id, circle_id, hidden FROM post_circles`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var post, circle int64
		var hidden bool
		if err := rows.Scan(&post, &circle, &hidden); err != nil {
			t.Fatal(err)
		}
		p := &r.posts[index[post]]
		if hidden {
			p.hiddenBy = append(p.hiddenBy, circle)
		} else {
			p.shown = append(p.shown, circle)
		}
	}
	rows.Close()
	return r
}

func (r reference) inAny(circles []int64, viewer int64) bool {
	return slices.ContainsFunc(circles, func(c int64) bool { return r.members[c][viewer] })
}

func (r reference) visible(p refPost, viewer int64) bool {
	if p.author == viewer {
		return true
	}
	if d := r.days[p.author]; d != 0 && p.at < r.now-int64(d)*86_400_000 {
		return false
	}
	member := viewer != 0
	switch p.audience {
	case Members:
		return member
	case MembersHidden:
		return member && !r.inAny(p.hiddenBy, viewer)
	case Circles:
		return member && r.inAny(p.shown, viewer)
	case Public:
		return member || r.public
	}
	return false
}

// list is what viewer should see of a list (author 0: the feed), in order.
func (r reference) list(viewer, author int64) []int64 {
	var ids []int64
	for _, p := range r.posts {
		if (author == 0 || p.author == author) && r.visible(p, viewer) {
			ids = append(ids, p.id)
		}
	}
	return ids
}

// Random circles, memberships, audiences, edits, history windows and a
// clock that moves by days: every viewer's feed and every timeline, walked
// page by page with random page sizes, is what the reference says, and so
// is a sample of single posts, their comments and their likes; with the cache on, the
// pages also equal the plain query's.
func TestAudienceDifferential(t *testing.T) {
	t.Parallel()
	bothFeeds(t, func(t *testing.T, opts Options) {
		clk := testutil.NewClock(time.UnixMilli(1_800_000_000_000))
		opts.Now, opts.PublicPosts = clk.Now, true
		s := openTestWith(t, t.TempDir(), opts)
		s.cache.max = 40
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(16, 5))
		const people = 6
		var users []int64
		for i := range people {
			users = append(users, mustCreate(t, s, fmt.Sprint("user", i)).ID)
		}
		circles := map[int64][]int64{} // owner → circles
		var posts []int64
		randomCircles := func(owner int64, least int) []int64 {
			own := circles[owner]
			var ids []int64
			for range least + rng.IntN(3) {
				if len(own) > 0 {
					ids = append(ids, own[rng.IntN(len(own))])
				}
			}
			return ids
		}
		randomAudience := func(owner int64) (Audience, []int64, []int64) {
			switch k := rng.IntN(10); {
			case k < 3:
				return Members, nil, nil
			case k < 5:
				return Members, nil, randomCircles(owner, 1)
			case k < 7 && len(circles[owner]) > 0:
				return Circles, randomCircles(owner, 1), nil
			case k < 8:
				return OnlyMe, nil, nil
			case k < 9:
				return Public, nil, nil
			}
			return DefaultAudience, nil, nil
		}
		checks := 0
		for op := range 800 {
			owner := users[rng.IntN(people)]
			switch k := rng.IntN(40); {
			case k < 10:
				aud, shown, hidden := randomAudience(owner)
				p, err := s.CreatePost(ctx, owner, PostInput{Content: fmt.Sprint("post ", op), Audience: aud, CircleIDs: shown, HiddenFrom: hidden})
				if err != nil {
					t.Fatalf("op %d: create %v %v %v: %v", op, aud, shown, hidden, err)
				}
				posts = append(posts, p.ID)
				clk.Advance(time.Duration(rng.IntN(3)) * time.Hour)
			case k < 13 && len(posts) > 0:
				id := posts[rng.IntN(len(posts))]
				author, _, err := s.PostOwner(ctx, id, 0)
				if err != nil {
					t.Fatal(err)
				}
				var ch PostChange
				if rng.IntN(2) == 0 {
					content := fmt.Sprint("edited ", op)
					ch.Content = &content
				} else {
					aud, shown, hidden := randomAudience(author)
					if aud == DefaultAudience {
						aud = OnlyMe
					}
					ch.Audience, ch.CircleIDs, ch.HiddenFrom = &aud, &shown, &hidden
				}
				if _, err := s.UpdatePost(ctx, id, author, ch); err != nil {
					t.Fatalf("op %d: edit: %v", op, err)
				}
			case k < 14 && len(posts) > 0:
				i := rng.IntN(len(posts))
				if err := s.DeletePost(ctx, posts[i]); err != nil {
					t.Fatal(err)
				}
				posts = slices.Delete(posts, i, i+1)
			case k < 16:
				c, err := s.CreateCircle(ctx, owner, fmt.Sprint("circle ", op))
				if err != nil {
					t.Fatal(err)
				}
				circles[owner] = append(circles[owner], c.ID)
			case k < 17 && len(circles[owner]) > 0:
				i := rng.IntN(len(circles[owner]))
				if err := s.DeleteCircle(ctx, owner, circles[owner][i]); err != nil {
					t.Fatal(err)
				}
				circles[owner] = slices.Delete(circles[owner], i, i+1)
			case k < 22 && len(circles[owner]) > 0:
				c := circles[owner][rng.IntN(len(circles[owner]))]
				name := fmt.Sprint("user", rng.IntN(people))
				change := s.AddCircleMember
				if rng.IntN(3) == 0 {
					change = s.RemoveCircleMember
				}
				if err := change(ctx, owner, c, name); err != nil {
					t.Fatal(err)
				}
			case k < 23:
				days := []int{0, 0, 1, 3, 30}[rng.IntN(5)]
				if _, err := s.UpdateProfile(ctx, owner, ProfileUpdate{HistoryVisibleDays: &days}); err != nil {
					t.Fatal(err)
				}
			case k < 24:
				def := []Audience{Members, OnlyMe, Public}[rng.IntN(3)]
				if _, err := s.UpdateProfile(ctx, owner, ProfileUpdate{DefaultAudience: &def}); err != nil {
					t.Fatal(err)
				}
			case k < 26 && len(posts) > 0:
				// Liking and commenting: allowed exactly where the post is seen.
				id := posts[rng.IntN(len(posts))]
				ref := readReference(t, s)
				seen := slices.Contains(ref.list(owner, 0), id)
				errLike := s.Like(ctx, id, owner)
				_, errComment := s.CreateComment(ctx, id, owner, "hello")
				for _, err := range []error{errLike, errComment} {
					if seen && err != nil || !seen && !errors.Is(err, ErrNotFound) {
						t.Fatalf("op %d: like or comment by %d on post %d (seen %v): %v", op, owner, id, seen, err)
					}
				}
			case k < 28:
				clk.Advance(time.Duration(rng.IntN(48)) * time.Hour)
			case k < 30:
				checks++
				checkAgainstReference(t, s, rng, op, users)
			}
		}
		if checks < 20 {
			t.Fatalf("only %d checks", checks)
		}
		if n := s.cache.resets.Load(); n == 0 && !opts.NoFeedCache {
			t.Log("no circle was deleted: the cache was never emptied")
		}
	})
}

// checkAgainstReference compares every viewer's lists and posts with the
// reference.
func checkAgainstReference(t *testing.T, s *Store, rng *rand.Rand, op int, users []int64) {
	t.Helper()
	ctx := context.Background()
	ref := readReference(t, s)
	// circle_reach, which the rule trusts to say who is in none of an
	// author's circles, is what the memberships say.
	reach := func(query string) string {
		var out string
		if err := s.reader.QueryRowContext(ctx, `SELECT ifnull(group_concat(o || ':' || m || 'x' || n, ' '), '') FROM (`+query+`)`).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	kept := reach(`SELECT owner_id AS o, member_id AS m, circles AS n FROM circle_reach ORDER BY 1, 2`)
	if want := reach(`SELECT c.owner_id AS o, cm.user_id AS m, count(*) AS n FROM circle_members cm
		JOIN circles c ON c.id = cm.circle_id GROUP BY 1, 2 ORDER BY 1, 2`); kept != want {
		t.Fatalf("op %d: circle_reach\n%s\nthe memberships say\n%s", op, kept, want)
	}
	for _, viewer := range append([]int64{0}, users...) {
		for _, author := range append([]int64{0}, users...) {
			q := FeedQuery{Viewer: viewer, Limit: 1 + rng.IntN(7)}
			if author != 0 {
				q.AuthorID = &author
			}
			var got []int64
			for {
				page, err := s.Feed(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if !s.noFeedCache {
					if want := tablePage(t, s, q); fmt.Sprint(pageView(page)) != fmt.Sprint(pageView(want)) {
						t.Fatalf("op %d, %+v: cached page\n%v\nplain page\n%v", op, q, pageView(page), pageView(want))
					}
				}
				for _, p := range page.Posts {
					got = append(got, p.ID)
				}
				if page.Next == nil {
					break
				}
				if len(page.Posts) != q.Limit {
					t.Fatalf("op %d, %+v: a page of %d before the end", op, q, len(page.Posts))
				}
				q.After = page.Next
			}
			if want := ref.list(viewer, author); !slices.Equal(got, want) {
				t.Fatalf("op %d: viewer %d, list of author %d:\n got %v\nwant %v", op, viewer, author, got, want)
			}
		}
		for range 12 { // a sample of the posts, each through every path
			if len(ref.posts) == 0 {
				break
			}
			p := ref.posts[rng.IntN(len(ref.posts))]
			seen := ref.visible(p, viewer)
			_, errPost := s.Post(ctx, p.id, viewer)
			_, _, errComments := s.Comments(ctx, p.id, viewer, 5, nil)
			_, _, errLikes := s.Likes(ctx, p.id, viewer, 5, nil)
			_, visible, errOwner := s.PostOwner(ctx, p.id, viewer)
			for _, err := range []error{errPost, errComments, errLikes} {
				if seen && err != nil || !seen && !errors.Is(err, ErrNotFound) {
					t.Fatalf("op %d: post %d (%v) as %d, seen %v: %v", op, p.id, p.audience, viewer, seen, err)
				}
			}
			if errOwner != nil || visible != seen {
				t.Fatalf("op %d: PostOwner of %d as %d: visible %v, %v; want %v", op, p.id, viewer, visible, errOwner, seen)
			}
		}
	}
}
