package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDocsPage loads /docs in Chromium under its CSP, signs in through
// Swagger UI's Authorize button with the OAuth2 password flow, and runs
// GET /users/me from the page with the token it got. Any console error or
// CSP violation fails the test.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	chrome := findChromium(t)
	in := start(t, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, nil)
	res, err := http.Post(in.url+"/auth/register", "application/json",
		strings.NewReader(`{"username":"docsuser","password":"docs-password"}`))
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("register: %v %v", res, err)
	}
	res.Body.Close()
	if csp := headerOf(t, in.url+"/docs", "Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") ||
		strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("docs CSP = %q", csp)
	}

	b := newBrowser(t, chrome, in.url)
	b.open("/docs")
	b.waitVisible(".swagger-ui .info .title")
	b.waitVisible(".opblock-summary-path[data-path='/users/me']")

	// Authorize with the password flow.
	b.click(".btn.authorize")
	b.waitVisible("#oauth_username")
	b.do(
		chromedp.SendKeys("#oauth_username", "docsuser"),
		chromedp.SendKeys("#oauth_password", "docs-password"),
	)
	// The dialog lists both schemes; press the password flow's button.
	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#oauth_username').closest('.auth-container')
		.querySelector('.btn.modal-btn.auth.authorize').click()`))
	b.waitJS("signed in", `[...document.querySelectorAll('.auth-container')].some(c => c.textContent.includes('Authorized'))`)
	b.click(".btn-done")

	// Try GET /users/me with the token Swagger UI now holds.
	b.click("#operations-Users-getMe .opblock-summary")
	// "Try it out" is on by default (docs.js), so Execute is there.
	b.waitVisible("#operations-Users-getMe .execute")
	b.click("#operations-Users-getMe .execute")
	b.waitJS("a 200 answer naming the user", `(() => {
		const live = document.querySelector('#operations-Users-getMe .live-responses-table');
		return live !== null && live.textContent.includes('200') && live.textContent.includes('docsuser');
	})()`)
	b.screenshot("docs")
	b.checkErrors()
}

func headerOf(t *testing.T, u, name string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.Header.Get(name)
}
