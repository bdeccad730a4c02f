// Package limiter owns Moments' in-memory rate limits: a token bucket per
// client key (golang.org/x/time/rate), held in a table whose memory stays
// bounded however many distinct keys arrive. Sign-in, registration and the AI
// assistant each get their own Limiter; app/clientip decides the key.
package limiter

import (
	"container/list"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const (
	// DefaultMaxKeys is the table cap when Config.MaxKeys is zero. A bucket
	// costs a few hundred bytes, so the default stays in the low megabytes.
	DefaultMaxKeys = 10_000
	// DefaultIdleTTL is Config.IdleTTL when it is zero.
	DefaultIdleTTL = 10 * time.Minute
)

// sweepBatch bounds how many idle buckets one new key may clear, so no single
// request pays for a mass expiry; each insert clears more than it adds, so
// idle buckets still drain.
const sweepBatch = 8

// Config describes one limit: Burst tokens per key, refilled at Limit tokens
// per second (rate.Every(6*time.Second) is one token every six seconds).
type Config struct {
	Limit rate.Limit
	// Burst is the bucket size, at least 1.
	Burst int
	// MaxKeys caps how many buckets are held. At the cap a new key evicts the
	// least recently used one, which forgets that client's spending: the cap
	// is a memory guard and should sit well above the expected client count.
	// Zero means DefaultMaxKeys.
	MaxKeys int
	// IdleTTL is how long a key must go unseen before its bucket is dropped.
	// It is raised to the time a bucket takes to refill from empty, so only
	// full buckets are dropped and dropping one never hands out tokens.
	// Zero means DefaultIdleTTL.
	IdleTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limiter is a table of token buckets, one per key. It is safe for
// concurrent use.
type Limiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	idleTTL time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]*list.Element // of *entry
	lru     list.List                // most recently used at the front
}

type entry struct {
	key    string
	bucket *rate.Limiter
	// lastSeen only moves forward, so the LRU order is also lastSeen order
	// and the idle buckets are always the ones at the back.
	lastSeen time.Time
}

// New returns a Limiter for cfg. It panics if cfg.Burst is below 1: such a
// limiter would refuse every request, which is a wiring mistake.
func New(cfg Config) *Limiter {
	if cfg.Burst < 1 {
		panic("limiter: Config.Burst must be at least 1, got " + strconv.Itoa(cfg.Burst))
	}
	l := &Limiter{
		limit:   cfg.Limit,
		burst:   cfg.Burst,
		maxKeys: cfg.MaxKeys,
		idleTTL: cfg.IdleTTL,
		now:     cfg.Now,
		entries: make(map[string]*list.Element),
	}
	if l.maxKeys <= 0 {
		l.maxKeys = DefaultMaxKeys
	}
	if l.idleTTL <= 0 {
		l.idleTTL = DefaultIdleTTL
	}
	// A bucket left alone this long is full again whatever it held (tokens
	// never go below zero), so it is indistinguishable from a new one. With no
	// refill (Limit 0) this is forever and only the cap evicts.
	l.idleTTL = max(l.idleTTL, l.durationFor(float64(l.burst)))
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// Decision is the outcome of one Allow call.
type Decision struct {
	Allowed bool
	// Limit is the bucket size (Config.Burst).
	Limit int
	// Remaining is the whole tokens left after this call.
	Remaining int
	// Reset is the time until the bucket is full again.
	Reset time.Duration
	// RetryAfter is, when refused, the time until one token is back; zero
	// when allowed.
	RetryAfter time.Duration
}

// Allow takes one token from key's bucket if it has one.
func (l *Limiter) Allow(key string) Decision {
	now := l.now()

	l.mu.Lock()
	b := l.bucketFor(key, now)
	l.mu.Unlock()

	// The bucket has its own lock, so the table lock need not cover it. The
	// two reads are not atomic together, which at worst makes Remaining and
	// Reset stale by a concurrent call on the same key; admission is decided
	// by AllowN alone.
	allowed := b.AllowN(now, 1)
	tokens := b.TokensAt(now)

	d := Decision{Allowed: allowed, Limit: l.burst, Reset: l.durationFor(float64(l.burst) - tokens)}
	if allowed {
		// Refills are float arithmetic: 2.9999999999 tokens means 3.
		d.Remaining = max(0, int(math.Floor(tokens+1e-9)))
	} else {
		d.RetryAfter = l.durationFor(1 - tokens)
	}
	return d
}

// Len reports how many keys hold a bucket.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// bucketFor finds or makes key's bucket and marks it used at now. l.mu must
// be held.
// Peek reports the state of key's bucket without taking a token, for
// answers that must show the limit but do not count against it (a request
// refused before it reached the limiter). An unknown key has a full bucket.
func (l *Limiter) Peek(key string) Decision {
	now := l.now()
	tokens := float64(l.burst)
	l.mu.Lock()
	if el, ok := l.entries[key]; ok {
		tokens = el.Value.(*entry).bucket.TokensAt(now)
	}
	l.mu.Unlock()
	d := Decision{Allowed: tokens >= 1, Limit: l.burst, Reset: l.durationFor(float64(l.burst) - tokens)}
	d.Remaining = max(0, int(math.Floor(tokens+1e-9)))
	if !d.Allowed {
		d.RetryAfter = l.durationFor(1 - tokens)
	}
	return d
}

func (l *Limiter) bucketFor(key string, now time.Time) *rate.Limiter {
	if el, ok := l.entries[key]; ok {
		e := el.Value.(*entry)
		if now.After(e.lastSeen) {
			e.lastSeen = now
		}
		l.lru.MoveToFront(el)
		return e.bucket
	}

	// Only new keys grow the table, so only they pay for shrinking it.
	l.sweep(now)
	if l.lru.Len() >= l.maxKeys {
		l.remove(l.lru.Back())
	}
	e := &entry{key: key, bucket: rate.NewLimiter(l.limit, l.burst), lastSeen: now}
	l.entries[key] = l.lru.PushFront(e)
	return e.bucket
}

// sweep drops up to sweepBatch idle buckets from the back of the LRU list.
// l.mu must be held.
func (l *Limiter) sweep(now time.Time) {
	for range sweepBatch {
		el := l.lru.Back()
		if el == nil || now.Sub(el.Value.(*entry).lastSeen) < l.idleTTL {
			return
		}
		l.remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.entries, el.Value.(*entry).key)
	l.lru.Remove(el)
}

// durationFor is how long the bucket takes to earn tokens.
func (l *Limiter) durationFor(tokens float64) time.Duration {
	switch {
	case tokens <= 0 || l.limit == rate.Inf:
		return 0
	case l.limit <= 0:
		return rate.InfDuration
	}
	ns := tokens / float64(l.limit) * float64(time.Second)
	if ns >= math.MaxInt64 {
		return rate.InfDuration
	}
	// Round, not truncate: float error would otherwise leave exact intervals
	// a nanosecond short (60 s as 59.999999999 s).
	return time.Duration(math.Round(ns))
}

// SetHeaders writes d as the RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset fields of the IETF RateLimit header fields draft, and
// Retry-After when d refused the request. Times are whole seconds rounded up,
// so a client that waits as told is not refused again.
func (d Decision) SetHeaders(h http.Header) {
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.Reset), 10))
	if !d.Allowed {
		// Retry-After: 0 invites an immediate retry that would be refused.
		h.Set("Retry-After", strconv.FormatInt(max(1, ceilSeconds(d.RetryAfter)), 10))
	}
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}
