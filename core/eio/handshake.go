package eio

import (
	"encoding/json"
	"strconv"
	"time"
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
	dst = strconv.AppendQuote(dst, h.SID)
	dst = append(dst, `,"upgrades":[`...)
	for i, u := range h.Upgrades {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, u)
	}
	dst = append(dst, `],"pingInterval":`...)
	dst = strconv.AppendInt(dst, h.PingInterval.Milliseconds(), 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, h.PingTimeout.Milliseconds(), 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, int64(h.MaxPayload), 10)
	return append(dst, '}')
}

// ParseHandshake parses the data of an open packet.
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
		*w.PingInterval <= 0 || *w.PingTimeout <= 0 || w.MaxPayload < 0 {
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
