package cluster_test

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster"
	"github.com/sio-go/sio/transport/peertest"
)

// failoverWait bounds the wait for a replica's promotion: the cluster
// notices the dead master after cluster-node-timeout (1s here), then the
// replica waits up to a second more before its election.
const failoverWait = 30 * time.Second

// startFailoverCluster is a Redis Cluster of 3 masters with a replica
// each, whose replicas take over a second after their master dies.
func startFailoverCluster(t *testing.T) *peertest.RedisCluster {
	return peertest.StartRedisClusterWith(t, peertest.RedisClusterOptions{Masters: 3, Replicas: 1, NodeTimeout: time.Second})
}

// The master that serves the slot of the namespace's channel (where the
// sharded protocol publishes broadcasts and requests) dies mid-run; its
// replica is promoted, and the two Go nodes subscribe again on it by
// themselves: broadcasts both ways, and requests, flow as before.
func TestShardedRedisClusterFailover(t *testing.T) {
	for _, mode := range []cluster.SubscriptionMode{cluster.DynamicRooms, cluster.StaticChannels} {
		t.Run(mode.String(), func(t *testing.T) {
			checkLeaks(t)
			rc := startFailoverCluster(t)
			stats := shardedFault(t, rc, mode, "the kill", func(gc *goCluster, slot int, master *peertest.Redis) *peertest.Redis {
				killed := time.Now()
				master.Kill()
				// Local delivery goes on while the slot has no master.
				if err := gc.nsp(0).Emit("e", "during"); err != nil {
					t.Fatal(err)
				}
				gc.clients[0].waitEvent(`e "during"`)
				promoted := rc.SlotOwner(slot, failoverWait)
				t.Logf("slot %d: master %s killed, %s promoted after %v", slot, master.Addr(), promoted.Addr(), time.Since(killed).Round(time.Millisecond))
				return promoted
			})
			for i, s := range stats {
				// Each node lost its subscription on the dead master.
				if s.Reconnects == 0 || !s.Subscribed {
					t.Errorf("node %d: stats %+v; want a reconnect, and subscribed", i, s)
				}
			}
		})
	}
}

// shardedFault runs two Go nodes of the sharded protocol, in mode, on rc
// across a fault of the master that serves the slot of the namespace's
// channel: fault takes the slot away from it (what) and returns its new
// master. Node 0 streams broadcasts throughout; the nodes must subscribe
// again on the new master by themselves, and afterwards exchange
// broadcasts both ways and answer requests. It returns the nodes' stats.
func shardedFault(t *testing.T, rc *peertest.RedisCluster, mode cluster.SubscriptionMode, what string, fault func(gc *goCluster, slot int, master *peertest.Redis) *peertest.Redis) []cluster.Stats {
	t.Helper()
	opts := cluster.Options{URL: clusterURL(rc), Protocol: cluster.Sharded, SubscriptionMode: mode, RequestTimeout: time.Second}
	gc := newGoCluster(t, 2, opts, nil)
	const channel = "socket.io#/#"
	slot := rc.KeySlot(channel)
	master := rc.SlotOwner(slot, waitFor)
	gc.exchange(t, "before")
	stream := gc.startStream(t, 0, 20*time.Millisecond)
	gc.clients[1].waitEvent("n0 0")

	start := time.Now()
	to := fault(gc, slot, master)
	waitShardSubscribers(t, "redis://"+to.Addr(), channel, 2)
	gc.waitSubscribed(t)
	t.Logf("both nodes subscribed again %v after %s", time.Since(start).Round(time.Millisecond), what)
	gc.exchange(t, "after")
	stream.check(t, gc.clients[1])
	gc.fetchAll(t)
	var stats []cluster.Stats
	for i, n := range gc.nodes {
		s := n.bus.Stats()
		t.Logf("node %d: %+v", i, s)
		stats = append(stats, s)
	}
	return stats
}

