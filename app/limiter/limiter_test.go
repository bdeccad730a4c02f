package limiter_test

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"moments/app/limiter"
	"moments/internal/testutil"
)

// assistant returns the assistant's limit (10 tokens, one back every 6 s) on
// a fake clock.
func assistant(t *testing.T, cfg limiter.Config) (*limiter.Limiter, *testutil.Clock) {
	t.Helper()
	clock := testutil.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	cfg.Limit = rate.Every(6 * time.Second)
	cfg.Burst = 10
	cfg.Now = clock.Now
	return limiter.New(cfg), clock
}

// drain takes n tokens from key and fails unless all were granted.
func drain(t *testing.T, l *limiter.Limiter, key string, n int) {
	t.Helper()
	for i := range n {
		if d := l.Allow(key); !d.Allowed {
			t.Fatalf("Allow(%q) #%d refused: %+v", key, i+1, d)
		}
	}
}

func TestAllowBurstThenRefuse(t *testing.T) {
	t.Parallel()
	l, _ := assistant(t, limiter.Config{})

	for i := range 10 {
		d := l.Allow("1.2.3.4")
		want := limiter.Decision{
			Allowed:   true,
			Limit:     10,
			Remaining: 9 - i,
			Reset:     time.Duration(i+1) * 6 * time.Second,
		}
		if d != want {
			t.Fatalf("call %d: got %+v, want %+v", i+1, d, want)
		}
	}

	d := l.Allow("1.2.3.4")
	want := limiter.Decision{Allowed: false, Limit: 10, Remaining: 0, Reset: time.Minute, RetryAfter: 6 * time.Second}
	if d != want {
		t.Fatalf("11th call: got %+v, want %+v", d, want)
	}
	h := http.Header{}
	d.SetHeaders(h)
	if got := h.Get("Retry-After"); got != "6" {
		t.Errorf("Retry-After = %q, want 6", got)
	}
}

func TestAllowRefillsOneTokenPerInterval(t *testing.T) {
	t.Parallel()
	l, clock := assistant(t, limiter.Config{})
	drain(t, l, "k", 10)

	clock.Advance(6*time.Second - time.Millisecond)
	if d := l.Allow("k"); d.Allowed || d.RetryAfter != time.Millisecond {
		t.Fatalf("1 ms before the refill: got %+v, want refused with RetryAfter 1ms", d)
	}

	clock.Advance(time.Millisecond)
	if d := l.Allow("k"); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after 6 s: got %+v, want allowed with Remaining 0", d)
	}
	if d := l.Allow("k"); d.Allowed || d.RetryAfter != 6*time.Second {
		t.Fatalf("second call after 6 s: got %+v, want refused with RetryAfter 6s", d)
	}

	clock.Advance(time.Hour)
	if d := l.Allow("k"); !d.Allowed || d.Remaining != 9 {
		t.Fatalf("after an hour: got %+v, want allowed with Remaining 9 (capped at burst)", d)
	}
}

