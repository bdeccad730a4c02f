package app

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"golang.org/x/time/rate"

	"moments/app/limiter"
)

// Named limits. Operations opt in with Metadata: limited(limitAuth), or
// limitedPerAccount(limitAuth) to be limited per signed-in account as well.
const (
	limitAuth      = "auth"      // sign-in, registration and password changes
	limitAssistant = "assistant" // both assistant endpoints share one bucket
	limitKey       = "rateLimit"
	perAccountKey  = "rateLimitPerAccount"
	// accountLimits names the per-account table of a limit: limitAuth's
	// is limitAuth + accountLimits.
	accountLimits = ":account"
)

// Limit is one token-bucket setting: Burst requests at once, refilled at
// Burst per Per.
type Limit struct {
	Burst int
	Per   time.Duration
}

// Limits are the per-client request budgets.
type Limits struct {
	Auth      Limit
	Assistant Limit
}

// DefaultLimits: 10 requests, refilled at 10 per minute, for sign-in,
// registration and the assistant alike.
func DefaultLimits() Limits {
	return Limits{
		Auth:      Limit{Burst: 10, Per: time.Minute},
		Assistant: Limit{Burst: 10, Per: time.Minute},
	}
}

func limited(name string) map[string]any { return map[string]any{limitKey: name} }

// limitedPerAccount is limited, with a second bucket per account: guessing
// a signed-in account's password (to change it) from many addresses is
// bounded as well as guessing from one.
func limitedPerAccount(name string) map[string]any {
	return map[string]any{limitKey: name, perAccountKey: true}
}

func newLimiters(l Limits, now func() time.Time) map[string]*limiter.Limiter {
	mk := func(x Limit) *limiter.Limiter {
		return limiter.New(limiter.Config{
			Limit: rate.Every(x.Per / time.Duration(x.Burst)),
			Burst: x.Burst,
			Now:   now,
		})
	}
	return map[string]*limiter.Limiter{
		limitAuth:                 mk(l.Auth),
		limitAuth + accountLimits: mk(l.Auth),
		limitAssistant:            mk(l.Assistant),
	}
}

// rateLimit takes one token from the client's bucket for operations that
// declare a limit. It runs before the body is read and before any bcrypt or
// upstream work, and every such response carries the RateLimit-* headers.
func (s *server) rateLimit(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	name, _ := op.Metadata[limitKey].(string)
	l := s.limiters[name]
	if l == nil {
		next(ctx)
		return
	}
	r, w := humago.Unwrap(ctx)
	d := l.Allow(s.clientIPs.Key(r))
	if perAccount, _ := op.Metadata[perAccountKey].(bool); perAccount && d.Allowed {
		if me, ok := currentUser(ctx.Context()); ok {
			d = s.limiters[name+accountLimits].Allow("account:" + strconv.FormatInt(me.ID, 10))
		}
	}
	d.SetHeaders(w.Header())
	if !d.Allowed {
		wait := int64(math.Ceil(d.RetryAfter.Seconds()))
		huma.WriteErr(s.api, ctx, http.StatusTooManyRequests,
			"Too many requests from your address; try again in "+strconv.FormatInt(max(wait, 1), 10)+" s.")
		return
	}
	next(ctx)
}
