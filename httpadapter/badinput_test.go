package httpadapter_test

// Bad input from raw clients. The expected answers are the reference
// server's, as measured in the project's notes on the wire behaviour. In
// every test a well-behaved client stays connected to the same server and
// must still get an emit+ack round trip through after the bad input.

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/httpadapter"
)

// badEnv is a server whose main namespace answers "echo", with a healthy
// client connected.
func badEnv(t *testing.T, opts httpadapter.Options) (*env, *recorder, *rawWS) {
	t.Helper()
	rec := newRecorder()
	e := newEnv(t, opts, func(srv *httpadapter.Server) { rec.attach(srv.Of("/")) })
	healthy := e.healthy()
	recv(t, rec.conns, "the healthy client's socket")
	return e, rec, healthy
}

// forgotten checks that a session closed by bad input is
// forgotten at once, as the reference forgets it: the next request with
// its sid gets 400, code 1.
func (e *env) forgotten(sid string) {
	e.t.Helper()
	assertError(e.t, e.get(sid), 400, 1, "Session ID unknown")
}

// heldPoll starts a poll on sid and gives the server time to hold it: a
// session closed by bad input is forgotten at once, as in the reference,
// so only a poll that was already pending gets the close packet. The
// poll's arrival at the server cannot be observed from the client, hence
// the wait.
func (e *env) heldPoll(sid string) <-chan httpAnswer {
	ch := e.pendingGet(sid)
	time.Sleep(100 * time.Millisecond)
	return ch
}

// A polling body that is not an Engine.IO payload: the POST is still
// answered "ok", and the session closes with "parse error".
func TestBadInputMalformedEnginePayload(t *testing.T) {
	for _, body := range []string{"zzz", "8", `42["echo"]` + "\x1ezzz"} {
		t.Run(strings.ReplaceAll(body, "\x1e", "|"), func(t *testing.T) {
			e, rec, healthy := badEnv(t, httpadapter.Options{})
			sid := e.pollConnect()
			pending := e.heldPoll(sid)
			e.post(sid, body)
			if a := recv(t, pending, "the pending poll"); a.status != 200 || a.body != "1" {
				t.Errorf("pending poll: %d %q, want 200 \"1\"", a.status, a.body)
			}
			if d := rec.disconnectOf(t, sid); d.reason != "parse error" {
				t.Errorf("disconnect reason %q, want \"parse error\"", d.reason)
			}
			e.forgotten(sid)
			healthy.echo()
		})
	}
}

// A Socket.IO packet that does not parse closes the connection; the
// reference's socket disconnect reason is then "forced close".
func TestBadInputMalformedSocketIOPacket(t *testing.T) {
	for _, pkt := range []string{"4zzz", `42{}`, `4-1`} {
		t.Run(pkt, func(t *testing.T) {
			e, rec, healthy := badEnv(t, httpadapter.Options{})
			ws := e.dialWS(true)
			ws.connect("/")
			ws.send(pkt)
			if got, err := ws.waitClosed(); len(got) != 0 {
				t.Errorf("frames before the close: %v (%v)", got, err)
			}
			d := rec.disconnectOf(t, ws.sid)
			healthy.echo()
			t.Run("reason", func(t *testing.T) {
				if d.reason != "forced close" {
					t.Errorf("disconnect reason %q, want the reference's \"forced close\"", d.reason)
				}
			})
		})
	}
}

// A binary packet announcing more attachments than allowed closes the
// connection.
func TestBadInputTooManyAttachments(t *testing.T) {
	e, rec, healthy := badEnv(t, httpadapter.Options{})
	ws := e.dialWS(true)
	ws.connect("/")
	ws.send(`4511-["a",{"_placeholder":true,"num":0}]`)
	if got, err := ws.waitClosed(); len(got) != 0 {
		t.Errorf("frames before the close: %v (%v)", got, err)
	}
	d := rec.disconnectOf(t, ws.sid)
	healthy.echo()
	t.Run("reason", func(t *testing.T) {
		if d.reason != "forced close" {
			t.Errorf("disconnect reason %q, want the reference's \"forced close\"", d.reason)
		}
	})
}

