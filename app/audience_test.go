package app_test

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"moments/app"
	"moments/internal/testutil"
	"moments/store"
)

// The audience matrix: who sees which post, on every path that reaches a
// post. The rule itself is written once, in the store (store/audience.go);
// these tests hold every HTTP path to it.
//
// Viewers: a visitor without an account, the author, a member in the
// post's circle (inside), a member in none of the author's circles (outside), a
// member of the circle the post is hidden from (hidden), and an admin in
// no circle. Posts:
//
//	post       audience            anon author inside outside hidden admin
//	members    members              -    y     y   y    y     y
//	hidden     members, hidden_from -    y     y   y    -     y
//	circles    circles              -    y     y   -    -     -
//	onlyme     only_me              -    y     -   -    -     -
//	public     public               y    y     y   y    y     y
//	old        members, older than the author's history window:
//	                                -    y     -   -    -     -
//
// "y" is a 200 for reads, 204 or 201 for likes and comments, 403 for an
// edit (the author alone may) or a delete (the author or an admin); "-"
// is a 404 on every path, exactly as for a post that does not exist, and
// the post is missing from the feed and the timeline. A visitor on an
// instance without public posts gets 401 on reads, and every write is 401
// for a visitor.

var viewers = []string{"anon", "author", "inside", "outside", "hidden", "admin"}

// sees is one row of the matrix: the viewers who see the post, in the
// order of viewers.
type sees string

func (s sees) by(viewer string) bool {
	return strings.Fields(string(s))[slices.Index(viewers, viewer)] == "y"
}

// audienceWorld is an instance with the people and posts of the matrix.
type audienceWorld struct {
	e      *testEnv
	clock  *testutil.Clock
	tokens map[string]string
	users  map[string]user
	posts  map[string]int64 // by the matrix's name
	circle map[string]int64 // the author's circles: "inside", "hidden"
	public bool             // the instance allows public posts
}

func newAudienceWorld(t *testing.T, feed func(*store.Options)) *audienceWorld {
	t.Helper()
	clock := testutil.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	e := newEnvWithStore(t, feed, func(d *app.Deps) {
		d.Now = clock.Now
		d.Config.PublicPosts = true
		d.Config.TokenTTL = 90 * 24 * time.Hour // the clock moves on by days
	})
	w := &audienceWorld{e: e, clock: clock, tokens: map[string]string{"anon": ""}, users: map[string]user{},
		posts: map[string]int64{}, circle: map[string]int64{}, public: true}
	for _, name := range []string{"admin", "author", "inside", "outside", "hidden"} {
		u := e.signUp(name)
		w.users[name], w.tokens[name] = u, u.Token
	}
	author := w.tokens["author"]
	w.posts["old"] = e.postWith(author, map[string]any{"content": "from long ago"}).ID
	clock.Advance(10 * 24 * time.Hour)
	for _, c := range []string{"inside", "hidden"} {
		var body struct {
			ID int64 `json:"id"`
		}
		e.do("POST", "/circles", author, map[string]string{"name": "circle " + c}).wantStatus(t, 201).json(t, &body)
		w.circle[c] = body.ID
		e.do("PUT", fmt.Sprintf("/circles/%d/members/%s", body.ID, c), author, nil).wantStatus(t, 204)
	}
	for _, p := range []struct {
		name string
		body map[string]any
	}{
		{"members", map[string]any{"content": "for members", "audience": "members"}},
		{"hidden", map[string]any{"content": "not for hidden", "audience": "members", "hidden_from": []int64{w.circle["hidden"]}}},
		{"circles", map[string]any{"content": "for the circle", "audience": "circles", "circle_ids": []int64{w.circle["inside"]}}},
		{"onlyme", map[string]any{"content": "for me", "audience": "only_me"}},
		{"public", map[string]any{"content": "for everyone", "audience": "public"}},
	} {
		w.posts[p.name] = e.postWith(author, p.body).ID
		clock.Advance(time.Minute)
	}
	// The window is set after the posts were made: it applies to them.
	e.do("PATCH", "/users/me", author, map[string]any{"history_visible_days": 3}).wantStatus(t, 200)
	return w
}

