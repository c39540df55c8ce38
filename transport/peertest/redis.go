//go:build !js

package peertest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// redisStartTimeout bounds the wait for a redis-server to say it is ready.
const redisStartTimeout = 15 * time.Second

// Redis is a redis-server that a test started on a free loopback port, in
// a directory of its own under t.TempDir(). It persists nothing. The test's
// cleanup stops it.
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	args []string

	mu   sync.Mutex
	proc *redisProc
}

type redisProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *tail
}

// StartRedis starts a redis-server on a free loopback port, or skips the
// test (fails it with SIO_REQUIRE_EXTERNAL=1) when redis-server is not
// installed. extra are more configuration directives, as on the command
// line ("--maxmemory", "10mb").
func StartRedis(t testing.TB, extra ...string) *Redis {
	t.Helper()
	bin := Binary(t, "redis-server", "apt-get install redis-server")
	r := &Redis{t: t, bin: bin, dir: t.TempDir(), args: extra}
	t.Cleanup(r.Kill)
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var port int
		port, err = freePort(0)
		if err != nil {
			t.Fatal(err)
		}
		r.port = port
		if err = r.start(); err == nil {
			return r
		}
		// Another process may have taken the port between our probe and
		// the server's bind: try another.
	}
	t.Fatalf("peertest: redis-server did not start: %v", err)
	return nil
}

// Addr is the server's host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return "redis://" + r.Addr() }

// Port is the server's TCP port.
func (r *Redis) Port() int { return r.port }

// Kill stops the server at once (SIGKILL), as a crash would, and waits for
// it to be gone. It does nothing when the server is not running.
func (r *Redis) Kill() {
	r.mu.Lock()
	p := r.proc
	r.proc = nil
	r.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Restart kills the server and starts it again on the same port, empty.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Kill()
	var err error
	// The port was ours a moment ago; a second attempt covers a slow
	// release of the listening socket.
	for attempt := 0; attempt < 10; attempt++ {
		if err = r.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("peertest: redis-server did not restart on port %d: %v", r.port, err)
}

// Start starts the server again after Kill, on the same port.
func (r *Redis) Start() {
	r.t.Helper()
	r.Restart()
}

// Freeze stops the server process (SIGSTOP): its connections stay open
// and nothing is answered, as a server that hangs, until Thaw. Kill and
// the test's cleanup thaw it first.
func (r *Redis) Freeze() { r.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (r *Redis) Thaw() { r.signal(syscall.SIGCONT) }

func (r *Redis) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil {
		_ = r.proc.cmd.Process.Signal(sig)
	}
}

// Log returns the last lines the server wrote.
func (r *Redis) Log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return ""
	}
	return r.proc.log.String()
}

func (r *Redis) start() error {
	args := append([]string{
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--dir", r.dir,
		"--save", "",
		"--appendonly", "no",
		"--logfile", "",
		"--daemonize", "no",
		"--protected-mode", "no",
	}, r.args...)
	p, err := startRedisProc(r.bin, r.dir, args)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()
	return nil
}

// startRedisProc runs redis-server and waits until its log says it accepts
// connections, or it exits, or the start timeout passes.
func startRedisProc(bin, dir string, args []string) (*redisProc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &redisProc{cmd: cmd, done: make(chan struct{}), log: &tail{max: 40}}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			p.log.add(line)
			if !signalled && strings.Contains(line, "Ready to accept connections") {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(p.done)
	}()
	select {
	case <-ready:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("redis-server exited: %s", p.log.String())
	case <-time.After(redisStartTimeout):
		_ = cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("redis-server not ready after %v: %s", redisStartTimeout, p.log.String())
	}
}

// freePort returns a loopback TCP port that is free now, and, when
// busOffset is not zero, whose port+busOffset is free too.
func freePort(busOffset int) (int, error) {
	for attempt := 0; attempt < 50; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if busOffset == 0 {
			ln.Close()
			return port, nil
		}
		if port+busOffset > 65535 {
			ln.Close()
			continue
		}
		ln2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+busOffset)))
		ln.Close()
		if err != nil {
			continue
		}
		ln2.Close()
		return port, nil
	}
	return 0, fmt.Errorf("peertest: no free loopback port found")
}

