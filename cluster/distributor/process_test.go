package distributor_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster/distributor"
	"github.com/sio-go/sio/httpadapter"
)

// nodeEnv, when set, makes the test binary a node of the tests' system
// instead of running tests: "backend chat <redis url>", "gateway <redis
// url>" or "plain" (see runNode).
const nodeEnv = "SIO_DISTRIBUTOR_TEST_NODE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(nodeEnv); spec != "" {
		os.Exit(runNode(strings.Fields(spec)))
	}
	os.Exit(m.Run())
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// runNode runs a backend of the chat service, a gateway forwarding /chat
// and /game, or a plain server with the chat handlers, prints "ready <node id> [port]" and runs until stdin
// ends (then closes cleanly) or the process is killed.
func runNode(args []string) int {
	heartbeat := 300 * time.Millisecond
	switch {
	case len(args) == 3 && args[0] == "backend" && args[1] == "chat":
		gone := newDisconnects()
		b, err := distributor.NewBackend(distributor.BackendOptions{
			Common:  distributor.Common{URL: args[2], Heartbeat: heartbeat, Logger: quiet},
			Service: "chat",
		})
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		nsp := b.Of("/chat")
		chatHandlers(nsp, gone)
		replicaHandlers(b)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := b.WaitReady(ctx); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("ready", b.ID())
		_, _ = io.Copy(io.Discard, os.Stdin)
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Close(ctx)
		return 0
	case (len(args) == 2 && args[0] == "gateway") || (len(args) == 1 && args[0] == "plain"):
		srv := httpadapter.New(httpadapter.Options{PingInterval: time.Second, PingTimeout: 2 * time.Second, Logger: quiet})
		if args[0] == "plain" {
			// The same handlers on a server of its own: the baseline.
			chatHandlers(srv.Of("/chat"), newDisconnects())
		}
		var g *distributor.Gateway
		if args[0] == "gateway" {
			var err error
			g, err = distributor.NewGateway(srv.Server, distributor.GatewayOptions{
				Common:     distributor.Common{URL: args[1], Heartbeat: heartbeat, Logger: quiet},
				Namespaces: map[string]string{"/chat": "chat", "/game": "game"},
			})
			if err != nil {
				fmt.Println("error", err)
				return 1
			}
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		hs := &http.Server{Handler: srv}
		go func() { _ = hs.Serve(ln) }()
		id := "plain"
		if g != nil {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			if err := g.WaitReady(ctx, "chat"); err != nil {
				fmt.Println("error", err)
				return 1
			}
			id = g.ID()
		}
		fmt.Println("ready", id, ln.Addr().(*net.TCPAddr).Port)
		_, _ = io.Copy(io.Discard, os.Stdin)
		if g != nil {
			_ = g.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		_ = hs.Close()
		return 0
	}
	fmt.Println("error: bad node spec", args)
	return 2
}

// nodeProcess is a node running in a child process.
type nodeProcess struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	id    string
	url   string // a gateway's
	done  chan struct{}
}

func startNode(t testing.TB, spec ...string) *nodeProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeEnv+"="+strings.Join(spec, " "))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nodeProcess{t: t, cmd: cmd, stdin: stdin, done: make(chan struct{})}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
			t.Errorf("node process did not end when told to")
		}
	})
	select {
	case l := <-lines:
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "ready" {
			t.Fatalf("node process: %s", l)
		}
		p.id = f[1]
		if len(f) == 3 {
			p.url = "http://127.0.0.1:" + f[2]
		}
	case <-p.done:
		t.Fatalf("node process %v exited before it was ready", spec)
	case <-time.After(waitFor):
		t.Fatalf("node process %v: not ready", spec)
	}
	return p
}

func (p *nodeProcess) URL() string { return p.url }

// kill ends the process at once, as a crash.
func (p *nodeProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}
