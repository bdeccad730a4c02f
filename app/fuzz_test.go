package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"moments/store"
)

// The fuzz targets' fixed world: one secret, one clock and one account, so
// that the token and the cursors they issue are the same on every run and
// can be written into the seed corpora under testdata/fuzz.
const (
	fuzzSecret   = "fuzz-secret-fuzz-secret-fuzz-secret!"
	fuzzUsername = "fuzzer"
	fuzzPassword = "fuzz-password"
)

var fuzzNow = time.Date(2026, 11, 26, 19, 4, 5, 0, time.UTC)

// The targets that check a length limit of kilobytes take the padding that
// reaches it as a number (pad) instead of as kilobytes of input: the fuzzer
// minimizes every input that finds new code, trying pairs of cuts, which
// for a string of a few kilobytes stalls a worker for a minute.

// FuzzCursorDecode: no string makes decode panic, and only cursors the
// server issued decode: whatever decode accepts is exactly the encoding of
// the position it returns, for that list.
func FuzzCursorDecode(f *testing.F) {
	c := newCursors([]byte(fuzzSecret))
	good := c.encode(listFeed, 1_700_000_000_000, 42)
	f.Add(good, listFeed)
	f.Add(c.encode(listTimeline+"7", -1, 0), listTimeline+"7")
	f.Add(c.encode(listComments+"9", 1<<62, 1<<62), listComments+"9")
	f.Add(good, listUsers)                        // another list's cursor
	f.Add(good+"A", listFeed)                     // one character more
	f.Add(good[:len(good)-1], listFeed)           // one character less
	f.Add(good[:len(good)-1]+"1", listFeed)       // another last character
	f.Add(good[:13]+"\r"+good[13:], listFeed)     // base64 ignores CR and LF
	f.Add(strings.ReplaceAll(good, "_", "/"), "") // the other base64 alphabet
	f.Add(good+"==", listFeed)                    // padding
	f.Add(string(good[0]^1)+good[1:], listFeed)   // flipped bit in the version
	f.Add(strings.Repeat("A", maxCursorLength+1), listFeed)
	for _, s := range []string{"", "AQ", "AQAA", "null", "' OR 1=1 --", "%00", "\x00", "\xff\xfe", "////",
		"AQIDBAUGBwgJCgsMDQ4P", "Af__________________________AQ", "1700000000000,42"} {
		f.Add(s, listFeed)
	}
	f.Fuzz(func(t *testing.T, s, list string) {
		a, b, err := c.decode(list, s)
		if err != nil {
			if !errors.Is(err, errBadCursor) {
				t.Fatalf("decode(%q) = %v, want errBadCursor", s, err)
			}
			return
		}
		canonical := c.encode(list, a, b)
		if canonical == s {
			return
		}
		t.Fatalf("decode(%q, %q) = (%d, %d), whose cursor is %q: a cursor the server never issued was accepted", list, s, a, b, canonical)
	})
}

// FuzzCursorRoundTrip: every position of every list survives encoding, as a
// short URL-safe string that no other list accepts.
func FuzzCursorRoundTrip(f *testing.F) {
	c := newCursors([]byte(fuzzSecret))
	f.Add(int64(0), int64(0), listFeed)
	f.Add(int64(1_700_000_000_000), int64(42), listFeed)
	f.Add(int64(-1<<63), int64(1<<63-1), listComments+"9")
	f.Add(int64(-1), int64(-1), "")
	f.Add(int64(1<<63-1), int64(-1<<63), listTimeline+"\x00\xff")
	f.Fuzz(func(t *testing.T, a, b int64, list string) {
		s := c.encode(list, a, b)
		if len(s) > maxCursorLength {
			t.Fatalf("encode(%q, %d, %d) = %q: %d bytes, over the %d decode reads", list, a, b, s, len(s), maxCursorLength)
		}
		for _, r := range s {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				t.Fatalf("encode(%q, %d, %d) = %q: %q needs escaping in a URL", list, a, b, s, r)
			}
		}
		ga, gb, err := c.decode(list, s)
		if err != nil || ga != a || gb != b {
			t.Fatalf("decode(encode(%q, %d, %d)) = (%d, %d), %v", list, a, b, ga, gb, err)
		}
		if _, _, err := c.decode(list+"x", s); err == nil {
			t.Fatalf("the cursor of list %q is accepted by list %q", list, list+"x")
		}
	})
}

