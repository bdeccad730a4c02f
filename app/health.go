package app

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

type healthOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Status string `json:"status" example:"ok" doc:"ok when the database answers"`
	}
}

func (s *server) registerHealth() {
	register(s, huma.Operation{
		OperationID: "health",
		Method:      http.MethodGet,
		Path:        "/healthz",
		Summary:     "Check that the server and its database answer",
		Tags:        []string{"Operations"},
		Errors:      []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := s.store.Ping(ctx); err != nil {
			s.log.ErrorContext(ctx, "health check failed", "error", err, "request_id", requestID(ctx))
			return nil, huma.Error503ServiceUnavailable("The database does not answer.")
		}
		out := &healthOutput{CacheControl: "no-store"}
		out.Body.Status = "ok"
		return out, nil
	})
}
