package transport

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	// ErrPostDropped: the session closed while a POST body was read. The
	// reference drops such a request's connection without an answer.
	ErrPostDropped = errors.New("session closed during the request")
	// ErrSessionGone: a request for a session that is closed and
	// forgotten (Driver.Gone); the caller answers as for an unknown
	// session id.
	ErrSessionGone = errors.New("session closed")
)

// probeNoopDelay is how long a poll that arrives while a probe waits for
// the upgrade packet is held before its noop, as the reference's check
// timer holds it (100 ms there; longer here, so that a loaded machine
// still reads the upgrade packet first): a client that sent the upgrade
// packet and then polled gets 400 (the session is on WebSocket), never a
// noop, whichever of its two connections the server reads first. A poll
// that was pending when the probe succeeded gets its noop at once.
const probeNoopDelay = 250 * time.Millisecond

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
	if d.Gone() {
		return ErrSessionGone
	}
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
	// late: the session closed before this poll came. The reference then
	// answers a noop before the close packet (its close waited for a poll).
	late := c.Closed()
	// probed: the poll came after the probe succeeded, while it waits for
	// the upgrade packet (the session then has output: the probe's noop),
	// or the upgrade finished since the check above. A poll that came
	// before gets the noop at once, which is what the client waits for.
	probed := (c.Upgrading() && c.HasOutput()) || c.Transport() == eio.WebSocket
	var hold <-chan time.Time
	for {
		if c.Transport() == eio.WebSocket {
			if probed {
				// Upgraded while this poll was held: the client polled
				// after its upgrade packet.
				release()
				return ErrWrongTransport
			}
			// Upgraded while this poll waited: release it.
			b.pkts = append(b.pkts[:0], eio.Packet{Type: eio.Noop})
			break
		}
		b.pkts = c.TakeOutputLimit(b.pkts[:0], d.opts.MaxPayload)
		if probed && len(b.pkts) == 1 && b.pkts[0].Type == eio.Noop {
			// Only the noop of a probe: hold it a little, as the
			// reference does, so that an upgrade packet already on its
			// way is read first.
			if hold == nil {
				t := time.NewTimer(probeNoopDelay)
				defer t.Stop()
				hold = t.C
			}
			b.pkts = b.pkts[:0]
		}
		if n := len(b.pkts); n > 0 {
			if n > 1 && b.pkts[n-1].Type == eio.Close && graceful(c) {
				// The reference sends what was queued, and the close
				// packet on a poll of its own.
				b.pkts[n-1] = eio.Packet{}
				b.pkts = b.pkts[:n-1]
			} else if late && b.pkts[n-1].Type == eio.Close {
				b.pkts = append(b.pkts[:0], eio.Packet{Type: eio.Noop}, eio.Packet{Type: eio.Close})
			}
			break
		}
		if c.Closed() {
			// The peer's own close packet ended the session: the
			// reference releases the poll with a noop. Otherwise it says
			// close.
			if r, ok := c.(interface{ CloseReason() eio.Reason }); ok && r.CloseReason() == eio.ReasonTransportClose {
				b.pkts = append(b.pkts[:0], eio.Packet{Type: eio.Noop})
			} else if late {
				b.pkts = append(b.pkts[:0], eio.Packet{Type: eio.Noop}, eio.Packet{Type: eio.Close})
			} else {
				b.pkts = append(b.pkts[:0], eio.Packet{Type: eio.Close})
			}
			break
		}
		select {
		case <-d.pollCh:
		case <-hold:
			hold, probed = nil, false
		case <-r.Context().Done():
			release()
			c.HandleTransportClose(d.opts.Clock(), ErrPollAborted)
			d.Wake()
			return nil
		}
	}
	if p := b.pkts[len(b.pkts)-1]; p.Type == eio.Close {
		d.mu.Lock()
		d.closeSent = true
		d.mu.Unlock()
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
	if d.Gone() {
		return ErrSessionGone
	}
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
	open := !c.Closed()
	b := bufPool.Get().(*buffers)
	defer func() {
		b.body = b.body[:0]
		bufPool.Put(b)
	}()
	body, err := readLimited(r.Body, b.body[:0], d.opts.MaxPayload)
	if open && c.Closed() {
		return ErrPostDropped
	}
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
	// its own copy. The body is text: bytes that are not UTF-8 become
	// U+FFFD, as the reference's decoding of the body makes them, so that
	// no invalid text is relayed to other clients.
	var own []byte
	if utf8.Valid(body) {
		own = append([]byte(nil), body...)
	} else {
		own = appendValidUTF8(make([]byte, 0, len(body)+len(body)/2), body)
	}
	_ = c.HandlePayload(d.opts.Clock(), own)
	// The client sends its next body once this one is answered: while the
	// session's handlers are behind, the answer waits (backpressure).
	if !d.waitRoom(r.Context().Done()) {
		return nil
	}
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
