package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"moments/internal/fsutil"
	"moments/store"
)

// fail maps an error from below the HTTP layer to the response the client
// gets. Domain errors become their status; anything else is logged with the
// request ID and answered with a bare 500, so no SQL or file path leaks.
func (s *server) fail(ctx context.Context, err error) error {
	var se huma.StatusError
	var fe *store.FieldError
	switch {
	case errors.As(err, &se):
		return err
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound("Not found.")
	case errors.Is(err, store.ErrConflict):
		return huma.Error409Conflict("That already exists.")
	case errors.Is(err, store.ErrDiskFull), fsutil.DiskFull(err):
		s.log.LogAttrs(ctx, slog.LevelError, "disk full", slog.String("error", err.Error()),
			slog.String("request_id", requestID(ctx)))
		return huma.NewError(http.StatusInsufficientStorage,
			"The server's disk is full, so nothing was saved; try again once its operator has made room.")
	case errors.As(err, &fe):
		// A check only the store can make, such as whether circles are
		// the caller's own; it names the field but no value.
		return huma.Error422UnprocessableEntity("The request breaks a rule of "+fe.Field+".", &huma.ErrorDetail{
			Location: "body." + fe.Field, Message: fe.Message,
		})
	case errors.Is(err, store.ErrInvalid):
		// The HTTP layer checks every limit first; this is the store's
		// own check, and its message names the field but no value.
		return huma.Error422UnprocessableEntity(strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": "))
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

// bodyReadTimeout bounds how long a JSON body may take to arrive. Once it
// has, the request lives by its own limits (the assistant's timeout, say),
// not by a deadline left on the connection.
const bodyReadTimeout = time.Minute

// readBody reads the body of operations whose body Huma parses, before
// Huma does: Huma answers a body it cannot read (broken chunked framing, a
// client that hangs up before its Content-Length) with a 500 that quotes
// Go's error. Here that is the client's 400. A JSON body is then checked
// strictly against the operation's schema (checkJSONBody). Uploads stream
// their own body and are left alone; the size limit stays Huma's (413).
func (s *server) readBody(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op.RequestBody == nil || op.MaxBodyBytes <= 0 || op.RequestBody.Content["multipart/form-data"] != nil {
		next(ctx)
		return
	}
	r, w := humago.Unwrap(ctx)
	jsonSchema := op.RequestBody.Content["application/json"]
	if jsonSchema != nil {
		ct := r.Header.Get("Content-Type")
		if !isJSONType(ct) {
			huma.WriteErr(s.api, ctx, http.StatusUnsupportedMediaType, "Send the body as JSON (Content-Type: application/json).")
			return
		}
		if ct != "" {
			// Huma looks formats up by their exact spelling; media types
			// are case-insensitive.
			r.Header.Set("Content-Type", "application/json")
		}
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
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
	// The body is in memory: no deadline may now cut the request short
	// (net/http's background read would cancel its context when one
	// passes). Huma leaves it so, as every operation has BodyReadTimeout -1.
	_ = rc.SetReadDeadline(time.Time{})
	if jsonSchema != nil && len(data) > 0 && int64(len(data)) < op.MaxBodyBytes {
		if err := checkJSONBody(data, jsonSchema.Schema, s.api.OpenAPI().Components.Schemas); err != nil {
			var se huma.StatusError
			errors.As(err, &se)
			huma.WriteErr(s.api, ctx, se.GetStatus(), se.Error(), errorDetails(se)...)
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	next(ctx)
}

// isJSONType reports whether a Content-Type names JSON (or none, which Huma
// takes for JSON).
func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "" || mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// errorDetails returns the details of a problem made by huma.NewError.
func errorDetails(se huma.StatusError) []error {
	em, ok := se.(*huma.ErrorModel)
	if !ok {
		return nil
	}
	out := make([]error, len(em.Errors))
	for i, d := range em.Errors {
		out[i] = d
	}
	return out
}

// cleanProblem is the API's response transformer for problem documents:
// it drops every echoed value (Huma puts the whole body there for "unexpected
// property" and "required property" errors, passwords included) and lists
// at most maxBodyErrors errors, so a problem document is never larger than a
// few kilobytes and never repeats what the client sent.
func cleanProblem(_ huma.Context, _ string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	for _, d := range em.Errors {
		d.Value = nil
	}
	if n := len(em.Errors); n > maxBodyErrors {
		em.Errors = em.Errors[:maxBodyErrors]
		em.Detail += " (" + strconv.Itoa(n) + " errors; the first " + strconv.Itoa(maxBodyErrors) + " are listed)"
	}
	return em, nil
}
