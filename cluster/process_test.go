package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster"
	"github.com/sio-go/sio/httpadapter"
)

// nodeEnv, when set in the environment, makes the test binary a Go node
// of a cluster on the Redis URL it holds (see runNodeProcess) instead of
// running tests.
const nodeEnv = "SIO_CLUSTER_TEST_NODE"

// processRequestTimeout is the request timeout of the Go node processes.
const processRequestTimeout = 2 * time.Second

func TestMain(m *testing.M) {
	if url := os.Getenv(nodeEnv); url != "" {
		os.Exit(runNodeProcess(url))
	}
	os.Exit(m.Run())
}

// runNodeProcess serves Socket.IO on a loopback port with a Bus on
// redisURL, prints "port N", and obeys commands on stdin, one a line:
//
//	seq TAG COUNT     broadcast ("seq", TAG, i) for i in [0, COUNT)
//	fetch             FetchSockets of "/": prints "fetched N MILLIS ERR"
//
// It closes the server and the bus when stdin ends.
//
// With SIO_CLUSTER_TEST_CPUPROFILE=dir it writes a CPU profile of its run
// to dir/node-PID.pprof.
func runNodeProcess(redisURL string) int {
	if dir := os.Getenv("SIO_CLUSTER_TEST_CPUPROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("node-%d.pprof", os.Getpid())))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() {
				pprof.StopCPUProfile()
				f.Close()
			}()
		}
	}
	bus, err := cluster.New(cluster.Options{URL: redisURL, RequestTimeout: processRequestTimeout, Logger: quiet})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	srv := httpadapter.New(httpadapter.Options{Adapter: bus.Adapter, Logger: quiet})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	hs := &http.Server{Handler: srv}
	go func() { _ = hs.Serve(ln) }()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	if err := bus.WaitSubscribed(ctx); err != nil {
		fmt.Println("error", err)
		return 1
	}
	cancel()
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		fmt.Printf(format+"\n", args...)
		out.Unlock()
	}
	say("port %d", ln.Addr().(*net.TCPAddr).Port)
	sc := bufio.NewScanner(os.Stdin)
	var wg sync.WaitGroup
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "seq":
			n, _ := strconv.Atoi(f[2])
			for i := 0; i < n; i++ {
				_ = srv.Of("/").Emit("seq", f[1], i)
			}
			say("sent %s %d", f[1], n)
		case len(f) == 4 && f[0] == "rate":
			// rate TAG R K: K broadcasts ("lat", TAG, i, µs since the
			// epoch) at R per second.
			r, _ := strconv.Atoi(f[2])
			k, _ := strconv.Atoi(f[3])
			start := time.Now()
			for i := 0; i < k; i++ {
				if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(r))); d > 0 {
					time.Sleep(d)
				}
				_ = srv.Of("/").Emit("lat", f[1], i, time.Now().UnixMicro())
			}
			say("sent %s %d", f[1], k)
		case len(f) == 1 && f[0] == "cpu":
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			say("cpu %d", ru.Utime.Nano()/1000+ru.Stime.Nano()/1000)
		case len(f) == 1 && f[0] == "fetch":
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				socks, err := srv.Of("/").FetchSockets(context.Background())
				say("fetched %d %d %v", len(socks), time.Since(start).Milliseconds(), err)
			}()
		}
	}
	wg.Wait()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Close(ctx)
	_ = hs.Close()
	_ = bus.Close()
	return 0
}

// goProcess is a Go node running in a child process.
type goProcess struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
	lines chan string
	done  chan struct{}
}

// startGoProcess starts a Go node on redisURL; env is added to the
// environment it inherits.
func startGoProcess(t testing.TB, redisURL string, env ...string) *goProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), nodeEnv+"="+redisURL), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &goProcess{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
			t.Errorf("go node process did not end when told to")
		}
	})
	line := p.expect("port")
	p.url = "http://127.0.0.1:" + strings.Fields(line)[1]
	return p
}

// expect waits for the next line starting with prefix; other lines are
// skipped.
func (p *goProcess) expect(prefix string) string {
	p.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, "error") {
				p.t.Fatalf("go node process: %s", l)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-p.done:
			p.t.Fatalf("go node process exited before %q", prefix)
		case <-deadline:
			p.t.Fatalf("go node process: no %q line", prefix)
		}
	}
}

