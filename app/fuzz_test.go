package app

import (
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
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"moments/store"
)

// FuzzCursorDecode: no input makes decode panic, and only cursors the
// server issued decode — to exactly the position they were issued for.
func FuzzCursorDecode(f *testing.F) {
	c := newCursors([]byte("fuzz-secret-fuzz-secret-fuzz-secret!"))
	f.Add(c.encode("feed", 1_700_000_000_000, 42), "feed")
	f.Add(c.encode("timeline:7", -1, 0), "timeline:7")
	f.Add(c.encode("feed", 1, 2), "users")
	for _, s := range []string{"", "AQ", "AQAA", "' OR 1=1 --", "%00", strings.Repeat("A", 64), "////", "AQIDBAUGBwgJCgsMDQ4P"} {
		f.Add(s, "feed")
	}
	f.Fuzz(func(t *testing.T, s, list string) {
		a, b, err := c.decode(list, s)
		if err != nil {
			return
		}
		if again := c.encode(list, a, b); again != s {
			t.Fatalf("decode(%q) = (%d, %d), which encodes to %q: a cursor the server never issued was accepted", s, a, b, again)
		}
	})
}

// FuzzCursorRoundTrip: every position survives encoding.
func FuzzCursorRoundTrip(f *testing.F) {
	c := newCursors([]byte("fuzz-secret-fuzz-secret-fuzz-secret!"))
	f.Add(int64(0), int64(0), "feed")
	f.Add(int64(-1<<63), int64(1<<63-1), "comments:9")
	f.Fuzz(func(t *testing.T, a, b int64, list string) {
		s := c.encode(list, a, b)
		if len(s) > maxCursorLength {
			t.Fatalf("cursor of %d bytes exceeds the limit", len(s))
		}
		ga, gb, err := c.decode(list, s)
		if err != nil || ga != a || gb != b {
			t.Fatalf("round trip of (%d, %d) = (%d, %d), %v", a, b, ga, gb, err)
		}
	})
}

// FuzzMediaURL: the URL check never panics, and what it accepts is an
// absolute http(s) URL with a host, of bounded length, that a browser
// follows exactly as written. /media/ paths pass only for stored uploads
// (none here).
func FuzzMediaURL(f *testing.F) {
	s := fuzzServer(f)
	for _, u := range []string{
		"https://example.com/a.jpg", "http://x.example:8080/p?q=1#f", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
		" javascript:alert(1)", "data:image/png;base64,AA", "file:///etc/passwd", "//evil.example/x", "https:///x",
		"https://user:pw@host/x", "/media/../moments.db", "/media/aaaaaaaaaaaaaaaaaaaaaaaaaa.jpg", "https://h/\x00",
		"https://[::1]/x", "https://h/ space", "HTTPS://EXAMPLE.COM/", "https:", "http://%41.example/",
	} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := s.checkMediaURL("body.media_urls[0]", raw)
		if err != nil {
			return
		}
		if strings.HasPrefix(raw, "/media/") {
			t.Fatalf("accepted %q though no upload is stored", raw)
		}
		u, perr := url.Parse(raw)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			t.Fatalf("accepted %q: %v %+v", raw, perr, u)
		}
		if len(raw) > maxURLLength {
			t.Fatalf("accepted %d bytes", len(raw))
		}
		for _, r := range raw {
			if unicode.IsControl(r) || unicode.IsSpace(r) {
				t.Fatalf("accepted %q with a control or space character", raw)
			}
		}
	})
}

// FuzzPostContent: a post's content is accepted exactly when it has 1–5000
// characters after trimming and no control characters but newline and tab.
func FuzzPostContent(f *testing.F) {
	for _, c := range []string{"hello", "", " ", "\n\t", "a\x00b", "a\rb", "é\u2028", strings.Repeat("é", 5000),
		strings.Repeat("x", 5001), " x ", "\x85", "<script>alert(1)</script>", "\xff\xfe"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, content string) {
		p := &newPost{Content: content}
		errs := p.Resolve(nil, huma.NewPathBuffer([]byte("body"), 4))
		n := utf8.RuneCountInString(strings.TrimSpace(content))
		clean := true
		for _, r := range content {
			if unicode.IsControl(r) && r != '\n' && r != '\t' {
				clean = false
			}
		}
		want := n >= 1 && n <= maxPostChars && clean
		if (len(errs) == 0) != want {
			t.Fatalf("content %q (%d characters, clean %v): errors %v", content, n, clean, errs)
		}
		for _, e := range errs {
			if d, ok := e.(*huma.ErrorDetail); !ok || d.Location != "body.content" {
				t.Fatalf("error %v does not name body.content", e)
			}
		}
	})
}

