package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestDemoFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	cfg, err := parseDemoFlags(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr() != "localhost:3000" || cfg.Concurrency != 1 || cfg.SeqInterval != time.Second ||
		cfg.BcastInterval != time.Second || strings.Join(cfg.transports(), ",") != "polling,websocket" {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = parseDemoFlags([]string{"-port", "4000"}, env(map[string]string{
		"HOST": "127.0.0.1", "PORT": "5000", "SERVER2CLIENT_MESSAGE_INTERVAL_MSECS": "250",
		"BROADCAST_MESSAGE_INTERVAL_MSECS": "500", "WEB_CONCURRENCY": "3", "REDIS_URL": "redis://127.0.0.1:1",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr() != "127.0.0.1:4000" || cfg.SeqInterval != 250*time.Millisecond || cfg.BcastInterval != 500*time.Millisecond ||
		cfg.Concurrency != 3 || strings.Join(cfg.transports(), ",") != "websocket" {
		t.Errorf("from the environment, the flag winning: %+v", cfg)
	}
	for _, bad := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"WEB_CONCURRENCY": "2"}, "needs REDIS_URL"},
		{[]string{"-concurrency", "2", "-redis", "redis://x", "-transports", "polling,websocket"}, nil, "sticky sessions"},
		{[]string{"-port", "70000"}, nil, "-port"},
		{[]string{"-seq-interval", "0"}, nil, "-seq-interval"},
		{nil, map[string]string{"BROADCAST_MESSAGE_INTERVAL_MSECS": "x"}, "-broadcast-interval"},
		{[]string{"-concurrency", "65"}, nil, "-concurrency"},
		{[]string{"-transports", "carrier-pigeon"}, nil, "-transports"},
		{[]string{"extra"}, nil, "unexpected"},
	} {
		if _, err := parseDemoFlags(bad.args, env(bad.env), io.Discard); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v %v: %v, want an error with %q", bad.args, bad.env, err, bad.want)
		}
	}
	var help bytes.Buffer
	if _, err := parseDemoFlags([]string{"--help"}, env(nil), &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, s := range demoSettings {
		def := s.def
		if def == "" {
			def = `""`
		}
		for _, want := range []string{"-" + s.flag + " (" + s.env + ")", "(default " + def + ")"} {
			if !strings.Contains(help.String(), want) {
				t.Errorf("--help lacks %q", want)
			}
		}
	}
	if !strings.Contains(help.String(), "sticky sessions") {
		t.Error("--help does not say why several processes serve websocket only")
	}
}

// startDemo serves a demo worker on a free loopback port of this process
// and returns its base URL; it stops at the end of the test.
func startDemo(t testing.TB, cfg demoConfig) string {
	t.Helper()
	cfg.Host, cfg.Port = "127.0.0.1", 0
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 1
	}
	if cfg.Transports == "" {
		cfg.Transports = "auto"
	}
	ln, err := net.Listen("tcp", cfg.addr())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- serveWorker(ctx, cfg, 1, func() (net.Listener, error) { return ln, nil }, io.Discard, func(net.Addr) { close(ready) })
	}()
	<-ready
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

