package httpadapter_test

// A raw peer for the differential test and the wire tests: plain HTTP
// requests, and a WebSocket client written on a TCP connection so that it
// can send what no library would (invalid UTF-8 in a text frame, a frame
// header announcing 2^63-1 bytes).

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// rawAnswer is a plain HTTP answer as a transcript line.
type rawAnswer struct {
	status int
	ctype  string
	body   string
	err    error
}

func (a rawAnswer) String() string {
	if a.err != nil {
		return "error"
	}
	return fmt.Sprintf("%d %s %q", a.status, a.ctype, a.body)
}

// rawHTTP sends one request on a new connection to addr (host:port).
func rawHTTP(client *http.Client, base, method, pathQuery, body string, hdr map[string]string) rawAnswer {
	var rd io.Reader
	if method == "POST" || body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+pathQuery, rd)
	if err != nil {
		return rawAnswer{err: err}
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if method == "POST" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	res, err := client.Do(req)
	if err != nil {
		return rawAnswer{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return rawAnswer{err: err}
	}
	return rawAnswer{status: res.StatusCode, ctype: res.Header.Get("Content-Type"), body: string(b)}
}

// rawSock is a client WebSocket on a TCP connection.
type rawSock struct {
	nc     net.Conn
	br     *bufio.Reader
	status int    // of the handshake answer
	body   string // of a refused handshake
	frames chan rawFrame
}

// rawFrame is a frame received, or the end of the connection (op 0xff).
type rawFrame struct {
	op      byte
	payload []byte
	err     error
}

func (f rawFrame) String() string {
	switch f.op {
	case 0x1:
		return "text " + strconv.Quote(string(f.payload))
	case 0x2:
		return fmt.Sprintf("binary %x", f.payload)
	case 0x8:
		if len(f.payload) < 2 {
			return "close -"
		}
		return "close " + strconv.Itoa(int(binary.BigEndian.Uint16(f.payload)))
	case 0x9:
		return "ping"
	case 0xa:
		return "pong"
	case 0xff:
		return "eof"
	}
	return fmt.Sprintf("op %d %q", f.op, f.payload)
}

// dialRaw opens a TCP connection to addr and asks for a WebSocket at
// pathQuery. On 101 the frames are read on a goroutine; otherwise the
// status and body are kept and the connection is closed.
func dialRaw(addr, pathQuery string) (*rawSock, error) {
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		return nil, err
	}
	req := "GET " + pathQuery + " HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		nc.Close()
		return nil, err
	}
	s := &rawSock{nc: nc, br: bufio.NewReader(nc)}
	_ = nc.SetReadDeadline(time.Now().Add(waitFor))
	res, err := http.ReadResponse(s.br, nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Time{})
	s.status = res.StatusCode
	if res.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
		s.body = string(b)
		nc.Close()
		return s, nil
	}
	s.frames = make(chan rawFrame, 1024)
	go s.read()
	return s, nil
}

func (s *rawSock) read() {
	defer close(s.frames)
	for {
		var h [2]byte
		if _, err := io.ReadFull(s.br, h[:]); err != nil {
			s.frames <- rawFrame{op: 0xff, err: err}
			return
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(s.br, b[:]); err != nil {
				s.frames <- rawFrame{op: 0xff, err: err}
				return
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(s.br, b[:]); err != nil {
				s.frames <- rawFrame{op: 0xff, err: err}
				return
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 64<<20 {
			s.frames <- rawFrame{op: 0xff, err: errors.New("frame too large")}
			return
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(s.br, p); err != nil {
			s.frames <- rawFrame{op: 0xff, err: err}
			return
		}
		op := h[0] & 0x0f
		if op == 0x8 {
			// Answer the close as a client does: the server then ends
			// the connection.
			_ = s.writeFrame(true, 0x8, p)
		}
		s.frames <- rawFrame{op: op, payload: p}
	}
}

// writeFrame sends one masked frame.
func (s *rawSock) writeFrame(fin bool, op byte, payload []byte) error {
	return s.writeRaw(appendClientFrame(nil, fin, op, payload))
}

func appendClientFrame(dst []byte, fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	dst = append(dst, b0)
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	dst = append(dst, mask[:]...)
	for i, c := range payload {
		dst = append(dst, c^mask[i%4])
	}
	return dst
}

func (s *rawSock) writeRaw(b []byte) error {
	_ = s.nc.SetWriteDeadline(time.Now().Add(waitFor))
	_, err := s.nc.Write(b)
	return err
}

// text sends a text frame.
func (s *rawSock) text(msg string) error { return s.writeFrame(true, 0x1, []byte(msg)) }

// next waits up to d for the next frame; ok false when none came.
func (s *rawSock) next(d time.Duration) (rawFrame, bool) {
	select {
	case f, ok := <-s.frames:
		if !ok {
			return rawFrame{op: 0xff}, true
		}
		return f, true
	case <-time.After(d):
		return rawFrame{}, false
	}
}

// closeNow drops the TCP connection; the reader ends.
func (s *rawSock) closeNow() {
	s.nc.Close()
	if s.frames != nil {
		for range s.frames {
		}
	}
}

// slowPost is a POST whose chunked body is sent in two parts.
type slowPost struct {
	nc net.Conn
	br *bufio.Reader
}

// startSlowPost sends the headers of a chunked POST and the first chunk.
func startSlowPost(addr, pathQuery, first string) (*slowPost, error) {
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		return nil, err
	}
	req := "POST " + pathQuery + " HTTP/1.1\r\nHost: " + addr +
		"\r\nContent-Type: text/plain;charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n" +
		strconv.FormatInt(int64(len(first)), 16) + "\r\n" + first + "\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		nc.Close()
		return nil, err
	}
	return &slowPost{nc: nc, br: bufio.NewReader(nc)}, nil
}

// finish sends the rest of the body and reads the answer.
func (p *slowPost) finish(rest string) rawAnswer {
	defer p.nc.Close()
	_ = p.nc.SetDeadline(time.Now().Add(waitFor))
	body := "0\r\n\r\n"
	if rest != "" {
		body = strconv.FormatInt(int64(len(rest)), 16) + "\r\n" + rest + "\r\n" + body
	}
	if _, err := p.nc.Write([]byte(body)); err != nil {
		// The server may have dropped the connection already.
		if res, rerr := http.ReadResponse(p.br, nil); rerr == nil {
			return answerOf(res)
		}
		return rawAnswer{err: err}
	}
	res, err := http.ReadResponse(p.br, nil)
	if err != nil {
		return rawAnswer{err: err}
	}
	return answerOf(res)
}

func answerOf(res *http.Response) rawAnswer {
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return rawAnswer{err: err}
	}
	return rawAnswer{status: res.StatusCode, ctype: res.Header.Get("Content-Type"), body: string(b)}
}
