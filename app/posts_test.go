package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"moments/app"
	"moments/store"
	"moments/store/storetest"
)

// apiPost is the API's Post object, decoded.
type apiPost struct {
	ID     int64 `json:"id"`
	Author struct {
		ID          int64  `json:"id"`
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		AvatarURL   string `json:"avatar_url"`
	} `json:"author"`
	Content      string   `json:"content"`
	MediaURLs    []string `json:"media_urls"`
	CreatedAt    string   `json:"created_at"`
	LikeCount    int64    `json:"like_count"`
	CommentCount int64    `json:"comment_count"`
	LikedByMe    bool     `json:"liked_by_me"`
	EditedAt     *string  `json:"edited_at"`
	Audience     string   `json:"audience"`
	CircleIDs    *[]int64 `json:"circle_ids"`  // the author's view only
	HiddenFrom   *[]int64 `json:"hidden_from"` // the author's view only
}

type apiPostPage struct {
	Items      []apiPost `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

func (e *testEnv) post(token, content string, media ...string) apiPost {
	e.t.Helper()
	body := map[string]any{"content": content}
	if media != nil {
		body["media_urls"] = media
	}
	var p apiPost
	e.do("POST", "/posts", token, body).wantStatus(e.t, http.StatusCreated).json(e.t, &p)
	return p
}

// postWith creates a post from a whole request body (audience, circles).
func (e *testEnv) postWith(token string, body map[string]any) apiPost {
	e.t.Helper()
	var p apiPost
	e.do("POST", "/posts", token, body).wantStatus(e.t, http.StatusCreated).json(e.t, &p)
	return p
}

func (e *testEnv) feed(token, query string) apiPostPage {
	e.t.Helper()
	var page apiPostPage
	e.do("GET", "/posts"+query, token, nil).wantStatus(e.t, 200).json(e.t, &page)
	return page
}

func TestCreateAndReadPosts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	e.do("PATCH", "/users/me", alice.Token, map[string]string{"display_name": "Alice L."}).wantStatus(t, 200)

	content := "  Line one <b>bold?</b>\n\tline two & \"quotes\" — ünïcödé 🎉  "
	media := []string{"https://b.example/2.jpg", "http://a.example/1.jpg?x=1&y=2"}
	res := e.do("POST", "/posts", alice.Token, map[string]any{"content": content, "media_urls": media}).wantStatus(t, 201)
	var p apiPost
	res.json(t, &p)
	if loc := res.Header.Get("Location"); loc != fmt.Sprintf("/posts/%d", p.ID) {
		t.Errorf("Location = %q", loc)
	}
	if p.Content != strings.TrimSpace(content) {
		t.Errorf("content = %q, want it as written (trimmed)", p.Content)
	}
	if !reflect.DeepEqual(p.MediaURLs, media) {
		t.Errorf("media = %v, want %v in order", p.MediaURLs, media)
	}
	if p.Author.Username != "alice" || p.Author.DisplayName != "Alice L." || p.LikeCount != 0 || p.LikedByMe {
		t.Errorf("post = %+v", p)
	}
	at, err := time.Parse(time.RFC3339, p.CreatedAt)
	if err != nil || time.Since(at) > time.Minute || !strings.HasSuffix(p.CreatedAt, "Z") {
		t.Errorf("created_at = %q (%v)", p.CreatedAt, err)
	}

	var got apiPost
	e.do("GET", fmt.Sprintf("/posts/%d", p.ID), alice.Token, nil).wantStatus(t, 200).json(t, &got)
	if !reflect.DeepEqual(got, p) {
		t.Errorf("GET = %+v\nPOST = %+v", got, p)
	}
	bare := e.post(alice.Token, "no photos")
	if bare.MediaURLs == nil || len(bare.MediaURLs) != 0 {
		t.Errorf("media_urls without photos = %#v, want []", bare.MediaURLs)
	}
	page := e.feed(alice.Token, "")
	if len(page.Items) != 2 || page.Items[0].ID != bare.ID || page.Items[1].ID != p.ID || page.NextCursor != nil {
		t.Errorf("feed = %+v", page)
	}
	e.do("GET", "/posts/9999", alice.Token, nil).wantProblem(t, 404, "")
	e.do("GET", "/posts/abc", alice.Token, nil).wantProblem(t, 422, "path.id")
	e.do("GET", "/posts/0", alice.Token, nil).wantProblem(t, 422, "path.id")
}

// The hand-written encoder produces exactly what encoding/json makes of the
// documented schema.
func TestPostJSONMatchesItsSchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	e.post(alice.Token, "x\u2028y <script> \"&\" \\ é", "https://a.example/p.jpg")
	res := e.do("GET", "/posts", alice.Token, nil).wantStatus(t, 200)
	var generic map[string]any
	res.json(t, &generic)
	items := generic["items"].([]any)
	keys := func(m map[string]any) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		sort.Strings(k)
		return k
	}
	item := items[0].(map[string]any)
	// The author's own view names the post's circles; nobody else's does.
	want := []string{"audience", "author", "circle_ids", "comment_count", "content", "created_at", "edited_at",
		"hidden_from", "id", "like_count", "liked_by_me", "media_urls"}
	if got := keys(item); !reflect.DeepEqual(got, want) {
		t.Errorf("post keys = %v, want %v", got, want)
	}
	bob := e.signUp("bob")
	var other map[string]any
	e.do("GET", "/posts", bob.Token, nil).wantStatus(t, 200).json(t, &other)
	want = []string{"audience", "author", "comment_count", "content", "created_at", "edited_at",
		"id", "like_count", "liked_by_me", "media_urls"}
	if got := keys(other["items"].([]any)[0].(map[string]any)); !reflect.DeepEqual(got, want) {
		t.Errorf("another member's post keys = %v, want %v", got, want)
	}
	if got := keys(item["author"].(map[string]any)); !reflect.DeepEqual(got, []string{"avatar_url", "display_name", "id", "username"}) {
		t.Errorf("author keys = %v", got)
	}
	if got := keys(generic); !reflect.DeepEqual(got, []string{"items", "next_cursor"}) {
		t.Errorf("page keys = %v", got)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestPostValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	nine := make([]string, 9)
	for i := range nine {
		nine[i] = fmt.Sprintf("https://x.example/%d.jpg", i)
	}
	long := "https://x.example/" + strings.Repeat("a", 2048-len("https://x.example/"))
	for _, tc := range []struct {
		name     string
		body     any
		status   int
		location string
	}{
		{"empty content", map[string]any{"content": ""}, 422, "body.content"},
		{"only white space", map[string]any{"content": " \n\t "}, 422, "body.content"},
		{"5001 characters", map[string]any{"content": strings.Repeat("é", 5001)}, 422, "body.content"},
		{"NUL", map[string]any{"content": "a\u0000b"}, 422, "body.content"},
		{"bell", map[string]any{"content": "a\u0007b"}, 422, "body.content"},
		{"carriage return", map[string]any{"content": "a\rb"}, 422, "body.content"},
		{"C1 control", map[string]any{"content": "a\u0085b"}, 422, "body.content"},
		{"ten media", map[string]any{"content": "x", "media_urls": append(nine, "https://x.example/9.jpg")}, 422, "body.media_urls"},
		{"javascript", map[string]any{"content": "x", "media_urls": []string{"javascript:alert(1)"}}, 422, "body.media_urls[0]"},
		{"JaVaScRiPt", map[string]any{"content": "x", "media_urls": []string{"JaVaScRiPt:alert(1)"}}, 422, "body.media_urls[0]"},
		{"leading space javascript", map[string]any{"content": "x", "media_urls": []string{" javascript:alert(1)"}}, 422, "body.media_urls[0]"},
		{"data", map[string]any{"content": "x", "media_urls": []string{"data:image/png;base64,AAAA"}}, 422, "body.media_urls[0]"},
		{"file", map[string]any{"content": "x", "media_urls": []string{"file:///etc/passwd"}}, 422, "body.media_urls[0]"},
		{"scheme-relative", map[string]any{"content": "x", "media_urls": []string{"//evil.example/a.jpg"}}, 422, "body.media_urls[0]"},
		{"no host", map[string]any{"content": "x", "media_urls": []string{"https:///a.jpg"}}, 422, "body.media_urls[0]"},
		{"relative", map[string]any{"content": "x", "media_urls": []string{"a.jpg"}}, 422, "body.media_urls[0]"},
		{"credentials", map[string]any{"content": "x", "media_urls": []string{"https://user:pw@x.example/a.jpg"}}, 422, "body.media_urls[0]"},
		{"too long", map[string]any{"content": "x", "media_urls": []string{long + "a"}}, 422, "body.media_urls[0]"},
		{"unknown media", map[string]any{"content": "x", "media_urls": []string{"https://ok.example/a.jpg", "/media/aaaaaaaaaaaaaaaaaaaaaaaaaa.jpg"}}, 422, "body.media_urls[1]"},
		{"traversal media", map[string]any{"content": "x", "media_urls": []string{"/media/../moments.db"}}, 422, "body.media_urls[0]"},
		{"media not a string", map[string]any{"content": "x", "media_urls": []any{42}}, 422, "body.media_urls[0]"},
		{"unknown field", map[string]any{"content": "x", "author_id": 2}, 422, "body.author_id"},
		{"missing content", map[string]any{"media_urls": []string{}}, 422, "body"},
		{"content not a string", `{"content": 5}`, 422, "body.content"},
		{"malformed JSON", `{"content": "x"`, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do("POST", "/posts", alice.Token, tc.body).wantProblem(t, tc.status, tc.location)
		})
	}
	if got := e.feed(alice.Token, ""); len(got.Items) != 0 {
		t.Fatalf("refused posts were stored: %+v", got.Items)
	}
	// The edges that are allowed.
	p := e.post(alice.Token, strings.Repeat("é", 5000), append(nine[:8:8], long)...)
	if len(p.MediaURLs) != 9 {
		t.Errorf("nine media: %v", p.MediaURLs)
	}
	e.post(alice.Token, "<img src=x onerror=\"window.__xss=1\">")
}

func TestFeedPagination(t *testing.T) {
	t.Parallel()
	bothFeeds(t, func(t *testing.T, feed func(*store.Options)) {
		e := newEnvWithStore(t, feed)
		alice := e.signUp("alice")
		bob := e.signUp("bob")
		var ids []int64
		for i := range 25 {
			tok := alice.Token
			if i%2 == 1 {
				tok = bob.Token
			}
			ids = append(ids, e.post(tok, fmt.Sprint(i)).ID)
		}
		// Default page size is 20.
		first := e.feed(alice.Token, "")
		if len(first.Items) != 20 || first.NextCursor == nil {
			t.Fatalf("first page: %d items, next %v", len(first.Items), first.NextCursor)
		}
		var seen []int64
		cursor := ""
		for {
			page := e.feed(alice.Token, "?limit=7"+cursor)
			for _, p := range page.Items {
				seen = append(seen, p.ID)
			}
			if page.NextCursor == nil {
				break
			}
			cursor = "&cursor=" + url.QueryEscape(*page.NextCursor)
		}
		if len(seen) != 25 {
			t.Fatalf("walked %d posts", len(seen))
		}
		for i, id := range seen {
			if id != ids[len(ids)-1-i] {
				t.Fatalf("walk = %v, want newest first", seen)
			}
		}

		// A user's timeline, and its cursors are its own.
		var tl apiPostPage
		res := e.do("GET", "/users/bob/posts?limit=5", alice.Token, nil).wantStatus(t, 200)
		res.json(t, &tl)
		if res.ContentLength != int64(len(res.body)) || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("page sent with Content-Length %d for %d bytes, Content-Type %q", res.ContentLength, len(res.body), res.Header.Get("Content-Type"))
		}
		if len(tl.Items) != 5 || tl.Items[0].Author.Username != "bob" || tl.NextCursor == nil {
			t.Fatalf("bob's timeline = %+v", tl)
		}
		for _, p := range tl.Items {
			if p.Author.Username != "bob" {
				t.Errorf("alien post in bob's timeline: %+v", p)
			}
		}
		e.do("GET", "/posts?cursor="+url.QueryEscape(*tl.NextCursor), alice.Token, nil).wantProblem(t, 422, "query.cursor")
		e.do("GET", "/users/alice/posts?cursor="+url.QueryEscape(*tl.NextCursor), alice.Token, nil).wantProblem(t, 422, "query.cursor")
		e.do("GET", "/users/bob/posts?cursor="+url.QueryEscape(*first.NextCursor), alice.Token, nil).wantProblem(t, 422, "query.cursor")
		e.do("GET", "/users/nobody/posts", alice.Token, nil).wantProblem(t, 404, "")
		e.do("GET", "/users/no-body/posts", alice.Token, nil).wantProblem(t, 422, "path.username")

		// Forged and damaged cursors are 422, never a 500 or SQL.
		good := *first.NextCursor
		for _, bad := range []string{
			"x", "garbage-garbage-garbage", good[:len(good)-1], good + "A", strings.ToUpper(good),
			"' OR 1=1 --", "MTcwMDAwMDAwMDAwMCw0Mg", strings.Repeat("A", 65), "%00", "../../etc/passwd",
		} {
			res := e.do("GET", "/posts?cursor="+url.QueryEscape(bad), alice.Token, nil)
			if bad == strings.ToUpper(good) && bad == good {
				continue
			}
			res.wantProblem(t, 422, "query.cursor")
			if strings.Contains(strings.ToLower(res.text()), "sql") {
				t.Errorf("cursor %q: body mentions SQL: %s", bad, res.body)
			}
		}
		for _, bad := range []string{"0", "101", "-5", "1e3", "abc", "99999999999999999999"} {
			e.do("GET", "/posts?limit="+bad, alice.Token, nil).wantProblem(t, 422, "query.limit")
		}
		if page := e.feed(alice.Token, "?limit=100"); len(page.Items) != 25 || page.NextCursor != nil {
			t.Errorf("limit=100: %d items, next %v", len(page.Items), page.NextCursor)
		}
		if page := e.feed(alice.Token, "?limit=1"); len(page.Items) != 1 || page.NextCursor == nil {
			t.Errorf("limit=1: %d items", len(page.Items))
		}
	})
}

// Walking the feed over HTTP while others post: every post that existed
// when the walk began is seen exactly once.
func TestFeedWalkWhilePosting(t *testing.T) {
	t.Parallel()
	bothFeeds(t, func(t *testing.T, feed func(*store.Options)) {
		e := newEnvWithStore(t, feed)
		alice := e.signUp("alice")
		bob := e.signUp("bob")
		before := map[int64]bool{}
		for i := range 60 {
			before[e.post(alice.Token, fmt.Sprint(i)).ID] = true
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
				res := e.do("POST", "/posts", bob.Token, map[string]string{"content": fmt.Sprint("new ", i)})
				if res.StatusCode != 201 {
					t.Errorf("concurrent post: %d", res.StatusCode)
					return
				}
			}
		}()
		seen := map[int64]int{}
		cursor := ""
		for {
			page := e.feed(alice.Token, "?limit=9"+cursor)
			for _, p := range page.Items {
				seen[p.ID]++
			}
			if page.NextCursor == nil {
				break
			}
			cursor = "&cursor=" + url.QueryEscape(*page.NextCursor)
		}
		close(stop)
		wg.Wait()
		for id := range before {
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

func TestLikesAndComments(t *testing.T) {
	t.Parallel()
	bothFeeds(t, func(t *testing.T, feed func(*store.Options)) {
		e := newEnvWithStore(t, feed)
		alice := e.signUp("alice")
		bob := e.signUp("bob")
		p := e.post(alice.Token, "like me")
		path := fmt.Sprintf("/posts/%d", p.ID)

		for range 2 { // idempotent
			e.do("PUT", path+"/like", bob.Token, nil).wantStatus(t, 204)
		}
		var got apiPost
		e.do("GET", path, bob.Token, nil).wantStatus(t, 200).json(t, &got)
		if got.LikeCount != 1 || !got.LikedByMe {
			t.Errorf("after bob's likes: %+v", got)
		}
		e.do("GET", path, alice.Token, nil).wantStatus(t, 200).json(t, &got)
		if got.LikeCount != 1 || got.LikedByMe {
			t.Errorf("as alice: %+v", got)
		}
		for range 2 {
			e.do("DELETE", path+"/like", bob.Token, nil).wantStatus(t, 204)
		}
		e.do("GET", path, bob.Token, nil).wantStatus(t, 200).json(t, &got)
		if got.LikeCount != 0 || got.LikedByMe {
			t.Errorf("after unlike: %+v", got)
		}
		e.do("PUT", "/posts/9999/like", bob.Token, nil).wantProblem(t, 404, "")
		e.do("DELETE", "/posts/9999/like", bob.Token, nil).wantProblem(t, 404, "")

		type apiComment struct {
			ID     int64 `json:"id"`
			PostID int64 `json:"post_id"`
			Author struct {
				Username string `json:"username"`
			} `json:"author"`
			Content   string `json:"content"`
			CreatedAt string `json:"created_at"`
		}
		var c apiComment
		e.do("POST", path+"/comments", bob.Token, map[string]string{"content": "  <b>lovely</b>  "}).
			wantStatus(t, 201).json(t, &c)
		if c.PostID != p.ID || c.Author.Username != "bob" || c.Content != "<b>lovely</b>" || c.CreatedAt == "" {
			t.Errorf("comment = %+v", c)
		}
		for _, tc := range []struct {
			name, body string
		}{
			{"empty", `{"content":""}`},
			{"blank", `{"content":"   "}`},
			{"1001 characters", `{"content":"` + strings.Repeat("ü", 1001) + `"}`},
			{"NUL", `{"content":"a\u0000"}`},
			{"unknown field", `{"content":"a","post_id":3}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.do("POST", path+"/comments", bob.Token, tc.body).wantStatus(t, 422)
			})
		}
		e.do("POST", path+"/comments", bob.Token, map[string]string{"content": strings.Repeat("ü", 1000)}).wantStatus(t, 201)
		e.do("POST", "/posts/9999/comments", bob.Token, map[string]string{"content": "x"}).wantProblem(t, 404, "")
		var comments struct {
			Items      []apiComment `json:"items"`
			NextCursor *string      `json:"next_cursor"`
		}
		e.do("GET", path+"/comments?limit=1", alice.Token, nil).wantStatus(t, 200).json(t, &comments)
		if len(comments.Items) != 1 || comments.Items[0].ID != c.ID || comments.NextCursor == nil {
			t.Fatalf("first comment page = %+v", comments)
		}
		commentCursor := *comments.NextCursor
		e.do("GET", path+"/comments?cursor="+url.QueryEscape(commentCursor), alice.Token, nil).wantStatus(t, 200).json(t, &comments)
		if len(comments.Items) != 1 || comments.NextCursor != nil {
			t.Fatalf("second comment page = %+v", comments)
		}
		other := e.post(bob.Token, "another")
		e.do("GET", fmt.Sprintf("/posts/%d/comments?cursor=%s", other.ID, url.QueryEscape(commentCursor)), alice.Token, nil).
			wantProblem(t, 422, "query.cursor")
		e.do("GET", "/posts/9999/comments", alice.Token, nil).wantProblem(t, 404, "")
		e.do("GET", path, alice.Token, nil).wantStatus(t, 200).json(t, &got)
		if got.CommentCount != 2 {
			t.Errorf("comment_count = %d", got.CommentCount)
		}
	})
}

