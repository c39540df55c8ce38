package main

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// plainServer is the ceiling of -compare: the bench server's two events
// on a bare WebSocket server (github.com/coder/websocket, one goroutine
// per connection reading, the broadcast written by the sender's), with
// no Engine.IO or Socket.IO behind it. It speaks just enough of the
// handshake for the bench's client to connect: a fixed open packet and a
// connect answer, no heartbeat, no session state. "echo" is answered by
// rewriting the event into its ack, "bcast" by writing event "b" to every
// connection. What sio's server costs above it is the price of the
// protocol and its guarantees.
type plainServer struct {
	mu     sync.Mutex
	conns  map[*websocket.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
	n      atomic.Int64
	ctx    context.Context // ends at Close, and with it every handshake
	cancel context.CancelFunc
}

func newPlainServer() *plainServer {
	ctx, cancel := context.WithCancel(context.Background())
	return &plainServer{conns: map[*websocket.Conn]struct{}{}, ctx: ctx, cancel: cancel}
}

// maxPlainMessage bounds what a peer may send the plain server.
const maxPlainMessage = 64 << 10

var (
	plainOpen    = []byte(`0{"sid":"plain","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)
	plainEcho    = []byte(`["echo",`)
	plainBcast   = []byte(`42["bcast",`)
	plainBPrefix = []byte(`42["b",`)
)

func (p *plainServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(maxPlainMessage)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	// The handshake waits under the server's context, which Close ends.
	if c.Write(p.ctx, websocket.MessageText, plainOpen) != nil {
		return
	}
	_, msg, err := c.Read(p.ctx)
	if err != nil || !bytes.Equal(msg, []byte("40")) {
		return
	}
	// The connection takes broadcasts before its connect answer goes
	// out, so that a client that has the answer gets every broadcast
	// sent after it. From here Close reaches it through the set.
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	sid := strconv.FormatInt(p.n.Add(1), 10)
	if c.Write(p.ctx, websocket.MessageText, []byte(`40{"sid":"`+sid+`"}`)) != nil {
		return
	}
	// Each message is read into one reused buffer, and reads and writes
	// take no context that can end (one would cost a timer each): Close
	// drops the connection instead.
	bg := context.Background()
	buf := make([]byte, 0, 512)
	var out []byte
	for {
		_, rd, err := c.Reader(bg)
		if err != nil {
			return
		}
		if buf, err = readAll(rd, buf[:0]); err != nil {
			return
		}
		msg := buf
		switch {
		case bytes.HasPrefix(msg, plainBcast):
			// 42["bcast",ARGS → 42["b",ARGS to everyone.
			out = append(append(out[:0], plainBPrefix...), msg[len(plainBcast):]...)
			p.broadcast(out)
		case len(msg) > 2 && msg[0] == '4' && msg[1] == '2':
			// 42ID["echo",ARGS → 43ID[ARGS.
			id, n := parseInt(msg[2:])
			rest := msg[2+n:]
			if n == 0 || id < 0 || !bytes.HasPrefix(rest, plainEcho) {
				continue
			}
			out = append(out[:0], "43"...)
			out = append(out, msg[2:2+n]...)
			out = append(out, '[')
			out = append(out, rest[len(plainEcho):]...)
			if c.Write(bg, websocket.MessageText, out) != nil {
				return
			}
		case bytes.Equal(msg, []byte("41")):
			return
		}
	}
}

// broadcast writes msg to every connection; one that does not take it
// within 10 s is dropped (one timer for the whole broadcast, moved on
// from connection to connection).
func (p *plainServer) broadcast(msg []byte) {
	p.mu.Lock()
	cs := make([]*websocket.Conn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	var cur atomic.Pointer[websocket.Conn]
	t := time.AfterFunc(time.Hour, func() {
		if c := cur.Load(); c != nil {
			c.CloseNow()
		}
	})
	defer t.Stop()
	bg := context.Background()
	for _, c := range cs {
		cur.Store(c)
		t.Reset(10 * time.Second)
		if c.Write(bg, websocket.MessageText, msg) != nil {
			c.CloseNow()
		}
	}
}

// Close drops every connection and waits for their handlers.
func (p *plainServer) Close(context.Context) error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.CloseNow()
	}
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	return nil
}
