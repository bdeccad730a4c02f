// Package connlimit owns how many connections the server holds open: few
// enough in total that file descriptors remain for the database, media
// files and uploads, and few enough per client address that one client
// cannot take them all.
//
// Without it, a client that opens thousands of keep-alive connections and
// leaves them idle takes every descriptor; Accept then fails with "too many
// open files" and the server answers no one. Serve through Listener and set
// http.Server.ConnState to ConnState (or call it from yours): a connection
// over its address's bound is closed as soon as it is accepted, and at the
// total bound the connection idle longest makes room for the new one.
package connlimit

import (
	"container/list"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"moments/internal/connwrap"
)

const (
	// DefaultMaxConnsPerAddr is the per-address bound when Config leaves it
	// unset: far more than a browser opens (six per host), and a small
	// share of DefaultMaxConns.
	DefaultMaxConnsPerAddr = 256

	// fdReserve is the descriptors DefaultMaxConns leaves for the database,
	// media files and uploads.
	fdReserve = 256

	// minMaxConns is the least DefaultMaxConns answers, however low the
	// descriptor limit, so that the server still serves somebody.
	minMaxConns = 64

	// fixedMaxConns is DefaultMaxConns where the descriptor limit cannot
	// be read.
	fixedMaxConns = 1024

	// maxMaxConns caps DefaultMaxConns when the descriptor limit is
	// unlimited or absurdly high.
	maxMaxConns = 1 << 20

	// evictableAfter is how long a connection must have been idle before
	// it may be closed to make room. net/http reports a connection active
	// only once it has read a request's first bytes, so one that has just
	// been sent a request still looks idle; closing only connections that
	// have been quiet for a while makes cutting off such a request
	// unlikely, and a client may retry a request on a keep-alive
	// connection that closed under it (RFC 9112, section 9.3.1).
	evictableAfter = time.Second

	// warnEvery is the least time between two warnings about one address,
	// or about the total bound, so that an attack does not flood the log.
	warnEvery = time.Minute
)

// Config says how many connections a Limiter lets in.
type Config struct {
	// MaxConns bounds the open connections in total; 0 or less means
	// DefaultMaxConns().
	MaxConns int
	// MaxConnsPerAddr bounds the open connections from one client address
	// (one IPv4 address, or one IPv6 /64); 0 or less means
	// DefaultMaxConnsPerAddr.
	MaxConnsPerAddr int
	// Exempt picks the peers not bound per address, such as trusted
	// reverse proxies, through which every client arrives. Their
	// connections still count toward MaxConns. Nil exempts no one.
	Exempt func(netip.Addr) bool
	// Logger gets a warning when connections are refused: at most one a
	// minute per address, and one a minute for the total bound. Nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock idle times are measured with; nil means time.Now.
	Now func() time.Time
}

// Limiter counts the connections of the listeners it wraps. It is safe for
// concurrent use; all of its state is its own, so that tests and several
// servers in one process do not share counts.
type Limiter struct {
	maxConns   int
	maxPerAddr int
	exempt     func(netip.Addr) bool
	log        *slog.Logger
	now        func() time.Time

	mu      sync.Mutex
	open    int                  // connections accepted and not yet closed
	perAddr map[netip.Prefix]int // the same, by addrKey; no zero entries
	// byPair finds a connection from the one net/http hands ConnState. That
	// one is the outermost wrapper (onewrite.Conn, say), not ours, and a
	// wrapper cannot be unwrapped in general; but wrappers pass LocalAddr
	// and RemoteAddr through, and the kernel gives a pair to one connection
	// at a time. It forgets a connection when it is reset, though, while
	// we may still hold it, and its peer may then reuse the pair: the newer
	// connection takes the entry, and any confusion stays among that one
	// peer's own connections.
	byPair map[addrPair]*conn
	idle   *list.List // of *conn idle per ConnState, longest idle first
	// warned is when each address was last warned about; swept once a
	// minute, so it holds only addresses refused in the last two.
	warned      map[netip.Prefix]time.Time
	swept       time.Time
	totalWarned time.Time
}