// FuzzMediaURL: webURL and checkMediaURL never panic; what they accept is
// an absolute http(s) URL with a host and no user info, at most 2048 bytes,
// without control or space characters, that url.Parse reads the same way.
// A /media/ path passes only for a stored upload, and this server has none.
// The URL checked is raw followed by pad%2050 letters a.
func FuzzMediaURL(f *testing.F) {
	s := newFuzzEnv(f).srv
	for _, u := range []string{
		"https://example.com/a.jpg", "http://x.example:8080/p?q=1#f", "HTTPS://EXAMPLE.COM/", "http://[::1]:80/x",
		"http://%41.example/", "http://\xff/", "http://example.com/\u200b",
		"javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)", "javascript://x.example/%0aalert(1)",
		"data:image/png;base64,AA", "file:///etc/passwd", "//evil.example/x", "https:///x", "http://:80/", "https:", "http:example.com",
		"https://user:pw@host/x", "https://@host/x", "https://h/\x00", "https://h/ space", "https://h/x ", " https://h/x",
		"https://h/\u3000x", "https:\\\\evil.example\\x.jpg", "/media/", "/media/../moments.db", "/media/aaaaaaaaaaaaaaaaaaaaaaaaaa.jpg",
		"/media/aaaaaaaaaaaaaaaaaaaaaaaaaa.thumb.jpg", "/media/..%2f..%2fmoments.db", "/MEDIA/x.jpg", "",
	} {
		f.Add(u, uint16(0))
	}
	f.Add("https://h/", uint16(maxURLLength-len("https://h/")))   // the longest
	f.Add("https://h/", uint16(maxURLLength-len("https://h/")+1)) // one byte too long
	f.Add("https://h/ ", uint16(1))
	f.Fuzz(func(t *testing.T, raw string, pad uint16) {
		fuzzMediaURL(t, s, raw+strings.Repeat("a", int(pad)%(maxURLLength+2)))
	})
}

// fuzzMediaURL checks one input of FuzzMediaURL.
func fuzzMediaURL(t testing.TB, s *server, raw string) {
	t.Helper()
	web := webURL(raw)
	err := s.checkMediaURL("body.media_urls[0]", raw)
	if err != nil {
		var se huma.StatusError
		if !errors.As(err, &se) || se.GetStatus() != http.StatusUnprocessableEntity {
			t.Fatalf("checkMediaURL(%q) = %v, want a 422", raw, err)
		}
	}
	if strings.HasPrefix(raw, "/media/") {
		if err == nil {
			t.Fatalf("accepted %q, though no upload is stored", raw)
		}
		return
	}
	if (err == nil) != web {
		t.Fatalf("checkMediaURL(%q) = %v but webURL = %v", raw, err, web)
	}
	lower := strings.ToLower(raw)
	if strings.HasPrefix(lower, "javascript:") || strings.TrimSpace(raw) != raw {
		if web {
			t.Fatalf("accepted %q", raw)
		}
		return
	}
	if !web {
		return
	}
	if len(raw) > maxURLLength {
		t.Fatalf("accepted a URL of %d bytes", len(raw))
	}
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		t.Fatalf("accepted %q, which does not start with http:// or https://", raw)
	}
	for _, r := range raw {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			t.Fatalf("accepted %q, which holds %q", raw, r)
		}
	}
	u, perr := url.Parse(raw)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" ||
		u.User != nil || u.Opaque != "" {
		t.Fatalf("accepted %q, which url.Parse reads as %#v (%v)", raw, u, perr)
	}
}

