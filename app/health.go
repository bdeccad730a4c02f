package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"moments/store"
)

type healthOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Status string `json:"status" example:"ok" doc:"ok when the database answers and the data directory takes writes"`
	}
}

// writeCheckEvery is how often /healthz checks that the data directory
// takes writes, as long as it did: the check writes a file and the endpoint
// needs no token, so a flood of checks shares one. The database is asked
// every time (one SELECT), and a failed write check is repeated every time.
const writeCheckEvery = time.Second

// health remembers when the data directory last took a write.
type health struct {
	mu      sync.Mutex
	wroteAt time.Time
}

func (s *server) registerHealth() {
	register(s, huma.Operation{
		OperationID: "health",
		Method:      http.MethodGet,
		Path:        "/healthz",
		Summary:     "Check that the database answers and the data directory takes writes",
		Description: "503 with the reason when either fails. Checked at most once a second.",
		Tags:        []string{"Operations"},
		Errors:      []int{http.StatusServiceUnavailable},
	}, s.checkHealth)
}

func (s *server) checkHealth(ctx context.Context, _ *struct{}) (*healthOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s.health.mu.Lock()
	now := time.Now()
	writes := now.Sub(s.health.wroteAt) >= writeCheckEvery
	err := s.store.Health(ctx, writes)
	if err == nil && writes {
		s.health.wroteAt = now
	}
	s.health.mu.Unlock()
	if err != nil {
		s.log.ErrorContext(ctx, "health check failed", "error", err, "request_id", requestID(ctx))
		reason := "The server is not healthy."
		if errors.Is(err, store.ErrUnhealthy) {
			reason = strings.TrimPrefix(err.Error(), store.ErrUnhealthy.Error()+": ")
			reason = strings.ToUpper(reason[:1]) + reason[1:] + "."
		}
		return nil, huma.Error503ServiceUnavailable(reason)
	}
	out := &healthOutput{CacheControl: "no-store"}
	out.Body.Status = "ok"
	return out, nil
}
