package eio

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Handshake is the data of the open packet.
type Handshake struct {
	SID          string
	Upgrades     []string
	PingInterval time.Duration
	PingTimeout  time.Duration
	MaxPayload   int
}

// AppendHandshake appends the JSON of h in the reference's field order:
// sid, upgrades, pingInterval, pingTimeout, maxPayload.
func AppendHandshake(dst []byte, h *Handshake) []byte {
	dst = append(dst, `{"sid":`...)
	dst = appendJSONString(dst, h.SID)
	dst = append(dst, `,"upgrades":[`...)
	for i, u := range h.Upgrades {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, u)
	}
	dst = append(dst, `],"pingInterval":`...)
	dst = strconv.AppendInt(dst, h.PingInterval.Milliseconds(), 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, h.PingTimeout.Milliseconds(), 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, int64(h.MaxPayload), 10)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// maxHandshakeMillis bounds pingInterval and pingTimeout so that their sum,
// as a time.Duration, cannot overflow.
const maxHandshakeMillis = math.MaxInt64 / int64(time.Millisecond) / 2

// ParseHandshake parses the data of an open packet. The sid must be a
// non-empty string, pingInterval and pingTimeout positive numbers of
// milliseconds (at most maxHandshakeMillis), maxPayload not negative.
func ParseHandshake(data []byte) (Handshake, error) {
	var w struct {
		SID          *string  `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval *int64   `json:"pingInterval"`
		PingTimeout  *int64   `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return Handshake{}, &Error{Code: ErrBadHandshake, Detail: err.Error()}
	}
	if w.SID == nil || *w.SID == "" || w.PingInterval == nil || w.PingTimeout == nil ||
		*w.PingInterval <= 0 || *w.PingTimeout <= 0 || w.MaxPayload < 0 ||
		*w.PingInterval > maxHandshakeMillis || *w.PingTimeout > maxHandshakeMillis {
		return Handshake{}, &Error{Code: ErrBadHandshake, Detail: "missing or invalid field"}
	}
	return Handshake{
		SID:          *w.SID,
		Upgrades:     w.Upgrades,
		PingInterval: time.Duration(*w.PingInterval) * time.Millisecond,
		PingTimeout:  time.Duration(*w.PingTimeout) * time.Millisecond,
		MaxPayload:   w.MaxPayload,
	}, nil
}
