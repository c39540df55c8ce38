package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sio-go/sio/transport/peertest"

	"github.com/sio-go/sio/httpadapter"
)

// TestMain lets the bench re-execute the test binary as "sio-demo serve":
// the server it starts is then this package's code, as with the real
// binary.
func TestMain(m *testing.M) {
	if os.Getenv(subprocessEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// requireRef returns the node binary, or skips the test when node or the
// reference server's node_modules are missing; with SIO_REQUIRE_EXTERNAL=1
// it fails instead.
func requireRef(t *testing.T) string {
	t.Helper()
	script, err := findRefServer("")
	if err != nil {
		peertest.Unavailable(t, err.Error())
	}
	return peertest.NodeModules(t, filepath.Join(filepath.Dir(refModules(script)), ".."))
}

// TestBenchTool runs the load tool in a tiny configuration against the
// three servers, each in its own process, and checks that every figure
// came out, for each of them, in both shapes of the report.
func TestBenchTool(t *testing.T) {
	node := requireRef(t)
	cfg := defaultLoadConfig()
	cfg.Conns = 50
	cfg.Clients = []int{1, 10}
	cfg.PClients = 5
	cfg.BClients = 20
	cfg.Duration = time.Second
	cfg.Warmup = 200 * time.Millisecond
	cfg.Settle = 100 * time.Millisecond
	cfg.Node = node
	cfg.Timeout = 2 * time.Minute
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := runBench(ctx, cfg, &log)
	if err != nil {
		t.Fatalf("bench: %v\nserver output:\n%s", err, log.String())
	}
	if rep.Mode != modeCompare || len(rep.Servers) != 3 || rep.Servers[0].Name != "go" || rep.Servers[1].Name != "ref" || rep.Servers[2].Name != "plain" {
		t.Fatalf("servers: %+v", rep.Servers)
	}
	for _, s := range rep.Servers {
		if s.Error != "" {
			t.Errorf("%s: %s", s.Name, s.Error)
		}
		idle := phaseFigures(t, rep, "idle", s.Name)
		if idle.v("connects") != 50 || idle.v("rss_mib") <= 0 || idle.v("rss_empty_mib") <= 0 || idle.v("connect_rate") <= 0 {
			t.Errorf("%s: idle phase: %v", s.Name, idle.m)
		}
		for _, n := range cfg.Clients {
			ack := phaseFigures(t, rep, fmt.Sprintf("ack-%d", n), s.Name)
			if ack.v("round_trips") <= 0 || ack.v("ack_p50_ms") <= 0 || ack.v("ack_p99_ms") < ack.v("ack_p50_ms") ||
				ack.v("ack_max_ms") < ack.v("ack_p99_ms") || ack.v("server_cpu_seconds") <= 0 || ack.v("round_trips_per_server_cpu_second") <= 0 {
				t.Errorf("%s: ack phase, %d clients: %v", s.Name, n, ack.m)
			}
			checkCPUSplit(t, s.Name, ack, "round_trip", "round_trips_per_server_cpu_second")
		}
		if s.Name != "plain" {
			poll := phaseFigures(t, rep, "poll-5", s.Name)
			if poll.v("round_trips") <= 0 || poll.v("ack_p50_ms") <= 0 || poll.v("ack_p99_ms") < poll.v("ack_p50_ms") ||
				poll.v("server_cpu_seconds") <= 0 || poll.v("round_trips_per_server_cpu_second") <= 0 {
				t.Errorf("%s: polling phase: %v", s.Name, poll.m)
			}
		}
		bc := phaseFigures(t, rep, "broadcast", s.Name)
		if bc.v("deliveries") <= 0 || bc.v("broadcasts") <= 0 || bc.v("server_cpu_seconds") <= 0 || bc.v("deliveries_per_server_cpu_second") <= 0 {
			t.Errorf("%s: broadcast phase: %v", s.Name, bc.m)
		}
		checkCPUSplit(t, s.Name, bc, "delivery", "deliveries_per_server_cpu_second")
		// Every broadcast reaches every client: the deliveries counted in
		// the window can't exceed what was sent times the receivers.
		if bc.v("deliveries") > bc.v("broadcasts")*20 {
			t.Errorf("%s: %v deliveries for %v broadcasts to 20 clients", s.Name, bc.v("deliveries"), bc.v("broadcasts"))
		}
	}
	// Every figure of every server (the plain server has no polling), and
	// sio's advantage over the others wherever a figure says which way is
	// better.
	for _, row := range rep.Rows {
		for _, s := range rep.Servers {
			if noPoll := s.Name == "plain" && row.Phase == "poll-5"; (row.Values[s.Name] == nil) != noPoll {
				t.Errorf("row %s/%s: the %s figure is %v", row.Phase, row.Key, s.Name, row.Values[s.Name])
			}
		}
		if row.Key == "round_trips_per_server_cpu_second" && (row.Vs["ref"] == nil || row.Vs["ref"].Met == nil || (row.Vs["plain"] == nil) != (row.Phase == "poll-5")) {
			t.Errorf("row %s/%s: no comparison: %+v", row.Phase, row.Key, row.Vs)
		}
	}
	var table, js bytes.Buffer
	rep.writeText(&table)
	for _, want := range []string{"ack round trips per server CPU-second", "broadcast deliveries per server CPU-second",
		"server memory per idle connection", "go vs ref", "go vs plain", "ack-1: 1 client", "ack-10: 10 clients", "poll-5: 5 clients on HTTP long-polling"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	// A dash only where the plain server has no polling figure: one per
	// row of that phase.
	if n, rows := strings.Count(table.String(), "—"), countRows(rep, "poll-5"); n != rows {
		t.Errorf("%d figures missing from the table, want %d (the plain server's polling):\n%s", n, rows, table.String())
	}
	if err := rep.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Rows) != len(rep.Rows) {
		t.Fatalf("JSON does not read back (%v):\n%s", err, js.String())
	}
	for _, row := range back.Rows {
		for _, s := range rep.Servers {
			if noPoll := s.Name == "plain" && row.Phase == "poll-5"; (row.Values[s.Name] == nil) != noPoll {
				t.Errorf("JSON row %s/%s: the %s figure is %v", row.Phase, row.Key, s.Name, row.Values[s.Name])
			}
		}
	}
	t.Logf("\n%s", table.String())
}

func countRows(rep *report, phase string) int {
	n := 0
	for _, r := range rep.Rows {
		if r.Phase == phase {
			n++
		}
	}
	return n
}

// TestBenchRounds: with -rounds the servers take turns, each round
// starting one later, and the report gives every figure as the median of
// the rounds with each advantage's value in every round. The second
// server is the base of an A/B: another binary serving the same server
// (here this one again).
func TestBenchRounds(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultLoadConfig()
	cfg.Only, cfg.BaseBin, cfg.Rounds, cfg.Verbose = "go,base", exe, 2, true
	cfg.Conns, cfg.Clients, cfg.PClients, cfg.BClients = 20, []int{2}, 0, 5
	cfg.Duration, cfg.Warmup, cfg.Settle, cfg.ForceGC = 300*time.Millisecond, 100*time.Millisecond, 50*time.Millisecond, false
	cfg.Timeout = time.Minute
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := runBench(ctx, cfg, &log)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, log.String())
	}
	var order []string
	for _, l := range strings.Split(log.String(), "\n") {
		if name, ok := strings.CutSuffix(strings.TrimPrefix(l, "bench: "), ": starting the server"); ok {
			order = append(order, name)
		}
	}
	if !slices.Equal(order, []string{"go", "base", "base", "go"}) {
		t.Errorf("servers started in the order %q, want go, base, then base, go", order)
	}
	if len(rep.Servers) != 2 || rep.Servers[0].Name != "go" || rep.Servers[1].Name != "base" {
		t.Fatalf("servers: %+v", rep.Servers)
	}
	for _, rw := range rep.Rows {
		if rw.Values["go"] == nil || rw.Values["base"] == nil {
			t.Errorf("row %s/%s: %v, %v", rw.Phase, rw.Key, rw.Values["go"], rw.Values["base"])
		}
		if rt := rw.Vs["base"]; rt != nil && (len(rt.Rounds) != 2 || rt.Target != 0) {
			t.Errorf("row %s/%s: advantage %+v, want one per round and no target", rw.Phase, rw.Key, rt)
		}
	}
	if rt := rowRatio(rep, "ack-2", "round_trips_per_server_cpu_second", "base"); rt == nil || rt.Value <= 0 {
		t.Errorf("no advantage over the base: %+v", rt)
	}
	var b bytes.Buffer
	rep.writeText(&b)
	if !strings.Contains(b.String(), "2 rounds") || !strings.Contains(b.String(), "go vs base") {
		t.Errorf("table:\n%s", b.String())
	}
}

