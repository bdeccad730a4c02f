package app

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"moments/store"
)

// Circles are a member's own named lists of other members, for the
// audiences of their posts. They are private to their owner: the store
// answers ErrNotFound for another member's circle, which is a 404 here, as
// for a circle that does not exist.

const maxCircleNameChars = 50

type circleBody struct {
	ID          int64   `json:"id" example:"3"`
	Name        string  `json:"name" example:"Family"`
	MemberCount int     `json:"member_count" example:"4"`
	CreatedAt   apiTime `json:"created_at"`
}

func newCircleBody(c store.Circle) circleBody {
	return circleBody{ID: c.ID, Name: c.Name, MemberCount: c.MemberCount, CreatedAt: apiTime(c.CreatedAt)}
}

type circleOutput struct {
	Body circleBody
}

type circleListOutput struct {
	Body struct {
		Items []circleBody `json:"items"`
	}
}

type circleName struct {
	Name string `json:"name" maxLength:"50" doc:"1–50 characters after trimming white space, one line; unique among your circles ignoring case" example:"Family"`
}

func (c *circleName) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	var errs []error
	if err := checkLength(prefix, "name", c.Name, 1, maxCircleNameChars); err != nil {
		errs = append(errs, err)
	}
	if err := checkSingleLine(prefix, "name", c.Name); err != nil {
		errs = append(errs, err)
	}
	return errs
}

type newCircleInput struct {
	Body circleName
}

type circleIDInput struct {
	ID int64 `path:"id" minimum:"1" example:"3"`
}

type renameCircleInput struct {
	ID   int64 `path:"id" minimum:"1" example:"3"`
	Body circleName
}

type circleMembersInput struct {
	ID int64 `path:"id" minimum:"1" example:"3"`
	PageParams
}

type circleMemberInput struct {
	ID       int64    `path:"id" minimum:"1" example:"3"`
	Username Username `path:"username"`
}

