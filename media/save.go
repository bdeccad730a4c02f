package media

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"

	"moments/internal/fsutil"
)

// Save reads one upload from r, checks and re-encodes it, and stores it
// with its thumbnail under a new random name. It is Receive followed by
// Upload.Save, with their errors, for a caller with nothing to do in
// between.
func (l *Library) Save(ctx context.Context, r io.Reader) (Info, error) {
	up, err := l.Receive(r)
	if err != nil {
		return Info{}, err
	}
	defer up.Close()
	return up.Save(ctx)
}

// Upload is an upload received into a temporary file in the library's
// directory, waiting to be checked and stored (Save). Close removes the
// file, whatever happened.
type Upload struct {
	lib  *Library
	file *os.File
	data *io.SectionReader // the file's content, as received
}

// receiveBuffer is the memory an upload holds while it arrives: one
// buffer of this size, however large the upload and however long it takes.
const receiveBuffer = 32 << 10

// Receive streams r into a temporary file (mode 0600, in the library's
// directory), reading at most MaxBytes+1 bytes whatever r holds: a longer
// upload is ErrTooLarge. Errors from r are returned as they are, so a
// caller's http.MaxBytesReader error stays recognisable. Nothing is checked
// yet: a stalled or slow upload costs a file and a small buffer, never
// memory in proportion to its size.
func (l *Library) Receive(r io.Reader) (*Upload, error) {
	f, err := os.CreateTemp(l.dir, tempPattern)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	up := &Upload{lib: l, file: f}
	n, err := copyLimited(f, r, l.opts.MaxBytes)
	if err != nil {
		up.Close()
		return nil, err
	}
	up.data = io.NewSectionReader(f, 0, n)
	return up, nil
}

// Close removes the upload's temporary file.
func (u *Upload) Close() error {
	return errors.Join(u.file.Close(), os.Remove(u.file.Name()))
}

// Save checks the upload and re-encodes it, and stores it with its
// thumbnail under a new random name.
//
// The format is decided by content (never a file name or a client's
// content type) and must then decode completely: anything else is
// ErrUnsupported, and a header declaring too many pixels ErrTooManyPixels,
// before any pixels are allocated. JPEG is stored as JPEG with its EXIF
// orientation applied (the only format whose orientation tag is read), PNG
// as PNG, WebP as JPEG (PNG when it has transparency, since there is no WebP
// encoder in Go), GIF as GIF with its animation. Stills are scaled down to
// MaxSide; a GIF over MaxSide is ErrTooManyPixels.
//
// Decoding and encoding wait for one of Options.Workers slots; while
// waiting, Save gives up when ctx is done.
func (u *Upload) Save(ctx context.Context) (Info, error) {
	l := u.lib
	var magic [12]byte
	n, _ := u.data.ReadAt(magic[:], 0) // a shorter file is simply no image
	f, ok := sniff(magic[:n])
	if !ok {
		return Info{}, fmt.Errorf("%w: unknown signature", ErrUnsupported)
	}
	// The header check is cheap and allocates nothing large, so a refusal
	// need not queue behind other uploads.
	if err := l.checkHeader(f, u.data); err != nil {
		return Info{}, err
	}

	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return Info{}, ctx.Err()
	}
	defer func() { <-l.sem }()
	// The slot may have come after the client gave up.
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}

	var out *rendition
	var err error
	if f == formatGIF {
		out, err = l.prepareGIF(u.data)
	} else {
		out, err = l.prepareStill(f, u.data)
	}
	if err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	return l.store(out)
}

// readFrom returns a buffered reader over data from its start; each
// reader is independent of the others.
func readFrom(data *io.SectionReader) *bufio.Reader {
	return bufio.NewReaderSize(io.NewSectionReader(data, 0, data.Size()), receiveBuffer)
}

// rendition is what gets written: the image to store and its thumbnail.
type rendition struct {
	ext, contentType string // of the main file
	width, height    int
	encode           func(io.Writer) error
	thumb            image.Image
}

// prepareStill decodes a JPEG, PNG or WebP and makes the stored still of
// it, scaled to MaxSide and turned upright in one pass, so that at most
// the decoded image and the stored one are live at once.
func (l *Library) prepareStill(f format, data *io.SectionReader) (*rendition, error) {
	orientation := 1
	if f == formatJPEG {
		orientation = jpegOrientation(readFrom(data))
	}
	img, err := decodeStill(f, readFrom(data))
	if err != nil {
		return nil, err
	}
	img = fit(img, l.opts.MaxSide, orientation)

	out := &rendition{width: img.Bounds().Dx(), height: img.Bounds().Dy()}
	switch {
	case f == formatPNG:
		out.ext, out.contentType = ".png", "image/png"
		out.encode = func(w io.Writer) error { return encodePNG(w, img) }
	case f == formatWebP && !opaque(img):
		out.ext, out.contentType = ".png", "image/png"
		out.encode = func(w io.Writer) error { return encodePNG(w, img) }
	default:
		out.ext, out.contentType = ".jpg", "image/jpeg"
		out.encode = func(w io.Writer) error { return encodeJPEG(w, img, jpegQuality) }
	}
	out.thumb = fit(img, l.opts.ThumbSide, 1)
	return out, nil
}

