package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

// TestBenchTool runs the load tool in a tiny configuration against both
// servers, each in its own process, and checks that every figure came out.
func TestBenchTool(t *testing.T) {
	node := requireRef(t)
	cfg := defaultBenchConfig()
	cfg.Conns = 50
	cfg.Clients = 10
	cfg.BClients = 20
	cfg.Duration = time.Second
	cfg.Warmup = 200 * time.Millisecond
	cfg.Settle = 100 * time.Millisecond
	cfg.Node = node
	cfg.Timeout = time.Minute
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := runBench(ctx, cfg, &log)
	if err != nil {
		t.Fatalf("bench: %v\nserver output:\n%s", err, log.String())
	}
	for _, s := range []*serverResult{rep.Go, rep.Ref} {
		if s == nil || s.Idle == nil || s.Ack == nil || s.Bcast == nil {
			t.Fatalf("missing results: %+v", s)
		}
		if s.Idle.Conns != 50 || s.Idle.RSSAfter <= 0 || s.Idle.RSSBefore <= 0 {
			t.Errorf("%s: idle phase: %+v", s.Server, *s.Idle)
		}
		if s.Ack.RoundTrips <= 0 || s.Ack.P50Micros <= 0 || s.Ack.P99Micros < s.Ack.P50Micros || s.Ack.ServerCPU <= 0 {
			t.Errorf("%s: ack phase: %+v", s.Server, *s.Ack)
		}
		if s.Bcast.Deliveries <= 0 || s.Bcast.Broadcasts <= 0 || s.Bcast.ServerCPU <= 0 {
			t.Errorf("%s: broadcast phase: %+v", s.Server, *s.Bcast)
		}
		// Every broadcast reaches every client: the deliveries counted in
		// the window can't exceed what was sent times the receivers.
		if s.Bcast.Deliveries > s.Bcast.Broadcasts*int64(s.Bcast.Clients) {
			t.Errorf("%s: %d deliveries for %d broadcasts to %d clients", s.Server, s.Bcast.Deliveries, s.Bcast.Broadcasts, s.Bcast.Clients)
		}
	}
	var table, js bytes.Buffer
	rep.writeTable(&table)
	for _, want := range []string{"ack round trips per server CPU-second", "broadcast deliveries per server CPU-second", "idle memory per WebSocket conn"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := rep.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Rows) != len(rep.Rows) {
		t.Fatalf("JSON does not read back (%v):\n%s", err, js.String())
	}
	for _, row := range back.Rows {
		if row.Go == nil || row.Ref == nil {
			t.Errorf("row %q lacks a figure", row.Metric)
		}
	}
	t.Logf("\n%s", table.String())
}

func TestCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "bench") {
		t.Errorf("help: %d %q", code, out.String())
	}
	if code := run([]string{"nope"}, &out, &errb); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code := run([]string{"bench", "-only", "nobody"}, &out, &errb); code != 1 {
		t.Errorf("bench -only nobody: exit %d", code)
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
