package connlimit

// These tests are inside the package because the bookkeeping is what they
// check: that counts never pass a bound and come back to zero.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"moments/internal/onewrite"
	"moments/internal/testutil"
)

// patience bounds every wait, so that a broken test fails instead of
// hanging. Nothing is measured against it.
const patience = 2 * time.Minute

const (
	perAddrWarning = "too many from one client address"
	totalWarning   = "too many open and none idle"
)

// handler answers "/" with "ok", holds "/block" until release is closed
// and then answers "done", and takes "/hijack" away from net/http.
type handler struct {
	entered chan struct{} // a send for each /block request in the handler
	release chan struct{}
}

func newHandler() *handler {
	return &handler{entered: make(chan struct{}, 1000), release: make(chan struct{})}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/block":
		h.entered <- struct{}{}
		select {
		case <-h.release:
			io.WriteString(w, "done")
		case <-r.Context().Done():
		}
	case "/hijack":
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		buf.Flush()
		c.Close()
	default:
		io.WriteString(w, "ok")
	}
}

// waitEntered waits until n /block requests are in the handler.
func (h *handler) waitEntered(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(patience)
	for range n {
		select {
		case <-h.entered:
		case <-deadline:
			t.Fatalf("fewer than %d requests reached the handler", n)
		}
	}
}

// testServer serves through a Limiter as main.go does: a onewrite.Listener
// around the Limiter's, so that ConnState is handed onewrite's connections
// rather than the Limiter's.
type testServer struct {
	lim  *Limiter
	srv  *http.Server
	addr string

	mu   sync.Mutex
	open map[string]int // connections net/http holds, by client IP
	peak map[string]int // the most open at any one time
}

func serve(t *testing.T, cfg Config, h http.Handler, tune func(*http.Server)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{lim: New(cfg), addr: ln.Addr().String(), open: map[string]int{}, peak: map[string]int{}}
	ts.srv = &http.Server{
		Handler:     h,
		ConnContext: onewrite.ConnContext,
		ConnState: func(c net.Conn, state http.ConnState) {
			ts.lim.ConnState(c, state)
			ts.observe(c, state)
		},
	}
	if tune != nil {
		tune(ts.srv)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		ts.srv.Serve(onewrite.Listener{Listener: ts.lim.Listener(ln)})
	}()
	t.Cleanup(func() {
		ts.srv.Close()
		<-served
	})
	return ts
}

// observe follows net/http's own view of how many connections each client
// has, as a check on the Limiter's.
func (ts *testServer) observe(c net.Conn, state http.ConnState) {
	ip, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	ts.mu.Lock()
	defer ts.mu.Unlock()
	switch state {
	case http.StateNew:
		ts.open[ip]++
		ts.peak[ip] = max(ts.peak[ip], ts.open[ip])
	case http.StateClosed, http.StateHijacked:
		ts.open[ip]--
	}
}

func (ts *testServer) peakOf(ip string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.peak[ip]
}

// counts is the Limiter's bookkeeping at one moment.
type counts struct {
	open    int
	perAddr map[netip.Prefix]int
	pairs   int
	idle    int
}

func (l *Limiter) counts() counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := counts{open: l.open, perAddr: map[netip.Prefix]int{}, pairs: len(l.byPair), idle: l.idle.Len()}
	for k, n := range l.perAddr {
		c.perAddr[k] = n
	}
	return c
}

// waitFor polls until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}

// waitIdle waits until the Limiter holds n connections idle.
func (ts *testServer) waitIdle(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d idle connections", n), func() bool { return ts.lim.counts().idle == n })
}

// waitEmpty waits until the Limiter counts no connection at all.
func (ts *testServer) waitEmpty(t *testing.T) {
	t.Helper()
	waitFor(t, "every count back to zero", func() bool {
		c := ts.lim.counts()
		return c.open == 0 && len(c.perAddr) == 0 && c.pairs == 0 && c.idle == 0
	})
	if c := ts.lim.counts(); c.open != 0 {
		t.Fatalf("open = %d after every connection closed", c.open)
	}
}

