// Package app is Moments' HTTP layer: the Huma API, its middleware, the API
// docs and the web UI's static files. It validates input, checks permissions
// and calls the store; it writes no SQL.
package app

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/rs/cors"

	"moments/app/assistant"
	"moments/app/clientip"
	"moments/app/limiter"
	"moments/media"
	"moments/store"
)

// Deps is everything the HTTP layer needs from the outside world.
type Deps struct {
	Config  Config
	Store   *store.Store
	Logger  *slog.Logger
	Web     fs.FS            // the UI's files (index.html at the root)
	Now     func() time.Time // nil means time.Now
	Version string

	// PasswordCost is the bcrypt cost; 0 means DefaultPasswordCost. Tests
	// lower it to keep hundreds of sign-ups fast.
	PasswordCost int
	// Limits are the per-client request budgets; nil means DefaultLimits.
	Limits *Limits
}

// MediaDir is where uploads live inside the data directory.
const MediaDir = "media"

// server holds the wired API. Handlers are its methods, so every dependency
// is explicit and tests can run many servers side by side.
type server struct {
	cfg     Config
	store   *store.Store
	log     *slog.Logger
	now     func() time.Time
	version string
	api     huma.API

	tokens    *tokens
	passwords *passwords
	cursors   *cursors
	limiters  map[string]*limiter.Limiter
	clientIPs *clientip.Resolver
	media     *media.Library
	uploads   *uploadSlots
	assistant *assistant.Client
	health    health
}

// NewServer builds the complete HTTP handler that `moments serve` runs.
func NewServer(d Deps) (http.Handler, error) {
	_, h, err := newServer(d)
	return h, err
}

// newServer is NewServer, also returning the server for white-box tests.
func newServer(d Deps) (*server, http.Handler, error) {
	s := &server{
		cfg:     d.Config,
		store:   d.Store,
		log:     d.Logger,
		now:     d.Now,
		version: d.Version,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if d.Store.PublicPosts() != d.Config.PublicPosts {
		// Both refuse public posts they were not told about; the two
		// must agree, or members would be offered what the store refuses.
		return nil, nil, fmt.Errorf("the store was opened with PublicPosts %v but the configuration says %v",
			d.Store.PublicPosts(), d.Config.PublicPosts)
	}
	secret, err := loadSecret(d.Config)
	if err != nil {
		return nil, nil, err
	}
	s.tokens = newTokens(secret, d.Config.TokenTTL, s.now)
	s.cursors = newCursors(secret)
	s.passwords = newPasswords(d.PasswordCost)
	limits := DefaultLimits()
	if d.Limits != nil {
		limits = *d.Limits
	}
	s.limiters = newLimiters(limits, s.now)
	s.clientIPs = clientip.New(d.Config.TrustedProxies, d.Config.ClientIPHeader)
	s.media, err = media.Open(filepath.Join(d.Config.DataDir, MediaDir), media.Options{MaxBytes: d.Config.MaxUpload})
	if err != nil {
		return nil, nil, err
	}
	s.uploads = newUploadSlots(uploadsPerAccount)
	ai := assistant.Config{
		BaseURL: d.Config.AIBaseURL,
		Model:   d.Config.AIModel,
		APIKey:  d.Config.AIAPIKey,
		Timeout: d.Config.AITimeout,
	}
	if err := ai.Validate(); err != nil {
		return nil, nil, fmt.Errorf("MOMENTS_AI_*: %w", err)
	}
	s.assistant = assistant.New(ai)

	mux := http.NewServeMux()
	s.api = humago.New(mux, apiConfig(d.Version))
	s.api.UseMiddleware(s.authenticate, s.rateLimit, s.assistantGate, s.readBody)
	s.routes(mux, d.Web)
	var h http.Handler = securityHeaders(mux)
	if len(d.Config.CORSOrigins) > 0 {
		h = corsHandler(d.Config.CORSOrigins, h)
	}
	return s, s.logRequests(recoverPanics(s.log, h)), nil
}

// apiConfig describes the API for its OpenAPI document.
func apiConfig(version string) huma.Config {
	cfg := huma.DefaultConfig("Moments API", version)
	cfg.Info.Description = "Moments is a self-hosted moments feed: short posts with up to nine photos, " +
		"likes and comments, for a family, a club or a circle of friends.\n\n" +
		"Sign in with **Authorize** (OAuth2 password flow against `/auth/token`), " +
		"or send `Authorization: Bearer <token>` yourself. Errors are RFC 9457 problem documents; " +
		"lists are keyset-paginated with `limit` and an opaque `cursor`."
	cfg.Transformers = append(cfg.Transformers, cleanProblem)
	// Huma's docs page loads its assets from a CDN; /docs serves our own.
	cfg.DocsPath = ""
	// No `$schema` links in bodies and no Link headers: clients do not need
	// them, and the feed is hot.
	cfg.CreateHooks = nil
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		securityBearer: {
			Type:         "http",
			Scheme:       "bearer",
			BearerFormat: "JWT",
			Description:  "An access token from `POST /auth/token`.",
		},
		securityOAuth2: {
			Type:        "oauth2",
			Description: "OAuth2 password flow: the token endpoint takes a username and password.",
			Flows: &huma.OAuthFlows{
				Password: &huma.OAuthFlow{TokenURL: "/auth/token", Scopes: map[string]string{}},
			},
		},
	}
	return cfg
}