// tail keeps the last lines of a log.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (l *tail) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == l.max {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, s)
}

func (l *tail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// RedisCluster is a Redis Cluster built by a test from redis-server
// processes on free loopback ports with redis-cli --cluster create: masters
// that share every slot, and optionally replicas of each. The test's
// cleanup stops it.
type RedisCluster struct {
	// Nodes are the servers, masters first as created (a failover or a
	// slot migration changes roles and slots; ask SlotOwner or
	// ClusterNodes).
	Nodes []*Redis

	t   testing.TB
	cli string
}

// RedisClusterOptions shape the cluster that StartRedisClusterWith builds.
type RedisClusterOptions struct {
	// Masters is the number of masters; redis-cli wants at least 3.
	// Default 3.
	Masters int
	// Replicas is the number of replicas of each master. Default 0.
	Replicas int
	// NodeTimeout is the cluster-node-timeout: how long a node may be
	// unreachable before it is counted as failed and, for a master, one
	// of its replicas is promoted. Default 2s.
	NodeTimeout time.Duration
}

// StartRedisCluster starts masters redis-server processes in cluster mode
// and joins them into one cluster covering every slot, or skips the test
// (fails it with SIO_REQUIRE_EXTERNAL=1) when redis-server or redis-cli is
// missing.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	return StartRedisClusterWith(t, RedisClusterOptions{Masters: masters})
}

// StartRedisClusterWith starts a cluster as o says and returns once every
// node sees the cluster as ok and every replica is in sync with its master.
// A replica is promoted whatever the age of its data
// (cluster-replica-validity-factor 0), so a test that kills a master sees
// a failover after about NodeTimeout.
func StartRedisClusterWith(t testing.TB, o RedisClusterOptions) *RedisCluster {
	t.Helper()
	if o.Masters <= 0 {
		o.Masters = 3
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = 2 * time.Second
	}
	bin := Binary(t, "redis-server", "apt-get install redis-server")
	cli := Binary(t, "redis-cli", "apt-get install redis-tools")
	c := &RedisCluster{t: t, cli: cli}
	total := o.Masters * (1 + o.Replicas)
	for i := 0; i < total; i++ {
		var (
			r   *Redis
			err error
		)
		for attempt := 0; attempt < 5; attempt++ {
			port, perr := freePort(10000) // the cluster bus listens on port+10000
			if perr != nil {
				t.Fatal(perr)
			}
			dir := t.TempDir()
			r = &Redis{t: t, bin: bin, dir: dir, port: port, args: []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-node-timeout", strconv.FormatInt(o.NodeTimeout.Milliseconds(), 10),
				"--cluster-replica-validity-factor", "0",
			}}
			if err = r.start(); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("peertest: cluster node %d did not start: %v", i, err)
		}
		t.Cleanup(r.Kill)
		c.Nodes = append(c.Nodes, r)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(o.Replicas), "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("peertest: redis-cli --cluster create: %v\n%s", err, out)
	}
	// Slots are assigned at once, but the nodes learn of each other over
	// the cluster bus, and replicas sync with their masters: wait until
	// every node sees every other and the cluster as ok, and every
	// replica's link to its master is up.
	c.waitUntil("the cluster to form", redisStartTimeout, func() (bool, string) {
		for _, n := range c.Nodes {
			info, err := c.Command(n, "cluster", "info")
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false, fmt.Sprintf("%s: %v %s", n.Addr(), err, info)
			}
			nodes, err := c.clusterNodesFrom(n)
			if err != nil || len(nodes) != total {
				return false, fmt.Sprintf("%s sees %d nodes: %v", n.Addr(), len(nodes), err)
			}
			for _, cn := range nodes {
				if cn.Handshake || cn.Failed {
					return false, fmt.Sprintf("%s sees %+v", n.Addr(), cn)
				}
			}
			if nodes[0].Master {
				continue
			}
			repl, err := c.Command(n, "info", "replication")
			if err != nil || !strings.Contains(repl, "master_link_status:up") {
				return false, fmt.Sprintf("replica %s: %v %s", n.Addr(), err, repl)
			}
		}
		return true, ""
	})
	return c
}

