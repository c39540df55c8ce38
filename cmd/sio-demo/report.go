package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// report is the load tool's one report, whichever mode ran: a column per
// server, a row per figure. Against a URL it has one column ("server");
// with -compare a column per server the tool started ("go", then "ref"
// and "plain"), and each row also gives the first server against each of
// the others. A figure has the same key and unit in every phase and mode
// (ack_p50_ms is an ack's round trip in milliseconds whether the sessions
// ran against a URL or the echo clients against the bench server), and a
// figure a mode cannot measure (the server's CPU and memory against a
// URL) is null in JSON and "—" in the table.
type report struct {
	Tool    string     `json:"tool"` // the command that ran: "sio-demo client" or "sio-demo bench"
	Mode    string     `json:"mode"` // modeURL or modeCompare
	Config  loadConfig `json:"config"`
	Seconds float64    `json:"seconds"` // the whole run
	Servers []*column  `json:"servers"`
	Phases  []phase    `json:"phases"`
	Rows    []row      `json:"rows"`
	Notes   []string   `json:"notes,omitempty"` // warnings: a disturbed measurement, a failed server
}

const (
	modeURL     = "url"     // sessions against a server at a URL
	modeCompare = "compare" // servers started side by side and measured one after the other
)

// column is one server.
type column struct {
	Name  string `json:"name"`  // the key of its figures in each row's values
	Label string `json:"label"` // what it is
	Error string `json:"error,omitempty"`
	// Against a URL: the sessions by the worker that last answered them
	// (at the end), and every session's own figures.
	ByWorker   map[string]int `json:"sessions_by_worker,omitempty"`
	PerSession []sessionStats `json:"per_session,omitempty"`
}

// phase is a part of the run; its rows follow its title in the table.
type phase struct {
	ID    string `json:"id"` // "sessions", "idle", "ack-1", "ack-100", "broadcast"
	Title string `json:"title"`
}

// row is one figure of one phase, for every server.
type row struct {
	Phase  string              `json:"phase"`
	Key    string              `json:"key"`
	Metric string              `json:"metric"`
	Unit   string              `json:"unit"`             // "" for a count
	Better string              `json:"better,omitempty"` // "higher", "lower", or "" (context only)
	Values map[string]*float64 `json:"values"`           // by server name; null where not measured
	// The first server against each other one, by that one's name (only
	// where both have a positive figure and Better is set).
	Vs map[string]*ratio `json:"vs,omitempty"`
}

// ratio is the first server's advantage over another: first/other when
// more is better, other/first when less is, so that above 1 always means
// the first server does better. Target, when set, is what it should reach.
type ratio struct {
	Value  float64 `json:"value"`
	Target float64 `json:"target,omitempty"`
	Met    *bool   `json:"target_met,omitempty"`
	// With -rounds: the advantage in each round, in order (a round
	// without one is left out); Value is that of the medians.
	Rounds []float64 `json:"rounds,omitempty"`
}

// metricDef is a figure the tool knows: its key, text, unit and
// direction. The table below is the one place they are named, so that
// the two modes cannot drift apart.
type metricDef struct {
	key, text, unit, better string
}

