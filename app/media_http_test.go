package app_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"moments/app"
	"moments/internal/testutil"
	"moments/store"
)

// ---- helpers: multipart requests ----

// mediaPart is one part of a multipart/form-data body: a file when
// filename is set, else a plain field. disposition, when set, is sent as
// the part's Content-Disposition byte for byte instead.
type mediaPart struct {
	field, filename, ctype string
	disposition            string
	data                   []byte
}

// mediaFile is the usual upload: field "file", a harmless file name.
func mediaFile(data []byte) mediaPart {
	return mediaPart{field: "file", filename: "photo.jpg", ctype: "application/octet-stream", data: data}
}

// mediaForm encodes parts as multipart/form-data and returns the body and
// its Content-Type.
func mediaForm(t testing.TB, parts ...mediaPart) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := fmt.Sprintf(`form-data; name=%q`, p.field)
		if p.filename != "" {
			disp += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		if p.disposition != "" {
			disp = p.disposition
		}
		h.Set("Content-Disposition", disp)
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// mediaSend posts body to /media without failing the test, so that it can
// run in other goroutines.
func (e *testEnv) mediaSend(token string, body io.Reader, ctype string) (*response, error) {
	req, err := http.NewRequest("POST", e.srv.URL+"/media", body)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &response{Response: res, body: b}, nil
}

// mediaStall starts an upload of body that stops short of its last bytes
// and waits there; breakOff ends it as a client that gives up would, and
// cleanup does if the test has not (the server cannot close before).
func (e *testEnv) mediaStall(token string, body []byte, ctype string) (breakOff func()) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.mediaSend(token, pr, ctype) // fails once broken off
	}()
	go pw.Write(body[:len(body)-8])
	breakOff = sync.OnceFunc(func() {
		pw.CloseWithError(errors.New("upload broken off"))
		<-done
	})
	e.t.Cleanup(breakOff)
	return breakOff
}

// mediaReceiving counts the uploads the server is receiving: each has a
// temporary file in the media directory.
func mediaReceiving(t testing.TB, e *testEnv) int {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(e.cfg.DataDir, app.MediaDir, "upload-*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}

// mediaWaitReceiving polls until the server is receiving n uploads.
func mediaWaitReceiving(t testing.TB, e *testEnv, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); mediaReceiving(t, e) != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server is receiving %d uploads, want %d", mediaReceiving(t, e), n)
		}
	}
}

// mediaPost uploads the parts and returns the answer, whatever its status.
func (e *testEnv) mediaPost(token string, parts ...mediaPart) *response {
	e.t.Helper()
	body, ctype := mediaForm(e.t, parts...)
	res, err := e.mediaSend(token, bytes.NewReader(body), ctype)
	if err != nil {
		e.t.Fatalf("POST /media: %v", err)
	}
	return res
}

