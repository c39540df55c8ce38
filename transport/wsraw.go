package transport

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// A WebSocket without the library.
//
// A connection that takes no compression is read by sio itself, as it is
// already written by sio itself (writeFrames): the WebSocket library's
// connection, its locks and its reader and writer cost an idle connection
// about 1.4 KB of heap, more than anything else it holds. The library
// keeps the connections with compression (and the client side). What this
// file does is RFC 6455 as the library does it: the handshake's checks and
// answers, control frames answered (ping) or ignored (pong), a message put
// together from its frames, the close handshake, and a protocol error
// answered with status 1002 and the end of the connection.

// ErrProtocol: a client broke the WebSocket protocol (RFC 6455): an
// unmasked frame, a reserved bit, an unknown opcode, a control frame too
// long or fragmented, a continuation with no message to continue, an
// invalid close frame. The connection closes with status 1002 and the
// session with "transport error".
var ErrProtocol = errors.New("WebSocket protocol error")

// errPeerClosed: the client's close frame ended the WebSocket.
var errPeerClosed = errors.New("WebSocket closed by the client")

// closeWait bounds the wait for the client's close frame after sio sent
// its own, as in the library.
const closeWait = 5 * time.Second

// The opcodes (RFC 6455, section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// offersDeflate reports whether the client offers per-message compression.
func offersDeflate(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Extensions") {
		for ext := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
				return true
			}
		}
	}
	return false
}

// hasToken reports whether a comma-separated header of r has tok, in any
// case.
func hasToken(r *http.Request, name, tok string) bool {
	for _, v := range r.Header.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

// checkUpgrade checks a WebSocket handshake request as the library does,
// with the same statuses: 426 for a request that is no upgrade, 405 for a
// method other than GET, 400 for a version other than 13 or a key that is
// not 16 bytes in base64.
func checkUpgrade(w http.ResponseWriter, r *http.Request) (int, error) {
	upgrade := func(msg string) (int, error) {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return http.StatusUpgradeRequired, errors.New(msg)
	}
	switch {
	case !r.ProtoAtLeast(1, 1):
		return http.StatusUpgradeRequired, errors.New("WebSocket handshake: HTTP/1.1 at least is required")
	case !hasToken(r, "Connection", "Upgrade"):
		return upgrade("WebSocket handshake: the Connection header does not say Upgrade")
	case !hasToken(r, "Upgrade", "websocket"):
		return upgrade("WebSocket handshake: the Upgrade header does not say websocket")
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, errors.New("WebSocket handshake: the method must be GET")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		return http.StatusBadRequest, errors.New("WebSocket handshake: only version 13 is supported")
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return http.StatusBadRequest, errors.New("WebSocket handshake: one Sec-WebSocket-Key header is required")
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return http.StatusBadRequest, errors.New("WebSocket handshake: Sec-WebSocket-Key must be 16 bytes in base64")
	}
	return 0, nil
}

// acceptKey is the Sec-WebSocket-Accept answer to key.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// acceptRaw completes the handshake of a WebSocket that sio reads itself.
func acceptRaw(w http.ResponseWriter, r *http.Request, h *hijacker) (*WebSocket, error) {
	if code, err := checkUpgrade(w, r); err != nil {
		http.Error(w, err.Error(), code)
		return nil, err
	}
	w.Header().Set("Upgrade", "websocket")
	w.Header().Set("Connection", "Upgrade")
	w.Header().Set("Sec-WebSocket-Accept", acceptKey(r.Header.Get("Sec-WebSocket-Key")))
	w.WriteHeader(http.StatusSwitchingProtocols)
	if err := h.hijack(); err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return nil, err
	}
	return &WebSocket{nc: h.nc, br: h.br, guard: h.guard, pre: h.pre}, nil
}

// rawChunk is how much more of a payload the reader makes room for at a
// time.
const rawChunk = 16 << 10

// rawRead reads the next message, answering the control frames before it.
// The payload is unmasked in place into buf's storage; max bounds the
// message.
func (w *WebSocket) rawRead(buf []byte, max int) (_ []byte, op byte, err error) {
	op = 0xff // no message begun
	for {
		fin, opcode, n, key, err := w.rawHeader()
		if err != nil {
			return buf, 0, err
		}
		switch opcode {
		case opClose, opPing, opPong:
			if !fin || n > 125 {
				return buf, 0, ErrProtocol
			}
			b := make([]byte, n) // rare: no buffer kept for it
			if _, err := io.ReadFull(w.br, b); err != nil {
				return buf, 0, err
			}
			unmask(b, key)
			if err := w.rawControl(opcode, b); err != nil {
				return buf, 0, err
			}
			continue
		case opContinuation:
			if op == 0xff {
				return buf, 0, ErrProtocol
			}
		case opText, opBinary:
			if op != 0xff {
				return buf, 0, ErrProtocol // a message inside a message
			}
			op = opcode
		default:
			return buf, 0, ErrProtocol
		}
		if n > uint64(max-len(buf)) {
			return buf, 0, ErrMessageTooBig
		}
		// The buffer grows as the payload comes, not by what the header
		// announced: a peer that announces much and sends little holds
		// little.
		start := len(buf)
		for left := n; left > 0; {
			k := min(left, rawChunk)
			at := len(buf)
			buf = append(buf, make([]byte, k)...)
			if _, err := io.ReadFull(w.br, buf[at:]); err != nil {
				return buf, 0, err
			}
			left -= k
		}
		unmask(buf[start:], key)
		if fin {
			if w.nc.closing() {
				// Sent after sio's close frame: dropped, as the
				// library drops it, while the close frame is awaited.
				buf, op = buf[:0], 0xff
				continue
			}
			return buf, op, nil
		}
	}
}