// exchange has each node broadcast ("e", tag from node i) and waits until
// the other node's client received it.
func (gc *goCluster) exchange(t *testing.T, tag string) {
	t.Helper()
	for i := range gc.nodes {
		if err := gc.nsp(i).Emit("e", tag+" from "+itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range gc.clients {
		c.waitEvent(`e "` + tag + " from " + itoa(1-i) + `"`)
	}
}

// fetchAll checks that FetchSockets from node 0 sees every client, once
// every node counts every node again: after a failover, a node's view of
// the cluster may predate it, and requests fail until the view is
// refreshed (in about a second).
func (gc *goCluster) fetchAll(t *testing.T) {
	t.Helper()
	for i := range gc.nodes {
		deadline := time.Now().Add(waitFor)
		for {
			n, err := gc.nsp(i).Adapter().ServerCount(ctxT(t))
			if err == nil && n == len(gc.nodes) {
				break
			}
			if err == nil && n > len(gc.nodes) || time.Now().After(deadline) {
				t.Fatalf("node %d counts %d nodes, %v; want %d", i, n, err, len(gc.nodes))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	socks, err := gc.nsp(0).FetchSockets(ctxT(t))
	if err != nil || len(socks) != len(gc.clients) {
		t.Errorf("FetchSockets: %d sockets, %v; want %d", len(socks), err, len(gc.clients))
	}
}

// stream is a node broadcasting ("n<node>", i) for i = 0, 1, ... at a
// steady pace, across a fault.
type stream struct {
	gc   *goCluster
	node int
	stop chan struct{}
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	sent int
}

// startStream has node broadcast ("n<node>", i) every period until check
// or the end of the test.
func (gc *goCluster) startStream(t *testing.T, node int, period time.Duration) *stream {
	s := &stream{gc: gc, node: node, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(s.halt)
	go func() {
		defer close(s.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for i := 0; ; i++ {
			_ = gc.nsp(node).Emit(s.event(), i)
			s.mu.Lock()
			s.sent = i + 1
			s.mu.Unlock()
			select {
			case <-tick.C:
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

func (s *stream) event() string { return "n" + itoa(s.node) }

func (s *stream) halt() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// check lets the stream run on until 10 more broadcasts, sent after the
// nodes are known to exchange broadcasts again, have reached c, then
// stops it. c must have received the stream's broadcasts at most once
// each and in order, and every one after its first gap: a broadcast lost
// in the fault is allowed, one lost after it is not.
func (s *stream) check(t *testing.T, c *tclient) {
	t.Helper()
	s.mu.Lock()
	from := s.sent
	s.mu.Unlock()
	last := c.waitUntil("the stream to resume", func(ev []string) bool {
		return slices.Contains(ev, s.event()+" "+itoa(from+10))
	})
	s.halt()
	var got []int
	for _, e := range last {
		if v, ok := strings.CutPrefix(e, s.event()+" "); ok {
			i, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("event %q", e)
			}
			got = append(got, i)
		}
	}
	gaps := 0
	for k := 1; k < len(got); k++ {
		switch {
		case got[k] <= got[k-1]:
			t.Fatalf("stream: %d after %d (duplicate or out of order): %v", got[k], got[k-1], got)
		case got[k] > got[k-1]+1:
			gaps++
			t.Logf("stream: %d to %d lost in the fault", got[k-1]+1, got[k]-1)
		}
	}
	if gaps > 1 {
		t.Errorf("stream: %d gaps, want at most the one of the fault: %v", gaps, got)
	}
	if len(got) == 0 || got[0] != 0 {
		t.Errorf("stream: the first broadcast did not arrive: %v", got)
	}
}

// The classic protocol on the same kind of cluster: PUBLISH reaches every
// node's subscribers, and each bus subscribes on a master. The master
// that holds a Go node's subscription dies mid-run, while both nodes
// stream broadcasts to each other; its replica is promoted, the bus
// subscribes again, and broadcasts both ways and requests flow as before.
func TestClassicRedisClusterFailover(t *testing.T) {
	checkLeaks(t)
	rc := startFailoverCluster(t)
	gc := newGoCluster(t, 2, cluster.Options{URL: clusterURL(rc), RequestTimeout: time.Second}, nil)
	master := subscriberMaster(t, rc, gc)
	gc.exchange(t, "before")
	streams := []*stream{gc.startStream(t, 0, 20*time.Millisecond), gc.startStream(t, 1, 20*time.Millisecond)}
	gc.clients[1].waitEvent("n0 0")
	gc.clients[0].waitEvent("n1 0")

	nodes, err := rc.ClusterNodes()
	if err != nil {
		t.Fatal(err)
	}
	slot := -1
	for _, cn := range nodes {
		if cn.Addr == master.Addr() && len(cn.Slots) > 0 {
			slot = cn.Slots[0][0]
		}
	}
	if slot < 0 {
		t.Fatalf("master %s serves no slot: %+v", master.Addr(), nodes)
	}
	killed := time.Now()
	master.Kill()
	promoted := rc.SlotOwner(slot, failoverWait)
	t.Logf("master %s killed, %s promoted after %v", master.Addr(), promoted.Addr(), time.Since(killed).Round(time.Millisecond))
	subscriberMaster(t, rc, gc) // on masters again
	gc.waitSubscribed(t)
	t.Logf("both nodes subscribed again %v after the kill", time.Since(killed).Round(time.Millisecond))
	gc.exchange(t, "after")
	streams[0].check(t, gc.clients[1])
	streams[1].check(t, gc.clients[0])
	gc.fetchAll(t)
	for i, n := range gc.nodes {
		t.Logf("node %d: %+v", i, n.bus.Stats())
	}
}

// pubSubClients counts the subscribed connections (the buses') on each
// running node of rc.
func pubSubClients(t *testing.T, rc *peertest.RedisCluster) map[*peertest.Redis]int {
	t.Helper()
	out := map[*peertest.Redis]int{}
	for _, n := range rc.Running() {
		list, err := rc.Command(n, "client", "list", "type", "pubsub")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, " psub=1 ") {
				out[n]++
			}
		}
	}
	return out
}

// waitPubSubClients waits until the running nodes hold n subscribed
// connections in all.
func waitPubSubClients(t *testing.T, rc *peertest.RedisCluster, n int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		total := 0
		for _, c := range pubSubClients(t, rc) {
			total += c
		}
		if total == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribed connections on the running nodes, want %d", total, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// subscriberMaster returns a master that holds the subscription of a Go
// node: on a Redis Cluster every bus subscribes on a master.
func subscriberMaster(t *testing.T, rc *peertest.RedisCluster, gc *goCluster) *peertest.Redis {
	t.Helper()
	waitPubSubClients(t, rc, len(gc.nodes))
	nodes, err := rc.ClusterNodes()
	if err != nil {
		t.Fatal(err)
	}
	subs := pubSubClients(t, rc)
	var master *peertest.Redis
	for _, cn := range nodes {
		n := rc.Node(cn.Addr)
		switch {
		case !cn.Master && subs[n] > 0:
			t.Errorf("replica %s holds %d subscriptions of the buses; want them on masters", cn.Addr, subs[n])
		case cn.Master && subs[n] > 0:
			master = n
		}
	}
	if master == nil {
		t.Fatalf("no master holds a subscription of the buses: %v", subs)
	}
	return master
}

// The slot of the namespace's channel moves to another master mid-run
// (CLUSTER SETSLOT IMPORTING/MIGRATING, then NODE): the old master drops
// the shard channel's subscribers, the buses subscribe again on the new
// one, and broadcasts and requests flow as before.
func TestShardedRedisClusterSlotMigration(t *testing.T) {
	rc := peertest.StartRedisCluster(t, 3)
	for _, mode := range []cluster.SubscriptionMode{cluster.DynamicRooms, cluster.StaticChannels} {
		t.Run(mode.String(), func(t *testing.T) {
			checkLeaks(t)
			stats := shardedFault(t, rc, mode, "the move", func(_ *goCluster, slot int, from *peertest.Redis) *peertest.Redis {
				var to *peertest.Redis
				for _, n := range rc.Nodes {
					if n != from {
						to = n
						break
					}
				}
				rc.MigrateSlot(slot, to)
				t.Logf("slot %d moved from %s to %s", slot, from.Addr(), to.Addr())
				return to
			})
			for i, s := range stats {
				if s.Reconnects == 0 {
					t.Errorf("node %d: stats %+v; want a reconnect", i, s)
				}
			}
		})
	}
}

// A bus whose Redis user may not run EXISTS (the command that puts its
// subscription connection on a master) subscribes all the same, on the
// master that refused it, and works.
func TestClassicRedisClusterPinRefused(t *testing.T) {
	checkLeaks(t)
	rc := peertest.StartRedisCluster(t, 3)
	for _, n := range rc.Nodes {
		if _, err := rc.Command(n, "acl", "setuser", "bus", "on", ">secret", "~*", "&*", "+@all", "-exists"); err != nil {
			t.Fatal(err)
		}
	}
	addrs := rc.Addrs()
	url := "redis://bus:secret@" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
	gc := newGoCluster(t, 2, cluster.Options{URL: url}, nil)
	subscriberMaster(t, rc, gc)
	gc.exchange(t, "hello")
	gc.fetchAll(t)
	for _, n := range rc.Nodes {
		out, err := rc.Command(n, "acl", "log")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "exists") {
			return // the pin was refused, as the test means
		}
	}
	t.Error("no node logged a refused EXISTS: the test did not test the refusal")
}
