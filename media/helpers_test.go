package media_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"moments/internal/testutil"
	"moments/media"
)

// newLibrary opens a Library in a fresh temporary directory.
func newLibrary(t testing.TB, opts media.Options) *media.Library {
	t.Helper()
	lib, err := media.Open(filepath.Join(t.TempDir(), "media"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNoTemp(t, lib.Dir()) })
	return lib
}

// assertNoTemp fails if a temporary upload file is left in dir.
func assertNoTemp(t testing.TB, dir string) {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// paint makes a w×h image coloured by fn.
func paint(w, h int, fn func(x, y int) color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, fn(x, y))
		}
	}
	return img
}

// gradient is a smooth opaque picture, cheap to encode.
func gradient(x, y int) color.NRGBA {
	return color.NRGBA{uint8(x), uint8(y), uint8(x + y), 255}
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// phoneJPEG is a 4032×3024 JPEG of about 3 MB, like a 12-megapixel phone
// photo: smooth gradients under per-pixel noise, so the encoder cannot
// shrink it to nothing.
func phoneJPEG(t testing.TB) []byte {
	t.Helper()
	const w, h = 4032, 3024
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	rng := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			n := int(rng.Uint32()%27) - 13
			img.Y[y*img.YStride+x] = uint8(min(255, max(0, (x+y)*255/(w+h)+n)))
		}
	}
	for y := range h / 2 {
		for x := range w / 2 {
			i := y*img.CStride + x
			n := int(rng.Uint32()%7) - 3
			img.Cb[i] = uint8(64 + x*128/(w/2) + n)
			img.Cr[i] = uint8(192 - y*128/(h/2) + n)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withSegments returns a JPEG with extra marker segments placed right
// after SOI, where cameras put EXIF (APP1), XMP (APP1) and comments (COM).
func withSegments(jpg []byte, segments ...[]byte) []byte {
	out := append([]byte(nil), jpg[:2]...)
	for _, s := range segments {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

// segment builds one JPEG marker segment.
func segment(marker byte, payload []byte) []byte {
	s := []byte{0xff, marker, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
	return append(s, payload...)
}

// tiffEntry is one IFD entry; values longer than four bytes go in the data
// area after the IFD, as TIFF requires.
type tiffEntry struct {
	tag, typ uint16
	count    uint32
	value    []byte
}

const (
	tiffASCII    = 2
	tiffShort    = 3
	tiffLong     = 4
	tiffRational = 5
)

// ifd lays out one little-endian IFD starting at offset start of the TIFF
// structure, with its data area after it.
func ifd(start uint32, entries []tiffEntry) []byte {
	le := binary.LittleEndian
	head := make([]byte, 2+12*len(entries)+4)
	le.PutUint16(head, uint16(len(entries)))
	var data []byte
	dataStart := start + uint32(len(head))
	for i, e := range entries {
		p := head[2+12*i:]
		le.PutUint16(p, e.tag)
		le.PutUint16(p[2:], e.typ)
		le.PutUint32(p[4:], e.count)
		if len(e.value) <= 4 {
			copy(p[8:12], e.value)
			continue
		}
		le.PutUint32(p[8:], dataStart+uint32(len(data)))
		data = append(data, e.value...)
		if len(data)%2 == 1 {
			data = append(data, 0) // values start on word boundaries
		}
	}
	return append(head, data...)
}

func u16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func rationals(vs ...[2]uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v[0])
		b = binary.LittleEndian.AppendUint32(b, v[1])
	}
	return b
}

// secretPlace appears in the test EXIF and must never reach a stored file.
const secretPlace = "Rue du Secret 12, Lyon"

// exifAPP1 builds an APP1 segment with EXIF: IFD0 holding Orientation (if
// orientation > 0), an ImageDescription, and a GPS IFD with latitude and
// longitude.
func exifAPP1(orientation uint16) []byte {
	gps := func(start uint32) []byte {
		return ifd(start, []tiffEntry{
			{0x0001, tiffASCII, 2, []byte("N\x00")},
			{0x0002, tiffRational, 3, rationals([2]uint32{45, 1}, [2]uint32{45, 1}, [2]uint32{3600, 100})},
			{0x0003, tiffASCII, 2, []byte("E\x00")},
			{0x0004, tiffRational, 3, rationals([2]uint32{4, 1}, [2]uint32{50, 1}, [2]uint32{1200, 100})},
		})
	}
	ifd0 := func(gpsOffset uint32) []byte {
		var entries []tiffEntry
		desc := []byte(secretPlace + "\x00")
		entries = append(entries, tiffEntry{0x010e, tiffASCII, uint32(len(desc)), desc})
		if orientation > 0 {
			entries = append(entries, tiffEntry{0x0112, tiffShort, 1, u16(orientation)})
		}
		entries = append(entries, tiffEntry{0x8825, tiffLong, 1, u32(gpsOffset)})
		return ifd(8, entries)
	}
	gpsOffset := 8 + uint32(len(ifd0(0)))
	tiff := append([]byte("II*\x00"), u32(8)...)
	tiff = append(tiff, ifd0(gpsOffset)...)
	tiff = append(tiff, gps(gpsOffset)...)
	return segment(0xe1, append([]byte("Exif\x00\x00"), tiff...))
}

// pngChunks lists the chunk types of a PNG.
func pngChunks(t testing.TB, b []byte) []string {
	t.Helper()
	var types []string
	for p := 8; p+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[p:]))
		types = append(types, string(b[p+4:p+8]))
		p += 12 + n
	}
	return types
}

