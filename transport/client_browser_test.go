//go:build unix

package transport_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
	"github.com/sio-go/sio/transport/peertest"
)

// The Go client built for js/wasm, run by headless chromium against the Go
// server: testdata/wasmclient connects on each way (polling, WebSocket,
// polling upgraded to WebSocket), is welcomed, has an event with binary
// acknowledged, leaves, and reports each step to the test over HTTP.
func TestClient_InBrowser(t *testing.T) {
	chromium := "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			peertest.Unavailable(t, "chromium is not installed; install it with: apt-get install chromium")
		}
		chromium = p
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		peertest.Unavailable(t, "the go command is not on PATH: it builds the client for js/wasm")
	}
	out, err := exec.Command(goBin, "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	wasmExec := filepath.Join(strings.TrimSpace(string(out)), "lib", "wasm", "wasm_exec.js")
	if _, err := os.Stat(wasmExec); err != nil {
		t.Fatalf("wasm_exec.js: %v", err)
	}
	wasm := filepath.Join(t.TempDir(), "client.wasm")
	build := exec.Command(goBin, "build", "-o", wasm, "./testdata/wasmclient")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the client for js/wasm: %v\n%s", err, out)
	}
	for _, md := range modes {
		t.Run(md.name, func(t *testing.T) {
			reports := make(chan string, 16)
			seen := make(chan string, 16)
			srv := httpadapter.New(httpadapter.Options{Logger: quiet})
			srv.Of("/").OnConnection(func(s *core.Socket) {
				var auth struct {
					Token string `json:"token"`
				}
				_ = s.Handshake().Auth.Bind(&auth)
				offer(seen, "auth "+auth.Token)
				s.On("echo", func(e *core.Event) { _ = e.Ack(e.Args.Values()...) })
				s.OnDisconnect(func(r string) { offer(seen, "disconnect "+r) })
				_ = s.Emit("welcome", "hello, browser")
			})
			mux := http.NewServeMux()
			mux.Handle("/socket.io/", srv)
			mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(io.LimitReader(r.Body, 4<<10))
				offer(reports, string(b))
			})
			mux.HandleFunc("/client.wasm", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, wasm) })
			mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, wasmExec) })
			mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = io.WriteString(w, browserPage)
			})
			ts := httptest.NewServer(mux)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Close(ctx)
				ts.Close()
			})
			startChromium(t, chromium, ts.URL+"/?transports="+strings.Join(md.transports, ","))
			final := md.transports[len(md.transports)-1]
			// The first report waits for the browser to start and compile the
			// client.
			for i, want := range []string{"welcome hello, browser", "echo hi [1 2 3]", "transport " + final, "done"} {
				wait := 10 * time.Second
				if i == 0 {
					wait = 90 * time.Second
				}
				select {
				case got := <-reports:
					if got != want {
						t.Fatalf("the browser reported %q, want %q", got, want)
					}
				case <-time.After(wait):
					t.Fatalf("no report from the browser in %v (want %q)", wait, want)
				}
			}
			for _, want := range []string{"auth from the browser", "disconnect client namespace disconnect"} {
				if got := recv(t, seen, "the server's view"); got != want {
					t.Fatalf("the server saw %q, want %q", got, want)
				}
			}
		})
	}
}

const browserPage = `<!doctype html>
<meta charset="utf-8">
<script src="wasm_exec.js"></script>
<script>
const go = new Go();
WebAssembly.instantiateStreaming(fetch("client.wasm"), go.importObject)
	.then((r) => go.run(r.instance))
	.catch((e) => fetch("report", {method: "POST", body: "error loading: " + e}));
</script>
`

// startChromium opens url in a headless chromium with an empty profile;
// the test's cleanup stops it and its helpers by their process group.
func startChromium(t *testing.T, path, url string) {
	t.Helper()
	profile := t.TempDir()
	cmd := exec.Command(path,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+profile, url)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var tail []string
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			tail = append(tail, sc.Text())
			if len(tail) > 20 {
				tail = tail[1:]
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		<-logged
		if t.Failed() {
			mu.Lock()
			t.Logf("chromium's last lines:\n%s", strings.Join(tail, "\n"))
			mu.Unlock()
		}
	})
}
