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
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
	code, b := c.tryUpload(seed)
	if code != http.StatusCreated {
		c.t.Fatalf("upload: %d %s", code, b)
	}
	var up struct {
		URL string `json:"url"`
	}
	json.Unmarshal(b, &up)
	return up.URL
}

// tryUpload sends a PNG made from seed and returns the answer.
func (c *client) tryUpload(seed int) (int, []byte) {
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
	return c.call("POST", "/media", mw.FormDataContentType(), &body)
}

// post creates a post and returns its ID.
func (c *client) post(content string, media ...string) int64 {
	c.t.Helper()
	id, err := c.tryPost(http.DefaultClient, content, media...)
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

// tryPost creates a post and returns its ID, or why it was not created. It
// does not touch c.t, so other goroutines than the test's may call it.
func (c *client) tryPost(hc *http.Client, content string, media ...string) (int64, error) {
	body, _ := json.Marshal(map[string]any{"content": content, "media_urls": append([]string{}, media...)})
	req, err := http.NewRequest("POST", c.base+"/posts", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	if res.StatusCode != http.StatusCreated {
		return 0, &statusError{code: res.StatusCode, body: b}
	}
	var p struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.ID <= 0 {
		return 0, fmt.Errorf("post: a 201 without an id: %s", b)
	}
	return p.ID, nil
}

// statusError is an answer other than the one expected.
type statusError struct {
	code int
	body []byte
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.code, e.body) }

// feedIDs walks the whole feed and returns the ID of every post in it.
func (c *client) feedIDs() map[int64]bool {
	c.t.Helper()
	ids := map[int64]bool{}
	cursor := ""
	for {
		code, b := c.call("GET", "/posts?limit=100"+cursor, "", nil)
		var page struct {
			Items []struct {
				ID int64 `json:"id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &page); code != 200 || err != nil {
			c.t.Fatalf("feed: %d %v %s", code, err, b)
		}
		for _, p := range page.Items {
			ids[p.ID] = true
		}
		if page.NextCursor == nil {
			return ids
		}
		cursor = "&cursor=" + url.QueryEscape(*page.NextCursor)
	}
}

// A backup taken while the server runs and writes restores into a working
// instance with every post and photo it held: everything acknowledged
// before the backup began, and of the posts made during it a prefix (one
// snapshot, not a torn copy).
func TestBackupAndRestore(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	alice := newClient(t, in.url, "alice", "alice-password")
	posts := map[int64]string{} // post ID → its photo's URL
	for i := range 5 {
		photo := alice.upload(i + 1)
		posts[alice.post(fmt.Sprint("post with a photo ", i), photo)] = photo
	}

	// Keep writing while the backup runs; during holds the IDs of the
	// posts acknowledged, in order.
	var mu sync.Mutex
	var during []int64
	var stop atomic.Bool
	writerErr := make(chan error, 1)
	go func() {
		for i := 0; !stop.Load(); i++ {
			id, err := alice.tryPost(http.DefaultClient, fmt.Sprint("during the backup ", i))
			if err != nil {
				writerErr <- err
				return
			}
			mu.Lock()
			during = append(during, id)
			mu.Unlock()
		}
		writerErr <- nil
	}()
	for {
		mu.Lock()
		n := len(during)
		mu.Unlock()
		if n >= 10 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	outDir := t.TempDir()
	out := filepath.Join(outDir, "nightly.db")
	mu.Lock()
	ackedAtStart := len(during)
	mu.Unlock()
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"backup", "--data", data, out}, envFrom(nil), strings.NewReader(""), &stdout, io.Discard)
	stop.Store(true)
	if werr := <-writerErr; werr != nil {
		t.Fatalf("writing during the backup: %v", werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s(%d posts acknowledged when the backup began, %d by its end)", stdout.String(), ackedAtStart, len(during))
	if !strings.Contains(stdout.String(), "10 photo files") { // 5 photos, 5 thumbnails
		t.Errorf("summary: %s", stdout.String())
	}
	checkBackupFiles(t, outDir, "nightly.db", "nightly.media", 10)
	photos := map[string][]byte{}
	for _, photo := range posts {
		_, photos[photo] = alice.call("GET", photo, "", nil)
	}
	in.stop(t)

	// A second backup to the same name is refused.
	err = run(context.Background(), []string{"backup", "--data", data, out}, envFrom(nil), strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwriting a backup: %v", err)
	}

	// Restore as the README says, into a new data directory.
	restored := filepath.Join(t.TempDir(), "restored")
	if err := run(context.Background(), []string{"restore", "--data", restored, out}, envFrom(nil),
		strings.NewReader(""), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	again := start(t, []string{"--addr", "127.0.0.1:0", "--data", restored}, nil)
	defer again.stop(t)
	back := &client{t: t, base: again.url, token: signIn(t, again.url, "alice", "alice-password")}
	for id, photo := range posts {
		code, body := back.call("GET", fmt.Sprintf("/posts/%d", id), "", nil)
		if code != 200 || !strings.Contains(string(body), photo) {
			t.Errorf("post %d after restore: %d %s", id, code, body)
		}
		code, pic := back.call("GET", photo, "", nil)
		if code != 200 || !bytes.Equal(pic, photos[photo]) {
			t.Errorf("photo %s after restore: %d, %d bytes (want %d)", photo, code, len(pic), len(photos[photo]))
		}
		if code, _ = back.call("GET", photo+"?size=thumb", "", nil); code != 200 {
			t.Errorf("thumbnail of %s after restore: %d", photo, code)
		}
	}
	feed := back.feedIDs()
	kept := 0
	for kept < len(during) && feed[during[kept]] {
		kept++
	}
	if kept < ackedAtStart {
		t.Errorf("the restored feed holds %d of the %d posts acknowledged before the backup began", kept, ackedAtStart)
	}
	for _, id := range during[kept:] {
		if feed[id] {
			t.Errorf("post %d is in the backup but an earlier one (%d) is not: not one snapshot", id, during[kept])
		}
	}
	if len(feed) != len(posts)+kept {
		t.Errorf("the restored feed has %d posts, want %d", len(feed), len(posts)+kept)
	}
}

// checkBackupFiles checks what a backup left in dir: the database and the
// photo folder, private, and no temporary files.
func checkBackupFiles(t *testing.T, dir, db, mediaDir string, photos int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != db || names[1] != mediaDir {
		t.Errorf("the backup left %v, want [%s %s]", names, db, mediaDir)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{db, 0o600}, {mediaDir, 0o700 | os.ModeDir}} {
		if fi, err := os.Stat(filepath.Join(dir, c.path)); err != nil || fi.Mode() != c.mode {
			t.Errorf("%s: %v, mode %v (want %v)", c.path, err, fi.Mode(), c.mode)
		}
	}
	copied, _ := os.ReadDir(filepath.Join(dir, mediaDir))
	if len(copied) != photos {
		t.Errorf("%d files in %s, want %d", len(copied), mediaDir, photos)
	}
	for _, e := range copied {
		if fi, err := e.Info(); err != nil || fi.Mode() != 0o600 {
			t.Errorf("%s: %v, mode %v", e.Name(), err, fi.Mode())
		}
	}
}

func TestBackupCommandLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists.db")
	os.WriteFile(exists, nil, 0o600)
	os.Mkdir(filepath.Join(dir, "taken.media"), 0o700)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no output", []string{"backup"}, "exactly one output"},
		{"two outputs", []string{"backup", "--data", dir, "a.db", "b.db"}, "exactly one output"},
		{"not an instance", []string{"backup", "--data", filepath.Join(dir, "none"), filepath.Join(dir, "x.db")}, "holds no Moments database"},
		{"output exists", []string{"backup", "--data", dir, exists}, "already exists"},
		{"photo folder exists", []string{"backup", "--data", dir, filepath.Join(dir, "taken.db")}, "taken.media already exists"},
		{"output is the photo folder", []string{"backup", "--data", dir, filepath.Join(dir, "x.media")}, "not ending in .media"},
		{"unknown flag", []string{"backup", "--force", "x.db"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, envFrom(nil), strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
		})
	}
	var help bytes.Buffer
	if err := run(context.Background(), []string{"backup", "--help"}, envFrom(nil), strings.NewReader(""), &help, io.Discard); err != nil ||
		!strings.Contains(help.String(), "OUT.media") || !strings.Contains(help.String(), "MOMENTS_JWT_SECRET") {
		t.Errorf("help: %v %s", err, help.String())
	}
}

// A backup that fails halfway (here: the photos cannot be read) leaves
// nothing under the names asked for, and no temporary files.
func TestBackupFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	newClient(t, in.url, "alice", "alice-password").post("hello")
	in.stop(t)
	if err := os.RemoveAll(filepath.Join(data, "media")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "media"), []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	err := run(context.Background(), []string{"backup", "--data", data, filepath.Join(outDir, "b.db")},
		envFrom(nil), strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "copying photos") {
		t.Fatalf("err = %v", err)
	}
	if left, _ := os.ReadDir(outDir); len(left) != 0 {
		t.Errorf("a failed backup left %v", left)
	}
}

// An instance that never stored a photo backs up to an empty photo folder,
// so restoring is the same steps for every backup.
func TestBackupWithoutPhotos(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	in.stop(t)
	os.RemoveAll(filepath.Join(data, "media"))
	outDir := t.TempDir()
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"backup", "--data", data, filepath.Join(outDir, "empty")},
		envFrom(nil), &bytes.Buffer{}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "0 photo files") {
		t.Errorf("summary: %s", stdout.String())
	}
	checkBackupFiles(t, outDir, "empty", "empty.media", 0)
}