// check holds every path to the matrix.
func (w *audienceWorld) check(t *testing.T, phase string, matrix map[string]sees) {
	t.Helper()
	e := w.e
	for _, viewer := range viewers {
		token := w.tokens[viewer]
		visitor := viewer == "anon"
		if visitor && !w.public {
			e.do("GET", "/posts", token, nil).wantStatus(t, 401)
			continue
		}
		feed := walk(t, e, "/posts", token)
		var timeline []int64
		if visitor && !slices.ContainsFunc(slices.Collect(maps.Values(matrix)), func(r sees) bool { return r.by(viewer) }) {
			// A visitor learns of a member through public posts alone.
			e.do("GET", "/users/author/posts", token, nil).wantProblem(t, 404, "")
			e.do("GET", "/users/author", token, nil).wantProblem(t, 404, "")
		} else {
			timeline = walk(t, e, "/users/author/posts", token)
		}
		for name, row := range matrix {
			id := w.posts[name]
			seen := row.by(viewer)
			where := fmt.Sprintf("%s: post %q as %s", phase, name, viewer)
			if got := slices.Contains(feed, id); got != seen {
				t.Errorf("%s: in the feed %v, want %v", where, got, seen)
			}
			if got := slices.Contains(timeline, id); got != seen {
				t.Errorf("%s: in the timeline %v, want %v", where, got, seen)
			}
			read, write, edit, remove := 404, 404, 404, 404
			if seen {
				read, write, edit, remove = 200, 204, 403, 403
			}
			switch {
			case viewer == "author":
				edit, remove = 200, 0 // deleting is checked on posts of its own
			case viewer == "admin":
				remove = 0 // an admin may delete any post: below
			case visitor:
				write, edit, remove = 401, 401, 401
			}
			path := fmt.Sprintf("/posts/%d", id)
			comment := write
			if comment == 204 {
				comment = 201
			}
			for _, op := range []struct {
				method, path string
				body         any
				want         int
			}{
				{"GET", path, nil, read},
				{"GET", path + "/comments", nil, read},
				{"GET", path + "/likes", nil, read},
				{"PUT", path + "/like", nil, write},
				{"DELETE", path + "/like", nil, write},
				{"POST", path + "/comments", map[string]string{"content": "seen by " + viewer}, comment},
				{"PATCH", path, map[string]any{}, edit},
				{"DELETE", path, nil, remove},
			} {
				if op.want == 0 {
					continue
				}
				res := e.do(op.method, op.path, token, op.body)
				if res.StatusCode != op.want {
					t.Errorf("%s: %s %s = %d, want %d: %s", where, op.method, op.path, res.StatusCode, op.want, res.body)
					continue
				}
				if op.want == 404 && !strings.Contains(res.text(), "No such post.") {
					t.Errorf("%s: %s %s: a 404 unlike that of a missing post: %s", where, op.method, op.path, res.body)
				}
				if op.method == "GET" && op.path == path && res.StatusCode == 200 {
					var p apiPost
					res.json(t, &p)
					if mine := viewer == "author"; (p.CircleIDs != nil) != mine || (p.HiddenFrom != nil) != mine {
						t.Errorf("%s: circle_ids %v, hidden_from %v: only the author learns them", where, p.CircleIDs, p.HiddenFrom)
					}
				}
			}
		}
	}
	// A post nobody has is what an unseen post is.
	e.do("GET", "/posts/999999", w.tokens["outside"], nil).wantProblem(t, 404, "")
}