// New returns a Limiter bounding connections as cfg says.
func New(cfg Config) *Limiter {
	l := &Limiter{
		maxConns:   cfg.MaxConns,
		maxPerAddr: cfg.MaxConnsPerAddr,
		exempt:     cfg.Exempt,
		log:        cfg.Logger,
		now:        cfg.Now,
		perAddr:    map[netip.Prefix]int{},
		byPair:     map[addrPair]*conn{},
		idle:       list.New(),
		warned:     map[netip.Prefix]time.Time{},
	}
	if l.maxConns <= 0 {
		l.maxConns = DefaultMaxConns()
	}
	if l.maxPerAddr <= 0 {
		l.maxPerAddr = DefaultMaxConnsPerAddr
	}
	if l.exempt == nil {
		l.exempt = func(netip.Addr) bool { return false }
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// maxConnsFor is DefaultMaxConns for a process allowed fds descriptors.
func maxConnsFor(fds uint64) int {
	if fds > maxMaxConns+fdReserve {
		return maxMaxConns
	}
	return max(int(fds)-fdReserve, minMaxConns)
}

// Listener returns ln with its connections counted and bounded.
func (l *Limiter) Listener(ln net.Listener) net.Listener {
	return &listener{Listener: ln, l: l}
}

type listener struct {
	net.Listener
	l *Limiter
}

// Accept returns the next connection within the bounds. Connections over
// them are closed here and Accept waits for the next one: an error would
// make net/http pause accepting, which would stall every client rather than
// the one over its bound. Errors of the listener itself are returned as
// they are.
func (ln *listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := ln.l.admit(c); lc != nil {
			return lc, nil
		}
	}
}

// admit counts c in, closing the longest-idle connection to make room if
// it must, or closes c and returns nil if it is over a bound.
func (l *Limiter) admit(c net.Conn) *conn {
	lc := &conn{Conn: connwrap.Conn{Conn: c}, l: l}
	if peer, ok := addrPort(c.RemoteAddr()); ok && !l.exempt(peer.Addr().Unmap()) {
		lc.key = addrKey(peer.Addr())
	}
	lc.pair, lc.paired = pairOf(c)

	l.mu.Lock()
	now := l.now()
	if lc.key.IsValid() && l.perAddr[lc.key] >= l.maxPerAddr {
		warn := l.shouldWarn(lc.key, now)
		l.mu.Unlock()
		if warn {
			l.log.Warn("connections refused: too many from one client address; further refusals from it are not logged for a minute",
				"client", keyString(lc.key), "limit", l.maxPerAddr)
		}
		c.Close()
		return nil
	}
	var victim *conn
	if l.open >= l.maxConns {
		victim = l.longestIdle(now)
		if victim == nil {
			warn := now.Sub(l.totalWarned) >= warnEvery
			if warn {
				l.totalWarned = now
			}
			l.mu.Unlock()
			if warn {
				l.log.Warn("connections refused: too many open and none idle; further refusals are not logged for a minute",
					"limit", l.maxConns)
			}
			c.Close()
			return nil
		}
		l.release(victim)
	}
	l.open++
	if lc.key.IsValid() {
		l.perAddr[lc.key]++
	}
	if lc.paired {
		l.byPair[lc.pair] = lc
	}
	l.mu.Unlock()

	if victim != nil {
		// Its slot is already lc's. net/http, waiting in a read for the
		// next request, sees the read fail and closes its side, which
		// closes victim again to no effect.
		victim.Conn.Close()
	}
	return lc
}

// longestIdle returns the connection idle longest if it has been idle long
// enough to be closed, or nil. l.mu is held.
func (l *Limiter) longestIdle(now time.Time) *conn {
	front := l.idle.Front()
	if front == nil {
		return nil
	}
	c := front.Value.(*conn)
	if now.Sub(c.idleSince) < evictableAfter {
		return nil
	}
	return c
}

// release takes c out of the counts, once however often it is called.
// l.mu is held.
func (l *Limiter) release(c *conn) {
	if c.released {
		return
	}
	c.released = true
	l.open--
	if c.key.IsValid() {
		if n := l.perAddr[c.key] - 1; n > 0 {
			l.perAddr[c.key] = n
		} else {
			delete(l.perAddr, c.key)
		}
	}
	if c.paired && l.byPair[c.pair] == c {
		delete(l.byPair, c.pair)
	}
	if c.idleElem != nil {
		l.idle.Remove(c.idleElem)
		c.idleElem = nil
	}
}

// shouldWarn reports whether a refusal from key is to be logged, and notes
// that it was. l.mu is held.
func (l *Limiter) shouldWarn(key netip.Prefix, now time.Time) bool {
	if now.Sub(l.swept) >= warnEvery {
		for k, at := range l.warned {
			if now.Sub(at) >= warnEvery {
				delete(l.warned, k)
			}
		}
		l.swept = now
	}
	if at, ok := l.warned[key]; ok && now.Sub(at) < warnEvery {
		return false
	}
	l.warned[key] = now
	return true
}

// ConnState follows net/http's view of each connection, to know which are
// idle; set it as http.Server.ConnState or call it from yours. nc may be a
// wrapper around a connection from Listener; connections from elsewhere are
// ignored.
func (l *Limiter) ConnState(nc net.Conn, state http.ConnState) {
	p, ok := pairOf(nc)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.byPair[p]
	if c == nil {
		return
	}
	switch {
	case state == http.StateIdle && c.idleElem == nil:
		// Now is read under the lock so that the list stays in order.
		c.idleSince = l.now()
		c.idleElem = l.idle.PushBack(c)
	case state != http.StateIdle && c.idleElem != nil:
		l.idle.Remove(c.idleElem)
		c.idleElem = nil
	}
}

// conn is a counted connection.
type conn struct {
	connwrap.Conn
	l      *Limiter
	key    netip.Prefix // what it counts under per address; invalid if exempt or unknown
	pair   addrPair
	paired bool // whether pair is known, and so ConnState can find it

	// Guarded by l.mu.
	released  bool
	idleElem  *list.Element // in l.idle while idle
	idleSince time.Time
}

// Close closes the connection and takes it out of the counts.
func (c *conn) Close() error {
	c.l.mu.Lock()
	c.l.release(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// addrPair is a connection's two ends.
type addrPair struct{ local, remote netip.AddrPort }

func pairOf(c net.Conn) (addrPair, bool) {
	local, ok := addrPort(c.LocalAddr())
	if !ok {
		return addrPair{}, false
	}
	remote, ok := addrPort(c.RemoteAddr())
	return addrPair{local, remote}, ok
}

// addrPort reads an IP address and port, without formatting and parsing
// for a TCP address, which is what a server is handed.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if a == nil {
		return netip.AddrPort{}, false
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return ap, ap.IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}

// addrKey is what a peer's connections are counted under: its IPv4
// address, or the /64 its IPv6 address is in, since one host is routinely
// given a whole /64 and could otherwise open the bound's worth of
// connections from each of its addresses.
func addrKey(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	return netip.PrefixFrom(a, 64).Masked()
}

// keyString writes an IPv4 key as its address and an IPv6 key as its /64.
func keyString(key netip.Prefix) string {
	if key.Addr().Is4() {
		return key.Addr().String()
	}
	return key.String()
}
