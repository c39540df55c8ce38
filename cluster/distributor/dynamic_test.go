package distributor_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sio-go/sio/cluster/distributor"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
	"github.com/sio-go/sio/transport/peertest"
)

// Dynamic namespaces: the gateway forwards every /room-* to the rooms
// service, whose backend declares them with OfRegexp, as a local server
// would; a name the backend does not accept is refused as by a local
// server.
func TestDynamicNamespaces(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	startBackend(t, redis.URL(), "rooms", func(b *distributor.Backend) {
		b.OfRegexp(regexp.MustCompile(`^/room-[0-9]+$`)).OnConnection(func(s *core.Socket) {
			s.On("where", func(e *core.Event) { _ = e.Ack(s.Namespace().Name()) })
		})
	})
	srv := httpadapter.New(httpadapter.Options{})
	g, err := distributor.NewGateway(srv.Server, distributor.GatewayOptions{
		Common: distributor.Common{URL: redis.URL()},
		Route: func(name string, _ *core.Handshake) (string, bool) {
			return "rooms", strings.HasPrefix(name, "/room-")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	gw := &gateway{srv: srv, http: newHTTPServer(srv), g: g}
	t.Cleanup(gw.stop)
	waitReady(t, gw, "rooms")
	c := &caller{t: t, clients: clients}

	clients.connect("a", gw.URL(), "/room-1", nil)
	clients.connect("b", gw.URL(), "/room-22", nil)
	clients.expect("a", "connect")
	clients.expect("b", "connect")
	if got := c.call("a", "where"); got != `"/room-1"` {
		t.Fatalf("a: %s", got)
	}
	if got := c.call("b", "where"); got != `"/room-22"` {
		t.Fatalf("b: %s", got)
	}
	clients.connect("x", gw.URL(), "/room-x", nil)
	if e := clients.expect("x", "connect_error"); e.s("message") != "Invalid namespace" {
		t.Fatalf("x: %v", e)
	}
}
