package cluster_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sio-go/sio/transport/peertest"
)

// Broadcast load for the comparison: rate broadcasts per second, count in
// all, each to every one of clients official clients spread over the
// nodes.
const (
	cmpClients = 100
	cmpRate    = 100
	cmpCount   = 300
)

type latReport struct {
	Count int   `json:"count"`
	P50   int64 `json:"p50"`
	P99   int64 `json:"p99"`
	Max   int64 `json:"max"`
}

// BenchmarkClusterVsNode runs the same broadcast load through Go node
// processes on this package's bus and through Node.js processes running
// the reference server on the reference Redis adapter, on one node and on
// three, with the same official clients (in a Node.js process of their
// own) and one redis-server. One node emits; the clients measure each
// event's latency from the emit. Reported: deliveries per CPU-second of
// the server processes (Redis and the clients not counted), the latency
// percentiles in µs, and the servers' CPU time. Run with -benchtime=1x.
//
// go1p runs the Go nodes with one processor each (GOMAXPROCS=1), as a
// Node.js process runs its JavaScript on one thread: the setting for
// several nodes sharing a machine's cores.
func BenchmarkClusterVsNode(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("go/%dnodes", nodes), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runCompare(b, nodes, true)
			}
		})
		b.Run(fmt.Sprintf("go1p/%dnodes", nodes), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runCompare(b, nodes, true, "GOMAXPROCS=1")
			}
		})
		b.Run(fmt.Sprintf("node/%dnodes", nodes), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runCompare(b, nodes, false)
			}
		})
	}
}

// server is one node of the comparison, Go or Node.js.
type cmpServer struct {
	goProc *goProcess
	peer   *nodePeer
	url    string
}

func (s *cmpServer) cpuMicros(b *testing.B) int64 {
	b.Helper()
	if s.goProc != nil {
		s.goProc.send("cpu")
		n, _ := strconv.ParseInt(strings.Fields(s.goProc.expect("cpu"))[1], 10, 64)
		return n
	}
	var n int64
	s.peer.must("cpu", nil, &n)
	return n
}

func (s *cmpServer) broadcast(b *testing.B, tag string, rate, count int) {
	b.Helper()
	if s.goProc != nil {
		s.goProc.send(fmt.Sprintf("rate %s %d %d", tag, rate, count))
		s.goProc.expect("sent " + tag)
		return
	}
	s.peer.must("rate", map[string]any{"tag": tag, "rate": rate, "count": count}, nil)
}

// runCompare measures nodes servers, Go ones (with env added to their
// environment) or Node.js ones.
func runCompare(b *testing.B, nodes int, goServers bool, env ...string) {
	b.StopTimer()
	redis := peertest.StartRedis(b)
	var servers []*cmpServer
	var urls []string
	for i := 0; i < nodes; i++ {
		s := &cmpServer{}
		if goServers {
			s.goProc = startGoProcess(b, redis.URL(), env...)
			s.url = s.goProc.url
		} else {
			s.peer = startNodePeer(b)
			var started struct{ Port int }
			s.peer.must("server", map[string]any{"redis": redis.URL(), "protocol": "classic"}, &started)
			s.url = "http://127.0.0.1:" + strconv.Itoa(started.Port)
		}
		servers = append(servers, s)
		urls = append(urls, s.url)
	}
	clients := startNodePeer(b)
	clients.must("latClients", map[string]any{"urls": urls, "count": cmpClients}, nil)

	// Warm up, then measure.
	servers[0].broadcast(b, "warm", cmpRate, cmpRate/2)
	var r latReport
	clients.must("latReport", map[string]any{"want": cmpRate / 2 * cmpClients}, &r)
	before := make([]int64, len(servers))
	for i, s := range servers {
		before[i] = s.cpuMicros(b)
	}
	b.StartTimer()
	servers[0].broadcast(b, "run", cmpRate, cmpCount)
	clients.must("latReport", map[string]any{"want": cmpCount * cmpClients}, &r)
	b.StopTimer()
	var cpu int64
	for i, s := range servers {
		cpu += s.cpuMicros(b) - before[i]
	}
	if want := cmpCount * cmpClients; r.Count != want {
		b.Errorf("%d deliveries, want %d", r.Count, want)
	}
	clients.must("latClose", nil, nil)
	b.ReportMetric(float64(r.Count)/(float64(cpu)/1e6), "deliveries/cpu-s")
	b.ReportMetric(float64(r.P50), "p50-µs")
	b.ReportMetric(float64(r.P99), "p99-µs")
	b.ReportMetric(float64(cpu)/1e3, "server-cpu-ms")
}
