package media

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"os"
	"testing"
	"time"
)

func tinyJPEG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// An upload waiting for a worker slot gives up when its request does.
func TestSaveWaitsForAWorkerUntilCancelled(t *testing.T) {
	t.Parallel()
	l, err := Open(t.TempDir(), Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	l.sem <- struct{}{} // another upload is being decoded
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Save(ctx, bytes.NewReader(tinyJPEG(t))); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	<-l.sem
	if _, err := l.Save(context.Background(), bytes.NewReader(tinyJPEG(t))); err != nil {
		t.Fatalf("after the slot freed: %v", err)
	}
}

// Whichever file fails to be written, nothing is left behind: no
// temporary file, and no thumbnail without its image.
func TestStoreCleansUpOnFailure(t *testing.T) {
	t.Parallel()
	broken := errors.New("disk on fire")
	thumb := image.NewGray(image.Rect(0, 0, 4, 4))
	tests := []struct {
		name string
		out  *rendition
	}{
		{"MainFails", &rendition{ext: ".jpg", encode: func(w io.Writer) error {
			w.Write(make([]byte, 100<<10)) // past the buffer, into the file
			return broken
		}, thumb: thumb}},
		{"ThumbFails", &rendition{ext: ".jpg", encode: func(io.Writer) error { return nil }, thumb: image.NewGray(image.Rect(0, 0, 1<<16, 1))}}, // too wide for JPEG
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := Open(t.TempDir(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.store(tt.out); err == nil {
				t.Fatal("store succeeded")
			}
			entries, err := os.ReadDir(l.Dir())
			if err != nil || len(entries) != 0 {
				t.Errorf("left behind: %v (%v)", entries, err)
			}
		})
	}
}

// copyLimited never asks its reader for more than the limit and one byte,
// whatever the sizes of the reads, and copies everything up to the limit.
func TestCopyLimited(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	for _, size := range []int{0, 1, 1000, receiveBuffer, receiveBuffer + 1, limit, limit + 1, 3 << 20} {
		src := make([]byte, size)
		for i := range src {
			src[i] = byte(i * 7)
		}
		r := &io.LimitedReader{R: bytes.NewReader(src), N: int64(size)}
		var dst bytes.Buffer
		n, err := copyLimited(&dst, r, limit)
		read := int64(size) - r.N
		switch {
		case size > limit:
			if !errors.Is(err, ErrTooLarge) || read > limit+1 {
				t.Errorf("%d bytes: got %v after reading %d", size, err, read)
			}
		case err != nil || n != int64(size) || !bytes.Equal(dst.Bytes(), src):
			t.Errorf("%d bytes: copied %d (%d in dst), %v", size, n, dst.Len(), err)
		}
	}
}
