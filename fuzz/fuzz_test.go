package fuzz

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// Small limits make the fuzzer reach them.
var (
	eioLimits = eio.Limits{MaxPayload: 4096, MaxPacketsPerPayload: 16}
	sioLimits = sio.Limits{MaxAttachments: 4, MaxAttachmentBytes: 1024, MaxDepth: 8, MaxPacketBytes: 2048}
)

func isEIOError(err error) bool {
	var e *eio.Error
	return errors.As(err, &e)
}

func isSIOError(err error) bool {
	var e *sio.Error
	return errors.As(err, &e)
}

// FuzzEIODecodePayload: a polling body decodes into at most
// MaxPacketsPerPayload packets or fails with *eio.Error; what decodes
// re-encodes into a body that decodes to the same packets.
func FuzzEIODecodePayload(f *testing.F) {
	for _, s := range []string{
		"4hello\x1ebAQIDBA==", "0{\"sid\":\"abc\"}", "2\x1e3\x1e6", "4\x1e4", "", "\x1e", "b", "bAQ=", "7", "4€",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var pkts []eio.Packet
		err := eio.DecodePayload(body, eioLimits, func(p eio.Packet) error {
			pkts = append(pkts, eio.Packet{Type: p.Type, Binary: p.Binary, Data: bytes.Clone(p.Data)})
			return nil
		})
		if err != nil {
			if !isEIOError(err) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if len(pkts) > eioLimits.MaxPacketsPerPayload {
			t.Fatalf("%d packets past the limit", len(pkts))
		}
		again := eio.AppendPayload(nil, pkts)
		var back []eio.Packet
		if err := eio.DecodePayload(again, eio.Limits{MaxPayload: 1 << 20, MaxPacketsPerPayload: 1 << 10}, func(p eio.Packet) error {
			back = append(back, eio.Packet{Type: p.Type, Binary: p.Binary, Data: bytes.Clone(p.Data)})
			return nil
		}); err != nil {
			t.Fatalf("re-encoded payload %q does not decode: %v", again, err)
		}
		if !samePackets(pkts, back) {
			t.Fatalf("round trip: %v != %v", pkts, back)
		}
	})
}

