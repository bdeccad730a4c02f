package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	pathpkg "path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"moments/app"
	"moments/app/assistant/openaitest"
)

// TestAPIFuzz sends random and hostile parameters, headers and bodies to
// every operation in the served OpenAPI document — a fixed seed, a few
// hundred requests each — and asserts that none is answered with a 5xx and
// that the server is healthy afterwards. The assistant's model server is a
// fake that always succeeds, so no 5xx is excused there either.
func TestAPIFuzz(t *testing.T) {
	t.Parallel()
	z := newAPIFuzzer(t)
	for _, op := range z.ops {
		for range apiFuzzPerOperation() {
			z.send(op)
		}
	}
	z.report()
	z.checkHealthy()
}

// apiFuzzPerOperation is how many requests each operation gets; -short sends
// a sixth of them.
func apiFuzzPerOperation() int {
	if testing.Short() {
		return 50
	}
	return 300
}

// apiFuzzOp is one operation of the OpenAPI document, as the fuzzer needs it.
type apiFuzzOp struct {
	method, path string
	params       []apiFuzzParam
	bodyType     string            // the request body's media type; "" for none
	props        map[string]string // request body property → JSON type
	propNames    []string          // props' keys, sorted
	responses    map[string]bool   // the statuses the document lists
}

type apiFuzzParam struct{ name, in string }

func (op *apiFuzzOp) String() string { return op.method + " " + op.path }

// apiFuzzer holds the server under test, the things that exist on it, and
// the tallies of what was sent.
type apiFuzzer struct {
	t      *testing.T
	e      *testEnv
	model  *openaitest.Server
	rng    *rand.Rand
	client *http.Client
	ops    []*apiFuzzOp

	alice, admin, victim user
	postID, commentID    int64
	mediaName            string
	cursors              []string // issued cursors, of several lists

	perOp     map[string]int
	perClass  map[string]int
	perParam  map[string]int
	perAuth   map[string]int
	perStatus map[int]int
}

func newAPIFuzzer(t *testing.T) *apiFuzzer {
	fake := openaitest.New(t)
	e := newEnv(t, func(d *app.Deps) {
		d.Config.AIBaseURL = fake.BaseURL()
		d.Config.AIModel = "fuzz-model"
		d.Config.AITimeout = 2 * time.Second
		limits := app.DefaultLimits()
		limits.Auth = app.Limit{Burst: 1 << 30, Per: time.Minute}
		limits.Assistant = app.Limit{Burst: 1 << 30, Per: time.Minute}
		d.Limits = &limits
	})
	z := &apiFuzzer{
		t:     t,
		e:     e,
		model: fake,
		rng:   rand.New(rand.NewPCG(20261126, 1904)),
		client: &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		perOp: map[string]int{}, perClass: map[string]int{}, perParam: map[string]int{}, perAuth: map[string]int{},
		perStatus: map[int]int{},
	}
	// IDs 1, 2, 3: the admin's ID is among the hostile path values, alice's
	// is not, so alice can still sign in at the end; admin operations aim
	// their real IDs at the victim.
	z.admin = e.signUp("fuzzadmin")
	z.alice = e.signUp("alice")
	z.victim = e.signUp("victim")
	z.mediaName = z.upload()
	z.newPost()
	z.newPost()
	z.newComment()
	z.newComment()
	for _, list := range []string{"/posts?limit=1", fmt.Sprintf("/posts/%d/comments?limit=1", z.postID), "/users/alice/posts?limit=1"} {
		z.cursors = append(z.cursors, z.nextCursor(list, z.alice.Token))
	}
	z.cursors = append(z.cursors, z.nextCursor("/admin/users?limit=1", z.admin.Token))
	z.loadOperations()
	return z
}

