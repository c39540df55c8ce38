package httpadapter

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sio-go/sio/transport/peertest"
)

// engineNode returns the node binary and the folder of the installed
// packages, or skips (fails when SIO_REQUIRE_EXTERNAL=1).
func engineNode(t *testing.T) (string, string) {
	t.Helper()
	dir, _ := filepath.Abs("testdata/node")
	return peertest.NodeModules(t, dir), dir
}

// TestEngineRawEcho: a raw Engine.IO session with the official engine
// client, over each transport: open, text and binary both ways, close.
func TestEngineRawEcho(t *testing.T) {
	node, dir := engineNode(t)
	for _, transports := range []string{"polling", "websocket", "polling,websocket"} {
		t.Run(transports, func(t *testing.T) {
			closed := make(chan string, 1)
			eng := NewEngine(Options{Path: "/engine.io/"}, func(s *EngineSocket) {
				s.OnMessage(func(data []byte, binary bool) {
					if binary {
						_ = s.SendBinary(data)
					} else {
						_ = s.Send(data)
					}
				})
				s.OnClose(func(reason string, _ error) { closed <- reason })
			})
			ts := httptest.NewServer(eng)
			defer ts.Close()
			defer eng.Close(context.Background())

			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "engine_echo.js"), ts.URL, transports)
			cmd.Dir = dir
			cmd.Stderr = os.Stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var echo struct {
				Got []struct {
					Text   *string `json:"text"`
					Binary []byte  `json:"-"`
					Bin    []int   `json:"binary"`
				} `json:"got"`
				Transport string `json:"transport"`
			}
			sc := bufio.NewScanner(stdout)
			var events []string
			for sc.Scan() {
				var ev struct{ Ev string }
				_ = json.Unmarshal(sc.Bytes(), &ev)
				events = append(events, ev.Ev)
				if ev.Ev == "echo" {
					if err := json.Unmarshal(sc.Bytes(), &echo); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("client: %v (events %v)", err, events)
			}
			if len(echo.Got) != 2 || echo.Got[0].Text == nil || *echo.Got[0].Text != "hello" ||
				len(echo.Got[1].Bin) != 3 || echo.Got[1].Bin[0] != 1 || echo.Got[1].Bin[2] != 3 {
				t.Fatalf("echo = %+v (events %v)", echo, events)
			}
			want := "polling"
			if transports != "polling" {
				want = "websocket"
			}
			if echo.Transport != want && !(transports == "polling,websocket" && echo.Transport == "polling") {
				t.Fatalf("transport %q, want %q", echo.Transport, want)
			}
			select {
			case r := <-closed:
				if r != "transport close" {
					t.Fatalf("server close reason %q, want transport close", r)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("server did not see the close")
			}
		})
	}
}
