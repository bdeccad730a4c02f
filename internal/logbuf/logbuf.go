// Package logbuf batches log lines into fewer writes: under load one write
// carries many request lines instead of one each, while warnings and errors
// are never late.
package logbuf

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Buffer holds log lines for a while. A line is written at most delay
// after it was logged, at once if a warning or worse follows it (Handler),
// and on Flush.
type Buffer struct {
	mu      sync.Mutex
	w       *bufio.Writer
	delay   time.Duration
	pending *time.Timer // the flush due, nil when nothing waits
}

// New makes a Buffer that writes to w.
func New(w io.Writer, delay time.Duration) *Buffer {
	return &Buffer{w: bufio.NewWriterSize(w, 32<<10), delay: delay}
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.w.Write(p)
	if b.w.Buffered() > 0 && b.pending == nil {
		b.pending = time.AfterFunc(b.delay, func() { b.Flush() })
	}
	return n, err
}

// Flush writes everything buffered.
func (b *Buffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending != nil {
		b.pending.Stop()
		b.pending = nil
	}
	return b.w.Flush()
}

// FlushOnPanic writes everything buffered if the goroutine is panicking, and
// lets the panic go on: deferred first thing in a goroutine, it keeps the
// lines before a crash from being lost with the process.
func (b *Buffer) FlushOnPanic() {
	if v := recover(); v != nil {
		b.Flush()
		panic(v)
	}
}

// Handler wraps h, which writes to b, so that b is written out after each
// record at level or above: warnings and errors are never late.
func Handler(h slog.Handler, b *Buffer, level slog.Level) slog.Handler {
	return flushingHandler{h, b, level}
}

type flushingHandler struct {
	slog.Handler
	b     *Buffer
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