// TestDemoServerAndClient runs the client against an in-process server
// over each transport and checks what every session saw.
func TestDemoServerAndClient(t *testing.T) {
	base := startDemo(t, demoConfig{SeqInterval: 20 * time.Millisecond, BcastInterval: 30 * time.Millisecond})
	if h := get(t, base+"/healthz"); !strings.HasPrefix(h, "ok worker=1") {
		t.Errorf("/healthz: %q", h)
	}
	for _, tr := range []string{"polling", "websocket", "upgrade", "mixed"} {
		t.Run(tr, func(t *testing.T) {
			want := func(idx int) string {
				switch tr {
				case "upgrade":
					return "websocket"
				case "mixed":
					return map[int]string{0: "polling", 1: "websocket"}[idx%2]
				}
				return tr
			}
			origin := "w1." + fmt.Sprint(os.Getpid())
			// The run lasts until every session is on its transport and
			// has had at least five seq-nums and three broadcasts.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := defaultLoadConfig()
			cfg.URL, cfg.Sessions, cfg.Transport, cfg.Rate, cfg.Duration = base, 20, tr, 20, 0
			cfg.onStart = func(ss []*session) {
				go func() {
					for ctx.Err() == nil {
						ready := 0
						for _, s := range ss {
							st := s.snapshot()
							if st.Up && st.Transport == want(st.Index) && st.SeqReceived >= 5 && st.S2C[origin] != nil && st.S2C[origin].Received >= 3 {
								ready++
							}
						}
						if ready == len(ss) {
							cancel()
							return
						}
						time.Sleep(20 * time.Millisecond)
					}
				}()
			}
			rep, err := runClients(ctx, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Seconds >= 59 {
				t.Fatal("the sessions did not all get going within a minute")
			}
			f := phaseFigures(t, rep, "sessions", "server")
			srv := rep.server("server")
			if f.v("sessions_up") != 20 || f.v("connects") != 20 || f.v("reconnects") != 0 || f.v("never_up") != 0 {
				t.Errorf("sessions: %v up, %v connects, %v reconnects", f.v("sessions_up"), f.v("connects"), f.v("reconnects"))
			}
			if f.v("seq_gaps") != 0 || f.v("seq_disorder") != 0 || f.v("s2c_missed") != 0 || f.v("s2c_duplicates") != 0 {
				t.Errorf("gaps %v, disorder %v, s2c missed %v, s2c dups %v", f.v("seq_gaps"), f.v("seq_disorder"), f.v("s2c_missed"), f.v("s2c_duplicates"))
			}
			if f.v("s2c_origins") != 1 || srv.ByWorker[origin] != 20 || len(srv.PerSession) != 20 {
				t.Errorf("origins %v, by worker %v, %d sessions", f.v("s2c_origins"), srv.ByWorker, len(srv.PerSession))
			}
			// Against a URL the tool sees no server process.
			for _, k := range []string{"server_cpu_seconds", "round_trips_per_server_cpu_second", "rss_mib", "memory_per_conn_kib"} {
				if !f.absent(k) {
					t.Errorf("%s measured against a URL", k)
				}
			}
			if f.v("connect_rate") <= 0 || f.v("deliveries_per_second") <= 0 || f.v("events_in_per_second") <= f.v("deliveries_per_second") {
				t.Errorf("rates: connect %v, deliveries %v, events in %v", f.v("connect_rate"), f.v("deliveries_per_second"), f.v("events_in_per_second"))
			}
			for _, st := range srv.PerSession {
				if st.SeqReceived < 5 || st.S2C[origin] == nil {
					t.Errorf("session %d: %d seq-nums, s2c %v", st.Index, st.SeqReceived, st.S2C)
				}
				if st.Transport != want(st.Index) {
					t.Errorf("session %d on %q, want %q", st.Index, st.Transport, want(st.Index))
				}
			}
			if f.v("sent") == 0 || f.v("round_trips") == 0 || f.v("ack_failed") != 0 || f.v("ack_p50_ms") <= 0 || f.v("ack_p99_ms") < f.v("ack_p50_ms") {
				t.Errorf("acks: sent %v acked %v failed %v p50 %v p99 %v", f.v("sent"), f.v("round_trips"), f.v("ack_failed"), f.v("ack_p50_ms"), f.v("ack_p99_ms"))
			}
			var out bytes.Buffer
			rep.writeText(&out)
			for _, re := range []string{`(?m)^  ack latency p99 +ms +[0-9.]+$`, `(?m)^  seq-num gaps \(numbers skipped\) +0$`, `(?m)^  server CPU +s +—$`} {
				if !regexp.MustCompile(re).MatchString(out.String()) {
					t.Errorf("summary lacks %s:\n%s", re, out.String())
				}
			}
		})
	}
	// The server learns of the last closes a little after the clients
	// return.
	waitFor(t, func() bool { return strings.Contains(get(t, base+"/healthz"), "sockets=0") })
	m := get(t, base+"/metrics")
	for _, re := range []string{
		`(?m)^# TYPE sio_demo_sockets gauge$`,
		`(?m)^sio_demo_connects_total\{worker="1"\} 80$`,
		`(?m)^sio_demo_disconnects_total\{worker="1"\} 80$`,
		`(?m)^sio_demo_events_in_total\{worker="1",event="c2s-event"\} [1-9][0-9]*$`,
		`(?m)^sio_demo_events_out_total\{worker="1",event="seq-num"\} [1-9][0-9]*$`,
		`(?m)^sio_demo_events_out_total\{worker="1",event="s2c-event"\} [1-9][0-9]*$`,
	} {
		if !regexp.MustCompile(re).MatchString(m) {
			t.Errorf("/metrics lacks %s:\n%s", re, m)
		}
	}
}

// TestClientRefusesBadFlags: limits and values the client checks.
func TestClientRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-sessions", "0"}, {"-sessions", "20001"}, {"-rate", "-1"}, {"-transport", "smoke"},
		{"-url", "ftp://x"}, {"-url", "nohost"}, {"-dialers", "0"},
	} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"client"}, args...), &out, &errb); code == 0 {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestClientNoServer: with nothing listening, the client says so.
func TestClientNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := defaultLoadConfig()
	cfg.URL, cfg.Sessions, cfg.Duration = "http://"+addr, 2, 300*time.Millisecond
	rep, err := runClients(context.Background(), cfg, nil)
	if err == nil || rep == nil {
		t.Fatalf("no server: %v, %+v", err, rep)
	}
	if f := phaseFigures(t, rep, "sessions", "server"); f.v("never_up") != 2 || f.v("connects") != 0 || !f.absent("connect_rate") {
		t.Fatalf("no server: %v", f.m)
	}
}

