package app_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do("GET", "/healthz", "", nil).wantStatus(t, http.StatusOK)
	var body map[string]string
	res.json(t, &body)
	if body["status"] != "ok" {
		t.Errorf("body = %v", body)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}

	// A database that does not answer makes the check fail, not lie.
	e.store.Close()
	res = e.do("GET", "/healthz", "", nil).wantStatus(t, http.StatusServiceUnavailable)
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if strings.Contains(res.text(), "sql") {
		t.Errorf("503 body leaks internals: %s", res.body)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do("GET", "/openapi.json", "", nil).wantStatus(t, http.StatusOK)
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Title, Version, Description string
		}
		Paths      map[string]any
		Components struct {
			SecuritySchemes map[string]struct {
				Type   string
				Scheme string
				Flows  map[string]struct {
					TokenURL string `json:"tokenUrl"`
				}
			} `json:"securitySchemes"`
		}
	}
	res.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	if doc.Info.Title == "" || doc.Info.Version == "" || !strings.Contains(doc.Info.Description, "moments feed") {
		t.Errorf("info = %+v", doc.Info)
	}
	if _, ok := doc.Paths["/healthz"]; !ok {
		t.Error("/healthz is not documented")
	}
	bearer := doc.Components.SecuritySchemes["bearer"]
	if bearer.Type != "http" || bearer.Scheme != "bearer" {
		t.Errorf("bearer scheme = %+v", bearer)
	}
	oauth := doc.Components.SecuritySchemes["oauth2"]
	if oauth.Type != "oauth2" || oauth.Flows["password"].TokenURL != "/auth/token" {
		t.Errorf("oauth2 scheme = %+v", oauth)
	}

	yaml := e.do("GET", "/openapi.yaml", "", nil).wantStatus(t, http.StatusOK)
	if !strings.Contains(yaml.text(), "openapi: 3.1") {
		t.Errorf("openapi.yaml does not look like the document: %.200s", yaml.body)
	}
	if !json.Valid(res.body) {
		t.Error("openapi.json is not valid JSON")
	}
}

// The docs page must work offline: every script and stylesheet it names is
// served by the binary itself.
func TestDocsAssetsAreServedByTheBinary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	page := e.do("GET", "/docs", "", nil).wantStatus(t, http.StatusOK)
	if ct := page.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q", ct)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page.text(), -1)
	var scripts, styles int
	for _, m := range refs {
		ref := m[1]
		if strings.Contains(ref, "://") || strings.HasPrefix(ref, "//") {
			t.Errorf("docs page loads %s from another host", ref)
			continue
		}
		asset := e.do("GET", ref, "", nil, "Accept-Encoding", "gzip").wantStatus(t, http.StatusOK)
		switch {
		case strings.HasSuffix(ref, ".js"):
			scripts++
			if ct := asset.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
				t.Errorf("%s: Content-Type %q", ref, ct)
			}
		case strings.HasSuffix(ref, ".css"):
			styles++
			if ct := asset.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
				t.Errorf("%s: Content-Type %q", ref, ct)
			}
		}
		if len(asset.body) == 0 {
			t.Errorf("%s: empty", ref)
		}
	}
	if scripts < 2 || styles < 1 {
		t.Errorf("found %d scripts and %d stylesheets on the docs page", scripts, styles)
	}
	// The Swagger UI bundle is embedded gzipped; a client without gzip
	// still gets working JavaScript.
	plain := e.do("GET", "/docs/swagger-ui-bundle.js", "", nil, "Accept-Encoding", "identity").wantStatus(t, http.StatusOK)
	if plain.Header.Get("Content-Encoding") != "" || !strings.Contains(plain.text(), "SwaggerUIBundle") {
		t.Errorf("identity bundle: encoding %q, %d bytes", plain.Header.Get("Content-Encoding"), len(plain.body))
	}
}

func TestIndexPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do("GET", "/", "", nil).wantStatus(t, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control = %q; index.html must be revalidated", cc)
	}
	etag := res.Header.Get("ETag")
	if etag == "" || !strings.Contains(res.text(), "<title>Moments</title>") {
		t.Fatalf("ETag %q, body %.100s", etag, res.body)
	}
	e.do("GET", "/", "", nil, "If-None-Match", etag).wantStatus(t, http.StatusNotModified)

	missing := e.do("GET", "/no/such/file.js", "", nil).wantStatus(t, http.StatusNotFound)
	if ct := missing.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("404 Content-Type = %q", ct)
	}
}

func TestEveryResponseHasSecurityHeadersAndRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/", "/healthz", "/openapi.json", "/docs", "/nope"} {
		res := e.do("GET", path, "", nil)
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
		} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
		if res.Header.Get("X-Request-ID") == "" {
			t.Errorf("%s: no X-Request-ID", path)
		}
	}
	if !strings.Contains(e.logs.String(), "path=/healthz status=200") {
		t.Errorf("no access log line for /healthz in:\n%s", e.logs)
	}
}
