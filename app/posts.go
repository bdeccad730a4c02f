package app

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"moments/internal/onewrite"
	"moments/store"
)

// Limits of a post.
const (
	maxPostChars    = 5000
	maxMediaPerPost = 9
)

// authorBody is a post's or comment's author.
type authorBody struct {
	ID          int64  `json:"id" example:"1"`
	Username    string `json:"username" example:"alice"`
	DisplayName string `json:"display_name" example:"Alice Liddell"`
	AvatarURL   string `json:"avatar_url" example:"/media/3k2j1h4g5f6d7s8a9p0o1i2u3y.jpg"`
}

// postBody documents the Post object. Posts are written by appendPost,
// which produces exactly this shape.
type postBody struct {
	ID           int64      `json:"id" example:"42"`
	Author       authorBody `json:"author"`
	Content      string     `json:"content" example:"First swim of the year!" doc:"Empty for a photo-only post"`
	MediaURLs    []string   `json:"media_urls" example:"[\"/media/3k2j1h4g5f6d7s8a9p0o1i2u3y.jpg\"]"`
	CreatedAt    apiTime    `json:"created_at"`
	EditedAt     *apiTime   `json:"edited_at" doc:"null until the post is edited"`
	Audience     string     `json:"audience" enum:"members,circles,only_me,public" doc:"Who may see it"`
	LikeCount    int64      `json:"like_count"`
	CommentCount int64      `json:"comment_count"`
	LikedByMe    bool       `json:"liked_by_me" doc:"false for anonymous readers"`
	CircleIDs    *[]int64   `json:"circle_ids,omitempty" doc:"The author's view only: the circles a post for circles is shown to"`
	HiddenFrom   *[]int64   `json:"hidden_from,omitempty" doc:"The author's view only: the circles a post for members is hidden from"`
}