func (p *goProcess) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatal(err)
	}
}

// kill ends the process at once, as a crash.
func (p *goProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// clientReport is what one official client of manyClients saw.
type clientReport struct {
	Name         string         `json:"name"`
	URL          string         `json:"url"`
	Next         map[string]int `json:"next"`
	Errors       []string       `json:"errors"`
	Disconnected bool           `json:"disconnected"`
}

// Three Go server processes, 300 official clients spread across them:
// every client receives every broadcast once, in order per sender. Then
// one process is killed in the middle of broadcasts and of a request: the
// others keep serving, and the request completes within its timeout.
func TestProcessesManyClients(t *testing.T) {
	redis := peertestRedis(t)
	var procs []*goProcess
	var urls []string
	for i := 0; i < 3; i++ {
		p := startGoProcess(t, redis.URL())
		procs = append(procs, p)
		urls = append(urls, p.url)
	}
	peer := startNodePeer(t)
	const clients = 300
	peer.must("manyClients", map[string]any{"urls": urls, "count": clients}, nil)

	const k = 100
	for i, p := range procs {
		p.send(fmt.Sprintf("seq p%d %d", i, k))
	}
	report := func() []clientReport {
		var r []clientReport
		peer.must("report", nil, &r)
		return r
	}
	waitReports := func(what string, done func(clientReport) bool) []clientReport {
		t.Helper()
		deadline := time.Now().Add(waitFor)
		for {
			r := report()
			ok := len(r) == clients
			for _, c := range r {
				ok = ok && done(c)
			}
			if ok {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: first reports %+v", what, r[:3])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	r := waitReports("every broadcast", func(c clientReport) bool {
		return c.Next["p0"] >= k && c.Next["p1"] >= k && c.Next["p2"] >= k
	})
	for _, c := range r {
		if len(c.Errors) > 0 || c.Next["p0"] != k || c.Next["p1"] != k || c.Next["p2"] != k {
			t.Fatalf("client %s: next %v, errors %q", c.Name, c.Next, c.Errors)
		}
	}

	// A second round from the first two; the third dies in the middle of
	// it, and of a request.
	procs[0].send(fmt.Sprintf("seq q0 %d", k))
	procs[1].send("fetch")
	procs[1].send(fmt.Sprintf("seq q1 %d", k))
	procs[2].kill()
	// The request completes within its timeout: with every answer, or
	// with those of the live nodes and a timeout error.
	fetched := procs[1].expect("fetched")
	f := strings.Fields(fetched) // fetched N MILLIS ERR...
	n, _ := strconv.Atoi(f[1])
	ms, _ := strconv.Atoi(f[2])
	if limit := processRequestTimeout + time.Second; time.Duration(ms)*time.Millisecond > limit {
		t.Errorf("fetch during the kill took %dms; want at most %v", ms, limit)
	}
	if n < clients/3 || !strings.HasSuffix(fetched, "<nil>") && !strings.Contains(fetched, "timeout after") {
		t.Errorf("fetch during the kill: %q", fetched)
	}
	t.Logf("fetch during the kill: %s", fetched)
	r = waitReports("the second round", func(c clientReport) bool {
		return c.URL == urls[2] || c.Next["q0"] >= k && c.Next["q1"] >= k
	})
	for _, c := range r {
		if c.URL == urls[2] {
			if !c.Disconnected {
				t.Errorf("client %s of the killed node still connected", c.Name)
			}
			continue
		}
		if len(c.Errors) > 0 || c.Next["q0"] != k || c.Next["q1"] != k || c.Disconnected {
			t.Fatalf("client %s: next %v, errors %q, disconnected %v", c.Name, c.Next, c.Errors, c.Disconnected)
		}
	}
	// Once things are quiet, requests see exactly the live nodes.
	procs[1].send("fetch")
	fetched = procs[1].expect("fetched")
	if want := fmt.Sprintf("fetched %d ", 2*clients/3); !strings.HasPrefix(fetched, want) || !strings.HasSuffix(fetched, "<nil>") {
		t.Errorf("fetch after the kill: %q, want %q... <nil>", fetched, want)
		if os.Getenv("SIO_TEST_DUMP") != "" {
			_ = procs[0].cmd.Process.Signal(syscall.SIGQUIT)
			<-procs[0].done
		}
	}
}