// walk follows a list's cursors two posts at a time and returns the IDs
// in order, failing on a duplicate or a post out of order.
func walk(t *testing.T, e *testEnv, path, token string) []int64 {
	t.Helper()
	var ids []int64
	var created []string
	cursor := ""
	for range 1000 {
		var page apiPostPage
		e.do("GET", path+"?limit=2"+cursor, token, nil).wantStatus(t, 200).json(t, &page)
		for _, p := range page.Items {
			if slices.Contains(ids, p.ID) {
				t.Errorf("%s: post %d twice", path, p.ID)
			}
			if n := len(created); n > 0 && p.CreatedAt > created[n-1] {
				t.Errorf("%s: post %d out of order", path, p.ID)
			}
			ids, created = append(ids, p.ID), append(created, p.CreatedAt)
		}
		if page.NextCursor == nil {
			return ids
		}
		cursor = "&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	t.Fatalf("%s: more than 1000 pages", path)
	return nil
}

func TestAudienceMatrix(t *testing.T) {
	t.Parallel()
	bothFeeds(t, func(t *testing.T, feed func(*store.Options)) {
		w := newAudienceWorld(t, feed)
		author := w.tokens["author"]
		//                            anon author inside outside hidden admin
		matrix := map[string]sees{
			"members": "-  y  y  y  y  y",
			"hidden":  "-  y  y  y  -  y",
			"circles": "-  y  y  -  -  -",
			"onlyme":  "-  y  -  -  -  -",
			"public":  "y  y  y  y  y  y",
			"old":     "-  y  -  -  -  -",
		}
		w.check(t, "as made", matrix)

		// A circle change: inside leaves the circle, outside joins it, hidden
		// leaves the circle the post is hidden from.
		w.e.do("DELETE", fmt.Sprintf("/circles/%d/members/inside", w.circle["inside"]), author, nil).wantStatus(t, 204)
		w.e.do("PUT", fmt.Sprintf("/circles/%d/members/outside", w.circle["inside"]), author, nil).wantStatus(t, 204)
		w.e.do("DELETE", fmt.Sprintf("/circles/%d/members/hidden", w.circle["hidden"]), author, nil).wantStatus(t, 204)
		matrix["hidden"] = "-  y  y  y  y  y"
		matrix["circles"] = "-  y  -  y  -  -"
		w.check(t, "after the circles changed", matrix)

		// Audience edits: the private post opens to members, the members'
		// post narrows to the circle, and the public one to the author.
		// The history window opens to all.
		for name, body := range map[string]map[string]any{
			"onlyme":  {"audience": "members"},
			"members": {"audience": "circles", "circle_ids": []int64{w.circle["inside"]}},
			"public":  {"audience": "only_me"},
		} {
			var p apiPost
			w.e.do("PATCH", fmt.Sprintf("/posts/%d", w.posts[name]), author, body).wantStatus(t, 200).json(t, &p)
			if p.EditedAt == nil || p.Audience != body["audience"] {
				t.Errorf("edited %s: edited_at %v, audience %q", name, p.EditedAt, p.Audience)
			}
		}
		w.e.do("PATCH", "/users/me", author, map[string]any{"history_visible_days": 0}).wantStatus(t, 200)
		matrix["onlyme"] = "-  y  y  y  y  y"
		matrix["members"] = "-  y  -  y  -  -"
		matrix["public"] = "-  y  -  -  -  -"
		matrix["old"] = "-  y  y  y  y  y"
		w.check(t, "after the audiences changed", matrix)

		// Deleting circles: a post for the deleted circle alone is the
		// author's alone; a post hidden from it is seen by its members.
		w.e.do("PUT", fmt.Sprintf("/circles/%d/members/hidden", w.circle["hidden"]), author, nil).wantStatus(t, 204)
		matrix["hidden"] = "-  y  y  y  -  y"
		w.check(t, "with hidden back in its circle", matrix)
		for _, c := range []string{"inside", "hidden"} {
			w.e.do("DELETE", fmt.Sprintf("/circles/%d", w.circle[c]), author, nil).wantStatus(t, 204)
		}
		matrix["hidden"] = "-  y  y  y  y  y"
		matrix["circles"] = "-  y  -  -  -  -"
		matrix["members"] = "-  y  -  -  -  -"
		w.check(t, "after the circles were deleted", matrix)
		var p apiPost
		w.e.do("GET", fmt.Sprintf("/posts/%d", w.posts["circles"]), author, nil).wantStatus(t, 200).json(t, &p)
		if p.Audience != "circles" || p.CircleIDs == nil || len(*p.CircleIDs) != 0 {
			t.Errorf("a post for a deleted circle: audience %q, circle_ids %v", p.Audience, p.CircleIDs)
		}
	})
}

// An instance that stops allowing public posts keeps the ones it has for
// its members, and its visitors read nothing.
func TestAudienceMatrixPublicPostsOff(t *testing.T) {
	t.Parallel()
	w := newAudienceWorld(t, nil)
	dir := w.e.cfg.DataDir
	off := newEnvWithStore(t, nil, func(d *app.Deps) {
		d.Now = w.clock.Now
		d.Config.DataDir = dir
		d.Config.TokenTTL = 90 * 24 * time.Hour
	})
	w.e, w.public = off, false
	w.check(t, "public posts off", map[string]sees{
		"members": "-  y  y  y  y  y",
		"hidden":  "-  y  y  y  -  y",
		"circles": "-  y  y  -  -  -",
		"onlyme":  "-  y  -  -  -  -",
		"public":  "-  y  y  y  y  y",
		"old":     "-  y  -  -  -  -",
	})
	// And a member cannot make a new one.
	off.do("POST", "/posts", w.tokens["author"], map[string]any{"content": "hi", "audience": "public"}).
		wantProblem(t, 422, "body.audience")
	off.do("PATCH", fmt.Sprintf("/posts/%d", w.posts["members"]), w.tokens["author"], map[string]any{"audience": "public"}).
		wantProblem(t, 422, "body.audience")
	off.do("PATCH", "/users/me", w.tokens["author"], map[string]any{"default_audience": "public"}).
		wantProblem(t, 422, "body.default_audience")
}

// Deleting: the author and an admin may delete a post whoever it is for;
// an admin deletes by ID a post they cannot read.
func TestAudienceDeletes(t *testing.T) {
	t.Parallel()
	w := newAudienceWorld(t, nil)
	for _, deleter := range []string{"author", "admin"} {
		for _, audience := range []string{"members", "only_me", "public"} {
			p := w.e.postWith(w.tokens["author"], map[string]any{"content": "to delete", "audience": audience})
			path := fmt.Sprintf("/posts/%d", p.ID)
			w.e.do("DELETE", path, w.tokens[deleter], nil).wantStatus(t, 204)
			w.e.do("GET", path, w.tokens["author"], nil).wantProblem(t, 404, "")
		}
	}
	// Comments under a post one cannot see: not there, but for admins.
	p := w.e.postWith(w.tokens["author"], map[string]any{"content": "for the circle", "audience": "circles",
		"circle_ids": []int64{w.circle["inside"]}})
	var c struct {
		ID int64 `json:"id"`
	}
	w.e.do("POST", fmt.Sprintf("/posts/%d/comments", p.ID), w.tokens["inside"], map[string]string{"content": "mine"}).
		wantStatus(t, 201).json(t, &c)
	w.e.do("DELETE", fmt.Sprintf("/circles/%d/members/inside", w.circle["inside"]), w.tokens["author"], nil).wantStatus(t, 204)
	comment := fmt.Sprintf("/comments/%d", c.ID)
	for _, viewer := range []string{"inside", "outside"} {
		w.e.do("DELETE", comment, w.tokens[viewer], nil).wantProblem(t, 404, "")
	}
	w.e.do("DELETE", comment, w.tokens["admin"], nil).wantStatus(t, 204)
}

// A member learns nothing of posts they may not see from counts, cursors
// or the shape of pages: walking the feed with every page size gives the
// same posts, and the cursors point only at posts they see.
func TestCursorsLeakNothing(t *testing.T) {
	t.Parallel()
	w := newAudienceWorld(t, nil)
	author := w.tokens["author"]
	// Many posts the reader may not see, between posts they may.
	for i := range 60 {
		body := map[string]any{"content": fmt.Sprint("unseen ", i), "audience": "only_me"}
		if i%10 == 0 {
			body = map[string]any{"content": fmt.Sprint("seen ", i), "audience": "members"}
		}
		w.e.postWith(author, body)
		w.clock.Advance(time.Second)
	}
	out := w.tokens["outside"]
	want := walk(t, w.e, "/posts", out)
	for _, limit := range []int{1, 3, 7, 100} {
		var ids []int64
		cursor := ""
		for {
			var page apiPostPage
			w.e.do("GET", fmt.Sprintf("/posts?limit=%d%s", limit, cursor), out, nil).wantStatus(t, 200).json(t, &page)
			for _, p := range page.Items {
				ids = append(ids, p.ID)
			}
			if len(page.Items) < limit && page.NextCursor != nil {
				t.Errorf("limit %d: a short page (%d) with a next cursor", limit, len(page.Items))
			}
			if page.NextCursor == nil {
				break
			}
			if len(page.Items) != limit {
				t.Errorf("limit %d: a page of %d before the end", limit, len(page.Items))
			}
			cursor = "&cursor=" + url.QueryEscape(*page.NextCursor)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("limit %d: %v, want %v", limit, ids, want)
		}
	}
	// A cursor is a position in the list, not a permission: one taken
	// from the author's pages, which end on a private post, still shows
	// a member only what is theirs to see.
	var page apiPostPage
	w.e.do("GET", "/posts?limit=1", author, nil).wantStatus(t, 200).json(t, &page)
	var mine apiPostPage
	w.e.do("GET", "/posts?limit=1&cursor="+url.QueryEscape(*page.NextCursor), out, nil).wantStatus(t, 200).json(t, &mine)
	for _, p := range mine.Items {
		if !slices.Contains(want, p.ID) {
			t.Errorf("another's cursor showed post %d", p.ID)
		}
	}
}
