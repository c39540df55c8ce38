package httpadapter_test

import (
	"strings"
	"time"
)

// diffSequences are the sequences of the differential test.
func diffSequences() []diffSeq {
	hs := func(query string) func(r *diffRun) {
		return func(r *diffRun) { r.get(query) }
	}
	pollBody := func(body string) func(r *diffRun) {
		return func(r *diffRun) {
			r.connect()
			r.post(r.q("polling"), body)
			r.get(r.q("polling"))
		}
	}
	// afterClose: what a session that has just closed answers.
	afterClose := func(r *diffRun) {
		r.await(r.start("GET", r.q("polling"), ""), shortWait)
		r.post(r.q("polling"), "40")
		r.ws(r.q("websocket"))
	}
	return []diffSeq{
		// Handshakes.
		{name: "handshake/polling", run: hs("EIO=4&transport=polling")},
		{name: "handshake/websocket", run: func(r *diffRun) { r.wsOpen() }},
		{name: "handshake/no-EIO", run: hs("transport=polling")},
		{name: "handshake/EIO=3", run: hs("EIO=3&transport=polling")},
		{name: "handshake/EIO=5", run: hs("EIO=5&transport=polling")},
		{name: "handshake/no-transport", run: hs("EIO=4")},
		{name: "handshake/unknown-transport", run: hs("EIO=4&transport=flash")},
		{name: "handshake/webtransport", run: hs("EIO=4&transport=webtransport")},
		{name: "handshake/POST", run: func(r *diffRun) { r.post("EIO=4&transport=polling", "40") }},
		{name: "handshake/PUT", run: func(r *diffRun) { r.req("PUT", "EIO=4&transport=polling", "", nil) }},
		{name: "handshake/websocket-without-upgrade", run: hs("EIO=4&transport=websocket")},
		{name: "handshake/then-connect", run: func(r *diffRun) { r.connect() }},

		// Polling bodies.
		{name: "body/batch", run: func(r *diffRun) {
			r.connect()
			r.post(r.q("polling"), "421[\"echo\",\"a\"]\x1e422[\"echo\",\"b\"]\x1e423[\"echo\",\"c\"]")
			r.collect(3)
		}},
		{name: "body/binary", run: pollBody("451-1[\"echo\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID")},
		{name: "body/garbage", run: func(r *diffRun) { pollBody("zzz")(r); afterClose(r) }},
		{name: "body/unknown-type", run: func(r *diffRun) { pollBody("8")(r); afterClose(r) }},
		{name: "body/empty", run: func(r *diffRun) { pollBody("")(r); afterClose(r) }},
		{name: "body/bad-base64", run: func(r *diffRun) { pollBody("b!!!")(r); afterClose(r) },
			differs: "a base64 packet that does not decode is a parse error in sio, which forgets the session; " +
				"the reference's decoder skips what is not base64 and hands Socket.IO an empty binary packet, " +
				"which then closes the connection (noop and close on the next poll)",
			sio: []string{
				`handshake -> 200 text/plain; charset=UTF-8 "0{\"sid\":\"<sid0>\",\"upgrades\":[\"websocket\"],\"pingInterval\":10000,\"pingTimeout\":5000,\"maxPayload\":1000}"`,
				`POST EIO=4&transport=polling&sid=<sid0> "40" -> 200 text/html "ok"`,
				`GET EIO=4&transport=polling&sid=<sid0> "" -> 200 text/plain; charset=UTF-8 "40{\"sid\":\"<id>\"}"`,
				`POST EIO=4&transport=polling&sid=<sid0> "b!!!" -> 200 text/html "ok"`,
				`GET EIO=4&transport=polling&sid=<sid0> "" -> 400 application/json "{\"code\":1,\"message\":\"Session ID unknown\"}"`,
				`GET EIO=4&transport=polling&sid=<sid0> "" -> 400 application/json "{\"code\":1,\"message\":\"Session ID unknown\"}"`,
				`POST EIO=4&transport=polling&sid=<sid0> "40" -> 400 application/json "{\"code\":1,\"message\":\"Session ID unknown\"}"`,
				`WS EIO=4&transport=websocket&sid=<sid0> -> 400 "Session ID unknown"`,
			}},
		{name: "body/second-packet-bad", run: func(r *diffRun) { pollBody("421[\"echo\",1]\x1ezzz")(r); afterClose(r) }},
		{name: "body/over-the-limit", run: func(r *diffRun) {
			r.connect()
			r.post(r.q("polling"), "421[\"echo\",\""+strings.Repeat("x", 1000)+"\"]")
			r.post(r.q("polling"), "422[\"echo\",\"small\"]")
			r.get(r.q("polling"))
		}},
		{name: "body/ping-from-client", run: func(r *diffRun) { pollBody("2")(r); afterClose(r) }},
		{name: "body/close-from-client", run: func(r *diffRun) {
			r.connect()
			p := r.start("GET", r.q("polling"), "")
			time.Sleep(50 * time.Millisecond) // let the poll arrive first
			r.post(r.q("polling"), "1")
			r.await(p, waitFor)
			afterClose(r)
		}},
		{name: "body/octet-stream", run: func(r *diffRun) {
			r.connect()
			r.req("POST", r.q("polling"), "40", map[string]string{"Content-Type": "application/octet-stream"})
			afterClose(r)
		}},
		{name: "body/noop-and-upgrade-packets", run: pollBody("6\x1e5\x1e421[\"echo\",1]")},
		{name: "body/event-before-connect", run: func(r *diffRun) {
			r.handshake()
			r.post(r.q("polling"), "42[\"echo\"]")
			r.get(r.q("polling"))
			afterClose(r)
		}},
		{name: "body/invalid-utf8", run: pollBody("421[\"echo\",\"A\xff\xfeZ\xe2\x82\"]")},

		// Overlapping requests.
		{name: "overlap/two-GETs", run: func(r *diffRun) {
			r.connect()
			p := r.start("GET", r.q("polling"), "")
			time.Sleep(50 * time.Millisecond)
			r.get(r.q("polling"))
			r.await(p, waitFor)
			afterClose(r)
		}},
		{name: "overlap/two-POSTs", run: func(r *diffRun) {
			r.connect()
			p, err := startSlowPost(r.addr, "/socket.io/?"+r.q("polling"), "421[\"echo\",")
			if err != nil {
				r.log("slow POST: error")
				return
			}
			time.Sleep(50 * time.Millisecond) // let the first body start
			r.post(r.q("polling"), "422[\"echo\",2]")
			r.log("slow POST -> %s", r.answer(p.finish("1]")))
			afterClose(r)
		}},
		{name: "overlap/GET-answered-by-POST", run: func(r *diffRun) {
			r.handshake()
			p := r.start("GET", r.q("polling"), "")
			time.Sleep(50 * time.Millisecond)
			r.post(r.q("polling"), "40")
			r.await(p, waitFor)
		}},

		// The upgrade.
		{name: "upgrade/ok", run: func(r *diffRun) {
			s := r.upgrade()
			r.send(s, "421[\"echo\",\"over ws\"]")
			r.frame(s, waitFor)
		}},
		{name: "upgrade/pending-GET-released", run: func(r *diffRun) {
			r.connect()
			p := r.start("GET", r.q("polling"), "")
			time.Sleep(50 * time.Millisecond)
			s := r.ws(r.q("websocket"))
			r.send(s, "2probe")
			r.frame(s, waitFor)
			r.await(p, waitFor)
			r.send(s, "5")
			r.send(s, "421[\"echo\",1]")
			r.frame(s, waitFor)
		}},
		{name: "upgrade/GET-after-upgrade", run: func(r *diffRun) {
			s := r.upgrade()
			r.send(s, "421[\"echo\",1]")
			r.frame(s, waitFor)
			r.get(r.q("polling"))
			r.post(r.q("polling"), "421[\"echo\",1]")
		}},
		{name: "upgrade/GET-racing-upgrade-packet", run: func(r *diffRun) {
			r.connect()
			s := r.ws(r.q("websocket"))
			r.send(s, "2probe")
			r.frame(s, waitFor)
			r.send(s, "5")
			r.get(r.q("polling"))
		}},
		{name: "upgrade/second-websocket-while-probing", run: func(r *diffRun) {
			r.connect()
			s := r.ws(r.q("websocket"))
			r.send(s, "2probe")
			r.frame(s, waitFor)
			s2 := r.ws(r.q("websocket"))
			r.untilEOF(s2)
			r.send(s, "5")
			r.send(s, "421[\"echo\",1]")
			r.frame(s, waitFor)
		}},
		{name: "upgrade/second-websocket-after-upgrade", run: func(r *diffRun) {
			s := r.upgrade()
			r.send(s, "421[\"echo\",1]")
			r.frame(s, waitFor)
			s2 := r.ws(r.q("websocket"))
			r.untilEOF(s2)
			r.send(s, "422[\"echo\",2]")
			r.frame(s, waitFor)
		}},
		{name: "upgrade/bad-probe", run: func(r *diffRun) {
			r.connect()
			s := r.ws(r.q("websocket"))
			r.send(s, "2nope")
			r.untilEOF(s)
			r.post(r.q("polling"), "421[\"echo\",1]")
			r.get(r.q("polling"))
		}},
		{name: "upgrade/probe-dropped", run: func(r *diffRun) {
			r.connect()
			s := r.ws(r.q("websocket"))
			r.send(s, "2probe")
			r.frame(s, waitFor)
			_ = s.writeFrame(true, 0x8, []byte{0x03, 0xe8})
			r.untilEOF(s)
			r.post(r.q("polling"), "421[\"echo\",1]")
			r.get(r.q("polling"))
		}},
		{name: "upgrade/POST-while-probing", run: func(r *diffRun) {
			r.connect()
			s := r.ws(r.q("websocket"))
			r.send(s, "2probe")
			r.frame(s, waitFor)
			r.post(r.q("polling"), "421[\"echo\",1]")
			r.send(s, "5")
			r.frame(s, waitFor)
		}},
		{name: "upgrade/websocket-session-probed", run: func(r *diffRun) {
			s := r.wsConnect()
			s2 := r.ws(r.q("websocket"))
			r.send(s2, "2probe")
			r.frame(s2, shortWait)
			r.send(s, "421[\"echo\",1]")
			r.frame(s, waitFor)
		},
			differs: "a session that opened on WebSocket offers no upgrade (its handshake lists none): " +
				"sio accepts a second WebSocket for it and closes it, as for an upgraded session; " +
				"the reference runs a probe on it",
			sio: []string{
				`ws handshake -> text "0{\"sid\":\"<sid0>\",\"upgrades\":[],\"pingInterval\":10000,\"pingTimeout\":5000,\"maxPayload\":1000}"`,
				`ws> "40"`,
				`ws< text "40{\"sid\":\"<id>\"}"`,
				`WS EIO=4&transport=websocket&sid=<sid0> -> 101`,
				`ws> "2probe"`,
				`ws< close -`,
				`ws> "421[\"echo\",1]"`,
				`ws< text "431[1]"`,
			}},

		// Close from either side.
		{name: "close/client-websocket", run: func(r *diffRun) {
			s := r.wsConnect()
			r.send(s, "1")
			r.frame(s, shortWait)
			afterClose(r)
		}},
		{name: "close/server-polling", run: func(r *diffRun) {
			r.connect()
			r.post(r.q("polling"), "42[\"close\"]")
			r.get(r.q("polling"))
			r.await(r.start("GET", r.q("polling"), ""), shortWait)
		}},
		{name: "close/server-websocket", run: func(r *diffRun) {
			s := r.wsConnect()
			r.send(s, "42[\"close\"]")
			r.untilEOF(s)
			afterClose(r)
		}},
		{name: "close/namespace-disconnect-by-server", run: func(r *diffRun) {
			r.connect()
			r.post(r.q("polling"), "42[\"bye\"]")
			r.get(r.q("polling"))
			r.post(r.q("polling"), "421[\"echo\",1]")
			r.get(r.q("polling"))
		}},
		{name: "close/namespace-disconnect-by-client", run: func(r *diffRun) {
			s := r.wsConnect()
			r.send(s, "41")
			time.Sleep(100 * time.Millisecond) // the reference handles 41 on its next tick
			r.send(s, "421[\"echo\",1]")
			r.untilEOF(s)
		}},

		// Ping timeouts.
		{name: "timeout/polling-pending-poll", cfg: "fast", run: func(r *diffRun) {
			r.connect()
			r.get(r.q("polling")) // the ping
			r.get(r.q("polling")) // pending until the timeout
			afterClose(r)
		}},
		{name: "timeout/polling-no-poll", cfg: "fast", run: func(r *diffRun) {
			r.connect()
			r.get(r.q("polling")) // the ping
			// No event to await from outside: the server's own timer
			// closes the session pingTimeout after the ping.
			time.Sleep(1500 * time.Millisecond)
			afterClose(r)
		}},
		{name: "timeout/websocket", cfg: "fast", run: func(r *diffRun) {
			s := r.wsConnect()
			r.untilEOF(s)
			afterClose(r)
		}},

		// Unknown sessions.
		{name: "unknown-sid/GET", run: hs("EIO=4&transport=polling&sid=nope")},
		{name: "unknown-sid/POST", run: func(r *diffRun) { r.post("EIO=4&transport=polling&sid=nope", "40") }},
		{name: "unknown-sid/websocket", run: func(r *diffRun) { r.ws("EIO=4&transport=websocket&sid=nope") }},
		{name: "known-sid/wrong-transport", run: func(r *diffRun) {
			r.wsOpen()
			r.get(r.q("polling"))
		}},

		// Namespaces and CONNECT payloads.
		{name: "connect/unknown-namespace", run: func(r *diffRun) {
			r.handshake()
			r.post(r.q("polling"), "40/nope,")
			r.get(r.q("polling"))
			r.post(r.q("polling"), "40")
			r.get(r.q("polling"))
		}},
		{name: "connect/refused-by-middleware", run: func(r *diffRun) {
			r.handshake()
			r.post(r.q("polling"), "40/admin,{\"token\":\"wrong\"}")
			r.get(r.q("polling"))
		}},
		{name: "connect/accepted-by-middleware", run: func(r *diffRun) {
			r.handshake()
			r.post(r.q("polling"), "40/admin,{\"token\":\"secret\"}")
			r.get(r.q("polling"))
		}},
		{name: "connect/string-payload", run: func(r *diffRun) { r.handshake(); pollAfter(r, "40\"str\"") }},
		{name: "connect/array-payload", run: func(r *diffRun) { r.handshake(); pollAfter(r, "40[1]") }},
		{name: "connect/bad-json", run: func(r *diffRun) { r.handshake(); pollAfter(r, "40{") }},
		{name: "connect/event-to-other-namespace", run: func(r *diffRun) {
			s := r.wsConnect()
			r.send(s, "42/admin,[\"echo\"]")
			r.untilEOF(s)
		}},
		{name: "sio/unknown-packet-type", run: func(r *diffRun) {
			s := r.wsConnect()
			r.send(s, "47")
			r.untilEOF(s)
		}},

		// WebSocket frames.
		{name: "ws/invalid-utf8", run: func(r *diffRun) {
			s := r.wsConnect()
			r.send(s, "421[\"echo\",\"A\xff\xfeZ\"]")
			r.untilEOF(s)
		}},
		{name: "ws/huge-frame-header", run: func(r *diffRun) {
			s := r.wsConnect()
			if s != nil {
				hdr := []byte{0x81, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}
				_ = s.writeRaw(hdr)
				r.log("ws> header of 2^63-1 bytes")
			}
			r.untilEOF(s)
		}},
		{name: "ws/fragmented-with-ping", run: func(r *diffRun) {
			s := r.wsConnect()
			r.raw(s, "text, not final", false, 0x1, "421[\"echo\",")
			r.raw(s, "ping", true, 0x9, "hi")
			r.frame(s, waitFor)
			r.raw(s, "continuation, final", true, 0x0, "\"ab\"]")
			r.frame(s, waitFor)
		}},
		{name: "ws/binary-event-in-fragments", run: func(r *diffRun) {
			s := r.wsConnect()
			r.send(s, "451-1[\"echo\",{\"_placeholder\":true,\"num\":0}]")
			r.raw(s, "binary, not final", false, 0x2, "\x01\x02")
			r.raw(s, "continuation, final", true, 0x0, "\x03")
			r.frame(s, waitFor)
			r.frame(s, waitFor)
		}},
		{name: "ws/unmasked-frame", run: func(r *diffRun) {
			s := r.wsConnect()
			if s != nil {
				_ = s.writeRaw([]byte{0x81, 2, '4', '2'})
				r.log("ws> unmasked text frame")
			}
			r.untilEOF(s)
		}},
		{name: "ws/reserved-bit", run: oneFrame("text with RSV2", true, 0x21, "42[\"echo\"]")},
		{name: "ws/continuation-first", run: oneFrame("continuation with no message", true, 0x0, "42")},
		{name: "ws/message-inside-message", run: func(r *diffRun) {
			s := r.wsConnect()
			r.raw(s, "text, not final", false, 0x1, "42")
			r.raw(s, "text", true, 0x1, "42")
			r.untilEOF(s)
		}},
		{name: "ws/unknown-opcode", run: oneFrame("opcode 3", true, 0x3, "42")},
		{name: "ws/long-ping", run: oneFrame("ping of 126 bytes", true, 0x9, strings.Repeat("p", 126))},
		{name: "ws/fragmented-ping", run: oneFrame("ping, not final", false, 0x9, "p")},
		{name: "ws/close-no-status", run: oneFrame("close, no status", true, 0x8, "")},
		{name: "ws/close-1001", run: oneFrame("close 1001", true, 0x8, "\x03\xe9bye")},
		{name: "ws/close-bad-status", run: oneFrame("close 1005", true, 0x8, "\x03\xed")},
		{name: "ws/close-one-byte", run: oneFrame("close of one byte", true, 0x8, "\x03")},
		{name: "ws/message-over-the-limit", run: func(r *diffRun) {
			s := r.wsConnect()
			r.send(s, "421[\"echo\",\""+strings.Repeat("x", 1000)+"\"]")
			r.untilEOF(s)
		}},
	}
}

// oneFrame connects over WebSocket, sends one frame (see diffRun.raw) and
// logs what comes back until the connection ends.
func oneFrame(what string, fin bool, op byte, payload string) func(r *diffRun) {
	return func(r *diffRun) {
		s := r.wsConnect()
		r.raw(s, what, fin, op, payload)
		r.untilEOF(s)
	}
}

// pollAfter posts body on the current session and logs the next poll and
// what the session answers then.
func pollAfter(r *diffRun, body string) {
	r.post(r.q("polling"), body)
	r.await(r.start("GET", r.q("polling"), ""), shortWait)
	r.await(r.start("GET", r.q("polling"), ""), shortWait)
}
