package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"moments/app"
	"moments/store"
)

// testEnv is a real Moments server on 127.0.0.1 with a fresh database.
type testEnv struct {
	t     *testing.T
	srv   *httptest.Server
	store *store.Store
	cfg   app.Config
	logs  *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newEnv starts the same handler `moments serve` runs. Options adjust the
// configuration before the server is built.
func newEnv(t *testing.T, opts ...func(*app.Config)) *testEnv {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	for _, o := range opts {
		o(&cfg)
	}
	st, err := store.Open(context.Background(), cfg.DataDir, store.Options{
		Migrations: os.DirFS(filepath.Join("..", "migrations")),
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	h, err := app.NewServer(app.Deps{
		Config:  cfg,
		Store:   st,
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
		Web:     os.DirFS(filepath.Join("..", "web")),
		Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return &testEnv{t: t, srv: srv, store: st, cfg: cfg, logs: logs}
}

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