func rowRatio(rep *report, phaseID, key, server string) *ratio {
	for _, rw := range rep.Rows {
		if rw.Phase == phaseID && rw.Key == key {
			return rw.Vs[server]
		}
	}
	return nil
}

func TestCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "bench") {
		t.Errorf("help: %d %q", code, out.String())
	}
	if code := run([]string{"nope"}, &out, &errb); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	for _, only := range []string{"nobody", "go,go", "go,,ref", "go,base"} { // base needs -basebin

		if code := run([]string{"bench", "-only", only}, &out, &errb); code != 1 {
			t.Errorf("bench -only %s: exit %d", only, code)
		}
	}
	for _, args := range [][]string{{"-rounds", "0"}, {"-rounds", "10"}, {"-clients", "0"}, {"-clients", "1,x"}, {"-clients", "1,2,3,4,5,6,7,8,9,10,11"}, {"-ack-timeout", "0"}} {
		if code := run(append([]string{"client", "-compare"}, args...), &out, &errb); code == 0 {
			t.Errorf("client -compare %v accepted", args)
		}
	}
	// A flag of the other mode is refused.
	for _, args := range [][]string{{"client", "-conns", "5"}, {"client", "-clients", "1"}, {"bench", "-sessions", "5"},
		{"client", "-compare", "-url", "http://127.0.0.1:1"}, {"bench", "-progress", "on"}} {
		errb.Reset()
		if code := run(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "not a flag of") {
			t.Errorf("%v: exit %d, %q", args, code, errb.String())
		}
	}
	// The help lists the flags by the mode they serve.
	errb.Reset()
	if code := run([]string{"client", "-h"}, &out, &errb); code != 0 {
		t.Errorf("client -h: exit %d", code)
	}
	h := errb.String()
	both, url, cmp := strings.Index(h, "\nBoth modes:\n"), strings.Index(h, "\nAgainst a server at -url:\n"), strings.Index(h, "\n-compare:\n")
	if both < 0 || url < both || cmp < url {
		t.Fatalf("client -h:\n%s", h)
	}
	for flagName, at := range map[string]int{"-duration": both, "-quick": both, "-ack-timeout": both, "-sessions": url, "-progress": url, "-clients": cmp, "-only": cmp} {
		i := strings.Index(h, "\n  "+flagName+" ")
		if i < 0 {
			i = strings.Index(h, "\n  "+flagName+"\n")
		}
		if i < at || (at == both && i > url) || (at == url && i > cmp) {
			t.Errorf("client -h: %s not under its mode:\n%s", flagName, h)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, a := range []string{"127.0.0.1:80", "127.0.0.1:65535"} {
		if err := loopbackOnly(a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, a := range []string{"localhost:80", "10.0.0.1:80", "[::1]:80", "127.0.0.2:80", "example.com:80", "127.0.0.1"} {
		if err := loopbackOnly(a); err == nil {
			t.Errorf("%s accepted", a)
		}
	}
}

// TestRefServerScript checks that the script's require path is the one the
// Go side checks for.
func TestRefServerScript(t *testing.T) {
	script, err := findRefServer("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(filepath.Dir(script), refModules(script))
	if !strings.Contains(string(b), filepath.ToSlash(filepath.Dir(rel))) {
		t.Errorf("%s does not require the package from %s", script, rel)
	}
}

// startInProcess serves the bench server on a loopback port of this
// process.
func startInProcess(tb testing.TB) string {
	tb.Helper()
	srv := newBenchServer(httpadapter.Options{})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	hs := httptest.NewServer(mux)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		hs.Close()
	})
	return strings.TrimPrefix(hs.URL, "http://")
}

// BenchmarkAckRoundTrip: one client sends echo with an ack and waits for
// the answer, over a real loopback WebSocket to a server in this process.
// Allocations count both sides.
func BenchmarkAckRoundTrip(b *testing.B) {
	addr := startInProcess(b)
	ctx := context.Background()
	c, err := dial(ctx, addr, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	e := newEchoer(c, strings.Repeat("e", 32))
	for range 100 {
		if err := e.roundTrip(ctx, 10*time.Second); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := e.roundTrip(ctx, 10*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBroadcast100: one op is a 100-byte broadcast to 100 clients
// (the sender among them), complete when every client has it. Allocations
// count both sides.
func BenchmarkBroadcast100(b *testing.B) {
	const n = 100
	addr := startInProcess(b)
	ctx := context.Background()
	h := newHub(n, 1)
	cs, err := dialAll(ctx, addr, n, 16, h)
	if err != nil {
		b.Fatal(err)
	}
	defer closeAll(cs)
	payload := strings.Repeat("x", 100)
	var msg []byte
	one := func(seq int64) {
		h.slots[0].Store(0)
		msg = appendBcast(msg[:0], seq, payload)
		if err := cs[0].send(msg); err != nil {
			b.Fatal(err)
		}
		select {
		case <-h.complete:
		case <-time.After(10 * time.Second):
			b.Fatalf("broadcast %d: %d of %d clients got it", seq, h.slots[0].Load(), n)
		}
	}
	for i := range 20 {
		one(int64(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		one(int64(i))
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// checkCPUSplit checks that a phase's CPU per unit in user mode and in the
// kernel are not negative and add up to the CPU per unit that its rate per
// CPU-second gives.
func checkCPUSplit(t *testing.T, server string, f figs, unit, rateKey string) {
	t.Helper()
	user, sys := f.v("server_user_us_per_"+unit), f.v("server_system_us_per_"+unit)
	if total := 1e6 / f.v(rateKey); user < 0 || sys < 0 || math.Abs(user+sys-total) > 0.01*total {
		t.Errorf("%s: CPU per %s: user %v µs + system %v µs, want %v in all", server, unit, user, sys, total)
	}
}
