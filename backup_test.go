package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// client talks to a running instance as one signed-up user.
type client struct {
	t     testing.TB
	base  string
	token string
}

func newClient(t testing.TB, base, name, password string) *client {
	t.Helper()
	res, err := http.Post(base+"/auth/register", "application/json",
		strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, name, password)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return &client{t: t, base: base, token: signIn(t, base, name, password)}
}

func (c *client) call(method, path, ctype string, body io.Reader) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// upload stores a PNG and returns its /media/ URL.
func (c *client) upload(seed int) string {
	c.t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = byte(i*seed + seed)
	}
	img.Set(0, 0, color.RGBA{byte(seed), 1, 2, 255})
	var pic, body bytes.Buffer
	png.Encode(&pic, img)
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "photo.png")
	fw.Write(pic.Bytes())
	mw.Close()
	code, b := c.call("POST", "/media", mw.FormDataContentType(), &body)
	if code != http.StatusCreated {
		c.t.Fatalf("upload: %d %s", code, b)
	}
	var up struct {
		URL string `json:"url"`
	}
	json.Unmarshal(b, &up)
	return up.URL
}

// post creates a post and returns its ID.
func (c *client) post(content string, media ...string) int64 {
	c.t.Helper()
	body, _ := json.Marshal(map[string]any{"content": content, "media_urls": append([]string{}, media...)})
	code, b := c.call("POST", "/posts", "application/json", bytes.NewReader(body))
	if code != http.StatusCreated {
		c.t.Fatalf("post: %d %s", code, b)
	}
	var p struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal(b, &p)
	return p.ID
}

func TestBackupAndRestore(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	alice := newClient(t, in.url, "alice", "alice-password")
	posts := map[int64][]string{}
	for i := range 5 {
		photo := alice.upload(i + 1)
		posts[alice.post(fmt.Sprint("post with a photo ", i), photo)] = []string{photo}
	}

	// Keep writing while the backup runs.
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			alice.post(fmt.Sprint("during the backup ", i))
		}
	}()
	out := filepath.Join(t.TempDir(), "nightly.db")
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"backup", "--data", data, out}, envFrom(nil), strings.NewReader(""), &stdout, io.Discard)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "10 photo files") {
		t.Errorf("summary: %s", stdout.String())
	}
	photos := map[string][]byte{}
	for _, media := range posts {
		_, photos[media[0]] = alice.call("GET", media[0], "", nil)
	}
	in.stop(t)

	// A second backup to the same name is refused.
	err = run(context.Background(), []string{"backup", "--data", data, out}, envFrom(nil), strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwriting a backup: %v", err)
	}

	// Restore as the README says: a new data directory with the copy as
	// moments.db and the photos as media/.
	restored := t.TempDir()
	if err := os.Rename(out, filepath.Join(restored, "moments.db")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(strings.TrimSuffix(out, ".db")+".media", filepath.Join(restored, "media")); err != nil {
		t.Fatal(err)
	}
	again := start(t, []string{"--addr", "127.0.0.1:0", "--data", restored}, nil)
	defer again.stop(t)
	back := &client{t: t, base: again.url, token: signIn(t, again.url, "alice", "alice-password")}
	for id, media := range posts {
		code, body := back.call("GET", fmt.Sprintf("/posts/%d", id), "", nil)
		if code != 200 || !strings.Contains(string(body), media[0]) {
			t.Errorf("post %d after restore: %d %s", id, code, body)
		}
		code, pic := back.call("GET", media[0], "", nil)
		if code != 200 || !bytes.Equal(pic, photos[media[0]]) {
			t.Errorf("photo %s after restore: %d, %d bytes (want %d)", media[0], code, len(pic), len(photos[media[0]]))
		}
		code, _ = back.call("GET", media[0]+"?size=thumb", "", nil)
		if code != 200 {
			t.Errorf("thumbnail of %s after restore: %d", media[0], code)
		}
	}
}

func TestBackupCommandLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists.db")
	os.WriteFile(exists, nil, 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"backup"}, "exactly one output"},
		{[]string{"backup", "--data", dir, "a.db", "b.db"}, "exactly one output"},
		{[]string{"backup", "--data", filepath.Join(dir, "none"), filepath.Join(dir, "x.db")}, "holds no Moments database"},
		{[]string{"backup", "--data", dir, exists}, "already exists"},
	} {
		err := run(context.Background(), tc.args, envFrom(nil), strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
	var help bytes.Buffer
	if err := run(context.Background(), []string{"backup", "--help"}, envFrom(nil), strings.NewReader(""), &help, io.Discard); err != nil ||
		!strings.Contains(help.String(), "OUT.media") {
		t.Errorf("help: %v %s", err, help.String())
	}
}
