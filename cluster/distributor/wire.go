package distributor

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
	"github.com/vmihailenco/msgpack/v5"
)

// The wire format: every message on Redis is one MessagePack envelope. A
// node's own channel (prefix#n#<node id>) carries items in order; the
// heartbeat channel (prefix#hb) carries heartbeats, hellos and goodbyes.

// Envelope kinds.
const (
	kindItems     uint8 = 1 // Items for the receiving node
	kindHeartbeat uint8 = 2 // a node is alive (Role, Service)
	kindHello     uint8 = 3 // a node started: everyone answers with a heartbeat
	kindBye       uint8 = 4 // a node is leaving
)

// Roles of a node.
const (
	roleGateway uint8 = 1
	roleBackend uint8 = 2
)

// Item operations. Gateway to backend: opConnect, opPacket, opClose.
// Backend to gateway: opFrames, opCloseSession, opUnknown.
const (
	opConnect      uint8 = 1 // a client connects a namespace (with its handshake)
	opPacket       uint8 = 2 // a packet from the client
	opClose        uint8 = 3 // the client's session ended
	opFrames       uint8 = 4 // frames for clients of the gateway
	opCloseSession uint8 = 5 // close a client's session
	opUnknown      uint8 = 6 // a packet came for a session the backend does not have
)

type envelope struct {
	Kind    uint8  `msgpack:"k"`
	From    string `msgpack:"f"`
	Role    uint8  `msgpack:"r,omitempty"`
	Service string `msgpack:"s,omitempty"`
	Items   []item `msgpack:"i,omitempty"`
}

// item is one operation. Fields by op:
//
//	opConnect:      SID, Route, Nsp, Data (auth), HS, Transport, and for
//	                a handover Handover (the socket's id, which it keeps)
//	opPacket:       SID, Route, Nsp, Type, ID, HasID, Data, Att
//	opClose:        SID, Reason
//	opFrames:       Targets, Frames, Volatile
//	opCloseSession: SID, Reason
//	opUnknown:      SID, Route (the packet's)
type item struct {
	Op        uint8          `msgpack:"o"`
	SID       string         `msgpack:"s,omitempty"`
	Route     uint64         `msgpack:"r,omitempty"`
	Nsp       string         `msgpack:"n,omitempty"`
	Type      uint8          `msgpack:"t,omitempty"`
	ID        int64          `msgpack:"i,omitempty"`
	HasID     bool           `msgpack:"h,omitempty"`
	Data      []byte         `msgpack:"d,omitempty"`
	Att       [][]byte       `msgpack:"a,omitempty"`
	HS        *wireHandshake `msgpack:"hs,omitempty"`
	Transport uint8          `msgpack:"tr,omitempty"`
	Targets   []target       `msgpack:"to,omitempty"`
	Frames    []frame        `msgpack:"fr,omitempty"`
	Volatile  bool           `msgpack:"v,omitempty"`
	Reason    uint8          `msgpack:"re,omitempty"`
	Handover  string         `msgpack:"ho,omitempty"`
}

// target is one client socket of a gateway: its session and route.
type target struct {
	SID   string `msgpack:"s"`
	Route uint64 `msgpack:"r"`
}

type frame struct {
	Binary bool   `msgpack:"b,omitempty"`
	Data   []byte `msgpack:"d"`
}

type wireHandshake struct {
	Header   map[string][]string `msgpack:"h,omitempty"`
	RawQuery string              `msgpack:"q,omitempty"`
	Address  string              `msgpack:"a,omitempty"`
	Secure   bool                `msgpack:"s,omitempty"`
	XDomain  bool                `msgpack:"x,omitempty"`
	URL      string              `msgpack:"u,omitempty"`
	Time     int64               `msgpack:"t,omitempty"`
}

func toWireHandshake(h *core.Handshake) *wireHandshake {
	w := &wireHandshake{
		Header:   h.Header.Map(),
		RawQuery: h.RawQuery,
		Address:  h.Address,
		Secure:   h.Secure,
		XDomain:  h.XDomain,
		URL:      h.URL,
	}
	if !h.Time.IsZero() {
		w.Time = h.Time.UnixNano()
	}
	return w
}