// FuzzTokenForm: whatever the body and content type, the token endpoint
// answers 200 only for the right credentials, otherwise an RFC 6749 error
// (or 413 for an oversized body), never a 5xx.
func FuzzTokenForm(f *testing.F) {
	s := fuzzServer(f)
	h := s.handler
	good := "grant_type=password&username=fuzzer&password=fuzz-password"
	f.Add(good, "application/x-www-form-urlencoded")
	for _, b := range []string{"", "grant_type=client_credentials", "grant_type=password&username=fuzzer",
		"grant_type=password&username=fuzzer&password=wrong", "%zz", "grant_type=password&grant_type=password",
		`{"grant_type":"password"}`, "username=\x00&password=\xff", "grant_type=password&username=FUZZER&password=fuzz-password"} {
		f.Add(b, "application/x-www-form-urlencoded")
	}
	f.Add(good, "application/json")
	f.Add(good, "application/x-www-form-urlencoded; charset=utf-8")
	f.Add(good, "")
	f.Fuzz(func(t *testing.T, body, ctype string) {
		req := httptest.NewRequest("POST", "/auth/token", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			form, _ := url.ParseQuery(body)
			if json.Unmarshal(rec.Body.Bytes(), &tok) != nil || tok.AccessToken == "" ||
				!strings.EqualFold(form.Get("username"), "fuzzer") || form.Get("password") != "fuzz-password" {
				t.Fatalf("200 for %q (%q): %s", body, ctype, rec.Body)
			}
		case http.StatusBadRequest:
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Description == "" ||
				(e.Error != "invalid_request" && e.Error != "invalid_grant" && e.Error != "unsupported_grant_type") {
				t.Fatalf("400 without an RFC 6749 error for %q: %s", body, rec.Body)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("400 without Cache-Control: no-store")
			}
		case http.StatusRequestEntityTooLarge:
			if len(body) <= maxTokenFormBytes {
				t.Fatalf("413 for a %d-byte body", len(body))
			}
		default:
			t.Fatalf("status %d for %q (%q): %s", rec.Code, body, ctype, rec.Body)
		}
	})
}

// FuzzBearer: the auth middleware lets exactly the issued token through;
// every other Authorization header is a 401 with a Bearer challenge.
func FuzzBearer(f *testing.F) {
	s := fuzzServer(f)
	valid := "Bearer " + s.token
	f.Add(valid)
	for _, v := range []string{"", "Bearer", "Bearer ", "bearer " + s.token, "Basic Zm9vOmJhcg==", "Bearer garbage",
		"Bearer a.b.c", "Bearer " + s.token + "x", "Bearer  " + s.token, valid[:len(valid)-1], "Bearer " + strings.Repeat("A", 5000),
		"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJmdXp6ZXIifQ.", "\x00", "Bearer \xff"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest("GET", "/users/me", nil)
		if header != "" {
			req.Header["Authorization"] = []string{header}
		}
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		scheme, raw, _ := strings.Cut(header, " ")
		accepted := strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(raw) == s.token
		switch {
		case rec.Code == http.StatusOK && accepted:
		case rec.Code == http.StatusUnauthorized && !accepted:
			if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("401 without a Bearer challenge for %q", header)
			}
		default:
			t.Fatalf("Authorization %q: status %d (accepted %v): %s", header, rec.Code, accepted, rec.Body)
		}
	})
}

// fuzzEnv is one server shared by a fuzz target's runs: an account
// "fuzzer" and a token for it.
type fuzzEnv struct {
	*server
	handler http.Handler
	token   string
}

func fuzzServer(f *testing.F) *fuzzEnv {
	f.Helper()
	dir := f.TempDir()
	st, err := store.Open(context.Background(), dir, store.Options{Migrations: os.DirFS(filepath.Join("..", "migrations"))})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.JWTSecret = "fuzz-secret-fuzz-secret-fuzz-secret!"
	limits := Limits{Auth: Limit{Burst: 1 << 30, Per: 1}, Assistant: Limit{Burst: 1 << 30, Per: 1}}
	d := Deps{Config: cfg, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Web: os.DirFS(filepath.Join("..", "web")), PasswordCost: 4, Limits: &limits}
	s, h, err := newServer(d)
	if err != nil {
		f.Fatal(err)
	}
	hash, _ := s.passwords.hash(context.Background(), "fuzz-password")
	u, err := st.CreateUser(context.Background(), store.NewUser{Username: "fuzzer", PasswordHash: hash})
	if err != nil {
		f.Fatal(err)
	}
	tok, err := s.tokens.issue(store.User{Username: u.Username, TokenVersion: u.TokenVersion})
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzEnv{server: s, handler: h, token: tok}
}