// A polling body over MaxHTTPBufferSize is answered 413 and dropped; the
// session stays open. A body of exactly the limit is accepted.
func TestBadInputBodyTooLarge(t *testing.T) {
	const limit = 1000
	e, rec, healthy := badEnv(t, httpadapter.Options{MaxHTTPBufferSize: limit})
	sid := e.pollConnect()
	pending := e.pendingGet(sid)
	// 421["echo","aaa..."] of exactly limit bytes.
	exact := `421["echo","` + strings.Repeat("a", limit-len(`421["echo",""]`)) + `"]`
	over := `422["echo","` + strings.Repeat("b", limit+1-len(`422["echo",""]`)) + `"]`

	a := e.do("POST", pollQuery(sid), over, map[string]string{"Content-Type": "text/plain;charset=UTF-8"})
	if a.status != http.StatusRequestEntityTooLarge || a.body != "" {
		t.Errorf("oversized POST: %d %q, want 413 with no body", a.status, a.body)
	}
	// The same without a Content-Length (chunked).
	req, _ := http.NewRequest("POST", e.url(pollQuery(sid)), io.MultiReader(strings.NewReader(over[:10]), strings.NewReader(over[10:])))
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized chunked POST: %d, want 413", res.StatusCode)
	}
	select {
	case a := <-pending:
		t.Fatalf("the pending poll was answered after the 413: %d %q", a.status, a.body)
	default:
	}

	e.post(sid, exact)
	want := `431["` + strings.Repeat("a", limit-len(`421["echo",""]`)) + `"]`
	if a := recv(t, pending, "the pending poll"); a.status != 200 || a.body != want {
		t.Errorf("poll after the accepted POST: %d %q, want the ack", a.status, short(a.body))
	}
	select {
	case d := <-rec.discs:
		t.Errorf("a socket disconnected: %+v", d)
	default:
	}
	healthy.echo()
}

// A WebSocket message over MaxHTTPBufferSize closes the connection with
// status 1009 and the session with "transport error".
func TestBadInputWebSocketMessageTooLarge(t *testing.T) {
	const limit = 1000
	e, rec, healthy := badEnv(t, httpadapter.Options{MaxHTTPBufferSize: limit})
	ws := e.dialWS(true)
	ws.connect("/")
	ws.send(`42["echo","` + strings.Repeat("x", limit) + `"]`)
	_, err := ws.waitClosed()
	if st := websocket.CloseStatus(err); st != websocket.StatusMessageTooBig {
		t.Errorf("close status %v (%v), want 1009", st, err)
	}
	if d := rec.disconnectOf(t, ws.sid); d.reason != "transport error" {
		t.Errorf("disconnect reason %q, want \"transport error\"", d.reason)
	}
	healthy.echo()
}

// A request for a session that does not exist.
func TestBadInputUnknownSID(t *testing.T) {
	e, _, healthy := badEnv(t, httpadapter.Options{})
	assertError(t, e.do("GET", pollQuery("nope"), "", nil), 400, 1, "Session ID unknown")
	assertError(t, e.do("POST", pollQuery("nope"), "40", nil), 400, 1, "Session ID unknown")
	// A WebSocket upgrade request gets the message as plain text.
	a := e.do("GET", "EIO=4&transport=websocket&sid=nope", "", map[string]string{
		"Connection":            "Upgrade",
		"Upgrade":               "websocket",
		"Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key":     "dGhlIHNhbXBsZSBub25jZQ==",
	})
	if a.status != 400 || a.body != "Session ID unknown" || a.header.Get("Content-Type") != "text/html" {
		t.Errorf("upgrade with an unknown sid: %d %q %q, want 400 text/html \"Session ID unknown\"", a.status, a.header.Get("Content-Type"), a.body)
	}
	healthy.echo()
}

// A session used with the other transport.
func TestBadInputWrongTransport(t *testing.T) {
	e, rec, healthy := badEnv(t, httpadapter.Options{})
	// A polling session asked for over a plain GET with transport=websocket.
	sid := e.pollConnect()
	assertError(t, e.do("GET", "EIO=4&transport=websocket&sid="+sid, "", nil), 400, 3, "Bad request")
	// A WebSocket session asked for over polling.
	ws := e.dialWS(true)
	ws.connect("/")
	assertError(t, e.get(ws.sid), 400, 3, "Bad request")
	assertError(t, e.do("POST", pollQuery(ws.sid), `42["x"]`, nil), 400, 3, "Bad request")
	// Both sessions carry on.
	ws.echo()
	e.post(sid, `427["echo","p"]`)
	if a := e.get(sid); a.status != 200 || a.body != `437["p"]` {
		t.Errorf("poll: %d %q, want the ack", a.status, a.body)
	}
	select {
	case d := <-rec.discs:
		t.Errorf("a socket disconnected: %+v", d)
	default:
	}
	healthy.echo()
}

