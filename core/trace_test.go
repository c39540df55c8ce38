package core

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestDebugTrace: at debug level every packet in and out is logged with
// the session id and, for messages, the namespace; above it, nothing.
func TestDebugTrace(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHarness(t, Config{Logger: log})
	h.srv.Of("/chat").OnConnection(func(s *Socket) {
		s.On("hi", func(e *Event) { _ = e.Ack("hello") })
	})
	cl := h.dial()
	cl.connect("/chat")
	cl.send(`42/chat,1["hi"]`)
	cl.out()
	sid := cl.c.SID()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.Contains(l, "msg=\"sio: packet\"") {
			lines = append(lines, l)
		}
	}
	want := []string{
		`dir=out data="0{\"sid\":\"` + sid,
		`dir=in nsp=/chat data=40/chat,`,
		`dir=out nsp=/chat data="40/chat,{\"sid\":`,
		`dir=in nsp=/chat data="42/chat,1[\"hi\"]"`,
		`dir=out nsp=/chat data="43/chat,1[\"hello\"]"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("trace:\n%s", strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(lines[i], "sid="+sid) || !strings.Contains(lines[i], w) {
			t.Fatalf("line %d: %s\nwant %s", i, lines[i], w)
		}
	}

	buf.Reset()
	quiet := newHarness(t, Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	qc := quiet.dial()
	qc.connect("/")
	if strings.Contains(buf.String(), "sio: packet") {
		t.Fatalf("traced above debug level: %s", buf.String())
	}
}
