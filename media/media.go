// Package media owns the photos attached to posts: it takes an upload of
// unknown content, decides from its bytes alone whether it is a JPEG, PNG,
// GIF or WebP, refuses everything else and everything too large to decode
// safely, re-encodes what it accepts (which drops all metadata: EXIF, GPS,
// XMP, ICC, comments), makes a thumbnail, and stores both under a name the
// server chose. It also opens stored files for serving. The HTTP endpoints
// live in package app; nothing here knows about HTTP.
//
// # Names
//
// A stored image is named by 128 bits from crypto/rand written as 26
// characters of lowercase, unpadded base32 (a–z, 2–7), plus the extension of
// the stored format:
//
//	<id>.jpg  <id>.png  <id>.gif
//
// Its thumbnail is <id>.thumb.jpg, or <id>.thumb.png when the thumbnail has
// transparency. ValidName accepts exactly these forms and nothing else, so a
// name taken from a URL can be refused before the file system is touched.
//
// # Files
//
// Everything lives flat in one directory (created 0700, files 0600). An
// upload is first streamed into a temporary "upload-*.tmp" there through
// one fixed buffer (Receive), so an upload that is slow or stalls costs a
// file, never memory in proportion to its size. Sniffing, the header check
// and decoding then read that file (Upload.Save), and it is removed
// whatever the outcome (Upload.Close). Each stored file is written to
// another temporary file, synced, closed and renamed into place; the
// thumbnail is renamed before the image, so a name that can be seen always
// has its thumbnail. A crash can leave temporary files (removed by the next
// Open) or a thumbnail whose image never appeared (never referenced,
// harmless).
package media

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Errors returned by Receive, Save and Open. The HTTP layer maps them to
// statuses (415, 413, 413 or 422, 404); the wrapped detail is for logs
// only.
var (
	// ErrUnsupported: the bytes are not a JPEG, PNG, GIF or WebP image that
	// decodes completely.
	ErrUnsupported = errors.New("media: unsupported or damaged image")
	// ErrTooLarge: the upload is longer than Options.MaxBytes.
	ErrTooLarge = errors.New("media: upload too large")
	// ErrTooManyPixels: the header declares more pixels, or pixels that
	// decode to more memory (16-bit, progressive JPEG), or for a GIF more
	// frames or a larger animation, than the server decodes.
	ErrTooManyPixels = errors.New("media: image dimensions too large")
	// ErrNotFound: no stored file has that name, or the name is not one the
	// server could have made.
	ErrNotFound = errors.New("media: not found")
)

// Defaults for the zero values of Options.
const (
	DefaultMaxBytes  = 10 << 20
	DefaultMaxPixels = 40_000_000
	DefaultMaxSide   = 2560
	DefaultThumbSide = 480
)

const (
	// maxInputSide refuses absurd aspect ratios (100000×1 is under any pixel
	// budget but no photo) and keeps every coordinate far from overflow.
	maxInputSide = 20_000
	// maxGIFFrames bounds the per-frame overhead of gif.DecodeAll (each frame
	// may carry its own 256-colour palette) that the pixel budget misses for
	// a flood of tiny frames.
	maxGIFFrames = 1000
	jpegQuality  = 85
	thumbQuality = 80
	idLen        = 26 // base32 characters for 128 bits
	tempPattern  = "upload-*.tmp"
)

// Options tunes a Library; zero fields take the defaults above.
type Options struct {
	// MaxBytes is the largest upload accepted, in bytes.
	MaxBytes int64
	// MaxPixels is the largest width×height that is decoded; for a GIF it
	// also bounds the sum of all frames' areas. Decoding may also take at
	// most 4×MaxPixels bytes, which halves it for 16-bit PNGs and cuts it
	// further for progressive JPEGs.
	MaxPixels int64
	// MaxSide is the long side of a stored image; larger stills are scaled
	// down to it. Larger GIFs are refused (see Save).
	MaxSide int
	// ThumbSide is the long side of a thumbnail; smaller images are not
	// scaled up.
	ThumbSide int
	// Workers is how many uploads may decode and encode at once; each can
	// take tens of megabytes and a full core. Default GOMAXPROCS.
	Workers int
}