// client is a raw HTTP/1.1 connection, so that each test decides which
// connection a request goes on.
type client struct {
	net.Conn
	r *bufio.Reader
}

// dial connects from ip; Linux routes all of 127/8 to the loopback device.
func (ts *testServer) dial(t *testing.T, ip string) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(patience))
	t.Cleanup(func() { c.Close() })
	return &client{Conn: c, r: bufio.NewReader(c)}
}

func (c *client) send(path string) error {
	_, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: moments.test\r\n\r\n")
	return err
}

// receive reads a response and returns its body.
func (c *client) receive() (string, error) {
	res, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", res.StatusCode)
	}
	return string(body), err
}

func (c *client) get(path string) (string, error) {
	if err := c.send(path); err != nil {
		return "", err
	}
	return c.receive()
}

func mustGet(t *testing.T, c *client, path, want string) {
	t.Helper()
	if body, err := c.get(path); err != nil || body != want {
		t.Fatalf("GET %s from %s = %q, %v; want %q", path, c.LocalAddr(), body, err, want)
	}
}

// wantClosed checks that the server closed c: a request on it fails, and
// not for want of an answer in time.
func wantClosed(t *testing.T, c *client, what string) {
	t.Helper()
	body, err := c.get("/")
	var ne net.Error
	switch {
	case err == nil:
		t.Fatalf("%s: served %q, want the connection closed", what, body)
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("%s: %v, want the connection closed", what, err)
	}
}

func TestOneAddressCannotTakeEveryConnection(t *testing.T) {
	t.Parallel()
	logs := &testutil.SyncBuffer{}
	clock := testutil.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	ts := serve(t, Config{Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: clock.Now}, newHandler(), nil)

	// An attacker opens 2,000 keep-alive connections, makes a request on
	// each and leaves them idle.
	var kept []*client
	for range 2000 {
		c := ts.dial(t, "127.0.0.1")
		if _, err := c.get("/"); err != nil {
			c.Close()
			continue
		}
		kept = append(kept, c)
	}
	if len(kept) != DefaultMaxConnsPerAddr {
		t.Errorf("%d connections from one address served, want %d", len(kept), DefaultMaxConnsPerAddr)
	}
	if peak := ts.peakOf("127.0.0.1"); peak > DefaultMaxConnsPerAddr {
		t.Errorf("net/http held %d connections from one address at once, want at most %d", peak, DefaultMaxConnsPerAddr)
	}
	if n := ts.lim.counts().perAddr[netip.MustParsePrefix("127.0.0.1/32")]; n != DefaultMaxConnsPerAddr {
		t.Errorf("count for 127.0.0.1 = %d, want %d", n, DefaultMaxConnsPerAddr)
	}

	// Everyone else is still served.
	other := ts.dial(t, "127.0.0.2")
	mustGet(t, other, "/", "ok")

	if n := strings.Count(logs.String(), perAddrWarning); n != 1 {
		t.Errorf("%d warnings within a minute, want 1:\n%s", n, logs)
	}
	clock.Advance(warnEvery)
	wantClosed(t, ts.dial(t, "127.0.0.1"), "a connection over the bound a minute later")
	waitFor(t, "a second warning a minute later", func() bool { return strings.Count(logs.String(), perAddrWarning) == 2 })

	for _, c := range append(kept, other) {
		c.Close()
	}
	ts.waitEmpty(t)
}

