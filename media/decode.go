package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// format is an image format recognised by its magic bytes.
type format int

const (
	formatJPEG format = iota + 1
	formatPNG
	formatGIF
	formatWebP
)

func (f format) String() string {
	return [...]string{"unknown", "jpeg", "png", "gif", "webp"}[f]
}

// sniff names the format that data claims to be by its first bytes. The
// claim is only believed once a decoder has read the whole image.
func sniff(data []byte) (format, bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return formatJPEG, true
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return formatPNG, true
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return formatGIF, true
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return formatWebP, true
	}
	return 0, false
}

// checkHeader reads only the image header (each format's DecodeConfig,
// called directly rather than through image.DecodeConfig so that nothing
// depends on which decoders some other package registered) and refuses the
// image before any pixel memory is allocated for it.
func (l *Library) checkHeader(f format, data *io.SectionReader) error {
	var (
		cfg image.Config
		err error
	)
	r := readFrom(data)
	switch f {
	case formatJPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case formatPNG:
		cfg, err = png.DecodeConfig(r)
	case formatGIF:
		cfg, err = gif.DecodeConfig(r)
	case formatWebP:
		cfg, err = webp.DecodeConfig(r)
	}
	if err != nil {
		return fmt.Errorf("%w: %v header: %v", ErrUnsupported, f, err)
	}
	// A GIF's block structure is checked first, so that a file which only
	// starts like a GIF is called what it is rather than too large.
	var frames int
	var framePixels int64
	if f == formatGIF {
		if frames, framePixels, err = scanGIF(readFrom(data)); err != nil {
			return fmt.Errorf("%w: gif: %v", ErrUnsupported, err)
		}
	}
	w, h := cfg.Width, cfg.Height
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: %v of %d×%d", ErrUnsupported, f, w, h)
	}
	pixels := int64(w) * int64(h)
	if w > maxInputSide || h > maxInputSide || pixels > l.opts.MaxPixels {
		return fmt.Errorf("%w: %v of %d×%d", ErrTooManyPixels, f, w, h)
	}
	// Some images cost more per pixel than others: a 16-bit PNG decodes to
	// 8 bytes a pixel, a progressive JPEG keeps every DCT coefficient until
	// its last scan. The budget in bytes is that of MaxPixels at 4 bytes.
	bpp := bytesPerPixel(cfg.ColorModel)
	if f == formatJPEG {
		bpp = max(bpp, jpegBytesPerPixel(readFrom(data)))
	}
	if float64(pixels)*bpp > 4*float64(l.opts.MaxPixels) {
		return fmt.Errorf("%w: %v of %d×%d at %.1f bytes a pixel", ErrTooManyPixels, f, w, h, bpp)
	}
	if f == formatGIF {
		// Every frame is a separate allocation, which DecodeConfig does not
		// see: a small file can ask for thousands of them. Scaling an
		// animation would mean compositing and re-quantising every frame,
		// so GIFs beyond MaxSide are refused rather than scaled; they are
		// rare, and a still that large is better sent as PNG or JPEG.
		if frames > maxGIFFrames || framePixels > l.opts.MaxPixels {
			return fmt.Errorf("%w: gif of %d frames, %d pixels", ErrTooManyPixels, frames, framePixels)
		}
		if w > l.opts.MaxSide || h > l.opts.MaxSide {
			return fmt.Errorf("%w: gif of %d×%d is over the %d limit", ErrTooManyPixels, w, h, l.opts.MaxSide)
		}
	}
	return nil
}

