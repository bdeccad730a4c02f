package app

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"moments/store"
)

type userPageOutput struct {
	Body struct {
		Items      []userBody `json:"items"`
		NextCursor *string    `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
	}
}

type accountInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body struct {
		IsAdmin  *bool `json:"is_admin,omitempty" doc:"Make the user an admin, or not"`
		Disabled *bool `json:"disabled,omitempty" doc:"A disabled user's tokens stop working at once and it cannot sign in"`
	}
}

const listUsers = "users"

func (s *server) registerAdmin() {
	register(s, huma.Operation{
		OperationID: "listUsers",
		Method:      http.MethodGet,
		Path:        "/admin/users",
		Summary:     "All accounts, newest first",
		Tags:        []string{"Admin"},
		Security:    needsToken,
		Metadata:    adminOnly(),
		Errors:      []int{http.StatusForbidden},
	}, s.listUsers)

	register(s, huma.Operation{
		OperationID: "updateUser",
		Method:      http.MethodPatch,
		Path:        "/admin/users/{id}",
		Summary:     "Promote, demote, disable or enable an account",
		Description: "An admin cannot demote or disable themselves, and the last active admin cannot be demoted or disabled (409).",
		Tags:        []string{"Admin"},
		Security:    needsToken,
		Metadata:    adminOnly(),
		Errors:      []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, s.updateUser)
}

func (s *server) listUsers(ctx context.Context, in *PageParams) (*userPageOutput, error) {
	after, err := s.cursors.after(listUsers, *in)
	if err != nil {
		return nil, err
	}
	users, next, err := s.store.ListUsers(ctx, in.Limit, after)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &userPageOutput{}
	out.Body.Items = make([]userBody, len(users))
	for i, u := range users {
		out.Body.Items[i] = s.userBody(u, adminView)
	}
	out.Body.NextCursor = s.cursors.next(listUsers, next)
	return out, nil
}

func (s *server) updateUser(ctx context.Context, in *accountInput) (*userOutput, error) {
	me, _ := currentUser(ctx)
	if in.ID == me.ID && (in.Body.IsAdmin != nil && !*in.Body.IsAdmin || in.Body.Disabled != nil && *in.Body.Disabled) {
		// Locking oneself out is never what an admin meant to do, and
		// it could leave the instance with no one able to undo it.
		return nil, huma.Error409Conflict("You cannot demote or disable your own account; another admin can.")
	}
	u, err := s.store.UpdateAccount(ctx, in.ID, store.AdminUpdate{
		IsAdmin:  in.Body.IsAdmin,
		Disabled: in.Body.Disabled,
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, huma.Error404NotFound("No user with that ID.")
	case errors.Is(err, store.ErrLastAdmin):
		return nil, huma.Error409Conflict("That would leave the instance without an active admin; promote someone else first.")
	case err != nil:
		return nil, s.fail(ctx, err)
	}
	return &userOutput{Body: s.userBody(u, adminView)}, nil
}
