package media

import (
	"image"
	"image/draw"
	"math"
)

// fit scales src down so that its long side is at most side, keeping the
// aspect ratio, and turns it upright according to an EXIF orientation (1
// for none). Turning while writing the scaled rows saves a second
// full-size image. A YCbCr image (what JPEG and lossy WebP decode to)
// comes out as 4:4:4 YCbCr, anything else as RGBA; an image that needs
// neither scaling nor turning is returned as it is.
func fit(src image.Image, side, orientation int) image.Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= side && h <= side {
		return orient(src, orientation)
	}
	dw, dh := side, max(1, (h*side+w/2)/w)
	if h > w {
		dw, dh = max(1, (w*side+h/2)/h), side
	}
	if y, ok := src.(*image.YCbCr); ok && b.Min == (image.Point{}) {
		return resampleYCbCr(y, dw, dh, orientation)
	}
	return resampleRGBA(src, dw, dh, orientation)
}

// Scaling is a separable Catmull-Rom filter widened by the reduction
// factor, so that every source pixel contributes and fine detail averages
// out instead of aliasing. It is written here because x/image/draw offered
// no good fit (see BenchmarkFit): its CatmullRom scaler filters the same
// way but keeps a float64 buffer of dw×srcHeight×4 — about 250 MB for a
// 12-megapixel photo — and took over a second; its ApproxBiLinear is fast
// but samples a 2×2 neighbourhood, which aliases at every reduction,
// including the common 4032 → 2560. The version here streams: each source
// row is filtered horizontally once, into a ring of as many rows as the
// vertical filter spans, so beyond the destination it holds a few rows.

// resampleYCbCr scales the three planes separately: YCbCr is a linear
// transform of RGB, so filtering commutes with it, and the subsampled
// chroma planes cost a quarter as much to filter as RGBA would, with no
// colour conversion at all (image/jpeg encodes YCbCr as it is).
func resampleYCbCr(src *image.YCbCr, dw, dh, orientation int) *image.YCbCr {
	dst := image.NewYCbCr(uprightRect(dw, dh, orientation), image.YCbCrSubsampleRatio444)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	cw, ch := chromaSize(src)
	planes := []struct {
		from, to       []uint8
		stride, pw, ph int
	}{
		{src.Y, dst.Y, src.YStride, w, h},
		{src.Cb, dst.Cb, src.CStride, cw, ch},
		{src.Cr, dst.Cr, src.CStride, cw, ch},
	}
	line := make([]uint8, dw)
	for _, p := range planes {
		resample(p.pw, p.ph, 1, func(y int) []uint8 {
			return p.from[y*p.stride : y*p.stride+p.pw]
		}, dw, dh, func(y int, acc []float32) {
			for i, v := range acc[:len(line)] {
				line[i] = clamp8(v, 255)
			}
			place(p.to, dst.YStride, line, y, dw, dh, 1, orientation)
		})
	}
	return dst
}

// chromaSize is the size of the Cb and Cr planes of src.
func chromaSize(src *image.YCbCr) (w, h int) {
	w, h = src.Rect.Dx(), src.Rect.Dy()
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// resampleRGBA scales any other image, row by row converted to
// premultiplied RGBA by image/draw (which has fast paths for what the
// decoders return).
func resampleRGBA(src image.Image, dw, dh, orientation int) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(uprightRect(dw, dh, orientation))
	line := image.NewRGBA(image.Rect(0, 0, b.Dx(), 1))
	out := make([]uint8, 4*dw)
	resample(b.Dx(), b.Dy(), 4, func(y int) []uint8 {
		draw.Draw(line, line.Rect, src, image.Pt(b.Min.X, b.Min.Y+y), draw.Src)
		return line.Pix
	}, dw, dh, func(y int, acc []float32) {
		acc = acc[:len(out)]
		for i := 0; i+3 < len(out); i += 4 {
			// Catmull-Rom overshoots at edges; keep the result a valid
			// premultiplied colour (no channel above alpha).
			a := clamp8(acc[i+3], 255)
			out[i+0] = clamp8(acc[i+0], a)
			out[i+1] = clamp8(acc[i+1], a)
			out[i+2] = clamp8(acc[i+2], a)
			out[i+3] = a
		}
		place(dst.Pix, dst.Stride, out, y, dw, dh, 4, orientation)
	})
	return dst
}