func TestDecisionReset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		take    int           // tokens taken at the start
		advance time.Duration // then the clock moves this far before one more call
		want    limiter.Decision
	}{
		{"fresh bucket", 0, 0, limiter.Decision{Allowed: true, Limit: 10, Remaining: 9, Reset: 6 * time.Second}},
		{"half drained", 5, 0, limiter.Decision{Allowed: true, Limit: 10, Remaining: 4, Reset: 36 * time.Second}},
		{"half drained then rested", 5, 12 * time.Second, limiter.Decision{Allowed: true, Limit: 10, Remaining: 6, Reset: 24 * time.Second}},
		{"drained", 10, 0, limiter.Decision{Limit: 10, Reset: time.Minute, RetryAfter: 6 * time.Second}},
		{"drained, half a token back", 10, 3 * time.Second, limiter.Decision{Limit: 10, Reset: 57 * time.Second, RetryAfter: 3 * time.Second}},
		{"drained, fully rested", 10, time.Minute, limiter.Decision{Allowed: true, Limit: 10, Remaining: 9, Reset: 6 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, clock := assistant(t, limiter.Config{})
			drain(t, l, "k", tt.take)
			clock.Advance(tt.advance)
			if got := l.Allow("k"); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestKeysAreIndependent(t *testing.T) {
	t.Parallel()
	l, _ := assistant(t, limiter.Config{})
	drain(t, l, "a", 10)
	if d := l.Allow("a"); d.Allowed {
		t.Fatalf("a after its burst: got %+v, want refused", d)
	}
	if d := l.Allow("b"); !d.Allowed || d.Remaining != 9 {
		t.Fatalf("b while a is drained: got %+v, want allowed with Remaining 9", d)
	}
	if got := l.Len(); got != 2 {
		t.Errorf("Len = %d, want 2", got)
	}
}

func TestSetHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    limiter.Decision
		want map[string]string // "" means the field must be absent
	}{
		{
			name: "allowed",
			d:    limiter.Decision{Allowed: true, Limit: 10, Remaining: 9, Reset: 6 * time.Second},
			want: map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "9", "RateLimit-Reset": "6", "Retry-After": ""},
		},
		{
			name: "allowed, full bucket",
			d:    limiter.Decision{Allowed: true, Limit: 10, Remaining: 10},
			want: map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "10", "RateLimit-Reset": "0", "Retry-After": ""},
		},
		{
			name: "allowed, fractions round up",
			d:    limiter.Decision{Allowed: true, Limit: 5, Remaining: 3, Reset: 1200 * time.Millisecond},
			want: map[string]string{"RateLimit-Limit": "5", "RateLimit-Remaining": "3", "RateLimit-Reset": "2", "Retry-After": ""},
		},
		{
			name: "refused",
			d:    limiter.Decision{Limit: 10, Reset: time.Minute, RetryAfter: 6 * time.Second},
			want: map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": "60", "Retry-After": "6"},
		},
		{
			name: "refused, fractions round up",
			d:    limiter.Decision{Limit: 10, Reset: 57*time.Second + time.Nanosecond, RetryAfter: 2*time.Second + time.Nanosecond},
			want: map[string]string{"RateLimit-Reset": "58", "Retry-After": "3"},
		},
		{
			name: "refused, under a second",
			d:    limiter.Decision{Limit: 10, Reset: 300 * time.Millisecond, RetryAfter: 300 * time.Millisecond},
			want: map[string]string{"RateLimit-Reset": "1", "Retry-After": "1"},
		},
		{
			name: "refused, Retry-After never 0",
			d:    limiter.Decision{Limit: 10},
			want: map[string]string{"Retry-After": "1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			tt.d.SetHeaders(h)
			for name, want := range tt.want {
				if got := h.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestIdleFullBucketsAreDropped(t *testing.T) {
	t.Parallel()
	// Refilling from empty takes 60 s, so a 2 min IdleTTL is the one in force.
	l, clock := assistant(t, limiter.Config{IdleTTL: 2 * time.Minute})
	for _, k := range []string{"a", "b", "c"} {
		drain(t, l, k, 10)
	}

	clock.Advance(2*time.Minute - time.Second)
	l.Allow("d")
	if got := l.Len(); got != 4 {
		t.Fatalf("just before IdleTTL: Len = %d, want 4", got)
	}

	clock.Advance(time.Second)
	l.Allow("e")
	if got := l.Len(); got != 2 {
		t.Fatalf("at IdleTTL: Len = %d, want 2 (only d and e)", got)
	}
}

func TestIdleDrainedBucketIsKept(t *testing.T) {
	t.Parallel()
	// IdleTTL 1 s is shorter than the 60 s refill: dropping a drained bucket
	// after 1 s would hand its client a fresh burst.
	l, clock := assistant(t, limiter.Config{IdleTTL: time.Second})
	drain(t, l, "a", 10)

	clock.Advance(30 * time.Second)
	l.Allow("b")
	if got := l.Len(); got != 2 {
		t.Fatalf("after 30 s: Len = %d, want 2", got)
	}
	if d := l.Allow("a"); !d.Allowed || d.Remaining != 4 {
		t.Fatalf("a after 30 s: got %+v, want allowed with Remaining 4 (5 refilled, 1 taken)", d)
	}

	clock.Advance(time.Minute)
	l.Allow("c")
	if got := l.Len(); got != 1 {
		t.Fatalf("after a full refill: Len = %d, want 1 (only c)", got)
	}
}

func TestLenNeverExceedsMaxKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		maxKeys int
		keys    int
		want    int
	}{
		{"a million keys", 1000, 1_000_000, 1000},
		{"default cap", 0, 2 * limiter.DefaultMaxKeys, limiter.DefaultMaxKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A frozen clock is the worst case: no bucket ever goes idle, so
			// only the cap holds the table down.
			t0 := testutil.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)).Now()
			l := limiter.New(limiter.Config{
				Limit:   rate.Every(6 * time.Second),
				Burst:   10,
				MaxKeys: tt.maxKeys,
				Now:     func() time.Time { return t0 },
			})
			for i := range tt.keys {
				if !l.Allow(strconv.Itoa(i)).Allowed {
					t.Fatalf("first call for key %d refused", i)
				}
				if n := l.Len(); n > tt.want {
					t.Fatalf("after %d keys: Len = %d, want at most %d", i+1, n, tt.want)
				}
			}
			if n := l.Len(); n != tt.want {
				t.Errorf("Len = %d, want %d", n, tt.want)
			}
		})
	}
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	// One token per hour: a key that is still tracked stays refused, a key
	// that was evicted comes back with a fresh token.
	clock := testutil.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	l := limiter.New(limiter.Config{Limit: rate.Every(time.Hour), Burst: 1, MaxKeys: 3, Now: clock.Now})
	for _, k := range []string{"a", "b", "c"} {
		drain(t, l, k, 1)
	}
	l.Allow("a") // a is now the most recently used; b the least.
	drain(t, l, "d", 1)

	if got := l.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}
	for _, tt := range []struct {
		key     string
		allowed bool
	}{
		{"a", false}, // kept: recently used
		{"b", true},  // evicted when d arrived; returns fresh, evicting c
		{"c", true},  // evicted by b; returns fresh, evicting d
		{"a", false}, // kept throughout
	} {
		if d := l.Allow(tt.key); d.Allowed != tt.allowed {
			t.Errorf("Allow(%q).Allowed = %v, want %v", tt.key, d.Allowed, tt.allowed)
		}
	}
}

