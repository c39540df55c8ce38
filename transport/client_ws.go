package transport

import (
	"context"
	"errors"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core/eio"
)

// openWebSocket opens a session on WebSocket and starts its reader and
// writer.
func (r *engineRun) openWebSocket() bool {
	ctx, cancel := context.WithTimeout(r.ctx, r.c.opts.Timeout)
	ws, err := r.dialWS(ctx, "")
	cancel()
	if err != nil {
		if r.ctx.Err() == nil {
			r.e.HandleTransportClose(time.Now(), timeoutErr(err))
		}
		return false
	}
	r.pmu.Lock()
	r.activeWS = ws
	r.pmu.Unlock()
	r.writer(func() { r.wsWrite(ws) })
	r.goroutine(func() { r.wsRead(ws) })
	return true
}

// wsRead feeds the frames of the active WebSocket to the session.
func (r *engineRun) wsRead(ws *websocket.Conn) {
	for {
		data, binary, err := readMessage(r.ctx, ws, r.c.opts.MaxPayload)
		if err != nil {
			if r.ctx.Err() != nil || r.e.Closed() {
				return
			}
			if errors.Is(err, ErrMessageTooBig) {
				r.e.HandleTransportClose(time.Now(), err)
				ws.Close(websocket.StatusMessageTooBig, "")
			} else {
				// The server closed it, or the connection was lost: the
				// reference reports both as "transport close".
				r.c.log.Debug("sio client: websocket closed", "sid", r.sid, "err", err)
				r.e.HandleTransportClose(time.Now(), nil)
			}
			return
		}
		_ = r.e.HandleFrame(time.Now(), data, binary)
	}
}

// wsWrite is the one writer of the WebSocket: it writes what the session
// queues until it is closed and flushed, then closes the WebSocket.
func (r *engineRun) wsWrite(ws *websocket.Conn) {
	var pkts []eio.Packet
	var frame []byte
	for {
		var done bool
		pkts, done = r.e.TakeFinalOutputOn(eio.WebSocket, pkts[:0], 0)
		for i, p := range pkts {
			var binary bool
			frame, binary = eio.AppendFrame(frame[:0], p)
			typ := websocket.MessageText
			if binary {
				typ = websocket.MessageBinary
			}
			ctx, cancel := context.WithTimeout(r.ctx, r.c.opts.WriteTimeout)
			err := ws.Write(ctx, typ, frame)
			cancel()
			if err != nil {
				clear(pkts[i:])
				if r.ctx.Err() == nil && !r.e.Closed() {
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
		// done, not Closed: the packets queued as the session closed (a
		// DISCONNECT) are written before the close.
		if done {
			switch r.e.CloseReason() {
			case eio.ReasonForcedClose, eio.ReasonParseError:
				// This side decided: a close handshake with a live server.
				ws.Close(websocket.StatusNormalClosure, "")
			default:
				ws.CloseNow()
			}
			return
		}
		if cap(frame) > 64<<10 {
			frame = nil
		}
		select {
		case <-r.kWS:
		case <-r.ctx.Done():
			return
		}
	}
}

func (r *engineRun) writeProbe(ws *websocket.Conn, pkts []eio.Packet) error {
	var frame []byte
	for _, p := range pkts {
		frame, _ = eio.AppendFrame(frame[:0], p)
		ctx, cancel := context.WithTimeout(r.ctx, r.c.opts.WriteTimeout)
		err := ws.Write(ctx, websocket.MessageText, frame)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// dropProbe abandons the probe WebSocket; polling goes on.
func (r *engineRun) dropProbe(ws *websocket.Conn) {
	r.pmu.Lock()
	if r.probeWS == ws {
		r.probeWS = nil
	}
	r.pmu.Unlock()
	ws.CloseNow()
}

// probe upgrades the polling session to WebSocket: it opens a WebSocket
// for the session, exchanges the probe ping and pong, waits for the
// polling requests in flight to end, then sends the upgrade packet and
// carries the session. Any failure abandons the probe; polling goes on.
func (r *engineRun) probe() {
	ctx, cancel := context.WithTimeout(r.ctx, r.c.opts.UpgradeTimeout)
	ws, err := r.dialWS(ctx, r.sid)
	cancel()
	if err != nil {
		r.c.log.Debug("sio client: probe failed", "sid", r.sid, "err", err)
		return
	}
	if err := r.e.StartProbe(time.Now()); err != nil {
		ws.CloseNow()
		return
	}
	r.pmu.Lock()
	r.probeWS = ws
	r.pmu.Unlock()
	kick(r.kMain) // the probe may have been abandoned meanwhile
	if err := r.writeProbe(ws, r.e.TakeProbeOutput(nil)); err != nil {
		r.e.HandleProbeClose(time.Now())
		r.dropProbe(ws)
		return
	}
	data, binary, err := readMessage(r.ctx, ws, r.c.opts.MaxPayload)
	if err != nil {
		r.e.HandleProbeClose(time.Now())
		r.dropProbe(ws)
		return
	}
	if err := r.e.HandleProbeFrame(time.Now(), data, binary); err != nil {
		r.dropProbe(ws)
		return
	}
	// The probe succeeded: polling pauses. Wait for the requests in
	// flight (the server releases a pending poll with a noop).
	r.pmu.Lock()
	for {
		if !r.e.PollingPaused() {
			r.pmu.Unlock()
			r.dropProbe(ws)
			return
		}
		if !r.getBusy && !r.postBusy {
			break
		}
		r.pmu.Unlock()
		select {
		case <-r.kProbe:
		case <-r.ctx.Done():
			r.dropProbe(ws)
			return
		}
		r.pmu.Lock()
	}
	r.writers++ // the WebSocket's writer, started below
	err = r.e.CompleteUpgrade(time.Now())
	if err == nil {
		r.probeWS, r.activeWS = nil, ws
	} else {
		r.writers--
	}
	r.pmu.Unlock()
	if err != nil {
		r.dropProbe(ws)
		return
	}
	r.c.log.Debug("sio client: upgraded", "sid", r.sid)
	r.kick() // the polling goroutines end
	r.goroutine(func() {
		defer r.writerDone()
		r.wsWrite(ws)
	})
	r.wsRead(ws)
}
