package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"moments/internal/testutil"
)

// Request lines are written together, a little late; a warning takes the
// lines before it out at once, in order; Flush writes the rest.
func TestLogBuffer(t *testing.T) {
	t.Parallel()
	out := &testutil.SyncBuffer{}
	b := newLogBuffer(out, time.Hour)
	log := slog.New(flushingHandler{slog.NewTextHandler(b, nil), b, slog.LevelWarn})

	log.Info("request", "n", 1)
	log.Info("request", "n", 2)
	if got := out.String(); got != "" {
		t.Fatalf("info lines written at once: %q", got)
	}
	log.Warn("trouble")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "n=1") || !strings.Contains(lines[1], "n=2") || !strings.Contains(lines[2], "msg=trouble") {
		t.Fatalf("after a warning: %q", lines)
	}
	log.With("request_id", "x").Error("failed")
	if !strings.Contains(out.String(), "request_id=x msg=failed") && !strings.Contains(out.String(), "msg=failed request_id=x") {
		t.Fatalf("an error through a derived logger was not written at once: %q", out.String())
	}
	log.Info("last")
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "msg=last\n") {
		t.Fatalf("Flush left a line behind: %q", out.String())
	}
}

// A buffered line is written by itself within the delay.
func TestLogBufferWritesLateLines(t *testing.T) {
	t.Parallel()
	out := &testutil.SyncBuffer{}
	b := newLogBuffer(out, 20*time.Millisecond)
	b.Write([]byte("line\n"))
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "line\n" {
		if time.Now().After(deadline) {
			t.Fatalf("the line was not written: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The next line gets its own flush.
	b.Write([]byte("again\n"))
	for out.String() != "line\nagain\n" {
		if time.Now().After(deadline) {
			t.Fatalf("the second line was not written: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