var metricDefs = func() map[string]metricDef {
	m := map[string]metricDef{}
	for _, d := range []metricDef{
		// Sessions and connections.
		{"sessions_up", "sessions up at the end", "", "higher"},
		{"never_up", "sessions that never connected", "", "lower"},
		{"connects", "connections made", "", ""},
		{"reconnects", "reconnections", "", "lower"},
		{"connect_seconds", "time until every connection was up", "s", "lower"},
		{"connect_rate", "connect rate", "1/s", "higher"},
		// The demo's events.
		{"seq_received", "seq-num received", "", ""},
		{"seq_gaps", "seq-num gaps (numbers skipped)", "", "lower"},
		{"seq_disorder", "seq-num out of order", "", "lower"},
		{"s2c_missed", "s2c-event missed", "", "lower"},
		{"s2c_duplicates", "s2c-event duplicated", "", "lower"},
		{"s2c_origins", "s2c-event origins (workers)", "", ""},
		{"events_in_per_second", "events received per second, all clients", "1/s", "higher"},
		// Acks.
		{"sent", "events sent with an ack", "", ""},
		{"round_trips", "ack round trips", "", ""},
		{"ack_failed", "acks failed or timed out", "", "lower"},
		{"round_trips_per_second", "ack round trips per second", "1/s", "higher"},
		{"ack_p50_ms", "ack latency p50", "ms", "lower"},
		{"ack_p90_ms", "ack latency p90", "ms", "lower"},
		{"ack_p99_ms", "ack latency p99", "ms", "lower"},
		{"ack_p999_ms", "ack latency p99.9", "ms", "lower"},
		{"ack_max_ms", "ack latency max", "ms", "lower"},
		{"round_trips_per_server_cpu_second", "ack round trips per server CPU-second", "1/CPU-s", "higher"},
		{"server_user_us_per_round_trip", "server CPU per round trip, user mode", "µs", "lower"},
		{"server_system_us_per_round_trip", "server CPU per round trip, in the kernel", "µs", "lower"},
		{"server_reads_per_round_trip", "server read syscalls per round trip", "", ""},
		{"server_writes_per_round_trip", "server write syscalls per round trip", "", ""},
		// Broadcasts.
		{"broadcasts", "broadcasts sent, warm-up included", "", ""},
		{"deliveries", "broadcast deliveries, all clients", "", ""},
		{"deliveries_per_second", "broadcast deliveries per second", "1/s", "higher"},
		{"fanout_p50_ms", "broadcast fan-out p50 (send to last receipt)", "ms", "lower"},
		{"fanout_p99_ms", "broadcast fan-out p99", "ms", "lower"},
		{"deliveries_per_server_cpu_second", "broadcast deliveries per server CPU-second", "1/CPU-s", "higher"},
		{"server_user_us_per_delivery", "server CPU per delivery, user mode", "µs", "lower"},
		{"server_system_us_per_delivery", "server CPU per delivery, in the kernel", "µs", "lower"},
		{"server_writes_per_delivery", "server write syscalls per delivery", "", ""},
		// Memory.
		{"rss_empty_mib", "server RSS with no connections", "MiB", ""},
		{"rss_mib", "server RSS with the connections", "MiB", ""},
		{"memory_per_conn_kib", "server memory per idle connection", "KiB", "lower"},
		{"rss_empty_settled_mib", "server RSS with no connections, settled, no forced GC", "MiB", ""},
		{"rss_settled_mib", "server RSS with the connections, settled, no forced GC", "MiB", ""},
		{"memory_per_conn_settled_kib", "server memory per idle connection, settled, no forced GC", "KiB", "lower"},
		// CPU.
		{"server_cpu_seconds", "server CPU", "s", ""},
		{"load_cpu_seconds", "load generator CPU", "s", ""},
		{"other_cpu_seconds", "CPU of other processes", "s", ""},
	} {
		m[d.key] = d
	}
	return m
}()

// targets are the advantages sio's server should reach, by server
// compared with, then by phase and figure ("ack-1/…") or by figure alone.
// They are the goals of the performance work: against the reference, 1.5x
// its ack round trips per CPU-second with one client and 2x with 100, 0.6x
// its idle memory as an operator reads it (settled, no forced GC), 2.5x its
// broadcast deliveries, and no worse with polling clients; against the
// plain WebSocket server (the ceiling), 0.8x and 0.9x its round trips.
var targets = map[string]map[string]float64{
	"ref": {
		"memory_per_conn_kib":                       1,
		"memory_per_conn_settled_kib":               1 / 0.6,
		"ack_p99_ms":                                1,
		"round_trips_per_server_cpu_second":         1.5,
		"ack-100/round_trips_per_server_cpu_second": 2,
		"poll/round_trips_per_server_cpu_second":    1,
		"deliveries_per_server_cpu_second":          2.5,
	},
	"plain": {
		"ack-1/round_trips_per_server_cpu_second":   0.8,
		"ack-100/round_trips_per_server_cpu_second": 0.9,
	},
}