// Addrs are the host:port of every node.
func (c *RedisCluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// Node returns the node listening on addr (host:port), or nil.
func (c *RedisCluster) Node(addr string) *Redis {
	for _, n := range c.Nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// Running returns the nodes whose process runs (not killed).
func (c *RedisCluster) Running() []*Redis {
	var out []*Redis
	for _, n := range c.Nodes {
		n.mu.Lock()
		up := n.proc != nil
		n.mu.Unlock()
		if up {
			out = append(out, n)
		}
	}
	return out
}

// Command runs one command on node n with redis-cli and returns its
// output; an error reply is an error.
func (c *RedisCluster) Command(n *Redis, args ...string) (string, error) {
	a := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(n.port)}, args...)
	cmd := exec.Command(c.cli, a...)
	out, err := cmd.Output()
	s := strings.TrimSpace(string(out))
	if err == nil && (strings.HasPrefix(s, "ERR") || strings.HasPrefix(s, "(error)")) {
		err = fmt.Errorf("%s", s)
	}
	if err != nil {
		return s, fmt.Errorf("peertest: redis-cli %s on %s: %w", strings.Join(args, " "), n.Addr(), err)
	}
	return s, nil
}

// KeySlot is the hash slot of a key or shard channel (CLUSTER KEYSLOT).
func (c *RedisCluster) KeySlot(key string) int {
	c.t.Helper()
	for _, n := range c.Running() {
		out, err := c.Command(n, "cluster", "keyslot", key)
		if err != nil {
			continue
		}
		slot, err := strconv.Atoi(out)
		if err == nil {
			return slot
		}
	}
	c.t.Fatalf("peertest: CLUSTER KEYSLOT %q: no running node answered", key)
	return 0
}

// ClusterNode is one line of CLUSTER NODES.
type ClusterNode struct {
	ID   string
	Addr string // host:port
	// Myself is the node that answered.
	Myself bool
	Master bool
	// MasterID is the master of a replica.
	MasterID string
	// Failed is set once the cluster agreed the node failed (fail), or
	// the answering node suspects it (fail?).
	Failed    bool
	Handshake bool
	// Slots are the ranges of slots a master serves, [first, last].
	Slots [][2]int
}

// HasSlot reports whether the node serves slot.
func (n ClusterNode) HasSlot(slot int) bool {
	for _, r := range n.Slots {
		if slot >= r[0] && slot <= r[1] {
			return true
		}
	}
	return false
}

// ClusterNodes is the cluster as the first running node sees it.
func (c *RedisCluster) ClusterNodes() ([]ClusterNode, error) {
	var err error
	for _, n := range c.Running() {
		var nodes []ClusterNode
		if nodes, err = c.clusterNodesFrom(n); err == nil {
			return nodes, nil
		}
	}
	if err == nil {
		err = fmt.Errorf("peertest: no cluster node is running")
	}
	return nil, err
}

// clusterNodesFrom asks n for CLUSTER NODES; n itself comes first.
func (c *RedisCluster) clusterNodesFrom(n *Redis) ([]ClusterNode, error) {
	out, err := c.Command(n, "cluster", "nodes")
	if err != nil {
		return nil, err
	}
	var nodes []ClusterNode
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		cn := ClusterNode{ID: f[0], Addr: f[1]}
		if i := strings.IndexAny(cn.Addr, "@,"); i >= 0 {
			cn.Addr = cn.Addr[:i]
		}
		for _, flag := range strings.Split(f[2], ",") {
			switch flag {
			case "myself":
				cn.Myself = true
			case "master":
				cn.Master = true
			case "fail", "fail?":
				cn.Failed = true
			case "handshake":
				cn.Handshake = true
			}
		}
		if f[3] != "-" {
			cn.MasterID = f[3]
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				continue // a slot being imported or migrated
			}
			first, last, _ := strings.Cut(r, "-")
			a, err1 := strconv.Atoi(first)
			b := a
			var err2 error
			if last != "" {
				b, err2 = strconv.Atoi(last)
			}
			if err1 == nil && err2 == nil {
				cn.Slots = append(cn.Slots, [2]int{a, b})
			}
		}
		if cn.Myself {
			nodes = append([]ClusterNode{cn}, nodes...)
		} else {
			nodes = append(nodes, cn)
		}
	}
	return nodes, nil
}