// prepareGIF decodes every frame and re-encodes them as they are: frame
// rectangles, palettes, delays, disposal and loop count carry over, while
// comments and application extensions other than the loop count (XMP among
// them) are dropped. checkHeader already refused GIFs over MaxSide.
func (l *Library) prepareGIF(data *io.SectionReader) (*rendition, error) {
	g, err := gif.DecodeAll(readFrom(data))
	if err != nil {
		return nil, fmt.Errorf("%w: gif: %v", ErrUnsupported, err)
	}
	if len(g.Image) == 0 {
		return nil, fmt.Errorf("%w: gif without frames", ErrUnsupported)
	}
	w, h := g.Config.Width, g.Config.Height
	// The thumbnail is the first frame as it is first shown: drawn over a
	// transparent screen, as browsers do (they ignore the background colour).
	first := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(first, g.Image[0].Bounds(), g.Image[0], g.Image[0].Bounds().Min, draw.Over)
	return &rendition{
		ext:         ".gif",
		contentType: "image/gif",
		width:       w,
		height:      h,
		encode:      func(wr io.Writer) error { return gif.EncodeAll(wr, g) },
		thumb:       fit(first, l.opts.ThumbSide, 1),
	}, nil
}

// opaque reports whether every pixel of img is fully opaque. All the image
// types the decoders return can answer; anything else is assumed not to.
func opaque(img image.Image) bool {
	o, ok := img.(interface{ Opaque() bool })
	return ok && o.Opaque()
}

func encodeJPEG(w io.Writer, img image.Image, quality int) error {
	// image/jpeg has fast paths for these three; anything else (CMYK, NRGBA
	// from lossless WebP) would go pixel by pixel through color.Color.
	switch img.(type) {
	case *image.YCbCr, *image.RGBA, *image.Gray:
	default:
		b := img.Bounds()
		rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
		img = rgba
	}
	return jpeg.Encode(w, img, &jpeg.Options{Quality: quality})
}

func encodePNG(w io.Writer, img image.Image) error {
	return (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(w, img)
}

// store writes the thumbnail and then the image, each atomically, so that
// a name that can be seen always has its thumbnail.
func (l *Library) store(out *rendition) (Info, error) {
	id, err := newID()
	if err != nil {
		return Info{}, err
	}
	thumbExt := ".thumb.jpg"
	encodeThumb := func(w io.Writer) error { return encodeJPEG(w, out.thumb, thumbQuality) }
	if !opaque(out.thumb) {
		thumbExt = ".thumb.png"
		encodeThumb = func(w io.Writer) error { return encodePNG(w, out.thumb) }
	}
	info := Info{
		Name:        id + out.ext,
		ContentType: out.contentType,
		Width:       out.width,
		Height:      out.height,
		ThumbName:   id + thumbExt,
	}
	if _, err := l.writeFile(info.ThumbName, encodeThumb); err != nil {
		return Info{}, err
	}
	info.Bytes, err = l.writeFile(info.Name, out.encode)
	if err == nil {
		// The renames are durable only once the directory is.
		if err = fsutil.SyncDir(l.dir); err != nil {
			err = fmt.Errorf("media: syncing directory: %w", err)
		}
	}
	if err != nil {
		os.Remove(filepath.Join(l.dir, info.Name))
		os.Remove(filepath.Join(l.dir, info.ThumbName))
		return Info{}, err
	}
	return info, nil
}

// writeFile writes name through a temporary file in the same directory
// (mode 0600 from os.CreateTemp), synced and closed before the rename, and
// removes the temporary file on any failure. It returns the size written.
func (l *Library) writeFile(name string, encode func(io.Writer) error) (n int64, err error) {
	tmp, err := os.CreateTemp(l.dir, tempPattern)
	if err != nil {
		return 0, fmt.Errorf("media: %w", err)
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				tmp.Close()
			}
			os.Remove(tmp.Name())
			err = fmt.Errorf("media: writing %s: %w", name, err)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 64<<10)
	cw := &countingWriter{w: bw}
	if err = encode(cw); err != nil {
		return 0, err
	}
	if err = bw.Flush(); err != nil {
		return 0, err
	}
	if err = tmp.Sync(); err != nil {
		return 0, err
	}
	closed = true
	if err = tmp.Close(); err != nil {
		return 0, err
	}
	if err = os.Rename(tmp.Name(), filepath.Join(l.dir, name)); err != nil {
		return 0, err
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var idEncoding = base32.NewEncoding(base32Alphabet).WithPadding(base32.NoPadding)

// newID returns 128 random bits as 26 lowercase base32 characters.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("media: %w", err)
	}
	return idEncoding.EncodeToString(b[:]), nil
}

// copyLimited copies r into dst through one fixed buffer until r ends,
// and returns how many bytes it copied; it never asks r for more than
// limit+1 bytes, one past the limit being enough to know the upload is too
// large. Errors from r are returned unwrapped.
func copyLimited(dst io.Writer, r io.Reader, limit int64) (int64, error) {
	buf := make([]byte, receiveBuffer)
	var n int64
	for n <= limit {
		m, err := r.Read(buf[:min(int64(len(buf)), limit+1-n)])
		if m > 0 {
			if _, werr := dst.Write(buf[:m]); werr != nil {
				return n, fmt.Errorf("media: receiving upload: %w", werr)
			}
			n += int64(m)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if n > limit {
		return n, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	return n, nil
}
