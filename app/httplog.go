package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	userKey
	humaContextKey
)

// requestIDs makes IDs that are unique per process and cheap: a random
// prefix chosen at start-up and a counter.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (g *requestIDs) next() string {
	return g.prefix + strconv.FormatUint(g.n.Add(1), 36)
}

// requestID returns the ID logRequests gave this request.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// LogRequestIDs wraps a log handler so that a record logged with a
// request's context names the request's ID, as request_id, unless it does
// already: code outside this package (the store) logs with the context it
// was given and knows nothing of IDs.
func LogRequestIDs(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := requestID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// statusWriter remembers the status code for the access log. Unwrap lets
// http.ResponseController reach the real writer (flushing, deadlines), which
// streaming responses depend on.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush keeps http.Flusher working for code that type-asserts instead of
// using http.ResponseController.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// logRequests gives each request an ID (also sent as X-Request-ID) and logs
// one line per request. It never logs headers, so no Authorization header or
// cookie reaches the log, nor the query string, which may hold a cursor.
func (s *server) logRequests(next http.Handler) http.Handler {
	ids := newRequestIDs()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := ids.next()
		w.Header()["X-Request-Id"] = []string{id} // X-Request-ID in canonical form
		sw := &statusWriter{ResponseWriter: w}
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		next.ServeHTTP(sw, r.WithContext(ctx))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		h := s.log.Handler()
		if !h.Enabled(ctx, level) {
			return
		}
		// The record is built here rather than by Logger.LogAttrs, which
		// walks the stack for the caller's program counter on every call: a
		// fifth of the line's cost, for a source position the access log
		// never shows.
		end := time.Now()
		rec := slog.NewRecord(end, level, "request", 0)
		rec.AddAttrs(
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Int64("bytes", sw.bytes),
			slog.Duration("duration", end.Sub(start)),
			slog.String("request_id", id),
		)
		_ = h.Handle(ctx, rec)
	})
}

// recoverPanics turns a panic into a logged stack trace and a bare 500
// problem document; the stack never reaches the client.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			log.LogAttrs(r.Context(), slog.LevelError, "panic",
				slog.Any("panic", v),
				slog.String("request_id", requestID(r.Context())),
				slog.String("stack", string(debug.Stack())),
			)
			writeProblem(w, http.StatusInternalServerError, "Internal error; the request ID is in the X-Request-ID header.")
		}()
		next.ServeHTTP(w, r)
	})
}

// writeProblem writes a minimal RFC 9457 document outside Huma (for the
// static file server and the panic handler).
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]any{
		"title":  http.StatusText(status),
		"status": status,
		"detail": detail,
	})
	_, _ = w.Write(body)
}