// The two ways to present a token. Both name the same bearer JWT; the OAuth2
// scheme lets Swagger UI's Authorize button log in with a password.
const (
	securityBearer = "bearer"
	securityOAuth2 = "oauth2"
)

// Content security policies. API answers are data and may not run or
// embed anything; HTML pages set their own (uiPolicy, docsPolicy).
const (
	apiPolicy = "default-src 'none'; frame-ancestors 'none'"
	// uiPolicy: the app's own scripts and styles only, no inline code;
	// photos may come from any http(s) host, since media_urls may name one.
	uiPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' http: https: blob:; " +
		"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	// docsPolicy: Swagger UI from our own files. Its stylesheet and icons
	// use data: URIs; it needs no eval and no inline script.
	docsPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// SecurityHeaders are the headers every response carries (HTML pages
// replace the Content-Security-Policy with their page's). net/http's own
// error answers get them too (package rawerror).
func SecurityHeaders() http.Header {
	return http.Header{
		"X-Content-Type-Options":  {"nosniff"},
		"Referrer-Policy":         {"no-referrer"},
		"X-Frame-Options":         {"DENY"},
		"Content-Security-Policy": {apiPolicy},
	}
}

// securityHeaders sets SecurityHeaders on every response.
func securityHeaders(next http.Handler) http.Handler {
	// The keys are in canonical form and each value slice is full (len ==
	// cap), so sharing them between responses is safe: Header.Add appends
	// to a copy and Header.Set replaces the slice. This saves four
	// allocations per request.
	shared := SecurityHeaders()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range shared {
			h[k] = v
		}
		next.ServeHTTP(w, r)
	})
}

// corsHandler lets the listed origins (exact scheme://host[:port] matches)
// call the API from a browser. Tokens travel in the Authorization header,
// never in cookies, so credentials stay off.
func corsHandler(origins []string, next http.Handler) http.Handler {
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", "If-None-Match"},
		ExposedHeaders: []string{"Location", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
			"RateLimit-Reset", "X-Request-ID", "ETag"},
		MaxAge: 600,
	}).Handler(next)
}

// Body limits. JSON bodies are small: the largest legitimate post (5000
// characters, every one written as a \u escape, and nine URLs of 2048
// characters) stays under postBodyBytes; everything else under jsonBodyBytes.
const (
	jsonBodyBytes = 64 << 10
	postBodyBytes = 256 << 10
)

// register is huma.Register with what every operation shares: body limits
// (jsonBodyBytes unless the operation sets its own), no read deadline left
// on the connection by Huma (readBody sets and clears its own), and the
// error responses every operation of a kind can give added to its
// documentation, so the OpenAPI document lists 401 wherever a token is
// checked, 403 for admin operations, 429 where a rate limit applies, the
// body errors where there is a body, and 503 and 507 for a database that
// does not answer or a full disk.
func register[I, O any](s *server, op huma.Operation, handler func(context.Context, *I) (*O, error)) {
	huma.Register(s.api, operation(op, reflect.TypeFor[I]()), handler)
}

// operation completes op, whose input type is in, as register describes;
// operations registered another way (sse.Register) go through it too.
func operation(op huma.Operation, in reflect.Type) huma.Operation {
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = jsonBodyBytes
	}
	op.BodyReadTimeout = -1
	add := func(codes ...int) {
		for _, code := range codes {
			if !slices.Contains(op.Errors, code) {
				op.Errors = append(op.Errors, code)
			}
		}
	}
	if len(op.Security) > 0 {
		add(http.StatusUnauthorized, http.StatusServiceUnavailable)
	}
	if admin, _ := op.Metadata[adminOnlyKey].(bool); admin {
		add(http.StatusForbidden)
	}
	if _, ok := op.Metadata[limitKey]; ok {
		add(http.StatusTooManyRequests)
	}
	if _, ok := in.FieldByName("Body"); ok {
		add(http.StatusBadRequest, http.StatusRequestTimeout, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	if _, ok := in.FieldByName("RawBody"); ok {
		add(http.StatusBadRequest, http.StatusRequestTimeout, http.StatusRequestEntityTooLarge)
	}
	if op.Method != http.MethodGet {
		add(http.StatusServiceUnavailable, http.StatusInsufficientStorage)
	}
	slices.Sort(op.Errors)
	return op
}
