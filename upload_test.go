//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"moments/app"
)

// Uploads that stop just before their last boundary cost the server a
// temporary file each, not memory: 50 of them, 10 MB each and all being
// read at once, raise the real binary's resident set by less than 64 MiB
// (held in memory, as they were before, they raised it by about 780 MiB).
// Breaking them off removes their files.
func TestStalledUploadsCostFilesNotMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("the server's resident set size is read from /proc/PID/status, which this system lacks:", err)
	}
	t.Parallel()
	const (
		uploads   = 50
		bodyBytes = 10_000_000
		perUser   = 3 // the per-account bound on uploads being read
		accounts  = (uploads + perUser - 1) / perUser
		boundary  = "stalled-upload-boundary"
		maxGrowth = 64 // MiB
	)
	data := t.TempDir()
	srv := startBinary(t, data, "--max-upload", "16MiB", "--trusted-proxies", "127.0.0.1/32")
	pid := srv.cmd.Process.Pid
	tokens := make([]string, accounts)
	for i := range tokens {
		name, password := fmt.Sprint("uploader", i), fmt.Sprint("password-", i)
		err := run(context.Background(), []string{"user", "create", name, "--data", data},
			envFrom(nil), strings.NewReader(password+"\n"), io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		// One address per account: 17 sign-ins from one would meet its limit.
		tokens[i] = signInFrom(t, srv.url, name, password, fmt.Sprintf("192.0.2.%d", i+1))
	}

	// Everything of a 10 MB multipart body but its closing boundary. The
	// file's last byte is not '\r', so the server's multipart reader, which
	// holds back what could be the start of a boundary, passes all of it on.
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\n" +
		"Content-Type: image/jpeg\r\n\r\n"
	tail := "\r\n--" + boundary + "--\r\n"
	file := make([]byte, bodyBytes-len(head)-len(tail))
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(file)
	copy(file, "\xff\xd8\xff\xe0")
	file[len(file)-1] = 'x'
	sent := append([]byte(head), file...)

	before := procMemory(t, pid, "VmRSS")
	conns := make([]net.Conn, uploads)
	answered := make(chan string, uploads) // anything the server says while the uploads stall
	var writes sync.WaitGroup
	for i := range conns {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = conn
		t.Cleanup(func() { conn.Close() })
		request := fmt.Sprintf("POST /media HTTP/1.1\r\nHost: moments\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n",
			tokens[i%accounts], boundary, bodyBytes)
		writes.Go(func() {
			if _, err := (&net.Buffers{[]byte(request), sent}).WriteTo(conn); err != nil {
				t.Errorf("upload %d: %v", i, err)
			}
		})
		go func() {
			b := make([]byte, 512)
			if n, _ := conn.Read(b); n > 0 {
				answered <- fmt.Sprintf("upload %d: %q", i, b[:n])
			}
		}()
	}

	// The server has read them all when each one's temporary file holds
	// the whole photo.
	mediaDir := filepath.Join(data, app.MediaDir)
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		sizes := tempFileSizes(t, mediaDir)
		full := 0
		for _, n := range sizes {
			if n == int64(len(file)) {
				full++
			}
		}
		if full == uploads {
			break
		}
		select {
		case a := <-answered:
			t.Fatalf("the server answered a stalled upload: %s", a)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s %d of %d uploads are read (temporary files: %v)\n%s", full, uploads, sizes, srv.stderr)
		}
	}
	writes.Wait()
	after := procMemory(t, pid, "VmRSS")
	t.Logf("%d stalled uploads of %d bytes from %d accounts: server VmRSS %.1f MiB before, %.1f MiB with all read (+%.1f MiB); VmHWM %.1f MiB",
		uploads, bodyBytes, accounts, before, after, after-before, peakRSS(t, pid))
	if before == 0 || after == 0 {
		t.Fatal("no VmRSS figure")
	}
	if after-before >= maxGrowth {
		t.Errorf("VmRSS rose by %.1f MiB, want under %d MiB", after-before, maxGrowth)
	}

	for _, conn := range conns {
		conn.Close()
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left := tempFileSizes(t, mediaDir)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the uploads broke off, %d temporary files are left", len(left))
		}
	}
	srv.terminate(t)
}

// tempFileSizes lists the sizes of the temporary upload files in dir, the
// uploads the server is receiving.
func tempFileSizes(t *testing.T, dir string) []int64 {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "upload-*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	for _, name := range names {
		if st, err := os.Stat(name); err == nil { // it may be removed meanwhile
			sizes = append(sizes, st.Size())
		}
	}
	return sizes
}
