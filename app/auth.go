package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"moments/internal/account"
	"moments/store"
)

// SecretFile holds the generated token-signing secret in the data directory.
const SecretFile = "jwt-secret"

// tokenLeeway forgives small clock differences in exp and iat.
const tokenLeeway = 30 * time.Second

// Tokens longer than this are refused before any parsing; ours are ~200 bytes.
const maxTokenBytes = 4096

// Security requirements of operations. An empty requirement means "no token
// needed"; the auth middleware and the OpenAPI document read the same lists.
var (
	needsToken   = []map[string][]string{{securityBearer: {}}, {securityOAuth2: {}}}
	tokenOrNone  = []map[string][]string{{securityBearer: {}}, {securityOAuth2: {}}, {}}
	adminOnlyKey = "admin"
)

// readSecurity is the requirement of GET operations: a token, unless the
// instance lets anonymous visitors read.
func (s *server) readSecurity() []map[string][]string {
	if s.cfg.PublicPosts {
		return tokenOrNone
	}
	return needsToken
}

// adminOnly marks an operation for the auth middleware (403 for non-admins).
func adminOnly() map[string]any { return map[string]any{adminOnlyKey: true} }

// passwords hashes and checks passwords. bcrypt work is bounded to about one
// per core, so a login flood queues here instead of starving everything else.
type passwords struct {
	cost  int
	slots chan struct{}
	// compared counts bcrypt comparisons, for the test that an unknown
	// user costs one as a known one does.
	compared atomic.Int64

	dummyOnce sync.Once
	dummy     []byte
}

func newPasswords(cost int) *passwords {
	if cost == 0 {
		cost = account.DefaultPasswordCost
	}
	return &passwords{cost: cost, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

func (p *passwords) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *passwords) release() { <-p.slots }

func (p *passwords) hash(ctx context.Context, password string) (string, error) {
	if err := p.acquire(ctx); err != nil {
		return "", err
	}
	defer p.release()
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.cost)
	return string(h), err
}

// matches reports whether password is the one behind hash. An empty hash
// (unknown user) still costs one comparison against a dummy hash of the same
// cost, so the answer takes as long as for a real account.
func (p *passwords) matches(ctx context.Context, hash, password string) (bool, error) {
	if hash == "" {
		p.dummyOnce.Do(func() {
			var random [16]byte
			_, _ = rand.Read(random[:])
			p.dummy, _ = bcrypt.GenerateFromPassword(random[:], p.cost)
		})
	}
	if err := p.acquire(ctx); err != nil {
		return false, err
	}
	defer p.release()
	p.compared.Add(1)
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(p.dummy, []byte(password))
		return false, nil
	}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return false, nil
	}
	return err == nil, err
}

// tokens issues and verifies the HS256 access tokens.
type tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser

	// verified remembers the claims of tokens whose signature and format
	// already checked out, so the hot path skips decoding and HMAC for a
	// token it has seen. Expiry is still checked on every use, and the
	// account (disabled, revoked) is always checked in the database.
	mu       sync.RWMutex
	verified map[string]*claims
}

// verifiedTokens bounds the memory of tokens.verified.
const verifiedTokens = 10_000

// claims are the token's contents. UID is the account's ID, which is never
// used twice, so a token can only ever match the account it was issued to,
// even after that account is gone and its name taken again. Ver is the
// user's token version when the token was issued; a password change or a
// disable bumps the version, which revokes every earlier token exactly (even
// one from the same second).
type claims struct {
	jwt.RegisteredClaims
	UID int64 `json:"uid"`
	Ver int64 `json:"ver"`
}

func newTokens(secret []byte, ttl time.Duration, now func() time.Time) *tokens {
	return &tokens{
		secret:   secret,
		ttl:      ttl,
		now:      now,
		verified: make(map[string]*claims),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(tokenLeeway),
			// Strict base64: no other spelling of a signature is accepted.
			jwt.WithStrictDecoding(),
			jwt.WithTimeFunc(now),
		),
	}
}

func (t *tokens) issue(u store.User) (string, error) {
	now := t.now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   u.Username,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
		UID: u.ID,
		Ver: u.TokenVersion,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
}

func (t *tokens) parse(raw string) (*claims, error) {
	t.mu.RLock()
	c := t.verified[raw]
	t.mu.RUnlock()
	if c != nil {
		if !t.now().Before(c.ExpiresAt.Add(tokenLeeway)) {
			return nil, jwt.ErrTokenExpired
		}
		return c, nil
	}
	c = &claims{}
	_, err := t.parser.ParseWithClaims(raw, c, func(*jwt.Token) (any, error) { return t.secret, nil })
	if err != nil {
		return nil, err
	}
	if c.Subject == "" || c.UID <= 0 {
		return nil, errors.New("token has no subject or account ID")
	}
	t.mu.Lock()
	if len(t.verified) >= verifiedTokens {
		for k := range t.verified { // random eviction: map order is random
			delete(t.verified, k)
			break
		}
	}
	t.verified[raw] = c
	t.mu.Unlock()
	return c, nil
}

