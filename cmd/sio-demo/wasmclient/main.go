//go:build js && wasm

// Command wasmclient is sio's Go client in the browser: package
// transport's Client (core/client's I/O-free Manager, with polling through
// the browser's fetch and WebSocket through the browser's WebSocket), built
// with GOOS=js GOARCH=wasm. The demo server builds it on demand and serves
// it to /?client=go.
//
// It hands the page a small object, globalThis.sioGo:
//
//	h = sioGo.connect(baseURL, transports, onEvent(name, argsJSON), onStatus(statusJSON))
//	h.emitAck(name, argsJSON, cb(errString, argsJSON))
//
// and calls globalThis.sioGoReady() once that object is in place.
package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/transport"
)

func main() {
	js.Global().Set("sioGo", js.ValueOf(map[string]any{
		"connect": js.FuncOf(connect),
	}))
	if ready := js.Global().Get("sioGoReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {}
}

// status is what the page shows of the connection.
type status struct {
	State      string `json:"state"`
	Transport  string `json:"transport"`
	SID        string `json:"sid"`
	ID         string `json:"id"`
	Reason     string `json:"reason,omitempty"`
	OpenedAt   int64  `json:"openedAt,omitempty"`
	UpgradedAt int64  `json:"upgradedAt"`
}

// page is one client and the page's callbacks.
type page struct {
	c        *transport.Client
	sock     *transport.ClientSocket
	onStatus js.Value

	mu sync.Mutex
	st status
}

func connect(_ js.Value, args []js.Value) any {
	if len(args) < 4 {
		return js.ValueOf("connect(baseURL, transports, onEvent, onStatus)")
	}
	c, err := transport.NewClient(args[0].String(), &transport.ClientOptions{
		Transports:           strings.Split(args[1].String(), ","),
		ReconnectionDelay:    500 * time.Millisecond,
		ReconnectionDelayMax: 5 * time.Second,
		AckTimeout:           10 * time.Second,
	})
	if err != nil {
		return js.ValueOf(err.Error())
	}
	p := &page{c: c, sock: c.Socket("/", nil), onStatus: args[3]}
	onEvent := args[2]
	p.sock.OnAny(func(e *transport.ClientEvent) {
		onEvent.Invoke(e.Name, argsJSON(e.Args))
	})
	p.sock.OnConnect(func() {
		p.set(func(s *status) {
			s.State, s.ID, s.Transport, s.SID, s.Reason = "connected", p.sock.ID(), c.Transport(), c.SID(), ""
			s.OpenedAt, s.UpgradedAt = time.Now().UnixMilli(), 0
		})
	})
	p.sock.OnDisconnect(func(reason string) {
		p.set(func(s *status) { s.State, s.Reason, s.Transport, s.ID = "disconnected", reason, "", "" })
	})
	c.Manager().OnReconnectAttempt(func(int) {
		p.set(func(s *status) { s.State = "reconnecting" })
	})
	p.set(func(s *status) { s.State = "connecting" })
	go func() { _ = p.sock.Connect(context.Background()) }()
	go p.watchUpgrade()
	return js.ValueOf(map[string]any{
		"emitAck": js.FuncOf(p.emitAck),
	})
}

// watchUpgrade notices the move from polling to WebSocket, which the
// client makes on its own, and tells the page when it happened.
func (p *page) watchUpgrade() {
	for range time.Tick(50 * time.Millisecond) {
		tr := p.c.Transport()
		p.mu.Lock()
		upgraded := p.st.State == "connected" && p.st.Transport == "polling" && tr == "websocket"
		p.mu.Unlock()
		if upgraded {
			p.set(func(s *status) { s.Transport, s.UpgradedAt = "websocket", time.Now().UnixMilli() })
		}
	}
}

func (p *page) set(f func(*status)) {
	p.mu.Lock()
	f(&p.st)
	b, _ := json.Marshal(p.st)
	p.mu.Unlock()
	p.onStatus.Invoke(string(b))
}

// argsJSON is the event's arguments as one JSON array.
func argsJSON(a core.Args) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r.JSON)
	}
	b.WriteByte(']')
	return b.String()
}

// emitAck(name, argsJSON, cb): cb(null, argsJSON) with the server's
// answer, or cb(message) when it fails or times out.
func (p *page) emitAck(_ js.Value, args []js.Value) any {
	if len(args) < 3 {
		return js.ValueOf("emitAck(name, argsJSON, cb)")
	}
	name, cb := args[0].String(), args[2]
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(args[1].String()), &raw); err != nil {
		cb.Invoke(err.Error())
		return nil
	}
	vals := make([]any, len(raw))
	for i, r := range raw {
		vals[i] = r
	}
	err := p.sock.EmitAck(name, func(a core.Args, err error) {
		if err != nil {
			cb.Invoke(err.Error())
			return
		}
		cb.Invoke(js.Null(), argsJSON(a))
	}, vals...)
	if err != nil {
		cb.Invoke(err.Error())
	}
	return nil
}
