package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// This file is the load generator's client: a lean Engine.IO v4 /
// Socket.IO v5 client over WebSocket that knows just what the bench needs.
// It connects to the main namespace, answers pings, sends events with an
// acknowledgement id and matches the answers, and counts the "b"
// broadcasts it receives.

// loopbackOnly fails unless addr is 127.0.0.1:port: the load tool never
// connects anywhere else.
func loopbackOnly(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad address %q: %w", addr, err)
	}
	if host != "127.0.0.1" {
		return fmt.Errorf("refusing to connect to %q: the load tool only connects to 127.0.0.1", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("bad port in %q", addr)
	}
	return nil
}

// loopbackHTTP is the HTTP client the WebSocket handshakes go through: no
// proxy, no keep-alive pool to speak of, and a dialer that refuses every
// address but 127.0.0.1.
var loopbackHTTP = &http.Client{
	Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if err := loopbackOnly(addr); err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
	},
}

// hub receives what the clients of one phase read: broadcasts, and their
// completion when every receiver has one.
type hub struct {
	receivers int64          // clients that must get each broadcast
	delivered atomic.Int64   // "b" packets received, all clients together
	slots     []atomic.Int64 // receipts of broadcast seq, at seq%len(slots)
	complete  chan int64     // seq of each broadcast every receiver got
}

func newHub(receivers, window int) *hub {
	return &hub{
		receivers: int64(receivers),
		slots:     make([]atomic.Int64, max(window, 1)),
		complete:  make(chan int64, max(window, 1)),
	}
}

func (h *hub) got(seq int64) {
	h.delivered.Add(1)
	if seq < 0 {
		return
	}
	if h.slots[seq%int64(len(h.slots))].Add(1) == h.receivers {
		// Never blocks: at most len(slots) broadcasts are outstanding,
		// and each completes once.
		select {
		case h.complete <- seq:
		default:
		}
	}
}

// client is one Socket.IO connection to "/".
type client struct {
	ws   *websocket.Conn
	hub  *hub
	acks chan ackReply // answers to this client's events, in order
	done chan struct{} // closed when the read loop ends
	err  error         // why it ended; read after done
}

// ackReply is an answer to one of the client's events: its id, and
// whether its arguments began with that id again, as the echo's do.
type ackReply struct {
	id   int64
	echo bool
}

var errProtocol = errors.New("protocol error")

// dial connects to the main namespace of the server at addr (127.0.0.1
// only) and starts the client's read loop; h counts the broadcasts it gets.
func dial(ctx context.Context, addr string, h *hub) (*client, error) {
	if err := loopbackOnly(addr); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/socket.io/?EIO=4&transport=websocket",
		&websocket.DialOptions{HTTPClient: loopbackHTTP, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*client, error) {
		ws.CloseNow()
		return nil, err
	}
	_, msg, err := ws.Read(ctx)
	if err != nil {
		return fail(err)
	}
	if len(msg) == 0 || msg[0] != '0' {
		return fail(fmt.Errorf("%w: expected the open packet, got %.40q", errProtocol, msg))
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		return fail(err)
	}
	for {
		_, msg, err = ws.Read(ctx)
		if err != nil {
			return fail(err)
		}
		switch {
		case bytes.HasPrefix(msg, []byte("40")):
			c := &client{ws: ws, hub: h, acks: make(chan ackReply, 1), done: make(chan struct{})}
			go c.readLoop()
			return c, nil
		case bytes.Equal(msg, []byte("2")):
			if err := ws.Write(ctx, websocket.MessageText, []byte("3")); err != nil {
				return fail(err)
			}
		case bytes.HasPrefix(msg, []byte("44")):
			return fail(fmt.Errorf("%w: connect refused: %.80s", errProtocol, msg))
		}
	}
}

// readLoop reads every message into one reused buffer: pings are answered,
// acknowledgements handed to the waiting sender, broadcasts counted.
func (c *client) readLoop() {
	defer close(c.done)
	buf := make([]byte, 0, 256)
	for {
		_, r, err := c.ws.Reader(context.Background())
		if err != nil {
			c.err = err
			return
		}
		if buf, err = readAll(r, buf[:0]); err != nil {
			c.err = err
			return
		}
		if err := c.dispatch(buf); err != nil {
			c.err = err
			c.ws.CloseNow()
			return
		}
	}
}

// readAll appends what r reads to buf, until the end of r.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

