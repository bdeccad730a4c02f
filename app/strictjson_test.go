package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode"
)

// TestManyUnknownKeysCostLittle: a body of thousands of unknown keys once
// produced one "unexpected property" error per key, each quoting the whole
// body (a 39 KB body gave a 156 MB answer). Now the answer is a few
// kilobytes, lists at most 20 errors, quotes nothing, and costs about what
// reading the body costs.
//
// Not parallel: it measures the allocations of the whole process, which
// the package's parallel tests would add to. (Go runs the parallel tests
// only after the others.)
func TestManyUnknownKeysCostLittle(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString(`{"username":"alice_1","password":"secret-password-1"`)
	for i := 0; b.Len() < 39_000; i++ {
		fmt.Fprintf(&b, `,"k%d":"v"`, i)
	}
	b.WriteString("}")
	body := b.String()

	var before, after runtime.MemStats
	fastest := time.Hour
	for range 3 {
		runtime.ReadMemStats(&before)
		start := time.Now()
		res := e.do("POST", "/auth/register", "", body)
		fastest = min(fastest, time.Since(start))
		runtime.ReadMemStats(&after)
		p := res.wantProblem(t, http.StatusUnprocessableEntity, "body.k0")
		if len(res.body) > 8<<10 {
			t.Errorf("the answer is %d bytes", len(res.body))
		}
		if len(p.Errors) != 20 {
			t.Errorf("%d errors listed, want 20", len(p.Errors))
		}
		if strings.Contains(res.text(), "secret-password-1") || strings.Contains(res.text(), `"value"`) {
			t.Errorf("the answer echoes the body: %.300s", res.body)
		}
		// Client and server share this process: what both allocated for the
		// exchange is bounded by a small multiple of the body.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*uint64(len(body)) {
			t.Errorf("the exchange allocated %d bytes for a %d-byte body", alloc, len(body))
		}
	}
	t.Logf("a %d-byte body of unknown keys: fastest of 3 answers in %s", len(body), fastest)
	if fastest > 100*time.Millisecond {
		t.Errorf("the fastest of 3 answers took %s", fastest)
	}
	e.do("GET", "/users/alice_1", "", nil).wantStatus(t, http.StatusUnauthorized)
}

