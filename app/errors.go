package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"moments/store"
)

// fail maps an error from below the HTTP layer to the response the client
// gets. Domain errors become their status; anything else is logged with the
// request ID and answered with a bare 500, so no SQL or file path leaks.
func (s *server) fail(ctx context.Context, err error) error {
	var se huma.StatusError
	switch {
	case errors.As(err, &se):
		return err
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound("Not found.")
	case errors.Is(err, store.ErrConflict):
		return huma.Error409Conflict("That already exists.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if ctx.Err() != nil {
			// The client went away; nobody reads this answer.
			return huma.NewError(499, "Client closed the request.")
		}
	}
	s.log.LogAttrs(ctx, slog.LevelError, "internal error",
		slog.String("error", err.Error()),
		slog.String("request_id", requestID(ctx)),
	)
	return huma.NewError(http.StatusInternalServerError,
		"Internal error; the request ID is in the X-Request-ID header.")
}

// fieldError is a 422 naming the one field that is wrong.
func fieldError(location, message string, value any) error {
	return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{
		Location: location,
		Message:  message,
		Value:    value,
	})
}
