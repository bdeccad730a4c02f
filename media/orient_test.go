package media

import (
	"bufio"
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"io"
	"testing"
)

// Every pixel of every supported image type lands where the EXIF
// orientation says it is displayed, written out here independently of
// rotate's coefficients.
func TestOrientMovesEveryPixel(t *testing.T) {
	t.Parallel()
	const w, h = 7, 4
	display := func(o, sx, sy int) (int, int) {
		switch o {
		case 2:
			return w - 1 - sx, sy
		case 3:
			return w - 1 - sx, h - 1 - sy
		case 4:
			return sx, h - 1 - sy
		case 5:
			return sy, sx
		case 6:
			return h - 1 - sy, sx
		case 7:
			return h - 1 - sy, w - 1 - sx
		case 8:
			return sy, w - 1 - sx
		}
		return sx, sy
	}
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 3)
	}
	for i := 3; i < len(rgba.Pix); i += 4 {
		rgba.Pix[i] = 255
	}
	ycc := image.NewYCbCr(rgba.Rect, image.YCbCrSubsampleRatio444)
	for i := range ycc.Y {
		ycc.Y[i], ycc.Cb[i], ycc.Cr[i] = uint8(i*9), uint8(200-i), uint8(i*5)
	}
	gray := image.NewGray(rgba.Rect)
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	nrgba := image.NewNRGBA(rgba.Rect)
	draw.Draw(nrgba, nrgba.Rect, rgba, image.Point{}, draw.Src)
	ycc420 := image.NewYCbCr(rgba.Rect, image.YCbCrSubsampleRatio420)
	for i := range ycc420.Y {
		ycc420.Y[i] = uint8(i * 9)
	}

	for name, src := range map[string]image.Image{"RGBA": rgba, "YCbCr444": ycc, "Gray": gray, "NRGBA": nrgba, "YCbCr420": ycc420} {
		for o := 1; o <= 8; o++ {
			out := orient(src, o)
			wantW, wantH := w, h
			if o >= 5 {
				wantW, wantH = h, w
			}
			if b := out.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
				t.Fatalf("%s %d: bounds %v", name, o, b)
			}
			for sy := range h {
				for sx := range w {
					dx, dy := display(o, sx, sy)
					want := color.RGBAModel.Convert(src.At(sx, sy))
					if got := color.RGBAModel.Convert(out.At(dx, dy)); got != want {
						t.Fatalf("%s orientation %d: (%d,%d) shows %v, want %v from (%d,%d)", name, o, dx, dy, got, want, sx, sy)
					}
				}
			}
		}
	}
}

// Reading the orientation reads the header and stops at the start of
// scan, however much image data follows.
func TestExifSegmentReadsOnlyTheHeader(t *testing.T) {
	t.Parallel()
	exif := []byte("Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	header := []byte{0xff, 0xd8, 0xff, 0xe1, 0, byte(len(exif) + 2)}
	header = append(header, exif...)
	header = append(header, 0xff, 0xda, 0, 2)
	src := &io.LimitedReader{R: io.MultiReader(bytes.NewReader(header), zeros{}), N: 64 << 20}
	if got := exifSegment(bufio.NewReader(src)); !bytes.Equal(got, exif) {
		t.Errorf("got % x, want % x", got, exif)
	}
	if read := 64<<20 - src.N; read > 64<<10 {
		t.Errorf("read %d bytes of a %d-byte header", read, len(header))
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
