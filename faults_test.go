//go:build linux

package main

// Faults of the machine under the server: a full disk, a read-only data
// directory, a damaged database. The disk-full and read-only cases run on
// a small tmpfs mounted for the test, which needs root; elsewhere they are
// skipped with the reason.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"moments/store"
)

// smallDisk mounts a tmpfs of the given size (e.g. "8m") on a new directory
// and unmounts it when the test ends, after the server has stopped.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs to fill needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("this machine does not allow mounting a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the disk is full and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// Whatever is left is smaller than a chunk: take it too.
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
	return path
}

// waitHealthz polls /healthz until it answers status with want in its body.
func waitHealthz(t *testing.T, base string, status int, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := healthz(t, base)
		if code == status && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz: %d %s; want %d with %q", code, body, status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func healthz(t *testing.T, base string) (int, string) {
	t.Helper()
	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, b.String()
}

// TestDiskFull: with the disk full, writes are answered 507 with a problem
// document that says so (not a run of bare 500s), /healthz says why it is
// unhealthy, reads go on, and once there is room again writes work.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	data := smallDisk(t, "8m")
	in := start(t, []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, nil)
	c := newClient(t, in.url, "alice", "alice-password")
	first := c.post("before the disk filled")
	photo := c.upload(1)

	filler := fill(t, data)
	full := 0
	var last []byte
	for i := 0; i < 5000 && full == 0; i++ {
		// Posts are small; the database needs a new page only now and
		// then, and the WAL reuses its space, so post until one needs room.
		_, err := c.tryPost(http.DefaultClient, strings.Repeat("a long post to fill the pages ", 100))
		var se *statusError
		switch {
		case err == nil:
		case errors.As(err, &se) && se.code == http.StatusInsufficientStorage:
			full++
			last = se.body
		default:
			t.Fatalf("post %d on a full disk: %v", i, err)
		}
	}
	if full == 0 {
		t.Fatal("5000 posts on a full disk all succeeded")
	}
	t.Logf("on the full disk: %s", last)
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(last, &p); err != nil || p.Status != 507 || !strings.Contains(p.Detail, "disk is full") {
		t.Errorf("507 body: %s", last)
	}
	if code, body := c.tryUpload(2); code != http.StatusInsufficientStorage {
		t.Errorf("an upload on a full disk: %d %s", code, body)
	}
	// The write check runs at most once a second.
	waitHealthz(t, in.url, http.StatusServiceUnavailable, "disk is full")
	if code, body := c.call("GET", fmt.Sprintf("/posts/%d", first), "", nil); code != http.StatusOK {
		t.Errorf("a read on a full disk: %d %s", code, body)
	}
	if strings.Count(in.stderr.String(), "level=ERROR") > 2*full+10 {
		t.Errorf("the log is flooded:\n%.2000s", in.stderr)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := c.tryPost(http.DefaultClient, "after the disk was cleared", photo); err != nil {
		t.Errorf("a post once there is room again: %v", err)
	}
	waitHealthz(t, in.url, http.StatusOK, `"ok"`)
	in.stop(t)
}

// TestReadOnlyDataDirectory: started on a read-only data directory, the
// server refuses to start with one line naming the directory and the
// reason. (Linux refuses to make a file system read-only while a server
// writes to it, so the running case is the full disk's, above.)
func TestReadOnlyDataDirectory(t *testing.T) {
	t.Parallel()
	data := smallDisk(t, "8m")
	in := start(t, []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, nil)
	newClient(t, in.url, "alice", "alice-password")
	in.stop(t)
	if out, err := exec.Command("mount", "-o", "remount,ro", data).CombinedOutput(); err != nil {
		t.Fatalf("remount ro: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("mount", "-o", "remount,rw", data).Run() })
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, envFrom(nil),
		strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), data) || !strings.Contains(err.Error(), "read-only") ||
		strings.Contains(err.Error(), "\n") {
		t.Errorf("serve on a read-only directory: %v", err)
	}
	t.Logf("refused: moments: %v", err)
}

// TestDamagedDatabaseRefused: a database that fails quick_check, or is no
// database at all, stops the server at start with one line naming the file.
func TestDamagedDatabaseRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, db string)
	}{
		{"pages overwritten", func(t *testing.T, db string) {
			f, err := os.OpenFile(db, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			// Keep the header (page 1) and damage every other page.
			garbage := bytes.Repeat([]byte{0xA5}, 4096)
			for off := int64(4096); off < st.Size(); off += 8192 {
				f.WriteAt(garbage, off)
			}
		}},
		{"not a database", func(t *testing.T, db string) {
			os.WriteFile(db, bytes.Repeat([]byte("not sqlite "), 1000), 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			in := start(t, []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, nil)
			c := newClient(t, in.url, "alice", "alice-password")
			for i := range 300 {
				c.post(fmt.Sprintf("%s %d", strings.Repeat("filling pages ", 20), i))
			}
			in.stop(t)
			db := filepath.Join(data, store.DBFile)
			tc.damage(t, db)
			err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, envFrom(nil),
				strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), "damaged") ||
				strings.Contains(err.Error(), "\n") {
				t.Errorf("serve on a damaged database: %v", err)
			}
			t.Logf("refused: moments: %v", err)
		})
	}
}