// FuzzPostContent: a post's content is accepted exactly when it is valid
// UTF-8 of 1–5000 characters after trimming white space, with no control
// characters but newline and tab and no bidirectional override or isolate
// characters; a comment's the same with 1–1000. Every error names the
// field. The content checked is pad%5002 letters é followed by content.
func FuzzPostContent(f *testing.F) {
	for _, c := range []string{"hello", "", " ", "\n\t", "a\x00b", "a\rb", "a\r\nb", "a\x7fb", "é\u2028", "\u0085x", "x\u0085",
		"\u200b", "abc\u202edef", "\u2066x\u2069", "\u200fmark", "\ufeff", "\u3000x\u3000",
		"<script>alert(1)</script>", "\xff\xfe", "a\xc3", "🎉"} {
		f.Add(c, uint16(0))
	}
	for _, c := range []string{"", "x", " \n", "\u3000", "\x00"} {
		for _, n := range []int{maxCommentChars - 1, maxCommentChars, maxPostChars - 1, maxPostChars} {
			f.Add(c, uint16(n))
		}
	}
	f.Fuzz(func(t *testing.T, content string, pad uint16) {
		fuzzContent(t, strings.Repeat("é", int(pad)%(maxPostChars+2))+content)
	})
}

// fuzzContent checks one input of FuzzPostContent.
func fuzzContent(t testing.TB, content string) {
	t.Helper()
	n := utf8.RuneCountInString(strings.TrimSpace(content))
	clean := utf8.ValidString(content)
	for _, r := range content {
		bidi := r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069'
		if unicode.IsControl(r) && r != '\n' && r != '\t' || bidi {
			clean = false
		}
	}
	for _, tc := range []struct {
		kind string
		max  int
		errs []error
	}{
		{"post", maxPostChars, (&newPost{Content: content}).Resolve(nil, huma.NewPathBuffer([]byte("body"), 4))},
		{"comment", maxCommentChars, (&newComment{Content: content}).Resolve(nil, huma.NewPathBuffer([]byte("body"), 4))},
	} {
		want := n >= 1 && n <= tc.max && clean
		if (len(tc.errs) == 0) != want {
			t.Fatalf("%s content %q (%d characters after trimming, clean %v): errors %v", tc.kind, content, n, clean, tc.errs)
		}
		for _, e := range tc.errs {
			if d, ok := e.(*huma.ErrorDetail); !ok || d.Location != "body.content" {
				t.Fatalf("%s: error %#v does not name body.content", tc.kind, e)
			}
		}
	}
}

// FuzzTokenForm: whatever the body and Content-Type, POST /auth/token
// answers 200 with a token exactly for the one right credential pair, 413
// exactly for a body of the limit's size or more, and otherwise a 400 in RFC 6749's
// shape; never a 5xx. Token answers, good or bad, are not cached. The body
// sent is body followed by pad%4098 letters p.
func FuzzTokenForm(f *testing.F) {
	env := newFuzzEnv(f)
	const form = "application/x-www-form-urlencoded"
	good := "grant_type=password&username=" + fuzzUsername + "&password=" + fuzzPassword
	for _, b := range []string{good, "password=" + fuzzPassword + "&grant_type=password&username=" + fuzzUsername + "&scope=x&client_id=y",
		"grant_type=password&username=FUZZER&password=" + fuzzPassword, "grant_type=password&username=fuzzer&password=fuzz%2Dpassword",
		"grant_type=password&username=fuzzer&password=fuzz-password&password=fuzz-password", "grant_type=password;username=fuzzer;password=fuzz-password",
		"", "&", "=", "grant_type=client_credentials", "grant_type=PASSWORD&username=fuzzer&password=fuzz-password",
		"grant_type=password&username=fuzzer", "grant_type=password&username=fuzzer&password=wrong", "grant_type=password&username=nobody&password=x",
		"grant_type=password&username=fuzzer&password=" + fuzzPassword + strings.Repeat("p", 72), "%zz", "grant_type=%00",
		"grant_type=password&grant_type=password", `{"grant_type":"password"}`, "username=\x00&password=\xff",
		good + "&scope=%ff", good + "&%c3=x", "grant_type=password&username=fuzzer&password=fuzz-passwor%c3"} {
		f.Add(b, form, uint16(0))
	}
	for _, ct := range []string{"application/json", form + "; charset=utf-8", "APPLICATION/X-WWW-FORM-URLENCODED", "", "text/plain",
		form + ";", form + "; =", "multipart/form-data; boundary=x", form + ", application/json"} {
		f.Add(good, ct, uint16(0))
	}
	scope := "&scope="
	f.Add(good+scope, form, uint16(maxTokenFormBytes-1-len(good+scope))) // the largest body
	f.Add(good+scope, form, uint16(maxTokenFormBytes-len(good+scope)))   // one byte too large
	f.Add(good, form, uint16(maxTokenFormBytes))
	f.Fuzz(func(t *testing.T, body, ctype string, pad uint16) {
		fuzzTokenForm(t, env, body+strings.Repeat("p", int(pad)%(maxTokenFormBytes+2)), ctype)
	})
}

