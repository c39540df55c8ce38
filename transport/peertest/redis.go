//go:build !js

package peertest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
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

// RedisCluster is a Redis Cluster of masters only, built by a test from
// redis-server processes on free loopback ports with redis-cli --cluster
// create. The test's cleanup stops it.
type RedisCluster struct {
	Nodes []*Redis
}

// StartRedisCluster starts masters redis-server processes in cluster mode
// and joins them into one cluster covering every slot, or skips the test
// (fails it with SIO_REQUIRE_EXTERNAL=1) when redis-server or redis-cli is
// missing.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	bin := Binary(t, "redis-server", "apt-get install redis-server")
	cli := Binary(t, "redis-cli", "apt-get install redis-tools")
	c := &RedisCluster{}
	for i := 0; i < masters; i++ {
		var (
			r   *Redis
			err error
		)
		for attempt := 0; attempt < 5; attempt++ {
			port, perr := freePort(10000) // the cluster bus listens on port+10000
			if perr != nil {
				t.Fatal(perr)
			}
			dir := filepath.Join(t.TempDir())
			r = &Redis{t: t, bin: bin, dir: dir, port: port, args: []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-node-timeout", "2000",
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
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("peertest: redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node sees the cluster as ok: slots are assigned
	// at once, but the nodes learn of each other over the bus.
	deadline := time.Now().Add(redisStartTimeout)
	for _, n := range c.Nodes {
		for {
			info, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(n.port), "cluster", "info").Output()
			if bytes.Contains(info, []byte("cluster_state:ok")) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("peertest: cluster not ok on %s after %v:\n%s", n.Addr(), redisStartTimeout, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
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