// target is the goal of a row against server, or 0. The polling phase
// has one goal whatever its client count.
func target(server, phase, key string) float64 {
	if strings.HasPrefix(phase, "poll-") {
		phase = "poll"
	}
	if t, ok := targets[server][phase+"/"+key]; ok {
		return t
	}
	return targets[server][key]
}

// figures is what one phase measured of one server, by key; a key the
// phase lists but a server lacks is null.
type figures map[string]float64

// add appends the rows of phase p: one per key, in that order, with each
// server's figure from vals (by server name; a missing server or key is
// null).
func (r *report) add(p phase, keys []string, vals map[string]figures) {
	r.Phases = append(r.Phases, p)
	for _, k := range keys {
		d, ok := metricDefs[k]
		if !ok {
			panic("sio-demo: unknown figure " + k)
		}
		rw := row{Phase: p.ID, Key: k, Metric: d.text, Unit: d.unit, Better: d.better, Values: map[string]*float64{}}
		for _, c := range r.Servers {
			if v, ok := vals[c.Name][k]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				// Six significant digits: more is the noise of a
				// difference of CPU-time readings (0.9099999999999997).
				v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
				rw.Values[c.Name] = &v
			} else {
				rw.Values[c.Name] = nil
			}
		}
		r.Rows = append(r.Rows, rw)
	}
}

// compare fills in each row's advantage of the first server over the
// others.
func (r *report) compare() {
	if len(r.Servers) < 2 {
		return
	}
	first := r.Servers[0].Name
	for i := range r.Rows {
		rw := &r.Rows[i]
		if rw.Better == "" {
			continue
		}
		g := rw.Values[first]
		for _, c := range r.Servers[1:] {
			o := rw.Values[c.Name]
			// A ratio of a figure that is not positive (a memory
			// difference lost in noise, no failures at all) means nothing.
			if g == nil || o == nil || *g <= 0 || *o <= 0 {
				continue
			}
			adv := *g / *o
			if rw.Better == "lower" {
				adv = *o / *g
			}
			rt := &ratio{Value: adv}
			if t := target(c.Name, rw.Phase, rw.Key); t > 0 {
				met := adv >= t
				rt.Target, rt.Met = t, &met
			}
			if rw.Vs == nil {
				rw.Vs = map[string]*ratio{}
			}
			rw.Vs[c.Name] = rt
		}
	}
}

// mergeRounds makes one report of the rounds of a run, which have the
// same servers and rows: each figure is the median of the rounds that
// measured it (of the two middle ones, their mean), each advantage that
// of the medians with the advantage of each round beside it, and the
// notes of a round say which. It returns nil for no rounds.
func mergeRounds(reps []*report) *report {
	if len(reps) < 2 {
		if len(reps) == 1 {
			return reps[0]
		}
		return nil
	}
	out := *reps[0]
	out.Rows = make([]row, len(reps[0].Rows))
	out.Notes = nil
	for i, rw := range reps[0].Rows {
		m := rw
		m.Values, m.Vs = map[string]*float64{}, nil
		for _, c := range out.Servers {
			var vs []float64
			for _, r := range reps {
				if i < len(r.Rows) {
					if v := r.Rows[i].Values[c.Name]; v != nil {
						vs = append(vs, *v)
					}
				}
			}
			if len(vs) == 0 {
				m.Values[c.Name] = nil
				continue
			}
			med := median(vs)
			med, _ = strconv.ParseFloat(strconv.FormatFloat(med, 'g', 6, 64), 64)
			m.Values[c.Name] = &med
		}
		out.Rows[i] = m
	}
	out.compare()
	for i := range out.Rows {
		for name, rt := range out.Rows[i].Vs {
			for _, r := range reps {
				if i < len(r.Rows) && r.Rows[i].Vs[name] != nil {
					rt.Rounds = append(rt.Rounds, r.Rows[i].Vs[name].Value)
				}
			}
		}
	}
	for k, r := range reps {
		for _, n := range r.Notes {
			out.Notes = append(out.Notes, fmt.Sprintf("round %d: %s", k+1, n))
		}
	}
	return &out
}