// Two concurrent polls: the second is refused with 400, the first gets the
// close packet, and the session closes.
func TestBadInputConcurrentPolls(t *testing.T) {
	e, rec, healthy := badEnv(t, httpadapter.Options{})
	sid := e.pollConnect()
	first := e.pendingGet(sid)
	second := e.pendingGet(sid)
	// The session has nothing to send, so both requests overlap whichever
	// the server sees first: one is refused, the other released.
	a, b := recv(t, first, "a poll"), recv(t, second, "a poll")
	if a.status == 400 {
		a, b = b, a
	}
	if a.status != 200 || a.body != "1" {
		t.Errorf("the poll held: %d %q, want 200 \"1\"", a.status, a.body)
	}
	if b.status != 400 || b.body != "" {
		t.Errorf("the overlapping poll: %d %q, want 400 with no body", b.status, b.body)
	}
	if d := rec.disconnectOf(t, sid); d.reason != "transport error" {
		t.Errorf("disconnect reason %q, want \"transport error\"", d.reason)
	}
	e.forgotten(sid)
	healthy.echo()
}

// A CONNECT to a namespace that does not exist is refused; the session
// stays open and may connect elsewhere.
func TestBadInputInvalidNamespace(t *testing.T) {
	t.Run("websocket", func(t *testing.T) {
		e, _, healthy := badEnv(t, httpadapter.Options{})
		ws := e.dialWS(true)
		ws.send("40/nope,")
		if m := ws.nextText(); m != `44/nope,{"message":"Invalid namespace"}` {
			t.Errorf("answer %q", m)
		}
		ws.connect("/")
		ws.echo()
		healthy.echo()
	})
	t.Run("polling", func(t *testing.T) {
		e, _, healthy := badEnv(t, httpadapter.Options{})
		sid := e.pollOpen()
		e.post(sid, "40/nope,")
		if a := e.get(sid); a.status != 200 || a.body != `44/nope,{"message":"Invalid namespace"}` {
			t.Errorf("poll: %d %q", a.status, a.body)
		}
		e.post(sid, "40")
		if a := e.get(sid); a.status != 200 || !strings.HasPrefix(a.body, `40{"sid":"`) {
			t.Errorf("poll: %d %q, want the connect answer", a.status, a.body)
		}
		healthy.echo()
	})
}

// Only Engine.IO version 4 is served.
func TestBadInputUnsupportedVersion(t *testing.T) {
	e, _, healthy := badEnv(t, httpadapter.Options{})
	for _, q := range []string{"EIO=3&transport=polling", "EIO=5&transport=polling", "transport=polling"} {
		assertError(t, e.do("GET", q, "", nil), 400, 5, "Unsupported protocol version")
	}
	healthy.echo()
}

// A handshake must be a GET. The reference checks the method before the
// protocol version.
func TestBadInputBadHandshakeMethod(t *testing.T) {
	e, _, healthy := badEnv(t, httpadapter.Options{})
	assertError(t, e.do("POST", "EIO=4&transport=polling", "40", nil), 400, 2, "Bad handshake method")
	assertError(t, e.do("PUT", "EIO=4&transport=polling", "", nil), 400, 2, "Bad handshake method")
	assertError(t, e.do("POST", "EIO=3&transport=polling", "40", nil), 400, 2, "Bad handshake method")
	// Without CORS, OPTIONS is a bad handshake too.
	assertError(t, e.do("OPTIONS", "EIO=4&transport=polling", "", nil), 400, 2, "Bad handshake method")
	healthy.echo()
}