func TestTotalBoundClosesTheLongestIdle(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	h := newHandler()
	ts := serve(t, Config{MaxConns: 50, Now: clock.Now}, h, nil)

	// The oldest connection is busy: idle first, then given a request that
	// is still running.
	busy := ts.dial(t, "127.0.0.3")
	mustGet(t, busy, "/", "ok")
	ts.waitIdle(t, 1)
	if err := busy.send("/block"); err != nil {
		t.Fatal(err)
	}
	h.waitEntered(t, 1)
	ts.waitIdle(t, 0)

	// 49 more, from as many addresses, fill the bound; each goes idle
	// before the next, so idle[0] is idle longest.
	idle := make([]*client, 49)
	for i := range idle {
		idle[i] = ts.dial(t, fmt.Sprintf("127.0.0.%d", 4+i))
		mustGet(t, idle[i], "/", "ok")
		ts.waitIdle(t, i+1)
	}

	// None has been idle long enough to be closed, so a newcomer is refused.
	wantClosed(t, ts.dial(t, "127.0.0.100"), "a newcomer while every idle connection is fresh")

	// Once they have been idle a while, the longest idle makes room.
	clock.Advance(evictableAfter)
	newcomer := ts.dial(t, "127.0.0.100")
	mustGet(t, newcomer, "/", "ok")
	if _, err := idle[0].r.ReadByte(); err == nil {
		t.Fatal("the longest idle connection was not closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the longest idle connection was not closed: %v", err)
	}
	if n := ts.lim.counts().open; n != 50 {
		t.Errorf("open = %d, want 50", n)
	}

	// The other idle connections still work, and the busy one finishes.
	for _, c := range idle[1:] {
		mustGet(t, c, "/", "ok")
	}
	close(h.release)
	if body, err := busy.receive(); err != nil || body != "done" {
		t.Errorf("the busy connection's request = %q, %v; want done", body, err)
	}

	for _, c := range idle[1:] {
		c.Close()
	}
	busy.Close()
	newcomer.Close()
	ts.waitEmpty(t)
}

func TestTotalBoundRefusesWhenNoneIsIdle(t *testing.T) {
	t.Parallel()
	logs := &testutil.SyncBuffer{}
	clock := testutil.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	h := newHandler()
	ts := serve(t, Config{MaxConns: 20, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))}, h, nil)

	busy := make([]*client, 20)
	for i := range busy {
		busy[i] = ts.dial(t, fmt.Sprintf("127.0.1.%d", 1+i))
		if err := busy[i].send("/block"); err != nil {
			t.Fatal(err)
		}
	}
	h.waitEntered(t, len(busy))
	clock.Advance(time.Hour)

	for range 3 {
		wantClosed(t, ts.dial(t, "127.0.1.100"), "a newcomer while every connection is active")
	}
	if n := strings.Count(logs.String(), totalWarning); n != 1 {
		t.Errorf("%d warnings within a minute, want 1:\n%s", n, logs)
	}

	close(h.release)
	for i, c := range busy {
		if body, err := c.receive(); err != nil || body != "done" {
			t.Errorf("busy connection %d: %q, %v; want done", i, body, err)
		}
	}

	// Now idle, and once idle a while, they make room again.
	ts.waitIdle(t, len(busy))
	clock.Advance(evictableAfter)
	newcomer := ts.dial(t, "127.0.1.100")
	mustGet(t, newcomer, "/", "ok")

	for _, c := range busy {
		c.Close()
	}
	newcomer.Close()
	ts.waitEmpty(t)
}

func TestExemptPeersAreNotBoundPerAddress(t *testing.T) {
	t.Parallel()
	proxy := netip.MustParseAddr("127.0.0.1")
	ts := serve(t, Config{
		MaxConns:        9,
		MaxConnsPerAddr: 3,
		Exempt:          func(a netip.Addr) bool { return a == proxy },
		Now:             testutil.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)).Now,
	}, newHandler(), nil)

	for range 5 {
		mustGet(t, ts.dial(t, "127.0.0.1"), "/", "ok")
	}
	for range 3 {
		mustGet(t, ts.dial(t, "127.0.0.2"), "/", "ok")
	}
	wantClosed(t, ts.dial(t, "127.0.0.2"), "a fourth connection from an address that is not exempt")

	// The exempt peer's connections count toward the total.
	mustGet(t, ts.dial(t, "127.0.0.1"), "/", "ok")
	wantClosed(t, ts.dial(t, "127.0.0.1"), "an exempt connection over the total bound")

	c := ts.lim.counts()
	if c.open != 9 || len(c.perAddr) != 1 || c.perAddr[netip.MustParsePrefix("127.0.0.2/32")] != 3 {
		t.Errorf("counts = %+v, want 9 open and 3 for 127.0.0.2 only", c)
	}
}

