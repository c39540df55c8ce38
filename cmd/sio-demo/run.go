package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// workerEnv marks a worker process of the demo server; its value is the
// worker's number.
const workerEnv = "SIO_DEMO_WORKER"

// demoMain runs the demo server: one process, or a master that runs
// -concurrency workers on one port.
func demoMain(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseDemoFlags(args, nil, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "sio-demo:", err)
		return 2
	}
	ctx, sig, stop := signalContext()
	defer stop()
	if w := os.Getenv(workerEnv); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "sio-demo: bad %s=%q\n", workerEnv, w)
			return 2
		}
		if err := runWorker(ctx, cfg, n, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "sio-demo worker %d: %v\n", n, err)
			return 1
		}
		return 0
	}
	if cfg.Concurrency > 1 && !reusePortSupported {
		fmt.Fprintf(stderr, "sio-demo: WEB_CONCURRENCY=%d asks for several processes on one port, which needs SO_REUSEPORT as Linux has it; running one process\n", cfg.Concurrency)
		cfg.Concurrency = 1
	}
	if cfg.Concurrency == 1 {
		err = runSingle(ctx, cfg, stdout, stderr)
	} else {
		err = runMaster(ctx, cfg, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "sio-demo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "sio-demo: stopped on %s; every client was told\n", sig())
	return 0
}

// signalContext ends on SIGINT or SIGTERM; name says which came; stop
// lets go of the signals.
func signalContext() (ctx context.Context, name func() string, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	var got guarded[string]
	quit := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case s := <-c:
			name := s.String()
			switch s {
			case os.Interrupt:
				name = "SIGINT"
			case syscall.SIGTERM:
				name = "SIGTERM"
			}
			got.set(name)
			cancel()
		case <-quit:
		}
	}()
	stop = func() {
		once.Do(func() {
			signal.Stop(c)
			close(quit)
			cancel()
		})
	}
	return ctx, func() string {
		if v := got.get(); v != "" {
			return v
		}
		return "error"
	}, stop
}

// guarded is a tiny mutex-guarded value.
type guarded[T any] struct {
	mu sync.Mutex
	v  T
}

func (a *guarded[T]) set(v T) { a.mu.Lock(); a.v = v; a.mu.Unlock() }
func (a *guarded[T]) get() T  { a.mu.Lock(); defer a.mu.Unlock(); return a.v }

func demoLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// serveWorker serves worker n until ctx ends, then closes. It connects
// the cluster bus before it listens (listen opens the listener), so that
// the kernel hands no connection to a worker that is not serving yet.
func serveWorker(ctx context.Context, cfg demoConfig, n int, listen func() (net.Listener, error), stderr io.Writer, ready func(net.Addr)) error {
	logger := demoLogger(stderr)
	bus, err := newBus(ctx, cfg, n, logger)
	if err != nil {
		return err
	}
	ln, err := listen()
	if err != nil {
		bus.close()
		return err
	}
	d := newDemoServer(cfg, n, bus.factory(), logger)
	d.extra = bus.metrics
	hs := &http.Server{Handler: d.handler(newPage(d)), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	ready(ln.Addr())
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Tell the clients first (a close packet or frame each), then stop
	// the listener and the idle HTTP connections, then the bus.
	cerr := d.close(cctx)
	serr := hs.Shutdown(cctx)
	berr := bus.close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, cerr, serr, berr)
}

func runSingle(ctx context.Context, cfg demoConfig, stdout, stderr io.Writer) error {
	return serveWorker(ctx, cfg, 1, func() (net.Listener, error) { return net.Listen("tcp", cfg.addr()) },
		stderr, func(a net.Addr) { banner(stdout, cfg, a) })
}

// runWorker is a worker process: it listens on the master's port with
// SO_REUSEPORT and says so on stdout.
func runWorker(ctx context.Context, cfg demoConfig, n int, stdout, stderr io.Writer) error {
	return serveWorker(ctx, cfg, n, func() (net.Listener, error) { return reusePortConfig.Listen(ctx, "tcp", cfg.addr()) },
		stderr, func(a net.Addr) {
			fmt.Fprintf(stdout, "sio-demo worker %d: ready on %s pid %d\n", n, a, os.Getpid())
		})
}

// banner says where to point a browser.
func banner(w io.Writer, cfg demoConfig, addr net.Addr) {
	port := "3000"
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
	}
	host := cfg.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	procs := "1 process"
	if cfg.Concurrency > 1 {
		procs = fmt.Sprintf("%d worker processes", cfg.Concurrency)
	}
	bus := "in-memory adapter"
	if cfg.RedisURL != "" {
		bus = "cluster bus on Redis"
	}
	fmt.Fprintf(w, "sio-demo: open http://%s/ in a browser (listening on %s; %s; %s; %s)\n",
		net.JoinHostPort(host, port), addr, procs, strings.Join(cfg.transports(), " and "), bus)
}