// A polling POST whose Content-Type is application/octet-stream is refused
// with 400 and closes the session ("transport error").
func TestBadInputOctetStreamPost(t *testing.T) {
	e, rec, healthy := badEnv(t, httpadapter.Options{})
	sid := e.pollConnect()
	a := e.do("POST", pollQuery(sid), `42["echo"]`, map[string]string{"Content-Type": "application/octet-stream"})
	if a.status != 400 || a.body != "" {
		t.Errorf("octet-stream POST: %d %q, want 400 with no body", a.status, a.body)
	}
	if d := rec.disconnectOf(t, sid); d.reason != "transport error" {
		t.Errorf("disconnect reason %q, want \"transport error\"", d.reason)
	}
	healthy.echo()
}

// CORS: the preflight and the headers of actual requests, with a fixed
// origin and credentials.
func TestBadInputCORS(t *testing.T) {
	e, _, healthy := badEnv(t, httpadapter.Options{CORS: &httpadapter.CORSOptions{
		Origins:     []string{"http://example.com"},
		Credentials: true,
	}})
	vary := func(h http.Header) string { return strings.Join(h.Values("Vary"), ", ") }
	for _, q := range []string{"EIO=4&transport=polling", "EIO=4&transport=polling&sid=nope"} {
		a := e.do("OPTIONS", q, "", map[string]string{
			"Origin":                         "http://example.com",
			"Access-Control-Request-Method":  "GET",
			"Access-Control-Request-Headers": "content-type,x-foo",
		})
		want := map[string]string{
			"Access-Control-Allow-Origin":      "http://example.com",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods":     "GET,HEAD,PUT,PATCH,POST,DELETE",
			"Access-Control-Allow-Headers":     "content-type,x-foo",
		}
		// The reference also sends Content-Length: 0, which net/http
		// never sends with a 204 (RFC 9110 forbids it); clients do not
		// mind.
		if a.status != http.StatusNoContent || a.body != "" {
			t.Errorf("preflight %s: %d %q, want 204", q, a.status, a.body)
		}
		for k, v := range want {
			if got := a.header.Get(k); got != v {
				t.Errorf("preflight %s: %s %q, want %q", q, k, got, v)
			}
		}
		if got := vary(a.header); got != "Origin, Access-Control-Request-Headers" {
			t.Errorf("preflight %s: Vary %q", q, got)
		}
	}
	// Another origin gets the configured one; no request headers, no
	// Allow-Headers.
	a := e.do("OPTIONS", "EIO=4&transport=polling", "", map[string]string{"Origin": "http://other.example", "Access-Control-Request-Method": "POST"})
	if a.status != 204 || a.header.Get("Access-Control-Allow-Origin") != "http://example.com" || a.header.Get("Access-Control-Allow-Headers") != "" {
		t.Errorf("preflight from another origin: %d %v", a.status, a.header)
	}
	// Actual requests: the handshake, a POST, and an error answer.
	check := func(what string, h http.Header) {
		t.Helper()
		if h.Get("Access-Control-Allow-Origin") != "http://example.com" || h.Get("Access-Control-Allow-Credentials") != "true" || vary(h) != "Origin" {
			t.Errorf("%s: CORS headers %v", what, h)
		}
	}
	hs := e.do("GET", "EIO=4&transport=polling", "", map[string]string{"Origin": "http://example.com"})
	check("handshake", hs.header)
	sid := hs.body[len(`0{"sid":"`):][:20]
	post := e.do("POST", pollQuery(sid), "40", map[string]string{"Origin": "http://example.com"})
	check("POST", post.header)
	if post.body != "ok" {
		t.Errorf("POST answer %q", post.body)
	}
	bad := e.do("GET", pollQuery("nope"), "", nil)
	check("error answer", bad.header)
	assertError(t, bad, 400, 1, "Session ID unknown")
	healthy.echo()
}

