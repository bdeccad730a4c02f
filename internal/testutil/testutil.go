// Package testutil holds what the tests of several packages share.
package testutil

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// SyncBuffer is a bytes.Buffer that a server's goroutines may write to while
// a test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Clock is a clock a test moves by hand, forward or back; safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time; pass it where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d, which may be negative.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// JPEGMarkers lists the markers of a JPEG's segments up to and including
// the first start of scan, where metadata would have to be. Fill bytes
// (0xff) between segments are skipped, as decoders skip them.
func JPEGMarkers(b []byte) ([]byte, error) {
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return nil, fmt.Errorf("not a JPEG: % x", b[:min(len(b), 4)])
	}
	var markers []byte
	for p := 2; p+4 <= len(b); {
		if b[p] != 0xff {
			return nil, fmt.Errorf("no marker at %d", p)
		}
		m := b[p+1]
		if m == 0xff {
			p++
			continue
		}
		markers = append(markers, m)
		if m == 0xda {
			return markers, nil
		}
		p += 2 + int(binary.BigEndian.Uint16(b[p+2:]))
	}
	return nil, errors.New("no start of scan")
}
