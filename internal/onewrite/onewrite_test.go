package onewrite_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"moments/internal/onewrite"
)

// countingListener counts the writes to its connections, as system calls
// would, and fails them when told to.
type countingListener struct {
	net.Listener
	writes atomic.Int64
	fail   atomic.Bool
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Write(p []byte) (int, error) {
	if c.l.fail.Load() {
		return 0, errors.New("write failed")
	}
	c.l.writes.Add(1)
	return c.Conn.Write(p)
}

// serve runs h on 127.0.0.1 behind onewrite.Listener, which wraps cl, and
// returns its URL.
func serve(t *testing.T, cl *countingListener, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl.Listener = ln
	srv := &http.Server{Handler: h, ConnContext: onewrite.ConnContext}
	go srv.Serve(onewrite.Listener{Listener: cl})
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func get(t *testing.T, client *http.Client, method, url string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, got
}

func TestWriteSendsHeaderAndBodyInOneWrite(t *testing.T) {
	for _, size := range []int{0, 100, 4096, 9_500, 300_000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			want := body(size)
			cl := &countingListener{}
			url := serve(t, cl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				if err := onewrite.Write(r.Context(), w, http.StatusCreated, want); err != nil {
					t.Error(err)
				}
			}))
			client := &http.Client{Transport: &http.Transport{}}
			// Two requests on one connection: the second must still work
			// after the first was sent past net/http.
			for i := range 2 {
				before := cl.writes.Load()
				res, got := get(t, client, http.MethodGet, url)
				if res.StatusCode != http.StatusCreated || res.Header.Get("Content-Type") != "text/plain" {
					t.Fatalf("request %d: status %d, Content-Type %q", i, res.StatusCode, res.Header.Get("Content-Type"))
				}
				if res.ContentLength != int64(size) || len(res.TransferEncoding) != 0 {
					t.Errorf("request %d: Content-Length %d, Transfer-Encoding %v; want %d, none", i, res.ContentLength, res.TransferEncoding, size)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("request %d: body of %d bytes differs from the %d written", i, len(got), size)
				}
				if n := cl.writes.Load() - before; n != 1 {
					t.Errorf("request %d: %d writes, want 1", i, n)
				}
			}
		})
	}
}

func TestWriteHEADSendsHeaderOnly(t *testing.T) {
	url := serve(t, &countingListener{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		onewrite.Write(r.Context(), w, http.StatusOK, body(5000))
	}))
	client := &http.Client{Transport: &http.Transport{}}
	res, got := get(t, client, http.MethodHead, url)
	if res.StatusCode != http.StatusOK || res.ContentLength != 5000 || len(got) != 0 {
		t.Fatalf("status %d, Content-Length %d, %d body bytes; want 200, 5000, 0", res.StatusCode, res.ContentLength, len(got))
	}
	// The connection is still in step: a GET on it gets its whole body.
	res, got = get(t, client, http.MethodGet, url)
	if res.StatusCode != http.StatusOK || len(got) != 5000 {
		t.Fatalf("GET after HEAD: status %d, %d bytes", res.StatusCode, len(got))
	}
}

// Without onewrite.Listener (here httptest's server) Write is a plain write
// with the same response.
func TestWriteWithoutListener(t *testing.T) {
	want := body(9_500)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := onewrite.Write(r.Context(), w, http.StatusAccepted, want); err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()
	res, got := get(t, srv.Client(), http.MethodGet, srv.URL)
	if res.StatusCode != http.StatusAccepted || res.ContentLength != int64(len(want)) || !bytes.Equal(got, want) {
		t.Fatalf("status %d, Content-Length %d, %d bytes", res.StatusCode, res.ContentLength, len(got))
	}
}

// A response written the ordinary way through a Listener connection, and a
// file sent by http.ServeContent (sendfile, through Conn.ReadFrom), arrive
// whole.
func TestOtherWritesPassThrough(t *testing.T) {
	file := filepath.Join(t.TempDir(), "photo.bin")
	want := body(200_000)
	if err := os.WriteFile(file, want, 0o600); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(want); i += 7_000 {
			w.Write(want[i:min(i+7_000, len(want))])
		}
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(file)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "photo.bin", time.Time{}, f)
	})
	url := serve(t, &countingListener{}, mux)
	client := &http.Client{Transport: &http.Transport{}}
	for _, path := range []string{"/stream", "/file", "/stream"} {
		res, got := get(t, client, http.MethodGet, url+path)
		if res.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Fatalf("%s: status %d, %d bytes, want 200 and %d", path, res.StatusCode, len(got), len(want))
		}
	}
}

// When the held response cannot be sent, Write says so and closes the
// connection, so that net/http does not read another request from it.
func TestWriteFailureClosesConnection(t *testing.T) {
	cl := &countingListener{}
	errs := make(chan error, 1)
	url := serve(t, cl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl.fail.Store(true)
		errs <- onewrite.Write(r.Context(), w, http.StatusOK, body(9_500))
		cl.fail.Store(false)
	}))
	client := &http.Client{Transport: &http.Transport{}}
	if res, err := client.Get(url); err == nil {
		res.Body.Close()
		t.Fatalf("got a response (status %d) that was never sent", res.StatusCode)
	}
	if err := <-errs; err == nil {
		t.Fatal("Write reported no error")
	}
}