func samePackets(a, b []eio.Packet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Binary != b[i].Binary || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

// FuzzEIODecodeFrame: a WebSocket frame decodes or fails typed, and
// re-encodes to itself.
func FuzzEIODecodeFrame(f *testing.F) {
	for _, s := range []string{"4hello", "2probe", "3probe", "5", "6", "1", "", "9", "\x01\x02"} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte{1, 2, 3, 4}, true)
	f.Fuzz(func(t *testing.T, frame []byte, binary bool) {
		p, err := eio.DecodeFrame(frame, binary)
		if err != nil {
			if !isEIOError(err) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		again, bin := eio.AppendFrame(nil, p)
		if bin != binary || !bytes.Equal(again, frame) {
			t.Fatalf("round trip: %q (%v) -> %q (%v)", frame, binary, again, bin)
		}
	})
}

// FuzzEIOHandshake: an open packet parses or fails typed; a parsed one
// survives a round trip.
func FuzzEIOHandshake(f *testing.F) {
	f.Add([]byte(`{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
	f.Add([]byte(`{"sid":"x","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":0}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		hs, err := eio.ParseHandshake(data)
		if err != nil {
			if !isEIOError(err) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		again, err := eio.ParseHandshake(eio.AppendHandshake(nil, &hs))
		if err != nil {
			t.Fatalf("re-encoded handshake does not parse: %v", err)
		}
		if again.SID != hs.SID || again.PingInterval != hs.PingInterval || again.PingTimeout != hs.PingTimeout ||
			again.MaxPayload != hs.MaxPayload || len(again.Upgrades) != len(hs.Upgrades) {
			t.Fatalf("round trip: %+v != %+v", hs, again)
		}
	})
}

// script cuts fuzz input into steps: each starts with an opcode byte and a
// length byte, followed by that many bytes.
func script(data []byte, step func(op byte, arg []byte)) {
	for steps := 0; len(data) >= 2 && steps < 256; steps++ {
		op, n := data[0], int(data[1])
		data = data[2:]
		if n > len(data) {
			n = len(data)
		}
		step(op, data[:n])
		data = data[n:]
	}
}

// FuzzEIOServerSession drives a server session with arbitrary polling
// bodies, frames, probes, sends and clock jumps. Invariants: no panic,
// errors typed, the queue within its limits, at most one close event and
// nothing after it, and no deadline in the past after HandleTimeout.
func FuzzEIOServerSession(f *testing.F) {
	f.Add([]byte("\x00\x013\x01\x0540abc\x02\x02\xff\xff\x03\x062probe\x03\x015"))
	f.Add([]byte("\x04\x05hello\x02\x02\x00\x10\x00\x02zz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := eio.Config{
			PingInterval: 100 * time.Millisecond, PingTimeout: 50 * time.Millisecond,
			UpgradeTimeout: 80 * time.Millisecond, AllowUpgrades: true, Limits: eioLimits,
			MaxQueuedPackets: 8, MaxQueuedBytes: 512,
		}
		now := time.Unix(0, 0)
		s := eio.NewServerSession("sid", cfg, eio.Polling, now)
		closed := 0
		typed := func(err error) {
			if err != nil && !isEIOError(err) && !errors.Is(err, eio.ErrUpgrade) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
		}
		script(data, func(op byte, arg []byte) {
			switch op % 8 {
			case 0:
				typed(s.HandlePayload(now, bytes.Clone(arg)))
			case 1:
				typed(s.HandleFrame(now, bytes.Clone(arg), len(arg)%2 == 1))
			case 2:
				var d time.Duration
				for _, b := range arg {
					d = d<<8 | time.Duration(b)
				}
				now = now.Add(d % (time.Second))
				s.HandleTimeout(now)
				if dl, ok := s.Deadline(); ok && dl.Before(now) {
					t.Fatalf("deadline %v before now %v after HandleTimeout", dl, now)
				}
			case 3:
				if s.Upgrading() {
					typed(s.HandleProbeFrame(now, bytes.Clone(arg), false))
				} else {
					typed(s.StartProbe(now))
				}
			case 4:
				err := s.Send(len(arg)%2 == 0, eio.Packet{Type: eio.Message, Data: bytes.Clone(arg)})
				if err != nil && !errors.Is(err, eio.ErrQueueFull) && !errors.Is(err, eio.ErrSlowConsumer) && !errors.Is(err, eio.ErrClosed) {
					t.Fatalf("send: %v", err)
				}
			case 5:
				s.TakeOutputLimit(nil, int(len(arg))*8+1)
			case 6:
				s.TakeOutput(nil)
				s.TakeProbeOutput(nil)
			case 7:
				s.HandleProbeClose(now)
			}
			if q := s.QueuedPackets(); q > cfg.MaxQueuedPackets+2 { // + a ping and a close
				t.Fatalf("queue of %d packets past its limit", q)
			}
			for {
				ev, ok := s.PollEvent()
				if !ok {
					break
				}
				if closed > 0 {
					t.Fatalf("event %v after the close", ev.Kind)
				}
				if ev.Kind == eio.EventClose {
					closed++
				}
			}
		})
	})
}

// FuzzSIODecoder feeds arbitrary text and binary frames to the Socket.IO
// decoder. Invariants: errors are *sio.Error; held attachment bytes stay
// within the limit; a decoded packet re-encodes to a frame that decodes to
// the same packet.
func FuzzSIODecoder(f *testing.F) {
	for _, s := range []string{
		"0", "0/admin,", `0{"token":"123"}`, `0/admin,{"token":"123"}`, `4{"message":"Not authorized"}`,
		"1/admin,", `2["foo"]`, `2/admin,["bar"]`, `2/admin,456["project:delete",123]`, `212["foo"]`,
		`3/admin,456[]`, `51-["baz",{"_placeholder":true,"num":0}]`, `61-/admin,456[{"_placeholder":true,"num":0}]`,
	} {
		f.Add([]byte("\x00" + string(rune(len(s))) + s + "\x01\x04\x01\x02\x03\x04"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := sio.NewDecoder(sioLimits)
		script(data, func(op byte, arg []byte) {
			var p *sio.Packet
			var err error
			if op%2 == 0 {
				p, err = d.DecodeText(bytes.Clone(arg))
			} else {
				p, err = d.DecodeBinary(bytes.Clone(arg))
			}
			if err != nil {
				if !isSIOError(err) {
					t.Fatalf("untyped error %T: %v", err, err)
				}
				return
			}
			if p == nil {
				return
			}
			if len(p.Attachments) > sioLimits.MaxAttachments {
				t.Fatalf("%d attachments past the limit", len(p.Attachments))
			}
			held := 0
			for _, a := range p.Attachments {
				held += len(a)
			}
			if held > sioLimits.MaxAttachmentBytes {
				t.Fatalf("%d attachment bytes past the limit", held)
			}
			d2 := sio.NewDecoder(sio.Limits{MaxAttachments: 100, MaxPacketBytes: 1 << 20, MaxAttachmentBytes: 1 << 20, MaxDepth: 100})
			q, err := d2.DecodeText(sio.AppendPacket(nil, p))
			for i := 0; err == nil && q == nil && i < len(p.Attachments); i++ {
				q, err = d2.DecodeBinary(bytes.Clone(p.Attachments[i]))
			}
			if err != nil || q == nil {
				t.Fatalf("re-encoded %+v does not decode: %v", p, err)
			}
			if q.Type != p.Type || q.Namespace != p.Namespace || q.ID != p.ID || q.HasID != p.HasID ||
				!bytes.Equal(q.Data, p.Data) || len(q.Attachments) != len(p.Attachments) {
				t.Fatalf("round trip: %+v != %+v", p, q)
			}
		})
	})
}

// FuzzSIOBind binds arbitrary decoded arguments into typed and untyped Go
// values: it succeeds or returns an error, never panics.
func FuzzSIOBind(f *testing.F) {
	f.Add([]byte(`["a",1,{"x":[1,2,{"_placeholder":true,"num":0}]},null,true]`), []byte{1, 2})
	f.Add([]byte(`[{"name":"n","data":{"_placeholder":true,"num":0},"n":1e400}]`), []byte{})
	f.Fuzz(func(t *testing.T, js []byte, att []byte) {
		p := &sio.Packet{Type: sio.BinaryEvent, Data: js, Attachments: [][]byte{att}}
		args, err := sio.SplitArgs(p)
		if err != nil {
			return
		}
		type T struct {
			Name string         `json:"name"`
			Data []byte         `json:"data"`
			N    float64        `json:"n"`
			M    map[string]any `json:"m"`
		}
		for _, a := range args {
			var v any
			_ = a.Bind(&v)
			var s T
			_ = a.Bind(&s)
			var b []byte
			_ = a.Bind(&b)
		}
	})
}

// FuzzCoreConn drives a whole server connection (namespaces, middlewares,
// handlers that ack and broadcast) with arbitrary frames and clock jumps.
// Invariants: no panic; the connection's queue within its limit; the server
// forgets the connection once it closes.
func FuzzCoreConn(f *testing.F) {
	f.Add([]byte("\x00\x0240\x00\x0b42[\"echo\",1]\x00\x0b421[\"echo\"]\x00\x0840/admin\x02\x02\xff\xff"))
	f.Add([]byte("\x00\x0240\x00\x2b451-[\"echo\",{\"_placeholder\":true,\"num\":0}]\x01\x02\x01\x02\x00\x0241"))
	f.Fuzz(func(t *testing.T, data []byte) {
		now := time.Unix(0, 0)
		srv := core.NewServer(core.Config{
			Engine: eio.Config{PingInterval: time.Second, PingTimeout: time.Second, Limits: eioLimits,
				MaxQueuedPackets: 32, MaxQueuedBytes: 4096},
			ConnectTimeout:       3 * time.Second,
			Limits:               sioLimits,
			MaxNamespacesPerConn: 3,
			Clock:                func() time.Time { return now },
		})
		srv.Of("/").OnConnection(func(s *core.Socket) {
			s.On("echo", func(e *core.Event) { _ = e.Ack(e.Args.Values()...) })
			s.On("join", func(e *core.Event) {
				var room string
				if e.Bind(&room) == nil && len(room) < 8 {
					s.Join(room)
				}
			})
			s.On("bcast", func(e *core.Event) { _ = s.Namespace().Emit("b", e.Args.Values()...) })
		})
		srv.Of("/admin").Use(func(s *core.Socket) error { return &core.ConnectError{Message: "no", Data: 1} })
		srv.OfFunc(func(name string, _ *core.Handshake) bool { return len(name) == 3 })
		c, err := srv.NewConn(eio.WebSocket, core.Handshake{}, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		script(data, func(op byte, arg []byte) {
			switch op % 4 {
			case 0:
				_ = c.HandleFrame(now, bytes.Clone(arg), false)
			case 1:
				_ = c.HandleFrame(now, bytes.Clone(arg), true)
			case 2:
				var d time.Duration
				for _, b := range arg {
					d = d<<8 | time.Duration(b)
				}
				now = now.Add(d % (5 * time.Second))
				c.HandleTimeout(now)
				srv.HandleTimeout(now)
			case 3:
				c.TakeOutput(nil)
			}
			var n int
			c.Session(func(s *eio.Session) { n = s.QueuedPackets() })
			if n > 32+2 {
				t.Fatalf("queue of %d packets past its limit", n)
			}
		})
		if c.Closed() {
			c.HandleTimeout(now)
			if srv.Conn(c.SID()) != nil {
				t.Fatal("closed connection still known to the server")
			}
		}
	})
}
