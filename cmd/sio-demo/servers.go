package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// serverProc is a server under test, running as a process of its own so
// that its memory and CPU time can be read from /proc.
type serverProc struct {
	name string // "go", "ref" or "plain"
	cmd  *exec.Cmd
	pid  int
	addr string // 127.0.0.1:port
	done chan struct{}
	werr error
}

// subprocessEnv marks a process the bench started: a test binary then runs
// sio-demo's main instead of its tests (see TestMain).
const subprocessEnv = "SIO_DEMO_SUBPROCESS"

var listeningRE = regexp.MustCompile(`listening on (127\.0\.0\.1:[0-9]+)`)

// startGoServer re-executes this program as "serve" on a free loopback
// port; the server named "plain" is the ceiling (serve -plain). bin, when
// set, is another sio-demo binary whose serve runs the server instead
// (not the ceiling). A positive maxProcs sets its GOMAXPROCS.
func startGoServer(ctx context.Context, name, bin string, maxProcs int, godebug string, log io.Writer) (*serverProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	plain := name == "plain"
	if bin != "" && !plain {
		exe = bin
	}
	args := []string{"serve", "-addr", "127.0.0.1:0", "-debug"}
	if plain {
		args = append(args, "-plain")
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), subprocessEnv+"=1", "GODEBUG="+godebug)
	if maxProcs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(maxProcs))
	}
	return startServer(ctx, name, cmd, log)
}

// startRefServer runs the reference server script with node, its
// collector exposed for /debug/gc.
func startRefServer(ctx context.Context, node, script string, log io.Writer) (*serverProc, error) {
	cmd := exec.Command(node, "--expose-gc", script, "0")
	cmd.Dir = filepath.Dir(script)
	return startServer(ctx, "ref", cmd, log)
}

func startServer(ctx context.Context, name string, cmd *exec.Cmd, log io.Writer) (*serverProc, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = prefixWriter(log, name+" server: ")
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProc{name: name, cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if !found {
				if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
					found = true
					addrc <- m[1]
					continue
				}
			}
			fmt.Fprintf(log, "%s server: %s\n", name, sc.Text())
		}
		_, _ = io.Copy(io.Discard, out)
		p.werr = cmd.Wait()
		close(p.done)
	}()
	t := time.NewTimer(20 * time.Second)
	defer t.Stop()
	select {
	case p.addr = <-addrc:
	case <-p.done:
		return nil, fmt.Errorf("%s server exited before listening: %v", name, p.werr)
	case <-t.C:
		p.stop()
		return nil, fmt.Errorf("%s server did not print its address within 20s", name)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	if err := loopbackOnly(p.addr); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// stop asks the server to end (SIGTERM) and kills it after 5 s.
func (p *serverProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *serverProc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s server exited: %v", p.name, p.werr)
	default:
		return nil
	}
}

// get fetches path from the server's debug endpoints into w.
func (p *serverProc) get(ctx context.Context, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := loopbackHTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("%s %s: %s: %s", p.name, path, resp.Status, b)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// forceGC runs a full collection in the server (GET /debug/gc).
func (p *serverProc) forceGC(ctx context.Context) error {
	return p.get(ctx, "/debug/gc", io.Discard)
}

// saveProfile writes the server's pprof profile at path (Go server only).
func (p *serverProc) saveProfile(ctx context.Context, path, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := p.get(ctx, path, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// findRefServer locates testdata/refserver.js: the flag's value, else
// relative to the working directory (module root or this directory), else
// next to this source file.
func findRefServer(flagValue string) (string, error) {
	if flagValue != "" {
		if _, err := os.Stat(flagValue); err != nil {
			return "", err
		}
		return filepath.Abs(flagValue)
	}
	cands := []string{"testdata/refserver.js", "cmd/sio-demo/testdata/refserver.js"}
	if _, file, _, ok := runtime.Caller(0); ok {
		cands = append(cands, filepath.Join(filepath.Dir(file), "testdata", "refserver.js"))
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return filepath.Abs(c)
		}
	}
	return "", errors.New("testdata/refserver.js not found: run from the module root or pass -refserver")
}

// refModules is where refserver.js finds the reference server's package.
func refModules(script string) string {
	return filepath.Join(filepath.Dir(script), "..", "..", "..", "httpadapter", "testdata", "node", "node_modules", "socket.io")
}

// prefixWriter writes each line to w with prefix.
func prefixWriter(w io.Writer, prefix string) io.Writer {
	return &linePrefixer{w: w, prefix: prefix}
}

type linePrefixer struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	partial []byte
}

func (l *linePrefixer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.partial[:i])
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 4096 {
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.partial)
		l.partial = l.partial[:0]
	}
	return len(b), nil
}