func TestCountsReturnToZero(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		tune  func(*http.Server)
		path  string
		close func(t *testing.T, ts *testServer, clients []*client)
	}{
		{
			name: "closed by the client", path: "/",
			close: func(t *testing.T, ts *testServer, clients []*client) {
				for _, c := range clients {
					c.Close()
				}
			},
		},
		{
			name: "idle timeout", path: "/",
			tune:  func(s *http.Server) { s.IdleTimeout = time.Millisecond },
			close: func(*testing.T, *testServer, []*client) {},
		},
		{
			name: "Shutdown", path: "/",
			close: func(t *testing.T, ts *testServer, _ []*client) {
				ctx, cancel := context.WithTimeout(context.Background(), patience)
				defer cancel()
				if err := ts.srv.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "hijacked and closed by the handler", path: "/hijack",
			close: func(*testing.T, *testServer, []*client) {},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := serve(t, Config{MaxConnsPerAddr: 5, Now: testutil.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)).Now}, newHandler(), tc.tune)
			var clients []*client
			for i := range 20 {
				c := ts.dial(t, fmt.Sprintf("127.0.2.%d", 1+i%4))
				mustGet(t, c, tc.path, "ok")
				clients = append(clients, c)
			}
			tc.close(t, ts, clients)
			ts.waitEmpty(t)
		})
	}
}

func TestAddrKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ addr, want string }{
		{"203.0.113.7", "203.0.113.7/32"},
		{"::ffff:203.0.113.7", "203.0.113.7/32"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
	} {
		if got := addrKey(netip.MustParseAddr(tc.addr)); got != netip.MustParsePrefix(tc.want) {
			t.Errorf("addrKey(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}

// An IPv6 host counts as one client whichever address of its /64 it
// connects from.
func TestIPv6CountsPer64(t *testing.T) {
	t.Parallel()
	l := New(Config{MaxConnsPerAddr: 2})
	admit := func(remote string) bool {
		c := fakeConn{remote: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(remote))}
		return l.admit(c) != nil
	}
	if !admit("[2001:db8:1:2::1]:1000") || !admit("[2001:db8:1:2:ffff::9]:1000") {
		t.Fatal("first two connections of a /64 refused")
	}
	if admit("[2001:db8:1:2::3]:1001") {
		t.Error("a third address in the same /64 was let in")
	}
	if !admit("[2001:db8:1:3::1]:1000") {
		t.Error("the neighbouring /64 was refused")
	}
}

func TestAcceptErrorsAreReturnedAsTheyAre(t *testing.T) {
	t.Parallel()
	want := errors.New("accept4: too many open files")
	ln := New(Config{}).Listener(failingListener{want})
	if c, err := ln.Accept(); c != nil || err != want {
		t.Errorf("Accept = %v, %v; want nil, %v", c, err, want)
	}
}

func TestMaxConnsFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fds  uint64
		want int
	}{
		{20000, 20000 - fdReserve},
		{1024, 1024 - fdReserve},
		{300, minMaxConns},
		{0, minMaxConns},
		{^uint64(0), maxMaxConns}, // RLIM_INFINITY
	} {
		if got := maxConnsFor(tc.fds); got != tc.want {
			t.Errorf("maxConnsFor(%d) = %d, want %d", tc.fds, got, tc.want)
		}
	}
	if n := DefaultMaxConns(); n < minMaxConns {
		t.Errorf("DefaultMaxConns() = %d, want at least %d", n, minMaxConns)
	}
}

type failingListener struct{ err error }

func (l failingListener) Accept() (net.Conn, error) { return nil, l.err }
func (failingListener) Close() error                { return nil }
func (failingListener) Addr() net.Addr              { return &net.TCPAddr{} }

// fakeConn is a connection that only has addresses.
type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.remote }
func (fakeConn) LocalAddr() net.Addr    { return &net.TCPAddr{IP: net.IPv6loopback, Port: 80} }
func (fakeConn) Close() error           { return nil }
