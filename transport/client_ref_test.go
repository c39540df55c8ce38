package transport_test

// The Go client against the reference server (testdata/refserver.js, on
// the npm packages of httpadapter/testdata/node).

import (
	"bufio"
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sio-go/sio/transport/peertest"

	"github.com/sio-go/sio/core/client"
	"github.com/sio-go/sio/transport"
)

// startRef starts the reference server and returns its URL. It skips the
// test when node or the npm packages are missing, unless
// SIO_REQUIRE_EXTERNAL=1.
func startRef(t *testing.T) string {
	t.Helper()
	node := peertest.NodeModules(t, filepath.Join("..", "httpadapter", "testdata", "node"))
	cmd := exec.Command(node, filepath.Join("testdata", "refserver.js"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	port := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		port <- strings.TrimSpace(line)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	select {
	case p := <-port:
		if p == "" {
			t.Fatalf("reference server did not start: %s", stderr.String())
		}
		return "http://127.0.0.1:" + p
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("reference server did not start: %s", stderr.String())
	}
	return ""
}

func TestReference(t *testing.T) {
	url := startRef(t)
	forModes(t, func(t *testing.T, md mode) {
		c := dial(t, url, md, nil)
		s := c.Socket("/", nil)
		type binary struct {
			Nested []byte `json:"nested"`
			Text   string `json:"text"`
		}
		binaries := make(chan [2]any, 1)
		s.On("binary", func(e *transport.ClientEvent) {
			var raw []byte
			var b binary
			if err := e.Bind(&raw, &b); err != nil {
				t.Error(err)
			}
			binaries <- [2]any{raw, b}
		})
		s.On("question", func(e *transport.ClientEvent) {
			var q string
			var b []byte
			_ = e.Bind(&q, &b)
			_ = e.Ack("answer to " + q + " with " + string(rune('0'+b[0])))
		})
		answers := make(chan string, 1)
		s.On("answer", func(e *transport.ClientEvent) {
			var a string
			_ = e.Bind(&a)
			answers <- a
		})
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if len(s.ID()) != 20 {
			t.Fatalf("socket id %q", s.ID())
		}

		t.Run("echo", func(t *testing.T) {
			args, err := s.EmitWithAck(ctxT(t), "echo", 1, "two", map[string]any{"three": []int{3}}, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range args {
				got = append(got, a.String())
			}
			if want := []string{`1`, `"two"`, `{"three":[3]}`, `null`, `true`}; !slices.Equal(got, want) {
				t.Fatalf("echo %q, want %q", got, want)
			}
		})

		t.Run("binary", func(t *testing.T) {
			payload := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 5000)
			args, err := s.EmitWithAck(ctxT(t), "binary", payload, map[string]any{"inner": []byte{9}})
			if err != nil {
				t.Fatal(err)
			}
			var back []byte
			var inner struct {
				Inner []byte `json:"inner"`
			}
			if err := args.Bind(&back, &inner); err != nil || !bytes.Equal(back, payload) || !bytes.Equal(inner.Inner, []byte{9}) {
				t.Fatalf("binary ack: %v %d %v", err, len(back), inner.Inner)
			}
			got := recv(t, binaries, "the binary event")
			if raw := got[0].([]byte); !bytes.Equal(raw, []byte{1, 2, 3}) {
				t.Fatalf("raw %v", raw)
			}
			if b := got[1].(binary); !bytes.Equal(b.Nested, []byte{4, 5}) || b.Text != "t" {
				t.Fatalf("nested %+v", b)
			}
		})

		t.Run("server asks", func(t *testing.T) {
			_ = s.Emit("ask", "q")
			if a := recv(t, answers, "the answer"); a != "answer to q with 7" {
				t.Fatalf("answer %q", a)
			}
		})

		t.Run("namespace with auth", func(t *testing.T) {
			admin := c.Socket("/admin", map[string]string{"token": "wrong"})
			err := admin.Connect(ctxT(t))
			var ce *client.ConnectError
			if !errors.As(err, &ce) || ce.Message != "not authorized" {
				t.Fatalf("refusal %v", err)
			}
			var data struct {
				Reason string `json:"reason"`
			}
			if err := ce.Data.Bind(&data); err != nil || data.Reason != "bad token" {
				t.Fatalf("refusal data %+v %v", data, err)
			}
			welcome := make(chan string, 1)
			admin.On("welcome", func(e *transport.ClientEvent) {
				var tok string
				_ = e.Bind(&tok)
				welcome <- tok
			})
			_ = admin.SetAuth(map[string]string{"token": "secret"})
			if err := admin.Connect(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if tok := recv(t, welcome, "the welcome"); tok != "secret" {
				t.Fatalf("welcome %q", tok)
			}
			args, err := admin.EmitWithAck(ctxT(t), "echo", "in admin")
			if err != nil || len(args) != 1 || args[0].String() != `"in admin"` {
				t.Fatalf("admin echo %v %v", args, err)
			}
			if err := c.Socket("/nope", nil).Connect(ctxT(t)); !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
				t.Fatalf("invalid namespace: %v", err)
			}
			if !s.Connected() || !admin.Connected() {
				t.Fatal("a refusal disconnected the others")
			}
			reasons := make(chan string, 1)
			admin.OnDisconnect(func(r string) { reasons <- r })
			_ = admin.Emit("bye")
			if r := recv(t, reasons, "the server disconnect"); r != client.ReasonServerDisconnect {
				t.Fatalf("reason %q", r)
			}
		})

		t.Run("heartbeat", func(t *testing.T) {
			// The server pings every 300ms: pongs keep the connection.
			reasons := make(chan string, 1)
			off := s.OnDisconnect(func(r string) { reasons <- r })
			defer off()
			select {
			case r := <-reasons:
				t.Fatalf("disconnected: %s", r)
			case <-time.After(time.Second):
			}
			if _, err := s.Timeout(5*time.Second).EmitWithAck(ctxT(t), "echo"); err != nil {
				t.Fatal(err)
			}
		})

		if md.upgraded && c.Transport() != "websocket" {
			t.Fatalf("transport %q after the upgrade", c.Transport())
		}

		t.Run("client disconnect", func(t *testing.T) {
			reasons := make(chan string, 1)
			s.OnDisconnect(func(r string) { reasons <- r })
			s.Disconnect()
			if r := recv(t, reasons, "the disconnect"); r != client.ReasonClientDisconnect {
				t.Fatalf("reason %q", r)
			}
			waitFor(t, "the session to end", func() bool { return !c.Connected() })
			if err := s.Connect(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			ack, err := s.EmitWithAck(ctxT(t), "echo", "back")
			if err != nil || len(ack) != 1 {
				t.Fatalf("after reconnecting: %v %v", ack, err)
			}
		})
	})
}
