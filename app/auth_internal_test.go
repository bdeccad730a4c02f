package app

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"moments/internal/account"
	"moments/store"
)

func TestGeneratedSecretIsKeptPrivately(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	first, err := loadSecret(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 32 {
		t.Fatalf("secret is %d bytes", len(first))
	}
	fi, err := os.Stat(filepath.Join(cfg.DataDir, SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("secret file mode = %o, want 600", perm)
	}
	again, err := loadSecret(cfg)
	if err != nil || !bytes.Equal(first, again) {
		t.Fatalf("second start got another secret (%v)", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(cfg.DataDir, ".jwt-secret-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	os.WriteFile(filepath.Join(cfg.DataDir, SecretFile), []byte("short"), 0o600)
	if _, err := loadSecret(cfg); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a damaged secret was accepted: %v", err)
	}
}

func TestConfiguredSecret(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.JWTSecret = strings.Repeat("k", 32)
	got, err := loadSecret(cfg)
	if err != nil || string(got) != cfg.JWTSecret {
		t.Fatalf("loadSecret = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, SecretFile)); !os.IsNotExist(err) {
		t.Error("a configured secret was written to disk")
	}
	cfg.JWTSecret = "too-short"
	if _, err := loadSecret(cfg); err == nil {
		t.Error("a short secret was accepted")
	}
}

func TestCursorsRejectForgeries(t *testing.T) {
	t.Parallel()
	c := newCursors([]byte("secret-secret-secret-secret-secret"))
	good := c.encode("feed", 1_700_000_000_000, 42)
	a, b, err := c.decode("feed", good)
	if err != nil || a != 1_700_000_000_000 || b != 42 {
		t.Fatalf("round trip = %d, %d, %v", a, b, err)
	}
	other := newCursors([]byte("another-secret-another-secret-1234"))
	for name, bad := range map[string]string{
		"empty":           "",
		"garbage":         "!!!",
		"other list":      good,
		"other key":       other.encode("feed", 1, 2),
		"flipped bit":     flip(good),
		"truncated":       good[:len(good)-3],
		"extended":        good + "AA",
		"long":            strings.Repeat("A", 500),
		"padding":         good + "==",
		"plain numbers":   "1700000000000,42",
		"sql":             "1' OR '1'='1",
		"version changed": "B" + good[1:],
	} {
		list := "feed"
		if name == "other list" {
			list = "users"
		}
		if _, _, err := c.decode(list, bad); err == nil {
			t.Errorf("%s: accepted %q", name, bad)
		}
	}
}

func flip(s string) string {
	b := []byte(s)
	mid := len(b) / 2
	if b[mid] == 'A' {
		b[mid] = 'B'
	} else {
		b[mid] = 'A'
	}
	return string(b)
}

// newTestServer is the whole handler on a fresh store, at the given bcrypt
// cost (0: production).
func newTestServer(t *testing.T, cost int) (*server, http.Handler, *store.Store) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.JWTSecret = strings.Repeat("s", 32)
	st, err := store.Open(context.Background(), cfg.DataDir, store.Options{Migrations: os.DirFS(filepath.Join("..", "migrations"))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	limits := DefaultLimits()
	limits.Auth = Limit{Burst: 1000, Per: time.Minute}
	s, h, err := newServer(Deps{Config: cfg, Store: st, Web: os.DirFS(filepath.Join("..", "web")), PasswordCost: cost, Limits: &limits})
	if err != nil {
		t.Fatal(err)
	}
	return s, h, st
}

func serveForm(h http.Handler, path string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestUnknownUserCostsOneComparison: signing in as a name that does not
// exist runs one bcrypt comparison, as a wrong password does, so the time
// of the answer does not tell which names exist. Counted, not timed.
func TestUnknownUserCostsOneComparison(t *testing.T) {
	t.Parallel()
	s, h, st := newTestServer(t, bcrypt.MinCost)
	hash, _ := account.HashPassword("the-password", bcrypt.MinCost)
	if _, err := st.CreateUser(context.Background(), store.NewUser{Username: "alice", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, password string }{
		{"alice", "not-the-password"},
		{"nobody", "not-the-password"},
		{"nobody", strings.Repeat("p", 73)}, // too long to ever match
		{"alice", strings.Repeat("p", 73)},
	} {
		before := s.passwords.compared.Load()
		rec := serveForm(h, "/auth/token", url.Values{"grant_type": {"password"}, "username": {tc.name}, "password": {tc.password}})
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), errBadCredentials.Description) {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
		if n := s.passwords.compared.Load() - before; n != 1 {
			t.Errorf("signing in as %s (%d-byte password) ran %d bcrypt comparisons, want 1", tc.name, len(tc.password), n)
		}
	}
}

// TestStoredPasswordCost: passwords are stored at the production cost.
func TestStoredPasswordCost(t *testing.T) {
	t.Parallel()
	_, h, st := newTestServer(t, 0)
	req := httptest.NewRequest(http.MethodPost, "/auth/register", strings.NewReader(`{"username":"alice","password":"the-password"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	_, hash, err := st.Credentials(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != account.DefaultPasswordCost || cost < 10 {
		t.Errorf("stored hash has cost %d (%v), want %d", cost, err, account.DefaultPasswordCost)
	}
}
