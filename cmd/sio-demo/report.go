package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"unicode/utf8"
)

// report is the outcome of a bench run: the figures of each server and
// the rows of the comparison.
type report struct {
	Config benchConfig   `json:"config"`
	Go     *serverResult `json:"go,omitempty"`
	Ref    *serverResult `json:"ref,omitempty"`
	Rows   []reportRow   `json:"rows"`
}

// reportRow compares one metric. Advantage is Go/ref when more is better
// and ref/Go when less is better, so that above 1 always means the Go
// server does better; Target, when set, is the advantage it should reach.
type reportRow struct {
	Metric    string   `json:"metric"`
	Unit      string   `json:"unit"`
	Go        *float64 `json:"go,omitempty"`
	Ref       *float64 `json:"ref,omitempty"`
	Better    string   `json:"better"` // "higher", "lower" or "" (context only)
	Advantage *float64 `json:"go_advantage,omitempty"`
	Target    float64  `json:"target,omitempty"`
	Met       *bool    `json:"target_met,omitempty"`
}

func (r *report) build() {
	type metric struct {
		name, unit, better string
		target             float64
		val                func(*serverResult) (float64, bool)
	}
	idle := func(f func(*idleResult) float64) func(*serverResult) (float64, bool) {
		return func(s *serverResult) (float64, bool) {
			if s == nil || s.Idle == nil {
				return 0, false
			}
			return f(s.Idle), true
		}
	}
	ack := func(f func(*ackResult) float64) func(*serverResult) (float64, bool) {
		return func(s *serverResult) (float64, bool) {
			if s == nil || s.Ack == nil {
				return 0, false
			}
			return f(s.Ack), true
		}
	}
	bc := func(f func(*bcastResult) float64) func(*serverResult) (float64, bool) {
		return func(s *serverResult) (float64, bool) {
			if s == nil || s.Bcast == nil {
				return 0, false
			}
			return f(s.Bcast), true
		}
	}
	c := r.Config
	gcNote := "after forced GC"
	if !c.ForceGC {
		gcNote = "settled"
	}
	ms := []metric{
		{fmt.Sprintf("idle memory per WebSocket conn, %d conns (%s)", c.Conns, gcNote), "KiB", "lower", 1,
			idle(func(i *idleResult) float64 { return i.BytesPerConn / 1024 })},
		{fmt.Sprintf("idle memory per WebSocket conn, %d conns (settled, no forced GC)", c.Conns), "KiB", "lower", 0,
			idle(func(i *idleResult) float64 { return i.BytesPerConnSettled / 1024 })},
		{"RSS with 0 conns", "MiB", "", 0, idle(func(i *idleResult) float64 { return mib(i.RSSBefore) })},
		{fmt.Sprintf("RSS with %d conns", c.Conns), "MiB", "", 0, idle(func(i *idleResult) float64 { return mib(i.RSSAfter) })},
		{fmt.Sprintf("time to connect %d conns", c.Conns), "s", "lower", 0, idle(func(i *idleResult) float64 { return i.ConnectSeconds })},
		{fmt.Sprintf("ack round trips/s, %d clients", c.Clients), "1/s", "higher", 0, ack(func(a *ackResult) float64 { return a.PerSecond })},
		{"ack latency p50", "µs", "lower", 0, ack(func(a *ackResult) float64 { return a.P50Micros })},
		{"ack latency p99", "µs", "lower", 1, ack(func(a *ackResult) float64 { return a.P99Micros })},
		{"ack server CPU in window", "s", "", 0, ack(func(a *ackResult) float64 { return a.ServerCPU })},
		{"ack round trips per server CPU-second", "1/CPU-s", "higher", 1.5, ack(func(a *ackResult) float64 { return a.PerCPUSecond })},
		{"ack server read syscalls per round trip", "", "", 0, ack(func(a *ackResult) float64 { return a.ServerReads })},
		{"ack server write syscalls per round trip", "", "", 0, ack(func(a *ackResult) float64 { return a.ServerWrites })},
		{"ack load generator CPU in window", "s", "", 0, ack(func(a *ackResult) float64 { return a.LoadCPU })},
		{"ack CPU of other processes in window", "s", "", 0, ack(func(a *ackResult) float64 { return a.OtherCPU })},
		{fmt.Sprintf("broadcast deliveries/s, %d clients", c.BClients), "1/s", "higher", 0, bc(func(b *bcastResult) float64 { return b.PerSecond })},
		{"broadcast fan-out p50 (send to last receipt)", "ms", "lower", 0, bc(func(b *bcastResult) float64 { return b.FanoutP50ms })},
		{"broadcast fan-out p99", "ms", "lower", 0, bc(func(b *bcastResult) float64 { return b.FanoutP99ms })},
		{"broadcast server CPU in window", "s", "", 0, bc(func(b *bcastResult) float64 { return b.ServerCPU })},
		{"broadcast deliveries per server CPU-second", "1/CPU-s", "higher", 2, bc(func(b *bcastResult) float64 { return b.PerCPUSecond })},
		{"broadcast server write syscalls per delivery", "", "", 0, bc(func(b *bcastResult) float64 { return b.ServerWrites })},
		{"broadcast load generator CPU in window", "s", "", 0, bc(func(b *bcastResult) float64 { return b.LoadCPU })},
		{"broadcast CPU of other processes in window", "s", "", 0, bc(func(b *bcastResult) float64 { return b.OtherCPU })},
	}
	r.Rows = r.Rows[:0]
	for _, m := range ms {
		row := reportRow{Metric: m.name, Unit: m.unit, Better: m.better, Target: m.target}
		g, gok := m.val(r.Go)
		f, fok := m.val(r.Ref)
		if gok {
			row.Go = &g
		}
		if fok {
			row.Ref = &f
		}
		if gok && fok && m.better != "" {
			var adv float64
			switch {
			case g <= 0 || f <= 0:
				// A ratio of a figure that is not positive (a memory
				// difference lost in noise) means nothing.
				adv = math.NaN()
			case m.better == "higher":
				adv = g / f
			default:
				adv = f / g
			}
			if !math.IsNaN(adv) && !math.IsInf(adv, 0) {
				row.Advantage = &adv
				if m.target > 0 {
					met := adv >= m.target
					row.Met = &met
				}
			}
		}
		r.Rows = append(r.Rows, row)
	}
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *report) writeTable(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "sio-demo bench: %d idle conns, %d echo clients, %d broadcast clients (%d in flight, %d-byte payload), %v windows after %v warm-up\n",
		c.Conns, c.Clients, c.BClients, c.InFlight, c.Payload, c.Duration, c.Warmup)
	fmt.Fprintln(w, `"Go advantage" is Go/reference for throughputs and reference/Go for memory, latency and time: above 1 means the Go server does better.`)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("metric")
	for _, row := range r.Rows {
		width = max(width, utf8.RuneCountInString(row.Metric))
	}
	fmt.Fprintf(tw, "%-*s\tunit\tGo\treference\tGo advantage\ttarget\t\n", width, "metric")
	for _, row := range r.Rows {
		target := ""
		if row.Target > 0 {
			target = fmt.Sprintf("≥%sx", trimFloat(row.Target))
			if row.Met != nil {
				if *row.Met {
					target += " met"
				} else {
					target += " MISSED"
				}
			}
		}
		adv := ""
		if row.Advantage != nil {
			adv = fmt.Sprintf("%.2fx", *row.Advantage)
		}
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%s\t\n", width, row.Metric, row.Unit, fmtVal(row.Go), fmtVal(row.Ref), adv, target)
	}
	tw.Flush()
	for _, s := range []*serverResult{r.Go, r.Ref} {
		if s == nil {
			continue
		}
		busy := 0.0
		if s.Ack != nil {
			busy = max(busy, s.Ack.OtherCPU/s.Ack.Seconds)
		}
		if s.Bcast != nil {
			busy = max(busy, s.Bcast.OtherCPU/s.Bcast.Seconds)
		}
		if busy > 0.15 {
			fmt.Fprintf(w, "\nwarning: while the %s server was measured, other processes used %.0f%% of a core: its figures are disturbed\n", s.Server, 100*busy)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "\n%s server failed: %s\n", s.Server, s.Error)
		}
	}
}

func fmtVal(v *float64) string {
	if v == nil {
		return "-"
	}
	x := *v
	switch a := math.Abs(x); {
	case a >= 1000:
		return strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	default:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
