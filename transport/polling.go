package transport

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/sio-go/sio/core/eio"
)

// Polling errors, answered with status 400 as the reference does.
var (
	// ErrPollOverlap: a second poll while one is pending. The session closes.
	ErrPollOverlap = errors.New("overlap from client")
	// ErrPostOverlap: a second POST while one is being read. The session closes.
	ErrPostOverlap = errors.New("data request overlap from client")
	// ErrPollAborted: the client went away during a poll.
	ErrPollAborted = errors.New("poll connection closed prematurely")
	// ErrBodyTooLarge: a POST body over MaxPayload.
	ErrBodyTooLarge = errors.New("payload too large")
	// ErrWrongTransport: a polling request for a session on WebSocket.
	ErrWrongTransport = errors.New("transport mismatch")
	// ErrInvalidContent: a POST whose Content-Type is
	// application/octet-stream, which Engine.IO v4 never sends. The
	// session closes.
	ErrInvalidContent = errors.New("invalid content")
)

type buffers struct {
	pkts []eio.Packet
	body []byte
}

var bufPool = sync.Pool{New: func() any { return new(buffers) }}

// ServePoll answers a polling GET: it waits until the session has output,
// then sends it as one payload. An error is returned (and nothing written)
// when the request must be refused; the caller answers it.
func (d *Driver) ServePoll(w http.ResponseWriter, r *http.Request) error {
	c := d.conn
	// The session's own transport decides: a probe under way, or one
	// just abandoned, leaves polling in charge.
	if c.Transport() == eio.WebSocket {
		return ErrWrongTransport
	}
	d.mu.Lock()
	if d.getBusy {
		d.mu.Unlock()
		c.HandleTransportClose(d.opts.Clock(), ErrPollOverlap)
		d.Wake()
		return ErrPollOverlap
	}
	d.getBusy = true
	d.mu.Unlock()
	// release ends the poll; it comes before the wake that may finish a
	// closed session, which waits for no pending poll.
	release := func() {
		d.mu.Lock()
		d.getBusy = false
		d.mu.Unlock()
	}
	// Drop a stale wake-up: the checks below see the current state.
	select {
	case <-d.pollCh:
	default:
	}
	b := bufPool.Get().(*buffers)
	defer func() {
		clear(b.pkts)
		b.pkts, b.body = b.pkts[:0], b.body[:0]
		bufPool.Put(b)
	}()
	for {
		if c.Transport() == eio.WebSocket {
			// Upgraded while this poll waited: release it.
			b.pkts = append(b.pkts[:0], eio.Packet{Type: eio.Noop})
			break
		}
		b.pkts = c.TakeOutputLimit(b.pkts[:0], d.opts.MaxPayload)
		if len(b.pkts) > 0 {
			break
		}
		if c.Closed() {
			// The peer's own close packet ended the session: the
			// reference releases the poll with a noop. Otherwise it says
			// close.
			end := eio.Packet{Type: eio.Close}
			if r, ok := c.(interface{ CloseReason() eio.Reason }); ok && r.CloseReason() == eio.ReasonTransportClose {
				end.Type = eio.Noop
			}
			b.pkts = append(b.pkts[:0], end)
			break
		}
		select {
		case <-d.pollCh:
		case <-r.Context().Done():
			release()
			c.HandleTransportClose(d.opts.Clock(), ErrPollAborted)
			d.Wake()
			return nil
		}
	}
	b.body = eio.AppendPayload(b.body[:0], b.pkts)
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Content-Length"] = []string{strconv.Itoa(len(b.body))}
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b.body)
	release()
	if err != nil {
		c.HandleTransportClose(d.opts.Clock(), err)
	}
	if c.Closed() {
		d.Wake()
	}
	return nil
}

var (
	textPlain = []string{"text/plain; charset=UTF-8"}
	textHTML  = []string{"text/html"}
	noStore   = []string{"no-store"}
	okBody    = []byte("ok")
)

// ServePost reads a polling POST body into the session and answers "ok".
// An error is returned (and nothing written) when the request must be
// refused; the caller answers it.
func (d *Driver) ServePost(w http.ResponseWriter, r *http.Request) error {
	c := d.conn
	// The session's own transport decides: a probe under way, or one
	// just abandoned, leaves polling in charge.
	if c.Transport() == eio.WebSocket {
		return ErrWrongTransport
	}
	d.mu.Lock()
	if d.postBusy {
		d.mu.Unlock()
		c.HandleTransportClose(d.opts.Clock(), ErrPostOverlap)
		d.Wake()
		return ErrPostOverlap
	}
	d.postBusy = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.postBusy = false
		d.mu.Unlock()
	}()
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.EqualFold(strings.TrimSpace(ct), "application/octet-stream") {
		c.HandleTransportClose(d.opts.Clock(), ErrInvalidContent)
		d.Wake()
		return ErrInvalidContent
	}
	// A body over the limit is refused and dropped; the session goes on,
	// as in the reference.
	if r.ContentLength > int64(d.opts.MaxPayload) {
		return ErrBodyTooLarge
	}
	b := bufPool.Get().(*buffers)
	defer func() {
		b.body = b.body[:0]
		bufPool.Put(b)
	}()
	body, err := readLimited(r.Body, b.body[:0], d.opts.MaxPayload)
	b.body = body[:0]
	if errors.Is(err, ErrBodyTooLarge) {
		return err
	}
	if err != nil {
		c.HandleTransportClose(d.opts.Clock(), err)
		d.Wake()
		return err
	}
	// The session may keep slices of the body (text messages): give it
	// its own copy.
	own := append([]byte(nil), body...)
	_ = c.HandlePayload(d.opts.Clock(), own)
	h := w.Header()
	h["Content-Type"] = textHTML
	h["Content-Length"] = []string{"2"}
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(okBody)
	if c.Closed() {
		d.Wake()
	}
	return nil
}

// readLimited reads r into buf, failing with ErrBodyTooLarge past max bytes.
func readLimited(r io.Reader, buf []byte, max int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > max {
			return buf, ErrBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