// rawHeader reads a frame header.
func (w *WebSocket) rawHeader() (fin bool, opcode byte, n uint64, key uint32, err error) {
	h := w.hdr[:]
	if _, err = io.ReadFull(w.br, h[:2]); err != nil {
		return
	}
	fin, opcode = h[0]&0x80 != 0, h[0]&0x0f
	if h[0]&0x70 != 0 || h[1]&0x80 == 0 {
		// A reserved bit (no extension here), or a client frame without
		// a mask.
		return fin, opcode, 0, 0, ErrProtocol
	}
	hl := headerSize(h[1])
	if _, err = io.ReadFull(w.br, h[2:hl]); err != nil {
		return
	}
	if n = payloadSize(h); n>>63 != 0 {
		return fin, opcode, 0, 0, ErrProtocol
	}
	key = binary.LittleEndian.Uint32(h[hl-4:])
	return fin, opcode, n, key, nil
}

// headerSize is the size of a frame header whose second byte is h1: the
// two bytes, the length's extension, and the masking key if the mask bit
// is set (RFC 6455, section 5.2). The reader, the frame guard and the
// fast read's check of a whole message read headers with it.
func headerSize(h1 byte) int {
	n := 2
	switch h1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h1&0x80 != 0 {
		n += 4
	}
	return n
}

// payloadSize is the payload length that hdr, a whole frame header,
// announces.
func payloadSize(hdr []byte) uint64 {
	switch l := hdr[1] & 0x7f; l {
	case 126:
		return uint64(binary.BigEndian.Uint16(hdr[2:4]))
	case 127:
		return binary.BigEndian.Uint64(hdr[2:10])
	default:
		return uint64(l)
	}
}

// unmask XORs a frame's payload b with its masking key.
func unmask(b []byte, key uint32) {
	k8 := uint64(key) | uint64(key)<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k8)
	}
	for ; i < len(b); i++ {
		b[i] ^= byte(key >> (8 * (i % 4)))
	}
}

// rawControl answers a control frame: a ping with a pong of its payload;
// a close frame with the same status (unless sio sent its own close
// first), after which the connection ends.
func (w *WebSocket) rawControl(opcode byte, p []byte) error {
	switch opcode {
	case opPing:
		_ = w.nc.writeControl(opPong, p, false)
		return nil
	case opPong:
		return nil
	}
	status := websocket.StatusNoStatusRcvd
	if len(p) == 1 {
		return ErrProtocol
	}
	if len(p) >= 2 {
		status = websocket.StatusCode(binary.BigEndian.Uint16(p))
		if !validCloseStatus(status) {
			return ErrProtocol
		}
		if !utf8.Valid(p[2:]) {
			return ErrInvalidUTF8
		}
	}
	if !w.nc.closing() {
		_ = w.nc.writeControl(opClose, closePayload(status), true)
	}
	w.nc.Close()
	return errPeerClosed
}

// validCloseStatus reports whether a close frame may carry status s
// (RFC 6455, section 7.4).
func validCloseStatus(s websocket.StatusCode) bool {
	switch {
	case s >= 1000 && s <= 1003, s >= 1007 && s <= 1011:
		return true
	case s >= 3000 && s <= 4999:
		return true
	}
	return false
}

// closePayload is the payload of a close frame with status s: none for
// "no status".
func closePayload(s websocket.StatusCode) []byte {
	if s == websocket.StatusNoStatusRcvd {
		return nil
	}
	return binary.BigEndian.AppendUint16(nil, uint16(s))
}

// rawClose starts the close handshake with status s: the close frame goes
// out, and the connection ends when the client's close frame comes back
// (whoever reads it: the reader, or drain) or after closeWait. It returns
// at once unless drain: the reader, closing for what the client sent, then
// waits for that frame itself, reading and dropping what comes before it.
func (w *WebSocket) rawClose(s websocket.StatusCode, drain bool) {
	if !w.nc.writeControl(opClose, closePayload(s), true) {
		return // closing already
	}
	if !drain {
		w.nc.closeAfter(closeWait)
		return
	}
	w.nc.setReadDeadline(time.Now().Add(closeWait))
	var buf []byte
	for {
		var err error
		if buf, _, err = w.rawRead(buf[:0], 1<<20); err != nil {
			break
		}
	}
	w.nc.Close()
}