// Info describes a stored image.
type Info struct {
	Name        string // file name of the image, e.g. "k3x…q.jpg"
	ContentType string // "image/jpeg", "image/png" or "image/gif"
	Width       int    // of the stored image, after orientation and scaling
	Height      int
	Bytes       int64  // size of the stored image file
	ThumbName   string // file name of its thumbnail, e.g. "k3x…q.thumb.jpg"
}

// Library stores images in one directory. It is safe for concurrent use.
type Library struct {
	dir  string
	opts Options
	// sem holds a token per upload being decoded or encoded.
	sem chan struct{}
}

// Open prepares dir (usually <data>/media) for storing images, creating it
// with mode 0700 if needed and removing temporary files a crash left behind.
func Open(dir string, opts Options) (*Library, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxPixels <= 0 {
		opts.MaxPixels = DefaultMaxPixels
	}
	if opts.MaxSide <= 0 {
		opts.MaxSide = DefaultMaxSide
	}
	if opts.ThumbSide <= 0 {
		opts.ThumbSide = DefaultThumbSide
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	stale, err := filepath.Glob(filepath.Join(dir, tempPattern))
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	for _, name := range stale {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("media: removing stale upload: %w", err)
		}
	}
	return &Library{dir: dir, opts: opts, sem: make(chan struct{}, opts.Workers)}, nil
}

// MaxPixels is the largest width×height an upload may declare.
func (l *Library) MaxPixels() int64 { return l.opts.MaxPixels }

// Dir is the directory holding the images, for backups.
func (l *Library) Dir() string { return l.dir }

// Open opens a stored image for serving, or its thumbnail when thumb is
// set (name may then be the image's name or the thumbnail's). The content
// type is the stored format's. A name that ValidName refuses is ErrNotFound
// without any file system access.
func (l *Library) Open(name string, thumb bool) (*os.File, string, error) {
	if !ValidName(name) {
		return nil, "", ErrNotFound
	}
	candidates := []string{name}
	if thumb {
		// Which of the two a thumbnail is depends on its transparency,
		// decided at upload; trying both costs one failed open at most.
		id := name[:idLen]
		candidates = []string{id + ".thumb.jpg", id + ".thumb.png"}
	}
	for _, n := range candidates {
		f, err := os.Open(filepath.Join(l.dir, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("media: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, "", fmt.Errorf("media: %w", err)
		}
		if !st.Mode().IsRegular() {
			f.Close()
			return nil, "", ErrNotFound
		}
		return f, contentTypeOf(n), nil
	}
	return nil, "", ErrNotFound
}

// Exists reports whether name is a stored image or thumbnail.
func (l *Library) Exists(name string) bool {
	if !ValidName(name) {
		return false
	}
	st, err := os.Stat(filepath.Join(l.dir, name))
	return err == nil && st.Mode().IsRegular()
}

// ValidName reports whether name has exactly the form of a name the server
// gives an image or a thumbnail (see the package documentation). It looks at
// the string only.
func ValidName(name string) bool {
	if len(name) <= idLen || !validID(name[:idLen]) {
		return false
	}
	switch name[idLen:] {
	case ".jpg", ".png", ".gif", ".thumb.jpg", ".thumb.png":
		return true
	}
	return false
}

// validID checks for 26 characters of the lowercase base32 alphabet whose
// last character carries only the 128th bit's worth of data: 26×5 = 130
// bits, so the last two bits of an encoded 16-byte value are always zero.
func validID(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(base32Alphabet, rune(s[i])) {
			return false
		}
	}
	return strings.IndexByte(base32Alphabet, s[len(s)-1])&3 == 0
}

const base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567"

func contentTypeOf(name string) string {
	switch filepath.Ext(name) {
	case ".jpg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".gif":
		return "image/gif"
	}
	return "application/octet-stream"
}