// postPageBody documents a page of posts.
type postPageBody struct {
	Items      []postBody `json:"items"`
	NextCursor *string    `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// rawJSON is an output written as is: the bytes come from appendPost. A
// known length lets net/http send the page in one write instead of chunks.
type rawJSON struct {
	ContentType   string `header:"Content-Type"`
	ContentLength string `header:"Content-Length"`
	Location      string `header:"Location"`
	Body          []byte
}

func newRawJSON(body []byte) *rawJSON {
	return &rawJSON{ContentType: "application/json", ContentLength: strconv.Itoa(len(body)), Body: body}
}

type newPostInput struct {
	Body newPost
}

type newPost struct {
	Content    string   `json:"content" maxLength:"5000" doc:"1–5000 characters after trimming white space, or empty when the post has a photo; plain text (newlines kept)" example:"First swim of the year!"`
	MediaURLs  []string `json:"media_urls,omitempty" maxItems:"9" doc:"Up to 9 photos: absolute http(s) URLs or /media/ paths from POST /media, in display order"`
	Audience   string   `json:"audience,omitempty" enum:"members,circles,only_me,public" doc:"Who may see it; your default_audience when left out. public only where the instance allows public posts"`
	CircleIDs  []int64  `json:"circle_ids,omitempty" maxItems:"20" doc:"For an audience of circles: 1–20 of your circles"`
	HiddenFrom []int64  `json:"hidden_from,omitempty" maxItems:"20" doc:"For an audience of members: up to 20 of your circles whose members do not see the post"`
}

func (p *newPost) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	return checkPostContent(prefix, p.Content, len(p.MediaURLs) > 0)
}

// checkPostContent checks a post's text: 1–5000 characters, or none when
// the post has photos.
func checkPostContent(prefix *huma.PathBuffer, content string, photos bool) []error {
	var errs []error
	least := 1
	if photos {
		least = 0
	}
	if err := checkLength(prefix, "content", content, least, maxPostChars); err != nil {
		errs = append(errs, err)
	}
	if err := checkText(prefix, "content", content); err != nil {
		errs = append(errs, err)
	}
	return errs
}

type postPatchInput struct {
	ID   int64 `path:"id" minimum:"1" example:"42"`
	Body postPatch
}

type postPatch struct {
	Content    *string   `json:"content,omitempty" maxLength:"5000" doc:"As for a new post; empty only when the post keeps a photo"`
	MediaURLs  *[]string `json:"media_urls,omitempty" maxItems:"9" doc:"The post's photos, all of them, in display order"`
	Audience   *string   `json:"audience,omitempty" enum:"members,circles,only_me,public" doc:"A new audience; the circles of the old one do not carry over"`
	CircleIDs  *[]int64  `json:"circle_ids,omitempty" maxItems:"20" doc:"For an audience of circles: 1–20 of your circles"`
	HiddenFrom *[]int64  `json:"hidden_from,omitempty" maxItems:"20" doc:"For an audience of members: up to 20 of your circles"`
}

func (p *postPatch) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	if p.Content == nil {
		return nil
	}
	// Whether the post keeps a photo is the store's to say when the
	// photos are left as they are; here only the text itself is checked.
	photos := p.MediaURLs == nil || len(*p.MediaURLs) > 0
	return checkPostContent(prefix, *p.Content, photos)
}

type postIDInput struct {
	ID int64 `path:"id" minimum:"1" example:"42"`
}

type timelineInput struct {
	Username Username `path:"username"`
	PageParams
}

// The lists cursors belong to: a cursor from one is refused by another.
const (
	listFeed     = "feed"
	listTimeline = "timeline:"
	listComments = "comments:"
	listLikes    = "likes:"
)

// pageBuffers recycles the buffers pages are encoded into; one that grew
// past maxPooledPage (a page of long posts) is left to the collector.
var pageBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

const maxPooledPage = 256 << 10

func (s *server) registerPosts() {
	page := s.jsonResponse(reflect.TypeFor[postPageBody](), "PostPage", "A page of posts, newest first")
	post := s.jsonResponse(reflect.TypeFor[postBody](), "Post", "The post")
	register(s, huma.Operation{
		OperationID: "listPosts", Method: http.MethodGet, Path: "/posts",
		Summary:     "The feed: everyone's posts, newest first",
		Description: "Keyset-paginated: follow next_cursor. Walking the cursors visits every post exactly once, even while new ones are posted.",
		Tags:        []string{"Posts"}, Security: s.readSecurity(),
		Responses: map[string]*huma.Response{"200": page},
	}, s.listPosts)
	register(s, huma.Operation{
		OperationID: "listUserPosts", Method: http.MethodGet, Path: "/users/{username}/posts",
		Summary: "A user's posts, newest first",
		Tags:    []string{"Posts"}, Security: s.readSecurity(), Errors: []int{http.StatusNotFound},
		Responses: map[string]*huma.Response{"200": page},
	}, s.listUserPosts)
	register(s, huma.Operation{
		OperationID: "createPost", Method: http.MethodPost, Path: "/posts", DefaultStatus: http.StatusCreated,
		Summary: "Post a moment",
		Tags:    []string{"Posts"}, Security: needsToken, MaxBodyBytes: postBodyBytes,
		Responses: map[string]*huma.Response{"201": post},
	}, s.createPost)
	register(s, huma.Operation{
		OperationID: "getPost", Method: http.MethodGet, Path: "/posts/{id}",
		Summary: "One post",
		Tags:    []string{"Posts"}, Security: s.readSecurity(), Errors: []int{http.StatusNotFound},
		Responses: map[string]*huma.Response{"200": post},
	}, s.getPost)
	register(s, huma.Operation{
		OperationID: "updatePost", Method: http.MethodPatch, Path: "/posts/{id}",
		Summary:     "Edit a post: its text, photos or audience",
		Description: "The author only. Fields left out stay as they are; a new audience takes its own circle_ids or hidden_from, those of the old one do not carry over. Sets edited_at; likes and comments stay.",
		Tags:        []string{"Posts"}, Security: needsToken, MaxBodyBytes: postBodyBytes,
		Errors:    []int{http.StatusForbidden, http.StatusNotFound},
		Responses: map[string]*huma.Response{"200": post},
	}, s.updatePost)
	register(s, huma.Operation{
		OperationID: "listLikes", Method: http.MethodGet, Path: "/posts/{id}/likes",
		Summary: "Who liked a post, the latest like first",
		Tags:    []string{"Posts"}, Security: s.readSecurity(), Errors: []int{http.StatusNotFound},
	}, s.listLikes)
	register(s, huma.Operation{
		OperationID: "deletePost", Method: http.MethodDelete, Path: "/posts/{id}", DefaultStatus: http.StatusNoContent,
		Summary:     "Delete a post with its likes and comments",
		Description: "Allowed for the post's author, and for admins whoever the post is for.",
		Tags:        []string{"Posts"}, Security: needsToken, Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}, s.deletePost)
	register(s, huma.Operation{
		OperationID: "likePost", Method: http.MethodPut, Path: "/posts/{id}/like", DefaultStatus: http.StatusNoContent,
		Summary: "Like a post (idempotent)",
		Tags:    []string{"Posts"}, Security: needsToken, Errors: []int{http.StatusNotFound},
	}, s.likePost)
	register(s, huma.Operation{
		OperationID: "unlikePost", Method: http.MethodDelete, Path: "/posts/{id}/like", DefaultStatus: http.StatusNoContent,
		Summary: "Take back a like (idempotent)",
		Tags:    []string{"Posts"}, Security: needsToken, Errors: []int{http.StatusNotFound},
	}, s.unlikePost)
}

func (s *server) listPosts(ctx context.Context, in *PageParams) (*pageJSON, error) {
	return s.postPage(ctx, listFeed, nil, *in)
}

func (s *server) listUserPosts(ctx context.Context, in *timelineInput) (*pageJSON, error) {
	u, err := s.visibleUser(ctx, in.Username)
	if err != nil {
		return nil, err
	}
	return s.postPage(ctx, listTimeline+strconv.FormatInt(u.ID, 10), &u.ID, in.PageParams)
}

func (s *server) createPost(ctx context.Context, in *newPostInput) (*rawJSON, error) {
	me, _ := currentUser(ctx)
	if err := s.checkMediaURLs(in.Body.MediaURLs); err != nil {
		return nil, err
	}
	aud := store.DefaultAudience
	if in.Body.Audience != "" {
		aud, _ = store.ParseAudience(in.Body.Audience) // the schema's enum let only a known one through
	}
	p, err := s.store.CreatePost(ctx, me.ID, store.PostInput{
		Content: strings.TrimSpace(in.Body.Content), MediaURLs: in.Body.MediaURLs,
		Audience: aud, CircleIDs: in.Body.CircleIDs, HiddenFrom: in.Body.HiddenFrom,
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := s.postJSON(&p, me.ID)
	out.Location = "/posts/" + strconv.FormatInt(p.ID, 10)
	return out, nil
}

// checkMediaURLs checks a post's photos.
func (s *server) checkMediaURLs(urls []string) error {
	for i, u := range urls {
		if err := s.checkMediaURL("body.media_urls["+strconv.Itoa(i)+"]", u); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) getPost(ctx context.Context, in *postIDInput) (*rawJSON, error) {
	me, _ := currentUser(ctx)
	p, err := s.store.Post(ctx, in.ID, me.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoPost
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return s.postJSON(&p, me.ID), nil
}

func (s *server) updatePost(ctx context.Context, in *postPatchInput) (*rawJSON, error) {
	me, _ := currentUser(ctx)
	if err := s.postAccess(ctx, in.ID, me, editPost); err != nil {
		return nil, err
	}
	b := in.Body
	var ch store.PostChange
	if b.Content != nil {
		content := strings.TrimSpace(*b.Content)
		ch.Content = &content
	}
	if b.MediaURLs != nil {
		if err := s.checkMediaURLs(*b.MediaURLs); err != nil {
			return nil, err
		}
		ch.MediaURLs = b.MediaURLs
	}
	if b.Audience != nil {
		aud, _ := store.ParseAudience(*b.Audience) // the schema's enum let only a known one through
		ch.Audience = &aud
	}
	ch.CircleIDs, ch.HiddenFrom = b.CircleIDs, b.HiddenFrom
	p, err := s.store.UpdatePost(ctx, in.ID, me.ID, ch)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoPost // deleted since postAccess looked
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return s.postJSON(&p, me.ID), nil
}

func (s *server) deletePost(ctx context.Context, in *postIDInput) (*struct{}, error) {
	me, _ := currentUser(ctx)
	if err := s.postAccess(ctx, in.ID, me, removePost); err != nil {
		return nil, err
	}
	if err := s.store.DeletePost(ctx, in.ID); errors.Is(err, store.ErrNotFound) {
		return nil, errNoPost
	} else if err != nil {
		return nil, s.fail(ctx, err)
	}
	return nil, nil
}

// What a caller wants to do to a post, for postAccess.
type postAction int

const (
	editPost postAction = iota
	removePost
)

// postAccess is the one rule for changing and deleting posts: the author
// may do both, an admin may delete any post by its ID (seen or not), and
// anyone else who can see the post is refused (403). For everyone else the
// post does not exist (404), exactly as for a post that does not.
func (s *server) postAccess(ctx context.Context, id int64, me store.Principal, act postAction) error {
	author, visible, err := s.store.PostOwner(ctx, id, me.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errNoPost
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	switch {
	case me.ID == author:
		return nil
	case act == removePost && me.IsAdmin:
		return nil
	case !visible:
		return errNoPost
	case act == editPost:
		return huma.Error403Forbidden("Only the post's author may edit it.")
	default:
		return huma.Error403Forbidden("Only the post's author or an admin may delete it.")
	}
}

func (s *server) listLikes(ctx context.Context, in *postItemsInput) (*authorPageOutput, error) {
	me, _ := currentUser(ctx)
	list := listLikes + strconv.FormatInt(in.ID, 10)
	after, err := s.cursors.after(list, in.PageParams)
	if err != nil {
		return nil, err
	}
	likers, next, err := s.store.Likes(ctx, in.ID, me.ID, in.Limit, after)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoPost
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return authorPageOf(likers, func(l store.Liker) store.Author { return l.Author }, s.cursors.next(list, next)), nil
}

func (s *server) likePost(ctx context.Context, in *postIDInput) (*struct{}, error) {
	return s.setLike(ctx, in.ID, s.store.Like)
}

func (s *server) unlikePost(ctx context.Context, in *postIDInput) (*struct{}, error) {
	return s.setLike(ctx, in.ID, s.store.Unlike)
}

// setLike likes or unlikes (apply) a post as the signed-in user.
func (s *server) setLike(ctx context.Context, post int64, apply func(context.Context, int64, int64) error) (*struct{}, error) {
	me, _ := currentUser(ctx)
	err := apply(ctx, post, me.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoPost
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return nil, nil
}

var (
	errNoPost = huma.Error404NotFound("No such post.")
	errNoUser = huma.Error404NotFound("No user by that name.")
)

// postPage runs one page query and encodes it.
func (s *server) postPage(ctx context.Context, list string, author *int64, in PageParams) (*pageJSON, error) {
	after, err := s.cursors.after(list, in)
	if err != nil {
		return nil, err
	}
	me, _ := currentUser(ctx)
	page, err := s.store.Feed(ctx, store.FeedQuery{AuthorID: author, Viewer: me.ID, Limit: in.Limit, After: after})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	var next string
	if c := s.cursors.next(list, page.Next); c != nil {
		next = *c
	}
	bp := pageBuffers.Get().(*[]byte)
	b := appendPostPage((*bp)[:0], page.Posts, me.ID, next)
	return &pageJSON{Body: func(ctx huma.Context) {
		r, w := humago.Unwrap(ctx)
		w.Header()["Content-Type"] = jsonContentType
		_ = onewrite.Write(r.Context(), w, http.StatusOK, b)
		if cap(b) <= maxPooledPage {
			*bp = b
			pageBuffers.Put(bp)
		}
	}}, nil
}

// jsonContentType is shared by every page's header map: the slice is full
// (len == cap), so Header.Add appends to a copy, and Header.Set replaces it.
var jsonContentType = []string{"application/json"}

// pageJSON is a page of posts written from a pooled buffer, which goes back
// to the pool once written, so a page costs no allocation of its size. The
// page goes out with its header in one write (package onewrite).
type pageJSON struct {
	Body func(huma.Context)
}

// postJSON is one post as viewer sees it.
func (s *server) postJSON(p *store.Post, viewer int64) *rawJSON {
	return newRawJSON(appendPost(make([]byte, 0, 512), p, viewer))
}

// jsonResponse documents a response written by hand as the JSON schema of
// typ, so the OpenAPI document shows the real shape instead of bytes.
func (s *server) jsonResponse(typ reflect.Type, name, description string) *huma.Response {
	return &huma.Response{
		Description: description,
		Content: map[string]*huma.MediaType{"application/json": {
			Schema: s.api.OpenAPI().Components.Schemas.Schema(typ, true, name),
		}},
	}
}
