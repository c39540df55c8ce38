package distributor_test

import (
	"testing"
	"time"

	"github.com/sio-go/sio/transport/peertest"
)

// try makes an acknowledged call that may fail (the ack's error, or
// none within timeout): it returns the answer and whether there was one.
func (c *caller) try(client, event string, timeout time.Duration, args ...any) (string, bool) {
	c.t.Helper()
	c.seq++
	if args == nil {
		args = []any{}
	}
	c.clients.send(ev{"cmd": "emit", "c": client, "seq": c.seq, "event": event, "args": args, "ack": true, "timeout": timeout.Milliseconds()})
	r := c.clients.ack(client, c.seq)
	if r["err"] != nil {
		return r.s("err"), false
	}
	return jsonOf(r["args"].([]any)[0]), true
}

// Redis goes away for longer than three heartbeats and ConnectWait, then
// comes back empty: both tiers take the other as gone (the backend ends
// the socket; the gateway's socket waits for a replica to take it over,
// none comes, and the client's session closes), subscribe again by
// themselves, and the client's own reconnect, which waits at the gateway
// for the backend to be back, is served again.
func TestRedisOutage(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	b := chatBackend(t, redis.URL(), gone)
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat"}, nil)
	waitBackends(t, gw, "chat", 1)
	c := &caller{t: t, clients: clients}
	clients.connect("a", gw.URL(), "/chat", ev{"token": "secret"})
	first := clients.expect("a", "connect").s("id")

	redis.Kill()
	waitBackends(t, gw, "chat", 0)
	if r := gone.wait(t, first); r != "transport close" {
		t.Fatalf("backend: %s", r)
	}
	clients.expect("a", "disconnect")
	redis.Start()

	second := clients.expect("a", "connect").s("id")
	if second == first {
		t.Fatal("the same socket id after a reconnect")
	}
	if got := c.call("a", "echo", "back"); got != `"back"` {
		t.Fatalf("echo: %s", got)
	}
	if b.Stats().Reconnects == 0 || gw.g.Stats().Reconnects == 0 {
		t.Fatalf("reconnects: backend %+v, gateway %+v", b.Stats(), gw.g.Stats())
	}
}

// A quick restart, within three heartbeats: no one is taken as gone, and
// the socket is served again once both sides have subscribed again.
func TestRedisQuickRestart(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	chatBackend(t, redis.URL(), gone)
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat"}, nil)
	waitBackends(t, gw, "chat", 1)
	c := &caller{t: t, clients: clients}
	clients.connect("a", gw.URL(), "/chat", ev{"token": "secret"})
	clients.expect("a", "connect")

	redis.Restart()
	deadline := time.Now().Add(waitFor)
	for {
		if got, ok := c.try("a", "echo", 500*time.Millisecond, "again"); ok {
			if got != `"again"` {
				t.Fatalf("echo: %s", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the socket is not served again after Redis restarted")
		}
	}
}
