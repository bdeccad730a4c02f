//go:build unix

package main

// Crash safety, tested against the real binary (built once per test run by
// momentsBinary, in loadbench_test.go), killed with SIGKILL as a crash
// would kill it.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// Every post the server answered 201 for survives a SIGKILL in the middle
// of writing, because a write is acknowledged only after its commit and a
// commit in WAL mode is in the operating system's hands (the -wal file)
// before the answer goes out.
func TestKillDuringWritesLosesNothingAcknowledged(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	srv := startServing(t, data)
	c := newClient(t, srv.url, "writer", "writer-password")
	srv.terminate(t)

	var acknowledged []int64 // over all rounds
	for round, runFor := range []time.Duration{300 * time.Millisecond, 900 * time.Millisecond, 1500 * time.Millisecond} {
		srv := startServing(t, data)
		c.base = srv.url // the token outlives restarts: the signing key is in data
		w := writeUntilKilled(t, srv, c, 8, runFor, fmt.Sprint("round ", round))
		acknowledged = append(acknowledged, w.acknowledged...)

		// Restart on the same data: the server itself recovers the WAL
		// the killed process left.
		srv = startServing(t, data)
		c.base = srv.url
		feed := c.feedIDs()
		lost := 0
		for _, id := range acknowledged {
			if !feed[id] {
				lost++
			}
		}
		// The last acknowledged writes were the closest to the kill: read
		// them one by one as well.
		for _, id := range w.acknowledged[max(0, len(w.acknowledged)-50):] {
			if code, body := c.call("GET", fmt.Sprintf("/posts/%d", id), "", nil); code != 200 {
				t.Errorf("round %d: acknowledged post %d: %d %s", round, id, code, body)
			}
		}
		srv.terminate(t)
		integrityCheck(t, data)
		t.Logf("round %d: SIGKILL after %v: %d writes acknowledged, %d refused, %d cut off by the kill; "+
			"after restart %d of %d acknowledged so far are there, lost %d; integrity_check ok",
			round, runFor, len(w.acknowledged), w.refused, w.cutOff, len(acknowledged)-lost, len(acknowledged), lost)
		if lost > 0 {
			t.Errorf("round %d: %d acknowledged posts were lost", round, lost)
		}
		if w.refused > 0 {
			t.Errorf("round %d: %d writes refused before the kill", round, w.refused)
		}
		if w.cutOff == 0 {
			t.Errorf("round %d: no write was in flight at the kill", round)
		}
	}
}

// writeResult is what the writers of one round saw.
type writeResult struct {
	acknowledged []int64 // IDs of the posts answered 201
	refused      int     // answers other than 201
	cutOff       int     // requests without a complete answer: in flight at the kill
}

// writeUntilKilled runs writers that post as fast as they can, SIGKILLs
// the server after d while they are still writing, and returns once every
// writer has seen the server go.
func writeUntilKilled(t *testing.T, srv *process, c *client, writers int, d time.Duration, label string) writeResult {
	t.Helper()
	var mu sync.Mutex
	var res writeResult
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
			for i := 0; ; i++ {
				id, err := c.tryPost(hc, fmt.Sprintf("%s writer %d post %d", label, w, i))
				mu.Lock()
				var refused *statusError
				switch {
				case err == nil:
					res.acknowledged = append(res.acknowledged, id)
				case errors.As(err, &refused):
					res.refused++
				default:
					res.cutOff++
				}
				mu.Unlock()
				if err != nil && refused == nil {
					return // the server is gone
				}
			}
		}()
	}
	time.Sleep(d)
	srv.kill()
	wg.Wait()
	return res
}

