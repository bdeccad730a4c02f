package app

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// staticFiles serves an embedded file tree: correct types, gzip where it
// pays (precompressed `name.gz` files are used as they are), strong ETags
// so browsers revalidate cheaply, and Range requests.
type staticFiles struct {
	fsys         fs.FS
	cacheControl string
	htmlPolicy   string // Content-Security-Policy of the HTML pages

	mu     sync.Mutex
	assets map[string]*asset
}

// asset is one logical file. Its bodies are read and compressed on first
// use, not at start-up.
type asset struct {
	once  sync.Once
	err   error
	ctype string
	etag  string
	plain []byte // nil when only a precompressed copy is embedded
	gz    []byte // nil when compression does not pay
}

func newStaticFiles(fsys fs.FS, cacheControl, htmlPolicy string) *staticFiles {
	return &staticFiles{fsys: fsys, cacheControl: cacheControl, htmlPolicy: htmlPolicy, assets: map[string]*asset{}}
}

// exists reports whether name (slash-separated, no leading slash) is served.
func (sf *staticFiles) exists(name string) bool {
	if !fs.ValidPath(name) || name == "." || strings.HasSuffix(name, ".gz") {
		return false
	}
	for _, n := range []string{name, name + ".gz"} {
		if fi, err := fs.Stat(sf.fsys, n); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

func (sf *staticFiles) load(name string) (*asset, error) {
	sf.mu.Lock()
	a := sf.assets[name]
	if a == nil {
		a = &asset{}
		sf.assets[name] = a
	}
	sf.mu.Unlock()
	a.once.Do(func() { a.err = a.fill(sf.fsys, name) })
	return a, a.err
}

func (a *asset) fill(fsys fs.FS, name string) error {
	a.ctype = mime.TypeByExtension(path.Ext(name))
	if a.ctype == "" {
		a.ctype = "application/octet-stream"
	}
	plain, err := fs.ReadFile(fsys, name)
	if err == nil {
		a.plain = plain
		a.gz = gzipIfSmaller(a.ctype, plain)
	} else {
		gz, gzErr := fs.ReadFile(fsys, name+".gz")
		if gzErr != nil {
			return err
		}
		a.gz = gz
	}
	sum := sha256.New()
	if a.plain != nil {
		sum.Write(a.plain)
	} else {
		sum.Write(a.gz)
	}
	a.etag = `"` + hex.EncodeToString(sum.Sum(nil)[:12]) + `"`
	return nil
}

// gzipIfSmaller compresses text-like files when it saves at least a tenth.
func gzipIfSmaller(ctype string, b []byte) []byte {
	if len(b) < 512 || !(strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")) {
		return nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if buf.Len() > len(b)*9/10 {
		return nil
	}
	return buf.Bytes()
}

// serve writes file name, or a 404 problem when it does not exist.
func (sf *staticFiles) serve(w http.ResponseWriter, r *http.Request, name string) {
	if !sf.exists(name) {
		writeProblem(w, http.StatusNotFound, "No such page.")
		return
	}
	a, err := sf.load(name)
	if err != nil {
		writeProblem(w, http.StatusNotFound, "No such page.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", sf.cacheControl)
	if strings.HasPrefix(a.ctype, "text/html") {
		h.Set("Content-Security-Policy", sf.htmlPolicy)
	}
	body, etag := a.plain, a.etag
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			// Each representation has its own strong validator.
			body, etag = a.gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
		}
	}
	h.Set("ETag", etag)
	if body == nil {
		// Only a compressed copy exists and the client cannot take it:
		// inflate while sending (no Range support for this rare case).
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(a.gz))
		if err != nil {
			writeProblem(w, http.StatusInternalServerError, "Corrupt embedded file.")
			return
		}
		if r.Method != http.MethodHead {
			_, _ = io.Copy(w, zr)
		}
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		if _, q, ok := strings.Cut(params, "q="); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
			return err == nil && v > 0
		}
		return true
	}
	return false
}
