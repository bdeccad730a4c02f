package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"moments/app"
	"moments/app/assistant/openaitest"
)

// TestAPIFuzz sends random and hostile parameters, headers and bodies to
// every operation in the OpenAPI document and asserts that none is answered
// with a 5xx and that the server is healthy afterwards.
func TestAPIFuzz(t *testing.T) {
	t.Parallel()
	ai := openaitest.New(t)
	e := newEnv(t, func(d *app.Deps) {
		d.Config.AIBaseURL = ai.BaseURL()
		d.Config.AIModel = "fuzz-model"
		d.Config.AITimeout = 2 * time.Second
		limits := app.DefaultLimits()
		limits.Auth = app.Limit{Burst: 1 << 30, Per: time.Minute}
		limits.Assistant = app.Limit{Burst: 1 << 30, Per: time.Minute}
		d.Limits = &limits
	})
	admin := e.signUp("fuzzadmin")
	alice := e.signUp("alice")
	post := e.post(alice.Token, "a post to poke at")
	var comment struct {
		ID int64 `json:"id"`
	}
	e.do("POST", fmt.Sprintf("/posts/%d/comments", post.ID), alice.Token, map[string]string{"content": "hi"}).
		wantStatus(t, 201).json(t, &comment)

	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			RequestBody *struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	e.do("GET", "/openapi.json", "", nil).wantStatus(t, 200).json(t, &doc)

	rng := rand.New(rand.NewPCG(42, 7))
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	existing := map[string]string{
		"id": fmt.Sprint(post.ID), "username": "alice", "name": "nothing-here.jpg",
	}
	hostileParams := []string{"0", "-1", "1", "9223372036854775807", "-9223372036854775808", "99999999999999999999",
		"1e9", "0x10", "../../etc/passwd", "..%2F..%2Fmoments.db", "%00", "%ff%fe", "null", "true", "[]", "{}",
		"%27%20OR%201%3D1--", strings.Repeat("a", 5000), "%E2%80%AE", "alice", "ALICE", " ", "%20", "thumb", "big"}
	tokens := []string{"", alice.Token, admin.Token, "garbage", "Bearer", strings.Repeat("x", 9000)}
	ctypes := []string{"application/json", "application/json; charset=utf-16", "text/plain", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=xyz", "multipart/form-data", "", "application/cbor", "*/*"}

	deep := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	bodyClasses := map[string]func(props []string) []byte{
		"null":          func([]string) []byte { return []byte("null") },
		"array":         func([]string) []byte { return []byte("[]") },
		"string":        func([]string) []byte { return []byte(`"str"`) },
		"huge number":   func([]string) []byte { return []byte("1e999") },
		"empty":         func([]string) []byte { return nil },
		"deep array":    func([]string) []byte { return []byte(deep("[", "]", 100_000)) },
		"deep object":   func([]string) []byte { return []byte(deep(`{"a":`, "}", 100_000)) },
		"invalid UTF-8": func([]string) []byte { return []byte("{\"content\":\"\xff\xfe\xfd\"}") },
		"NUL":           func([]string) []byte { return []byte(`{"content":"a\u0000b","prompt":"\u0000"}`) },
		"two megabytes": func([]string) []byte { return bytes.Repeat([]byte("a"), 2<<20) },
		"truncated":     func([]string) []byte { return []byte(`{"content": "x`) },
		"duplicate keys": func(props []string) []byte {
			if len(props) == 0 {
				return []byte(`{"a":1,"a":2}`)
			}
			p := props[rng.IntN(len(props))]
			return []byte(fmt.Sprintf(`{%q:"a",%q:"b"}`, p, p))
		},
		"wrong types": func(props []string) []byte {
			m := map[string]any{}
			for _, p := range props {
				m[p] = []any{nil, 1e308, -1, true, []any{1}, map[string]any{"x": 1}, "", strings.Repeat("z", 70_000)}[rng.IntN(8)]
			}
			b, _ := json.Marshal(m)
			return b
		},
		"hostile strings": func(props []string) []byte {
			m := map[string]any{}
			for _, p := range props {
				m[p] = pick([]string{"../../etc/passwd", "javascript:alert(1)", "<script>x</script>", "\u202e", "' OR 1=1 --",
					"/media/../../moments.db", strings.Repeat("é", 6000), "\t\n", "https://" + strings.Repeat("a", 3000)})
			}
			b, _ := json.Marshal(m)
			return b
		},
		"form": func([]string) []byte {
			return []byte(pick([]string{"grant_type=password&username=alice&password=%00", "a=%zz", "grant_type=" + strings.Repeat("x", 5000)}))
		},
		"multipart garbage": func([]string) []byte {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			mw.SetBoundary("xyz")
			fw, _ := mw.CreateFormFile("file", "../../x.jpg")
			fw.Write([]byte("\xff\xd8\xff\xe0 not really a jpeg <svg onload=alert(1)>"))
			mw.Close()
			return b.Bytes()[:rng.IntN(b.Len())+1]
		},
	}
	classNames := make([]string, 0, len(bodyClasses))
	for name := range bodyClasses {
		classNames = append(classNames, name)
	}
	sort.Strings(classNames)

	propsOf := func(schema map[string]any) []string {
		if ref, ok := schema["$ref"].(string); ok {
			schema = doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		}
		props, _ := schema["properties"].(map[string]any)
		var names []string
		for n := range props {
			names = append(names, n)
		}
		sort.Strings(names)
		return names
	}

	type opKey struct{ method, path string }
	var ops []opKey
	for path, methods := range doc.Paths {
		for method := range methods {
			ops = append(ops, opKey{strings.ToUpper(method), path})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })

	const perOperation = 300
	total, classesTried := 0, map[string]int{}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	for _, op := range ops {
		spec := doc.Paths[op.path][strings.ToLower(op.method)]
		var props []string
		if spec.RequestBody != nil {
			for _, c := range spec.RequestBody.Content {
				props = append(props, propsOf(c.Schema)...)
			}
		}
		for i := range perOperation {
			path := op.path
			query := url.Values{}
			for _, p := range spec.Parameters {
				v := pick(hostileParams)
				if rng.IntN(4) == 0 {
					v = existing[p.Name]
				}
				switch p.In {
				case "path":
					path = strings.ReplaceAll(path, "{"+p.Name+"}", v)
				case "query":
					if rng.IntN(3) > 0 {
						query.Set(p.Name, v)
					}
				}
			}
			for _, q := range []string{"limit", "cursor", "size"} {
				if rng.IntN(5) == 0 {
					query.Set(q, pick(hostileParams))
				}
			}
			target := e.srv.URL + path
			if len(query) > 0 {
				target += "?" + query.Encode()
			}
			var body []byte
			class := "none"
			if op.method != "GET" && op.method != "DELETE" || rng.IntN(6) == 0 {
				class = classNames[(i+rng.IntN(3))%len(classNames)]
				body = bodyClasses[class](props)
			}
			classesTried[class]++
			req, err := http.NewRequest(op.method, target, bytes.NewReader(body))
			if err != nil {
				// A hostile path that is not even a URL never reaches a server.
				continue
			}
			if ct := pick(ctypes); ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			if tok := pick(tokens); tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			if rng.IntN(8) == 0 {
				req.Header.Set("X-Forwarded-For", pick([]string{"1.2.3.4", "garbage", "::1, 10.0.0.1"}))
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s (%s): %v", op.method, target, class, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			total++
			if res.StatusCode >= 500 {
				t.Errorf("%s %.120s with a %s body: %d", op.method, target, class, res.StatusCode)
			}
		}
	}
	t.Logf("%d requests to %d operations (%d each); body classes: %v", total, len(ops), perOperation, classesTried)

	e.do("GET", "/healthz", "", nil).wantStatus(t, 200)
	tok := e.login("alice", alice.Password)
	if page := e.feed(tok, ""); len(page.Items) == 0 {
		t.Error("the feed is empty after fuzzing")
	}
	if logs := e.logs.String(); strings.Contains(logs, "panic") {
		t.Errorf("the server panicked:\n%s", logs)
	}
}
