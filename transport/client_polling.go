package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core/client"
	"github.com/sio-go/sio/core/eio"
)

// engineRun carries one Engine.IO session of a client: its handshake, then
// over polling a poller (GET) and a writer (POST), and a prober for the
// upgrade; over WebSocket a reader and a writer. The goroutine that runs it
// watches the session and, once it is closed, lets the writers flush, then
// ends everything.
type engineRun struct {
	c      *Client
	e      *client.Engine
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// One wake-up channel per goroutine that waits, so none is lost.
	kMain, kPoll, kPost, kProbe, kWS chan struct{}

	sid    string
	maxOut int // the server's maxPayload, for the bodies we post

	// pmu orders the polling requests against the upgrade: no request
	// starts once polling is paused, and the upgrade completes only when
	// none is in flight.
	pmu      sync.Mutex
	getBusy  bool
	postBusy bool
	writers  int             // writer goroutines that have not ended
	probeWS  *websocket.Conn // the probe, between StartProbe and the upgrade
	activeWS *websocket.Conn // the WebSocket carrying the session
}

func newRun(c *Client, e *client.Engine) *engineRun {
	r := &engineRun{
		c:      c,
		e:      e,
		kMain:  make(chan struct{}, 1),
		kPoll:  make(chan struct{}, 1),
		kPost:  make(chan struct{}, 1),
		kProbe: make(chan struct{}, 1),
		kWS:    make(chan struct{}, 1),
	}
	r.ctx, r.cancel = context.WithCancel(c.ctx)
	return r
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// kick wakes every goroutine of the run; it never blocks.
func (r *engineRun) kick() {
	kick(r.kMain)
	kick(r.kPoll)
	kick(r.kPost)
	kick(r.kProbe)
	kick(r.kWS)
}

func (r *engineRun) goroutine(f func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
}

// writer runs f as a writer: the run waits for its writers to flush a
// closed session.
func (r *engineRun) writer(f func()) {
	r.pmu.Lock()
	r.writers++
	r.pmu.Unlock()
	r.goroutine(func() {
		defer r.writerDone()
		f()
	})
}

func (r *engineRun) writerDone() {
	r.pmu.Lock()
	r.writers--
	r.pmu.Unlock()
	kick(r.kMain)
}

func (r *engineRun) liveWriters() int {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	return r.writers
}

func (r *engineRun) run() {
	defer r.cancel()
	var ok bool
	if r.e.Transport() == eio.WebSocket {
		ok = r.openWebSocket()
	} else {
		ok = r.openPolling()
	}
	if ok {
		r.watch()
	}
	r.cancel()
	r.closeSockets()
	r.wg.Wait()
	r.closeSockets() // one a racing upgrade installed meanwhile
}

// watch waits for the session to close, abandoning a failed probe on the
// way, then lets the writers flush for at most WriteTimeout.
func (r *engineRun) watch() {
	for !r.e.Closed() {
		r.pmu.Lock()
		p := r.probeWS
		if p != nil && !r.e.Upgrading() && r.e.Transport() != eio.WebSocket {
			r.probeWS = nil
		} else {
			p = nil
		}
		r.pmu.Unlock()
		if p != nil {
			// The upgrade timed out or failed: the probe's reader ends.
			p.CloseNow()
		}
		select {
		case <-r.kMain:
		case <-r.ctx.Done():
			return
		}
	}
	timer := time.NewTimer(r.c.opts.WriteTimeout)
	defer timer.Stop()
	for r.liveWriters() > 0 {
		select {
		case <-r.kMain:
		case <-timer.C:
			return
		case <-r.ctx.Done():
			return
		}
	}
}

func (r *engineRun) closeSockets() {
	r.pmu.Lock()
	p, a := r.probeWS, r.activeWS
	r.pmu.Unlock()
	if p != nil {
		p.CloseNow()
	}
	if a != nil {
		a.CloseNow()
	}
}

// timeoutErr marks a handshake request that ran out of Timeout.
func timeoutErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", client.ErrTimeout, err)
	}
	return err
}

func (r *engineRun) setHeaders(h http.Header) {
	for k, vs := range r.c.opts.Header {
		h[k] = slices.Clone(vs)
	}
}