// authorPageOutput is a page of members: who liked a post, who is in a
// circle.
type authorPageOutput struct {
	Body struct {
		Items      []authorBody `json:"items"`
		NextCursor *string      `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
	}
}

// authorPageOf is the page of the members in items, each the author of.
func authorPageOf[T any](items []T, author func(T) store.Author, next *string) *authorPageOutput {
	out := &authorPageOutput{}
	out.Body.Items = make([]authorBody, len(items))
	for i, item := range items {
		out.Body.Items[i] = newAuthorBody(author(item))
	}
	out.Body.NextCursor = next
	return out
}

func newAuthorBody(a store.Author) authorBody {
	return authorBody{ID: a.ID, Username: a.Username, DisplayName: a.DisplayName, AvatarURL: a.AvatarURL}
}

func (s *server) registerCircles() {
	tags := []string{"Circles"}
	register(s, huma.Operation{
		OperationID: "listCircles", Method: http.MethodGet, Path: "/circles",
		Summary: "Your circles, by name",
		Tags:    tags, Security: needsToken,
	}, s.listCircles)
	register(s, huma.Operation{
		OperationID: "createCircle", Method: http.MethodPost, Path: "/circles", DefaultStatus: http.StatusCreated,
		Summary:     "Make a circle",
		Description: "At most 100 circles per member; a name you already use, in any letter case, is 409.",
		Tags:        tags, Security: needsToken, Errors: []int{http.StatusConflict},
	}, s.createCircle)
	register(s, huma.Operation{
		OperationID: "renameCircle", Method: http.MethodPatch, Path: "/circles/{id}",
		Summary: "Rename one of your circles",
		Tags:    tags, Security: needsToken, Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, s.renameCircle)
	register(s, huma.Operation{
		OperationID: "deleteCircle", Method: http.MethodDelete, Path: "/circles/{id}", DefaultStatus: http.StatusNoContent,
		Summary:     "Delete one of your circles",
		Description: "Posts shown to this circle alone are then seen by you alone; posts hidden from it are seen by its members again.",
		Tags:        tags, Security: needsToken, Errors: []int{http.StatusNotFound},
	}, s.deleteCircle)
	register(s, huma.Operation{
		OperationID: "listCircleMembers", Method: http.MethodGet, Path: "/circles/{id}/members",
		Summary: "The members of one of your circles, the last added first",
		Tags:    tags, Security: needsToken, Errors: []int{http.StatusNotFound},
	}, s.listCircleMembers)
	register(s, huma.Operation{
		OperationID: "addCircleMember", Method: http.MethodPut, Path: "/circles/{id}/members/{username}", DefaultStatus: http.StatusNoContent,
		Summary:     "Put a member into one of your circles (idempotent)",
		Description: "At most 1000 members per circle. Nobody is told they were added.",
		Tags:        tags, Security: needsToken, Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, s.addCircleMember)
	register(s, huma.Operation{
		OperationID: "removeCircleMember", Method: http.MethodDelete, Path: "/circles/{id}/members/{username}", DefaultStatus: http.StatusNoContent,
		Summary:     "Take a member out of one of your circles (idempotent)",
		Description: "Takes effect on the next request: posts shown to the circle are gone for them, posts hidden from it are back.",
		Tags:        tags, Security: needsToken, Errors: []int{http.StatusNotFound},
	}, s.removeCircleMember)
}

func (s *server) listCircles(ctx context.Context, _ *struct{}) (*circleListOutput, error) {
	me, _ := currentUser(ctx)
	circles, err := s.store.Circles(ctx, me.ID)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &circleListOutput{}
	out.Body.Items = make([]circleBody, len(circles))
	for i, c := range circles {
		out.Body.Items[i] = newCircleBody(c)
	}
	return out, nil
}

func (s *server) createCircle(ctx context.Context, in *newCircleInput) (*circleOutput, error) {
	me, _ := currentUser(ctx)
	c, err := s.store.CreateCircle(ctx, me.ID, in.Body.Name)
	if err != nil {
		return nil, s.circleFail(ctx, err)
	}
	return &circleOutput{Body: newCircleBody(c)}, nil
}

func (s *server) renameCircle(ctx context.Context, in *renameCircleInput) (*circleOutput, error) {
	me, _ := currentUser(ctx)
	c, err := s.store.RenameCircle(ctx, me.ID, in.ID, in.Body.Name)
	if err != nil {
		return nil, s.circleFail(ctx, err)
	}
	return &circleOutput{Body: newCircleBody(c)}, nil
}

func (s *server) deleteCircle(ctx context.Context, in *circleIDInput) (*struct{}, error) {
	me, _ := currentUser(ctx)
	if err := s.store.DeleteCircle(ctx, me.ID, in.ID); err != nil {
		return nil, s.circleFail(ctx, err)
	}
	return nil, nil
}

func (s *server) listCircleMembers(ctx context.Context, in *circleMembersInput) (*authorPageOutput, error) {
	me, _ := currentUser(ctx)
	list := "circle:" + strconv.FormatInt(in.ID, 10)
	after, err := s.cursors.after(list, in.PageParams)
	if err != nil {
		return nil, err
	}
	members, next, err := s.store.CircleMembers(ctx, me.ID, in.ID, in.Limit, after)
	if err != nil {
		return nil, s.circleFail(ctx, err)
	}
	return authorPageOf(members, func(m store.CircleMember) store.Author { return m.Author }, s.cursors.next(list, next)), nil
}

func (s *server) addCircleMember(ctx context.Context, in *circleMemberInput) (*struct{}, error) {
	me, _ := currentUser(ctx)
	if err := s.store.AddCircleMember(ctx, me.ID, in.ID, string(in.Username)); err != nil {
		return nil, s.circleFail(ctx, err)
	}
	return nil, nil
}

func (s *server) removeCircleMember(ctx context.Context, in *circleMemberInput) (*struct{}, error) {
	me, _ := currentUser(ctx)
	if err := s.store.RemoveCircleMember(ctx, me.ID, in.ID, string(in.Username)); err != nil {
		return nil, s.circleFail(ctx, err)
	}
	return nil, nil
}

// circleFail words the store's answers about circles.
func (s *server) circleFail(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound("No such circle of yours, or no member by that name.")
	case errors.Is(err, store.ErrConflict):
		return huma.Error409Conflict("You already have a circle by that name.", &huma.ErrorDetail{
			Location: "body.name", Message: "is the name of another of your circles, ignoring letter case",
		})
	case errors.Is(err, store.ErrTooMany):
		return huma.Error409Conflict("That is past the limit: at most " + strconv.Itoa(store.MaxCircles) +
			" circles, and at most " + strconv.Itoa(store.MaxCircleMembers) + " members in a circle.")
	}
	return s.fail(ctx, err)
}
