package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"moments/app"
	"moments/store"
)

// BenchmarkFeedHandler measures one authenticated feed page through the
// whole handler (middleware, JWT, account check, page query, encoding)
// without the network. MOMENTS_BENCH_DATA names a data directory seeded by
// the store benchmarks (go test -bench FeedPage ./store seeds
// $MOMENTS_BENCH_DATA/mixed and /members: name one of those here). It reads
// as a new member, in no circle.
func BenchmarkFeedHandler(b *testing.B) {
	dir := os.Getenv("MOMENTS_BENCH_DATA")
	if dir == "" {
		b.Skip("set MOMENTS_BENCH_DATA to a seeded data directory")
	}
	work := b.TempDir()
	raw, err := os.ReadFile(filepath.Join(dir, store.DBFile))
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(work, store.DBFile), raw, 0o600)
	st, err := store.Open(context.Background(), work, store.Options{Migrations: os.DirFS("../migrations")})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cfg := app.DefaultConfig()
	cfg.DataDir = work
	cfg.JWTSecret = testSecret
	h, err := app.NewServer(app.Deps{Config: cfg, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Web: os.DirFS("../web"), PasswordCost: 4})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	http.Post(srv.URL+"/auth/register", "application/json", strings.NewReader(`{"username":"bencher","password":"bench-password"}`))
	res, err := http.PostForm(srv.URL+"/auth/token", url.Values{"grant_type": {"password"}, "username": {"bencher"}, "password": {"bench-password"}})
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	tok := strings.Split(strings.Split(string(body), `"access_token":"`)[1], `"`)[0]

	req := httptest.NewRequest("GET", "/posts?limit=20", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