// fuzzTokenForm checks one input of FuzzTokenForm.
func fuzzTokenForm(t testing.TB, env *fuzzEnv, body, ctype string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/auth/token", strings.NewReader(body))
	if ctype != "" {
		req.Header["Content-Type"] = []string{ctype}
	}
	rec := env.serve(t, req)
	want := http.StatusBadRequest
	switch {
	case len(body) >= maxTokenFormBytes: // Huma refuses a body that reaches MaxBodyBytes
		want = http.StatusRequestEntityTooLarge
	case rightCredentials(body, ctype):
		want = http.StatusOK
	}
	if rec.Code != want {
		t.Fatalf("body %q, Content-Type %q: status %d, want %d: %s", body, ctype, rec.Code, want, rec.Body)
	}
	switch rec.Code {
	case http.StatusOK:
		var tok struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			ExpiresIn   int64  `json:"expires_in"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken != env.token ||
			tok.TokenType != "bearer" || tok.ExpiresIn <= 0 {
			t.Fatalf("200 for %q without the account's token: %s", body, rec.Body)
		}
	case http.StatusBadRequest:
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Description == "" ||
			(e.Error != "invalid_request" && e.Error != "invalid_grant" && e.Error != "unsupported_grant_type") {
			t.Fatalf("400 for %q (%q) is not an RFC 6749 error: %s", body, ctype, rec.Body)
		}
	}
	if rec.Code != http.StatusRequestEntityTooLarge && rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d for %q without Cache-Control: no-store", rec.Code, body)
	}
}

// rightCredentials reports whether a token request is a well-formed password
// grant for the fuzz account: usernames are matched ignoring ASCII case,
// as the database does.
func rightCredentials(body, ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return false
	}
	form, err := url.ParseQuery(body)
	if err != nil {
		return false
	}
	for _, k := range []string{"grant_type", "username", "password"} {
		if len(form[k]) != 1 {
			return false
		}
	}
	for k, vs := range form {
		for _, v := range append(vs, k) {
			if !utf8.ValidString(v) {
				return false // a form with invalid UTF-8 anywhere is refused
			}
		}
	}
	name := form.Get("username")
	return form.Get("grant_type") == "password" && form.Get("password") == fuzzPassword &&
		len(name) == len(fuzzUsername) && strings.EqualFold(name, fuzzUsername)
}

// FuzzBearer: GET /users/me answers 200 exactly for `Bearer <the issued
// token>` — the scheme in any case, white space around the token allowed —
// and 401 with a Bearer challenge for every other Authorization header.
// The header sent is header followed by pad%4098 spaces.
func FuzzBearer(f *testing.F) {
	env := newFuzzEnv(f)
	tok := env.token
	for _, v := range []string{"Bearer " + tok, "bearer " + tok, "BEARER " + tok, "Bearer   " + tok + " \t", "Bearer " + tok + "\u00a0",
		"Bearer\t" + tok, " Bearer " + tok, "Bearer", "Bearer ", "", "Basic Zm9vOmJhcg==", "Bearer garbage", "Bearer a.b.c",
		"Bearer " + tok + "x", "Bearer " + tok[:len(tok)-1], "Bearer " + tok + "." + tok, "Bearer " + tok + ", Bearer " + tok,
		"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJmdXp6ZXIifQ.", "\x00", "Bearer \xff", "Bearer " + strings.ToUpper(tok),
		// The signature spelled differently: the same bytes to a lenient base64 decoder.
		"Bearer " + tok[:len(tok)-5] + "\r\n" + tok[len(tok)-5:], "Bearer " + tok[:len(tok)-1] + lastBitFlipped(tok)} {
		f.Add(v, uint16(0))
	}
	f.Add("Bearer "+tok, uint16(maxTokenBytes-len(tok)))   // the longest header value allowed
	f.Add("Bearer "+tok, uint16(maxTokenBytes-len(tok)+1)) // one byte too long
	f.Add("Bearer", uint16(maxTokenBytes+1))
	f.Fuzz(func(t *testing.T, header string, pad uint16) {
		fuzzBearer(t, env, header+strings.Repeat(" ", int(pad)%(maxTokenBytes+2)))
	})
}

// fuzzBearer checks one input of FuzzBearer.
func fuzzBearer(t testing.TB, env *fuzzEnv, header string) {
	t.Helper()
	tok := env.token
	req := httptest.NewRequest(http.MethodGet, "/users/me", nil)
	if header != "" {
		req.Header["Authorization"] = []string{header}
	}
	rec := env.serve(t, req)
	scheme, raw, _ := strings.Cut(header, " ")
	wellFormed := strings.EqualFold(scheme, "Bearer") && len(raw) <= maxTokenBytes
	accepted := wellFormed && strings.TrimSpace(raw) == tok
	switch {
	case rec.Code == http.StatusOK && accepted:
		var me struct {
			Username string `json:"username"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &me); err != nil || me.Username != fuzzUsername {
			t.Fatalf("Authorization %q: 200 for another account: %s", header, rec.Body)
		}
	case rec.Code == http.StatusUnauthorized && !accepted:
		if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer ") {
			t.Fatalf("Authorization %q: 401 with WWW-Authenticate %q", header, rec.Header().Get("WWW-Authenticate"))
		}
	default:
		t.Fatalf("Authorization %q: status %d (the issued token: %v): %s", header, rec.Code, accepted, rec.Body)
	}
}

// lastBitFlipped is s's last base64 character with its lowest bit flipped.
func lastBitFlipped(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return string(alphabet[i^1])
}

// fuzzEnv is the real handler on a fresh database, shared by the runs of one
// fuzz target: one account, fuzzUsername, and its token. Requests go to the
// handler directly, so header values no HTTP parser would pass still reach
// the middleware.
type fuzzEnv struct {
	srv     *server
	handler http.Handler
	token   string
	panics  *panicDetector
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	ctx := context.Background()
	now := func() time.Time { return fuzzNow }
	dir := f.TempDir()
	st, err := store.Open(ctx, dir, store.Options{Migrations: os.DirFS(filepath.Join("..", "migrations")), Now: now})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.JWTSecret = fuzzSecret
	// The clock stands still, so the buckets never refill: make them deep.
	limits := Limits{Auth: Limit{Burst: 1 << 40, Per: time.Hour}, Assistant: Limit{Burst: 1 << 40, Per: time.Hour}}
	panics := &panicDetector{}
	s, h, err := newServer(Deps{
		Config:       cfg,
		Store:        st,
		Logger:       slog.New(slog.NewTextHandler(panics, nil)),
		Web:          os.DirFS(filepath.Join("..", "web")),
		Now:          now,
		PasswordCost: 4,
		Limits:       &limits,
	})
	if err != nil {
		f.Fatal(err)
	}
	hash, err := s.passwords.hash(ctx, fuzzPassword)
	if err != nil {
		f.Fatal(err)
	}
	u, err := st.CreateUser(ctx, store.NewUser{Username: fuzzUsername, PasswordHash: hash})
	if err != nil {
		f.Fatal(err)
	}
	tok, err := s.tokens.issue(u)
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzEnv{srv: s, handler: h, token: tok, panics: panics}
}

// serve runs one request and fails on a 5xx or a recovered panic.
func (e *fuzzEnv) serve(t testing.TB, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if e.panics.seen.Load() {
		t.Fatalf("%s %s panicked: %s", req.Method, req.URL, rec.Body)
	}
	if rec.Code >= 500 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, rec.Code, rec.Body)
	}
	return rec
}

// panicDetector is the fuzz servers' log: it keeps nothing (fuzzing sends
// millions of requests) but notices the line recoverPanics writes.
type panicDetector struct{ seen atomic.Bool }

func (p *panicDetector) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte("msg=panic")) {
		p.seen.Store(true)
	}
	return len(b), nil
}
