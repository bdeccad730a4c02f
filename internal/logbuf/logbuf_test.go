package logbuf

import (
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"moments/internal/testutil"
)

// Request lines are written together, a little late; a warning takes the
// lines before it out at once, in order; Flush writes the rest.
func TestLogBuffer(t *testing.T) {
	t.Parallel()
	out := &testutil.SyncBuffer{}
	b := New(out, time.Hour)
	log := slog.New(Handler(slog.NewTextHandler(b, nil), b, slog.LevelWarn))

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

// A buffered line is written by itself once the delay has passed, and not
// before. The test runs in a synctest bubble, whose clock moves only when
// every goroutine in it waits, so it takes no real time and cannot flake.
func TestLogBufferWritesLateLines(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		out := &testutil.SyncBuffer{}
		b := New(out, 100*time.Millisecond)
		b.Write([]byte("line\n"))
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if got := out.String(); got != "" {
			t.Fatalf("written before the delay: %q", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := out.String(); got != "line\n" {
			t.Fatalf("after the delay: %q", got)
		}
		// The next line gets its own flush.
		b.Write([]byte("again\n"))
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got := out.String(); got != "line\nagain\n" {
			t.Fatalf("the second line: %q", got)
		}
	})
}

// FlushOnPanic writes what is buffered and lets the panic go on.
func TestFlushOnPanic(t *testing.T) {
	t.Parallel()
	out := &testutil.SyncBuffer{}
	b := New(out, time.Hour)
	b.Write([]byte("before the crash\n"))
	defer func() {
		if v := recover(); v != "boom" {
			t.Errorf("recovered %v, want the panic to go on", v)
		}
		if got := out.String(); got != "before the crash\n" {
			t.Errorf("buffered lines lost: %q", got)
		}
	}()
	func() {
		defer b.FlushOnPanic()
		panic("boom")
	}()
}
