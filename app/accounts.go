package app

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"moments/internal/account"
	"moments/store"
)

// The token form is a few fields; nothing legitimate comes near this.
const maxTokenFormBytes = 4 << 10

type registerInput struct {
	Body registerBody
}

type registerBody struct {
	Username    Username `json:"username"`
	Password    string   `json:"password" doc:"8–72 bytes (bcrypt's limit; longer is refused, never truncated)" example:"correct horse battery"`
	DisplayName string   `json:"display_name,omitempty" maxLength:"64" doc:"Name shown on posts; defaults to the username" example:"Alice Liddell"`
}

// Resolve checks what the schema cannot: passwords are measured in bytes,
// and their value is never echoed back in the error.
func (b *registerBody) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	var errs []error
	if err := checkPassword(prefix, "password", b.Password); err != nil {
		errs = append(errs, err)
	}
	if err := checkSingleLine(prefix, "display_name", b.DisplayName); err != nil {
		errs = append(errs, err)
	}
	return errs
}

func checkPassword(prefix *huma.PathBuffer, field, password string) error {
	if n := len(password); n < account.MinPasswordBytes || n > account.MaxPasswordBytes {
		return &huma.ErrorDetail{
			Location: prefix.With(field),
			Message:  "must be 8 to 72 bytes long",
		}
	}
	return nil
}

var errRegistrationClosed = huma.Error403Forbidden("Registration is closed on this instance; ask its admin for an account.")

type userOutput struct {
	Body userBody
}

type createdUserOutput struct {
	Location string `header:"Location"`
	Body     userBody
}

func (s *server) registerAccounts() {
	register(s, huma.Operation{
		OperationID:   "register",
		Method:        http.MethodPost,
		Path:          "/auth/register",
		Summary:       "Create an account",
		Description:   "The first account on an empty instance becomes its admin. Closed instances (MOMENTS_REGISTRATION=closed) accept only that first account. Rate limited per client address.",
		Tags:          []string{"Auth"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusForbidden, http.StatusConflict, http.StatusTooManyRequests},
		Metadata:      limited(limitAuth),
	}, s.register)

	register(s, huma.Operation{
		OperationID: "token",
		Method:      http.MethodPost,
		Path:        "/auth/token",
		Summary:     "Sign in (OAuth2 password grant)",
		Description: "RFC 6749 §4.3: send `grant_type=password&username=…&password=…` form-encoded. " +
			"Errors follow RFC 6749 §5.2. Client credentials, if sent, are ignored (public client). Rate limited per client address.",
		Tags:         []string{"Auth"},
		MaxBodyBytes: maxTokenFormBytes,
		Errors:       []int{http.StatusTooManyRequests},
		Metadata:     limited(limitAuth),
		Responses: map[string]*huma.Response{
			"400": {
				Description: "OAuth2 error (RFC 6749 §5.2)",
				Content: map[string]*huma.MediaType{"application/json": {
					Schema: s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[oauthError](), true, "OAuthError"),
				}},
			},
		},
	}, s.token)
	describeTokenForm(s.api.OpenAPI().Paths["/auth/token"].Post)
}

func (s *server) register(ctx context.Context, in *registerInput) (*createdUserOutput, error) {
	if s.cfg.Registration == "closed" {
		// Refuse before any bcrypt work; CreateUser re-checks atomically.
		exists, err := s.store.HasUsers(ctx)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		if exists {
			return nil, errRegistrationClosed
		}
	}
	hash, err := s.passwords.hash(ctx, in.Body.Password)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	display := in.Body.DisplayName
	u, err := s.store.CreateUser(ctx, store.NewUser{
		Username:     string(in.Body.Username),
		PasswordHash: hash,
		DisplayName:  display,
		OnlyFirst:    s.cfg.Registration == "closed",
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, huma.Error409Conflict("That username is taken (names are unique ignoring case).")
	case errors.Is(err, store.ErrRegistrationClosed):
		return nil, errRegistrationClosed
	case err != nil:
		return nil, s.fail(ctx, err)
	}
	return &createdUserOutput{Location: "/users/" + u.Username, Body: s.userBody(u, ownView)}, nil
}

type tokenInput struct {
	ContentType string `header:"Content-Type"`
	RawBody     []byte `contentType:"application/x-www-form-urlencoded"`
}

type tokenOutput struct {
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
	Body         struct {
		AccessToken string `json:"access_token" doc:"Send as Authorization: Bearer <token>"`
		TokenType   string `json:"token_type" enum:"bearer"`
		ExpiresIn   int64  `json:"expires_in" doc:"Seconds until the token expires" example:"86400"`
	}
}

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	Code        string `json:"error" enum:"invalid_request,invalid_grant,unsupported_grant_type" doc:"RFC 6749 error code"`
	Description string `json:"error_description"`
}