// mediaInfo is the answer to a successful upload.
type mediaInfo struct {
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url"`
	ContentType  string `json:"content_type"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	Bytes        int64  `json:"bytes"`
}

var mediaURLPattern = regexp.MustCompile(`^/media/[a-z2-7]{26}\.(jpg|png|gif)$`)

// mediaUpload uploads data as the field "file" and expects a 201.
func (e *testEnv) mediaUpload(token string, data []byte) mediaInfo {
	e.t.Helper()
	return mediaCheckCreated(e.t, e.mediaPost(token, mediaFile(data)))
}

func mediaCheckCreated(t testing.TB, res *response) mediaInfo {
	t.Helper()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST /media = %d, want 201; body: %s", res.StatusCode, res.body)
	}
	var info mediaInfo
	if err := json.Unmarshal(res.body, &info); err != nil {
		t.Fatalf("upload answer is not JSON: %v: %s", err, res.body)
	}
	if !mediaURLPattern.MatchString(info.URL) {
		t.Errorf("url = %q, want /media/<26 base32 chars>.<ext>", info.URL)
	}
	if want := info.URL + "?size=thumb"; info.ThumbnailURL != want {
		t.Errorf("thumbnail_url = %q, want %q", info.ThumbnailURL, want)
	}
	if loc := res.Header.Get("Location"); loc != info.URL {
		t.Errorf("Location = %q, want %q", loc, info.URL)
	}
	if info.Width <= 0 || info.Height <= 0 || info.Bytes <= 0 {
		t.Errorf("upload answer = %+v", info)
	}
	return info
}

// mediaGet fetches path with no token and without following redirects.
func (e *testEnv) mediaGet(path string, headers ...string) *response {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := *e.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{Response: res, body: b}
}

// mediaDir lists the files in the server's media directory.
func mediaDir(t testing.TB, e *testEnv) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.cfg.DataDir, app.MediaDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range entries {
		names = append(names, de.Name())
	}
	return names
}

// ---- helpers: images ----

// mediaNoiseJPEG is a w×h JPEG of a gradient under per-pixel noise, so the
// encoder cannot shrink it to nothing.
func mediaNoiseJPEG(w, h int, seed uint64) []byte {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	rng := rand.New(rand.NewPCG(seed, 7))
	for y := range h {
		for x := range w {
			img.Y[y*img.YStride+x] = uint8(min(255, max(0, (x+y)*255/(w+h)+int(rng.Uint32()%27)-13)))
		}
	}
	for i := range img.Cb {
		img.Cb[i] = uint8(100 + rng.Uint32()%50)
		img.Cr[i] = uint8(120 + rng.Uint32()%50)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		panic(err) // writing to a bytes.Buffer does not fail
	}
	return buf.Bytes()
}

// mediaBigJPEG is one 1200×900 noise JPEG shared by the tests.
var mediaBigJPEG = sync.OnceValue(func() []byte { return mediaNoiseJPEG(1200, 900, 1) })

// mediaHalvesJPEG is a w×h JPEG, dark on the left half and bright on the
// right, to see which way it was turned.
func mediaHalvesJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(30)
			if x >= w/2 {
				v = 220
			}
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mediaAlphaPNG is a w×h PNG with a horizontal alpha gradient.
func mediaAlphaPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 200, uint8(x * 255 / w)})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mediaAnimatedGIF is a w×h GIF of n frames, each a different colour.
func mediaAnimatedGIF(t testing.TB, w, h, n int) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}}
	g := &gif.GIF{LoopCount: 0}
	for i := range n {
		fr := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		for p := range fr.Pix {
			fr.Pix[p] = uint8((i + p%w/8) % len(pal))
		}
		g.Image = append(g.Image, fr)
		g.Delay = append(g.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mediaSecretPlace and the GPS rationals are in the test EXIF and must never
// reach a stored file.
const mediaSecretPlace = "Rue du Secret 12, Lyon"

// mediaGPSLatitude is 45°45'36.00" as three little-endian RATIONALs.
var mediaGPSLatitude = []byte{45, 0, 0, 0, 1, 0, 0, 0, 45, 0, 0, 0, 1, 0, 0, 0, 0x10, 0x0e, 0, 0, 100, 0, 0, 0}

// mediaEXIF builds an APP1 segment with a little-endian TIFF: IFD0 holding
// an ImageDescription, the Orientation (when orientation > 0) and a pointer
// to a GPS IFD with GPSLatitudeRef and GPSLatitude.
func mediaEXIF(orientation uint16) []byte {
	le := binary.LittleEndian
	type entry struct {
		tag, typ uint16
		count    uint32
		value    []byte
	}
	// layout writes an IFD at offset start, long values after it.
	layout := func(start uint32, entries []entry) []byte {
		head := make([]byte, 2+12*len(entries)+4)
		le.PutUint16(head, uint16(len(entries)))
		var data []byte
		for i, e := range entries {
			p := head[2+12*i:]
			le.PutUint16(p, e.tag)
			le.PutUint16(p[2:], e.typ)
			le.PutUint32(p[4:], e.count)
			if len(e.value) <= 4 {
				copy(p[8:12], e.value)
				continue
			}
			le.PutUint32(p[8:], start+uint32(len(head)+len(data)))
			data = append(data, e.value...)
			if len(data)%2 == 1 {
				data = append(data, 0)
			}
		}
		return append(head, data...)
	}
	desc := []byte(mediaSecretPlace + "\x00")
	ifd0 := func(gpsAt uint32) []byte {
		es := []entry{{0x010e, 2, uint32(len(desc)), desc}}
		if orientation > 0 {
			es = append(es, entry{0x0112, 3, 1, le.AppendUint16(nil, orientation)})
		}
		es = append(es, entry{0x8825, 4, 1, le.AppendUint32(nil, gpsAt)})
		return layout(8, es)
	}
	gpsAt := 8 + uint32(len(ifd0(0)))
	tiff := append([]byte("II*\x00"), le.AppendUint32(nil, 8)...)
	tiff = append(tiff, ifd0(gpsAt)...)
	tiff = append(tiff, layout(gpsAt, []entry{
		{0x0001, 2, 2, []byte("N\x00")},
		{0x0002, 5, 3, mediaGPSLatitude},
	})...)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

// mediaWithSegment puts a marker segment right after a JPEG's SOI.
func mediaWithSegment(jpg, seg []byte) []byte {
	out := append([]byte(nil), jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// mediaBombPNG is a well-formed PNG (valid CRCs, real zlib data) whose IHDR
// claims w×h RGBA pixels.
func mediaBombPNG(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		c = append(c, typ...)
		c = append(c, data...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 4096))
	zw.Close()
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, chunk("IHDR", ihdr)...)
	b = append(b, chunk("IDAT", z.Bytes())...)
	return append(b, chunk("IEND", nil)...)
}

// ---- 1. round trip ----

func TestMediaUploadRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")

	cases := []struct {
		name, ctype, ext string
		data             func(testing.TB) []byte
		w, h             int
		thumbW, thumbH   int
	}{
		{"jpeg", "image/jpeg", ".jpg", func(testing.TB) []byte { return mediaBigJPEG() }, 1200, 900, 480, 360},
		{"png", "image/png", ".png", func(t testing.TB) []byte { return mediaAlphaPNG(t, 640, 400) }, 640, 400, 480, 300},
		{"gif", "image/gif", ".gif", func(t testing.TB) []byte { return mediaAnimatedGIF(t, 96, 64, 3) }, 96, 64, 96, 64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := e.mediaPost(alice.Token, mediaPart{field: "file", filename: "holiday" + tc.ext, ctype: tc.ctype, data: tc.data(t)})
			info := mediaCheckCreated(t, res)
			if !strings.HasSuffix(info.URL, tc.ext) || info.ContentType != tc.ctype || info.Width != tc.w || info.Height != tc.h {
				t.Errorf("upload answer = %+v, want a %s of %d×%d", info, tc.ctype, tc.w, tc.h)
			}

			// The image, without a token.
			got := e.mediaGet(info.URL).wantStatus(t, http.StatusOK)
			wantHeaders := map[string]string{
				"Content-Type":            tc.ctype,
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "default-src 'none'; sandbox",
				"Cache-Control":           "public, max-age=31536000, immutable",
			}
			for k, v := range wantHeaders {
				if g := got.Header.Get(k); g != v {
					t.Errorf("GET %s: %s = %q, want %q", info.URL, k, g, v)
				}
			}
			if int64(len(got.body)) != info.Bytes {
				t.Errorf("GET %s: %d bytes, the upload answer said %d", info.URL, len(got.body), info.Bytes)
			}
			switch tc.name {
			case "jpeg":
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(got.body))
				if err != nil || cfg.Width != tc.w || cfg.Height != tc.h {
					t.Errorf("stored JPEG: %v, %d×%d", err, cfg.Width, cfg.Height)
				}
			case "png":
				img, err := png.Decode(bytes.NewReader(got.body))
				if err != nil {
					t.Fatalf("stored PNG does not decode: %v", err)
				}
				if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
					t.Errorf("stored PNG is %v", b)
				}
				if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
					t.Errorf("stored PNG lost its transparency: alpha at (0,0) = %d", a)
				}
			case "gif":
				g, err := gif.DecodeAll(bytes.NewReader(got.body))
				if err != nil {
					t.Fatalf("stored GIF does not decode: %v", err)
				}
				if len(g.Image) != 3 || g.Config.Width != tc.w || g.Config.Height != tc.h {
					t.Errorf("stored GIF has %d frames of %d×%d, want 3 of %d×%d",
						len(g.Image), g.Config.Width, g.Config.Height, tc.w, tc.h)
				}
			}

			// Revalidation and ranges.
			etag := got.Header.Get("ETag")
			if etag == "" || !strings.HasPrefix(etag, `"`) {
				t.Fatalf("ETag = %q", etag)
			}
			nm := e.mediaGet(info.URL, "If-None-Match", etag)
			if nm.StatusCode != http.StatusNotModified || len(nm.body) != 0 {
				t.Errorf("If-None-Match: %d with %d bytes, want 304 and none", nm.StatusCode, len(nm.body))
			}
			if other := e.mediaGet(info.URL, "If-None-Match", `"something-else"`); other.StatusCode != http.StatusOK {
				t.Errorf("If-None-Match with another tag = %d, want 200", other.StatusCode)
			}
			rg := e.mediaGet(info.URL, "Range", "bytes=0-9")
			if rg.StatusCode != http.StatusPartialContent || !bytes.Equal(rg.body, got.body[:10]) {
				t.Errorf("Range bytes=0-9: %d with % x, want 206 with % x", rg.StatusCode, rg.body, got.body[:10])
			}
			if cr, want := rg.Header.Get("Content-Range"), fmt.Sprintf("bytes 0-9/%d", len(got.body)); cr != want {
				t.Errorf("Content-Range = %q, want %q", cr, want)
			}

			// The thumbnail.
			th := e.mediaGet(info.ThumbnailURL).wantStatus(t, http.StatusOK)
			tct := th.Header.Get("Content-Type")
			if tct != "image/jpeg" && tct != "image/png" {
				t.Errorf("thumbnail Content-Type = %q", tct)
			}
			if tc.name == "png" && tct != "image/png" {
				t.Errorf("thumbnail of a transparent PNG is %s, want image/png", tct)
			}
			for _, k := range []string{"X-Content-Type-Options", "Content-Security-Policy", "Cache-Control"} {
				if g := th.Header.Get(k); g != wantHeaders[k] {
					t.Errorf("thumbnail %s = %q, want %q", k, g, wantHeaders[k])
				}
			}
			if te := th.Header.Get("ETag"); te == "" || te == etag {
				t.Errorf("thumbnail ETag = %q, the image's is %q", te, etag)
			}
			timg, format, err := image.Decode(bytes.NewReader(th.body))
			if err != nil {
				t.Fatalf("thumbnail does not decode: %v", err)
			}
			if "image/"+format != tct {
				t.Errorf("thumbnail is a %s served as %s", format, tct)
			}
			tb := timg.Bounds()
			if tb.Dx() != tc.thumbW || tb.Dy() != tc.thumbH || max(tb.Dx(), tb.Dy()) > 480 {
				t.Errorf("thumbnail is %d×%d, want %d×%d", tb.Dx(), tb.Dy(), tc.thumbW, tc.thumbH)
			}
			if tc.w > 480 && tb.Dx()*tb.Dy() >= tc.w*tc.h {
				t.Errorf("thumbnail %v is not smaller than the %d×%d image", tb, tc.w, tc.h)
			}

			// Both files are on disk, with no temporary files.
			id := strings.TrimSuffix(strings.TrimPrefix(info.URL, "/media/"), tc.ext)
			files := mediaDir(t, e)
			if !slices.Contains(files, id+tc.ext) || !slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(f, id+".thumb.") }) {
				t.Errorf("media dir %v lacks %s or its thumbnail", files, id+tc.ext)
			}
		})
	}
}