var bannerRE = regexp.MustCompile(`^sio-demo: open (http://\S+/) in a browser \(listening on (\S+);`)

// demoProc is the demo server run as a process of its own.
type demoProc struct {
	cmd    *exec.Cmd
	url    string // base URL, without the trailing slash
	lines  chan string
	done   chan struct{}
	stderr *lockedWriter
}

// startDemoProc runs this test binary as sio-demo with args and env, and
// waits for its banner.
func startDemoProc(t *testing.T, args []string, env ...string) *demoProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), subprocessEnv+"=1"), env...)
	p := &demoProc{cmd: cmd, lines: make(chan string, 100), done: make(chan struct{}), stderr: &lockedWriter{w: &bytes.Buffer{}}}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("server stderr:\n%s", p.stderr)
		}
	})
	select {
	case l, ok := <-p.lines:
		m := bannerRE.FindStringSubmatch(l)
		if !ok || m == nil {
			<-p.done
			t.Fatalf("no banner but %q; stderr:\n%s", l, p.stderr)
		}
		p.url = "http://" + m[2]
	case <-time.After(60 * time.Second):
		t.Fatal("no banner within 60s")
	}
	return p
}

// stop sends sig and returns what the server printed after it.
func (p *demoProc) stop(t *testing.T, sig syscall.Signal) []string {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for l := range p.lines {
		rest = append(rest, l)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not exit within 30s")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	return rest
}

// TestDemoProcess runs the demo server as a process: the banner says
// where to point a browser, a connected client is told when the server
// stops on SIGTERM, and the server prints one line as it exits.
func TestDemoProcess(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startDemoProc(t, []string{"-host", "127.0.0.1", "-port", "0"})
			cfg := defaultLoadConfig()
			cfg.URL, cfg.Sessions, cfg.Duration, cfg.Rate = p.url, 1, 0, 0
			connected := make(chan struct{})
			var once sync.Once
			cfg.onConnect = func() { once.Do(func() { close(connected) }) }
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type res struct {
				rep *report
				err error
			}
			resc := make(chan res, 1)
			go func() {
				rep, err := runClients(ctx, cfg, nil)
				resc <- res{rep, err}
			}()
			select {
			case <-connected:
			case <-time.After(20 * time.Second):
				t.Fatal("the client did not connect within 20s")
			}
			rest := p.stop(t, sig)
			name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig]
			if len(rest) != 1 || rest[0] != "sio-demo: stopped on "+name+"; every client was told" {
				t.Errorf("output after the signal: %q", rest)
			}
			cancel()
			r := <-resc
			if r.err != nil || len(r.rep.Servers) != 1 || len(r.rep.Servers[0].PerSession) != 1 || r.rep.Servers[0].PerSession[0].Disconnects != 1 {
				t.Errorf("the client was not told: %v %+v", r.err, r.rep)
			}
		})
	}
}

// waitFor polls cond until it holds, failing after 20 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedWriter collects a process's output for the test's log.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.w)
}
