package app_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"moments/app"
	"moments/internal/testutil"
)

// authorPage is a page of Author: who liked a post, who is in a circle.
type authorPage struct {
	Items []struct {
		ID          int64  `json:"id"`
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		AvatarURL   string `json:"avatar_url"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func TestEditPost(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC))
	e := newEnv(t, func(d *app.Deps) { d.Now = clock.Now })
	alice := e.signUp("alice")
	bob := e.signUp("bob")
	p := e.post(alice.Token, "first words", "https://a.example/1.jpg")
	if p.EditedAt != nil || p.Audience != "members" {
		t.Errorf("new post: edited_at %v, audience %q", p.EditedAt, p.Audience)
	}
	path := fmt.Sprintf("/posts/%d", p.ID)
	e.do("PUT", path+"/like", bob.Token, nil).wantStatus(t, 204)
	e.do("POST", path+"/comments", bob.Token, map[string]string{"content": "nice"}).wantStatus(t, 201)

	// Nothing to change is not an edit.
	var same apiPost
	e.do("PATCH", path, alice.Token, map[string]any{}).wantStatus(t, 200).json(t, &same)
	if same.EditedAt != nil || same.Content != "first words" {
		t.Errorf("empty edit: %+v", same)
	}

	clock.Advance(time.Hour)
	var edited apiPost
	e.do("PATCH", path, alice.Token, map[string]any{"content": "  better words ", "media_urls": []string{"https://a.example/2.jpg", "https://a.example/1.jpg"}}).
		wantStatus(t, 200).json(t, &edited)
	if edited.Content != "better words" || fmt.Sprint(edited.MediaURLs) != "[https://a.example/2.jpg https://a.example/1.jpg]" ||
		edited.EditedAt == nil || *edited.EditedAt != "2026-07-01T10:00:00.000Z" || edited.CreatedAt != p.CreatedAt ||
		edited.LikeCount != 1 || edited.CommentCount != 1 {
		t.Errorf("edited post: %+v", edited)
	}
	// Everyone sees the edit at once, in every list.
	var seen apiPost
	e.do("GET", path, bob.Token, nil).wantStatus(t, 200).json(t, &seen)
	if seen.Content != "better words" || seen.EditedAt == nil || !seen.LikedByMe {
		t.Errorf("bob's view after the edit: %+v", seen)
	}
	if feed := e.feed(bob.Token, ""); len(feed.Items) != 1 || feed.Items[0].Content != "better words" || feed.Items[0].EditedAt == nil {
		t.Errorf("bob's feed after the edit: %+v", feed.Items)
	}

	// Only the author edits; unhappy paths name the field.
	e.do("PATCH", path, bob.Token, map[string]any{"content": "mine now"}).wantProblem(t, 403, "")
	e.do("PATCH", path, "", map[string]any{"content": "x"}).wantStatus(t, 401)
	e.do("PATCH", "/posts/99999", alice.Token, map[string]any{"content": "x"}).wantProblem(t, 404, "")
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{"content": strings.Repeat("x", 5001)}, "body.content"},
		{map[string]any{"content": "bad\u0000"}, "body.content"},
		{map[string]any{"media_urls": []string{"javascript:alert(1)"}}, "body.media_urls[0]"},
		{map[string]any{"media_urls": make([]string, 10)}, "body.media_urls"},
		{map[string]any{"audience": "friends"}, "body.audience"},
		{map[string]any{"audience": "circles"}, "body.circle_ids"},
		{map[string]any{"content": "x", "likes": 5}, ""},
		{`{"content":"a","Content":"b"}`, ""},
	} {
		e.do("PATCH", path, alice.Token, tc.body).wantProblem(t, 422, tc.field)
	}
	e.do("GET", path, alice.Token, nil).wantStatus(t, 200).json(t, &seen)
	if seen.Content != "better words" {
		t.Errorf("a refused edit changed the post: %+v", seen)
	}

	// Photo-only: the text may go while a photo stays, and not after.
	e.do("PATCH", path, alice.Token, map[string]any{"content": ""}).wantStatus(t, 200).json(t, &edited)
	if edited.Content != "" || len(edited.MediaURLs) != 2 {
		t.Errorf("photo-only after the edit: %+v", edited)
	}
	e.do("PATCH", path, alice.Token, map[string]any{"media_urls": []string{}}).wantProblem(t, 422, "body.content")
	e.do("PATCH", path, alice.Token, map[string]any{"content": "  ", "media_urls": []string{}}).wantProblem(t, 422, "body.content")

	// Narrowing the audience takes the post from bob at once; its circle
	// settings do not outlive the audience they were for.
	var c apiCircle
	e.do("POST", "/circles", alice.Token, map[string]string{"name": "Close"}).wantStatus(t, 201).json(t, &c)
	e.do("PATCH", path, alice.Token, map[string]any{"hidden_from": []int64{c.ID}}).wantStatus(t, 200).json(t, &edited)
	if edited.Audience != "members" || edited.HiddenFrom == nil || len(*edited.HiddenFrom) != 1 {
		t.Errorf("hidden from a circle: %+v", edited)
	}
	e.do("PATCH", path, alice.Token, map[string]any{"audience": "only_me"}).wantStatus(t, 200).json(t, &edited)
	if edited.Audience != "only_me" || edited.HiddenFrom == nil || len(*edited.HiddenFrom) != 0 {
		t.Errorf("only me: %+v", edited)
	}
	e.do("GET", path, bob.Token, nil).wantProblem(t, 404, "")
	if feed := e.feed(bob.Token, ""); len(feed.Items) != 0 {
		t.Errorf("bob's feed after narrowing: %+v", feed.Items)
	}
	e.do("PATCH", path, bob.Token, map[string]any{"content": "x"}).wantProblem(t, 404, "")
}

func TestPhotoOnlyPosts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	p := e.postWith(alice.Token, map[string]any{"content": "", "media_urls": []string{"https://a.example/1.jpg"}})
	if p.Content != "" || len(p.MediaURLs) != 1 {
		t.Errorf("photo-only post: %+v", p)
	}
	p = e.postWith(alice.Token, map[string]any{"content": " \n ", "media_urls": []string{"https://a.example/1.jpg"}})
	if p.Content != "" {
		t.Errorf("white space only with a photo: %q", p.Content)
	}
	e.do("POST", "/posts", alice.Token, map[string]any{"content": ""}).wantProblem(t, 422, "body.content")
	e.do("POST", "/posts", alice.Token, map[string]any{"content": " ", "media_urls": []string{}}).wantProblem(t, 422, "body.content")
	// content is still required, empty or not.
	e.do("POST", "/posts", alice.Token, map[string]any{"media_urls": []string{"https://a.example/1.jpg"}}).wantProblem(t, 422, "body")
}

func TestWhoLiked(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC))
	e := newEnv(t, func(d *app.Deps) { d.Now = clock.Now })
	alice := e.signUp("alice")
	p := e.post(alice.Token, "like me")
	path := fmt.Sprintf("/posts/%d/likes", p.ID)
	var page authorPage
	e.do("GET", path, alice.Token, nil).wantStatus(t, 200).json(t, &page)
	if len(page.Items) != 0 || page.NextCursor != nil {
		t.Errorf("no likes yet: %+v", page)
	}
	var names []string
	for _, name := range []string{"bob", "carol", "dave"} {
		u := e.signUp(name)
		clock.Advance(time.Second)
		e.do("PUT", fmt.Sprintf("/posts/%d/like", p.ID), u.Token, nil).wantStatus(t, 204)
		names = append([]string{name}, names...)
	}
	// Liking again does not move a like.
	e.do("PUT", fmt.Sprintf("/posts/%d/like", p.ID), e.login("bob", "password-bob"), nil).wantStatus(t, 204)
	var got []string
	cursor := ""
	for {
		e.do("GET", path+"?limit=2"+cursor, alice.Token, nil).wantStatus(t, 200).json(t, &page)
		for _, a := range page.Items {
			got = append(got, a.Username)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	if fmt.Sprint(got) != fmt.Sprint(names) {
		t.Errorf("likers %v, want the latest first %v", got, names)
	}
	e.do("GET", path+"?cursor=forged", alice.Token, nil).wantProblem(t, 422, "query.cursor")
	comments := fmt.Sprintf("/posts/%d/comments", p.ID)
	var c struct {
		NextCursor *string `json:"next_cursor"`
	}
	e.do("GET", comments+"?limit=1", alice.Token, nil).wantStatus(t, 200).json(t, &c)
	// A cursor of one list is refused by another.
	e.do("GET", path+"?limit=2", alice.Token, nil).wantStatus(t, 200).json(t, &page)
	e.do("GET", comments+"?cursor="+url.QueryEscape(*page.NextCursor), alice.Token, nil).wantProblem(t, 422, "query.cursor")
	e.do("GET", "/posts/99999/likes", alice.Token, nil).wantProblem(t, 404, "")
	e.do("GET", path, "", nil).wantStatus(t, 401)
}

func TestAudienceSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withConfig(func(c *app.Config) { c.PublicPosts = true }))
	alice := e.signUp("alice")
	bob := e.signUp("bob")
	var me struct {
		HistoryVisibleDays int     `json:"history_visible_days"`
		DefaultAudience    *string `json:"default_audience"`
	}
	e.do("GET", "/users/me", alice.Token, nil).wantStatus(t, 200).json(t, &me)
	if me.HistoryVisibleDays != 0 || me.DefaultAudience == nil || *me.DefaultAudience != "members" {
		t.Errorf("defaults: %+v", me)
	}
	e.do("PATCH", "/users/me", alice.Token, map[string]any{"history_visible_days": 180, "default_audience": "only_me"}).
		wantStatus(t, 200).json(t, &me)
	if me.HistoryVisibleDays != 180 || *me.DefaultAudience != "only_me" {
		t.Errorf("after the change: %+v", me)
	}
	// Others see the window, never the default.
	var public map[string]any
	e.do("GET", "/users/alice", bob.Token, nil).wantStatus(t, 200).json(t, &public)
	if public["history_visible_days"] != float64(180) || public["default_audience"] != nil {
		t.Errorf("alice seen by bob: %v", public)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"history_visible_days": -1}, "body.history_visible_days"},
		{map[string]any{"history_visible_days": 3651}, "body.history_visible_days"},
		{map[string]any{"history_visible_days": 1.5}, "body.history_visible_days"},
		{map[string]any{"history_visible_days": "3"}, "body.history_visible_days"},
		{map[string]any{"default_audience": "circles"}, "body.default_audience"},
		{map[string]any{"default_audience": "nobody"}, "body.default_audience"},
	} {
		e.do("PATCH", "/users/me", alice.Token, tc.body).wantProblem(t, 422, tc.field)
	}

	// The default applies when a post names no audience, and only then.
	if p := e.post(alice.Token, "by default"); p.Audience != "only_me" {
		t.Errorf("default audience: %q", p.Audience)
	}
	if p := e.postWith(alice.Token, map[string]any{"content": "named", "audience": "public"}); p.Audience != "public" {
		t.Errorf("named audience: %q", p.Audience)
	}
	e.do("PATCH", "/users/me", alice.Token, map[string]any{"default_audience": "public"}).wantStatus(t, 200)
	if p := e.post(alice.Token, "public by default"); p.Audience != "public" {
		t.Errorf("public default: %q", p.Audience)
	}
	// hidden_from goes with a default of members.
	var c apiCircle
	e.do("POST", "/circles", alice.Token, map[string]string{"name": "Work"}).wantStatus(t, 201).json(t, &c)
	e.do("POST", "/posts", alice.Token, map[string]any{"content": "x", "hidden_from": []int64{c.ID}}).wantProblem(t, 422, "body.audience")
	e.do("PATCH", "/users/me", alice.Token, map[string]any{"default_audience": "members"}).wantStatus(t, 200)
	if p := e.postWith(alice.Token, map[string]any{"content": "x", "hidden_from": []int64{c.ID}}); p.Audience != "members" || len(*p.HiddenFrom) != 1 {
		t.Errorf("hidden_from with the default: %+v", p)
	}
}
