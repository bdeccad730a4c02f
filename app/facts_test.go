package app

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"moments/internal/account"
)

// TestOneSourceForEachFact: a fact written in two places drifts apart. Where
// the code cannot share one definition, this test holds the copies together.
func TestOneSourceForEachFact(t *testing.T) {
	t.Parallel()
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(path.Join("../web", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	index := read("index.html")

	t.Run("CSP", func(t *testing.T) {
		// The server's header is the page's policy; a <meta> copy would be a
		// second one to keep up to date.
		if strings.Contains(strings.ToLower(index), "content-security-policy") {
			t.Error("index.html declares a Content-Security-Policy of its own")
		}
	})

	t.Run("ModulePreloads", func(t *testing.T) {
		// Every module app.js imports, directly or not, is preloaded, and
		// nothing else.
		imports := regexp.MustCompile(`(?m)^import\s[^;]*?from\s+'([^']+)'`)
		seen := map[string]bool{}
		var walk func(name string)
		walk = func(name string) {
			src := read(name)
			for _, m := range imports.FindAllStringSubmatch(src, -1) {
				dep := path.Clean(path.Join(path.Dir(name), m[1]))
				if !seen[dep] {
					seen[dep] = true
					walk(dep)
				}
			}
		}
		walk("app.js")
		var want []string
		for dep := range seen {
			want = append(want, "/"+dep)
		}
		var got []string
		for _, m := range regexp.MustCompile(`<link rel="modulepreload" href="([^"]+)">`).FindAllStringSubmatch(index, -1) {
			got = append(got, m[1])
		}
		slices.Sort(want)
		slices.Sort(got)
		if len(want) < 5 || !slices.Equal(got, want) {
			t.Errorf("index.html preloads %v; app.js imports %v", got, want)
		}
	})

	t.Run("UsernamePattern", func(t *testing.T) {
		// The registration form checks the rule the server checks.
		want := "pattern: '" + strings.TrimSuffix(strings.TrimPrefix(account.UsernamePattern, "^"), "$") + "'"
		if !strings.Contains(read("views/signin.js"), want) {
			t.Errorf("views/signin.js lacks %s", want)
		}
		s, _, _ := newTestServer(t, 4)
		doc := s.api.OpenAPI()
		for _, p := range doc.Paths["/users/{username}"].Get.Parameters {
			if p.Name == "username" && p.Schema.Pattern != account.UsernamePattern {
				t.Errorf("the username parameter's pattern is %q", p.Schema.Pattern)
			}
		}
		body := doc.Components.Schemas.SchemaFromRef(doc.Paths["/auth/register"].Post.RequestBody.Content["application/json"].Schema.Ref)
		if got := body.Properties["username"].Pattern; got != account.UsernamePattern {
			t.Errorf("registration's username pattern is %q", got)
		}
	})

	t.Run("SessionKey", func(t *testing.T) {
		// The UI names where the session lives once (api.js's SESSION_KEY).
		n := 0
		for _, name := range []string{"api.js", "app.js", "ui.js"} {
			n += strings.Count(read(name), "'moments.session'")
		}
		if n != 1 {
			t.Errorf("'moments.session' is written %d times in the UI", n)
		}
	})
}