// resample filters a w×h image of n interleaved 8-bit channels (n is 1 or
// 4), whose rows row returns in order, down to dw×dh. put receives each
// destination row, n·dw floats on the 0–255 scale, to keep before the
// buffer is reused.
func resample(w, h, n int, row func(y int) []uint8, dw, dh int, put func(y int, acc []float32)) {
	xs := newFilter(w, dw)
	ys := newFilter(h, dh)
	ring := make([][]float32, ys.taps)
	for i := range ring {
		ring[i] = make([]float32, n*dw)
	}
	acc := make([]float32, n*dw)
	next := 0 // next source row to filter into the ring
	for y := range dh {
		lo, count := ys.span(y)
		for ; next < lo+count; next++ {
			xs.apply(ring[next%len(ring)], row(next), n)
		}
		clear(acc)
		for j, wt := range ys.weights(y) {
			r := ring[(lo+j)%len(ring)][:len(acc)]
			for i, v := range r {
				acc[i] += wt * v
			}
		}
		put(y, acc)
	}
}

func clamp8(v float32, limit uint8) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= float32(limit) {
		return limit
	}
	return uint8(v + 0.5)
}

// filter holds, for each destination coordinate along one axis, the first
// source coordinate it reads and the weights of the source coordinates
// from there on, normalised to sum to one.
type filter struct {
	taps  int       // the most weights any coordinate has
	lo    []int     // first source coordinate, per destination coordinate
	count []int     // how many weights it has
	w     []float32 // weights, taps per destination coordinate
}

func newFilter(srcLen, dstLen int) *filter {
	scale := max(1, float64(srcLen)/float64(dstLen))
	radius := 2 * scale // Catmull-Rom has a support of 2, widened when shrinking
	taps := int(math.Ceil(2*radius)) + 1
	f := &filter{
		taps:  taps,
		lo:    make([]int, dstLen),
		count: make([]int, dstLen),
		w:     make([]float32, taps*dstLen),
	}
	for d := range dstLen {
		center := (float64(d)+0.5)*float64(srcLen)/float64(dstLen) - 0.5
		lo := max(0, int(math.Ceil(center-radius)))
		hi := min(srcLen-1, int(math.Floor(center+radius)), lo+taps-1)
		ws := f.w[d*taps : d*taps+hi-lo+1]
		var sum float64
		for i := range ws {
			k := catmullRom((float64(lo+i) - center) / scale)
			ws[i] = float32(k)
			sum += k
		}
		// Renormalising makes the edges, where part of the kernel falls
		// outside the image, keep their brightness.
		for i := range ws {
			ws[i] = float32(float64(ws[i]) / sum)
		}
		f.lo[d], f.count[d] = lo, len(ws)
	}
	return f
}

func (f *filter) span(d int) (lo, n int) { return f.lo[d], f.count[d] }

func (f *filter) weights(d int) []float32 { return f.w[d*f.taps : d*f.taps+f.count[d]] }

// apply filters one row of n interleaved channels into out, which has n
// floats per destination pixel.
func (f *filter) apply(out []float32, pix []uint8, n int) {
	if n == 1 {
		for d, lo := range f.lo {
			ws := f.weights(d)
			src := pix[lo:][:len(ws)]
			var v float32
			for i, wt := range ws {
				v += wt * float32(src[i])
			}
			out[d] = v
		}
		return
	}
	for d, lo := range f.lo {
		src := pix[4*lo:]
		var r, g, b, a float32
		for i, wt := range f.weights(d) {
			p := src[4*i : 4*i+4 : 4*i+4]
			r += wt * float32(p[0])
			g += wt * float32(p[1])
			b += wt * float32(p[2])
			a += wt * float32(p[3])
		}
		o := out[4*d : 4*d+4 : 4*d+4]
		o[0], o[1], o[2], o[3] = r, g, b, a
	}
}

// catmullRom is the Catmull-Rom cubic (B=0, C=½ in Mitchell–Netravali
// terms), the kernel x/image/draw's CatmullRom uses too.
func catmullRom(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}
