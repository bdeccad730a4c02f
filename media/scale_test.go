package media

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

	xdraw "golang.org/x/image/draw"
)

func TestFitSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		w, h, side, wantW, wantH int
	}{
		{806, 604, 512, 512, 384},
		{604, 806, 512, 384, 512},
		{1000, 1000, 480, 480, 480},
		{500, 400, 480, 480, 384},
		{480, 100, 480, 480, 100}, // fits: untouched
		{100, 50, 480, 100, 50},   // never scaled up
		{5000, 3, 480, 480, 1},    // a sliver keeps one row
	}
	for _, tt := range tests {
		src := image.NewRGBA(image.Rect(0, 0, tt.w, tt.h))
		got := fit(src, tt.side, 1).Bounds()
		if got.Dx() != tt.wantW || got.Dy() != tt.wantH {
			t.Errorf("fit(%d×%d, %d) = %v, want %d×%d", tt.w, tt.h, tt.side, got, tt.wantW, tt.wantH)
		}
	}
}

// A flat colour stays exactly that colour everywhere, edges included: the
// weights sum to one wherever the kernel is cut off.
func TestResampleKeepsFlatColour(t *testing.T) {
	t.Parallel()
	c := color.RGBA{200, 100, 50, 255}
	half := color.RGBA{60, 30, 0, 128} // premultiplied
	for _, want := range []color.RGBA{c, half} {
		src := image.NewRGBA(image.Rect(0, 0, 301, 97))
		for i := 0; i < len(src.Pix); i += 4 {
			copy(src.Pix[i:], []uint8{want.R, want.G, want.B, want.A})
		}
		for _, size := range []image.Point{{150, 48}, {100, 32}, {7, 3}, {1, 1}, {300, 97}} {
			dst := resampleRGBA(src, size.X, size.Y, 1)
			for i := 0; i < len(dst.Pix); i += 4 {
				if got := (color.RGBA{dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3]}); got != want {
					t.Fatalf("%v: pixel %d is %v, want %v", size, i/4, got, want)
				}
			}
		}
	}
}

// Turning while scaling gives exactly what scaling and then turning gives.
func TestFitTurnsAsItScales(t *testing.T) {
	t.Parallel()
	ycc := image.NewYCbCr(image.Rect(0, 0, 97, 61), image.YCbCrSubsampleRatio420)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range ycc.Y {
		ycc.Y[i] = uint8(rng.Uint32())
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(rng.Uint32()), uint8(rng.Uint32())
	}
	nrgba := image.NewNRGBA(ycc.Rect)
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(rng.Uint32())
	}
	for name, src := range map[string]image.Image{"YCbCr": ycc, "NRGBA": nrgba} {
		for o := 1; o <= 8; o++ {
			got := fit(src, 40, o)
			want := orient(fit(src, 40, 1), o)
			if got.Bounds() != want.Bounds() {
				t.Fatalf("%s %d: bounds %v, want %v", name, o, got.Bounds(), want.Bounds())
			}
			for y := range want.Bounds().Dy() {
				for x := range want.Bounds().Dx() {
					if g, w := got.At(x, y), want.At(x, y); g != w {
						t.Fatalf("%s %d: (%d,%d) is %v, want %v", name, o, x, y, g, w)
					}
				}
			}
		}
	}
}

// The YCbCr path filters each plane at its own resolution; a flat colour
// must survive it, odd sizes and subsampled chroma included.
func TestFitYCbCrKeepsFlatColour(t *testing.T) {
	t.Parallel()
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio444,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		src := image.NewYCbCr(image.Rect(0, 0, 333, 201), ratio)
		for i := range src.Y {
			src.Y[i] = 150
		}
		for i := range src.Cb {
			src.Cb[i], src.Cr[i] = 90, 170
		}
		got := fit(src, 100, 1)
		dst, ok := got.(*image.YCbCr)
		if !ok || dst.Rect != image.Rect(0, 0, 100, 60) {
			t.Fatalf("%v: got %T %v", ratio, got, got.Bounds())
		}
		for i := range dst.Y {
			if dst.Y[i] != 150 || dst.Cb[i] != 90 || dst.Cr[i] != 170 {
				t.Fatalf("%v: pixel %d is %d,%d,%d", ratio, i, dst.Y[i], dst.Cb[i], dst.Cr[i])
			}
		}
	}
}