var bPrefix = []byte(`42["b",`)

func (c *client) dispatch(msg []byte) error {
	switch {
	case len(msg) == 1 && msg[0] == '2':
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return c.ws.Write(ctx, websocket.MessageText, []byte("3"))
	case bytes.HasPrefix(msg, bPrefix):
		seq, _ := parseInt(msg[len(bPrefix):])
		if c.hub != nil {
			c.hub.got(seq)
		}
	case len(msg) > 2 && msg[0] == '4' && msg[1] == '3':
		id, n := parseInt(msg[2:])
		if n == 0 {
			return fmt.Errorf("%w: ack without id: %.40q", errProtocol, msg)
		}
		rest := msg[2+n:]
		echo := len(rest) > 1 && rest[0] == '['
		if echo {
			v, m := parseInt(rest[1:])
			echo = m > 0 && v == id
		}
		select {
		case c.acks <- ackReply{id: id, echo: echo}:
		default:
			return fmt.Errorf("%w: unexpected ack %d", errProtocol, id)
		}
	case len(msg) > 0 && msg[0] == '1':
		return io.EOF
	}
	return nil
}

// parseInt reads the decimal digits at the start of b; n is how many.
func parseInt(b []byte) (v int64, n int) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int64(b[n]-'0')
		n++
	}
	if n == 0 {
		return -1, 0
	}
	return v, n
}

// send writes one text message. The write has no context (one would cost
// a timer per message): what must not wait forever closes the connection,
// as abortOnDone does.
func (c *client) send(msg []byte) error {
	return c.ws.Write(context.Background(), websocket.MessageText, msg)
}

// abortOnDone drops the connections of cs when ctx ends, which ends every
// write and wait on them; the returned function cancels that.
func abortOnDone(ctx context.Context, cs []*client) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		for _, c := range cs {
			if c != nil {
				c.ws.CloseNow()
			}
		}
	})
}

// close drops the connection at once and waits for the read loop.
func (c *client) close() {
	c.ws.CloseNow()
	<-c.done
}

// echoer sends "echo" events with an ack id, one at a time, and checks the
// answers.
type echoer struct {
	c       *client
	next    int64
	msg     []byte
	payload string
	timer   *time.Timer
}

func newEchoer(c *client, payload string) *echoer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &echoer{c: c, payload: payload, timer: t}
}

// roundTrip sends 42<id>["echo",<id>,"<payload>"] and waits for
// 43<id>[<id>,...]: the answer must carry the same id, and its first
// argument must be that id again.
func (e *echoer) roundTrip(ctx context.Context, timeout time.Duration) error {
	id := e.next
	e.next++
	e.msg = appendEcho(e.msg[:0], id, e.payload)
	if err := e.c.send(e.msg); err != nil {
		return err
	}
	e.timer.Reset(timeout)
	defer e.timer.Stop()
	select {
	case a := <-e.c.acks:
		if a.id != id || !a.echo {
			return fmt.Errorf("%w: ack %d (echoed: %v) for event %d", errProtocol, a.id, a.echo, id)
		}
		return nil
	case <-e.c.done:
		return fmt.Errorf("connection ended: %v", e.c.err)
	case <-e.timer.C:
		return fmt.Errorf("no ack for event %d within %v", id, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// appendEcho appends the message 42<id>["echo",<id>,"<payload>"].
func appendEcho(m []byte, id int64, payload string) []byte {
	m = append(m, "42"...)
	m = strconv.AppendInt(m, id, 10)
	m = append(m, `["echo",`...)
	m = strconv.AppendInt(m, id, 10)
	m = append(m, `,"`...)
	m = append(m, payload...)
	return append(m, `"]`...)
}

// dialAll connects n clients with workers parallel dials; on the first
// failure it closes what it made and fails.
func dialAll(ctx context.Context, addr string, n, workers int, h *hub) ([]*client, error) {
	out := make([]*client, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dial(ctx, addr, h)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d of %d: %w", i+1, n, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				out[i] = c
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		closeAll(out)
		return nil, firstErr
	}
	return out, nil
}

// closeAll closes the clients in parallel.
func closeAll(cs []*client) {
	var wg sync.WaitGroup
	const workers = 32
	var next atomic.Int64
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(cs) {
					return
				}
				if cs[i] != nil {
					cs[i].close()
				}
			}
		}()
	}
	wg.Wait()
}
