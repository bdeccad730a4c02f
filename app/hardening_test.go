package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"moments/app"
)

func TestContentSecurityPolicies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		path, want string
		not        []string
	}{
		{"/", "script-src 'self'", []string{"unsafe-inline", "unsafe-eval", "*"}},
		{"/", "frame-ancestors 'none'", nil},
		{"/docs", "script-src 'self'", []string{"unsafe-inline", "unsafe-eval"}},
		{"/docs", "frame-ancestors 'none'", nil},
		{"/healthz", "default-src 'none'", nil},
		{"/openapi.json", "default-src 'none'", nil},
		{"/posts", "default-src 'none'", nil},
		{"/docs/swagger-ui-bundle.js", "default-src 'none'", nil},
	} {
		csp := e.do("GET", tc.path, "", nil).Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, tc.want) {
			t.Errorf("%s: CSP %q lacks %q", tc.path, csp, tc.want)
		}
		for _, bad := range tc.not {
			if strings.Contains(csp, bad) {
				t.Errorf("%s: CSP %q contains %q", tc.path, csp, bad)
			}
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	off := newEnv(t)
	res := off.do("GET", "/healthz", "", nil, "Origin", "https://app.example.com")
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS is on by default: %q", got)
	}

	e := newEnv(t, withConfig(func(c *app.Config) {
		c.CORSOrigins = []string{"https://app.example.com", "http://localhost:5173"}
	}))
	for _, tc := range []struct {
		origin string
		allow  bool
	}{
		{"https://app.example.com", true},
		{"http://localhost:5173", true},
		{"null", false},
		{"https://app.example.com.evil.example", false},
		{"https://evil.example/https://app.example.com", false},
		{"http://app.example.com", false}, // wrong scheme
		{"https://app.example.com:8443", false},
		{"https://APP.example.com.", false},
		{"", false},
	} {
		res := e.do("GET", "/healthz", "", nil, "Origin", tc.origin)
		got := res.Header.Get("Access-Control-Allow-Origin")
		if tc.allow && got != tc.origin {
			t.Errorf("origin %q: Access-Control-Allow-Origin = %q, want it echoed", tc.origin, got)
		}
		if !tc.allow && got != "" {
			t.Errorf("origin %q: Access-Control-Allow-Origin = %q, want none", tc.origin, got)
		}
		if tc.origin != "" && !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("origin %q: no Vary: Origin", tc.origin)
		}
		if res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("credentials allowed for %q", tc.origin)
		}
	}

	// A preflight for an authenticated JSON POST.
	pre := e.do("OPTIONS", "/posts", "", nil,
		"Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization, content-type")
	if pre.StatusCode >= 300 || pre.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")), "authorization") ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
	evil := e.do("OPTIONS", "/posts", "", nil,
		"Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if evil.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin allowed: %v", evil.Header)
	}
}

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	big := `{"content":"` + strings.Repeat("a", 1<<20) + `"}`
	e.do("POST", "/posts", alice.Token, big).wantProblem(t, http.StatusRequestEntityTooLarge, "")
	e.form("/auth/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {strings.Repeat("p", 5000)}}).wantStatus(t, http.StatusRequestEntityTooLarge)
}

// No password, token or API key ever reaches the log.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	const apiKey = "sk-log-test-secret-key-0123456789"
	e := newEnv(t, withConfig(func(c *app.Config) {
		c.AIBaseURL = "http://127.0.0.1:1/v1" // nothing listens: the call fails
		c.AIModel = "m"
		c.AIAPIKey = apiKey
	}))
	alice := e.signUp("alice")
	e.login("alice", alice.Password)
	e.form("/auth/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong-password-xyz"}})
	e.do("PUT", "/users/me/password", alice.Token, map[string]string{"current_password": alice.Password, "new_password": "brand-new-password"})
	e.do("POST", "/posts", alice.Token, map[string]string{"content": "private body text"})
	e.do("POST", "/ai/assistant", e.login("alice", "brand-new-password"), map[string]string{"prompt": "secret prompt words"})
	e.do("GET", "/users/me", "garbage-token-value", nil)
	logs := e.logs.String()
	for _, secret := range []string{alice.Password, "wrong-password-xyz", "brand-new-password", alice.Token,
		apiKey, "private body text", "secret prompt words", "garbage-token-value", testSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
	if !strings.Contains(logs, "path=/ai/assistant") {
		t.Errorf("requests are not logged at all?\n%s", logs)
	}
}