// SlotOwner is the running node that serves slot, as every running node
// sees it, once they all agree, the owner is not failed and the cluster
// is ok everywhere; it waits for that (a failover, a slot migration) for
// at most timeout, and fails the test past it.
func (c *RedisCluster) SlotOwner(slot int, timeout time.Duration) *Redis {
	c.t.Helper()
	var owner *Redis
	c.waitUntil(fmt.Sprintf("one live owner of slot %d", slot), timeout, func() (bool, string) {
		owner = nil
		for _, n := range c.Running() {
			info, err := c.Command(n, "cluster", "info")
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false, fmt.Sprintf("%s: %v %s", n.Addr(), err, firstLine(info))
			}
			nodes, err := c.clusterNodesFrom(n)
			if err != nil {
				return false, err.Error()
			}
			var o *Redis
			for _, cn := range nodes {
				if cn.Master && !cn.Failed && cn.HasSlot(slot) {
					o = c.Node(cn.Addr)
				}
			}
			if o == nil || !slices.Contains(c.Running(), o) {
				return false, fmt.Sprintf("%s: slot %d has no live owner", n.Addr(), slot)
			}
			if owner != nil && owner != o {
				return false, fmt.Sprintf("slot %d: %s says %s, another says %s", slot, n.Addr(), o.Addr(), owner.Addr())
			}
			owner = o
		}
		return owner != nil, "no running node"
	})
	return owner
}

// MigrateSlot moves slot to the master to, as redis-cli --cluster reshard
// does one slot: IMPORTING on to, MIGRATING on its owner, MIGRATE of its
// keys, then SETSLOT NODE on both and every other master. It returns once
// every running node agrees that to serves the slot.
func (c *RedisCluster) MigrateSlot(slot int, to *Redis) {
	c.t.Helper()
	from := c.SlotOwner(slot, redisStartTimeout)
	if from == to {
		return
	}
	id := func(n *Redis) string {
		nodes, err := c.clusterNodesFrom(n)
		if err != nil || len(nodes) == 0 {
			c.t.Fatalf("peertest: CLUSTER NODES of %s: %v", n.Addr(), err)
		}
		return nodes[0].ID
	}
	toID, fromID := id(to), id(from)
	s := strconv.Itoa(slot)
	must := func(n *Redis, args ...string) string {
		c.t.Helper()
		out, err := c.Command(n, args...)
		if err != nil {
			c.t.Fatal(err)
		}
		return out
	}
	must(to, "cluster", "setslot", s, "importing", fromID)
	must(from, "cluster", "setslot", s, "migrating", toID)
	for {
		keys := must(from, "cluster", "getkeysinslot", s, "100")
		if keys == "" {
			break
		}
		args := []string{"migrate", "127.0.0.1", strconv.Itoa(to.port), "", "0", "5000", "keys"}
		must(from, append(args, strings.Fields(keys)...)...)
	}
	must(to, "cluster", "setslot", s, "node", toID)
	must(from, "cluster", "setslot", s, "node", toID)
	nodes, err := c.clusterNodesFrom(to)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, cn := range nodes {
		if n := c.Node(cn.Addr); cn.Master && !cn.Failed && n != nil && n != to && n != from {
			must(n, "cluster", "setslot", s, "node", toID)
		}
	}
	if got := c.SlotOwner(slot, redisStartTimeout); got != to {
		c.t.Fatalf("peertest: slot %d is served by %s after its migration to %s", slot, got.Addr(), to.Addr())
	}
}

// waitUntil polls cond every 50ms until it holds, and fails the test with
// cond's last word after timeout.
func (c *RedisCluster) waitUntil(what string, timeout time.Duration, cond func() (bool, string)) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("peertest: waited %v for %s: %s", timeout, what, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