// ---- 2. metadata ----

func TestMediaUploadStripsEXIFAndGPS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	src := mediaWithSegment(mediaNoiseJPEG(320, 240, 2), mediaEXIF(0))
	// The fixture must carry what the server has to remove.
	if !slices.Contains(jpegMarkers(t, src), 0xe1) || !bytes.Contains(src, mediaGPSLatitude) ||
		!bytes.Contains(src, []byte(mediaSecretPlace)) {
		t.Fatal("the test JPEG lacks its EXIF")
	}
	info := e.mediaUpload(alice.Token, src)
	if info.ContentType != "image/jpeg" || info.Width != 320 || info.Height != 240 {
		t.Errorf("upload answer = %+v", info)
	}
	for _, u := range []string{info.URL, info.ThumbnailURL} {
		b := e.mediaGet(u).wantStatus(t, http.StatusOK).body
		if m := jpegMarkers(t, b); slices.Contains(m, 0xe1) {
			t.Errorf("%s still has an APP1 segment: markers % x", u, m)
		}
		for _, secret := range [][]byte{[]byte("Exif\x00\x00"), []byte(mediaSecretPlace), mediaGPSLatitude} {
			if bytes.Contains(b, secret) {
				t.Errorf("%s still contains %q", u, secret)
			}
		}
	}
}