// loadSecret returns the configured secret, or the one kept in the data
// directory, generating it (32 random bytes, mode 0600) on first start.
func loadSecret(cfg Config) ([]byte, error) {
	if cfg.JWTSecret != "" {
		if len(cfg.JWTSecret) < 32 {
			return nil, fmt.Errorf("MOMENTS_JWT_SECRET is %d bytes; it must be at least 32", len(cfg.JWTSecret))
		}
		return []byte(cfg.JWTSecret), nil
	}
	path := filepath.Join(cfg.DataDir, SecretFile)
	secret, err := os.ReadFile(path)
	if err == nil {
		if len(secret) < 32 {
			return nil, fmt.Errorf("%s is damaged (%d bytes); delete it to sign everyone out and start over", path, len(secret))
		}
		return secret, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	secret = make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	// Write a temporary file and link it into place: a crash never leaves a
	// short secret, and of two racing first starts exactly one secret wins.
	tmp, err := os.CreateTemp(cfg.DataDir, ".jwt-secret-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Write(secret); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return loadSecret(cfg)
		}
		return nil, err
	}
	return secret, nil
}

// currentUser is the signed-in user of the request, if any.
func currentUser(ctx context.Context) (store.Principal, bool) {
	u, ok := ctx.Value(userKey).(store.Principal)
	return u, ok
}

// authenticate enforces each operation's declared Security: it verifies the
// bearer token, re-checks the user row (exists, enabled, token not revoked)
// and puts the user in the context. Operations marked adminOnly also need an
// admin. An invalid token is refused even where a token is optional.
func (s *server) authenticate(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op == nil || len(op.Security) == 0 {
		next(ctx)
		return
	}
	optional := false
	for _, req := range op.Security {
		if len(req) == 0 {
			optional = true
		}
	}
	header := ctx.Header("Authorization")
	if header == "" {
		if optional {
			next(ctx)
			return
		}
		s.unauthorized(ctx, "", "This operation needs a bearer token: sign in with POST /auth/token.")
		return
	}
	scheme, raw, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" || len(raw) > maxTokenBytes {
		s.unauthorized(ctx, "invalid_request", "The Authorization header must be `Bearer <token>`.")
		return
	}
	raw = strings.TrimSpace(raw)
	if !tokenChars(raw) {
		s.unauthorized(ctx, "invalid_token", "The token is invalid.")
		return
	}
	c, err := s.tokens.parse(raw)
	if err != nil {
		detail := "The token is invalid."
		if errors.Is(err, jwt.ErrTokenExpired) {
			detail = "The token has expired; sign in again."
		}
		s.unauthorized(ctx, "invalid_token", detail)
		return
	}
	u, err := s.store.AuthUser(ctx.Context(), c.UID)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && u.Username != c.Subject:
		s.unauthorized(ctx, "invalid_token", "The token's account does not exist.")
		return
	case err != nil:
		huma.WriteErr(s.api, ctx, http.StatusServiceUnavailable, "The database does not answer; try again.")
		s.log.ErrorContext(ctx.Context(), "auth lookup failed", "error", err, "request_id", requestID(ctx.Context()))
		return
	case u.Disabled:
		s.unauthorized(ctx, "invalid_token", "This account is disabled.")
		return
	case u.TokenVersion != c.Ver:
		s.unauthorized(ctx, "invalid_token", "The token was revoked (the password changed); sign in again.")
		return
	}
	if admin, _ := op.Metadata[adminOnlyKey].(bool); admin && !u.IsAdmin {
		huma.WriteErr(s.api, ctx, http.StatusForbidden, "This operation is for admins.")
		return
	}
	next(huma.WithValue(ctx, userKey, u))
}

// tokenChars reports whether raw is made only of base64url characters and
// dots: the decoder would skip CR and LF, so without this check other
// spellings of a token would be accepted.
func tokenChars(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// unauthorized answers 401 with the RFC 6750 challenge. On a rate-limited
// operation it also shows the client's budget, which the refused request
// did not spend.
func (s *server) unauthorized(ctx huma.Context, code, detail string) {
	if name, ok := ctx.Operation().Metadata[limitKey].(string); ok && s.limiters[name] != nil {
		r, w := humago.Unwrap(ctx)
		s.limiters[name].Peek(s.clientIPs.Key(r)).SetHeaders(w.Header())
		w.Header().Del("Retry-After") // this is no rate refusal
	}
	challenge := `Bearer realm="moments"`
	if code != "" {
		challenge += `, error="` + code + `"`
	}
	ctx.SetHeader("WWW-Authenticate", challenge)
	huma.WriteErr(s.api, ctx, http.StatusUnauthorized, detail)
}