// The authorization matrix: every post, like and comment operation as
// anonymous, the author, another user and an admin.
func TestPostAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	for _, public := range []bool{false, true} {
		t.Run(fmt.Sprintf("public read %v", public), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withConfig(func(c *app.Config) { c.PublicPosts = public }))
			admin := e.signUp("admin")
			author := e.signUp("author")
			other := e.signUp("other")
			tokens := map[string]string{"anonymous": "", "author": author.Token, "other": other.Token, "admin": admin.Token}
			read := 401
			if public {
				read = 200
			}

			// Each case gets fresh resources so deletes do not interfere.
			type fixture struct{ post, comment, otherComment int64 }
			audience := "members"
			if public {
				audience = "public" // what visitors may read
			}
			setup := func() fixture {
				p := e.postWith(author.Token, map[string]any{"content": "matrix", "audience": audience})
				var c, oc struct {
					ID int64 `json:"id"`
				}
				e.do("POST", fmt.Sprintf("/posts/%d/comments", p.ID), author.Token, map[string]string{"content": "by author"}).
					wantStatus(t, 201).json(t, &c)
				e.do("POST", fmt.Sprintf("/posts/%d/comments", p.ID), other.Token, map[string]string{"content": "by other"}).
					wantStatus(t, 201).json(t, &oc)
				return fixture{p.ID, c.ID, oc.ID}
			}
			for _, op := range []struct {
				name   string
				method string
				path   func(fixture) string
				body   any
				want   map[string]int
			}{
				{"feed", "GET", func(fixture) string { return "/posts" }, nil,
					map[string]int{"anonymous": read, "author": 200, "other": 200, "admin": 200}},
				{"post", "GET", func(f fixture) string { return fmt.Sprintf("/posts/%d", f.post) }, nil,
					map[string]int{"anonymous": read, "author": 200, "other": 200, "admin": 200}},
				{"timeline", "GET", func(fixture) string { return "/users/author/posts" }, nil,
					map[string]int{"anonymous": read, "author": 200, "other": 200, "admin": 200}},
				{"comments", "GET", func(f fixture) string { return fmt.Sprintf("/posts/%d/comments", f.post) }, nil,
					map[string]int{"anonymous": read, "author": 200, "other": 200, "admin": 200}},
				{"create post", "POST", func(fixture) string { return "/posts" }, map[string]string{"content": "hi"},
					map[string]int{"anonymous": 401, "author": 201, "other": 201, "admin": 201}},
				{"like", "PUT", func(f fixture) string { return fmt.Sprintf("/posts/%d/like", f.post) }, nil,
					map[string]int{"anonymous": 401, "author": 204, "other": 204, "admin": 204}},
				{"unlike", "DELETE", func(f fixture) string { return fmt.Sprintf("/posts/%d/like", f.post) }, nil,
					map[string]int{"anonymous": 401, "author": 204, "other": 204, "admin": 204}},
				{"comment", "POST", func(f fixture) string { return fmt.Sprintf("/posts/%d/comments", f.post) }, map[string]string{"content": "hi"},
					map[string]int{"anonymous": 401, "author": 201, "other": 201, "admin": 201}},
				{"delete post", "DELETE", func(f fixture) string { return fmt.Sprintf("/posts/%d", f.post) }, nil,
					map[string]int{"anonymous": 401, "author": 204, "other": 403, "admin": 204}},
				{"delete author's comment", "DELETE", func(f fixture) string { return fmt.Sprintf("/comments/%d", f.comment) }, nil,
					map[string]int{"anonymous": 401, "author": 204, "other": 403, "admin": 204}},
				// Other's comment on the author's post: the post's author may
				// delete it too.
				{"delete other's comment", "DELETE", func(f fixture) string { return fmt.Sprintf("/comments/%d", f.otherComment) }, nil,
					map[string]int{"anonymous": 401, "author": 204, "other": 204, "admin": 204}},
			} {
				for _, caller := range []string{"anonymous", "author", "other", "admin"} {
					f := setup()
					res := e.do(op.method, op.path(f), tokens[caller], op.body)
					if res.StatusCode != op.want[caller] {
						t.Errorf("%s as %s: %d, want %d: %s", op.name, caller, res.StatusCode, op.want[caller], res.body)
					}
					if res.StatusCode == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("%s as %s: 401 without WWW-Authenticate", op.name, caller)
					}
				}
			}

			// Deleting what is gone is 404; a refused delete leaves it.
			f := setup()
			e.do("DELETE", fmt.Sprintf("/posts/%d", f.post), other.Token, nil).wantStatus(t, 403)
			e.do("GET", fmt.Sprintf("/posts/%d", f.post), other.Token, nil).wantStatus(t, 200)
			e.do("DELETE", fmt.Sprintf("/comments/%d", f.comment), other.Token, nil).wantStatus(t, 403)
			e.do("DELETE", fmt.Sprintf("/posts/%d", f.post), author.Token, nil).wantStatus(t, 204)
			e.do("DELETE", fmt.Sprintf("/posts/%d", f.post), author.Token, nil).wantProblem(t, 404, "")
			e.do("DELETE", fmt.Sprintf("/comments/%d", f.comment), author.Token, nil).wantProblem(t, 404, "")
			e.do("GET", fmt.Sprintf("/posts/%d/comments", f.post), author.Token, nil).wantProblem(t, 404, "")

			// Anonymous readers never like anything.
			if public {
				p := e.postWith(author.Token, map[string]any{"content": "liked", "audience": "public"})
				e.do("PUT", fmt.Sprintf("/posts/%d/like", p.ID), other.Token, nil).wantStatus(t, 204)
				var got apiPost
				e.do("GET", fmt.Sprintf("/posts/%d", p.ID), "", nil).wantStatus(t, 200).json(t, &got)
				if got.LikedByMe || got.LikeCount != 1 {
					t.Errorf("anonymous view: %+v", got)
				}
			}
		})
	}
}