func TestMediaUploadAppliesEXIFOrientation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	// Stored 320×200, dark left half; orientation 6 means "turn a quarter
	// clockwise to show", which brings the left half to the top.
	info := e.mediaUpload(alice.Token, mediaWithSegment(mediaHalvesJPEG(t, 320, 200), mediaEXIF(6)))
	if info.Width != 200 || info.Height != 320 {
		t.Errorf("upload answer says %d×%d, want 200×320 (turned)", info.Width, info.Height)
	}
	b := e.mediaGet(info.URL).wantStatus(t, http.StatusOK).body
	if slices.Contains(jpegMarkers(t, b), 0xe1) {
		t.Error("the turned JPEG still has an APP1 segment")
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if bd := img.Bounds(); bd.Dx() != 200 || bd.Dy() != 320 {
		t.Fatalf("stored image is %v, want 200×320", bd)
	}
	top := color.GrayModel.Convert(img.At(100, 60)).(color.Gray).Y
	bottom := color.GrayModel.Convert(img.At(100, 260)).(color.Gray).Y
	if top > 80 || bottom < 170 {
		t.Errorf("luma top %d, bottom %d: want the dark half on top (turned clockwise)", top, bottom)
	}
}

// ---- 3. refusals ----

func TestMediaUploadRefusesWhatIsNotAnImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	big := mediaBigJPEG()
	cases := map[string][]byte{
		"html":            []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"),
		"svg":             []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>`),
		"pdf":             []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"),
		"shell":           []byte("#!/bin/sh\nrm -rf / --no-preserve-root\n"),
		"empty":           {},
		"jpeg-truncated":  big[:len(big)/2],
		"jpeg-magic-only": append([]byte("\xff\xd8\xff\xe0"), bytes.Repeat([]byte("junk"), 100)...),
		"png-truncated":   mediaAlphaPNG(t, 64, 64)[:200],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := e.mediaPost(alice.Token, mediaPart{field: "file", filename: "photo.jpg", ctype: "image/jpeg", data: data})
			res.wantProblem(t, http.StatusUnsupportedMediaType, "")
		})
	}
}

func TestMediaUploadRefusesPixelBombQuickly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	bomb := mediaBombPNG(100_000, 100_000)
	if _, err := png.DecodeConfig(bytes.NewReader(bomb)); err != nil {
		t.Fatalf("the bomb's header is not valid: %v", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	res := e.mediaPost(alice.Token, mediaPart{field: "file", filename: "a.png", ctype: "image/png", data: bomb})
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if p := res.wantProblem(t, http.StatusRequestEntityTooLarge, ""); !strings.Contains(p.Detail, "40 megapixels") {
		t.Errorf("detail %q does not name the limit", p.Detail)
	}
	if elapsed > 2*time.Second {
		t.Errorf("refusing the bomb took %v", elapsed)
	}
	// 100000² RGBA pixels would be 40 GB; other tests running alongside
	// allocate a few megabytes each.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 512<<20 {
		t.Errorf("the process allocated %d MiB while refusing the bomb", grew>>20)
	}
	if files := mediaDir(t, e); len(files) != 0 {
		t.Errorf("media dir after a refusal: %v", files)
	}
}

func TestMediaUploadOverTheLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withConfig(func(c *app.Config) { c.MaxUpload = 1 << 20 }))
	alice := e.signUp("alice")
	// Starts like a real JPEG, then 3 MiB of noise.
	rng := rand.New(rand.NewPCG(3, 4))
	huge := append([]byte(nil), mediaNoiseJPEG(64, 64, 3)[:200]...)
	for len(huge) < 3<<20 {
		huge = binary.LittleEndian.AppendUint64(huge, rng.Uint64())
	}

	t.Run("file", func(t *testing.T) {
		res := e.mediaPost(alice.Token, mediaFile(huge))
		p := res.wantProblem(t, http.StatusRequestEntityTooLarge, "")
		if !strings.Contains(p.Detail, "1 MiB") {
			t.Errorf("detail %q does not name the limit", p.Detail)
		}
	})
	t.Run("field before the file", func(t *testing.T) {
		res := e.mediaPost(alice.Token,
			mediaPart{field: "caption", data: huge},
			mediaFile(mediaNoiseJPEG(32, 32, 5)))
		p := res.wantProblem(t, http.StatusRequestEntityTooLarge, "")
		if !strings.Contains(p.Detail, "1 MiB") {
			t.Errorf("detail %q does not name the limit", p.Detail)
		}
	})
	if files := mediaDir(t, e); len(files) != 0 {
		t.Errorf("media dir after refused uploads: %v", files)
	}
	// The server still takes an upload within the limit.
	e.mediaUpload(alice.Token, mediaNoiseJPEG(64, 48, 6))
}

func TestMediaUploadRequestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	small := mediaNoiseJPEG(40, 30, 8)

	t.Run("json", func(t *testing.T) {
		e.do("POST", "/media", alice.Token, map[string]string{"file": "aGVsbG8="}).
			wantProblem(t, http.StatusUnsupportedMediaType, "")
	})
	t.Run("multipart without boundary", func(t *testing.T) {
		res, err := e.mediaSend(alice.Token, strings.NewReader("x"), "multipart/form-data")
		if err != nil {
			t.Fatal(err)
		}
		res.wantProblem(t, http.StatusUnsupportedMediaType, "")
	})
	t.Run("no file field", func(t *testing.T) {
		e.mediaPost(alice.Token, mediaPart{field: "caption", data: []byte("hello")}).
			wantProblem(t, http.StatusUnprocessableEntity, "body.file")
	})
	t.Run("file under another name", func(t *testing.T) {
		e.mediaPost(alice.Token, mediaPart{field: "photo", filename: "a.jpg", ctype: "image/jpeg", data: small}).
			wantProblem(t, http.StatusUnprocessableEntity, "body.file")
	})
	t.Run("other fields are skipped", func(t *testing.T) {
		mediaCheckCreated(t, e.mediaPost(alice.Token, mediaPart{field: "caption", data: []byte("hi")}, mediaFile(small)))
	})
	// Names are refused, never rewritten, when they are not UTF-8: quoted,
	// RFC 2231-encoded or bare, before the file or after it.
	for name, disposition := range map[string]string{
		"field name":            "form-data; name=\"fi\xffle\"",
		"file name":             "form-data; name=\"file\"; filename=\"ph\xc3oto.jpg\"",
		"file name in a folder": "form-data; name=\"file\"; filename=\"\xff/photo.jpg\"",
		"RFC 2231 file name":    "form-data; name=\"file\"; filename*=UTF-8''ph%FFoto.jpg",
		"unquoted field name":   "form-data; name=fi\xffle",
		"field after the file":  "form-data; name=\"caption\xfe\"",
	} {
		t.Run(name+" not UTF-8", func(t *testing.T) {
			parts := []mediaPart{{disposition: disposition, data: small}}
			if name == "field after the file" {
				parts = []mediaPart{mediaFile(small), {disposition: disposition, data: []byte("hi")}}
			}
			p := e.mediaPost(alice.Token, parts...).wantProblem(t, http.StatusBadRequest, "")
			if !strings.Contains(p.Detail, "is not valid UTF-8") {
				t.Errorf("detail %q", p.Detail)
			}
		})
	}
	t.Run("file name in UTF-8", func(t *testing.T) {
		mediaCheckCreated(t, e.mediaPost(alice.Token, mediaPart{field: "file", filename: "été à Zürich 🌄.jpg", data: small}))
	})
	t.Run("malformed", func(t *testing.T) {
		res, err := e.mediaSend(alice.Token, strings.NewReader("this is not a multipart body at all\r\n"),
			"multipart/form-data; boundary=xyzzy")
		if err != nil {
			t.Fatal(err)
		}
		res.wantProblem(t, http.StatusBadRequest, "")
	})
	t.Run("cut off in the file", func(t *testing.T) {
		body, ctype := mediaForm(t, mediaFile(small))
		res, err := e.mediaSend(alice.Token, bytes.NewReader(body[:len(body)/2]), ctype)
		if err != nil {
			t.Fatal(err)
		}
		res.wantProblem(t, http.StatusBadRequest, "")
	})
	t.Run("anonymous", func(t *testing.T) {
		res := e.mediaPost("", mediaFile(small))
		res.wantProblem(t, http.StatusUnauthorized, "")
		if ch := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") {
			t.Errorf("WWW-Authenticate = %q", ch)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		res := e.mediaPost("not-a-token", mediaFile(small))
		res.wantProblem(t, http.StatusUnauthorized, "")
	})
}

// ---- 4. names ----

func TestMediaNamesOutsideTheServersForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	info := e.mediaUpload(alice.Token, mediaNoiseJPEG(64, 48, 9))
	name := strings.TrimPrefix(info.URL, "/media/")
	id := strings.TrimSuffix(name, ".jpg")
	stored := e.mediaGet(info.URL).wantStatus(t, http.StatusOK).body
	db, err := os.ReadFile(filepath.Join(e.cfg.DataDir, store.DBFile))
	if err != nil {
		t.Logf("no moments.db to compare with: %v", err)
	}

	paths := []string{
		"/media/..%2F..%2Fmoments.db",
		"/media/..%2Fmoments.db",
		"/media/..%2F..%2Fmoments.db?size=thumb",
		"/media/%2e%2e",
		"/media/%2e%2e%2fmoments.db",
		"/media/..%5Cmoments.db",
		"/media/" + name + "%00",
		"/media/%00",
		"/media/" + strings.ToUpper(name),
		"/media/" + strings.ToUpper(id) + ".jpg",
		"/media/" + id + ".png",
		"/media/" + id + ".gif",
		"/media/" + id + ".webp",
		"/media/" + id + ".jpeg",
		"/media/" + id + ".JPG",
		"/media/" + id,
		"/media/" + id + ".thumb.gif",
		"/media/" + name + ".tmp",
		"/media/" + id + "a.jpg",
		"/media/" + id[:25] + ".jpg",
		"/media/upload-123.tmp",
		"/media/moments.db",
		"/media/" + strings.Repeat("a", 196) + ".jpg",
		"/media/" + name + "?size=big",
		"/media/" + name + "?size=THUMB",
	}
	for _, p := range paths {
		res := e.mediaGet(p)
		switch res.StatusCode {
		case http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity:
		default:
			t.Errorf("GET %s = %d, want 400, 404 or 422; body: %.200q", p, res.StatusCode, res.body)
		}
		if bytes.HasPrefix(res.body, []byte("SQLite format 3")) || len(db) > 0 && bytes.Equal(res.body, db) ||
			bytes.Equal(res.body, stored) || bytes.HasPrefix(res.body, []byte("\xff\xd8")) {
			t.Errorf("GET %s answered with a file: %.40q", p, res.body)
		}
	}

	e.mediaGet("/media/"+name+"?size=big").wantProblem(t, http.StatusUnprocessableEntity, "")
	unknown := strings.Repeat("a", 26) + ".jpg"
	e.mediaGet("/media/"+unknown).wantProblem(t, http.StatusNotFound, "")
	e.mediaGet("/media/"+unknown+"?size=thumb").wantProblem(t, http.StatusNotFound, "")
	// The real one is still there, in every accepted spelling.
	e.mediaGet("/media/"+name+"?size=thumb").wantStatus(t, http.StatusOK)
}

// ---- 5. posts and avatars ----

func TestMediaURLsInPostsAndAvatars(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	info := e.mediaUpload(alice.Token, mediaNoiseJPEG(64, 48, 10))
	id := strings.TrimSuffix(strings.TrimPrefix(info.URL, "/media/"), ".jpg")
	unknown := "/media/" + strings.Repeat("a", 26) + ".jpg"

	urls := []string{info.URL, "https://example.com/elsewhere.jpg"}
	res := e.do("POST", "/posts", alice.Token, map[string]any{"content": "with a photo", "media_urls": urls}).
		wantStatus(t, http.StatusCreated)
	var created struct {
		ID        int64    `json:"id"`
		MediaURLs []string `json:"media_urls"`
	}
	res.json(t, &created)
	if !slices.Equal(created.MediaURLs, urls) {
		t.Errorf("created post media_urls = %q, want %q", created.MediaURLs, urls)
	}
	var feed struct {
		Items []struct {
			ID        int64    `json:"id"`
			MediaURLs []string `json:"media_urls"`
		} `json:"items"`
	}
	e.do("GET", "/posts", alice.Token, nil).wantStatus(t, http.StatusOK).json(t, &feed)
	if len(feed.Items) == 0 || feed.Items[0].ID != created.ID || !slices.Equal(feed.Items[0].MediaURLs, urls) {
		t.Errorf("feed = %+v, want post %d with %q", feed.Items, created.ID, urls)
	}

	bad := []struct {
		name string
		urls []string
		at   string
	}{
		{"unknown", []string{"https://example.com/a.jpg", unknown}, "body.media_urls[1]"},
		{"thumbnail", []string{"/media/" + id + ".thumb.jpg"}, "body.media_urls[0]"},
		{"thumbnail query", []string{info.ThumbnailURL}, "body.media_urls[0]"},
		{"other extension", []string{info.URL, "/media/" + id + ".png"}, "body.media_urls[1]"},
		{"traversal", []string{"/media/../moments.db"}, "body.media_urls[0]"},
		{"uppercase", []string{strings.ToUpper(info.URL)}, "body.media_urls[0]"},
		{"bare prefix", []string{"/media/"}, "body.media_urls[0]"},
	}
	for _, tc := range bad {
		t.Run("post "+tc.name, func(t *testing.T) {
			e.do("POST", "/posts", alice.Token, map[string]any{"content": "bad", "media_urls": tc.urls}).
				wantProblem(t, http.StatusUnprocessableEntity, tc.at)
		})
	}

	var me struct {
		AvatarURL string `json:"avatar_url"`
	}
	e.do("PATCH", "/users/me", alice.Token, map[string]string{"avatar_url": info.URL}).
		wantStatus(t, http.StatusOK).json(t, &me)
	if me.AvatarURL != info.URL {
		t.Errorf("avatar_url = %q, want %q", me.AvatarURL, info.URL)
	}
	for _, u := range []string{unknown, "/media/" + id + ".thumb.jpg"} {
		e.do("PATCH", "/users/me", alice.Token, map[string]string{"avatar_url": u}).
			wantProblem(t, http.StatusUnprocessableEntity, "body.avatar_url")
	}
	e.do("GET", "/users/me", alice.Token, nil).wantStatus(t, http.StatusOK).json(t, &me)
	if me.AvatarURL != info.URL {
		t.Errorf("after refused changes avatar_url = %q, want %q", me.AvatarURL, info.URL)
	}
}

// ---- 6. concurrency ----

func TestMediaParallelUploads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	const n = 4
	bodies := make([][]byte, n)
	ctypes := make([]string, n)
	for i := range n {
		data := mediaBigJPEG()
		if i%2 == 1 {
			data = mediaNoiseJPEG(800, 600, uint64(20+i))
		}
		bodies[i], ctypes[i] = mediaForm(t, mediaFile(data))
	}
	results := make([]*response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = e.mediaSend(alice.Token, bytes.NewReader(bodies[i]), ctypes[i])
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("upload %d: %v", i, errs[i])
			continue
		}
		info := mediaCheckCreated(t, results[i])
		if seen[info.URL] {
			t.Errorf("two uploads named %s", info.URL)
		}
		seen[info.URL] = true
		e.mediaGet(info.URL).wantStatus(t, http.StatusOK)
		e.mediaGet(info.ThumbnailURL).wantStatus(t, http.StatusOK)
	}
}

// At most three uploads of one account are read at once; a fourth waits,
// its body unread, until one of them ends. Other accounts do not wait.
func TestMediaUploadsWaitForTheirAccountsSlots(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.signUp("alice"), e.signUp("bob")
	photo := mediaNoiseJPEG(64, 48, 30)
	body, ctype := mediaForm(t, mediaFile(photo))

	var stalled []func()
	for range 3 {
		stalled = append(stalled, e.mediaStall(alice.Token, body, ctype))
	}
	mediaWaitReceiving(t, e, 3)
	type answer struct {
		res *response
		err error
	}
	fourth := make(chan answer, 1)
	go func() {
		res, err := e.mediaSend(alice.Token, bytes.NewReader(body), ctype)
		fourth <- answer{res, err}
	}()
	mediaCheckCreated(t, e.mediaPost(bob.Token, mediaFile(photo)))
	select {
	case a := <-fourth:
		t.Fatalf("a fourth upload was answered while three were in flight: %+v", a)
	case <-time.After(100 * time.Millisecond):
	}
	if n := mediaReceiving(t, e); n != 3 {
		t.Errorf("receiving %d uploads of alice's, want 3", n)
	}

	stalled[0]()
	a := <-fourth
	if a.err != nil {
		t.Fatal(a.err)
	}
	mediaCheckCreated(t, a.res)
	for _, breakOff := range stalled[1:] {
		breakOff()
	}
	mediaWaitReceiving(t, e, 0)
}

// ---- 7. OpenAPI ----

func TestMediaOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type schema struct {
		Type       any               `json:"type"`
		Format     string            `json:"format"`
		Required   []string          `json:"required"`
		Properties map[string]schema `json:"properties"`
	}
	type operation struct {
		RequestBody *struct {
			Required bool `json:"required"`
			Content  map[string]struct {
				Schema schema `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
		Responses map[string]any `json:"responses"`
		Security  []any          `json:"security"`
	}
	var doc struct {
		Paths map[string]map[string]operation `json:"paths"`
	}
	e.do("GET", "/openapi.json", "", nil).wantStatus(t, http.StatusOK).json(t, &doc)

	up, ok := doc.Paths["/media"]["post"]
	if !ok {
		t.Fatalf("no POST /media in %v", doc.Paths["/media"])
	}
	if up.RequestBody == nil {
		t.Fatal("POST /media has no requestBody")
	}
	mp, ok := up.RequestBody.Content["multipart/form-data"]
	if !ok {
		t.Fatalf("POST /media request body is not multipart/form-data: %v", up.RequestBody.Content)
	}
	file := mp.Schema.Properties["file"]
	if file.Type != "string" || file.Format != "binary" || !slices.Contains(mp.Schema.Required, "file") {
		t.Errorf("multipart schema = %+v, want a required binary string `file`", mp.Schema)
	}
	if len(up.RequestBody.Content) != 1 {
		t.Errorf("POST /media documents other request bodies too: %v", up.RequestBody.Content)
	}
	for _, code := range []string{"201", "401", "413", "415"} {
		if _, ok := up.Responses[code]; !ok {
			t.Errorf("POST /media does not document %s", code)
		}
	}
	if len(up.Security) == 0 {
		t.Error("POST /media does not declare that it needs a token")
	}

	get, ok := doc.Paths["/media/{name}"]["get"]
	if !ok {
		t.Fatalf("no GET /media/{name} in %v", doc.Paths["/media/{name}"])
	}
	for _, code := range []string{"200", "404"} {
		if _, ok := get.Responses[code]; !ok {
			t.Errorf("GET /media/{name} does not document %s", code)
		}
	}
}

// jpegMarkers is testutil.JPEGMarkers, failing the test for a non-JPEG.
func jpegMarkers(t testing.TB, b []byte) []byte {
	t.Helper()
	m, err := testutil.JPEGMarkers(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
