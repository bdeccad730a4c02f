package app_test

import (
	"net/http"
	"testing"

	"moments/app"
)

func TestInstance(t *testing.T) {
	t.Parallel()
	type instance struct {
		Name            string `json:"name"`
		Version         string `json:"version"`
		Registration    string `json:"registration"`
		PublicPosts     bool   `json:"public_posts"`
		Assistant       bool   `json:"assistant"`
		MemberInvites   bool   `json:"member_invites"`
		MaxUploadBytes  int64  `json:"max_upload_bytes"`
		MaxUploadPixels int64  `json:"max_upload_pixels"`
		PublicURL       string `json:"public_url"`
		SetupNeeded     bool   `json:"setup_needed"`
	}
	get := func(e *testEnv) instance {
		t.Helper()
		var got instance
		res := e.do("GET", "/instance", "", nil).wantStatus(t, http.StatusOK)
		res.json(t, &got)
		if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("Cache-Control = %q", cc)
		}
		return got
	}

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		want := instance{Name: "Moments", Version: "test", Registration: "open", MaxUploadBytes: 10 << 20,
			MaxUploadPixels: 40_000_000, PublicURL: "http://localhost:8080", SetupNeeded: true}
		if got := get(e); got != want {
			t.Errorf("fresh instance = %+v, want %+v", got, want)
		}
		e.signUp("first")
		if got := get(e); got.SetupNeeded {
			t.Error("setup_needed stays true after the first account")
		}
	})

	t.Run("Configured", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withConfig(func(c *app.Config) {
			c.Name = "The Liddells"
			c.Registration = "closed"
			c.PublicPosts = true
			c.AIBaseURL = "http://127.0.0.1:1/v1"
			c.AIModel = "m"
			c.MaxUpload = 3 << 20
			c.PublicURL = "https://moments.example.com"
		}))
		want := instance{Name: "The Liddells", Version: "test", Registration: "closed", PublicPosts: true, Assistant: true,
			MaxUploadBytes: 3 << 20, MaxUploadPixels: 40_000_000, PublicURL: "https://moments.example.com", SetupNeeded: true}
		if got := get(e); got != want {
			t.Errorf("configured instance = %+v, want %+v", got, want)
		}
	})
}
