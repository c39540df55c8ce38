//go:build js && wasm

// Command wasmclient is sio's Go client in the browser: core/client's
// Manager, the I/O-free Socket.IO client, run over the browser's WebSocket
// (github.com/coder/websocket's Dial uses it under js/wasm). The demo
// server builds it with GOOS=js GOARCH=wasm and serves it to /?client=go.
//
// It is the glue that package transport is on the native side, cut down to
// WebSocket: a goroutine for the manager's timer and dials, and per
// session a reader and a writer. It hands the page a small object,
// globalThis.sioGo:
//
//	h = sioGo.connect(baseURL, transports, onEvent(name, argsJSON), onStatus(statusJSON))
//	h.emitAck(name, argsJSON, cb(errString, argsJSON))
//
// and calls globalThis.sioGoReady() once that object is in place.
package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/client"
	"github.com/sio-go/sio/core/eio"
)

// maxMessage bounds a WebSocket message from the server.
const maxMessage = 1 << 20

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

// glue runs one Manager over WebSocket sessions.
type glue struct {
	wsURL    string
	m        *client.Manager
	sock     *client.Socket
	onStatus js.Value
	wakeCh   chan struct{}

	mu   sync.Mutex
	runs map[*run]struct{}
	st   status
}

func connect(_ js.Value, args []js.Value) any {
	if len(args) < 4 {
		return js.ValueOf("connect(baseURL, transports, onEvent, onStatus)")
	}
	base, err := url.Parse(args[0].String())
	if err != nil {
		return js.ValueOf(err.Error())
	}
	switch base.Scheme {
	case "https":
		base.Scheme = "wss"
	default:
		base.Scheme = "ws"
	}
	base.Path = "/socket.io/"
	base.RawQuery = url.Values{"EIO": {"4"}, "transport": {"websocket"}}.Encode()
	g := &glue{wsURL: base.String(), onStatus: args[3], wakeCh: make(chan struct{}, 1), runs: map[*run]struct{}{}}
	g.m = client.NewManager(client.Config{
		Transport:            eio.WebSocket,
		Engine:               eio.Config{Limits: eio.Limits{MaxPayload: maxMessage}},
		ReconnectionDelay:    500 * time.Millisecond,
		ReconnectionDelayMax: 5 * time.Second,
		Wake:                 g.wake,
	})
	g.sock = g.m.Socket("/")
	onEvent := args[2]
	g.sock.OnAny(func(e *client.Event) {
		onEvent.Invoke(e.Name, argsJSON(e.Args))
	})
	g.sock.OnConnect(func() {
		g.setStatus(func(s *status) {
			s.State, s.ID, s.Transport, s.SID, s.Reason = "connected", g.sock.ID(), "websocket", engineSID(g.m), ""
			s.OpenedAt = time.Now().UnixMilli()
		})
	})
	g.sock.OnDisconnect(func(reason string) {
		g.setStatus(func(s *status) { s.State, s.Reason, s.Transport, s.ID = "disconnected", reason, "", "" })
	})
	g.m.OnReconnectAttempt(func(int) {
		g.setStatus(func(s *status) { s.State = "reconnecting" })
	})
	g.setStatus(func(s *status) { s.State = "connecting" })
	go g.drive()
	if err := g.sock.Connect(time.Now()); err != nil {
		return js.ValueOf(err.Error())
	}
	return js.ValueOf(map[string]any{
		"emitAck": js.FuncOf(g.emitAck),
	})
}

func engineSID(m *client.Manager) string {
	if e := m.Engine(); e != nil {
		return e.SID()
	}
	return ""
}

func (g *glue) setStatus(f func(*status)) {
	g.mu.Lock()
	f(&g.st)
	b, _ := json.Marshal(g.st)
	g.mu.Unlock()
	g.onStatus.Invoke(string(b))
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
func (g *glue) emitAck(_ js.Value, args []js.Value) any {
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
	_, err := g.sock.EmitWith(client.EmitOptions{
		Deadline: time.Now().Add(10 * time.Second),
		Ack: func(a core.Args, err error) {
			if err != nil {
				cb.Invoke(err.Error())
				return
			}
			cb.Invoke(js.Null(), argsJSON(a))
		},
	}, name, vals...)
	if err != nil {
		cb.Invoke(err.Error())
	}
	return nil
}

// wake is the manager's wake-up: it never blocks.
func (g *glue) wake() {
	select {
	case g.wakeCh <- struct{}{}:
	default:
	}
	g.mu.Lock()
	for r := range g.runs {
		r.kick()
	}
	g.mu.Unlock()
}

// drive runs the manager's timer and starts the sessions it asks for.
func (g *glue) drive() {
	timer := time.NewTimer(time.Hour)
	for {
		g.m.HandleTimeout(time.Now())
		for e := g.m.TakeDial(); e != nil; e = g.m.TakeDial() {
			r := &run{g: g, e: e, k: make(chan struct{}, 1)}
			g.mu.Lock()
			g.runs[r] = struct{}{}
			g.mu.Unlock()
			go r.run()
		}
		if t, ok := g.m.Deadline(); ok {
			timer.Reset(max(time.Until(t), 0))
		} else {
			timer.Stop()
		}
		select {
		case <-g.wakeCh:
		case <-timer.C:
		}
	}
}

// run is one Engine.IO session on one WebSocket.
type run struct {
	g *glue
	e *client.Engine
	k chan struct{}
}

func (r *run) kick() {
	select {
	case r.k <- struct{}{}:
	default:
	}
}

func (r *run) run() {
	defer func() {
		r.g.mu.Lock()
		delete(r.g.runs, r)
		r.g.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	ws, _, err := websocket.Dial(ctx, r.g.wsURL, nil)
	cancel()
	if err != nil {
		r.e.HandleTransportClose(time.Now(), err)
		return
	}
	ws.SetReadLimit(maxMessage)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.write(ws)
	}()
	for {
		typ, data, err := ws.Read(context.Background())
		if err != nil {
			if !r.e.Closed() {
				r.e.HandleTransportClose(time.Now(), nil)
			}
			break
		}
		if err := r.e.HandleFrame(time.Now(), data, typ == websocket.MessageBinary); err != nil && r.e.Closed() {
			break
		}
	}
	r.kick()
	<-done
}

// write is the WebSocket's one writer: what the session queues, until it
// is closed and flushed.
func (r *run) write(ws *websocket.Conn) {
	var pkts []eio.Packet
	var frame []byte
	for {
		var done bool
		pkts, done = r.e.TakeFinalOutputOn(eio.WebSocket, pkts[:0], 0)
		for _, p := range pkts {
			var binary bool
			frame, binary = eio.AppendFrame(frame[:0], p)
			typ := websocket.MessageText
			if binary {
				typ = websocket.MessageBinary
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := ws.Write(ctx, typ, frame)
			cancel()
			if err != nil {
				if !r.e.Closed() {
					r.e.HandleTransportClose(time.Now(), err)
				}
				ws.CloseNow()
				return
			}
		}
		clear(pkts)
		if len(pkts) > 0 {
			continue
		}
		if done || r.e.Closed() {
			ws.Close(websocket.StatusNormalClosure, "")
			return
		}
		<-r.k
	}
}
