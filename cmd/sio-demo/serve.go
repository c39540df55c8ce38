package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	rpprof "runtime/pprof"
	"syscall"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
)

// newBenchServer is the server the bench drives: "echo" acknowledges its
// arguments back unchanged, "bcast" broadcasts its arguments to every
// socket of "/" (the sender included) as event "b". The handlers are made
// once and shared by every socket.
func newBenchServer(opts httpadapter.Options) *httpadapter.Server {
	srv := httpadapter.New(opts)
	root := srv.Of("/")
	echo := func(e *core.Event) { _ = e.Ack(e.Args.Values()...) }
	bcast := func(e *core.Event) { _ = root.Emit("b", e.Args.Values()...) }
	root.OnConnection(func(s *core.Socket) {
		s.On("echo", echo)
		s.On("bcast", bcast)
	})
	return srv
}

// debugHandlers adds the endpoints the bench uses on its own servers:
// /debug/gc runs a full collection and returns freed memory to the system
// (the reference server gets the same endpoint), /debug/memstats reports
// the runtime's memory figures, and /debug/pprof/ serves profiles.
func debugHandlers(mux *http.ServeMux) {
	mux.HandleFunc("/debug/gc", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/debug/memstats", func(w http.ResponseWriter, _ *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Goroutines                                   int
			HeapInuse, HeapIdle, HeapReleased, HeapAlloc uint64
			StackInuse, StackSys, MSpanInuse, Sys, GCSys uint64
			OtherSys, NumGC                              uint64
		}{
			runtime.NumGoroutine(),
			m.HeapInuse, m.HeapIdle, m.HeapReleased, m.HeapAlloc,
			m.StackInuse, m.StackSys, m.MSpanInuse, m.Sys, m.GCSys,
			m.OtherSys, uint64(m.NumGC),
		})
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

func serveMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sio-demo serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":3000", "listen address; port 0 picks a free one")
	dbg := fs.Bool("debug", false, "serve /debug/gc and /debug/pprof/ (the bench sets it; only on loopback addresses)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file`")
	memProfile := fs.String("memprofile", "", "write a heap profile to `file` at exit")
	plain := fs.Bool("plain", false, "serve the same two events on a bare WebSocket server without Socket.IO: the ceiling the bench measures sio against")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *addr, *dbg, *plain, *cpuProfile, *memProfile, stdout); err != nil {
		fmt.Fprintln(stderr, "sio-demo serve:", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, addr string, dbg, plain bool, cpuProfile, memProfile string, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if dbg {
		if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
			ln.Close()
			return errors.New("-debug needs a loopback address such as 127.0.0.1:0")
		}
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			ln.Close()
			return err
		}
		if err := rpprof.StartCPUProfile(f); err != nil {
			f.Close()
			ln.Close()
			return err
		}
		defer func() {
			rpprof.StopCPUProfile()
			f.Close()
		}()
	}
	var srv interface {
		http.Handler
		Close(context.Context) error
	} = newBenchServer(httpadapter.Options{})
	what := "Socket.IO"
	if plain {
		srv, what = newPlainServer(), "a plain WebSocket, no Socket.IO,"
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	if dbg {
		debugHandlers(mux)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// The bench reads this line to learn the address.
	fmt.Fprintf(stdout, "sio-demo serve: listening on %s (%s under /socket.io/; events: echo, bcast)\n", ln.Addr(), what)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// The heap profile is taken before the clients are let go, so that its
	// in-use figures show what the live sessions hold.
	var perr error
	if memProfile != "" {
		perr = writeHeapProfile(memProfile)
	}
	cctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Close(cctx)
	_ = hs.Shutdown(cctx)
	return perr
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := rpprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
