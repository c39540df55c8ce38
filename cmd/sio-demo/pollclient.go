package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// pollEchoer is a bench client on HTTP long-polling alone: each round trip
// POSTs 42<id>["echo",<id>,"<payload>"] and then polls until the answer
// 43<id>[<id>,...] comes, answering the server's pings on the way. Its
// requests go over keep-alive connections of the bench's own transport.
type pollEchoer struct {
	hc      *http.Client
	url     string // the session's, with its sid
	next    int64
	payload string
	msg     []byte
}

// maxPollBody bounds what the bench reads of one response.
const maxPollBody = 1 << 20

// dialPolling opens a session over polling and connects it to the main
// namespace.
func dialPolling(ctx context.Context, hc *http.Client, addr, payload string) (*pollEchoer, error) {
	base := "http://" + addr + "/socket.io/?EIO=4&transport=polling"
	body, err := pollDo(ctx, hc, http.MethodGet, base, nil)
	if err != nil {
		return nil, fmt.Errorf("polling handshake: %w", err)
	}
	i := bytes.Index(body, []byte(`"sid":"`))
	if len(body) == 0 || body[0] != '0' || i < 0 {
		return nil, fmt.Errorf("%w: polling handshake %q", errProtocol, body)
	}
	sid, _, ok := strings.Cut(string(body[i+len(`"sid":"`):]), `"`)
	if !ok {
		return nil, fmt.Errorf("%w: polling handshake %q", errProtocol, body)
	}
	e := &pollEchoer{hc: hc, url: base + "&sid=" + sid, payload: payload}
	if err := e.post(ctx, []byte("40")); err != nil {
		return nil, err
	}
	for connected := false; !connected; {
		err := e.poll(ctx, func(p []byte) error {
			// p is a Socket.IO packet: 0 CONNECT, 4 CONNECT_ERROR.
			if bytes.HasPrefix(p, []byte("0")) {
				connected = true
			} else if bytes.HasPrefix(p, []byte("4")) {
				return fmt.Errorf("%w: connect refused: %q", errProtocol, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return e, nil
}

func pollDo(ctx context.Context, hc *http.Client, method, url string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPollBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPollBody {
		return nil, fmt.Errorf("%w: a response over %d bytes", errProtocol, maxPollBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d: %q", method, resp.StatusCode, b)
	}
	return b, nil
}

func (e *pollEchoer) post(ctx context.Context, payload []byte) error {
	b, err := pollDo(ctx, e.hc, http.MethodPost, e.url, payload)
	if err == nil && string(b) != "ok" {
		err = fmt.Errorf("%w: POST answered %q", errProtocol, b)
	}
	return err
}

// poll GETs one payload and hands each Socket.IO packet in it to f (the
// Engine.IO message packets, without their type), answering pings; a close
// packet ends the session.
func (e *pollEchoer) poll(ctx context.Context, f func(pkt []byte) error) error {
	b, err := pollDo(ctx, e.hc, http.MethodGet, e.url, nil)
	if err != nil {
		return err
	}
	for _, p := range bytes.Split(b, []byte{0x1e}) {
		if len(p) == 0 {
			return fmt.Errorf("%w: empty packet in %q", errProtocol, b)
		}
		switch p[0] {
		case '2':
			if err := e.post(ctx, []byte("3")); err != nil {
				return err
			}
		case '1':
			return errors.New("the server closed the session")
		case '4':
			if err := f(p[1:]); err != nil {
				return err
			}
		}
	}
	return nil
}

// roundTrip is echoer.roundTrip over polling.
func (e *pollEchoer) roundTrip(ctx context.Context, timeout time.Duration) error {
	id := e.next
	e.next++
	e.msg = appendEcho(e.msg[:0], id, e.payload)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := e.post(ctx, e.msg); err != nil {
		return err
	}
	want := strconv.AppendInt([]byte("3"), id, 10)
	want = append(want, '[')
	want = strconv.AppendInt(want, id, 10)
	for acked := false; !acked; {
		err := e.poll(ctx, func(p []byte) error {
			if bytes.HasPrefix(p, want) {
				acked = true
			}
			return nil
		})
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no ack for event %d within %v", id, timeout)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// close ends the session with a close packet.
func (e *pollEchoer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.post(ctx, []byte("1"))
}
