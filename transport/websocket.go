package transport

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core/eio"
)

// ErrMessageTooBig: a WebSocket message over MaxPayload. The connection
// closes with status 1009 and the session with "transport error".
var ErrMessageTooBig = errors.New("message too big")

var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// readMessage reads one WebSocket message into a slice of its own, failing
// with ErrMessageTooBig past max bytes.
func readMessage(ctx context.Context, ws *websocket.Conn, max int) (data []byte, binary bool, err error) {
	typ, r, err := ws.Reader(ctx)
	if err != nil {
		return nil, false, err
	}
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	buf := (*bp)[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > max {
			*bp = buf[:0]
			return nil, false, ErrMessageTooBig
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			*bp = buf[:0]
			return nil, false, rerr
		}
	}
	// Messages are kept by the session (handlers may hold their
	// arguments): give each its own exact-sized copy.
	data = append(make([]byte, 0, len(buf)), buf...)
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
	}
	return data, typ == websocket.MessageBinary, nil
}

// ServeWebSocket runs a session whose active transport is ws: it reads
// frames into the session on the calling goroutine and writes its output
// from another, until either side closes. It returns when both have ended.
func (d *Driver) ServeWebSocket(ws *websocket.Conn) {
	ws.SetReadLimit(-1) // readMessage enforces MaxPayload itself
	d.mu.Lock()
	d.ws, d.wsConn = true, ws
	d.mu.Unlock()
	c := d.conn
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.writeLoop(ctx, ws)
	}()
	d.Wake()
	d.readLoop(ctx, ws)
	d.wg.Wait()
	d.finish()
	_ = c
}

func (d *Driver) readLoop(ctx context.Context, ws *websocket.Conn) {
	c := d.conn
	for {
		data, binary, err := readMessage(ctx, ws, d.opts.MaxPayload)
		if err != nil {
			if !c.Closed() {
				if errors.Is(err, ErrMessageTooBig) {
					c.HandleTransportClose(d.opts.Clock(), err)
					ws.Close(websocket.StatusMessageTooBig, "")
				} else {
					c.HandleTransportClose(d.opts.Clock(), nil)
				}
			}
			d.Wake()
			return
		}
		_ = c.HandleFrame(d.opts.Clock(), data, binary)
		if c.Closed() {
			d.Wake()
		}
	}
}

// writeLoop writes the session's output until the session closes and its
// output is flushed, then closes the WebSocket.
func (d *Driver) writeLoop(ctx context.Context, ws *websocket.Conn) {
	c := d.conn
	var pkts []eio.Packet
	var frame []byte
	for {
		pkts = c.TakeOutput(pkts[:0])
		for i, p := range pkts {
			var binary bool
			frame, binary = eio.AppendFrame(frame[:0], p)
			typ := websocket.MessageText
			if binary {
				typ = websocket.MessageBinary
			}
			wctx, cancel := context.WithTimeout(ctx, d.opts.WriteTimeout)
			err := ws.Write(wctx, typ, frame)
			cancel()
			if err != nil {
				clear(pkts[i:])
				c.HandleTransportClose(d.opts.Clock(), err)
				ws.CloseNow()
				return
			}
		}
		clear(pkts)
		if len(pkts) > 0 {
			continue
		}
		if c.Closed() {
			// Flushed: a close frame with no status, as the reference sends.
			ws.Close(websocket.StatusNoStatusRcvd, "")
			return
		}
		if cap(frame) > 64<<10 {
			frame = nil
		}
		select {
		case <-d.wsCh:
		case <-ctx.Done():
			return
		}
	}
}

// ServeProbe runs the WebSocket of an upgrade: the probe exchange, then, once
// the client sends the upgrade packet, the session itself. When the probe
// fails the WebSocket is closed and the session goes on over polling.
func (d *Driver) ServeProbe(ws *websocket.Conn) {
	ws.SetReadLimit(-1)
	c := d.conn
	if err := c.StartProbe(d.opts.Clock()); err != nil {
		ws.Close(websocket.StatusNoStatusRcvd, "")
		return
	}
	// The upgrade timeout may come before the next heartbeat: arm the
	// timer for it.
	d.kick()
	d.mu.Lock()
	d.ws, d.wsConn = true, ws
	d.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The upgrade timeout lives in the session, whose timer wakes the
	// driver: a probe abandoned meanwhile closes the WebSocket, which ends
	// the read below.
	done := make(chan struct{})
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			select {
			case <-done:
				return
			case <-d.wsCh:
				if !c.Upgrading() && c.Transport() != eio.WebSocket {
					// Abandoned: a close frame with no status, as the
					// reference sends; it also ends the read below.
					_ = ws.Close(websocket.StatusNoStatusRcvd, "")
					return
				}
			}
		}
	}()
	var out []eio.Packet
	var frame []byte
	for c.Upgrading() {
		data, binary, err := readMessage(ctx, ws, d.opts.MaxPayload)
		if err != nil {
			c.HandleProbeClose(d.opts.Clock())
			break
		}
		perr := c.HandleProbeFrame(d.opts.Clock(), data, binary)
		out = c.TakeProbeOutput(out[:0])
		for _, p := range out {
			frame, _ = eio.AppendFrame(frame[:0], p)
			if err := ws.Write(ctx, websocket.MessageText, frame); err != nil {
				c.HandleProbeClose(d.opts.Clock())
				break
			}
		}
		d.Wake() // a pending poll may now get its noop
		if perr != nil {
			break
		}
	}
	close(done)
	if c.Transport() != eio.WebSocket {
		d.mu.Lock()
		d.ws, d.wsConn = false, nil
		d.mu.Unlock()
		ws.Close(websocket.StatusNoStatusRcvd, "")
		// Polling carries the session again: if it closed meanwhile, the
		// driver's timer must now finish it.
		d.Wake()
		return
	}
	// Upgraded: this WebSocket now carries the session.
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.writeLoop(ctx, ws)
	}()
	d.Wake()
	d.readLoop(ctx, ws)
	d.wg.Wait()
	d.finish()
}