func (e *oauthError) Error() string  { return e.Code + ": " + e.Description }
func (e *oauthError) GetStatus() int { return http.StatusBadRequest }
func (e *oauthError) GetHeaders() http.Header {
	return http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}
}

// errBadCredentials is the one answer for a wrong password and an unknown
// user alike, so the response does not tell which names exist.
var errBadCredentials = &oauthError{Code: "invalid_grant", Description: "The username or password is wrong."}

func (s *server) token(ctx context.Context, in *tokenInput) (*tokenOutput, error) {
	mt, _, err := mime.ParseMediaType(in.ContentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &oauthError{Code: "invalid_request", Description: "Send the form as application/x-www-form-urlencoded."}
	}
	form, err := url.ParseQuery(string(in.RawBody))
	if err != nil {
		return nil, &oauthError{Code: "invalid_request", Description: "The form is not valid URL encoding."}
	}
	for _, key := range []string{"grant_type", "username", "password"} {
		if len(form[key]) > 1 {
			return nil, &oauthError{Code: "invalid_request", Description: key + " is repeated."}
		}
	}
	if !validForm(form) {
		// Rewriting the bytes would sign in with a password other than the
		// one typed; refusing says what is wrong.
		return nil, &oauthError{Code: "invalid_request", Description: "The form holds text that is not valid UTF-8."}
	}
	switch form.Get("grant_type") {
	case "password":
	case "":
		return nil, &oauthError{Code: "invalid_request", Description: "grant_type is missing; use grant_type=password."}
	default:
		return nil, &oauthError{Code: "unsupported_grant_type", Description: "Only grant_type=password is supported."}
	}
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" {
		return nil, &oauthError{Code: "invalid_request", Description: "username and password are required."}
	}

	u, hash, err := s.store.Credentials(ctx, username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, s.fail(ctx, err)
	}
	if len(password) > account.MaxPasswordBytes {
		// bcrypt would compare only the first 72 bytes: such a password
		// can never be right. Spend the same time as any other miss.
		hash = ""
	}
	ok, err := s.passwords.matches(ctx, hash, password)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if !ok {
		return nil, errBadCredentials
	}
	if u.Disabled {
		return nil, &oauthError{Code: "invalid_grant", Description: "This account is disabled."}
	}
	tok, err := s.tokens.issue(u)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &tokenOutput{CacheControl: "no-store", Pragma: "no-cache"}
	out.Body.AccessToken = tok
	out.Body.TokenType = "bearer"
	out.Body.ExpiresIn = int64(s.tokens.ttl.Seconds())
	return out, nil
}

// validForm reports whether every name and value of a form is valid UTF-8.
func validForm(form url.Values) bool {
	for k, vs := range form {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

// describeTokenForm documents the form fields: Huma registers a raw body as
// an opaque string, which would leave Swagger UI and client generators
// guessing. The body is not marked required, so that Huma lets an empty one
// through to the handler, which answers it in the OAuth2 error shape.
func describeTokenForm(op *huma.Operation) {
	op.RequestBody = &huma.RequestBody{
		Content: map[string]*huma.MediaType{
			"application/x-www-form-urlencoded": {Schema: &huma.Schema{
				Type:     "object",
				Required: []string{"grant_type", "username", "password"},
				Properties: map[string]*huma.Schema{
					"grant_type": {Type: "string", Enum: []any{"password"}},
					"username":   {Type: "string", Examples: []any{"alice"}},
					"password":   {Type: "string", Format: "password"},
					"scope":      {Type: "string", Description: "Ignored: tokens carry no scopes."},
				},
			}},
		},
	}
}
