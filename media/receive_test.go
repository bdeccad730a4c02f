package media_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"moments/media"
)

// tempFiles lists the temporary upload files in dir.
func tempFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "upload-*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// An upload is received into a file, not memory: taking in 8 MiB
// allocates a small fixed amount. Not parallel, so that TotalAlloc counts
// this test's allocations only.
func TestReceiveHoldsOneSmallBuffer(t *testing.T) {
	const size = 8 << 20
	lib := newLibrary(t, media.Options{})
	r := &io.LimitedReader{R: &countingReader{}, N: size}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	up, err := lib.Receive(r)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 128<<10 {
		t.Errorf("receiving %d MiB allocated %d KiB", size>>20, grew>>10)
	}
	files := tempFiles(t, lib.Dir())
	if len(files) != 1 {
		t.Fatalf("temporary files while held: %v", files)
	}
	st, err := os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != size || st.Mode().Perm() != 0o600 {
		t.Errorf("temporary file: %d bytes, mode %v; want %d bytes, 0600", st.Size(), st.Mode().Perm(), size)
	}
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	if files := tempFiles(t, lib.Dir()); len(files) != 0 {
		t.Errorf("after Close: %v", files)
	}
}

// A stalled upload is on disk as far as it arrived, and an upload that
// breaks off returns its reader's error as it is and leaves no file.
func TestReceiveStalledThenBroken(t *testing.T) {
	t.Parallel()
	lib := newLibrary(t, media.Options{})
	pr, pw := io.Pipe()
	type result struct {
		up  *media.Upload
		err error
	}
	done := make(chan result, 1)
	go func() {
		up, err := lib.Receive(pr)
		done <- result{up, err}
	}()
	arrived := bytes.Repeat([]byte("stalled!"), 100_000)
	if _, err := pw.Write(arrived); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		files := tempFiles(t, lib.Dir())
		if len(files) == 1 {
			if st, err := os.Stat(files[0]); err == nil && st.Size() == int64(len(arrived)) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the arrived bytes are not on disk: %v", files)
		}
	}
	select {
	case res := <-done:
		t.Fatalf("Receive returned while its upload was still arriving: %v", res.err)
	default:
	}

	broken := errors.New("connection reset")
	pw.CloseWithError(broken)
	res := <-done
	if res.err != broken {
		t.Errorf("got %v, want the reader's own error", res.err)
	}
	if res.up != nil {
		t.Error("an Upload for a broken upload")
	}
	if files := tempFiles(t, lib.Dir()); len(files) != 0 {
		t.Errorf("left behind: %v", files)
	}
}

// The EXIF block is found behind other segments, each larger than the
// buffer the file is read through.
func TestSaveFindsOrientationBehindLargeSegments(t *testing.T) {
	t.Parallel()
	lib := newLibrary(t, media.Options{})
	raw := encodeJPEG(t, paint(60, 40, gradient))
	icc := segment(0xe2, append([]byte("ICC_PROFILE\x00\x01\x01"), make([]byte, 65_000)...))
	xmp := segment(0xe1, append([]byte("http://ns.adobe.com/xap/1.0/\x00"), bytes.Repeat([]byte("<x/>"), 12_000)...))
	info, err := lib.Save(context.Background(), bytes.NewReader(withSegments(raw, icc, xmp, exifAPP1(6))))
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 40 || info.Height != 60 {
		t.Errorf("stored %d×%d, want 40×60 (turned upright)", info.Width, info.Height)
	}
}
