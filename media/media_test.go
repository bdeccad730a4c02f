package media_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rwcarlsen/goexif/exif"

	"moments/media"
)

func TestSaveRoundTrip(t *testing.T) {
	t.Parallel()
	halfClear := paint(800, 600, func(x, y int) color.NRGBA {
		c := gradient(x, y)
		if x >= 400 {
			c.A = 0
		}
		return c
	})
	animated := &gif.GIF{LoopCount: 0}
	for i, c := range []color.Color{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 255, 0, 255}, color.RGBA{0, 0, 255, 255}} {
		frame := image.NewPaletted(image.Rect(0, 0, 600, 400), color.Palette{color.Black, c})
		for p := range frame.Pix {
			frame.Pix[p] = uint8((p / 7 % 2))
		}
		animated.Image = append(animated.Image, frame)
		animated.Delay = append(animated.Delay, 10*(i+1))
	}
	var gifBytes bytes.Buffer
	if err := gif.EncodeAll(&gifBytes, animated); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		opts        media.Options
		upload      []byte
		wantType    string
		wantExt     string
		wantW       int
		wantH       int
		wantThumbCT string
	}{
		{"JPEG", media.Options{}, encodeJPEG(t, paint(1000, 750, gradient)), "image/jpeg", ".jpg", 1000, 750, "image/jpeg"},
		{"JPEGScaledToMaxSide", media.Options{MaxSide: 500}, encodeJPEG(t, paint(600, 1000, gradient)), "image/jpeg", ".jpg", 300, 500, "image/jpeg"},
		{"PNGOpaque", media.Options{}, encodePNG(t, paint(700, 500, gradient)), "image/png", ".png", 700, 500, "image/jpeg"},
		{"PNGAlpha", media.Options{}, encodePNG(t, halfClear), "image/png", ".png", 800, 600, "image/png"},
		{"GIFAnimated", media.Options{}, gifBytes.Bytes(), "image/gif", ".gif", 600, 400, "image/jpeg"},
		{"WebPLossy", media.Options{ThumbSide: 16}, webpLossy, "image/jpeg", ".jpg", 64, 48, "image/jpeg"},
		{"WebPLosslessAlpha", media.Options{ThumbSide: 16}, webpLosslessAlpha, "image/png", ".png", 32, 24, "image/png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lib := newLibrary(t, tt.opts)
			info, err := lib.Save(context.Background(), bytes.NewReader(tt.upload))
			if err != nil {
				t.Fatal(err)
			}
			if info.ContentType != tt.wantType || info.Width != tt.wantW || info.Height != tt.wantH {
				t.Errorf("got %s %d×%d, want %s %d×%d", info.ContentType, info.Width, info.Height, tt.wantType, tt.wantW, tt.wantH)
			}
			if !media.ValidName(info.Name) || !strings.HasSuffix(info.Name, tt.wantExt) {
				t.Errorf("name %q: not valid or not %s", info.Name, tt.wantExt)
			}
			if !media.ValidName(info.ThumbName) || !lib.Exists(info.Name) || !lib.Exists(info.ThumbName) {
				t.Errorf("stored %q / %q not found", info.Name, info.ThumbName)
			}

			stored, ctype := readStored(t, lib, info.Name, false)
			if ctype != tt.wantType || int64(len(stored)) != info.Bytes {
				t.Errorf("Open: %s of %d bytes, Info says %s of %d", ctype, len(stored), tt.wantType, info.Bytes)
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(stored))
			if err != nil || "image/"+format != tt.wantType || cfg.Width != tt.wantW || cfg.Height != tt.wantH {
				t.Errorf("stored file is %s %d×%d (%v)", format, cfg.Width, cfg.Height, err)
			}

			thumb, thumbCT := readStored(t, lib, info.Name, true)
			if thumbCT != tt.wantThumbCT {
				t.Errorf("thumbnail is %s, want %s", thumbCT, tt.wantThumbCT)
			}
			byName, _ := readStored(t, lib, info.ThumbName, false)
			if !bytes.Equal(thumb, byName) {
				t.Error("Open(name, true) and Open(ThumbName, false) differ")
			}
			tcfg, _, err := image.DecodeConfig(bytes.NewReader(thumb))
			if err != nil {
				t.Fatal(err)
			}
			side := media.DefaultThumbSide
			if tt.opts.ThumbSide > 0 {
				side = tt.opts.ThumbSide
			}
			if max(tcfg.Width, tcfg.Height) != side || tcfg.Width >= info.Width {
				t.Errorf("thumbnail %d×%d: want long side %d, smaller than %d×%d", tcfg.Width, tcfg.Height, side, info.Width, info.Height)
			}
			if tcfg.Width*info.Height/info.Width-tcfg.Height > 1 {
				t.Errorf("thumbnail %d×%d lost the aspect ratio of %d×%d", tcfg.Width, tcfg.Height, info.Width, info.Height)
			}

			for _, name := range []string{info.Name, info.ThumbName} {
				if m := fileMode(t, filepath.Join(lib.Dir(), name)); m != 0o600 {
					t.Errorf("%s has mode %v", name, m)
				}
			}
		})
	}

	t.Run("GIFKeepsAnimation", func(t *testing.T) {
		t.Parallel()
		lib := newLibrary(t, media.Options{})
		info, err := lib.Save(context.Background(), bytes.NewReader(gifBytes.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := readStored(t, lib, info.Name, false)
		g, err := gif.DecodeAll(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Image) != 3 || g.LoopCount != 0 || g.Delay[0] != 10 || g.Delay[2] != 30 {
			t.Errorf("got %d frames, loop %d, delays %v", len(g.Image), g.LoopCount, g.Delay)
		}
	})

	t.Run("AlphaKept", func(t *testing.T) {
		t.Parallel()
		lib := newLibrary(t, media.Options{ThumbSide: 16})
		for _, upload := range [][]byte{encodePNG(t, halfClear), webpLosslessAlpha} {
			info, err := lib.Save(context.Background(), bytes.NewReader(upload))
			if err != nil {
				t.Fatal(err)
			}
			for _, thumb := range []bool{false, true} {
				b, _ := readStored(t, lib, info.Name, thumb)
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				r := img.Bounds()
				_, _, _, left := img.At(r.Dx()/8, r.Dy()/2).RGBA()
				_, _, _, right := img.At(r.Dx()*7/8, r.Dy()/2).RGBA()
				if left != 0xffff || right != 0 {
					t.Errorf("%s (thumb %v): alpha %#x on the left, %#x on the right", info.Name, thumb, left, right)
				}
			}
		}
	})
}

// A JPEG from a phone carries EXIF with GPS, XMP and comments; none of it
// may survive, and neither may PNG text or eXIf chunks.
func TestSaveStripsMetadata(t *testing.T) {
	t.Parallel()
	lib := newLibrary(t, media.Options{})

	xmp := segment(0xe1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><exif:GPSLatitude>45,45.6N</exif:GPSLatitude></x:xmpmeta>"))
	comment := segment(0xfe, []byte("taken at "+secretPlace))
	upload := withSegments(encodeJPEG(t, paint(640, 480, gradient)), exifAPP1(1), xmp, comment)

	// The fixture must really hold GPS a reader finds, or the test proves nothing.
	x, err := exif.Decode(bytes.NewReader(upload))
	if err != nil {
		t.Fatalf("fixture EXIF: %v", err)
	}
	if lat, long, err := x.LatLong(); err != nil || lat < 45.76 || lat > 45.77 || long < 4.83 || long > 4.84 {
		t.Fatalf("fixture GPS: %v, %v, %v", lat, long, err)
	}

	info, err := lib.Save(context.Background(), bytes.NewReader(upload))
	if err != nil {
		t.Fatal(err)
	}
	for _, thumb := range []bool{false, true} {
		b, _ := readStored(t, lib, info.Name, thumb)
		for _, m := range jpegMarkers(t, b) {
			if m >= 0xe0 && m <= 0xef || m == 0xfe {
				t.Errorf("thumb %v: marker %#x survived (markers % x)", thumb, m, jpegMarkers(t, b))
			}
		}
		for _, s := range []string{"Exif", "GPS", "xmpmeta", secretPlace, "II*\x00"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("thumb %v: %q found in the stored file", thumb, s)
			}
		}
	}

	t.Run("PNG", func(t *testing.T) {
		t.Parallel()
		plain := encodePNG(t, paint(64, 64, gradient))
		// Metadata chunks go after IHDR (8-byte signature, 25-byte IHDR).
		upload := append([]byte(nil), plain[:33]...)
		upload = append(upload, pngChunk("tEXt", []byte("Comment\x00"+secretPlace))...)
		upload = append(upload, pngChunk("eXIf", exifAPP1(1)[10:])...)
		upload = append(upload, plain[33:]...)
		info, err := lib.Save(context.Background(), bytes.NewReader(upload))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := readStored(t, lib, info.Name, false)
		for _, c := range pngChunks(t, b) {
			switch c {
			case "IHDR", "PLTE", "tRNS", "IDAT", "IEND":
			default:
				t.Errorf("chunk %s survived", c)
			}
		}
		if bytes.Contains(b, []byte(secretPlace)) {
			t.Error("text survived")
		}
	})
}

// A 300×200 photo with a red top-left corner, stored by the camera
// unrotated, with each EXIF orientation: the stored image must look the
// way a viewer following the tag would show it.
func TestSaveAppliesOrientation(t *testing.T) {
	t.Parallel()
	const w, h = 300, 200
	raw := encodeJPEG(t, paint(w, h, func(x, y int) color.NRGBA {
		if x < 60 && y < 60 {
			return color.NRGBA{230, 20, 20, 255}
		}
		return color.NRGBA{40, 60, 200, 255}
	}))
	type corner int
	const (
		topLeft corner = iota
		topRight
		bottomRight
		bottomLeft
	)
	tests := []struct {
		orientation uint16
		wantW       int
		wantH       int
		red         corner
	}{
		{1, w, h, topLeft},
		{2, w, h, topRight},
		{3, w, h, bottomRight},
		{4, w, h, bottomLeft},
		{5, h, w, topLeft},
		{6, h, w, topRight},
		{7, h, w, bottomRight},
		{8, h, w, bottomLeft},
	}
	lib := newLibrary(t, media.Options{ThumbSide: 150})
	for _, tt := range tests {
		t.Run(string(rune('0'+tt.orientation)), func(t *testing.T) {
			t.Parallel()
			info, err := lib.Save(context.Background(), bytes.NewReader(withSegments(raw, exifAPP1(tt.orientation))))
			if err != nil {
				t.Fatal(err)
			}
			if info.Width != tt.wantW || info.Height != tt.wantH {
				t.Errorf("stored %d×%d, want %d×%d", info.Width, info.Height, tt.wantW, tt.wantH)
			}
			for _, thumb := range []bool{false, true} {
				b, _ := readStored(t, lib, info.Name, thumb)
				img, err := jpeg.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				r := img.Bounds()
				if (r.Dx() > r.Dy()) != (tt.wantW > tt.wantH) {
					t.Errorf("thumb %v: %v has the wrong way up", thumb, r)
				}
				in := r.Dx() / 20 // well inside the 60-pixel block at any scale
				points := map[corner]image.Point{
					topLeft:     {in, in},
					topRight:    {r.Dx() - 1 - in, in},
					bottomRight: {r.Dx() - 1 - in, r.Dy() - 1 - in},
					bottomLeft:  {in, r.Dy() - 1 - in},
				}
				for c, p := range points {
					r, g, b, _ := img.At(p.X, p.Y).RGBA()
					isRed := r>>8 > 180 && g>>8 < 90 && b>>8 < 90
					if isRed != (c == tt.red) {
						t.Errorf("thumb %v: corner %d at %v is (%d,%d,%d), red wanted at corner %d", thumb, c, p, r>>8, g>>8, b>>8, tt.red)
					}
				}
			}
		})
	}
}

func TestSaveRefusesNonImages(t *testing.T) {
	t.Parallel()
	jpg := encodeJPEG(t, paint(64, 64, gradient))
	pngBytes := encodePNG(t, paint(64, 64, gradient))
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	f, _ := zw.Create("photo.jpg")
	f.Write(jpg)
	zw.Close()

	tests := []struct {
		name   string
		upload []byte
	}{
		{"HTML", []byte("<!doctype html><html><script>alert(document.cookie)</script></html>")},
		{"SVG", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>`)},
		{"PDF", []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")},
		{"ShellScript", []byte("#!/bin/sh\nrm -rf / --no-preserve-root\n")},
		{"ZIP", zipped.Bytes()},
		{"Empty", nil},
		{"TruncatedJPEG", jpg[:len(jpg)/2]},
		{"TruncatedPNG", pngBytes[:len(pngBytes)/2]},
		{"JPEGHeaderOnly", jpegClaiming(6000, 6000, 0xc0, 0x11)},
		{"JPEGMagicThenHTML", append([]byte("\xff\xd8\xff\xe0"), "<html><script>alert(1)</script></html>"...)},
		{"PNGMagicThenHTML", append([]byte("\x89PNG\r\n\x1a\n"), "<html><script>alert(1)</script></html>"...)},
		{"GIFMagicThenHTML", []byte("GIF89a<html><script>alert(1)</script></html>")},
		{"WebPMagicThenHTML", []byte("RIFF\x30\x00\x00\x00WEBP<html><script>alert(1)</script></html>")},
	}
	lib := newLibrary(t, media.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Save takes no file name and no content type: however the
			// client named or labelled the upload, only its bytes count.
			path := filepath.Join(t.TempDir(), "holiday.jpg")
			if err := os.WriteFile(path, tt.upload, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := lib.Save(context.Background(), f); !errors.Is(err, media.ErrUnsupported) {
				t.Errorf("got %v, want ErrUnsupported", err)
			}
		})
	}
	// Cleanup runs once the parallel subtests are done.
	t.Cleanup(func() {
		entries, err := os.ReadDir(lib.Dir())
		if err != nil || len(entries) != 0 {
			t.Errorf("directory holds %v (%v)", entries, err)
		}
	})
}

// Bytes after a valid image are not part of it: they are accepted and
// dropped, so a JPEG that is also an HTML page stops being one.
func TestSaveDropsTrailingData(t *testing.T) {
	t.Parallel()
	lib := newLibrary(t, media.Options{})
	upload := append(encodeJPEG(t, paint(64, 64, gradient)), "<html><script>alert(1)</script>"...)
	info, err := lib.Save(context.Background(), bytes.NewReader(upload))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := readStored(t, lib, info.Name, false)
	if bytes.Contains(b, []byte("<script")) {
		t.Error("trailing HTML stored")
	}
}

// Headers that claim enormous images are refused from the header alone:
// the test fails if the heap grew by anything like the claimed size.
func TestSaveRefusesPixelBombs(t *testing.T) {
	var screen bytes.Buffer
	frames := &gif.GIF{}
	for range 1001 {
		frames.Image = append(frames.Image, image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.Black}))
		frames.Delay = append(frames.Delay, 1)
	}
	if err := gif.EncodeAll(&screen, frames); err != nil {
		t.Fatal(err)
	}
	thirdBig := &gif.GIF{}
	for range 3 {
		thirdBig.Image = append(thirdBig.Image, image.NewPaletted(image.Rect(0, 0, 200, 100), color.Palette{color.Black}))
		thirdBig.Delay = append(thirdBig.Delay, 1)
	}
	var budget bytes.Buffer
	if err := gif.EncodeAll(&budget, thirdBig); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		opts   media.Options
		upload []byte
	}{
		{"PNG100000x100000", media.Options{}, pngClaiming(100_000, 100_000, 8)},
		{"PNGJustOverBudget", media.Options{}, pngClaiming(8000, 5001, 8)},
		{"PNGLongSide", media.Options{}, pngClaiming(30_000, 10, 8)},
		{"PNG16BitOverByteBudget", media.Options{}, pngClaiming(6000, 5000, 16)},
		{"JPEG65000x65000", media.Options{}, jpegClaiming(65_000, 65_000, 0xc0, 0x22)},
		{"JPEG19000x19000", media.Options{}, jpegClaiming(19_000, 19_000, 0xc0, 0x22)},
		// 36 megapixels is within MaxPixels, but progressive 4:4:4 needs
		// 15 bytes a pixel: over half a gigabyte.
		{"ProgressiveJPEG444", media.Options{}, jpegClaiming(6000, 6000, 0xc2, 0x11)},
		{"WebP16384x16384", media.Options{}, webpClaiming(16_384, 16_384)},
		{"GIFTooManyFrames", media.Options{}, screen.Bytes()},
		{"GIFFramesOverBudget", media.Options{MaxPixels: 50_000}, budget.Bytes()},
		{"GIFOverMaxSide", media.Options{MaxSide: 150}, budget.Bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib := newLibrary(t, tt.opts)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := lib.Save(context.Background(), bytes.NewReader(tt.upload))
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, media.ErrTooManyPixels) {
				t.Errorf("got %v, want ErrTooManyPixels", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 50<<20 {
				t.Errorf("allocated %d MB refusing it", grew>>20)
			}
			if elapsed > 2*time.Second {
				t.Errorf("took %v", elapsed)
			}
		})
	}
}

func TestSaveTooLarge(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	lib := newLibrary(t, media.Options{MaxBytes: limit})

	t.Run("EndlessUpload", func(t *testing.T) {
		t.Parallel()
		r := &countingReader{}
		if _, err := lib.Save(context.Background(), r); !errors.Is(err, media.ErrTooLarge) {
			t.Fatalf("got %v, want ErrTooLarge", err)
		}
		if r.n > limit+1 {
			t.Errorf("read %d bytes of a %d limit", r.n, limit)
		}
	})

	// A JPEG padded after its end to exactly the limit is accepted; one
	// byte more is not.
	jpg := encodeJPEG(t, paint(64, 64, gradient))
	exact := append(jpg, make([]byte, limit-len(jpg))...)
	t.Run("AtLimit", func(t *testing.T) {
		t.Parallel()
		if _, err := lib.Save(context.Background(), bytes.NewReader(exact)); err != nil {
			t.Errorf("got %v", err)
		}
	})
	t.Run("OverLimit", func(t *testing.T) {
		t.Parallel()
		over := append(exact[:len(exact):len(exact)], 0)
		if _, err := lib.Save(context.Background(), bytes.NewReader(over)); !errors.Is(err, media.ErrTooLarge) {
			t.Errorf("got %v, want ErrTooLarge", err)
		}
	})
}

func TestValidName(t *testing.T) {
	t.Parallel()
	const id = "k3xq7vabcdefghijklmnopqrsq" // 26 characters; 'q' (16) ends in two zero bits
	tests := []struct {
		name string
		want bool
	}{
		{id + ".jpg", true},
		{id + ".png", true},
		{id + ".gif", true},
		{id + ".thumb.jpg", true},
		{id + ".thumb.png", true},
		{"", false},
		{".", false},
		{"..", false},
		{".jpg", false},
		{"../x.jpg", false},
		{"../" + id + ".jpg", false},
		{"a/b.jpg", false},
		{id[:25] + "/.jpg", false},
		{id + ".jpg\x00", false},
		{id[:25] + "\x00.jpg", false},
		{strings.ToUpper(id) + ".jpg", false},
		{id + ".JPG", false},
		{id + ".jpeg", false},
		{id + ".webp", false},
		{id + ".svg", false},
		{id + ".html", false},
		{id + ".thumb.gif", false},
		{id + ".jpg.tmp", false},
		{id + "a.jpg", false},
		{id[:25] + ".jpg", false},
		{id[:25] + "t.jpg", false}, // 't' (19) sets bits a 16-byte id never has
		{id[:25] + "1.jpg", false}, // not in the base32 alphabet
		{"upload-123.tmp", false},
		{id + ".jpg ", false},
		{id + "\n.jpg", false},
	}
	for _, tt := range tests {
		if got := media.ValidName(tt.name); got != tt.want {
			t.Errorf("ValidName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Names the server makes pass ValidName, and are all different.
func TestSavedNamesAreValidAndDistinct(t *testing.T) {
	t.Parallel()
	lib := newLibrary(t, media.Options{Workers: 2})
	jpg := encodeJPEG(t, paint(32, 32, gradient))
	var (
		mu    sync.Mutex
		names = map[string]bool{}
		wg    sync.WaitGroup
	)
	for range 16 {
		wg.Go(func() {
			info, err := lib.Save(context.Background(), bytes.NewReader(jpg))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if names[info.Name] || !media.ValidName(info.Name) {
				t.Errorf("name %q repeated or invalid", info.Name)
			}
			names[info.Name] = true
		})
	}
	wg.Wait()
}

func TestOpenRefusesUnknownNames(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	lib, err := media.Open(filepath.Join(root, "media"), media.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A file beside the media directory that a traversal would reach.
	if err := os.WriteFile(filepath.Join(root, "secret.jpg"), []byte("\xff\xd8\xff"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"k3xq7vabcdefghijklmnopqrsq.jpg", // valid form, never stored
		"../secret.jpg",
		"..",
		"",
		"k3xq7vabcdefghijklmnopqrsq.thumb.jpg",
	} {
		for _, thumb := range []bool{false, true} {
			if f, _, err := lib.Open(name, thumb); !errors.Is(err, media.ErrNotFound) {
				if f != nil {
					f.Close()
				}
				t.Errorf("Open(%q, %v): got %v, want ErrNotFound", name, thumb, err)
			}
		}
		if lib.Exists(name) {
			t.Errorf("Exists(%q)", name)
		}
	}
}

func TestOpenPreparesDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "media")
	lib, err := media.Open(dir, media.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if lib.Dir() != dir {
		t.Errorf("Dir() = %q", lib.Dir())
	}
	if m := fileMode(t, dir); m != 0o700 {
		t.Errorf("directory mode %v", m)
	}
	// A crash mid-upload leaves a temporary file; the next Open removes it
	// and leaves stored images alone.
	info, err := lib.Save(context.Background(), bytes.NewReader(encodeJPEG(t, paint(16, 16, gradient))))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "upload-123.tmp"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	lib, err = media.Open(dir, media.Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertNoTemp(t, dir)
	if !lib.Exists(info.Name) || !lib.Exists(info.ThumbName) {
		t.Error("reopening lost stored files")
	}
}

func TestSaveGivesUpWhenCancelled(t *testing.T) {
	t.Parallel()
	lib := newLibrary(t, media.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lib.Save(ctx, bytes.NewReader(encodeJPEG(t, paint(16, 16, gradient)))); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	entries, _ := os.ReadDir(lib.Dir())
	if len(entries) != 0 {
		t.Errorf("directory holds %v", entries)
	}
}

// A full-size phone photo, scaled to MaxSide and turned upright: the slow
// path, skipped with -short and under the race detector.
func TestSavePhoneJPEG(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("large image")
	}
	t.Parallel()
	lib := newLibrary(t, media.Options{})
	upload := phoneJPEG(t)
	info, err := lib.Save(context.Background(), bytes.NewReader(withSegments(upload, exifAPP1(6))))
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 1920 || info.Height != 2560 || info.ContentType != "image/jpeg" {
		t.Errorf("got %s %d×%d, want image/jpeg 1920×2560", info.ContentType, info.Width, info.Height)
	}
	t.Logf("%d-byte upload stored as %d bytes", len(upload), info.Bytes)
}
