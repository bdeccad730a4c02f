package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// runCmd runs one moments command in-process and returns its stdout.
func runCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, envFrom(nil), strings.NewReader(stdin), &out, io.Discard)
	return out.String(), err
}

// onlyOne returns the one path matching pattern.
func onlyOne(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		t.Fatalf("%s matches %v, want one", pattern, m)
	}
	return m[0]
}

// queryPosts opens a database file read-only and returns its posts' content.
func queryPosts(t *testing.T, dbPath string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ok string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("%s: integrity_check %q, %v", dbPath, ok, err)
	}
	rows, err := db.Query(`SELECT content FROM posts ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var contents []string
	for rows.Next() {
		var c string
		rows.Scan(&c)
		contents = append(contents, c)
	}
	return contents
}

// listDir names what is in dir, for comparing before and after.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A backup restored over the instance it came from brings its posts and
// photos back; what it replaced is kept aside, whole; the signing key is
// not touched, so a token from before still works; a running server is
// never restored under.
func TestRestoreOverAnInstance(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	alice := newClient(t, in.url, "alice", "alice-password")
	photos := map[int64]string{}
	for i := range 2 {
		photo := alice.upload(i + 1)
		photos[alice.post(fmt.Sprint("before the backup ", i), photo)] = photo
	}
	pics := map[string][]byte{}
	for _, photo := range photos {
		_, pics[photo] = alice.call("GET", photo, "", nil)
	}
	out := filepath.Join(t.TempDir(), "nightly.db")
	if _, err := runCmd(t, "", "backup", "--data", data, out); err != nil {
		t.Fatal(err)
	}

	// The instance moves on: a new post, and a photo file lost.
	later := alice.post("after the backup")
	var lost string
	for _, photo := range photos {
		lost = path.Base(photo)
		break
	}
	if err := os.Remove(filepath.Join(data, "media", lost)); err != nil {
		t.Fatal(err)
	}
	in.stop(t)
	// Only what the media library names is copied in.
	if err := os.WriteFile(filepath.Join(filepath.Dir(out), "nightly.media", "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret, err := os.ReadFile(filepath.Join(data, "jwt-secret"))
	if err != nil {
		t.Fatal(err)
	}

	stdout, err := runCmd(t, "", "restore", "--data", data, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(stdout)
	keptDB := onlyOne(t, filepath.Join(data, "moments.db.before-restore-*"))
	keptMedia := onlyOne(t, filepath.Join(data, "media.before-restore-*"))
	for _, want := range []string{
		"checked " + out + ": intact, a Moments database at schema version ",
		"kept the replaced database as " + keptDB + "\n",
		"restored the database from " + out + " to " + filepath.Join(data, "moments.db"),
		"kept the replaced photos as " + keptMedia + "\n",
		"restored 4 photo files", // 2 photos, 2 thumbnails
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, "\n"); n != 5 {
		t.Errorf("%d lines, want 5", n)
	}

	// What was replaced is kept: the database is whole and has the later
	// post, the photo folder lacks the lost photo.
	if got := queryPosts(t, keptDB); !slices.Contains(got, "after the backup") {
		t.Errorf("the kept database holds %v", got)
	}
	if _, err := os.Stat(filepath.Join(keptMedia, lost)); !os.IsNotExist(err) {
		t.Errorf("the kept photos: %v", err)
	}
	if now, _ := os.ReadFile(filepath.Join(data, "jwt-secret")); !bytes.Equal(now, secret) {
		t.Error("jwt-secret changed")
	}
	if left, _ := filepath.Glob(filepath.Join(data, "*.restore-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	checkMode := func(p string, mode os.FileMode) {
		t.Helper()
		if fi, err := os.Stat(p); err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, mode %v (want %v)", p, err, fi.Mode(), mode)
		}
	}
	checkMode(filepath.Join(data, "moments.db"), 0o600)
	checkMode(filepath.Join(data, "media"), 0o700|os.ModeDir)
	checkMode(filepath.Join(data, "media", lost), 0o600)
	if _, err := os.Stat(filepath.Join(data, "media", "notes.txt")); !os.IsNotExist(err) {
		t.Errorf("a stray file was copied in: %v", err)
	}

	again := start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	alice.base = again.url // the same token: the signing key stayed
	for id, photo := range photos {
		if code, body := alice.call("GET", fmt.Sprintf("/posts/%d", id), "", nil); code != 200 || !strings.Contains(string(body), photo) {
			t.Errorf("post %d after the restore: %d %s", id, code, body)
		}
		if code, pic := alice.call("GET", photo, "", nil); code != 200 || !bytes.Equal(pic, pics[photo]) {
			t.Errorf("photo %s after the restore: %d, %d bytes", photo, code, len(pic))
		}
	}
	if code, _ := alice.call("GET", fmt.Sprintf("/posts/%d", later), "", nil); code != http.StatusNotFound {
		t.Errorf("the post made after the backup: %d, want 404", code)
	}

	// Not under a running server.
	before := listDir(t, data)
	want := fmt.Sprintf("%s is in use by another Moments process (pid %d); stop it first", data, os.Getpid())
	if stdout, err := runCmd(t, "", "restore", "--data", data, out); err == nil || err.Error() != want || stdout != "" {
		t.Errorf("restore beside a server: %v, %q; want %q", err, stdout, want)
	}
	if after := listDir(t, data); !slices.Equal(after, before) {
		t.Errorf("a refused restore changed %v into %v", before, after)
	}
	again.stop(t)
}

// A damaged backup, or one that is no Moments database, is refused with one
// line before anything in the data directory changes.
func TestRestoreRefusesBadBackups(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	newClient(t, in.url, "alice", "alice-password").post("hello")
	out := filepath.Join(t.TempDir(), "b.db")
	if _, err := runCmd(t, "", "backup", "--data", data, out); err != nil {
		t.Fatal(err)
	}
	in.stop(t)
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// A whole page in the middle: every page of a VACUUM INTO copy is in use.
	const page = 4096
	mid := len(raw) / page / 2 * page
	for i := mid; i < mid+page; i++ {
		raw[i] ^= 0x5a
	}
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	os.WriteFile(damaged, raw, 0o600)
	notes := filepath.Join(t.TempDir(), "notes.db")
	os.WriteFile(notes, bytes.Repeat([]byte("shopping list\n"), 400), 0o600)
	db, _ := os.ReadFile(filepath.Join(data, "moments.db"))
	before := listDir(t, data)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"damaged", []string{"restore", "--data", data, damaged}, damaged + " is damaged"},
		{"not a database", []string{"restore", "--data", data, notes}, notes + " is not a database"},
		{"missing", []string{"restore", "--data", data, filepath.Join(data, "none.db")}, "no such file"},
		{"its own database", []string{"restore", "--data", data, filepath.Join(data, "moments.db")}, "is the database of"},
		{"no backup named", []string{"restore", "--data", data}, "want exactly one backup file"},
		{"two", []string{"restore", "--data", data, out, out}, "want exactly one backup file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, err := runCmd(t, "", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line with %q", err, tc.want)
			}
			if stdout != "" {
				t.Errorf("output: %q", stdout)
			}
		})
	}
	if after := listDir(t, data); !slices.Equal(after, before) {
		t.Errorf("refused restores changed %v into %v", before, after)
	}
	if now, _ := os.ReadFile(filepath.Join(data, "moments.db")); !bytes.Equal(now, db) {
		t.Error("refused restores changed the database")
	}
}

// A backup of an older version restores into a directory that does not
// exist yet (nothing to keep aside), and the next start migrates it,
// keeping the pre-migrate copy.
func TestRestoreOlderBackupIntoNewDirectory(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	newClient(t, in.url, "alice", "alice-password").post("from an older version")
	in.stop(t)
	if _, err := runCmd(t, "", "migrate", "down", "--data", data); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "old.db")
	if _, err := runCmd(t, "", "backup", "--data", data, out); err != nil {
		t.Fatal(err)
	}

	fresh := filepath.Join(t.TempDir(), "new", "data")
	stdout, err := runCmd(t, "", "restore", "--data", fresh, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(stdout)
	if strings.Contains(stdout, "kept") || !strings.Contains(stdout, "restored 0 photo files") ||
		!strings.Contains(stdout, "the next moments serve migrates the database from version ") {
		t.Errorf("output:\n%s", stdout)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("new data directory: %v, mode %v", err, fi.Mode())
	}
	if got := listDir(t, fresh); !slices.Equal(got, []string{"media", "moments.db", "moments.lock"}) {
		t.Errorf("the new data directory holds %v", got)
	}

	srv := start(t, []string{"--addr", "127.0.0.1:0", "--data", fresh}, nil)
	c := &client{t: t, base: srv.url, token: signIn(t, srv.url, "alice", "alice-password")}
	if code, body := c.call("GET", "/posts?limit=5", "", nil); code != 200 || !strings.Contains(string(body), "from an older version") {
		t.Errorf("feed: %d %s", code, body)
	}
	srv.stop(t)
	snap := onlyOne(t, filepath.Join(fresh, "backups", "pre-migrate-*.db"))

	// Back to before the upgrade, from the copy it made; the photos stay.
	stdout, err = runCmd(t, "", "restore", "--data", fresh, snap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "no photo folder "+strings.TrimSuffix(snap, ".db")+".media beside the backup") ||
		!strings.Contains(stdout, "the next moments serve migrates the database") {
		t.Errorf("restoring the pre-migrate copy:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(fresh, "media")); err != nil {
		t.Errorf("media/ after restoring the pre-migrate copy: %v", err)
	}
	status, err := runCmd(t, "", "migrate", "status", "--data", fresh)
	if err != nil || strings.Count(status, "pending") != 1 {
		t.Errorf("status after going back:\n%s%v", status, err)
	}
}

// The database of a server that was killed has its last writes in the
// -wal: restoring over it keeps the -wal beside the kept copy, which so
// stays whole, and none beside the restored one.
func TestRestoreKeepsTheWALWithItsDatabase(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	in := start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	newClient(t, in.url, "alice", "alice-password").post("backed up")
	in.stop(t)
	out := filepath.Join(t.TempDir(), "b.db")
	if _, err := runCmd(t, "", "backup", "--data", data, out); err != nil {
		t.Fatal(err)
	}

	// What a kill leaves: a write only in the -wal, copied while the
	// database is open (as the files are at the moment of a crash).
	live, err := sql.Open("sqlite", "file:"+filepath.Join(data, "moments.db")+"?_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := live.Exec(`INSERT INTO posts (user_id, content, media_urls, created_at) VALUES (1, 'only in the wal', '[]', 1)`); err != nil {
		t.Fatal(err)
	}
	crashed := t.TempDir()
	for _, name := range []string{"moments.db", "moments.db-wal"} {
		b, err := os.ReadFile(filepath.Join(data, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(crashed, name), b, 0o600)
	}
	live.Close()

	stdout, err := runCmd(t, "", "restore", "--data", crashed, out)
	if err != nil {
		t.Fatal(err)
	}
	kept := onlyOne(t, filepath.Join(crashed, "moments.db.before-restore-*[0-9]Z"))
	if !strings.Contains(stdout, "kept the replaced database as "+kept+", "+kept+"-wal\n") {
		t.Errorf("output:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(crashed, "moments.db-wal")); !os.IsNotExist(err) {
		t.Errorf("a -wal beside the restored database: %v", err)
	}
	if got := queryPosts(t, kept); !slices.Contains(got, "only in the wal") {
		t.Errorf("the kept copy lost its -wal's write: %v", got)
	}
	if got := queryPosts(t, filepath.Join(crashed, "moments.db")); !slices.Equal(got, []string{"backed up"}) {
		t.Errorf("the restored database holds %v", got)
	}
}
