package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"moments/internal/testutil"
	"moments/store"
	"moments/store/storetest"
)

// BenchmarkLoad is the HTTP load benchmark: the real binary, 100,000 posts
// by 1,000 users (storetest.BenchSize), read by storetest's reader, 32
// keep-alive connections for a few seconds per scenario, and, in the same
// run, a plain net/http server answering the same bytes as the feed, so the
// ratio is measured side by side.
//
//	go test -run '^$' -bench BenchmarkLoad -benchtime 1x .
//
// The posts have mixed audiences and the reader is in 10 circles
// (storetest.Mixed); MOMENTS_LOAD_AUDIENCES=members runs on the same posts
// all for members instead, to compare the cost of the audience rule with
// two runs of the same build. The deep page is the one below the feed's
// 90,000 newest posts, whoever may see them: some 58,000 posts into what the
// reader of the mixed data set sees.
//
// The static server and the two feed pages take turns, round after round,
// so that a slow spell of a shared machine falls on all three rather than on
// whichever ran during it. Each round's ratios are logged; the figures
// reported pool every round: requests per second over all of them, and
// percentiles over every request.
//
// MOMENTS_BENCH_DATA keeps the seeded databases between runs (seeding takes
// a few minutes), each data set in a subdirectory of its own, shared with
// the store's benchmarks; MOMENTS_LOAD_SECONDS sets the length of each
// scenario in a round (default 4) and MOMENTS_LOAD_ROUNDS the number of
// rounds (default 3).
//
// MOMENTS_LOAD_COMPARE names another moments binary (an older build, say)
// to load in the same rounds, on its own copy of the data, so that two
// builds are compared on the same machine state: its pages take turns with
// this build's, and each round logs their ratio. MOMENTS_LOAD_COMPARE_SCHEMA
// migrates its copy down to the schema version it knows first; below
// audiencesSchema that takes only the all-members data set, since the
// mixed one would lose its audiences.
func BenchmarkLoad(b *testing.B) {
	seconds, rounds := envInt("MOMENTS_LOAD_SECONDS", 4), envInt("MOMENTS_LOAD_ROUNDS", 3)
	duration := time.Duration(seconds) * time.Second
	const conns = 32
	audiences, err := storetest.ParseAudiences(os.Getenv("MOMENTS_LOAD_AUDIENCES"))
	if err != nil {
		b.Fatal(err)
	}
	other, otherSchema := os.Getenv("MOMENTS_LOAD_COMPARE"), envInt("MOMENTS_LOAD_COMPARE_SCHEMA", 0)
	if other != "" && audiences == storetest.Mixed && otherSchema != 0 && otherSchema < audiencesSchema {
		b.Fatalf("MOMENTS_LOAD_COMPARE_SCHEMA=%d predates audiences (schema %d): migrated down to it, the mixed data set "+
			"loses them and the other build would show the reader every post. Compare with MOMENTS_LOAD_AUDIENCES=members.",
			otherSchema, audiencesSchema)
	}
	size := storetest.BenchSize(audiences)

	type scenario struct {
		name, addr string
		request    func(i int) []byte
		pid        int // the server's, for its CPU time; 0 for none
	}
	getReq := func(path, headers string) func(int) []byte {
		req := []byte("GET " + path + " HTTP/1.1\r\nHost: moments\r\n" + headers + "\r\n")
		return func(int) []byte { return req }
	}
	// pages starts a server from binary on its own copy of the data and
	// returns the first page, its host, and its two page scenarios.
	pages := func(binary, prefix string, schema int) (*process, []byte, string, []scenario) {
		data := loadData(b, audiences, schema)
		srv := startBinaryAt(b, binary, data)
		token := signIn(b, srv.url, storetest.ReaderName, storetest.ReaderPassword)
		auth := "Authorization: Bearer " + token + "\r\n"
		first := get(b, srv.url+"/posts?limit=20", token)
		deepCursor := walkTo(b, srv.url, token, size, 90_000)
		host := strings.TrimPrefix(srv.url, "http://")
		pid := srv.cmd.Process.Pid
		return srv, first, auth, []scenario{
			{prefix + "feed-first", host, getReq("/posts?limit=20", auth), pid},
			{prefix + "feed-deep90000", host, getReq("/posts?limit=20&cursor="+url.QueryEscape(deepCursor), auth), pid},
		}
	}
	srv, first, auth, feed := pages(momentsBinary(b), "", 0)
	static := staticServer(b, first)
	scenarios := append([]scenario{{"static", static, getReq("/", ""), 0}}, feed...)
	var otherSrv *process
	if other != "" {
		var otherFeed []scenario
		otherSrv, _, _, otherFeed = pages(other, "other-", otherSchema)
		scenarios = append(scenarios, otherFeed...)
	}
	host := strings.TrimPrefix(srv.url, "http://")
	create := scenario{"create-post", host, func(i int) []byte {
		body := fmt.Sprintf(`{"content":"load post %d, a few words long","media_urls":["https://photos.example.com/%d.jpg"]}`, i, i)
		return []byte("POST /posts HTTP/1.1\r\nHost: moments\r\n" + auth +
			"Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	}, srv.cmd.Process.Pid}
	// The reads take turns for the rounds; creating posts comes last, as it
	// changes what the first page shows.
	results := map[string]*loadResult{}
	for r := 1; r <= rounds; r++ {
		perSecond := map[string]float64{}
		for _, sc := range scenarios {
			cpu := procCPU(b, sc.pid)
			res := generateLoad(b, sc.addr, conns, duration, sc.request)
			res.cpu = procCPU(b, sc.pid) - cpu
			results[sc.name] = results[sc.name].add(res)
			perSecond[sc.name] = res.perSecond()
		}
		b.Logf("round %d: static %.0f req/s, feed-first %.0f (%.2f of static), feed-deep90000 %.0f (%.2f)", r,
			perSecond["static"], perSecond["feed-first"], perSecond["feed-first"]/perSecond["static"],
			perSecond["feed-deep90000"], perSecond["feed-deep90000"]/perSecond["static"])
		if other != "" {
			b.Logf("round %d: the other build: feed-first %.0f req/s (this one %.2f of it), feed-deep90000 %.0f (%.2f)", r,
				perSecond["other-feed-first"], perSecond["feed-first"]/perSecond["other-feed-first"],
				perSecond["other-feed-deep90000"], perSecond["feed-deep90000"]/perSecond["other-feed-deep90000"])
		}
	}
	cpu := procCPU(b, create.pid)
	results[create.name] = generateLoad(b, create.addr, conns, duration, create.request)
	results[create.name].cpu = procCPU(b, create.pid) - cpu
	scenarios = append(scenarios, create)
	for _, sc := range scenarios {
		r := results[sc.name]
		p50, p99 := r.percentile(50), r.percentile(99)
		b.Logf("%-20s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  server CPU %5.1f µs/request  (%d requests, %d errors)",
			sc.name, r.perSecond(), ms(p50), ms(p99), r.cpuPerRequest(), len(r.latencies), r.errors)
		b.ReportMetric(r.perSecond(), sc.name+"-req/s")
		b.ReportMetric(ms(p99), sc.name+"-p99-ms")
		if r.errors > 0 {
			b.Errorf("%s: %d requests failed", sc.name, r.errors)
		}
	}
	rss := peakRSS(b, srv.cmd.Process.Pid)
	baseline := results["static"].perSecond()
	ratio := results["feed-first"].perSecond() / baseline
	deepStatic := results["feed-deep90000"].perSecond() / baseline
	deepRatio := results["feed-deep90000"].perSecond() / results["feed-first"].perSecond()
	b.Logf("feed/static %.2f, deep/static %.2f, deep/first %.2f, server peak RSS %.1f MiB (%d rounds of %s, %s data set)",
		ratio, deepStatic, deepRatio, rss, rounds, duration, audiences)
	b.ReportMetric(ratio, "feed/static")
	b.ReportMetric(deepStatic, "deep/static")
	b.ReportMetric(deepRatio, "deep/first")
	b.ReportMetric(rss, "peak-RSS-MiB")
	if other != "" {
		vsFirst := results["feed-first"].perSecond() / results["other-feed-first"].perSecond()
		vsDeep := results["feed-deep90000"].perSecond() / results["other-feed-deep90000"].perSecond()
		b.Logf("this build against the other, over all rounds: feed-first %.3f, feed-deep90000 %.3f; "+
			"server CPU per request %.3f and %.3f of the other's", vsFirst, vsDeep,
			results["feed-first"].cpuPerRequest()/results["other-feed-first"].cpuPerRequest(),
			results["feed-deep90000"].cpuPerRequest()/results["other-feed-deep90000"].cpuPerRequest())
		b.Logf("the other build's server peak RSS %.1f MiB", peakRSS(b, otherSrv.cmd.Process.Pid))
		b.ReportMetric(vsFirst, "first/other")
		b.ReportMetric(vsDeep, "deep/other")
		b.ReportMetric(results["feed-first"].cpuPerRequest()/results["other-feed-first"].cpuPerRequest(), "first-cpu/other")
		b.ReportMetric(results["feed-deep90000"].cpuPerRequest()/results["other-feed-deep90000"].cpuPerRequest(), "deep-cpu/other")
	}
}

// audiencesSchema is the schema version that brought audiences and circles
// (migrations/00005_audiences.sql).
const audiencesSchema = 5

// loadData makes a data directory holding a copy of the seeded database of
// the data set audiences, migrated to this build's schema (or down to
// schema, when not 0). Every build signs in as its reader: bcrypt hashes
// read the same in all of them.
func loadData(b *testing.B, audiences storetest.Audiences, schema int) string {
	b.Helper()
	data := b.TempDir()
	raw, err := os.ReadFile(seededDatabase(b, audiences))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, store.DBFile), raw, 0o600); err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "up", "--data", data}, envFrom(nil), strings.NewReader(""), &out, io.Discard); err != nil {
		b.Fatal(err)
	}
	for schema > 0 {
		st, err := store.Open(context.Background(), data, store.Options{Migrations: migrationsFS(), SkipMigrate: true})
		if err != nil {
			b.Fatal(err)
		}
		v, err := st.SchemaVersion(context.Background())
		st.Close()
		if err != nil {
			b.Fatal(err)
		}
		if v <= int64(schema) {
			break
		}
		if err := run(context.Background(), []string{"migrate", "down", "--data", data}, envFrom(nil), strings.NewReader(""), &out, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	// Migrations that rebuild tables leave them packed tighter than the
	// seeding did: VACUUM gives every copy the same layout, whatever path
	// it took, so that builds are compared and not files.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, store.DBFile))
	if err != nil {
		b.Fatal(err)
	}
	_, err = db.Exec(`VACUUM`)
	db.Close()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

var benchSeed = struct {
	once sync.Once
	path string
	err  error
}{}

// seededDatabase returns the path of the database of the data set
// audiences (storetest.BenchData), seeding it on first use.
func seededDatabase(b *testing.B, audiences storetest.Audiences) string {
	benchSeed.once.Do(func() {
		var dir string
		dir, benchSeed.err = storetest.BenchData(context.Background(), migrationsFS(), audiences)
		benchSeed.path = filepath.Join(dir, store.DBFile)
	})
	if benchSeed.err != nil {
		b.Fatal(benchSeed.err)
	}
	return benchSeed.path
}

// process is the real binary, serving.
type process struct {
	cmd    *exec.Cmd
	url    string
	stderr *testutil.SyncBuffer
	exited chan struct{}
}

// built is the binary the tests run as a separate process, built once.
var built = struct {
	once sync.Once
	path string
	err  error
}{}

// moments builds the real binary (once per test run) and returns its path.
func momentsBinary(tb testing.TB) string {
	tb.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "moments-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "moments")
		build := exec.Command("go", "build", "-o", built.path, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		tb.Fatal(built.err)
	}
	return built.path
}

// startBinary runs `moments serve` from the real binary on a free port,
// with any further flags given, and waits until it says where it listens.
// The process is killed at cleanup if the test has not stopped it.
func startBinary(tb testing.TB, data string, flags ...string) *process {
	tb.Helper()
	return startBinaryAt(tb, momentsBinary(tb), data, flags...)
}

// startBinaryAt is startBinary with another binary.
func startBinaryAt(tb testing.TB, binary, data string, flags ...string) *process {
	tb.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, flags...)
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &stderr, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case p.url = <-found:
		return p
	case <-p.exited:
		tb.Fatalf("the server exited at start-up:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		tb.Fatal("the server did not start within 30 s")
	}
	return nil
}

// execServe starts `moments serve` from the real binary, its output
// discarded.
func execServe(tb testing.TB, data string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(momentsBinary(tb), "serve", "--addr", "127.0.0.1:0", "--data", data)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return cmd
}

// kill ends the process with SIGKILL, as a crash or power cut would.
func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

func signIn(tb testing.TB, base, user, password string) string {
	tb.Helper()
	return signInFrom(tb, base, user, password, "")
}

// signInFrom signs in as a client at addr, named in X-Forwarded-For: a
// server that trusts 127.0.0.1 as its proxy counts the sign-in against
// addr's limit, so many accounts can sign in from one test. An empty addr
// sends no header.
func signInFrom(tb testing.TB, base, user, password, addr string) string {
	tb.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	req, err := http.NewRequest("POST", base+"/auth/token", strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if addr != "" {
		req.Header.Set("X-Forwarded-For", addr)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		tb.Fatalf("sign-in: %d %v", res.StatusCode, err)
	}
	return tok.AccessToken
}

func get(tb testing.TB, u, token string) []byte {
	tb.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		tb.Fatalf("GET %s: %d %v", u, res.StatusCode, err)
	}
	return body
}

// walkTo follows the feed's cursors to the page below the depth newest
// posts of the feed seeded with size, whoever may see them
// (storetest.Size.Depth). The last pages shrink by halves, so that the walk
// ends within a post or two of depth.
func walkTo(tb testing.TB, base, token string, size storetest.Size, depth int) string {
	tb.Helper()
	cursor := ""
	for walked := 0; walked < depth; {
		var page struct {
			Items []struct {
				ID int64 `json:"id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		u := fmt.Sprintf("%s/posts?limit=%d", base, min(100, (depth-walked+1)/2))
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := json.Unmarshal(get(tb, u, token), &page); err != nil || page.NextCursor == nil {
			tb.Fatalf("the feed ended before %d posts (%v)", depth, err)
		}
		walked = size.Depth(page.Items[len(page.Items)-1].ID)
		cursor = *page.NextCursor
	}
	return cursor
}

// staticBodyEnv names the file whose bytes the static server answers.
const staticBodyEnv = "MOMENTS_STATIC_BODY"

// staticServer starts the baseline: a plain net/http server answering body
// to every request. It runs in a process of its own, as the feed server
// does, so neither shares a runtime with the load generator.
func staticServer(tb testing.TB, body []byte) string {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "body.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), staticBodyEnv+"="+file)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("the static server did not start: %v", err)
	}
	return strings.TrimSpace(line)
}

// serveStatic is the static server's process: it prints its address and
// serves the file's bytes until it is killed.
func serveStatic(path string) {
	body, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	length := strconv.Itoa(len(body))
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", length)
		w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// loadResult is what one or more load runs of a scenario saw.
type loadResult struct {
	latencies []time.Duration // of every request answered, sorted
	errors    int
	elapsed   time.Duration // the load's duration, summed over runs
	cpu       time.Duration // the server's CPU time (user and system) meanwhile
}

// cpuPerRequest is the server's CPU time per answered request, in µs.
func (r *loadResult) cpuPerRequest() float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(len(r.latencies))
}

// add returns r with o's requests added; r may be nil.
func (r *loadResult) add(o *loadResult) *loadResult {
	if r == nil {
		return o
	}
	r.latencies = append(r.latencies, o.latencies...)
	slices.Sort(r.latencies)
	r.errors += o.errors
	r.elapsed += o.elapsed
	r.cpu += o.cpu
	return r
}

func (r *loadResult) perSecond() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

// percentile returns the latency that p percent of the requests stayed
// within (nearest rank).
func (r *loadResult) percentile(p int) time.Duration {
	n := len(r.latencies)
	if n == 0 {
		return 0
	}
	return r.latencies[min(n-1, max(0, (n*p+99)/100-1))]
}

// generateLoad keeps conns connections busy for d, each sending request(i)
// and reading the whole answer before the next. It speaks HTTP/1.1 over
// plain sockets, so the load generator costs little CPU of its own.
func generateLoad(tb testing.TB, addr string, conns int, d time.Duration, request func(i int) []byte) *loadResult {
	tb.Helper()
	var mu sync.Mutex
	var latencies []time.Duration
	var errs int
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				mu.Lock()
				errs++
				mu.Unlock()
				return
			}
			defer conn.Close()
			r := bufio.NewReaderSize(conn, 64<<10)
			mine := make([]time.Duration, 0, 1<<16)
			failed := 0
			for i := c; time.Now().Before(deadline); i += conns {
				start := time.Now()
				if _, err := conn.Write(request(i)); err != nil {
					failed++
					break
				}
				status, err := readResponse(r)
				if err != nil {
					failed++
					break
				}
				if status >= 300 {
					failed++
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			errs += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(latencies)
	return &loadResult{latencies: latencies, errors: errs, elapsed: d}
}

// envInt reads a positive integer from the environment variable name, or
// returns def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// readResponse reads one HTTP/1.1 response with a Content-Length body and
// returns its status.
func readResponse(r *bufio.Reader) (int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 {
		return 0, errors.New("short status line")
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, err
	}
	length := -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(name, []byte("Content-Length")) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil {
				return 0, err
			}
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	_, err = r.Discard(length)
	return status, err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// peakRSS reads the process's high-water resident set size in MiB.
// procCPU is the CPU time a process has used so far (user and system, from
// /proc/PID/stat); 0 for pid 0 or when it cannot be read.
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	if pid == 0 {
		return 0
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th of them.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticks = 100 // USER_HZ, 100 on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

func peakRSS(tb testing.TB, pid int) float64 {
	tb.Helper()
	return procMemory(tb, pid, "VmHWM")
}

// procMemory reads one memory figure of a process (VmRSS, VmHWM, …) from
// /proc/PID/status, in MiB; 0 when it cannot be read.
func procMemory(tb testing.TB, pid int, field string) float64 {
	tb.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Logf("%s unknown: %v", field, err)
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