// 32 writers and 32 readers at once for 3 s: every request answered as it
// should be (no 5xx at all), and no lock contention in the log: the one
// writer connection queues writes in Go, and WAL readers never wait for it.
func TestCrashSafetyUnderConcurrentLoad(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	srv := startServing(t, data)
	c := newClient(t, srv.url, "busy", "busy-password")
	first := c.post("the first post")

	var mu sync.Mutex
	counts := map[string]int{}   // "write", "read"
	statuses := map[string]int{} // "write 201", "read 200", …
	var transportErrs []error
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * time.Second)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for i := 0; time.Now().Before(deadline); i++ {
				var req *http.Request
				kind := "read"
				switch {
				case g < 32:
					kind = "write"
					req, _ = http.NewRequest("POST", srv.url+"/posts",
						strings.NewReader(fmt.Sprintf(`{"content":"busy %d %d"}`, g, i)))
					req.Header.Set("Content-Type", "application/json")
				case i%2 == 0:
					req, _ = http.NewRequest("GET", srv.url+"/posts?limit=20", nil)
				default:
					req, _ = http.NewRequest("GET", fmt.Sprintf("%s/posts/%d", srv.url, first), nil)
				}
				req.Header.Set("Authorization", "Bearer "+c.token)
				res, err := hc.Do(req)
				if err != nil {
					mu.Lock()
					transportErrs = append(transportErrs, err)
					mu.Unlock()
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				counts[kind]++
				statuses[fmt.Sprint(kind, " ", res.StatusCode)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	srv.terminate(t)
	t.Logf("in 3 s: %d writes, %d reads; answers: %v", counts["write"], counts["read"], statuses)
	if len(transportErrs) > 0 {
		t.Errorf("%d requests failed outright, e.g. %v", len(transportErrs), transportErrs[0])
	}
	for s, n := range statuses {
		if s != "write 201" && s != "read 200" {
			t.Errorf("%d answers %q", n, s)
		}
	}
	if counts["write"] == 0 || counts["read"] == 0 {
		t.Errorf("counts = %v", counts)
	}
	log := srv.stderr.String()
	for _, bad := range []string{"database is locked", "SQLITE_BUSY", "level=ERROR"} {
		if strings.Contains(log, bad) {
			t.Errorf("the server log contains %q:\n%s", bad, log)
		}
	}
	integrityCheck(t, data)
}

// SIGKILL during start-up migrations leaves a database that the next start
// migrates cleanly: goose runs each migration, with its version row, in one
// transaction, so a kill rolls the unfinished one back.
func TestKillDuringMigrations(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	first := startServing(t, data)
	newClient(t, first.url, "early", "early-password")
	first.terminate(t)

	// Back to schema version 1, with enough rows that the later migrations
	// (new columns checked against every row, rebuilt indexes) take long
	// enough to be killed in the middle of.
	const oldPosts = 30_000
	for strings.Count(migrateCmd(t, data, "status"), "applied") > 1 {
		migrateCmd(t, data, "down")
	}
	if status := migrateCmd(t, data, "status"); !strings.Contains(status, "00001_init.sql") ||
		!strings.Contains(strings.SplitN(status, "\n", 2)[0], "applied") {
		t.Fatalf("not at version 1:\n%s", status)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "moments.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	insert, err := tx.Prepare(`INSERT INTO posts (user_id, content, media_urls, created_at) VALUES (1, ?, '[]', ?)`)
	if err != nil {
		t.Fatal(err)
	}
	for i := range oldPosts {
		if _, err := insert.Exec(fmt.Sprint("old post ", i), 1_700_000_000_000+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// First blind kills, ever later after the start. Then kills aimed at
	// the migrations: wait until the process holds SQLite's write lock (a
	// migration's transaction is open: nothing else writes at start-up;
	// recovering the WAL a kill left takes the lock too, for well under a
	// millisecond), let it run ever longer, and kill it, noting whether it
	// still held the lock. Every start has migrations left to do (or the
	// loop would have ended), so each one takes the lock. The killed
	// process's files are inspected on a copy, so the next start recovers
	// exactly what the kill left (a hot WAL included).
	var kills []string
	inside := 0
	inspect := func(how string) (pending int) {
		t.Helper()
		left := snapshotData(t, data)
		integrityCheck(t, left)
		pending = strings.Count(migrateCmd(t, left, "status"), "pending")
		kills = append(kills, fmt.Sprintf("%s→%d", how, pending))
		return pending
	}
	for _, after := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond} {
		p := startKillable(t, data)
		time.Sleep(after)
		p.kill()
		inspect("start+" + after.String())
	}
	shm := filepath.Join(data, "moments.db-shm")
	for i := 0; ; i++ {
		p := startKillable(t, data)
		pid := p.cmd.Process.Pid
		for deadline := time.Now().Add(5 * time.Second); writeLockHolder(t, shm) != pid; {
			select {
			case <-p.exited:
				t.Fatalf("the server exited during start-up: %v", p.cmd.ProcessState)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("the server did not start a migration within 5 s")
			}
			time.Sleep(100 * time.Microsecond)
		}
		after := time.Duration(i) * 5 * time.Millisecond
		time.Sleep(after)
		how := "lock+" + after.String()
		if writeLockHolder(t, shm) == pid && after > 0 {
			how += "(mid-transaction)"
			inside++
		}
		p.kill()
		if inspect(how) == 0 {
			break
		}
		if after > 10*time.Second {
			t.Fatalf("no start finished its migrations: %v", kills)
		}
	}
	t.Logf("SIGKILL after → migrations still pending: %s", strings.Join(kills, " "))
	t.Logf("%d kills, %d of them inside a migration's transaction", len(kills), inside)
	if inside == 0 {
		t.Errorf("no kill landed inside a migration: %v", kills)
	}

	srv := startServing(t, data)
	c := &client{t: t, base: srv.url, token: signIn(t, srv.url, "early", "early-password")}
	code, body := c.call("GET", "/posts?limit=1", "", nil)
	if code != 200 || !strings.Contains(string(body), fmt.Sprint("old post ", oldPosts-1)) {
		t.Fatalf("after the kills: %d %s", code, body)
	}
	srv.terminate(t)
	if status := migrateCmd(t, data, "status"); strings.Contains(status, "pending") {
		t.Fatalf("migrations left pending:\n%s", status)
	}
	integrityCheck(t, data)
}

// startServing starts the real binary on data and checks /healthz.
func startServing(t *testing.T, data string) *process {
	t.Helper()
	p := startBinary(t, data)
	res, err := http.Get(p.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("/healthz: %d %s", res.StatusCode, body)
	}
	return p
}

// terminate stops the process as SIGTERM (a service manager) would, and
// checks that it exits cleanly.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not stop within 15 s of SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("the server exited with %d:\n%s", code, p.stderr)
	}
}

// startKillable starts the binary without waiting for it to listen, so it
// can be killed at any point of its start-up. Cleanup kills it if the test
// has not.
func startKillable(t *testing.T, data string) *process {
	t.Helper()
	cmd := execServe(t, data)
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// snapshotData copies the database files of a stopped or killed instance
// (the -wal as well, not the -shm, which SQLite rebuilds) into a new data
// directory, so they can be inspected without changing the original.
func snapshotData(t *testing.T, data string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"moments.db", "moments.db-wal"} {
		b, err := os.ReadFile(filepath.Join(data, name))
		if errors.Is(err, os.ErrNotExist) && name != "moments.db" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeLockHolder returns the PID of the process holding SQLite's WAL
// write lock on a database, found without taking any lock: in the unix VFS
// it is a POSIX lock on byte 120 of the -shm file. 0: nobody.
func writeLockHolder(t *testing.T, shm string) int {
	t.Helper()
	f, err := os.Open(shm)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart, Start: 120, Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		t.Fatal(err)
	}
	if lk.Type == syscall.F_UNLCK {
		return 0
	}
	return int(lk.Pid)
}

// migrateCmd runs `moments migrate ACTION --data data` in-process.
func migrateCmd(t *testing.T, data, action string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", action, "--data", data}, envFrom(nil),
		strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatalf("migrate %s: %v", action, err)
	}
	return out.String()
}

// integrityCheck opens the database of a stopped instance (recovering its
// WAL, as a start would) and runs SQLite's own consistency check.
func integrityCheck(t *testing.T, data string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "moments.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&result); err != nil || result != "ok" {
		t.Fatalf("integrity_check = %q, %v", result, err)
	}
}