// An upgrade that never completes: the probe WebSocket is closed at the
// upgrade timeout (which comes long before the next heartbeat), and the
// session carries on over polling.
func TestBadInputUpgradeNeverCompleted(t *testing.T) {
	const upgradeTimeout = 200 * time.Millisecond
	e, rec, healthy := badEnv(t, httpadapter.Options{UpgradeTimeout: upgradeTimeout})
	sid := e.pollConnect()
	start := time.Now()
	ws := e.dialWSQuery("EIO=4&transport=websocket&sid="+sid, false)
	ws.send("2probe")
	if m := ws.next(); m.text != "3probe" {
		t.Fatalf("probe answer %q", m.text)
	}
	// No "5": the server gives up on the upgrade.
	got, _ := ws.waitClosed()
	if el := time.Since(start); el < upgradeTimeout-20*time.Millisecond || el > upgradeTimeout+time.Second {
		t.Errorf("probe closed after %v, want about %v", el, upgradeTimeout)
	}
	if len(got) != 0 {
		t.Errorf("frames on the probe after 3probe: %v", got)
	}
	// The polling session goes on.
	e.post(sid, `429["echo","still"]`)
	deadline := time.Now().Add(waitFor)
	for {
		a := e.get(sid)
		if a.status != 200 {
			t.Fatalf("poll: %d %q", a.status, a.body)
		}
		if a.body == `439["still"]` {
			break
		}
		if a.body != "6" || time.Now().After(deadline) {
			t.Fatalf("poll: %q, want the ack (or noops left from the probe)", a.body)
		}
	}
	select {
	case d := <-rec.discs:
		t.Errorf("a socket disconnected: %+v", d)
	default:
	}
	healthy.echo()
}

// An unknown transport, and a method other than GET and POST on a live
// session.
func TestBadInputOtherRequests(t *testing.T) {
	e, rec, healthy := badEnv(t, httpadapter.Options{})
	assertError(t, e.do("GET", "EIO=4&transport=foo", "", nil), 400, 0, "Transport unknown")
	assertError(t, e.do("GET", "EIO=4", "", nil), 400, 0, "Transport unknown")
	sid := e.pollConnect()
	if a := e.do("PUT", pollQuery(sid), "40", nil); a.status != 500 || a.body != "" {
		t.Errorf("PUT on a session: %d %q, want 500 with no body", a.status, a.body)
	}
	// The session is unaffected.
	e.post(sid, `425["echo","put"]`)
	if a := e.get(sid); a.status != 200 || a.body != `435["put"]` {
		t.Errorf("poll: %d %q, want the ack", a.status, a.body)
	}
	select {
	case d := <-rec.discs:
		t.Errorf("a socket disconnected: %+v", d)
	default:
	}
	healthy.echo()
}

// In Engine.IO v4 only the server pings: a ping from the client closes the
// session with "transport error".
func TestBadInputPingFromClient(t *testing.T) {
	t.Run("websocket", func(t *testing.T) {
		e, rec, healthy := badEnv(t, httpadapter.Options{})
		ws := e.dialWS(true)
		ws.connect("/")
		ws.send("2")
		if got, err := ws.waitClosed(); len(got) != 0 {
			t.Errorf("frames before the close: %v (%v)", got, err)
		}
		if d := rec.disconnectOf(t, ws.sid); d.reason != "transport error" {
			t.Errorf("disconnect reason %q, want \"transport error\"", d.reason)
		}
		healthy.echo()
	})
	t.Run("polling", func(t *testing.T) {
		e, rec, healthy := badEnv(t, httpadapter.Options{})
		sid := e.pollConnect()
		pending := e.heldPoll(sid)
		e.post(sid, "2")
		if a := recv(t, pending, "the pending poll"); a.status != 200 || a.body != "1" {
			t.Errorf("pending poll: %d %q, want 200 \"1\"", a.status, a.body)
		}
		if d := rec.disconnectOf(t, sid); d.reason != "transport error" {
			t.Errorf("disconnect reason %q, want \"transport error\"", d.reason)
		}
		healthy.echo()
	})
}

// A WebSocket frame header announcing 2^63-1 bytes is refused when it
// arrives: the connection closes with 1009, as the reference closes it, and
// the session with "transport error"; the heartbeat is not what ends it.
func TestBadInputHugeFrameHeader(t *testing.T) {
	e, rec, healthy := badEnv(t, httpadapter.Options{})
	u, _ := url.Parse(e.base)
	r := &diffRun{base: e.base, addr: u.Host, client: e.client}
	defer r.close()
	s := r.wsConnect()
	if s == nil {
		t.Fatal("the WebSocket failed")
	}
	if err := s.writeRaw([]byte{0x81, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if f, ok := s.next(waitFor); !ok || f.String() != "close 1009" {
		t.Fatalf("after the header: %v (came %v), want close 1009", f, ok)
	}
	if d := rec.disconnectOf(t, r.sid); d.reason != "transport error" {
		t.Errorf("disconnect reason %q, want \"transport error\"", d.reason)
	}
	healthy.echo()
}
