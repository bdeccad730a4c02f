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
	// HistoryVisibleDays is how far back others see the member's posts.
	HistoryVisibleDays int     `json:"history_visible_days" doc:"How many days back others can see this member's posts; 0 for all"`
	Disabled           *bool   `json:"disabled,omitempty" doc:"Admin views only"`
	DefaultAudience    *string `json:"default_audience,omitempty" enum:"members,only_me,public" doc:"GET /users/me only: the audience of a new post that names none"`
}

// Which view of a user a userBody is.
type userView int

const (
	publicView userView = iota // anyone's profile
	ownView                    // GET /users/me and the answers to one's own changes
	adminView                  // the admin operations
)

func (s *server) userBody(u store.User, view userView) userBody {
	b := userBody{
		ID:                 u.ID,
		Username:           u.Username,
		DisplayName:        u.DisplayName,
		Bio:                u.Bio,
		AvatarURL:          u.AvatarURL,
		IsAdmin:            u.IsAdmin,
		CreatedAt:          apiTime(u.CreatedAt),
		HistoryVisibleDays: u.HistoryVisibleDays,
	}
	switch view {
	case adminView:
		disabled := u.Disabled
		b.Disabled = &disabled
	case ownView:
		aud := u.DefaultAudience.Name()
		b.DefaultAudience = &aud
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
	// The choices the UI offers are 0, 180, 30 and 3; any day count
	// within the limit is taken.
	HistoryVisibleDays *int    `json:"history_visible_days,omitempty" minimum:"0" maximum:"3650" doc:"How many days back others can see your posts: 0 for all, or 1–3650"`
	DefaultAudience    *string `json:"default_audience,omitempty" enum:"members,only_me,public" doc:"The audience of a new post that names none; public only where the instance allows public posts"`
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
		OperationID: "searchMembers",
		Method:      http.MethodGet,
		Path:        "/users",
		Summary:     "Find members by name",
		Description: "Active members whose username starts with q or whose display name contains it, ignoring letter case, by username: for choosing whom to put in a circle. Members only.",
		Tags:        []string{"Users"},
		Security:    needsToken,
	}, s.searchMembers)

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
	return &userOutput{Body: s.userBody(u, ownView)}, nil
}

func (s *server) updateMe(ctx context.Context, in *profileInput) (*userOutput, error) {
	me, _ := currentUser(ctx)
	if in.Body.AvatarURL != nil && *in.Body.AvatarURL != "" {
		if err := s.checkMediaURL("body.avatar_url", *in.Body.AvatarURL); err != nil {
			return nil, err
		}
	}
	change := store.ProfileUpdate{
		DisplayName:        in.Body.DisplayName,
		Bio:                in.Body.Bio,
		AvatarURL:          in.Body.AvatarURL,
		HistoryVisibleDays: in.Body.HistoryVisibleDays,
	}
	if in.Body.DefaultAudience != nil {
		aud, _ := store.ParseAudience(*in.Body.DefaultAudience) // the schema's enum let only these through
		change.DefaultAudience = &aud
	}
	u, err := s.store.UpdateProfile(ctx, me.ID, change)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &userOutput{Body: s.userBody(u, ownView)}, nil
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

type memberSearchInput struct {
	Q     string `query:"q" minLength:"1" maxLength:"64" required:"true" doc:"The start of a username, or part of a display name"`
	Limit int    `query:"limit" minimum:"1" maximum:"20" default:"10" doc:"At most this many"`
}

type memberListOutput struct {
	Body struct {
		Items []authorBody `json:"items"`
	}
}

func (s *server) searchMembers(ctx context.Context, in *memberSearchInput) (*memberListOutput, error) {
	found, err := s.store.SearchMembers(ctx, in.Q, in.Limit)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &memberListOutput{}
	out.Body.Items = make([]authorBody, len(found))
	for i, a := range found {
		out.Body.Items[i] = newAuthorBody(a)
	}
	return out, nil
}

func (s *server) getUser(ctx context.Context, in *usernameInput) (*userOutput, error) {
	u, err := s.visibleUser(ctx, in.Username)
	if err != nil {
		return nil, err
	}
	return &userOutput{Body: s.userBody(u, publicView)}, nil
}

// visibleUser looks up a member by name for a profile or a timeline. A
// visitor without an account learns of a member only through their public
// posts: for a visitor, a member without one is not there, as a name
// nobody has is not.
func (s *server) visibleUser(ctx context.Context, name Username) (store.User, error) {
	u, err := s.store.UserByUsername(ctx, string(name))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errNoUser
	}
	if err != nil {
		return store.User{}, s.fail(ctx, err)
	}
	if me, _ := currentUser(ctx); me.ID == 0 {
		page, err := s.store.Feed(ctx, store.FeedQuery{AuthorID: &u.ID, Limit: 1})
		if err != nil {
			return store.User{}, s.fail(ctx, err)
		}
		if len(page.Posts) == 0 {
			return store.User{}, errNoUser
		}
	}
	return u, nil
}
