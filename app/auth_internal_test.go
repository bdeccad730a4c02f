package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