func TestConcurrentUseNeverOverAdmits(t *testing.T) {
	t.Parallel()
	const (
		goroutines = 32
		calls      = 50
		burst      = 10
	)
	clock := testutil.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)) // frozen: no token is ever refilled
	l := limiter.New(limiter.Config{Limit: rate.Every(6 * time.Second), Burst: burst, Now: clock.Now})

	var hot atomic.Int64
	own := make([]int, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			key := "client-" + strconv.Itoa(g)
			for range calls {
				if l.Allow("hot").Allowed {
					hot.Add(1)
				}
				if l.Allow(key).Allowed {
					own[g]++
				}
				l.Len()
			}
		})
	}
	wg.Wait()

	if got := hot.Load(); got != burst {
		t.Errorf("shared key admitted %d calls, want exactly %d", got, burst)
	}
	for g, got := range own {
		if got != burst {
			t.Errorf("key client-%d admitted %d calls, want exactly %d", g, got, burst)
		}
	}
	if got := l.Len(); got != goroutines+1 {
		t.Errorf("Len = %d, want %d", got, goroutines+1)
	}
}

func TestNewRejectsZeroBurst(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("New with Burst 0 did not panic")
		}
	}()
	limiter.New(limiter.Config{Limit: 1})
}

func TestPeekTakesNoToken(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := limiter.New(limiter.Config{Limit: rate.Every(6 * time.Second), Burst: 10, Now: func() time.Time { return now }})
	if d := l.Peek("new"); !d.Allowed || d.Remaining != 10 || d.Limit != 10 || d.Reset != 0 {
		t.Errorf("peek at a new key = %+v", d)
	}
	for range 3 {
		l.Allow("k")
	}
	for range 5 {
		if d := l.Peek("k"); d.Remaining != 7 {
			t.Fatalf("peek = %+v, want 7 remaining", d)
		}
	}
	for range 7 {
		l.Allow("k")
	}
	d := l.Peek("k")
	if d.Allowed || d.Remaining != 0 || d.RetryAfter != 6*time.Second {
		t.Errorf("peek at an empty bucket = %+v", d)
	}
	if l.Len() != 1 {
		t.Errorf("peeking added keys: %d", l.Len())
	}
}
