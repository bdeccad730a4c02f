package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"moments/app"
	"moments/internal/testutil"
	"moments/store"
)

// testEnv is a real Moments server on 127.0.0.1 with a fresh database.
type testEnv struct {
	t     *testing.T
	srv   *httptest.Server
	store *store.Store
	cfg   app.Config
	logs  *testutil.SyncBuffer
}

// testSecret signs the tokens of test servers, so tests can forge tokens.
const testSecret = "test-secret-test-secret-test-secret-0123"

// newEnv starts the same handler `moments serve` runs, on a fresh database.
// Options adjust the dependencies (and their Config) before it is built.
// By default passwords use bcrypt's minimum cost and sign-in is not rate
// limited, so tests can create many accounts quickly; the tests of those
// two things set them back.
func newEnv(t *testing.T, opts ...func(*app.Deps)) *testEnv {
	t.Helper()
	return newEnvWithStore(t, nil, opts...)
}

// newEnvWithStore is newEnv with a say in how the store is opened.
func newEnvWithStore(t *testing.T, storeOpts func(*store.Options), opts ...func(*app.Deps)) *testEnv {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.JWTSecret = testSecret
	logs := &testutil.SyncBuffer{}
	limits := app.DefaultLimits()
	limits.Auth = app.Limit{Burst: 100_000, Per: time.Minute}
	d := app.Deps{
		Config:       cfg,
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
		Web:          os.DirFS(filepath.Join("..", "web")),
		Version:      "test",
		PasswordCost: bcrypt.MinCost,
		Limits:       &limits,
	}
	for _, o := range opts {
		o(&d)
	}
	so := store.Options{
		Migrations:  os.DirFS(filepath.Join("..", "migrations")),
		Now:         d.Now,
		PublicPosts: d.Config.PublicPosts,
	}
	if storeOpts != nil {
		storeOpts(&so)
	}
	st, err := store.Open(context.Background(), d.Config.DataDir, so)
	if err != nil {
		t.Fatal(err)
	}
	d.Store = st
	h, err := app.NewServer(d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return &testEnv{t: t, srv: srv, store: st, cfg: d.Config, logs: logs}
}

// withConfig adjusts the configuration.
func withConfig(f func(*app.Config)) func(*app.Deps) {
	return func(d *app.Deps) { f(&d.Config) }
}

// user is a signed-up test account and its token.
type user struct {
	ID       int64
	Name     string
	Password string
	Token    string
	Admin    bool
}

// signUp registers name (password "password-"+name) and signs in.
func (e *testEnv) signUp(name string) user {
	e.t.Helper()
	pw := "password-" + name
	res := e.do("POST", "/auth/register", "", map[string]string{"username": name, "password": pw})
	res.wantStatus(e.t, http.StatusCreated)
	var u struct {
		ID      int64 `json:"id"`
		IsAdmin bool  `json:"is_admin"`
	}
	res.json(e.t, &u)
	return user{ID: u.ID, Name: name, Password: pw, Token: e.login(name, pw), Admin: u.IsAdmin}
}

// login signs in through the OAuth2 token endpoint.
func (e *testEnv) login(name, password string) string {
	e.t.Helper()
	res := e.form("/auth/token", url.Values{"grant_type": {"password"}, "username": {name}, "password": {password}})
	res.wantStatus(e.t, http.StatusOK)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	res.json(e.t, &tok)
	return tok.AccessToken
}

// form posts a form-encoded body.
func (e *testEnv) form(path string, v url.Values, headers ...string) *response {
	e.t.Helper()
	return e.do("POST", path, "", formBody(v.Encode()), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)...)
}

// formBody is a request body sent without a JSON content type.
type formBody string

// response is a finished HTTP exchange with its body read.
type response struct {
	*http.Response
	body []byte
}

func (r *response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s %s: body is not JSON (%v): %s", r.Request.Method, r.Request.URL.Path, err, r.body)
	}
}

func (r *response) text() string { return string(r.body) }

// do sends a request. body may be nil, a string (sent as is) or any value
// (sent as JSON); token may be empty.
func (e *testEnv) do(method, path, token string, body any, headers ...string) *response {
	e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	case formBody:
		rd = strings.NewReader(string(b))
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{Response: res, body: b}
}

// wantStatus fails the test when the status is not want.
func (r *response) wantStatus(t *testing.T, want int) *response {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d; body: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, r.body)
	}
	return r
}

// bothFeeds runs a feed test as two subtests, with the feed cache and
// without it (MOMENTS_FEED_CACHE=off); feed sets the store's options for
// each.
func bothFeeds(t *testing.T, test func(t *testing.T, feed func(*store.Options))) {
	t.Helper()
	for _, mode := range []struct {
		name string
		off  bool
	}{{"Cached", false}, {"Plain", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			test(t, func(o *store.Options) { o.NoFeedCache = mode.off })
		})
	}
}
