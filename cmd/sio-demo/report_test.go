package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// figs are one server's figures of one phase of a report. A figure the
// test reads must be in the phase: one it lacks fails the test.
type figs struct {
	t     testing.TB
	where string
	m     map[string]*float64
}

func phaseFigures(t testing.TB, rep *report, phaseID, server string) figs {
	t.Helper()
	if rep == nil {
		t.Fatal("no report")
	}
	f := figs{t: t, where: phaseID + "/" + server, m: map[string]*float64{}}
	for _, rw := range rep.Rows {
		if rw.Phase != phaseID {
			continue
		}
		v, ok := rw.Values[server]
		if !ok {
			t.Fatalf("%s: row %q has no entry for the server", f.where, rw.Key)
		}
		f.m[rw.Key] = v
	}
	if len(f.m) == 0 {
		t.Fatalf("the report has no phase %q", phaseID)
	}
	return f
}

// v is a figure that must have been measured.
func (f figs) v(key string) float64 {
	f.t.Helper()
	p, ok := f.m[key]
	if !ok {
		f.t.Fatalf("%s: no figure %q", f.where, key)
	}
	if p == nil {
		f.t.Fatalf("%s: figure %q not measured", f.where, key)
	}
	return *p
}

// absent is a figure the phase lists but this mode cannot measure.
func (f figs) absent(key string) bool {
	f.t.Helper()
	p, ok := f.m[key]
	if !ok {
		f.t.Fatalf("%s: no figure %q", f.where, key)
	}
	return p == nil
}

