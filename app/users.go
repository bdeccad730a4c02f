package app

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"moments/internal/account"
	"moments/store"
)

// userBody is the User of the API. Disabled is only filled in for admins'
// views.
type userBody struct {
	ID          int64   `json:"id" example:"1"`
	Username    string  `json:"username" example:"alice"`
	DisplayName string  `json:"display_name" example:"Alice Liddell"`
	Bio         string  `json:"bio" example:"Photos of the garden, mostly."`
	AvatarURL   string  `json:"avatar_url" example:"/media/3k2j1h4g5f6d7s8a9p0o1i2u3y.jpg"`
	IsAdmin     bool    `json:"is_admin"`
	CreatedAt   apiTime `json:"created_at"`
	Disabled    *bool   `json:"disabled,omitempty" doc:"Admin views only"`
}

func (s *server) userBody(u store.User, adminView bool) userBody {
	b := userBody{
		ID:          u.ID,
		Username:    u.Username,
		DisplayName: u.DisplayName,
		Bio:         u.Bio,
		AvatarURL:   u.AvatarURL,
		IsAdmin:     u.IsAdmin,
		CreatedAt:   apiTime(u.CreatedAt),
	}
	if adminView {
		disabled := u.Disabled
		b.Disabled = &disabled
	}
	return b
}

type profileInput struct {
	Body profilePatch
}

type profilePatch struct {
	DisplayName *string `json:"display_name,omitempty" maxLength:"64" doc:"Name shown on posts; empty to use the username"`
	Bio         *string `json:"bio,omitempty" maxLength:"500" doc:"A few words about you"`
	AvatarURL   *string `json:"avatar_url,omitempty" maxLength:"2048" doc:"An http(s) URL or a /media/ path from POST /media; empty to remove"`
}

func (p *profilePatch) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	var errs []error
	if p.DisplayName != nil {
		if err := checkSingleLine(prefix, "display_name", *p.DisplayName); err != nil {
			errs = append(errs, err)
		}
	}
	if p.Bio != nil {
		if err := checkText(prefix, "bio", *p.Bio); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

type passwordInput struct {
	Body passwordChange
}

type passwordChange struct {
	CurrentPassword string `json:"current_password" doc:"The password in use now"`
	NewPassword     string `json:"new_password" doc:"8–72 bytes"`
}

func (p *passwordChange) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	if err := checkPassword(prefix, "new_password", p.NewPassword); err != nil {
		return []error{err}
	}
	return nil
}

// Username is a username as the API takes it. Its schema carries the one
// rule (account.UsernamePattern), so the OpenAPI document and Huma's
// validation say what the store checks.
type Username string

// Schema implements huma.SchemaProvider.
func (Username) Schema(huma.Registry) *huma.Schema {
	least, most := account.MinUsernameChars, account.MaxUsernameChars
	return &huma.Schema{
		Type:               huma.TypeString,
		MinLength:          &least,
		MaxLength:          &most,
		Pattern:            account.UsernamePattern,
		PatternDescription: "3–32 letters, digits or underscores",
		Description:        "3–32 characters of a-z, A-Z, 0-9 and _; unique ignoring case",
		Examples:           []any{"alice"},
	}
}

type usernameInput struct {
	Username Username `path:"username"`
}

func (s *server) registerUsers() {
	register(s, huma.Operation{
		OperationID: "getMe",
		Method:      http.MethodGet,
		Path:        "/users/me",
		Summary:     "Your own account",
		Tags:        []string{"Users"},
		Security:    needsToken,
	}, s.getMe)

	register(s, huma.Operation{
		OperationID: "updateMe",
		Method:      http.MethodPatch,
		Path:        "/users/me",
		Summary:     "Change your profile",
		Description: "Fields left out stay as they are.",
		Tags:        []string{"Users"},
		Security:    needsToken,
	}, s.updateMe)

	register(s, huma.Operation{
		OperationID:   "changePassword",
		Method:        http.MethodPut,
		Path:          "/users/me/password",
		Summary:       "Change your password",
		Description:   "Every token issued before the change stops working, this one included: sign in again. Rate limited per client address and per account, like sign-in.",
		Tags:          []string{"Users"},
		Security:      needsToken,
		Metadata:      limitedPerAccount(limitAuth),
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusForbidden},
	}, s.changePassword)

	register(s, huma.Operation{
		OperationID: "getUser",
		Method:      http.MethodGet,
		Path:        "/users/{username}",
		Summary:     "A user's public profile",
		Tags:        []string{"Users"},
		Security:    s.readSecurity(),
		Errors:      []int{http.StatusNotFound},
	}, s.getUser)
}

func (s *server) getMe(ctx context.Context, _ *struct{}) (*userOutput, error) {
	me, _ := currentUser(ctx)
	u, err := s.store.UserByID(ctx, me.ID)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &userOutput{Body: s.userBody(u, false)}, nil
}

func (s *server) updateMe(ctx context.Context, in *profileInput) (*userOutput, error) {
	me, _ := currentUser(ctx)
	if in.Body.AvatarURL != nil && *in.Body.AvatarURL != "" {
		if err := s.checkMediaURL("body.avatar_url", *in.Body.AvatarURL); err != nil {
			return nil, err
		}
	}
	u, err := s.store.UpdateProfile(ctx, me.ID, store.ProfileUpdate{
		DisplayName: in.Body.DisplayName,
		Bio:         in.Body.Bio,
		AvatarURL:   in.Body.AvatarURL,
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &userOutput{Body: s.userBody(u, false)}, nil
}

func (s *server) changePassword(ctx context.Context, in *passwordInput) (*struct{}, error) {
	me, _ := currentUser(ctx)
	_, hash, err := s.store.Credentials(ctx, me.Username)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	ok, err := s.passwords.matches(ctx, hash, in.Body.CurrentPassword)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if !ok || len(in.Body.CurrentPassword) > account.MaxPasswordBytes {
		return nil, huma.Error403Forbidden("The current password is wrong.", &huma.ErrorDetail{
			Location: "body.current_password", Message: "does not match",
		})
	}
	newHash, err := s.passwords.hash(ctx, in.Body.NewPassword)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.SetPassword(ctx, me.ID, newHash); err != nil {
		return nil, s.fail(ctx, err)
	}
	return nil, nil
}

func (s *server) getUser(ctx context.Context, in *usernameInput) (*userOutput, error) {
	u, err := s.store.UserByUsername(ctx, string(in.Username))
	if errors.Is(err, store.ErrNotFound) {
		return nil, huma.Error404NotFound("No user by that name.")
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &userOutput{Body: s.userBody(u, false)}, nil
}