// workerProc is one worker process the master runs.
type workerProc struct {
	n    int
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// runMaster starts cfg.Concurrency workers on one port, restarts one that
// dies, and stops them all when ctx ends.
func runMaster(ctx context.Context, cfg demoConfig, stdout, stderr io.Writer) error {
	// The master binds first, so that port 0 becomes a port the workers
	// share, and lets go once they listen.
	reserve, err := reusePortConfig.Listen(ctx, "tcp", cfg.addr())
	if err != nil {
		return err
	}
	ta := reserve.Addr().(*net.TCPAddr)
	wcfg := cfg
	wcfg.Host, wcfg.Port = ta.IP.String(), ta.Port
	exe, err := os.Executable()
	if err != nil {
		reserve.Close()
		return err
	}
	var mu sync.Mutex
	workers := make([]*workerProc, cfg.Concurrency)
	// stopAll stops every worker; a worker that does not exit cleanly
	// within 10 s is killed, and counts as an error.
	stopAll := func() error {
		mu.Lock()
		ws := append([]*workerProc(nil), workers...)
		mu.Unlock()
		for _, w := range ws {
			if w != nil {
				_ = w.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		var errs []error
		for _, w := range ws {
			if w == nil {
				continue
			}
			select {
			case <-w.done:
			case <-t.C:
				_ = w.cmd.Process.Kill()
				<-w.done
			}
			if w.err != nil {
				errs = append(errs, fmt.Errorf("worker %d (pid %d): %v", w.n, w.cmd.Process.Pid, w.err))
			}
		}
		return errors.Join(errs...)
	}
	for i := range workers {
		w, err := startWorker(ctx, exe, wcfg, i+1, stderr)
		if err != nil {
			reserve.Close()
			return errors.Join(err, stopAll())
		}
		mu.Lock()
		workers[i] = w
		mu.Unlock()
	}
	reserve.Close()
	banner(stdout, cfg, ta)
	// Supervise: a worker that dies is replaced, unless the master is
	// stopping; five failed starts in a row stop the master.
	exited := make(chan *workerProc, len(workers))
	watch := func(w *workerProc) {
		go func() {
			<-w.done
			exited <- w
		}()
	}
	for _, w := range workers {
		watch(w)
	}
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return stopAll()
		case w := <-exited:
			if ctx.Err() != nil {
				continue
			}
			mu.Lock()
			if workers[w.n-1] == w {
				workers[w.n-1] = nil // reported here, not again at the end
			}
			mu.Unlock()
			fmt.Fprintf(stderr, "sio-demo: worker %d (pid %d) exited (%v); starting another\n", w.n, w.cmd.Process.Pid, w.err)
			nw, err := startWorker(ctx, exe, wcfg, w.n, stderr)
			if err != nil {
				if ctx.Err() != nil {
					continue
				}
				failures++
				if failures >= 5 {
					return errors.Join(fmt.Errorf("worker %d does not start: %w", w.n, err), stopAll())
				}
				fmt.Fprintf(stderr, "sio-demo: worker %d: %v; retrying\n", w.n, err)
				go func() {
					// Retry through the same path after a pause.
					select {
					case <-time.After(time.Second):
					case <-ctx.Done():
					}
					exited <- w
				}()
				continue
			}
			failures = 0
			mu.Lock()
			workers[w.n-1] = nw
			mu.Unlock()
			watch(nw)
		}
	}
}

// startWorker runs worker n and waits until it listens.
func startWorker(ctx context.Context, exe string, cfg demoConfig, n int, stderr io.Writer) (*workerProc, error) {
	args := []string{
		"-host", cfg.Host, "-port", strconv.Itoa(cfg.Port),
		"-concurrency", strconv.Itoa(cfg.Concurrency), "-redis", cfg.RedisURL,
		"-seq-interval", strconv.FormatInt(cfg.SeqInterval.Milliseconds(), 10),
		"-broadcast-interval", strconv.FormatInt(cfg.BcastInterval.Milliseconds(), 10),
		"-transports", cfg.Transports,
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), workerEnv+"="+strconv.Itoa(n), subprocessEnv+"=1")
	cmd.Stderr = prefixWriter(stderr, fmt.Sprintf("worker %d: ", n))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &workerProc{n: n, cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		seen := false
		for sc.Scan() {
			if !seen && strings.HasPrefix(sc.Text(), fmt.Sprintf("sio-demo worker %d: ready", n)) {
				seen = true
				close(ready)
				continue
			}
			fmt.Fprintf(stderr, "worker %d: %s\n", n, sc.Text())
		}
		_, _ = io.Copy(io.Discard, out)
		w.err = cmd.Wait()
		close(w.done)
	}()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-ready:
		return w, nil
	case <-w.done:
		return nil, fmt.Errorf("worker %d exited before listening: %v", n, w.err)
	case <-t.C:
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	<-w.done
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("worker %d did not listen within 30s", n)
}
