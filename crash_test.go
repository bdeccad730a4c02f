package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// integrityCheck opens the database of a stopped instance and runs SQLite's
// own consistency check.
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

// Every post the server answered 201 for survives a SIGKILL in the middle
// of writing: a write is acknowledged only after its commit.
func TestKillDuringWritesLosesNothingAcknowledged(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	acknowledged := map[int64]bool{}
	for round, runFor := range []time.Duration{300 * time.Millisecond, 900 * time.Millisecond, 1500 * time.Millisecond} {
		srv := startBinary(t, data)
		var c *client
		if round == 0 {
			c = newClient(t, srv.url, "writer", "writer-password")
		} else {
			c = &client{t: t, base: srv.url, token: signIn(t, srv.url, "writer", "writer-password")}
			// Everything acknowledged before the earlier kills is here.
			for id := range acknowledged {
				if code, body := c.call("GET", fmt.Sprintf("/posts/%d", id), "", nil); code != 200 {
					t.Fatalf("round %d: acknowledged post %d is gone: %d %s", round, id, code, body)
				}
			}
		}

		var mu sync.Mutex
		var wg sync.WaitGroup
		var attempted, refused int
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hc := &http.Client{Timeout: 5 * time.Second}
				for i := 0; ; i++ {
					body := fmt.Sprintf(`{"content":"round %d writer %d post %d"}`, round, w, i)
					req, _ := http.NewRequest("POST", srv.url+"/posts", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+c.token)
					req.Header.Set("Content-Type", "application/json")
					res, err := hc.Do(req)
					mu.Lock()
					attempted++
					mu.Unlock()
					if err != nil {
						return // the server is gone
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusCreated {
						mu.Lock()
						refused++
						mu.Unlock()
						continue
					}
					var id int64
					fmt.Sscanf(string(b), `{"id":%d`, &id)
					mu.Lock()
					acknowledged[id] = true
					mu.Unlock()
				}
			}()
		}
		time.Sleep(runFor)
		srv.kill() // mid-write: the writers are still going
		wg.Wait()
		if refused > 0 {
			t.Errorf("round %d: %d writes refused before the kill", round, refused)
		}
		t.Logf("round %d: killed after %v; %d writes attempted, %d acknowledged in all so far",
			round, runFor, attempted, len(acknowledged))
	}

	srv := startBinary(t, data)
	c := &client{t: t, base: srv.url, token: signIn(t, srv.url, "writer", "writer-password")}
	lost := 0
	for id := range acknowledged {
		if code, _ := c.call("GET", fmt.Sprintf("/posts/%d", id), "", nil); code != 200 {
			lost++
		}
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	<-srv.exited
	t.Logf("acknowledged %d, lost %d", len(acknowledged), lost)
	if lost > 0 {
		t.Fatalf("%d acknowledged posts were lost", lost)
	}
	integrityCheck(t, data)
}

// 32 writers and 32 readers at once: no 5xx and no "database is locked".
func TestConcurrentReadersAndWriters(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	srv := startBinary(t, data)
	c := newClient(t, srv.url, "busy", "busy-password")
	first := c.post("the first post")

	var mu sync.Mutex
	counts := map[string]int{}
	failures := map[int]int{}
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * time.Second)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
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
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				counts[kind]++
				if res.StatusCode >= 500 {
					failures[res.StatusCode]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("in 3 s: %d writes, %d reads, 5xx: %v", counts["write"], counts["read"], failures)
	if len(failures) > 0 {
		t.Errorf("5xx answers: %v", failures)
	}
	if log := srv.stderr.String(); strings.Contains(log, "database is locked") || strings.Contains(log, "SQLITE_BUSY") {
		t.Errorf("the log reports lock contention:\n%s", log)
	}
	if counts["write"] == 0 || counts["read"] == 0 {
		t.Errorf("counts = %v", counts)
	}
}

// SIGKILL during start-up migrations leaves a database the next start
// migrates cleanly: each migration runs in its own transaction.
func TestKillDuringMigrations(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ctx := context.Background()
	first := startBinary(t, data)
	newClient(t, first.url, "early", "early-password")
	first.cmd.Process.Signal(syscall.SIGTERM)
	<-first.exited

	// Back to the first schema, with enough rows that the later migrations
	// (new columns, rebuilt indexes) take a while.
	migrate := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, append([]string{"migrate"}, append(args, "--data", data)...), envFrom(nil),
			strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatalf("migrate %v: %v", args, err)
		}
		return out.String()
	}
	for strings.Count(migrate("status"), "pending") < 2 {
		migrate("down")
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "moments.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := db.Begin()
	for i := range 30_000 {
		if _, err := tx.Exec(`INSERT INTO posts (user_id, content, media_urls, created_at) VALUES (1, ?, '[]', ?)`,
			fmt.Sprint("old post ", i), 1_700_000_000_000+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Kill ever later until a start gets through; each kill lands before,
	// between or inside the migrations.
	seen := map[int]int{} // pending migrations after a kill → how often
	for after := time.Duration(0); ; after += 15 * time.Millisecond {
		cmd := startKillable(t, data)
		time.Sleep(after)
		cmd.kill()
		pending := strings.Count(migrate("status"), "pending")
		seen[pending]++
		if pending == 0 || after > 5*time.Second {
			break
		}
	}
	t.Logf("pending migrations after each kill → kills: %v", seen)
	if len(seen) < 2 {
		t.Errorf("no kill landed between the first and the last migration: %v", seen)
	}

	srv := startBinary(t, data)
	c := &client{t: t, base: srv.url, token: signIn(t, srv.url, "early", "early-password")}
	code, body := c.call("GET", "/posts?limit=1", "", nil)
	if code != 200 || !strings.Contains(string(body), "old post 29999") {
		t.Fatalf("after the kills: %d %s", code, body)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	<-srv.exited
	if status := migrate("status"); strings.Contains(status, "pending") {
		t.Fatalf("migrations left pending:\n%s", status)
	}
	integrityCheck(t, data)
}

// startKillable starts the binary without waiting for it to listen, so it
// can be killed at any point of its start-up.
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
