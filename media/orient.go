package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"image"
	"image/draw"
	"io"

	"github.com/rwcarlsen/goexif/exif"
)

// jpegOrientation returns the EXIF Orientation (1–8) of a JPEG, or 1 when
// there is none or it cannot be read. Viewers rotate photos by this tag;
// since re-encoding drops it, the rotation has to be baked into the pixels.
func jpegOrientation(r *bufio.Reader) (orientation int) {
	seg := exifSegment(r)
	if seg == nil {
		return 1
	}
	// The EXIF block is attacker-controlled; a parser bug must cost the
	// rotation, not the process.
	defer func() {
		if recover() != nil {
			orientation = 1
		}
	}()
	// Decode returns a usable Exif alongside errors in optional sub-IFDs
	// (maker notes, interop), so only a nil result is fatal.
	x, _ := exif.Decode(bytes.NewReader(seg))
	if x == nil {
		return 1
	}
	tag, err := x.Get(exif.Orientation)
	if err != nil {
		return 1
	}
	o, err := tag.Int(0)
	if err != nil || o < 1 || o > 8 {
		return 1
	}
	return o
}

// exifSegment returns the payload of the first APP1 segment holding EXIF
// ("Exif\0\0" and a TIFF structure). Handing goexif only this segment,
// rather than the whole file, stops it from finding marker-like bytes
// inside other segments.
func exifSegment(r *bufio.Reader) []byte {
	var exif []byte
	walkJPEG(r, func(marker byte, payload []byte) bool {
		if marker == 0xe1 && bytes.HasPrefix(payload, []byte("Exif\x00\x00")) {
			exif = bytes.Clone(payload)
			return false
		}
		return true
	})
	return exif
}

// walkJPEG calls fn with each marker segment of a JPEG up to the first
// start of scan, where the header ends, until fn returns false. It reads
// one segment at a time, so it holds at most one segment (under 64 KiB)
// however large the file; payload is only valid during the call.
func walkJPEG(r *bufio.Reader, fn func(marker byte, payload []byte) bool) {
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return
	}
	var buf []byte
	for {
		if b, err := r.ReadByte(); err != nil || b != 0xff {
			return
		}
		marker, err := r.ReadByte()
		if err != nil {
			return
		}
		switch {
		case marker == 0xff: // fill byte: it may itself start the marker
			r.UnreadByte()
			continue
		case marker == 0xda, marker == 0xd9: // start of scan, end of image
			return
		case marker == 0x01, marker >= 0xd0 && marker <= 0xd7: // no length
			continue
		}
		var length [2]byte
		if _, err := io.ReadFull(r, length[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(length[:]))
		if n < 2 {
			return
		}
		if cap(buf) < n-2 {
			buf = make([]byte, n-2, 1<<16)
		}
		payload := buf[:n-2]
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		if !fn(marker, payload) {
			return
		}
	}
}

// orient returns src turned upright according to an EXIF orientation,
// for an image that fit did not need to scale (fit turns the ones it
// scales as it writes them). Planes are moved byte for byte: 4:4:4 YCbCr,
// RGBA and Gray directly, anything else after conversion to RGBA.
func orient(src image.Image, orientation int) image.Image {
	if orientation < 2 || orientation > 8 {
		return src
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dr := uprightRect(w, h, orientation)
	switch s := src.(type) {
	case *image.YCbCr:
		if s.SubsampleRatio == image.YCbCrSubsampleRatio444 && b.Min == (image.Point{}) {
			d := image.NewYCbCr(dr, image.YCbCrSubsampleRatio444)
			for y := range h {
				place(d.Y, d.YStride, s.Y[y*s.YStride:y*s.YStride+w], y, w, h, 1, orientation)
				place(d.Cb, d.CStride, s.Cb[y*s.CStride:y*s.CStride+w], y, w, h, 1, orientation)
				place(d.Cr, d.CStride, s.Cr[y*s.CStride:y*s.CStride+w], y, w, h, 1, orientation)
			}
			return d
		}
	case *image.Gray:
		if b.Min == (image.Point{}) {
			d := image.NewGray(dr)
			for y := range h {
				place(d.Pix, d.Stride, s.Pix[y*s.Stride:y*s.Stride+w], y, w, h, 1, orientation)
			}
			return d
		}
	}
	s, ok := src.(*image.RGBA)
	if !ok || b.Min != (image.Point{}) {
		s = image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(s, s.Rect, src, b.Min, draw.Src)
	}
	d := image.NewRGBA(dr)
	for y := range h {
		place(d.Pix, d.Stride, s.Pix[y*s.Stride:y*s.Stride+4*w], y, w, h, 4, orientation)
	}
	return d
}

// uprightRect is the bounds of a w×h image once turned: orientations 5–8
// swap width and height.
func uprightRect(w, h, orientation int) image.Rectangle {
	if orientation >= 5 && orientation <= 8 {
		return image.Rect(0, 0, h, w)
	}
	return image.Rect(0, 0, w, h)
}

// place copies row y of a w×h plane of bpp-byte pixels (bpp is 1 or 4)
// into dst where it is displayed: per the TIFF 6.0 / EXIF meaning of the
// orientation, the stored pixel (x, y) appears at (a·x + b·y + c,
// e·x + f·y + g).
func place(dst []uint8, dstStride int, row []uint8, y, w, h, bpp, orientation int) {
	a, b, c, e, f, g := 1, 0, 0, 0, 1, 0
	switch orientation {
	case 2: // mirrored left–right
		a, c = -1, w-1
	case 3: // turned 180°
		a, c, f, g = -1, w-1, -1, h-1
	case 4: // mirrored top–bottom
		f, g = -1, h-1
	case 5: // transposed
		a, b, e, f = 0, 1, 1, 0
	case 6: // needs a quarter turn clockwise
		a, b, c, e, f = 0, -1, h-1, 1, 0
	case 7: // transversed
		a, b, c, e, f, g = 0, -1, h-1, -1, 0, w-1
	case 8: // needs a quarter turn anticlockwise
		a, b, e, f, g = 0, 1, -1, 0, w-1
	}
	o := bpp*(b*y+c) + dstStride*(f*y+g)
	step := bpp*a + dstStride*e
	switch {
	case step == bpp:
		copy(dst[o:], row)
	case bpp == 1:
		for _, p := range row {
			dst[o] = p
			o += step
		}
	default:
		for x := 0; x+3 < len(row); x += 4 {
			d := dst[o : o+4 : o+4]
			d[0], d[1], d[2], d[3] = row[x], row[x+1], row[x+2], row[x+3]
			o += step
		}
	}
}
