package httpadapter_test

// The session's lifecycle and limits held against what the official client
// does and what the reference server does.

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/sio-go/sio/httpadapter"
)

func jsonArg(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// With MaxHTTPBufferSize raised, a packet as large as a body or message
// may carry is taken: the Socket.IO limits follow the buffer size.
func TestPacketLimitFollowsBufferSize(t *testing.T) {
	for _, tr := range []string{"polling", "websocket"} {
		t.Run(tr, func(t *testing.T) {
			h := newHarness(t)
			e := h.newEnv(nil, httpadapter.Options{MaxHTTPBufferSize: 2e6}, diffSetup)
			const size = 1 << 20
			p := h.startScript(90*time.Second, "lifecycle.js", "big", e.base, jsonArg(t, map[string]any{
				"size": size, "client": map[string]any{"transports": []string{tr}},
			}))
			var c struct{ Transport string }
			p.expect("connect").Decode(t, &c)
			if c.Transport != tr {
				t.Fatalf("transport %q, want %q", c.Transport, tr)
			}
			var a struct{ Len int }
			p.expect("acked").Decode(t, &a)
			if a.Len != size {
				t.Fatalf("echoed %d bytes, want %d", a.Len, size)
			}
		})
	}
}

// A client that sends a text that is not UTF-8 cannot make the server relay
// it: over WebSocket the sender is closed with 1007, as by the reference;
// over polling the bad bytes become U+FFFD, as the reference's decoding of
// the body makes them. The official clients receiving the broadcast stay
// connected either way.
func TestInvalidUTF8NotRelayed(t *testing.T) {
	const receivers = 5
	for _, recvTr := range []string{"websocket", "polling"} {
		t.Run("receivers-on-"+recvTr, func(t *testing.T) {
			h := newHarness(t)
			e := h.newEnv(nil, httpadapter.Options{}, diffSetup)
			p := h.startScript(90*time.Second, "lifecycle.js", "receivers", e.base, jsonArg(t, map[string]any{
				"count": receivers, "client": map[string]any{"transports": []string{recvTr}},
			}))
			p.expect("ready")
			u, _ := url.Parse(e.base)
			r := &diffRun{base: e.base, addr: u.Host, client: e.client}
			defer r.close()

			// Over WebSocket: the sender is closed with 1007.
			s := r.wsConnect()
			if s == nil {
				t.Fatal("the sender's WebSocket failed")
			}
			_ = s.text("42[\"bcast\",\"A\xff\xfeZ\"]")
			f, ok := s.next(waitFor)
			if !ok || f.String() != "close 1007" {
				t.Fatalf("the sender got %v, want close 1007", f)
			}

			// Over polling: the bad bytes arrive as U+FFFD.
			r.connect()
			r.post(r.q("polling"), "42[\"bcast\",\"B\xff\xfeZ\xe2\x82\"]")
			expectBcast(t, p, receivers, "B\uFFFD\uFFFDZ\uFFFD")
			r.post(r.q("polling"), "42[\"bcast\",\"end\"]")
			expectBcast(t, p, receivers, "end")
			for _, ev := range p.backlog {
				t.Errorf("unexpected event: %s", ev.Raw)
			}
		})
	}
}

// expectBcast waits for n receivers to get "bcast" with the one argument
// want.
func expectBcast(t *testing.T, p *nodeProc, n int, want string) {
	t.Helper()
	for range n {
		var b struct {
			I    int
			Args []string
		}
		p.expect("bcast").Decode(t, &b)
		if len(b.Args) != 1 || b.Args[0] != want {
			t.Fatalf("receiver %d got %q, want %q", b.I, b.Args, want)
		}
	}
}

// A poll sent right after the upgrade packet gets 400 (the session is on
// WebSocket), never the noop of the probe, whichever of the two
// connections the server reads first.
func TestPollAfterUpgradePacket(t *testing.T) {
	h := newHarness(t)
	e := h.newEnv(nil, httpadapter.Options{}, diffSetup)
	u, _ := url.Parse(e.base)
	for i := range 30 {
		r := &diffRun{base: e.base, addr: u.Host, client: e.client}
		r.connect()
		s := r.ws(r.q("websocket"))
		if s == nil {
			t.Fatal("the probe was refused")
		}
		_ = s.text("2probe")
		if f, ok := s.next(waitFor); !ok || f.String() != `text "3probe"` {
			t.Fatalf("probe answer %v", f)
		}
		_ = s.text("5")
		a := rawHTTP(e.client, e.base, "GET", "/socket.io/?"+r.q("polling"), "", nil)
		if a.status != 400 || a.body != `{"code":3,"message":"Bad request"}` {
			t.Fatalf("round %d: the poll after the upgrade packet got %s, want 400 code 3", i, a)
		}
		r.close()
	}
}
