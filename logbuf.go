package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logBuffer batches log lines into fewer writes: under load one write
// carries many request lines instead of one each. A line is written at most
// delay after it was logged, at once if a warning or worse follows it, and
// on Flush.
type logBuffer struct {
	mu      sync.Mutex
	w       *bufio.Writer
	delay   time.Duration
	pending *time.Timer // the flush due, nil when nothing waits
}

func newLogBuffer(w io.Writer, delay time.Duration) *logBuffer {
	return &logBuffer{w: bufio.NewWriterSize(w, 32<<10), delay: delay}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.w.Write(p)
	if b.w.Buffered() > 0 && b.pending == nil {
		b.pending = time.AfterFunc(b.delay, func() { b.Flush() })
	}
	return n, err
}

// Flush writes everything buffered.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending != nil {
		b.pending.Stop()
		b.pending = nil
	}
	return b.w.Flush()
}

// flushingHandler writes out b after each record at level or above, so
// warnings and errors are never late.
type flushingHandler struct {
	slog.Handler
	b     *logBuffer
	level slog.Level
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.level {
		h.b.Flush()
	}
	return err
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(attrs), h.b, h.level}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.b, h.level}
}