// TestReportShape: one report for both modes. A URL run and a compare
// run made of the same figures have the same rows under the same keys and
// units, a figure a mode lacks is "—" in the table and null in JSON, and
// the JSON reads back into the same report.
func TestReportShape(t *testing.T) {
	cfg := defaultLoadConfig()
	// A URL run: its figures, without the server's CPU and memory.
	col := &column{Name: "server", Label: cfg.URL, ByWorker: map[string]int{}}
	col.PerSession = []sessionStats{{Index: 0, Up: true, Node: "w1.1", Connects: 2, SeqReceived: 10, SeqGaps: 1,
		S2C: map[string]*originStat{"w1.1": {First: 1, Last: 5, Received: 5}}, Sent: 4, Acked: 4}}
	lat := []time.Duration{4 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}
	f := col.sessionFigures(2*time.Second, lat, 100*time.Millisecond)
	u := &report{Mode: modeURL, Config: cfg, Seconds: 2, Servers: []*column{col}}
	u.add(phase{"sessions", "a URL run"}, []string{"sessions_up", "reconnects", "seq_gaps", "deliveries", "round_trips",
		"round_trips_per_second", "ack_p50_ms", "ack_max_ms", "connect_rate", "server_cpu_seconds", "memory_per_conn_kib"},
		map[string]figures{"server": f})
	uf := phaseFigures(t, u, "sessions", "server")
	for k, want := range map[string]float64{"sessions_up": 1, "reconnects": 1, "seq_gaps": 1, "deliveries": 5,
		"round_trips": 4, "round_trips_per_second": 2, "ack_p50_ms": 2, "ack_max_ms": 4, "connect_rate": 10} {
		if got := uf.v(k); got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if !uf.absent("server_cpu_seconds") || !uf.absent("memory_per_conn_kib") {
		t.Error("a URL run has the server's CPU or memory")
	}
	var text bytes.Buffer
	u.writeText(&text)
	for _, re := range []string{
		`(?m)^  server CPU +s +—$`, `(?m)^  server memory per idle connection +KiB +—$`,
		`(?m)^  ack latency p50 +ms +2$`, `(?m)^  seq-num gaps \(numbers skipped\) +1$`,
		`(?m)^metric +unit +server$`, `(?m)^sessions: a URL run$`,
	} {
		if !regexp.MustCompile(re).MatchString(text.String()) {
			t.Errorf("the URL table lacks %s:\n%s", re, text.String())
		}
	}
	if strings.Contains(text.String(), " vs ") {
		t.Errorf("a one-server table compares:\n%s", text.String())
	}

	// A compare run: the same keys, a column per server, ratios; the Go
	// servers' runtime settings in the heading.
	cfg.Compare, cfg.GoDebug = true, "schedtrace=1000"
	c := &report{Mode: modeCompare, Config: cfg, Servers: []*column{{Name: "go"}, {Name: "ref"}, {Name: "plain"}}}
	c.add(phase{"ack-1", "one client"}, []string{"round_trips_per_server_cpu_second", "ack_p50_ms", "server_cpu_seconds"},
		map[string]figures{
			"go":    {"round_trips_per_server_cpu_second": 30, "ack_p50_ms": 0.5, "server_cpu_seconds": 1},
			"ref":   {"round_trips_per_server_cpu_second": 20, "ack_p50_ms": 1, "server_cpu_seconds": 1},
			"plain": {"round_trips_per_server_cpu_second": 40, "ack_p50_ms": 0.25},
		})
	c.compare()
	rw := c.Rows[0]
	if rw.Vs["ref"] == nil || rw.Vs["ref"].Value != 1.5 || rw.Vs["ref"].Target != 1.5 || rw.Vs["ref"].Met == nil || !*rw.Vs["ref"].Met {
		t.Errorf("go vs ref: %+v", rw.Vs["ref"])
	}
	if rw.Vs["plain"] == nil || rw.Vs["plain"].Value != 0.75 || rw.Vs["plain"].Target != 0.8 || rw.Vs["plain"].Met == nil || *rw.Vs["plain"].Met {
		t.Errorf("go vs plain: %+v", rw.Vs["plain"])
	}
	if lat := c.Rows[1].Vs; lat["ref"].Value != 2 || lat["plain"].Value != 0.5 {
		t.Errorf("latency ratios: ref %v, plain %v", lat["ref"], lat["plain"])
	}
	if cpu := c.Rows[2]; cpu.Vs != nil || cpu.Values["plain"] != nil {
		t.Errorf("server CPU: %+v", cpu)
	}
	text.Reset()
	c.writeText(&text)
	for _, re := range []string{
		`(?m)^metric +unit +go +ref +plain +go vs ref +target +go vs plain +target$`,
		`(?m)^  ack round trips per server CPU-second +1/CPU-s +30 +20 +40 +1\.50x +≥1\.5x met +0\.75x +≥0\.8x MISSED$`,
		`(?m)^  server CPU +s +1 +1 +—$`,
		`(?m)^  the Go servers ran with GODEBUG=schedtrace=1000$`,
	} {
		if !regexp.MustCompile(re).MatchString(text.String()) {
			t.Errorf("the compare table lacks %s:\n%s", re, text.String())
		}
	}
	// Both JSON shapes read back.
	for _, r := range []*report{u, c} {
		var js bytes.Buffer
		if err := r.writeJSON(&js); err != nil {
			t.Fatal(err)
		}
		var back report
		if err := json.Unmarshal(js.Bytes(), &back); err != nil {
			t.Fatalf("%v\n%s", err, js.String())
		}
		if back.Mode != r.Mode || back.Config.Compare != r.Config.Compare || back.Config.GoDebug != r.Config.GoDebug || len(back.Rows) != len(r.Rows) || len(back.Servers) != len(r.Servers) {
			t.Errorf("%s: read back %+v", r.Mode, back)
		}
		for i, rw := range back.Rows {
			for _, s := range r.Servers {
				a, b := r.Rows[i].Values[s.Name], rw.Values[s.Name]
				if (a == nil) != (b == nil) || a != nil && *a != *b {
					t.Errorf("%s %s %s: %v, read back %v", r.Mode, rw.Key, s.Name, a, b)
				}
			}
		}
		if r.Mode == modeURL && (!strings.Contains(js.String(), `"server": null`) || strings.Contains(js.String(), `"conns"`)) {
			t.Errorf("URL JSON: a null figure or the compare settings:\n%s", js.String())
		}
		if r.Mode == modeCompare && strings.Contains(js.String(), `"sessions"`) {
			t.Errorf("compare JSON has the URL settings:\n%s", js.String())
		}
	}
}

// The goals by phase: the polling phase has one whatever its client count,
// and a phase without a goal of its own takes the figure's.
func TestTargets(t *testing.T) {
	for _, c := range []struct {
		server, phase, key string
		want               float64
	}{
		{"ref", "ack-1", "round_trips_per_server_cpu_second", 1.5},
		{"ref", "ack-100", "round_trips_per_server_cpu_second", 2},
		{"ref", "ack-10", "round_trips_per_server_cpu_second", 1.5},
		{"ref", "poll-100", "round_trips_per_server_cpu_second", 1},
		{"ref", "poll-7", "round_trips_per_server_cpu_second", 1},
		{"ref", "idle", "memory_per_conn_settled_kib", 1 / 0.6},
		{"ref", "broadcast", "deliveries_per_server_cpu_second", 2.5},
		{"plain", "ack-1", "round_trips_per_server_cpu_second", 0.8},
		{"plain", "ack-100", "round_trips_per_server_cpu_second", 0.9},
		{"plain", "ack-10", "round_trips_per_server_cpu_second", 0},
		{"plain", "broadcast", "deliveries_per_server_cpu_second", 0},
	} {
		if got := target(c.server, c.phase, c.key); got != c.want {
			t.Errorf("target(%s, %s, %s) = %v, want %v", c.server, c.phase, c.key, got, c.want)
		}
	}
}

func TestTargetText(t *testing.T) {
	no, yes := false, true
	for _, c := range []struct {
		rt   *ratio
		want string
	}{
		{&ratio{Value: 2, Target: 1 / 0.6, Met: &yes}, "≥1.67x met"},
		{&ratio{Value: 1, Target: 1.5, Met: &no}, "≥1.5x MISSED"},
		{&ratio{Value: 1, Target: 2}, "≥2x"},
		{&ratio{Value: 1}, ""},
	} {
		if got := targetText(c.rt); got != c.want {
			t.Errorf("targetText(%+v) = %q, want %q", *c.rt, got, c.want)
		}
	}
}

// TestMergeRounds: the report of several rounds gives each figure's
// median over the rounds that measured it, the advantage of the medians
// with each round's own beside it, and each round's notes under its
// number.
func TestMergeRounds(t *testing.T) {
	cfg := defaultLoadConfig()
	cfg.Compare, cfg.Rounds = true, 3
	round := func(goRT, refRT, goMem float64, refMem *float64, note string) *report {
		r := &report{Mode: modeCompare, Config: cfg, Servers: []*column{{Name: "go"}, {Name: "ref"}}}
		mem := figures{"memory_per_conn_settled_kib": goMem}
		vals := map[string]figures{"go": mem, "ref": {}}
		if refMem != nil {
			vals["ref"]["memory_per_conn_settled_kib"] = *refMem
		}
		r.add(phase{"idle", "idle"}, []string{"memory_per_conn_settled_kib"}, vals)
		r.add(phase{"ack-1", "one client"}, []string{"round_trips_per_server_cpu_second"},
			map[string]figures{"go": {"round_trips_per_server_cpu_second": goRT}, "ref": {"round_trips_per_server_cpu_second": refRT}})
		r.compare()
		if note != "" {
			r.Notes = append(r.Notes, note)
		}
		return r
	}
	f := func(v float64) *float64 { return &v }
	rep := mergeRounds([]*report{
		round(30_000, 20_000, 6, f(14), ""),
		round(36_000, 24_000, 5, nil, "warning: busy"), // the reference's memory lost in this round
		round(24_000, 22_000, 7, f(12), ""),
	})
	ack, _ := rep.value("ack-1", "round_trips_per_server_cpu_second", "go")
	ref, _ := rep.value("ack-1", "round_trips_per_server_cpu_second", "ref")
	goMem, _ := rep.value("idle", "memory_per_conn_settled_kib", "go")
	refMem, _ := rep.value("idle", "memory_per_conn_settled_kib", "ref")
	if ack != 30_000 || ref != 22_000 || goMem != 6 || refMem != 13 {
		t.Fatalf("medians: go %v, ref %v round trips; go %v, ref %v KiB; want 30000, 22000, 6, 13 (the mean of two)", ack, ref, goMem, refMem)
	}
	var rt *ratio
	for _, rw := range rep.Rows {
		if rw.Phase == "ack-1" {
			rt = rw.Vs["ref"]
		}
	}
	if rt == nil || rt.Value != 30_000.0/22_000 || !slices.Equal(rt.Rounds, []float64{1.5, 1.5, 24_000.0 / 22_000}) {
		t.Fatalf("advantage: %+v", rt)
	}
	if rt.Met == nil || *rt.Met {
		t.Errorf("target: %+v, want 1.5 missed by the medians' 1.36", rt)
	}
	if !slices.Equal(rep.Notes, []string{"round 2: warning: busy"}) {
		t.Errorf("notes: %q", rep.Notes)
	}
	var b bytes.Buffer
	rep.writeText(&b)
	for _, want := range []string{"3 rounds", "1.36x (1.09–1.50)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, b.String())
		}
	}
	if one := round(1, 1, 1, f(1), ""); mergeRounds([]*report{one}) != one || mergeRounds(nil) != nil {
		t.Error("one round is its own report, and no round none")
	}
}
