package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"moments/app"
	"moments/internal/testutil"
)

// TestMain removes the binary the crash and load tests build. Started with
// staticBodyEnv set, the test binary is instead the load benchmark's static
// server (see staticServer).
func TestMain(m *testing.M) {
	if path := os.Getenv(staticBodyEnv); path != "" {
		serveStatic(path)
		return
	}
	code := m.Run()
	if built.path != "" {
		os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// instance is a `moments serve` running in-process.
type instance struct {
	url    string
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	err    error         // what run returned, once done is closed
	stderr *testutil.SyncBuffer
}

var listenLine = regexp.MustCompile(`running at (http://127\.0\.0\.1:\d+)`)

// start runs `moments serve` on a free port and waits until /healthz is ok.
func start(t *testing.T, args []string, env map[string]string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	in := &instance{cancel: cancel, done: make(chan struct{}), stderr: stderr}
	go func() {
		in.err = run(ctx, args, envFrom(env), strings.NewReader(""), stdout, stderr)
		close(in.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-in.done:
		case <-time.After(15 * time.Second):
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-in.done:
			t.Fatalf("serve exited early: %v\n%s", in.err, stderr)
		default:
		}
		if m := listenLine.FindStringSubmatch(stdout.String()); m != nil {
			in.url = m[1]
			res, err := http.Get(in.url + "/healthz")
			if err == nil {
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode == 200 && strings.Contains(string(body), `"ok"`) {
					return in
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no healthy server within 10s; stdout: %s\nstderr: %s", stdout, stderr)
	return nil
}

// stop cancels the context (what SIGTERM does in main) and waits for a
// clean exit.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cancel()
	select {
	case <-in.done:
		if in.err != nil {
			t.Fatalf("serve returned %v", in.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15s")
	}
	if !strings.Contains(in.stderr.String(), "msg=stopped") {
		t.Errorf("no clean-stop log line:\n%s", in.stderr)
	}
}

func TestServeStartsStopsAndRestartsOnTheSameData(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"serve", "--addr", "127.0.0.1:0"}
	env := map[string]string{"MOMENTS_DATA": data}

	first := start(t, args, env)
	for _, path := range []string{"/openapi.json", "/openapi.yaml", "/docs", "/"} {
		res, err := http.Get(first.url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("GET %s = %d", path, res.StatusCode)
		}
	}
	first.stop(t)
	if _, err := os.Stat(filepath.Join(data, "moments.db")); err != nil {
		t.Fatalf("database not in the data directory: %v", err)
	}

	second := start(t, args, env)
	second.stop(t)
}

// The served listener sends pages of posts with onewrite: each arrives
// whole, with its length, and the connection carries the next request.
func TestFeedPagesThroughTheServedListener(t *testing.T) {
	t.Parallel()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, map[string]string{"MOMENTS_PUBLIC_READ": "true"})
	client := &http.Client{Transport: &http.Transport{}}
	for i := range 3 {
		res, err := client.Get(in.url + "/posts?limit=5")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"next_cursor"`
		}
		if res.StatusCode != 200 || json.Unmarshal(body, &page) != nil || page.Items == nil {
			t.Fatalf("request %d: status %d, body %s", i, res.StatusCode, body)
		}
		if res.ContentLength != int64(len(body)) || len(res.TransferEncoding) != 0 {
			t.Errorf("request %d: Content-Length %d, Transfer-Encoding %v for %d bytes", i, res.ContentLength, res.TransferEncoding, len(body))
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %d: headers %v", i, res.Header)
		}
	}
	in.stop(t)
}

// A request in flight when the signal arrives still gets its answer.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	t.Parallel()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, nil)
	// Hold a request mid-body: with Expect: 100-continue the server says
	// when its handler starts reading the body, so the test knows the
	// request is in flight without guessing how long that takes.
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	body := `{"username":"inflight","password":"inflight-password"}`
	fmt.Fprintf(conn, "POST /auth/register HTTP/1.1\r\nHost: moments\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	rd := bufio.NewReader(conn)
	if line, err := rd.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("no 100 Continue: %q, %v", line, err)
	}
	rd.ReadString('\n') // the blank line after it

	stopped := make(chan struct{})
	go func() { in.stop(t); close(stopped) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(in.stderr.String(), "shutting down") {
		if time.Now().After(deadline) {
			t.Fatal("the server did not begin shutting down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprint(conn, body)
	res, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatalf("the request in flight was cut off by the shutdown: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("the request in flight was answered %d", res.StatusCode)
	}
	<-stopped
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string // empty: success
		wantOut string
	}{
		{"help", []string{"--help"}, "", "serve"},
		{"help lists migrate", []string{"help"}, "", "migrate"},
		{"serve help", []string{"serve", "--help"}, "", "MOMENTS_ADDR"},
		{"migrate help", []string{"migrate", "--help"}, "", "status|up|down"},
		{"help lists restore", []string{"help"}, "", "restore"},
		{"restore help", []string{"restore", "--help"}, "", "media.before-restore-TIME"},
		{"version", []string{"version"}, "", "moments dev"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`, ""},
		{"unknown flag", []string{"serve", "--nope"}, "flag provided but not defined: -nope", ""},
		{"bad addr", []string{"--addr", "nonsense"}, "--addr", ""},
		{"data is a file", []string{"serve", "--data", file}, "is a file", ""},
		{"stray argument", []string{"serve", "extra"}, "unexpected argument", ""},
		{"migrate without action", []string{"migrate"}, "want exactly one", ""},
		{"migrate bad action", []string{"migrate", "sideways", "--data", dir}, "unknown action", ""},
		{"migrate missing db", []string{"migrate", "--data", filepath.Join(dir, "none"), "status"}, "holds no Moments database", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, envFrom(nil), strings.NewReader(""), &out, &errOut)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if n := strings.Count(out.String(), "Usage:"); n > 1 {
					t.Errorf("usage printed %d times:\n%s", n, out.String())
				}
				if !strings.Contains(out.String(), tc.wantOut) {
					t.Errorf("output lacks %q:\n%s", tc.wantOut, out.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
		})
	}
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	in.stop(t)

	runOK := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), args, envFrom(nil), strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	status := runOK("migrate", "status", "--data", data)
	if !strings.Contains(status, "00001") || strings.Contains(status, "pending") {
		t.Fatalf("status after serve:\n%s", status)
	}
	down := runOK("migrate", "down", "--data", data)
	if !strings.Contains(down, "rolled back") || !strings.Contains(down, "pending") {
		t.Fatalf("down:\n%s", down)
	}
	up := runOK("migrate", "up", "--data", data)
	if !strings.Contains(up, "applied 0") || strings.Contains(up, "pending") {
		t.Fatalf("up:\n%s", up)
	}
	// Before migrating, up copied the database and said where.
	snaps, _ := filepath.Glob(filepath.Join(data, "backups", "pre-migrate-*.db"))
	if len(snaps) != 1 || !strings.Contains(up, "copied the database at version ") ||
		!strings.Contains(up, " to "+snaps[0]+" before migrating it to ") {
		t.Fatalf("snapshots %v after up:\n%s", snaps, up)
	}
	if again := runOK("migrate", "up", "--data", data); !strings.Contains(again, "no pending migrations") ||
		strings.Contains(again, "copied") {
		t.Fatalf("second up:\n%s", again)
	}

	// serve does the same and logs it.
	runOK("migrate", "down", "--data", data)
	in = start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	in.stop(t)
	snaps, _ = filepath.Glob(filepath.Join(data, "backups", "pre-migrate-*.db"))
	if len(snaps) != 2 || !strings.Contains(in.stderr.String(), `msg="copied the database before migrating it"`) {
		t.Errorf("snapshots %v after serve; log:\n%s", snaps, in.stderr)
	}
}

func TestUserCreateOnAClosedInstance(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := map[string]string{"MOMENTS_DATA": data, "MOMENTS_REGISTRATION": "closed"}
	first := start(t, []string{"--addr", "127.0.0.1:0"}, env)
	first.stop(t)

	create := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"user", "create"}, args...), envFrom(env), strings.NewReader(stdin), &out, io.Discard)
		return out.String(), err
	}
	out, err := create("first-password\n", "root", "--admin")
	if err != nil || !strings.Contains(out, `created admin "root"`) {
		t.Fatalf("create root: %q, %v", out, err)
	}
	out, err = create("second-password\r\n", "bob")
	if err != nil || !strings.Contains(out, `created user "bob"`) {
		t.Fatalf("create bob: %q, %v", out, err)
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"x-password\n", []string{"BOB"}, "taken"},
		{"short\n", []string{"carol"}, "8 to 72 bytes"},
		{"", []string{"carol"}, "no password on stdin"},
		{"x-password\n", []string{"no way"}, "username must be"},
		{"x-password\n", nil, "want `create NAME`"},
	} {
		if _, err := create(tc.stdin, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("create %v: err = %v, want %q", tc.args, err, tc.want)
		}
	}

	// The accounts sign in over HTTP; registration stays closed.
	in := start(t, []string{"--addr", "127.0.0.1:0"}, env)
	defer in.stop(t)
	for name, pw := range map[string]string{"root": "first-password", "bob": "second-password"} {
		res, err := http.PostForm(in.url+"/auth/token", map[string][]string{
			"grant_type": {"password"}, "username": {name}, "password": {pw},
		})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s cannot sign in: %d", name, res.StatusCode)
		}
	}
	res, err := http.Post(in.url+"/auth/register", "application/json",
		strings.NewReader(`{"username":"mallory","password":"12345678"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("register on a closed instance = %d", res.StatusCode)
	}
}

func TestHugeHeadersAreRefused(t *testing.T) {
	t.Parallel()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, nil)
	req, _ := http.NewRequest("GET", in.url+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 300<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("300 KiB of headers: %d, want 431", res.StatusCode)
	}
	wantSecurityHeaders(t, "431", res.Header)
}

// TestNetHTTPErrorsCarrySecurityHeaders: the answers net/http writes by
// itself, for requests it cannot read, carry the headers every answer of a
// handler carries.
func TestNetHTTPErrorsCarrySecurityHeaders(t *testing.T) {
	t.Parallel()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, nil)
	for _, raw := range []string{
		"GET /healthz HTTP/1.1\r\n\r\n",                                      // no Host
		"GET /healthz HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",             // malformed header
		"GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: zip\r\n\r\n", // unknown coding: 501
		"GARBAGE\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprint(conn, raw)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		res.Body.Close()
		conn.Close()
		if res.StatusCode < 400 {
			t.Errorf("%q: %d", raw, res.StatusCode)
		}
		wantSecurityHeaders(t, fmt.Sprintf("%q (%d)", raw, res.StatusCode), res.Header)
	}
}

func wantSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	for k, v := range app.SecurityHeaders() {
		if got := h.Get(k); got != v[0] {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v[0])
		}
	}
}

// TestServeHelpDescribesEveryFlag checks that `moments serve --help` prints
// each flag with its argument type and its own description: the flag
// package takes a `quoted` word in a description for the argument's name,
// which once printed "-registration moments user create".
func TestServeHelpDescribesEveryFlag(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--help"}, envFrom(nil), strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	flagLine := regexp.MustCompile(`^  -([a-z0-9-]+)(?: (\S+))?$`)
	flags := 0
	lines := strings.Split(out.String(), "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "  -") {
			continue
		}
		m := flagLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("flag line %q is not \"-name string\"", line)
			continue
		}
		flags++
		if m[2] != "string" {
			t.Errorf("-%s is shown taking %q, not a string", m[1], m[2])
		}
		if i+1 >= len(lines) || !strings.Contains(lines[i+1], "[MOMENTS_") {
			t.Errorf("-%s has no description naming its environment variable", m[1])
		}
	}
	if flags < 15 {
		t.Errorf("only %d flags found in:\n%s", flags, out.String())
	}
}

// TestDataIsPrivate: everything in the data directory is the owner's alone
// (the database holds password hashes, the secret signs tokens, the photos
// are private), and a directory that others can read is pointed out at
// start with one warning line.
func TestDataIsPrivate(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	in := start(t, []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, nil)
	c := newClient(t, in.url, "alice", "alice-password")
	photo := strings.TrimPrefix(c.upload(1), "/media/")
	c.post("a post", "/media/"+photo)
	for name, want := range map[string]os.FileMode{
		".": 0o700, "moments.db": 0o600, "moments.db-wal": 0o600, "moments.db-shm": 0o600, "jwt-secret": 0o600,
		"media": 0o700, filepath.Join("media", photo): 0o600,
	} {
		fi, err := os.Stat(filepath.Join(data, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %s, want %s", name, got, want)
		}
	}
	if strings.Contains(in.stderr.String(), "can read") {
		t.Errorf("a private directory was warned about:\n%s", in.stderr)
	}
	in.stop(t)

	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(data, "jwt-secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	in = start(t, []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, nil)
	in.stop(t)
	var warnings []string
	for _, line := range strings.Split(in.stderr.String(), "\n") {
		if strings.Contains(line, "can read this instance's data") {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "jwt-secret (-rw-r--r--)") || !strings.Contains(warnings[0], "drwxr-xr-x") {
		t.Errorf("warnings about a readable directory and secret: %q", warnings)
	}
}

// TestHTTPServerTimeouts: the server's own deadlines leave every request
// the time its own limits give it, and cut off a client that sends its
// headers slowly (ReadHeaderTimeout), without a test waiting for them.
func TestHTTPServerTimeouts(t *testing.T) {
	t.Parallel()
	cfg := app.DefaultConfig()
	srv := newHTTPServer(context.Background(), cfg, http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if srv.ReadHeaderTimeout != 5*time.Second || srv.IdleTimeout != time.Minute || srv.MaxHeaderBytes != 128<<10 {
		t.Errorf("header %s, idle %s, header bytes %d", srv.ReadHeaderTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
	if srv.WriteTimeout <= cfg.AITimeout {
		t.Errorf("write timeout %s does not outlast the assistant's %s", srv.WriteTimeout, cfg.AITimeout)
	}
	cfg.AITimeout = 5 * time.Minute
	if srv := newHTTPServer(context.Background(), cfg, http.NotFoundHandler(), slog.New(slog.DiscardHandler)); srv.WriteTimeout <= cfg.AITimeout {
		t.Errorf("write timeout %s does not outlast a 5 min assistant timeout", srv.WriteTimeout)
	}
}

// TestOneClientCannotTakeEveryConnection: a client that opens connection
// after connection and leaves them idle gets at most its share (256 per
// address); the server goes on answering everyone else. 21,000 idle
// connections from one client once took every file descriptor.
func TestOneClientCannotTakeEveryConnection(t *testing.T) {
	t.Parallel()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, nil)
	addr := strings.TrimPrefix(in.url, "http://")
	served := 0
	for range 400 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: moments\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			continue // refused: closed at once
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		served++ // and kept open, idle
	}
	// start's own health checks may hold a keep-alive connection or two.
	if served > 256 || served < 250 {
		t.Errorf("one address was served on %d of 400 connections, want its 256 at most", served)
	}
	other := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext,
	}}
	res, err := other.Get(in.url + "/healthz")
	if err != nil {
		t.Fatalf("another address is not served: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("another address: %d", res.StatusCode)
	}
	if !strings.Contains(in.stderr.String(), "127.0.0.1") {
		t.Errorf("no warning names the address that was refused:\n%.2000s", in.stderr)
	}
}

// TestUserCreateDoesNotMigrate: user create runs beside a server without
// the directory's lock, so it refuses a database older than its binary
// instead of migrating it under a running server.
func TestUserCreateDoesNotMigrate(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil).stop(t)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "down", "--data", data}, envFrom(nil), strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"user", "create", "bob", "--data", data}, envFrom(nil),
		strings.NewReader("bob-password\n"), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "schema version") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("user create on an older schema: %v", err)
	}
	// The server upgrades it; then user create works.
	start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil).stop(t)
	if err := run(context.Background(), []string{"user", "create", "bob", "--data", data}, envFrom(nil),
		strings.NewReader("bob-password\n"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
}
