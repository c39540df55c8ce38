package eio

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"pgregory.net/rapid"
)

const specHandshake = `{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`

// t0 is the fake clock's origin in every session test.
var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestSpec_Handshake(t *testing.T) {
	spec := Handshake{
		SID:          "lv_VI97HAXpY6yYWAAAC",
		Upgrades:     []string{"websocket"},
		PingInterval: 25 * time.Second,
		PingTimeout:  20 * time.Second,
		MaxPayload:   1000000,
	}
	tests := []struct {
		name      string
		transport Transport
		cfg       Config
		polling   string // the first polling body, or "" on WebSocket
		frame     string // the first WebSocket frame, or "" on polling
	}{
		{"polling with upgrades", Polling, Config{AllowUpgrades: true}, "0" + specHandshake, ""},
		{"polling without upgrades", Polling, Config{},
			`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`, ""},
		{"websocket never advertises upgrades", WebSocket, Config{AllowUpgrades: true}, "",
			`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`},
		{"configured values", WebSocket, Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, Limits: Limits{MaxPayload: 5000}}, "",
			`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":5000}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServerSession(spec.SID, tt.cfg, tt.transport, t0)
			out := srv.TakeOutput(nil)
			if len(out) != 1 || out[0].Type != Open {
				t.Fatalf("first output %+v, want one open packet", out)
			}
			var wire string
			if tt.transport == Polling {
				wire = string(AppendPayload(nil, out))
				if wire != tt.polling {
					t.Fatalf("polling body %q, want %q", wire, tt.polling)
				}
			} else {
				f, binary := AppendFrame(nil, out[0])
				wire = string(f)
				if binary || wire != tt.frame {
					t.Fatalf("frame %q binary=%v, want %q", f, binary, tt.frame)
				}
			}

			cli := NewClientSession(Config{}, tt.transport, t0)
			if cli.State() != StateOpening || cli.SID() != "" {
				t.Fatalf("new client: state %v sid %q", cli.State(), cli.SID())
			}
			var err error
			if tt.transport == Polling {
				err = cli.HandlePayload(at(time.Millisecond), []byte(wire))
			} else {
				err = cli.HandleFrame(at(time.Millisecond), []byte(wire), false)
			}
			if err != nil {
				t.Fatal(err)
			}
			if cli.State() != StateOpen || cli.SID() != spec.SID {
				t.Fatalf("client after open: state %v sid %q", cli.State(), cli.SID())
			}
			if ev, ok := cli.PollEvent(); !ok || ev.Kind != EventOpen {
				t.Fatalf("client event %+v, want open", ev)
			}
			hs := cli.Handshake()
			want := srv.Handshake()
			if hs.SID != want.SID || hs.PingInterval != want.PingInterval || hs.PingTimeout != want.PingTimeout ||
				hs.MaxPayload != want.MaxPayload || strings.Join(hs.Upgrades, ",") != strings.Join(want.Upgrades, ",") {
				t.Fatalf("client handshake %+v, server's %+v", hs, want)
			}
		})
	}

	t.Run("spec example encodes byte for byte", func(t *testing.T) {
		if got := string(AppendHandshake(nil, &spec)); got != specHandshake {
			t.Fatalf("AppendHandshake = %s", got)
		}
	})
	t.Run("spec example as printed in the spec parses", func(t *testing.T) {
		pretty := "{\n  \"sid\": \"lv_VI97HAXpY6yYWAAAC\",\n  \"upgrades\": [\"websocket\"],\n  \"pingInterval\": 25000,\n  \"pingTimeout\": 20000,\n  \"maxPayload\": 1000000\n}"
		hs, err := ParseHandshake([]byte(pretty))
		if err != nil {
			t.Fatal(err)
		}
		if hs.SID != spec.SID || hs.PingInterval != spec.PingInterval || hs.PingTimeout != spec.PingTimeout ||
			hs.MaxPayload != spec.MaxPayload || len(hs.Upgrades) != 1 || hs.Upgrades[0] != "websocket" {
			t.Fatalf("parsed %+v", hs)
		}
	})
}

func TestParseHandshake_Bad(t *testing.T) {
	tests := []struct{ name, json string }{
		{"empty", ``},
		{"not json", `hello`},
		{"null", `null`},
		{"array", `[]`},
		{"truncated", `{"sid":"a","pingInterval":1`},
		{"no sid", `{"upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`},
		{"empty sid", `{"sid":"","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`},
		{"sid not a string", `{"sid":5,"upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`},
		{"no pingInterval", `{"sid":"a","upgrades":[],"pingTimeout":1,"maxPayload":1}`},
		{"no pingTimeout", `{"sid":"a","upgrades":[],"pingInterval":1,"maxPayload":1}`},
		{"zero pingInterval", `{"sid":"a","upgrades":[],"pingInterval":0,"pingTimeout":1,"maxPayload":1}`},
		{"negative pingTimeout", `{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":-1,"maxPayload":1}`},
		{"fractional pingInterval", `{"sid":"a","upgrades":[],"pingInterval":1.5,"pingTimeout":1,"maxPayload":1}`},
		{"pingInterval overflows a Duration", `{"sid":"a","upgrades":[],"pingInterval":9223372036854775,"pingTimeout":1,"maxPayload":1}`},
		{"pingTimeout overflows a Duration", `{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":9223372036854775807,"maxPayload":1}`},
		{"negative maxPayload", `{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":-1}`},
		{"upgrades not strings", `{"sid":"a","upgrades":[1],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHandshake([]byte(tt.json))
			asError(t, err, ErrBadHandshake)

			// The same open packet ends a client session with a parse error.
			cli := NewClientSession(Config{}, WebSocket, t0)
			err = cli.HandleFrame(t0, []byte("0"+tt.json), false)
			asError(t, err, ErrBadHandshake)
			if cli.State() != StateClosed || cli.Reason() != ReasonParseError {
				t.Fatalf("client state %v reason %v", cli.State(), cli.Reason())
			}
			var e *Error
			if !errors.As(cli.Cause(), &e) {
				t.Fatalf("cause %v", cli.Cause())
			}
			ev, ok := cli.PollEvent()
			if !ok || ev.Kind != EventClose || ev.Reason != ReasonParseError || ev.Err != err {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

func TestParseHandshake_Lenient(t *testing.T) {
	// Unknown fields and a missing upgrades list are accepted.
	hs, err := ParseHandshake([]byte(`{"sid":"a","pingInterval":1,"pingTimeout":2,"maxPayload":0,"extra":{"x":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if hs.SID != "a" || hs.PingInterval != time.Millisecond || hs.PingTimeout != 2*time.Millisecond || len(hs.Upgrades) != 0 {
		t.Fatalf("parsed %+v", hs)
	}
}

// AppendHandshake writes JSON whatever the strings hold.
func TestProp_HandshakeRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := Handshake{
			SID:          rapid.StringN(1, 30, -1).Draw(t, "sid"),
			Upgrades:     rapid.SliceOfN(rapid.String(), 0, 3).Draw(t, "upgrades"),
			PingInterval: time.Duration(rapid.Int64Range(1, 1<<40).Draw(t, "interval")) * time.Millisecond,
			PingTimeout:  time.Duration(rapid.Int64Range(1, 1<<40).Draw(t, "timeout")) * time.Millisecond,
			MaxPayload:   rapid.IntRange(0, 1<<30).Draw(t, "max"),
		}
		if rapid.Bool().Draw(t, "raw bytes") {
			h.SID = string(rapid.SliceOfN(rapid.Byte(), 1, 30).Draw(t, "sid bytes"))
		}
		data := AppendHandshake(nil, &h)
		if !json.Valid(data) {
			t.Fatalf("not JSON: %s", data)
		}
		// The standard decoder is the reference for strings.
		var ref struct {
			SID      string   `json:"sid"`
			Upgrades []string `json:"upgrades"`
		}
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatal(err)
		}
		got, err := ParseHandshake(data)
		if err != nil {
			t.Fatalf("ParseHandshake(%s): %v", data, err)
		}
		if got.SID != ref.SID || strings.Join(got.Upgrades, "\x00") != strings.Join(ref.Upgrades, "\x00") ||
			got.PingInterval != h.PingInterval || got.PingTimeout != h.PingTimeout || got.MaxPayload != h.MaxPayload {
			t.Fatalf("round trip %+v -> %s -> %+v", h, data, got)
		}
		if utf8.ValidString(h.SID) && h.SID != got.SID {
			t.Fatalf("sid %q came back as %q", h.SID, got.SID)
		}
	})
}