// One feed request runs one SQL statement: its page. The token's account
// check is answered by the store's account cache once the account has been
// seen.
func TestFeedRequestStatements(t *testing.T) {
	t.Parallel()
	bothFeeds(t, func(t *testing.T, feed func(*store.Options)) {
		var counter storetest.Counter
		e := newEnvWithStore(t, func(o *store.Options) { feed(o); o.WrapReader = counter.Wrap },
			withConfig(func(c *app.Config) { c.PublicPosts = true }))
		alice := e.signUp("alice")
		bob := e.signUp("bob")
		// Visitors see public posts only.
		e.do("PATCH", "/users/me", alice.Token, map[string]string{"default_audience": "public"}).wantStatus(t, 200)
		for i := range 150 {
			p := e.post(alice.Token, fmt.Sprint(i), "https://x.example/a.jpg")
			if i%3 == 0 {
				e.do("PUT", fmt.Sprintf("/posts/%d/like", p.ID), bob.Token, nil).wantStatus(t, 204)
			}
		}
		deep := e.feed("", "?limit=100").NextCursor
		for _, limit := range []int{1, 20, 100} {
			for _, cursor := range []string{"", "&cursor=" + url.QueryEscape(*deep)} {
				for _, caller := range []struct {
					token string
					want  int64
				}{{"", 1}, {bob.Token, 1}} {
					before := counter.Count()
					page := e.feed(caller.token, fmt.Sprintf("?limit=%d%s", limit, cursor))
					if n := counter.Count() - before; n != caller.want {
						t.Errorf("limit %d, cursor %v, signed in %v: %d statements, want %d",
							limit, cursor != "", caller.token != "", n, caller.want)
					}
					if len(page.Items) == 0 {
						t.Errorf("empty page")
					}
				}
			}
		}
	})
}

