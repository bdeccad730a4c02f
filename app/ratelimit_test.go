package app_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"

	"moments/app"
	"moments/internal/testutil"
)

// withRealAuthLimit restores the production sign-in limit.
func withRealAuthLimit(clock *testutil.Clock) func(*app.Deps) {
	return func(d *app.Deps) {
		limits := app.DefaultLimits()
		d.Limits = &limits
		if clock != nil {
			d.Now = clock.Now
		}
	}
}

func TestSignInIsRateLimited(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Now())
	e := newEnv(t, withRealAuthLimit(clock))
	// Registration shares the bucket: this is request 1 of 10.
	e.do("POST", "/auth/register", "", map[string]string{"username": "alice", "password": "12345678"}).wantStatus(t, 201)
	attempt := func() *response {
		return e.form("/auth/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"12345678"}})
	}
	for i := 2; i <= 10; i++ {
		res := attempt().wantStatus(t, 200)
		if got := res.Header.Get("RateLimit-Remaining"); got != strconv.Itoa(10-i) {
			t.Errorf("request %d: RateLimit-Remaining = %q", i, got)
		}
		if res.Header.Get("RateLimit-Limit") != "10" || res.Header.Get("RateLimit-Reset") == "" {
			t.Errorf("request %d: headers %v", i, res.Header)
		}
	}
	// The 11th is refused even with the right password, before any bcrypt
	// work, with a problem document and Retry-After.
	res := attempt()
	res.wantProblem(t, http.StatusTooManyRequests, "")
	if ra := res.Header.Get("Retry-After"); ra != "6" {
		t.Errorf("Retry-After = %q, want 6", ra)
	}
	if res.Header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("RateLimit-Remaining = %q", res.Header.Get("RateLimit-Remaining"))
	}
	e.do("POST", "/auth/register", "", map[string]string{"username": "bob", "password": "12345678"}).
		wantStatus(t, http.StatusTooManyRequests)

	// A spoofed X-Forwarded-For from an untrusted peer opens no new bucket.
	e.form("/auth/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"12345678"}},
		"X-Forwarded-For", "203.0.113.9").wantStatus(t, http.StatusTooManyRequests)

	// Other operations are not limited.
	e.do("GET", "/healthz", "", nil).wantStatus(t, 200)

	// One token comes back every 6 s.
	clock.Advance(6 * time.Second)
	attempt().wantStatus(t, 200)
	attempt().wantStatus(t, http.StatusTooManyRequests)
}

func TestTrustedProxyClientsHaveTheirOwnBuckets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withRealAuthLimit(nil), withConfig(func(c *app.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}))
	try := func(client string) int {
		return e.form("/auth/token", url.Values{"grant_type": {"password"}, "username": {"x"}, "password": {"y"}},
			"X-Forwarded-For", client).StatusCode
	}
	for range 10 {
		if code := try("198.51.100.1"); code != http.StatusBadRequest {
			t.Fatalf("first client: %d", code)
		}
	}
	if code := try("198.51.100.1"); code != http.StatusTooManyRequests {
		t.Fatalf("first client's 11th: %d", code)
	}
	if code := try("198.51.100.2"); code != http.StatusBadRequest {
		t.Fatalf("second client shares the first one's bucket: %d", code)
	}
	// A client cannot escape by prepending addresses of its own choosing:
	// the right-most untrusted address is the client.
	if code := try("10.9.9.9, 198.51.100.1"); code != http.StatusTooManyRequests {
		t.Fatalf("prepended address opened a bucket: %d", code)
	}
}

// Behind a proxy that sets X-Real-IP and passes X-Forwarded-For through,
// a client that writes its own X-Forwarded-For still has one bucket.
func TestClientWrittenForwardingHeaderOpensNoBucket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withRealAuthLimit(nil), withConfig(func(c *app.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		c.ClientIPHeader = "X-Real-IP"
	}))
	try := func(claimed string) int {
		return e.form("/auth/token", url.Values{"grant_type": {"password"}, "username": {"x"}, "password": {"y"}},
			"X-Real-IP", "198.51.100.1", "X-Forwarded-For", claimed).StatusCode
	}
	for i := range 10 {
		if code := try(fmt.Sprintf("203.0.113.%d", i)); code != http.StatusBadRequest {
			t.Fatalf("attempt %d: %d", i+1, code)
		}
	}
	if code := try("203.0.113.99"); code != http.StatusTooManyRequests {
		t.Fatalf("a fresh X-Forwarded-For opened a bucket: %d", code)
	}
}

// An anonymous call to the assistant is refused before the limiter, costs
// nothing, and still shows the budget, as every answer of these endpoints
// does.
func TestAssistant401ShowsTheBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for range 3 {
		res := e.do("POST", "/ai/assistant", "", map[string]string{"prompt": "hi"})
		res.wantStatus(t, http.StatusUnauthorized)
		if res.Header.Get("RateLimit-Limit") != "10" || res.Header.Get("RateLimit-Remaining") != "10" {
			t.Fatalf("401 headers: %v", res.Header)
		}
		if res.Header.Get("Retry-After") != "" {
			t.Fatalf("401 with Retry-After")
		}
	}
}

// TestPasswordChangeIsRateLimited: guessing the current password through
// PUT /users/me/password is limited like sign-in, per client address and
// per account, so neither one address nor many can guess freely.
func TestPasswordChangeIsRateLimited(t *testing.T) {
	t.Parallel()
	behindProxy := withConfig(func(c *app.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	guess := func(e *testEnv, u user, from string) *response {
		return e.do("PUT", "/users/me/password", u.Token, map[string]string{
			"current_password": "not-the-password", "new_password": "a-new-password",
		}, "X-Forwarded-For", from)
	}

	t.Run("PerAddress", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withRealAuthLimit(nil), behindProxy)
		alice, bob := e.signUp("alice"), e.signUp("bob")
		for range 10 {
			guess(e, alice, "192.0.2.1").wantProblem(t, http.StatusForbidden, "body.current_password")
		}
		res := guess(e, bob, "192.0.2.1")
		res.wantProblem(t, http.StatusTooManyRequests, "")
		if res.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		guess(e, bob, "192.0.2.2").wantProblem(t, http.StatusForbidden, "")
	})

	t.Run("PerAccount", func(t *testing.T) {
		t.Parallel()
		clock := testutil.NewClock(time.Now())
		e := newEnv(t, withRealAuthLimit(clock), behindProxy)
		alice := e.signUp("alice")
		for i := range 10 {
			guess(e, alice, "198.51.100."+strconv.Itoa(i+1)).wantProblem(t, http.StatusForbidden, "")
		}
		guess(e, alice, "198.51.100.99").wantProblem(t, http.StatusTooManyRequests, "")
		clock.Advance(6 * time.Second) // one token back
		guess(e, alice, "198.51.100.99").wantProblem(t, http.StatusForbidden, "")
		// The right password still works once the account has a token.
		clock.Advance(6 * time.Second)
		e.do("PUT", "/users/me/password", alice.Token, map[string]string{
			"current_password": alice.Password, "new_password": "a-new-password",
		}, "X-Forwarded-For", "198.51.100.100").wantStatus(t, http.StatusNoContent)
	})
}