// get makes a polling GET and returns its body, bounded by MaxPayload.
func (r *engineRun) get(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.c.engineURL(eio.Polling, r.sid), nil)
	if err != nil {
		return nil, err
	}
	r.setHeaders(req.Header)
	resp, err := r.c.httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, httpError(resp)
	}
	if resp.ContentLength > int64(r.c.opts.MaxPayload) {
		return nil, ErrBodyTooLarge
	}
	return readLimited(resp.Body, nil, r.c.opts.MaxPayload)
}

// post sends a polling body.
func (r *engineRun) post(body []byte) error {
	ctx, cancel := context.WithTimeout(r.ctx, r.c.opts.WriteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.c.engineURL(eio.Polling, r.sid), bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.setHeaders(req.Header)
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := r.c.httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return httpError(resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return nil
}

// openPolling makes the handshake request and starts the poller, the
// writer and, when the server offers it, the upgrade.
func (r *engineRun) openPolling() bool {
	ctx, cancel := context.WithTimeout(r.ctx, r.c.opts.Timeout)
	body, err := r.get(ctx)
	cancel()
	if err != nil {
		if r.ctx.Err() == nil {
			r.e.HandleTransportClose(time.Now(), timeoutErr(err))
		}
		return false
	}
	_ = r.e.HandlePayload(time.Now(), body)
	if !r.e.Opened() || r.e.Closed() {
		return false
	}
	hs := r.e.Handshake()
	r.sid, r.maxOut = hs.SID, hs.MaxPayload
	r.c.log.Debug("sio client: open", "sid", r.sid, "transport", "polling", "upgrades", hs.Upgrades)
	r.goroutine(r.pollLoop)
	r.writer(r.postLoop)
	if r.c.upgrade && slices.Contains(hs.Upgrades, "websocket") {
		r.goroutine(r.probe)
	}
	return true
}

// pollLoop polls until the session closes or moves to WebSocket, pausing
// while an upgrade completes.
func (r *engineRun) pollLoop() {
	for {
		r.pmu.Lock()
		for {
			if r.e.Closed() || r.e.Transport() != eio.Polling {
				r.pmu.Unlock()
				return
			}
			if !r.e.PollingPaused() {
				break
			}
			r.pmu.Unlock()
			select {
			case <-r.kPoll:
			case <-r.ctx.Done():
				return
			}
			r.pmu.Lock()
		}
		r.getBusy = true
		r.pmu.Unlock()
		body, err := r.get(r.ctx)
		if err == nil {
			_ = r.e.HandlePayload(time.Now(), body)
		}
		r.pmu.Lock()
		r.getBusy = false
		r.pmu.Unlock()
		kick(r.kProbe)
		if err != nil {
			if r.ctx.Err() == nil && !r.e.Closed() && r.e.Transport() == eio.Polling {
				r.c.log.Debug("sio client: poll failed", "sid", r.sid, "err", err)
				r.e.HandleTransportClose(time.Now(), err)
			}
			return
		}
	}
}

// postLoop is the one writer of a polling session: it posts what the
// session queues, bounded by the server's maxPayload, until the session is
// closed and flushed or has moved to WebSocket.
func (r *engineRun) postLoop() {
	var pkts []eio.Packet
	var body []byte
	for {
		r.pmu.Lock()
		var done bool
		pkts, done = r.e.TakeFinalOutputOn(eio.Polling, pkts[:0], r.maxOut)
		r.postBusy = len(pkts) > 0
		r.pmu.Unlock()
		if len(pkts) > 0 {
			body = eio.AppendPayload(body[:0], pkts)
			clear(pkts)
			err := r.post(body)
			r.pmu.Lock()
			r.postBusy = false
			r.pmu.Unlock()
			kick(r.kProbe)
			if err != nil {
				if r.ctx.Err() == nil && !r.e.Closed() {
					r.c.log.Debug("sio client: post failed", "sid", r.sid, "err", err)
					r.e.HandleTransportClose(time.Now(), err)
				}
				return
			}
			if cap(body) > 64<<10 {
				body = nil
			}
			continue
		}
		// done, not Closed: the packets queued as the session closed
		// (a DISCONNECT, the close packet) are posted before the end.
		if done || r.e.Transport() != eio.Polling {
			return
		}
		select {
		case <-r.kPost:
		case <-r.ctx.Done():
			return
		}
	}
}