// 50 concurrent likers and unlikers over HTTP leave a counter that matches.
func TestConcurrentLikesOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	author := e.signUp("author")
	p := e.post(author.Token, "popular")
	var fans []user
	for i := range 10 {
		fans = append(fans, e.signUp(fmt.Sprintf("fan%02d", i)))
	}
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fan := fans[g%len(fans)]
			for i := range 6 {
				method := "PUT"
				if (g+i)%2 == 0 {
					method = "DELETE"
				}
				if res := e.do(method, fmt.Sprintf("/posts/%d/like", p.ID), fan.Token, nil); res.StatusCode != 204 {
					t.Errorf("%s like: %d", method, res.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	likedBy := 0
	for _, fan := range fans {
		var got apiPost
		e.do("GET", fmt.Sprintf("/posts/%d", p.ID), fan.Token, nil).wantStatus(t, 200).json(t, &got)
		if got.LikedByMe {
			likedBy++
		}
	}
	var got apiPost
	e.do("GET", fmt.Sprintf("/posts/%d", p.ID), author.Token, nil).wantStatus(t, 200).json(t, &got)
	if got.LikeCount != int64(likedBy) {
		t.Fatalf("like_count = %d, but %d fans see their like", got.LikeCount, likedBy)
	}
}

// A post's unchanging fields are rendered once and reused: the reused bytes
// are exactly what a fresh rendering gives, a profile change shows on the
// next page, and counters are never reused.
func TestFeedReusesRenderings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	bob := e.signUp("bob")
	e.post(alice.Token, "tab\there, \"quoted\" <b>markup</b> & \u2028 🎉", "https://x.example/a.jpg")
	p := e.post(bob.Token, "second")

	first := e.do("GET", "/posts", alice.Token, nil).wantStatus(t, 200).text()
	second := e.do("GET", "/posts", alice.Token, nil).wantStatus(t, 200).text()
	if first != second {
		t.Errorf("a reused rendering differs:\n%s\n%s", first, second)
	}
	single := e.do("GET", fmt.Sprintf("/posts/%d", p.ID), alice.Token, nil).wantStatus(t, 200).text()
	if !strings.Contains(first, single) {
		t.Errorf("the page's rendering of post %d differs from GET /posts/%d:\n%s\n%s", p.ID, p.ID, first, single)
	}

	e.do("PATCH", "/users/me", bob.Token, map[string]string{"display_name": "Bob B."}).wantStatus(t, 200)
	e.do("PUT", fmt.Sprintf("/posts/%d/like", p.ID), alice.Token, nil).wantStatus(t, 204)
	page := e.feed(alice.Token, "")
	if got := page.Items[0]; got.Author.DisplayName != "Bob B." || got.LikeCount != 1 || !got.LikedByMe {
		t.Errorf("after a profile change and a like: %+v", got)
	}
}