// TestProblemsNeverEchoTheBody: no validation problem repeats a value the
// client sent, passwords least of all.
func TestProblemsNeverEchoTheBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	for _, tc := range []struct {
		name, method, path, token, body string
	}{
		{"missing username", "POST", "/auth/register", "", `{"password":"hunter2-hunter2"}`},
		{"unknown property", "POST", "/auth/register", "", `{"username":"bob_1","password":"hunter2-hunter2","admin":true}`},
		{"wrong type", "POST", "/auth/register", "", `{"username":7,"password":"hunter2-hunter2"}`},
		{"short password", "POST", "/auth/register", "", `{"username":"bob_1","password":"hunter2"}`},
		{"long username", "POST", "/auth/register", "", `{"username":"hunter2hunter2hunter2hunter2hunter2","password":"x"}`},
		{"wrong current password", "PUT", "/users/me/password", alice.Token, `{"current_password":"hunter2-hunter2","new_password":"hunter2-hunter3"}`},
		{"short new password", "PUT", "/users/me/password", alice.Token, `{"current_password":"` + alice.Password + `","new_password":"hunter2"}`},
		{"bad media URL", "POST", "/posts", alice.Token, `{"content":"x","media_urls":["javascript:hunter2"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(tc.method, tc.path, tc.token, tc.body)
			if res.StatusCode < 400 {
				t.Fatalf("status %d", res.StatusCode)
			}
			if strings.Contains(res.text(), "hunter2") || strings.Contains(res.text(), alice.Password) || strings.Contains(res.text(), `"value"`) {
				t.Errorf("%d answer echoes the body: %s", res.StatusCode, res.body)
			}
		})
	}
}

// TestStrictJSONEveryOperation takes every JSON operation from the OpenAPI
// document and sends, for each field of its body, the field twice and the
// field beside a case variant of its name, and once a string that is not
// valid UTF-8: encoding/json would have merged all of these into something
// the validator never saw.
func TestStrictJSONEveryOperation(t *testing.T) {
	t.Parallel()
	z := newAPIFuzzer(t)
	checked := 0
	for _, op := range z.ops {
		if op.bodyType != "application/json" || len(op.propNames) == 0 {
			continue
		}
		path := strings.NewReplacer("{id}", fmt.Sprint(z.postID), "{username}", "alice").Replace(op.path)
		for _, name := range op.propNames {
			value := z.validValue(name, op.props[name])
			variant := strings.ToUpper(name[:1]) + name[1:]
			if variant == name {
				variant = strings.ToLower(name)
			}
			for _, tc := range []struct {
				kind, body string
				status     int
				location   string
			}{
				{"duplicate", fmt.Sprintf(`{%q:%s,%q:%s}`, name, value, name, value), http.StatusBadRequest, "body." + name},
				{"case variant", fmt.Sprintf(`{%q:%s,%q:%s}`, name, value, variant, value), http.StatusUnprocessableEntity, "body." + variant},
				{"upper case only", fmt.Sprintf(`{%q:%s}`, strings.Map(unicode.ToUpper, name), value), http.StatusUnprocessableEntity, "body." + strings.Map(unicode.ToUpper, name)},
				{"invalid UTF-8", fmt.Sprintf("{%q:\"a\xffb\"}", name), http.StatusBadRequest, ""},
				{"lone surrogate", fmt.Sprintf(`{%q:"a\ud800b"}`, name), http.StatusBadRequest, ""},
			} {
				res := z.e.do(op.method, path, z.alice.Token, tc.body)
				if op.path == "/admin/users/{id}" {
					res = z.e.do(op.method, fmt.Sprintf("/admin/users/%d", z.victim.ID), z.admin.Token, tc.body)
				}
				p := res.wantProblem(t, tc.status, tc.location)
				if tc.kind == "case variant" && (len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Message, "letter case")) {
					t.Errorf("%s %s, %s of %s: %s", op.method, op.path, tc.kind, name, res.body)
				}
				checked++
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d requests checked", checked)
	}
}

// TestLookAlikeUsernameRefused is the attack that was found: the validator
// saw "legit_1", encoding/json stored the Cyrillic "аlice".
func TestLookAlikeUsernameRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, body := range []string{
		`{"username":"legit_1","USERNAME":"\u0430lice","password":"password-1"}`,
		`{"username":"legit_1","Username":"bob\u0000","password":"password-1"}`,
		`{"username":"legit_1","username":"","password":"password-1"}`,
		`{"username":"legit_1","password":"password-1","BIO":"` + strings.Repeat("x", 1000) + `"}`,
	} {
		res := e.do("POST", "/auth/register", "", body)
		if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%.60s: %d %s", body, res.StatusCode, res.body)
		}
	}
	// Nothing was created: the first account to register is still the admin.
	if u := e.signUp("first"); !u.Admin {
		t.Error("an account was created by one of the refused bodies")
	}
}

func TestJSONBodyContentType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	for _, tc := range []struct {
		ctype  string
		status int
	}{
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"application/cbor", http.StatusUnsupportedMediaType},
		{"Application/JSON; charset=utf-8", http.StatusCreated},
		{"application/merge-patch+json", http.StatusCreated},
	} {
		res := e.do("POST", "/posts", alice.Token, `{"content":"typed"}`, "Content-Type", tc.ctype)
		if res.StatusCode != tc.status {
			t.Errorf("Content-Type %q: %d %s, want %d", tc.ctype, res.StatusCode, res.body, tc.status)
		}
	}
}

// TestJSONBodyLimits: JSON bodies are limited to what their operation can
// need (64 KiB; posts and the assistant 256 KiB), not 1 MiB.
func TestJSONBodyLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	pad := func(n int) string { return `{"bio":"x"` + strings.Repeat(" ", n) + `}` }
	e.do("PATCH", "/users/me", alice.Token, pad(60<<10)).wantStatus(t, http.StatusOK)
	e.do("PATCH", "/users/me", alice.Token, pad(64<<10)).wantProblem(t, http.StatusRequestEntityTooLarge, "")
	// The longest post, every character escaped, fits.
	longest := `{"content":"` + strings.Repeat(`\ud83c\udf89`, 5000) + `"}`
	e.do("POST", "/posts", alice.Token, longest).wantStatus(t, http.StatusCreated)
	e.do("POST", "/posts", alice.Token, `{"content":"x"`+strings.Repeat(" ", 256<<10)+`}`).wantProblem(t, http.StatusRequestEntityTooLarge, "")
}

// TestInvalidUTF8Refused: text that is not UTF-8 is refused wherever it
// comes, never rewritten to U+FFFD (which once stored a password other than
// the one typed, so its owner could not sign in with it).
func TestInvalidUTF8Refused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("POST", "/auth/register", "", "{\"username\":\"alice\",\"password\":\"pass\xffword\"}").wantProblem(t, http.StatusBadRequest, "")
	e.signUp("alice")
	res := e.form("/auth/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"password-alice\xff"}})
	res.wantStatus(t, http.StatusBadRequest)
	if !strings.Contains(res.text(), "invalid_request") || !strings.Contains(res.text(), "UTF-8") {
		t.Errorf("sign-in with invalid UTF-8: %s", res.body)
	}
}
