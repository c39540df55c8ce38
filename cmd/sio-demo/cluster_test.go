package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sio-go/sio/transport/peertest"
)

// freshHTTP opens a new connection per request, so that SO_REUSEPORT
// hands each to any of the workers.
var freshHTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}, Timeout: 10 * time.Second}

func getFresh(t *testing.T, url string) (string, int) {
	t.Helper()
	resp, err := freshHTTP.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.StatusCode
}

// tryFresh is getFresh that returns the error.
func tryFresh(url string) (string, int, error) {
	resp, err := freshHTTP.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

var healthRE = regexp.MustCompile(`^ok worker=([0-9]+) pid=([0-9]+) `)

// workerPIDs asks /healthz until every worker of n has answered.
func workerPIDs(t *testing.T, base string, n int) map[int]int {
	t.Helper()
	pids := map[int]int{}
	for i := 0; i < 500 && len(pids) < n; i++ {
		body, _, err := tryFresh(base + "/healthz")
		if err != nil {
			continue // reset: queued for a worker as it died
		}
		if m := healthRE.FindStringSubmatch(body); m != nil {
			w, _ := strconv.Atoi(m[1])
			pid, _ := strconv.Atoi(m[2])
			pids[w] = pid
		}
	}
	if len(pids) < n {
		t.Fatalf("only workers %v answered /healthz", pids)
	}
	return pids
}

// awaitSockets asks the workers' /healthz until three workers, none of
// them pid gone, hold n sockets together, or fails after two minutes.
func awaitSockets(t *testing.T, base string, n, gone int) error {
	t.Helper()
	re := regexp.MustCompile(`^ok worker=([0-9]+) pid=([0-9]+) sockets=([0-9]+)`)
	deadline := time.Now().Add(2 * time.Minute)
	var last map[int][2]int
	for time.Now().Before(deadline) {
		// One round: a reading of every worker.
		seen := map[int][2]int{} // worker -> pid, sockets
		for i := 0; i < 200 && len(seen) < 3; i++ {
			// A connection the kernel queued for a worker as it died is
			// reset: that is one reading fewer, not a failure.
			body, _, err := tryFresh(base + "/healthz")
			if err != nil {
				continue
			}
			if m := re.FindStringSubmatch(body); m != nil {
				w, _ := strconv.Atoi(m[1])
				pid, _ := strconv.Atoi(m[2])
				k, _ := strconv.Atoi(m[3])
				if pid != gone {
					seen[w] = [2]int{pid, k}
				}
			}
		}
		sum := 0
		for _, v := range seen {
			sum += v[1]
		}
		if len(seen) == 3 && sum == n {
			return nil
		}
		last = seen
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the workers never held %d sockets together; last reading (worker: pid, sockets) %v", n, last)
}

// TestMultiProcess runs the demo as the seed does on a platform: three
// worker processes on one port, with the cluster bus on a real
// redis-server, driven by "sio-demo client" with 300 sessions. Each
// session's seq-nums arrive in order without gaps and every s2c-event
// exactly once; one worker is killed: its clients reconnect to the
// others, and the rest see no gap.
func TestMultiProcess(t *testing.T) {
	if !reusePortSupported {
		t.Skip("several processes on one port need SO_REUSEPORT (Linux)")
	}
	redis := peertest.StartRedis(t)
	p := startDemoProc(t, []string{"-host", "127.0.0.1", "-port", "0", "-seq-interval", "200", "-broadcast-interval", "250"},
		"WEB_CONCURRENCY=3", "REDIS_URL="+redis.URL())
	// Several processes share the port without sticky sessions: no
	// polling.
	if _, code := getFresh(t, p.url+"/socket.io/?EIO=4&transport=polling"); code != http.StatusBadRequest {
		t.Errorf("a polling handshake answered %d, want 400", code)
	}
	var cfg welcome
	body, _ := getFresh(t, p.url+"/config.json")
	if err := json.Unmarshal([]byte(body), &cfg); err != nil || strings.Join(cfg.Transports, ",") != "websocket" || cfg.Workers != 3 || !cfg.Cluster {
		t.Fatalf("config %s: %v", body, err)
	}
	pids := workerPIDs(t, p.url, 3)

	// The client, as a user runs it, in a process of its own.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const sessions = 300
	client := exec.Command(exe, "client", "-url", p.url, "-sessions", strconv.Itoa(sessions), "-transport", "websocket",
		"-rate", "1", "-duration", "0", "-ack-timeout", "2m", "-json", "-progress", "off")
	client.Env = append(os.Environ(), subprocessEnv+"=1")
	var out bytes.Buffer
	client.Stdout = &out
	client.Stderr = &lockedWriter{w: &bytes.Buffer{}}
	dieWithParent(client)
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	clientDone := make(chan error, 1)
	go func() { clientDone <- client.Wait() }()
	t.Cleanup(func() {
		if client.ProcessState == nil {
			_ = client.Process.Kill()
		}
	})

	// Once every session is up, one worker dies; once its clients are
	// back on the others, and a few broadcasts later, the client stops
	// (SIGINT) and reports.
	if err := awaitSockets(t, p.url, sessions, 0); err != nil {
		t.Fatalf("%v\nclient stderr:\n%s", err, client.Stderr)
	}
	// Every worker's /metrics gives the cluster-wide count of clients,
	// which the workers tell each other over the bus, and its own.
	clusterRE := regexp.MustCompile(`(?m)^sio_demo_cluster_sockets\{worker="([1-3])"\} ` + strconv.Itoa(sessions) + `$`)
	told := map[string]bool{}
	waitFor(t, func() bool {
		m, _ := getFresh(t, p.url+"/metrics")
		if mm := clusterRE.FindStringSubmatch(m); mm != nil {
			told[mm[1]] = true
		}
		return len(told) == 3
	})
	time.Sleep(time.Second) // a few broadcasts with everyone up
	victim := pids[2]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed worker 2 (pid %d)", victim)
	if err := awaitSockets(t, p.url, sessions, victim); err != nil {
		t.Fatalf("%v\nclient stderr:\n%s", err, client.Stderr)
	}
	time.Sleep(3 * time.Second) // broadcasts with everyone back
	if err := client.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-clientDone:
		if err != nil {
			t.Fatalf("client: %v\nstderr:\n%s", err, client.Stderr)
		}
	case <-time.After(90 * time.Second):
		// Its goroutines, for the log.
		_ = client.Process.Signal(syscall.SIGQUIT)
		<-clientDone
		t.Fatalf("the client did not finish; stderr:\n%s", client.Stderr)
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("client output: %v\n%s", err, out.String())
	}
	f := phaseFigures(t, &rep, "sessions", "server")
	srv := rep.server("server")
	if rep.Mode != modeURL || rep.Config.Sessions != sessions || srv == nil || len(srv.PerSession) != sessions {
		t.Fatalf("report of %s mode, %d sessions configured, server %+v", rep.Mode, rep.Config.Sessions, srv)
	}
	t.Logf("%d sessions: %v connects, %v reconnects; seq-nums %v, s2c-events %v from %v workers; acks %v, p50 %.2f ms, p99 %.2f ms; at the end %v",
		rep.Config.Sessions, f.v("connects"), f.v("reconnects"), f.v("seq_received"), f.v("deliveries"), f.v("s2c_origins"),
		f.v("round_trips"), f.v("ack_p50_ms"), f.v("ack_p99_ms"), srv.ByWorker)
	if f.v("never_up") != 0 || f.v("sessions_up") != sessions {
		t.Errorf("%v sessions never up, %v up at the end", f.v("never_up"), f.v("sessions_up"))
	}
	if f.v("seq_gaps") != 0 || f.v("seq_disorder") != 0 || f.v("s2c_missed") != 0 || f.v("s2c_duplicates") != 0 {
		t.Errorf("seq-num gaps %v, out of order %v; s2c-event missed %v, duplicated %v", f.v("seq_gaps"), f.v("seq_disorder"), f.v("s2c_missed"), f.v("s2c_duplicates"))
	}
	victimNode := "w2." + strconv.Itoa(victim)
	for node := range srv.ByWorker {
		if node == victimNode {
			t.Errorf("sessions still on the killed worker at the end: %v", srv.ByWorker)
		}
	}
	// Every survivor's broadcasts: each session that stayed connected got
	// a gapless run of each, without a duplicate, and the runs of all
	// sessions overlap on a common stretch.
	type span struct{ first, last int64 }
	common := map[string]span{}
	moved, stayed := 0, 0
	for _, st := range srv.PerSession {
		if st.AckFailed > 0 && st.Connects == 1 {
			t.Errorf("session %d lost %d acks without losing its connection", st.Index, st.AckFailed)
		}
		if st.Connects > 1 {
			moved++
			continue
		}
		stayed++
		if st.Node == victimNode {
			t.Errorf("session %d stayed on the killed worker", st.Index)
		}
		for _, w := range []int{1, 3} {
			origin := "w" + strconv.Itoa(w) + "." + strconv.Itoa(pids[w])
			o := st.S2C[origin]
			if o == nil {
				t.Errorf("session %d got nothing from worker %d", st.Index, w)
				continue
			}
			if o.Received != o.Last-o.First+1 || o.Dups != 0 || o.Missed != 0 {
				t.Errorf("session %d, worker %d: %d received in %d..%d, %d duplicates", st.Index, w, o.Received, o.First, o.Last, o.Dups)
			}
			c, ok := common[origin]
			if !ok {
				c = span{o.First, o.Last}
			}
			common[origin] = span{max(c.first, o.First), min(c.last, o.Last)}
		}
		// The killed worker's broadcasts too, up to its end.
		if o := st.S2C[victimNode]; o != nil && (o.Received != o.Last-o.First+1 || o.Dups != 0) {
			t.Errorf("session %d, the killed worker: %d received in %d..%d", st.Index, o.Received, o.First, o.Last)
		}
	}
	// About a third of the sessions were on the killed worker.
	if moved < sessions/10 || stayed < sessions/2 {
		t.Errorf("%d sessions reconnected, %d stayed", moved, stayed)
	}
	for origin, c := range common {
		// 4 s at 4 a second at least: the sessions share many of them.
		if c.last-c.first < 12 {
			t.Errorf("%s: the sessions share only broadcasts %d..%d", origin, c.first, c.last)
		}
	}
	// The master replaced the killed worker; the cluster bus counted.
	after := workerPIDs(t, p.url, 3)
	if after[2] == victim || after[1] != pids[1] || after[3] != pids[3] {
		t.Errorf("workers before %v, after %v", pids, after)
	}
	m, _ := getFresh(t, p.url+"/metrics")
	if !regexp.MustCompile(`(?m)^sio_demo_cluster_published_total\{worker="[0-9]"\} [1-9][0-9]*$`).MatchString(m) ||
		!regexp.MustCompile(`(?m)^sio_demo_cluster_subscribed\{worker="[0-9]"\} 1$`).MatchString(m) {
		t.Errorf("/metrics lacks the cluster bus's counters:\n%s", m)
	}
	rest := p.stop(t, syscall.SIGTERM)
	if strings.Contains(p.stderr.String(), "DATA RACE") {
		t.Error("a worker reported a data race")
	}
	if len(rest) != 1 || rest[0] != "sio-demo: stopped on SIGTERM; every client was told" {
		t.Errorf("output after SIGTERM: %q", rest)
	}
}