func (w *wireHandshake) handshake(auth []byte) core.Handshake {
	h := core.Handshake{}
	if w != nil {
		h = core.Handshake{
			Header:   core.MakeHeader(w.Header),
			RawQuery: w.RawQuery,
			Address:  w.Address,
			Secure:   w.Secure,
			XDomain:  w.XDomain,
			URL:      w.URL,
		}
		if w.Time != 0 {
			h.Time = time.Unix(0, w.Time)
		}
	}
	h.Auth.JSON = auth
	return h
}

func toFrames(ps []eio.Packet) []frame {
	out := make([]frame, len(ps))
	for i, p := range ps {
		out[i] = frame{Binary: p.Binary, Data: p.Data}
	}
	return out
}

func fromFrames(fs []frame) []eio.Packet {
	out := make([]eio.Packet, len(fs))
	for i, f := range fs {
		out[i] = eio.Packet{Type: eio.Message, Binary: f.Binary, Data: f.Data}
	}
	return out
}

func encode(e *envelope) ([]byte, error) { return msgpack.Marshal(e) }

// errInvalid marks a message that does not decode or breaks a limit.
var errInvalid = errors.New("distributor: invalid message")

func decode(b []byte, lim *Limits) (*envelope, error) {
	var e envelope
	if err := msgpack.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalid, err)
	}
	if len(e.Items) > lim.MaxItems {
		return nil, fmt.Errorf("%w: %d items", errInvalid, len(e.Items))
	}
	for i := range e.Items {
		it := &e.Items[i]
		if len(it.Targets) > lim.MaxTargets || len(it.Frames) > lim.MaxFrames || len(it.Att) > lim.MaxFrames {
			return nil, fmt.Errorf("%w: item too large", errInvalid)
		}
	}
	return &e, nil
}

// nspOf returns the namespace of a Socket.IO text frame: "/" unless the
// type (and a binary packet's attachment count) is followed by one.
func nspOf(d []byte) string {
	i := 1
	if len(d) > 0 && (d[0] == '5' || d[0] == '6') {
		for i < len(d) && d[i] != '-' {
			i++
		}
		i++
	}
	if i >= len(d) || d[i] != '/' {
		return "/"
	}
	for j := i; j < len(d); j++ {
		if d[j] == ',' {
			return string(d[i:j])
		}
	}
	return string(d[i:])
}

// head is what a gateway reads of a Socket.IO text frame: its type and
// its ack id, if it has one, at idAt:idEnd.
type head struct {
	t           sio.PacketType
	id          int64
	hasID       bool
	idAt, idEnd int
}

// frameHead reads the head of a Socket.IO text frame; ok is false for a
// frame that is not a text packet.
func frameHead(f *eio.Packet) (h head, ok bool) {
	d := f.Data
	if f.Binary || len(d) == 0 || d[0] < '0' || d[0] > '6' {
		return h, false
	}
	h.t = sio.PacketType(d[0] - '0')
	i := 1
	if h.t == sio.BinaryEvent || h.t == sio.BinaryAck {
		for i < len(d) && d[i] != '-' {
			i++
		}
		i++
	}
	if i < len(d) && d[i] == '/' {
		for i < len(d) && d[i] != ',' {
			i++
		}
		i++
	}
	h.idAt = min(i, len(d))
	for ; i < len(d) && d[i] >= '0' && d[i] <= '9' && h.id <= sio.MaxAckID/10; i++ {
		h.id, h.hasID = h.id*10+int64(d[i]-'0'), true
	}
	h.idEnd = max(i, h.idAt)
	return h, true
}

// withAckID returns frames with the ack id of the first (read as h) made
// id; the others are shared.
func withAckID(frames []eio.Packet, h head, id int64) []eio.Packet {
	out := append([]eio.Packet(nil), frames...)
	d := frames[0].Data
	nd := make([]byte, 0, len(d)+16)
	nd = append(nd, d[:h.idAt]...)
	nd = strconv.AppendInt(nd, id, 10)
	nd = append(nd, d[h.idEnd:]...)
	out[0].Data = nd
	return out
}

// connectSID is the socket id of a CONNECT answer's frame.
func connectSID(d []byte) string {
	for i, b := range d {
		if b == '{' {
			var a struct {
				SID string `json:"sid"`
			}
			_ = json.Unmarshal(d[i:], &a)
			return a.SID
		}
	}
	return ""
}
