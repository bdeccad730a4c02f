package app

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"moments/store"
)

const maxCommentChars = 1000

type commentBody struct {
	ID        int64      `json:"id" example:"7"`
	PostID    int64      `json:"post_id" example:"42"`
	Author    authorBody `json:"author"`
	Content   string     `json:"content" example:"Beautiful!"`
	CreatedAt apiTime    `json:"created_at"`
}

func newCommentBody(c store.Comment) commentBody {
	return commentBody{
		ID:     c.ID,
		PostID: c.PostID,
		Author: authorBody{
			ID: c.Author.ID, Username: c.Author.Username,
			DisplayName: c.Author.DisplayName, AvatarURL: c.Author.AvatarURL,
		},
		Content:   c.Content,
		CreatedAt: apiTime(c.CreatedAt),
	}
}

type commentPageOutput struct {
	Body struct {
		Items      []commentBody `json:"items"`
		NextCursor *string       `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
	}
}

// postItemsInput is a page of a list under one post: its comments, its likes.
type postItemsInput struct {
	ID int64 `path:"id" minimum:"1" example:"42"`
	PageParams
}

type newCommentInput struct {
	ID   int64 `path:"id" minimum:"1" example:"42"`
	Body newComment
}

type newComment struct {
	Content string `json:"content" maxLength:"1000" doc:"1–1000 characters after trimming white space" example:"Beautiful!"`
}

func (c *newComment) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	var errs []error
	if err := checkLength(prefix, "content", c.Content, 1, maxCommentChars); err != nil {
		errs = append(errs, err)
	}
	if err := checkText(prefix, "content", c.Content); err != nil {
		errs = append(errs, err)
	}
	return errs
}

type commentOutput struct {
	Body commentBody
}

type commentIDInput struct {
	ID int64 `path:"id" minimum:"1" example:"7"`
}

func (s *server) registerComments() {
	register(s, huma.Operation{
		OperationID: "listComments",
		Method:      http.MethodGet,
		Path:        "/posts/{id}/comments",
		Summary:     "A post's comments, oldest first",
		Tags:        []string{"Comments"},
		Security:    s.readSecurity(),
		Errors:      []int{http.StatusNotFound},
	}, s.listComments)

	register(s, huma.Operation{
		OperationID:   "createComment",
		Method:        http.MethodPost,
		Path:          "/posts/{id}/comments",
		Summary:       "Comment on a post",
		Tags:          []string{"Comments"},
		Security:      needsToken,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusNotFound},
	}, s.createComment)

	register(s, huma.Operation{
		OperationID:   "deleteComment",
		Method:        http.MethodDelete,
		Path:          "/comments/{id}",
		Summary:       "Delete a comment",
		Description:   "Allowed for the comment's author, the post's author and admins.",
		Tags:          []string{"Comments"},
		Security:      needsToken,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusForbidden, http.StatusNotFound},
	}, s.deleteComment)
}

func (s *server) listComments(ctx context.Context, in *postItemsInput) (*commentPageOutput, error) {
	list := listComments + strconv.FormatInt(in.ID, 10)
	after, err := s.cursors.after(list, in.PageParams)
	if err != nil {
		return nil, err
	}
	me, _ := currentUser(ctx)
	comments, next, err := s.store.Comments(ctx, in.ID, me.ID, in.Limit, after)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoPost
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &commentPageOutput{}
	out.Body.Items = make([]commentBody, len(comments))
	for i, c := range comments {
		out.Body.Items[i] = newCommentBody(c)
	}
	out.Body.NextCursor = s.cursors.next(list, next)
	return out, nil
}

func (s *server) createComment(ctx context.Context, in *newCommentInput) (*commentOutput, error) {
	me, _ := currentUser(ctx)
	c, err := s.store.CreateComment(ctx, in.ID, me.ID, strings.TrimSpace(in.Body.Content))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoPost
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &commentOutput{Body: newCommentBody(c)}, nil
}

func (s *server) deleteComment(ctx context.Context, in *commentIDInput) (*struct{}, error) {
	me, _ := currentUser(ctx)
	commentAuthor, postAuthor, visible, err := s.store.CommentOwners(ctx, in.ID, me.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoComment
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if !canDeleteComment(me, visible, commentAuthor, postAuthor) {
		if !visible {
			return nil, errNoComment
		}
		return nil, huma.Error403Forbidden("Only the comment's author, the post's author or an admin may delete it.")
	}
	if err := s.store.DeleteComment(ctx, in.ID); errors.Is(err, store.ErrNotFound) {
		return nil, errNoComment
	} else if err != nil {
		return nil, s.fail(ctx, err)
	}
	return nil, nil
}

var errNoComment = huma.Error404NotFound("No such comment.")

// canDeleteComment is the one rule for deleting comments: an admin may
// delete any comment by its ID, as any post; the post's author and the
// comment's may delete it while the post is theirs to see (a comment under
// a post someone may no longer see is, for them, not there).
func canDeleteComment(me store.Principal, visible bool, commentAuthor, postAuthor int64) bool {
	return me.IsAdmin || visible && (me.ID == commentAuthor || me.ID == postAuthor)
}