// median is the middle of vs (not empty), or the mean of its two middle
// values; vs is sorted in place.
func median(vs []float64) float64 {
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// value is one server's figure of a phase.
func (r *report) value(phaseID, key, server string) (float64, bool) {
	for _, rw := range r.Rows {
		if rw.Phase == phaseID && rw.Key == key {
			if v := rw.Values[server]; v != nil {
				return *v, true
			}
			return 0, false
		}
	}
	return 0, false
}

// server is the column named name, or nil.
func (r *report) server(name string) *column {
	for _, c := range r.Servers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeText writes the table: a head that says what ran, then each
// phase's title and rows, with a column per server and, with several
// servers, the first one's advantage over each other (and its target).
func (r *report) writeText(w io.Writer) {
	c := r.Config
	switch r.Mode {
	case modeURL:
		fmt.Fprintf(w, "%s: %d sessions over %s against %s, %s, for %.1fs\n",
			r.Tool, c.Sessions, transportText(c.Transport), c.URL, rateText(c.Rate), r.Seconds)
	default:
		names := make([]string, len(r.Servers))
		for i, s := range r.Servers {
			names[i] = s.Name
		}
		fmt.Fprintf(w, "%s: %s on 127.0.0.1, one after the other; %v windows after %v warm-up; %.0fs in all\n",
			r.Tool, strings.Join(names, ", "), c.Duration, c.Warmup, r.Seconds)
		if c.Rounds > 1 {
			fmt.Fprintf(w, "  %d rounds, each starting one server later; each figure is the median of the rounds, each advantage that of the medians (its range over the rounds in brackets)\n", c.Rounds)
		}
	}
	for _, s := range r.Servers {
		fmt.Fprintf(w, "  %-6s  %s\n", s.Name, s.Label)
	}
	if r.Mode != modeURL && (c.GoDebug != "" || c.GoMaxProcs > 0) {
		var env []string
		if c.GoDebug != "" {
			env = append(env, "GODEBUG="+c.GoDebug)
		}
		if c.GoMaxProcs > 0 {
			env = append(env, fmt.Sprintf("GOMAXPROCS=%d", c.GoMaxProcs))
		}
		fmt.Fprintf(w, "  the Go servers ran with %s\n", strings.Join(env, " "))
	}
	var others []*column
	if len(r.Servers) > 1 {
		others = r.Servers[1:]
		first := r.Servers[0].Name
		fmt.Fprintf(w, "%q is %s/X for throughputs and X/%s for memory, latency and time: above 1 means %s does better.\n",
			first+" vs X", first, first, first)
	}
	fmt.Fprintln(w)
	// A target column after the ratio to each server that has targets.
	hasTarget := map[string]bool{}
	for _, rw := range r.Rows {
		for n, rt := range rw.Vs {
			if rt.Target > 0 {
				hasTarget[n] = true
			}
		}
	}
	head := []string{"metric", "unit"}
	for _, s := range r.Servers {
		head = append(head, s.Name)
	}
	for _, o := range others {
		head = append(head, r.Servers[0].Name+" vs "+o.Name)
		if hasTarget[o.Name] {
			head = append(head, "target")
		}
	}
	t := &table{}
	t.add(head...)
	for _, p := range r.Phases {
		t.line(p.ID + ": " + p.Title)
		for _, rw := range r.Rows {
			if rw.Phase != p.ID {
				continue
			}
			cells := []string{"  " + rw.Metric, rw.Unit}
			for _, s := range r.Servers {
				cells = append(cells, fmtVal(rw.Values[s.Name]))
			}
			for _, o := range others {
				rt := rw.Vs[o.Name]
				if rt != nil {
					cells = append(cells, ratioText(rt))
				} else {
					cells = append(cells, "")
				}
				if hasTarget[o.Name] {
					cells = append(cells, targetText(rt))
				}
			}
			t.add(cells...)
		}
	}
	t.write(w)
	for _, s := range r.Servers {
		if len(s.ByWorker) > 0 {
			var parts []string
			for _, k := range sortedKeys(s.ByWorker) {
				parts = append(parts, fmt.Sprintf("%s: %d", k, s.ByWorker[k]))
			}
			fmt.Fprintf(w, "\n%s: sessions by worker at the end: %s\n", s.Name, strings.Join(parts, ", "))
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, n)
	}
}

// table lines up its rows: the first column to the left, the others to
// the right; a line stands alone and leaves the widths alone.
type table struct {
	rows  [][]string // a nil row is the next line
	lines []string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }
func (t *table) line(s string)       { t.rows = append(t.rows, nil); t.lines = append(t.lines, s) }

func (t *table) write(w io.Writer) {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	li := 0
	for _, r := range t.rows {
		b.Reset()
		if r == nil {
			b.WriteString(t.lines[li])
			li++
		}
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			switch {
			case i == 0:
				b.WriteString(c + pad)
			default:
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// transportText says how -transport connects.
func transportText(t string) string {
	switch t {
	case "upgrade":
		return "polling upgraded to websocket"
	case "mixed":
		return "polling and websocket by turns"
	}
	return t
}

func rateText(rate float64) string {
	if rate <= 0 {
		return "no c2s-event"
	}
	return fmt.Sprintf("c2s-event at %s/s each with an ack", trimFloat(rate))
}

// ratioText is an advantage, and with rounds its range over them:
// "1.62x (1.51–1.70)".
func ratioText(rt *ratio) string {
	s := fmt.Sprintf("%.2fx", rt.Value)
	if len(rt.Rounds) > 1 {
		s += fmt.Sprintf(" (%.2f–%.2f)", slices.Min(rt.Rounds), slices.Max(rt.Rounds))
	}
	return s
}

func targetText(rt *ratio) string {
	if rt == nil || rt.Target <= 0 {
		return ""
	}
	// Two decimals at most: 1/0.6 reads ≥1.67x.
	t := strings.TrimRight(strings.TrimRight(strconv.FormatFloat(rt.Target, 'f', 2, 64), "0"), ".")
	s := "≥" + t + "x"
	if rt.Met != nil {
		if *rt.Met {
			s += " met"
		} else {
			s += " MISSED"
		}
	}
	return s
}

// fmtVal writes a figure with the digits that matter; "—" is one not
// measured.
func fmtVal(v *float64) string {
	if v == nil {
		return "—"
	}
	x := *v
	switch a := math.Abs(x); {
	case a >= 1000 || x == math.Trunc(x):
		return strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(x, 'f', 2, 64)
	default:
		return strconv.FormatFloat(x, 'f', 3, 64)
	}
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// latencyFigures are the percentiles of sorted under the keys prefix_p50_ms
// and so on; none when there are no samples.
func latencyFigures(f figures, prefix string, sorted []time.Duration, qs ...string) {
	if len(sorted) == 0 {
		return
	}
	q := map[string]float64{"p50": 0.50, "p90": 0.90, "p99": 0.99, "p999": 0.999, "max": 1}
	for _, name := range qs {
		f[prefix+"_"+name+"_ms"] = millis(percentile(sorted, q[name]))
	}
}