// loadOperations reads every operation, with its parameters and the
// properties of its request body, from the served OpenAPI document.
func (z *apiFuzzer) loadOperations() {
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]apiFuzzSchema `json:"schemas"`
		} `json:"components"`
	}
	z.e.do("GET", "/openapi.json", "", nil).wantStatus(z.t, http.StatusOK).json(z.t, &doc)
	for path, methods := range doc.Paths {
		for method, raw := range methods {
			var spec struct {
				Parameters []struct {
					Name string `json:"name"`
					In   string `json:"in"`
				} `json:"parameters"`
				RequestBody *struct {
					Content map[string]struct {
						Schema apiFuzzSchema `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &spec); err != nil {
				continue // a path item's other fields (summary, parameters)
			}
			op := &apiFuzzOp{method: strings.ToUpper(method), path: path, props: map[string]string{}, responses: map[string]bool{}}
			for code := range spec.Responses {
				op.responses[code] = true
			}
			for _, p := range spec.Parameters {
				op.params = append(op.params, apiFuzzParam{p.Name, p.In})
			}
			if spec.RequestBody != nil {
				for ctype, c := range spec.RequestBody.Content {
					op.bodyType = ctype
					schema := c.Schema
					if name, ok := strings.CutPrefix(schema.Ref, "#/components/schemas/"); ok {
						schema = doc.Components.Schemas[name]
					}
					for name, p := range schema.Properties {
						op.props[name] = string(p.Type)
						op.propNames = append(op.propNames, name)
					}
				}
			}
			sort.Strings(op.propNames)
			z.ops = append(z.ops, op)
		}
	}
	sort.Slice(z.ops, func(i, j int) bool {
		return z.ops[i].path < z.ops[j].path || z.ops[i].path == z.ops[j].path && z.ops[i].method < z.ops[j].method
	})
	if len(z.ops) < 20 {
		z.t.Fatalf("the OpenAPI document lists only %d operations", len(z.ops))
	}
}

type apiFuzzSchema struct {
	Ref        string                   `json:"$ref"`
	Type       apiFuzzType              `json:"type"`
	Properties map[string]apiFuzzSchema `json:"properties"`
}

// apiFuzzType is a schema's type; of a list such as ["array", "null"], the
// first that is not null.
type apiFuzzType string

func (t *apiFuzzType) UnmarshalJSON(b []byte) error {
	var list []string
	if json.Unmarshal(b, &list) == nil {
		for _, s := range list {
			if s != "null" {
				*t = apiFuzzType(s)
				return nil
			}
		}
		return nil
	}
	return json.Unmarshal(b, (*string)(t))
}

// ---- one request ----

// send makes one random request to op and checks the answer.
func (z *apiFuzzer) send(op *apiFuzzOp) {
	t := z.t
	t.Helper()
	path, query := z.target(op)
	class, body := z.body(op)
	method := op.method
	if method == http.MethodGet && z.rng.IntN(12) == 0 {
		method = http.MethodHead
	}
	headers := http.Header{}
	if ct := z.contentType(op); ct != "" {
		headers.Set("Content-Type", ct)
	}
	auth, value := z.authorization()
	if value != "" {
		headers.Set("Authorization", value)
	}
	z.extraHeaders(headers)
	target := path
	if query != "" {
		target += "?" + query
	}

	z.perOp[op.String()]++
	z.perClass[class]++
	z.perAuth[auth]++
	var (
		status int
		resp   []byte
		err    error
	)
	if class == "broken framing" {
		status, resp, err = z.sendRaw(method, target, headers, body)
	} else {
		status, resp, err = z.sendHTTP(method, target, headers, body)
	}
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) && urlErr.Op == "parse" {
			z.perStatus[0]++ // a path no client can send
			return
		}
		if len(body) > 1<<20 && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			// The server answered early (413) and closed the connection
			// while the client was still sending.
			z.perStatus[-1]++
			return
		}
		t.Fatalf("%s %.200s (%s body, %s): %v", method, target, class, auth, err)
	}
	z.perStatus[status]++
	redirected := status/100 == 3 && status != http.StatusNotModified && pathpkg.Clean(path) != path
	if !redirected && !op.responses[strconv.Itoa(status)] && !op.responses["default"] {
		t.Errorf("%s %.200s with a %s body (%s): %d is not among the statuses the OpenAPI document lists for it: %.300s",
			method, target, class, auth, status, resp)
	}
	if status >= 400 && (len(resp) > 8<<10 || bytes.Contains(resp, []byte(`"value"`)) || bytes.Contains(resp, []byte("not-the-password"))) {
		t.Errorf("%s %.200s with a %s body: a %d problem of %d bytes that echoes the request: %.300s",
			method, target, class, status, len(resp), resp)
	}
	if status >= 500 {
		t.Errorf("%s %.200s with a %s body (%d bytes, Content-Type %q, %s): %d %.300s",
			method, target, class, len(body), headers.Get("Content-Type"), auth, status, resp)
	}
	z.afterSuccess(op, method, path, status)
}

// afterSuccess puts back what a successful request took away, so that the
// real IDs keep naming things that exist.
func (z *apiFuzzer) afterSuccess(op *apiFuzzOp, method, path string, status int) {
	if status != http.StatusNoContent || method != http.MethodDelete {
		return
	}
	switch {
	case op.path == "/posts/{id}" && path == fmt.Sprintf("/posts/%d", z.postID):
		z.newPost()
		z.newComment()
	case op.path == "/comments/{id}" && path == fmt.Sprintf("/comments/%d", z.commentID):
		z.newComment()
	}
}

func (z *apiFuzzer) sendHTTP(method, target string, headers http.Header, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, z.e.srv.URL+target, rd)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range headers {
		req.Header[k] = v
	}
	res, err := z.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// sendRaw writes a request with broken framing straight to the socket: a
// malformed chunked body, or a body cut off before its Content-Length
// (the client half-closes the connection).
func (z *apiFuzzer) sendRaw(method, target string, headers http.Header, body []byte) (int, []byte, error) {
	conn, err := net.Dial("tcp", z.e.srv.Listener.Addr().String())
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var w bytes.Buffer
	fmt.Fprintf(&w, "%s %s HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n", method, target)
	for k, vs := range headers {
		for _, v := range vs {
			if !strings.ContainsAny(v, "\r\n") {
				fmt.Fprintf(&w, "%s: %s\r\n", k, v)
			}
		}
	}
	cut := false
	switch z.rng.IntN(4) {
	case 0:
		fmt.Fprintf(&w, "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\nZZ\r\n\r\n", min(len(body), 16), body[:min(len(body), 16)])
	case 1:
		w.WriteString("Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc\r\n")
		cut = true
	case 2:
		fmt.Fprintf(&w, "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n")
		cut = true
	default:
		fmt.Fprintf(&w, "Content-Length: %d\r\n\r\n%s", len(body)+100, body[:min(len(body), 64<<10)])
		cut = true
	}
	if _, err := conn.Write(w.Bytes()); err != nil {
		return 0, nil, err
	}
	if cut {
		conn.(*net.TCPConn).CloseWrite()
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body) // the server may close mid-body on a broken request
	return res.StatusCode, b, nil
}

// ---- what goes into a request ----

// Hostile values of path parameters, as they appear in the URL.
var apiFuzzPathValues = []string{
	"0", "-1", "1", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "99999999999999999999",
	"1e3", "0x10", "1.5", "+1", "%20", "%2B1", "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "..", ".",
	"%00", "1%00", "%ff%fe", "%C0%AE%C0%AE", "null", "true", "[]", "%7B%7D", "%27%20OR%201%3D1--",
	strings.Repeat("a", 5000), strings.Repeat("9", 400), "%E2%80%AE", "ALICE", "alice%00", "me", "%0A", "a;b", "*",
}

// Hostile values of query parameters, before encoding.
var apiFuzzQueryValues = []string{
	"", "0", "-1", "1", "100", "101", "1e9", "1.5", "9223372036854775808", "99999999999999999999", "abc", "null",
	"\x00", "\xff\xfe", "../../etc/passwd", strings.Repeat("A", 5000), "' OR 1=1 --", "thumb", "THUMB", "big", "true", "[]",
}

func (z *apiFuzzer) target(op *apiFuzzOp) (path, query string) {
	path = op.path
	q := url.Values{}
	for _, p := range op.params {
		switch p.in {
		case "path":
			v, kind := z.pathValue(op, p.name)
			z.perParam["path: "+kind]++
			path = strings.ReplaceAll(path, "{"+p.name+"}", v)
		case "query":
			if z.rng.IntN(3) > 0 {
				v, kind := z.queryValue(p.name)
				z.perParam["query: "+kind]++
				q.Add(p.name, v)
			}
		}
	}
	// limit, cursor and size everywhere, declared or not; sometimes twice.
	for _, name := range []string{"limit", "cursor", "size", "unknown"} {
		if z.rng.IntN(6) == 0 {
			v, kind := z.queryValue(name)
			z.perParam["query: "+kind]++
			q.Add(name, v)
		}
	}
	return path, q.Encode()
}

func (z *apiFuzzer) pathValue(op *apiFuzzOp, name string) (string, string) {
	if z.rng.IntN(3) > 0 {
		return apiFuzzPathValues[z.rng.IntN(len(apiFuzzPathValues))], "hostile"
	}
	switch {
	case name == "username":
		return []string{"alice", "ALICE", "fuzzadmin", "victim"}[z.rng.IntN(4)], "real"
	case name == "name":
		return []string{z.mediaName, strings.Replace(z.mediaName, ".", ".thumb.", 1), "aaaaaaaaaaaaaaaaaaaaaaaaaa.jpg"}[z.rng.IntN(3)], "real"
	case strings.HasPrefix(op.path, "/comments/"):
		return strconv.FormatInt(z.commentID, 10), "real"
	case strings.HasPrefix(op.path, "/admin/users/"):
		return strconv.FormatInt(z.victim.ID, 10), "real"
	default:
		return strconv.FormatInt(z.postID, 10), "real"
	}
}

func (z *apiFuzzer) queryValue(name string) (string, string) {
	if name == "cursor" && z.rng.IntN(2) == 0 {
		c := z.cursors[z.rng.IntN(len(z.cursors))]
		switch z.rng.IntN(3) {
		case 0:
			return c, "issued cursor (maybe of another list)"
		case 1:
			return c[:len(c)/2] + "\r" + c[len(c)/2:], "issued cursor with CR"
		default:
			return c + "A", "damaged cursor"
		}
	}
	return apiFuzzQueryValues[z.rng.IntN(len(apiFuzzQueryValues))], "hostile"
}

func (z *apiFuzzer) contentType(op *apiFuzzOp) string {
	natural := op.bodyType
	if natural == "multipart/form-data" {
		natural += "; boundary=" + apiFuzzBoundary
	}
	if natural != "" && z.rng.IntN(4) > 0 {
		return natural
	}
	return []string{"", "application/json", "application/json; charset=utf-16", "application/merge-patch+json",
		"text/plain", "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin1",
		"multipart/form-data", "multipart/form-data; boundary=" + apiFuzzBoundary, "multipart/form-data; boundary=\"\"",
		"application/cbor", "*/*", "application/json; =", "application/json\tx", strings.Repeat("a/", 2000)}[z.rng.IntN(15)]
}

func (z *apiFuzzer) authorization() (kind, value string) {
	switch n := z.rng.IntN(20); {
	case n < 8:
		return "user token", "Bearer " + z.alice.Token
	case n < 12:
		return "admin token", "Bearer " + z.admin.Token
	case n < 14:
		return "no token", ""
	default:
		tok := z.alice.Token
		return "garbage token", []string{"Bearer garbage", "Bearer " + tok + "x", "bearer  " + tok + " ", "Basic YWxpY2U6cGFzc3dvcmQ=",
			"Bearer " + strings.Repeat("x", 5000), "Bearer a.b.c", "Bearer " + tok[:len(tok)/2], "Bearer",
			"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJmdXp6YWRtaW4ifQ.", "Bearer " + tok + " " + tok, "Bearer %00",
		}[z.rng.IntN(11)]
	}
}

func (z *apiFuzzer) extraHeaders(h http.Header) {
	if z.rng.IntN(6) == 0 {
		h.Set("Accept", []string{"application/cbor", "text/html", "application/xml", "*/*;q=0", "garbage", "application/json;q=abc"}[z.rng.IntN(6)])
	}
	if z.rng.IntN(8) == 0 {
		h.Set("Range", []string{"bytes=0-0", "bytes=-1", "bytes=99999999999999999999-", "bytes=5-1", "bytes=0-0," +
			strings.Repeat("0-0,", 500) + "0-0", "lines=1-2"}[z.rng.IntN(6)])
	}
	if z.rng.IntN(8) == 0 {
		h.Set("If-None-Match", []string{"*", `"` + z.mediaName + `"`, "garbage", strings.Repeat(`"x",`, 1000)}[z.rng.IntN(4)])
	}
	if z.rng.IntN(8) == 0 {
		h.Set("X-Forwarded-For", []string{"1.2.3.4", "garbage", "::1, 10.0.0.1", strings.Repeat("1.1.1.1, ", 500)}[z.rng.IntN(4)])
	}
	if z.rng.IntN(10) == 0 {
		h.Set("Origin", "https://evil.example")
	}
}

// ---- bodies ----

// apiFuzzClasses are the kinds of body sent; "none" sends no body at all.
var apiFuzzClasses = []string{
	"none", "empty", "null", "array", "string", "number 1e999", "huge integer", "true",
	"valid", "wrong types", "hostile strings", "invalid UTF-8", "NUL and control characters", "duplicate keys",
	"unknown properties", "deep array (100,000)", "deep object (100,000)", "2 MiB", "truncated JSON",
	"form", "multipart", "broken framing",
}

const apiFuzzBoundary = "fuzz-boundary-7d2c"

func (z *apiFuzzer) body(op *apiFuzzOp) (string, []byte) {
	var class string
	switch {
	case op.bodyType == "" && z.rng.IntN(3) > 0:
		class = "none"
	case op.bodyType == "application/x-www-form-urlencoded" && z.rng.IntN(2) == 0:
		class = "form"
	case op.bodyType == "multipart/form-data" && z.rng.IntN(2) == 0:
		class = "multipart"
	case op.bodyType == "application/json" && z.rng.IntN(5) == 0:
		class = "valid" // so that the operation's own work is fuzzed too
	default:
		class = apiFuzzClasses[z.rng.IntN(len(apiFuzzClasses))]
	}
	deep := func(open, close string) []byte {
		return []byte(strings.Repeat(open, 100_000) + strings.Repeat(close, 100_000))
	}
	switch class {
	case "none":
		return class, nil
	case "empty":
		return class, []byte{}
	case "null":
		return class, []byte("null")
	case "array":
		return class, []byte("[]")
	case "string":
		return class, []byte(`"str"`)
	case "number 1e999":
		return class, []byte("1e999")
	case "huge integer":
		return class, []byte(strings.Repeat("9", 400))
	case "true":
		return class, []byte("true")
	case "valid":
		return class, z.object(op, func(name, typ string) string { return z.validValue(name, typ) })
	case "wrong types":
		return class, z.object(op, func(_, typ string) string { return z.wrongValue(typ) })
	case "hostile strings":
		return class, z.object(op, func(_, typ string) string {
			if typ == "array" {
				items := make([]string, z.rng.IntN(12))
				for i := range items {
					items[i] = z.hostileString()
				}
				return "[" + strings.Join(items, ",") + "]"
			}
			return z.hostileString()
		})
	case "invalid UTF-8":
		return class, z.object(op, func(string, string) string { return "\"a\xff\xfe\xc3\x28 \xed\xa0\x80\"" })
	case "NUL and control characters":
		return class, z.object(op, func(string, string) string {
			return []string{`"\u0000"`, `"a\u0000b"`, "\"a\x00b\"", "\"\x01\x1f\x7f\"", `"\u001b[2J"`, `"\r\n\r\n"`}[z.rng.IntN(6)]
		})
	case "duplicate keys":
		var b strings.Builder
		b.WriteString("{")
		for i, name := range append(op.propNames, "a") {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `%q:%s,%q:%s`, name, z.validValue(name, op.props[name]), name, z.wrongValue(op.props[name]))
		}
		b.WriteString("}")
		return class, []byte(b.String())
	case "unknown properties":
		return class, []byte(`{"__proto__":{"is_admin":true},"$schema":"http://evil.example","id":1,"author_id":1,"is_admin":true,"CONTENT":"x"}`)
	case "deep array (100,000)":
		return class, deep("[", "]")
	case "deep object (100,000)":
		return class, deep(`{"a":`, "}")
	case "2 MiB":
		if len(op.propNames) > 0 && z.rng.IntN(2) == 0 {
			return class, []byte(fmt.Sprintf(`{%q:"%s"}`, op.propNames[0], strings.Repeat("x", 2<<20)))
		}
		return class, bytes.Repeat([]byte("{"), 2<<20)
	case "truncated JSON":
		return class, []byte(`{"content": "x`)
	case "form":
		return class, []byte([]string{
			"grant_type=password&username=alice&password=" + z.alice.Password, "grant_type=password&username=alice&password=%00",
			"grant_type=password&username=ALICE&password=" + strings.Repeat("p", 73), "a=%zz", "grant_type=password;username=alice",
			"grant_type=" + strings.Repeat("x", 5000), "grant_type=password&grant_type=password", "grant_type=client_credentials",
			"grant_type=password&username=%ff%fe&password=%ff", "username[]=alice&password[]=x", "&&&===", "\x00\xff",
		}[z.rng.IntN(12)])
	case "multipart":
		return class, z.multipart()
	case "broken framing":
		if len(op.propNames) > 0 {
			return class, z.object(op, func(name, typ string) string { return z.validValue(name, typ) })
		}
		return class, []byte(`{"a":1}`)
	}
	panic("unknown body class " + class)
}

// object is a JSON object with every property of op's body, each value
// written by value as raw JSON.
func (z *apiFuzzer) object(op *apiFuzzOp, value func(name, typ string) string) []byte {
	var b strings.Builder
	b.WriteString("{")
	for i, name := range op.propNames {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%s", name, value(name, op.props[name]))
	}
	b.WriteString("}")
	return []byte(b.String())
}

// validValue is a well-formed value. Booleans are always false, so the
// fuzzer never makes anyone an admin or disables an account.
func (z *apiFuzzer) validValue(name, typ string) string {
	switch {
	case typ == "boolean":
		return "false"
	case typ == "array":
		return `["https://example.com/a.jpg","/media/` + z.mediaName + `"]`
	case name == "avatar_url":
		return `"/media/` + z.mediaName + `"`
	case name == "username":
		return strconv.Quote(fmt.Sprintf("fuzz%d", z.rng.IntN(1_000_000)))
	case strings.Contains(name, "password"):
		return `"not-the-password"`
	case name == "grant_type":
		return `"password"`
	}
	return `"A day at the lake."`
}

func (z *apiFuzzer) wrongValue(typ string) string {
	var pool []string
	switch typ {
	case "boolean":
		pool = []string{`"true"`, `1`, `0`, `null`, `""`, `[]`, `{}`, `1e999`, `"yes"`}
	case "array":
		pool = []string{`"x"`, `1`, `{}`, `true`, `[1,2]`, `[null]`, `[[]]`, `[{}]`, `[` + strings.Repeat(`"https://a.example/",`, 20) + `"x"]`}
	default:
		pool = []string{`null`, `0`, `-1`, `1e308`, `1e999`, strings.Repeat("9", 40), `true`, `[]`, `{}`, `["a"]`, `{"$ref":"#"}`}
	}
	return pool[z.rng.IntN(len(pool))]
}

func (z *apiFuzzer) hostileString() string {
	pool := []string{
		`"../../etc/passwd"`, `"/media/../../moments.db"`, `"/media/` + z.mediaName + `/../x"`, `"javascript:alert(1)"`,
		`"JAVASCRIPT:alert(1)"`, `" https://example.com/x"`, `"data:text/html,<script>alert(1)</script>"`,
		`"<script>alert(1)</script>"`, `"' OR 1=1 --"`, `"\u202eevil"`, `"\u2028\u2029"`, `"\ud800"`, `"\udfff\ud800"`,
		`"` + strings.Repeat("é", 6000) + `"`, `"` + strings.Repeat("a", 70_000) + `"`, `"https://` + strings.Repeat("a", 3000) + `"`,
		`""`, `"   "`, `"%00"`, `"null"`, `"\t\n"`, `"https://user:pw@example.com/"`, `"http://[::1"`, `"file:///etc/passwd"`,
	}
	return pool[z.rng.IntN(len(pool))]
}

// multipart is a broken or hostile multipart/form-data body (boundary
// apiFuzzBoundary), now and then a real photo.
func (z *apiFuzzer) multipart() []byte {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.SetBoundary(apiFuzzBoundary)
	switch z.rng.IntN(8) {
	case 0:
		fw, _ := mw.CreateFormFile("file", "photo.png")
		fw.Write(apiFuzzPNG())
	case 1:
		fw, _ := mw.CreateFormFile("file", "../../x.jpg")
		fw.Write([]byte("\xff\xd8\xff\xe0 not a JPEG <svg onload=alert(1)>"))
	case 2:
		for i := range 200 {
			mw.WriteField("f"+strconv.Itoa(i), "x")
		}
	case 3:
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="file"; filename="` + strings.Repeat("a", 20_000) + `"`}
		fw, _ := mw.CreatePart(h)
		fw.Write([]byte("GIF89a"))
	case 4:
		fw, _ := mw.CreateFormFile("file", "big.bin")
		fw.Write(bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 512<<10))
	case 5:
		return []byte("--" + apiFuzzBoundary + "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\x89PNG")
	case 6:
		return []byte("--other\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--other--\r\n")
	default:
		fw, _ := mw.CreateFormFile("file", "p.png")
		fw.Write(apiFuzzPNG())
		mw.Close()
		return b.Bytes()[:z.rng.IntN(b.Len())]
	}
	mw.Close()
	return b.Bytes()
}

// apiFuzzPNG is a small real photo.
func apiFuzzPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 12))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // writing to a bytes.Buffer does not fail
	}
	return b.Bytes()
}

// ---- the things that exist ----

func (z *apiFuzzer) upload() string {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", "photo.png")
	fw.Write(apiFuzzPNG())
	mw.Close()
	res := z.e.do("POST", "/media", z.alice.Token, formBody(b.String()), "Content-Type", mw.FormDataContentType())
	res.wantStatus(z.t, http.StatusCreated)
	var info struct {
		URL string `json:"url"`
	}
	res.json(z.t, &info)
	return strings.TrimPrefix(info.URL, "/media/")
}

func (z *apiFuzzer) newPost() {
	var p struct {
		ID int64 `json:"id"`
	}
	z.e.do("POST", "/posts", z.alice.Token, map[string]any{"content": "a post to poke at", "media_urls": []string{"/media/" + z.mediaName}}).
		wantStatus(z.t, http.StatusCreated).json(z.t, &p)
	z.postID = p.ID
}

func (z *apiFuzzer) newComment() {
	var c struct {
		ID int64 `json:"id"`
	}
	z.e.do("POST", fmt.Sprintf("/posts/%d/comments", z.postID), z.victim.Token, map[string]string{"content": "nice"}).
		wantStatus(z.t, http.StatusCreated).json(z.t, &c)
	z.commentID = c.ID
}

func (z *apiFuzzer) nextCursor(path, token string) string {
	var page struct {
		NextCursor *string `json:"next_cursor"`
	}
	z.e.do("GET", path, token, nil).wantStatus(z.t, http.StatusOK).json(z.t, &page)
	if page.NextCursor == nil {
		z.t.Fatalf("GET %s: no next_cursor", path)
	}
	return *page.NextCursor
}

// ---- afterwards ----

func (z *apiFuzzer) report() {
	t := z.t
	total := 0
	ops := make([]string, 0, len(z.perOp))
	for op, n := range z.perOp {
		total += n
		ops = append(ops, fmt.Sprintf("%s: %d", op, n))
	}
	sort.Strings(ops)
	t.Logf("%d requests to %d operations:\n  %s", total, len(z.perOp), strings.Join(ops, "\n  "))
	t.Logf("body classes: %s", apiFuzzTally(z.perClass))
	t.Logf("parameter values: %s", apiFuzzTally(z.perParam))
	t.Logf("authorization: %s", apiFuzzTally(z.perAuth))
	statuses := map[string]int{}
	for s, n := range z.perStatus {
		statuses[strconv.Itoa(s)] = n
	}
	t.Logf("statuses (0: a path no client can send; -1: connection closed while sending a large body): %s", apiFuzzTally(statuses))
	t.Logf("requests that reached the model server: %d", len(z.model.Requests()))
}

func apiFuzzTally(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// checkHealthy: the server answers its health check, a user can still sign
// in, post and see the post in the feed, a newcomer can sign up, and nothing
// panicked along the way.
func (z *apiFuzzer) checkHealthy() {
	t, e := z.t, z.e
	e.do("GET", "/healthz", "", nil).wantStatus(t, http.StatusOK)
	tok := e.login("alice", z.alice.Password)
	var p struct {
		ID int64 `json:"id"`
	}
	e.do("POST", "/posts", tok, map[string]string{"content": "still here"}).wantStatus(t, http.StatusCreated).json(t, &p)
	var feed struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	e.do("GET", "/posts?limit=5", tok, nil).wantStatus(t, http.StatusOK).json(t, &feed)
	if len(feed.Items) == 0 || feed.Items[0].ID != p.ID {
		t.Errorf("the feed does not start with the new post %d: %+v", p.ID, feed.Items)
	}
	e.signUp("afterfuzz")
	if logs := e.logs.String(); strings.Contains(logs, "panic") {
		t.Errorf("the server panicked:\n%s", logs)
	}
}
