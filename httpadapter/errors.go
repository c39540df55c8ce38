package httpadapter

import (
	"net/http"
	"strconv"
)

// The Engine.IO error codes the reference answers with.
const (
	codeUnknownTransport   = 0
	codeUnknownSID         = 1
	codeBadHandshakeMethod = 2
	codeBadRequest         = 3
	codeForbidden          = 4
	codeUnsupportedVersion = 5
)

var codeMessages = [...]string{
	codeUnknownTransport:   "Transport unknown",
	codeUnknownSID:         "Session ID unknown",
	codeBadHandshakeMethod: "Bad handshake method",
	codeBadRequest:         "Bad request",
	codeForbidden:          "Forbidden",
	codeUnsupportedVersion: "Unsupported protocol version",
}

// writeError answers a refused request as the reference does: JSON with
// the code and message, 403 for code 4 and 400 otherwise; for a WebSocket
// upgrade request, 400 with the message as text and the connection closed.
func writeError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if msg == "" {
		msg = codeMessages[code]
	}
	h := w.Header()
	if isUpgrade(r) {
		h["Connection"] = []string{"close"}
		h["Content-Type"] = []string{"text/html"}
		h["Content-Length"] = []string{strconv.Itoa(len(msg))}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(msg))
		return
	}
	body := append(append(append([]byte(`{"code":`), strconv.Itoa(code)...), `,"message":`...), quoteJSON(msg)...)
	body = append(body, '}')
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	status := http.StatusBadRequest
	if code == codeForbidden {
		status = http.StatusForbidden
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeStatus answers with a status and an empty body.
func writeStatus(w http.ResponseWriter, status int) {
	w.Header()["Content-Length"] = []string{"0"}
	w.WriteHeader(status)
}

func quoteJSON(s string) []byte {
	out := []byte{'"'}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			out = append(out, '\\', byte(r))
		case r < 0x20:
			out = append(out, `\u00`...)
			out = append(out, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&15])
		default:
			out = append(out, string(r)...)
		}
	}
	return append(out, '"')
}

func isUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[name] {
		for len(v) > 0 {
			var part string
			if i := indexByte(v, ','); i >= 0 {
				part, v = v[:i], v[i+1:]
			} else {
				part, v = v, ""
			}
			if equalFoldTrim(part, token) {
				return true
			}
		}
	}
	return false
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func equalFoldTrim(s, t string) bool {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}
