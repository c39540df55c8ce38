package distributor_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/transport"
	"github.com/sio-go/sio/transport/peertest"
)

// BenchmarkAckRoundTrip measures an acknowledged event's round trip (the
// client emits "echo" and waits for the answer) from Go clients over
// WebSocket to a plain server, and to a gateway whose /chat is served by a
// backend through Redis: the same handlers, each server tier in a child
// process; one client at a time, and 32 at once. Reported per run: round trips per CPU-second of the server
// processes (gateway and backend together; Redis and the clients not
// counted), and the p50 and p99 latencies in µs.
//
//	go test -run '^$' -bench AckRoundTrip -benchtime 20000x ./cluster/distributor/
func BenchmarkAckRoundTrip(b *testing.B) {
	for _, clients := range []int{1, 32} {
		b.Run(fmt.Sprintf("plain/%dclients", clients), func(b *testing.B) {
			p := startNode(b, "plain")
			roundTrips(b, clients, p.URL(), p)
		})
		b.Run(fmt.Sprintf("distributed/%dclients", clients), func(b *testing.B) {
			redis := peertest.StartRedis(b)
			be := startNode(b, "backend", "chat", redis.URL())
			gw := startNode(b, "gateway", redis.URL())
			roundTrips(b, clients, gw.URL(), be, gw)
		})
	}
}

func roundTrips(b *testing.B, benchClients int, url string, servers ...*nodeProcess) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type conn struct {
		c *transport.Client
		s *transport.ClientSocket
	}
	conns := make([]conn, benchClients)
	for i := range conns {
		c, err := transport.Dial(ctx, url, &transport.ClientOptions{Transports: []string{"websocket"}})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		s := c.Socket("/chat", map[string]string{"token": "secret"})
		if err := s.Connect(ctx); err != nil {
			b.Fatal(err)
		}
		conns[i] = conn{c, s}
	}
	lat := make([][]time.Duration, benchClients)
	cpu0 := cpuOf(b, servers)
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range conns {
		n := b.N / benchClients
		if i < b.N%benchClients {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, n)
			for k := 0; k < n; k++ {
				t0 := time.Now()
				res, err := conns[i].s.EmitWithAck(ctx, "echo", k)
				if err != nil {
					b.Error(err)
					return
				}
				var got int
				if err := res.Bind(&got); err != nil || got != k {
					b.Errorf("echo %d answered %v (%v)", k, got, err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			lat[i] = mine
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuOf(b, servers) - cpu0
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/cpu.Seconds(), "rt/cpu-s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}

// cpuOf is the CPU time (user and system) the processes used so far.
func cpuOf(b *testing.B, ps []*nodeProcess) time.Duration {
	var total time.Duration
	for _, p := range ps {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			b.Fatal(err)
		}
		// Fields after the command name, which is in parentheses.
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * (time.Second / 100) // USER_HZ
	}
	return total
}
