package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPanicBecomesBare500(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := recoverPanics(log, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret internal state")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	body := rec.Body.String()
	if strings.Contains(body, "secret") || strings.Contains(body, "goroutine") {
		t.Errorf("body leaks the panic: %s", body)
	}
	if !strings.Contains(logs.String(), "secret internal state") || !strings.Contains(logs.String(), "stack=") {
		t.Errorf("panic not logged with its stack: %s", logs.String())
	}
}

func TestAccessLogNeverHasAuthorization(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := &server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	h := s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	req := httptest.NewRequest("GET", "/x?cursor=abc", nil)
	req.Header.Set("Authorization", "Bearer sekrit-token")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	line := logs.String()
	for _, want := range []string{"method=GET", "path=/x", "status=418", "duration=", "request_id=" + rec.Header().Get("X-Request-ID")} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, line)
		}
	}
	if strings.Contains(line, "sekrit") || strings.Contains(line, "cursor=abc") {
		t.Errorf("log line leaks request data: %s", line)
	}
}

// TestLogRequestIDs: a line logged with a request's context names the
// request, once, whoever logs it.
func TestLogRequestIDs(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	log := slog.New(LogRequestIDs(slog.NewTextHandler(&out, nil)))
	ctx := context.WithValue(context.Background(), requestIDKey, "abc-1")
	log.ErrorContext(ctx, "from the store")
	log.ErrorContext(ctx, "already named", "request_id", "abc-1")
	log.With("k", "v").ErrorContext(ctx, "with attrs")
	log.Error("outside a request")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines: %s", len(lines), out.String())
	}
	for _, line := range lines[:3] {
		if strings.Count(line, "request_id=abc-1") != 1 {
			t.Errorf("not named once: %s", line)
		}
	}
	if strings.Contains(lines[3], "request_id") {
		t.Errorf("a line outside a request names one: %s", lines[3])
	}
}
