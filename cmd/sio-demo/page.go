package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

//go:embed web
var webFiles embed.FS

// newPage serves the live page: its files, embedded in the program, the
// server's settings at /config.json, and the Go client compiled to
// WebAssembly at /client.wasm with the Go runtime's loader at
// /wasm_exec.js.
func newPage(d *demoServer) http.Handler {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree is part of the program
	}
	files := http.FileServerFS(sub)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(d.welcome())
	})
	mux.HandleFunc("GET /client.wasm", func(w http.ResponseWriter, r *http.Request) {
		a, err := wasm.get(r.Context())
		if err != nil {
			http.Error(w, "the Go client is not available: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/wasm")
		w.Header().Set("Cache-Control", "no-cache")
		body := a.wasm
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			body = a.wasmGz
		}
		w.Header().Set("Vary", "Accept-Encoding")
		http.ServeContent(w, r, "client.wasm", a.at, bytes.NewReader(body))
	})
	mux.HandleFunc("GET /wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		a, err := wasm.get(r.Context())
		if err != nil {
			http.Error(w, "the Go client is not available: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "wasm_exec.js", a.at, bytes.NewReader(a.execJS))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
	for _, name := range []string{"app.js", "sio.js", "style.css"} {
		mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			files.ServeHTTP(w, r)
		})
	}
	return mux
}

// wasmArtifacts are what the Go client's page mode needs.
type wasmArtifacts struct {
	wasm, wasmGz, execJS []byte
	at                   time.Time
}

// wasmBuilder builds the Go client for the browser once, on the first
// request for it, with the Go toolchain that is on this machine (the one
// that ran "go run ./cmd/sio-demo"), so that nothing built is committed.
// A failed build is retried after a pause.
type wasmBuilder struct {
	mu       sync.Mutex
	done     *wasmArtifacts
	err      error
	failedAt time.Time
	building chan struct{}
}

var wasm wasmBuilder

func (b *wasmBuilder) get(ctx context.Context) (*wasmArtifacts, error) {
	for {
		b.mu.Lock()
		if b.done != nil {
			b.mu.Unlock()
			return b.done, nil
		}
		if b.err != nil && time.Since(b.failedAt) < 10*time.Second {
			err := b.err
			b.mu.Unlock()
			return nil, err
		}
		ch := b.building
		if ch == nil {
			ch = make(chan struct{})
			b.building = ch
			go b.build(ch)
		}
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		b.mu.Lock()
		done, err := b.done, b.err
		b.mu.Unlock()
		if done != nil {
			return done, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (b *wasmBuilder) build(ch chan struct{}) {
	a, err := buildWasm()
	b.mu.Lock()
	b.done, b.err, b.building = a, err, nil
	if err != nil {
		b.failedAt = time.Now()
	}
	b.mu.Unlock()
	close(ch)
}

// wasmSource finds the directory of package wasmclient: next to this
// source file (go run, go build and go test on this machine), else from
// the working directory (the module root or this command's directory).
func wasmSource() (string, error) {
	var cands []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		cands = append(cands, filepath.Join(filepath.Dir(file), "wasmclient"))
	}
	cands = append(cands, filepath.Join("cmd", "sio-demo", "wasmclient"), "wasmclient")
	for _, c := range cands {
		if st, err := os.Stat(filepath.Join(c, "main.go")); err == nil && st.Mode().IsRegular() {
			return filepath.Abs(c)
		}
	}
	return "", errors.New("the source of cmd/sio-demo/wasmclient is not here: run the demo from sio's checkout (go run ./cmd/sio-demo)")
}

// goTool is the go command: on PATH, else in the GOROOT this program was
// built with.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", errors.New("the go command is not on PATH: it builds the Go client for the browser")
}

func buildWasm() (*wasmArtifacts, error) {
	src, err := wasmSource()
	if err != nil {
		return nil, err
	}
	gobin, err := goTool()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "sio-demo-wasm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := filepath.Join(tmp, "client.wasm")
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build of the Go client for js/wasm: %v: %s", err, bytes.TrimSpace(msg))
	}
	wasmBytes, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	env := exec.CommandContext(ctx, gobin, "env", "GOROOT")
	env.Dir = src
	root, err := env.Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %v", err)
	}
	var execJS []byte
	for _, rel := range []string{"lib/wasm/wasm_exec.js", "misc/wasm/wasm_exec.js"} {
		if execJS, err = os.ReadFile(filepath.Join(strings.TrimSpace(string(root)), rel)); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("wasm_exec.js is not in GOROOT: %v", err)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if _, err := zw.Write(wasmBytes); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &wasmArtifacts{wasm: wasmBytes, wasmGz: gz.Bytes(), execJS: execJS, at: time.Now()}, nil
}
