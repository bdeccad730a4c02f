package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

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

// readBody reads the body of operations whose body Huma parses, before
// Huma does: Huma answers a body it cannot read (broken chunked framing, a
// client that hangs up before its Content-Length) with a 500 that quotes
// Go's error. Here that is the client's 400. Uploads stream their own body
// and are left alone; the size limit stays Huma's (413).
func (s *server) readBody(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op.RequestBody == nil || op.MaxBodyBytes <= 0 || op.RequestBody.Content["multipart/form-data"] != nil {
		next(ctx)
		return
	}
	r, _ := humago.Unwrap(ctx)
	data, err := io.ReadAll(io.LimitReader(r.Body, op.MaxBodyBytes))
	r.Body.Close()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			huma.WriteErr(s.api, ctx, http.StatusRequestTimeout, "The request body took too long to arrive.")
			return
		}
		huma.WriteErr(s.api, ctx, http.StatusBadRequest, "The request body is malformed or was cut off.")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	next(ctx)
}
