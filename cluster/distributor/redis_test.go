package distributor_test

import (
	"testing"
	"time"
)

// try makes an acknowledged call that may fail (the ack's error, or
// none within timeout): it returns the answer and whether there was one.
func (c *caller) try(client, event string, timeout time.Duration, args ...any) (string, bool) {
	c.t.Helper()
	r := c.clients.ack(client, c.ask(client, event, timeout, args...))
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
	s := newSystem(t)
	b := s.chat()
	gw := s.gateway("/chat")
	waitBackends(t, gw, "chat", 1)
	first := s.connect("a", gw)

	s.redis.Kill()
	waitBackends(t, gw, "chat", 0)
	if r := s.gone.wait(t, first); r != "transport close" {
		t.Fatalf("backend: %s", r)
	}
	s.clients.expect("a", "disconnect")
	s.redis.Start()

	second := s.clients.expect("a", "connect").s("id")
	if second == first {
		t.Fatal("the same socket id after a reconnect")
	}
	if got := s.call("a", "echo", "back"); got != `"back"` {
		t.Fatalf("echo: %s", got)
	}
	if b.Stats().Reconnects == 0 || gw.g.Stats().Reconnects == 0 {
		t.Fatalf("reconnects: backend %+v, gateway %+v", b.Stats(), gw.g.Stats())
	}
}

// A quick restart, within three heartbeats: no one is taken as gone, and
// the socket is served again once both sides have subscribed again.
func TestRedisQuickRestart(t *testing.T) {
	s := newSystem(t)
	s.chat()
	gw := s.gateway("/chat")
	waitBackends(t, gw, "chat", 1)
	s.connect("a", gw)

	s.redis.Restart()
	deadline := time.Now().Add(waitFor)
	for {
		if got, ok := s.try("a", "echo", 500*time.Millisecond, "again"); ok {
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
