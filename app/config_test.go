package app_test

import (
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"moments/app"
)

func loadConfig(t *testing.T, args []string, env map[string]string) (app.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	load := app.BindFlags(fs, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		return app.Config{}, err
	}
	return load()
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.TokenTTL != 24*time.Hour ||
		c.Registration != "open" || c.PublicPosts || c.MaxUpload != 10<<20 || c.ClientIPHeader != "X-Forwarded-For" {
		t.Errorf("defaults = %+v", c)
	}

	env := map[string]string{
		"MOMENTS_ADDR":             "127.0.0.1:9000",
		"MOMENTS_PUBLIC_READ":      "true",
		"MOMENTS_TRUSTED_PROXIES":  "10.0.0.0/8, 192.168.1.1",
		"MOMENTS_CORS_ORIGINS":     "https://App.example.com",
		"MOMENTS_MAX_UPLOAD":       "2MiB",
		"MOMENTS_CLIENT_IP_HEADER": "x-real-ip",
	}
	c, err = loadConfig(t, []string{"--addr", "127.0.0.1:9001"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9001" {
		t.Errorf("flag did not win over env: %s", c.Addr)
	}
	if !c.PublicPosts || c.MaxUpload != 2<<20 {
		t.Errorf("env not applied: %+v", c)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32")}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[0] != want[0] || c.TrustedProxies[1] != want[1] {
		t.Errorf("trusted proxies = %v", c.TrustedProxies)
	}
	if c.ClientIPHeader != "X-Real-IP" {
		t.Errorf("client IP header = %q, want the canonical X-Real-IP", c.ClientIPHeader)
	}
	if len(c.CORSOrigins) != 1 || c.CORSOrigins[0] != "https://app.example.com" {
		t.Errorf("origins = %v", c.CORSOrigins)
	}

	c, err = loadConfig(t, []string{"--public-url", "https://moments.example.com/", "--name", "The Liddells"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "https://moments.example.com" || c.Name != "The Liddells" || !c.FeedCache {
		t.Errorf("public URL %q, name %q, feed cache %v", c.PublicURL, c.Name, c.FeedCache)
	}
	// The old names of public posts still work, and the new ones win.
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want bool
	}{
		{[]string{"--public-read=true"}, nil, true},
		{[]string{"--public-read=false", "--public-posts=true"}, nil, true},
		{nil, map[string]string{"MOMENTS_PUBLIC_READ": "true", "MOMENTS_PUBLIC_POSTS": "false"}, false},
		{[]string{"--public-read=true"}, map[string]string{"MOMENTS_PUBLIC_POSTS": "false"}, true},
	} {
		if c, err := loadConfig(t, tc.args, tc.env); err != nil || c.PublicPosts != tc.want {
			t.Errorf("%v %v: public posts %v, %v; want %v", tc.args, tc.env, c.PublicPosts, err, tc.want)
		}
	}
	if c, err := loadConfig(t, nil, map[string]string{"MOMENTS_FEED_CACHE": "off"}); err != nil || c.FeedCache {
		t.Errorf("MOMENTS_FEED_CACHE=off: feed cache %v, %v", c.FeedCache, err)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"addr without port", []string{"--addr", "localhost"}, nil, "--addr"},
		{"addr bad port", []string{"--addr", "127.0.0.1:99999"}, nil, "invalid port"},
		{"addr bad host", []string{"--addr", "exa mple:80"}, nil, "invalid host"},
		{"data is a file", []string{"--data", file}, nil, "is a file"},
		{"short secret", nil, map[string]string{"MOMENTS_JWT_SECRET": "short"}, "MOMENTS_JWT_SECRET"},
		{"bad ttl", nil, map[string]string{"MOMENTS_TOKEN_TTL": "forever"}, "MOMENTS_TOKEN_TTL"},
		{"registration", []string{"--registration", "maybe"}, nil, "--registration"},
		{"public read", nil, map[string]string{"MOMENTS_PUBLIC_READ": "yes please"}, "MOMENTS_PUBLIC_READ"},
		{"public read flag", []string{"--public-read", "maybe"}, nil, "--public-read"},
		{"proxy", nil, map[string]string{"MOMENTS_TRUSTED_PROXIES": "10.0.0.0/33"}, "CIDR"},
		{"origin with path", nil, map[string]string{"MOMENTS_CORS_ORIGINS": "https://a.example/x"}, "origin"},
		{"origin wildcard", nil, map[string]string{"MOMENTS_CORS_ORIGINS": "*"}, "origin"},
		{"ai url", nil, map[string]string{"MOMENTS_AI_BASE_URL": "ftp://x"}, "MOMENTS_AI_BASE_URL"},
		{"upload size", nil, map[string]string{"MOMENTS_MAX_UPLOAD": "-1"}, "MOMENTS_MAX_UPLOAD"},
		{"synchronous", nil, map[string]string{"MOMENTS_SYNCHRONOUS": "off"}, "MOMENTS_SYNCHRONOUS"},
		{"feed cache", nil, map[string]string{"MOMENTS_FEED_CACHE": "false"}, "MOMENTS_FEED_CACHE"},
		{"name with a bidi override", []string{"--name", "\u202eevil"}, nil, "--name"},
		{"ai model without a base", []string{"--ai-model", "llama3.2"}, nil, "MOMENTS_AI_BASE_URL is not"},
		{"ai base without a model", nil, map[string]string{"MOMENTS_AI_BASE_URL": "http://127.0.0.1:11434/v1"}, "MOMENTS_AI_MODEL is not"},
		{"empty name", []string{"--name", " "}, nil, "--name"},
		{"name on two lines", nil, map[string]string{"MOMENTS_NAME": "Our\nfamily"}, "MOMENTS_NAME"},
		{"public url scheme", nil, map[string]string{"MOMENTS_PUBLIC_URL": "ftp://moments.example.com"}, "MOMENTS_PUBLIC_URL"},
		{"public url path", []string{"--public-url", "https://example.com/moments"}, nil, "no path"},
		{"public url query", []string{"--public-url", "https://example.com/?x=1"}, nil, "--public-url"},
		{"client ip header", nil, map[string]string{"MOMENTS_CLIENT_IP_HEADER": "X-Forwarded-Host"}, "MOMENTS_CLIENT_IP_HEADER"},
		{"client ip header names the choices", []string{"--client-ip-header", "Remote-Addr"}, nil, "is not one of X-Forwarded-For, X-Real-IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(t, tc.args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}