// pngChunk builds one PNG chunk with a correct CRC.
func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// pngClaiming is a well-formed PNG whose IHDR claims w×h RGBA pixels of
// the given bit depth,
// followed by a few bytes of real compressed data and IEND: everything a
// decoder checks before it allocates the image is valid.
func pngClaiming(w, h uint32, depth byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, depth, 6, 0, 0, 0) // RGBA, deflate, no interlace
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 4096))
	zw.Close()
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", z.Bytes())...)
	return append(b, pngChunk("IEND", nil)...)
}

// jpegClaiming is a JPEG header (SOI, JFIF APP0, SOF) claiming w×h
// pixels, baseline (sof 0xc0) or progressive (0xc2), with the luma
// sampling factors given (0x22 for 4:2:0, 0x11 for 4:4:4).
func jpegClaiming(w, h uint16, sof, luma byte) []byte {
	jfif := []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
	frame := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3,
		1, luma, 0, 2, 0x11, 1, 3, 0x11, 1}
	b := append([]byte{0xff, 0xd8}, segment(0xe0, jfif)...)
	return append(b, segment(sof, frame)...)
}

// webpClaiming is an extended-format WebP header claiming w×h pixels.
func webpClaiming(w, h uint32) []byte {
	vp8x := []byte{0, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16),
		byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	body := append([]byte("WEBPVP8X"), u32(uint32(len(vp8x)))...)
	body = append(body, vp8x...)
	return append(append([]byte("RIFF"), u32(uint32(len(body)))...), body...)
}

// countingReader yields an endless upload that starts like a JPEG and
// counts what was read from it.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0
	}
	if c.n == 0 && len(p) >= 3 {
		copy(p, "\xff\xd8\xff")
	}
	c.n += int64(len(p))
	return len(p), nil
}

// readStored returns the bytes of a stored file.
func readStored(t testing.TB, lib *media.Library, name string, thumb bool) ([]byte, string) {
	t.Helper()
	f, ctype, err := lib.Open(name, thumb)
	if err != nil {
		t.Fatalf("Open(%q, %v): %v", name, thumb, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b, ctype
}

// fileMode is the permission bits of a file.
func fileMode(t testing.TB, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// WebP fixtures, made with libwebp's cwebp 1.2.4 (Debian package "webp")
// from PNGs drawn with image/png:
//
//	cwebp -q 60 -m 6 -metadata none opaque.png -o opaque.webp
//	cwebp -lossless -exact -metadata none alpha.png -o alpha.webp
//
// webpLossy is 64×48, red on the left half and blue on the right (VP8).
// webpLosslessAlpha is 32×24, opaque green on the left half and fully
// transparent on the right (VP8L).
var (
	webpLossy = []byte{
		0x52, 0x49, 0x46, 0x46, 0x62, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x20,
		0x56, 0x00, 0x00, 0x00, 0x50, 0x04, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x00, 0x30, 0x00, 0x3e, 0xb5,
		0x56, 0xa4, 0x4d, 0x27, 0x24, 0xa3, 0xa2, 0x2a, 0xb8, 0x08, 0x00, 0xe0, 0x16, 0x89, 0x63, 0x00,
		0xcb, 0x1e, 0x90, 0x7e, 0x24, 0x80, 0x2b, 0xa3, 0xa6, 0xcf, 0xa5, 0xb4, 0x6c, 0x71, 0x60, 0x00,
		0xfe, 0xeb, 0xde, 0x2f, 0xae, 0xd6, 0xaf, 0xab, 0x5b, 0xff, 0xe5, 0x9f, 0x88, 0x29, 0x47, 0x95,
		0x5e, 0x5e, 0x47, 0xbd, 0xf1, 0xc8, 0x38, 0x42, 0x5f, 0xc2, 0xec, 0x3a, 0xa4, 0xea, 0xc6, 0x75,
		0x19, 0xe6, 0xad, 0xc3, 0x0f, 0x07, 0xdf, 0xc8, 0x50, 0x00,
	}
	webpLosslessAlpha = []byte{
		0x52, 0x49, 0x46, 0x46, 0x24, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c,
		0x18, 0x00, 0x00, 0x00, 0x2f, 0x1f, 0xc0, 0x05, 0x10, 0x0f, 0x30, 0xa0, 0x11, 0xf3, 0x1f, 0x0c,
		0x81, 0x40, 0x92, 0xbf, 0xf4, 0x02, 0x03, 0x44, 0xf4, 0x3f, 0x8a, 0x37,
	}
)

// jpegMarkers is testutil.JPEGMarkers, failing the test for a non-JPEG.
func jpegMarkers(t testing.TB, b []byte) []byte {
	t.Helper()
	m, err := testutil.JPEGMarkers(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