// One-pixel stripes are detail below what the smaller image can show:
// they must average to grey, not turn into coarse bands (moiré), which is
// what a 2×2-sampling scaler makes of them.
func TestResampleDoesNotAlias(t *testing.T) {
	t.Parallel()
	src := image.NewGray(image.Rect(0, 0, 403, 302))
	for y := range 302 {
		for x := range 403 {
			src.Pix[y*src.Stride+x] = uint8(255 * ((x + y) % 2))
		}
	}
	spread := func(img *image.RGBA) (lo, hi uint8) {
		lo = 255
		for i := 0; i < len(img.Pix); i += 4 {
			lo, hi = min(lo, img.Pix[i]), max(hi, img.Pix[i])
		}
		return lo, hi
	}
	dst := resampleRGBA(src, 256, 192, 1)
	if lo, hi := spread(dst); lo < 100 || hi > 155 {
		t.Errorf("stripes came out between %d and %d, want grey", lo, hi)
	}
	approx := image.NewRGBA(image.Rect(0, 0, 256, 192))
	xdraw.ApproxBiLinear.Scale(approx, approx.Rect, src, src.Bounds(), xdraw.Src, nil)
	if lo, hi := spread(approx); hi-lo < 100 {
		t.Logf("ApproxBiLinear spread only %d–%d; the comparison no longer shows aliasing", lo, hi)
	}
}

// Overshoot at a hard edge next to transparency must not produce colour
// brighter than its alpha, which would be an invalid premultiplied pixel.
func TestResampleStaysPremultiplied(t *testing.T) {
	t.Parallel()
	src := image.NewNRGBA(image.Rect(0, 0, 200, 200))
	for y := range 200 {
		for x := range 200 {
			if (x/10+y/10)%2 == 0 {
				src.SetNRGBA(x, y, color.NRGBA{255, 255, 255, 255})
			}
		}
	}
	dst := resampleRGBA(src, 61, 61, 1)
	for i := 0; i < len(dst.Pix); i += 4 {
		a := dst.Pix[i+3]
		if dst.Pix[i] > a || dst.Pix[i+1] > a || dst.Pix[i+2] > a {
			t.Fatalf("pixel %d = %v is not premultiplied", i/4, dst.Pix[i:i+4])
		}
	}
}

// noisyPhoto is a 4032×3024 4:2:0 image such as image/jpeg returns for a
// phone photo; its content does not change what scaling costs.
func noisyPhoto() *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, 4032, 3024), image.YCbCrSubsampleRatio420)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Y {
		img.Y[i] = uint8(rng.Uint32())
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(rng.Uint32()), uint8(rng.Uint32())
	}
	return img
}

// BenchmarkFit compares this package's fit with the scalers of
// x/image/draw on the two reductions Save makes: a phone photo to MaxSide,
// and that to a thumbnail. B/op shows each one's working memory.
func BenchmarkFit(b *testing.B) {
	photo := noisyPhoto()
	stored := fit(photo, 2560, 1)
	for _, step := range []struct {
		name   string
		src    image.Image
		dw, dh int
	}{
		{"4032to2560", photo, 2560, 1920},
		{"2560to480", stored, 480, 360},
	} {
		b.Run(step.name+"/fit", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fit(step.src, max(step.dw, step.dh), 6)
			}
		})
		for _, sc := range []struct {
			name string
			s    xdraw.Scaler
		}{
			{"xdraw.CatmullRom", xdraw.CatmullRom},
			{"xdraw.ApproxBiLinear", xdraw.ApproxBiLinear},
		} {
			b.Run(step.name+"/"+sc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					dst := image.NewRGBA(image.Rect(0, 0, step.dw, step.dh))
					sc.s.Scale(dst, dst.Rect, step.src, step.src.Bounds(), xdraw.Src, nil)
				}
			})
		}
	}
}