// bytesPerPixel is what the decoders allocate per pixel for a colour
// model, rounded up (4:2:0 YCbCr takes 1.5 and counts as 4).
func bytesPerPixel(m color.Model) float64 {
	switch m {
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	case color.Gray16Model:
		return 2
	case color.GrayModel:
		return 1
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4
}

// jpegBytesPerPixel is what image/jpeg allocates per pixel for a
// progressive JPEG: the image, plus a 64×int32 block of coefficients for
// every 8×8 block of every component, 4 bytes per sample. Components may be
// subsampled, so the samples per pixel come from the frame header's
// sampling factors. For a baseline JPEG it returns 0 (the colour model
// covers it).
func jpegBytesPerPixel(r *bufio.Reader) float64 {
	var bpp float64
	walkJPEG(r, func(marker byte, p []byte) bool {
		// SOF2 is progressive Huffman, SOF6/SOF10/SOF14 the others image/jpeg
		// refuses anyway; SOF0/SOF1 are sequential.
		if marker != 0xc2 {
			return marker < 0xc0 || marker > 0xcf || marker == 0xc4 || marker == 0xc8 || marker == 0xcc
		}
		if len(p) < 6 || len(p) < 6+3*int(p[5]) {
			return false
		}
		var hmax, vmax, sum int
		for i := range int(p[5]) {
			hv := p[6+3*i+1]
			h, v := int(hv>>4), int(hv&15)
			hmax, vmax, sum = max(hmax, h), max(vmax, v), sum+h*v
		}
		if hmax > 0 && vmax > 0 {
			bpp = 5 * float64(sum) / float64(hmax*vmax)
		}
		return false
	})
	return bpp
}

var errGIFStructure = errors.New("broken block structure")

// scanGIF walks the GIF block structure (GIF89a spec, sections 17–27)
// without decompressing anything, counting image descriptors and adding up
// their areas. It stops at the trailer, which gif.DecodeAll requires too.
func scanGIF(r *bufio.Reader) (frames int, pixels int64, err error) {
	var header [13]byte // signature, logical screen descriptor
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return 0, 0, errGIFStructure
	}
	if header[10]&0x80 != 0 {
		if _, err := r.Discard(3 << (header[10]&7 + 1)); err != nil { // global colour table
			return 0, 0, errGIFStructure
		}
	}
	for {
		block, err := r.ReadByte()
		if err != nil {
			return 0, 0, errGIFStructure
		}
		switch block {
		case 0x21: // extension: introducer, label, data sub-blocks
			if _, err := r.Discard(1); err != nil {
				return 0, 0, errGIFStructure
			}
			if err := skipSubBlocks(r); err != nil {
				return 0, 0, err
			}
		case 0x2c: // image descriptor: 10 bytes, colour table, LZW size, sub-blocks
			var d [9]byte
			if _, err := io.ReadFull(r, d[:]); err != nil {
				return 0, 0, errGIFStructure
			}
			w := int64(binary.LittleEndian.Uint16(d[4:]))
			h := int64(binary.LittleEndian.Uint16(d[6:]))
			skip := 1 // LZW minimum code size
			if packed := d[8]; packed&0x80 != 0 {
				skip += 3 << (packed&7 + 1)
			}
			if _, err := r.Discard(skip); err != nil {
				return 0, 0, errGIFStructure
			}
			if err := skipSubBlocks(r); err != nil {
				return 0, 0, err
			}
			frames++
			pixels += w * h
		case 0x3b:
			return frames, pixels, nil
		default:
			return 0, 0, errGIFStructure
		}
	}
}

// skipSubBlocks reads past a chain of length-prefixed sub-blocks and its
// zero-length terminator.
func skipSubBlocks(r *bufio.Reader) error {
	for {
		n, err := r.ReadByte()
		if err != nil {
			return errGIFStructure
		}
		if n == 0 {
			return nil
		}
		if _, err := r.Discard(int(n)); err != nil {
			return errGIFStructure
		}
	}
}

// decodeStill decodes a JPEG, PNG or WebP whose header has passed
// checkHeader. Any failure — truncation, corrupt data, a WebP feature the
// decoder lacks such as animation — means the upload is not an image we
// can store.
func decodeStill(f format, r io.Reader) (image.Image, error) {
	var (
		img image.Image
		err error
	)
	switch f {
	case formatJPEG:
		img, err = jpeg.Decode(r)
	case formatPNG:
		img, err = png.Decode(r)
	case formatWebP:
		img, err = webp.Decode(r)
	default:
		return nil, fmt.Errorf("%w: %v is not a still format", ErrUnsupported, f)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %v", ErrUnsupported, f, err)
	}
	return img, nil
}
