// Package distributor splits a Socket.IO server in two tiers that talk
// through Redis: gateways hold the client connections, backends run the
// handlers of chosen namespaces and hold no connection at all.
//
//	clients ──ws/polling──▶ gateway A ─┐            ┌─▶ backend "chat" #1
//	clients ──ws/polling──▶ gateway B ─┼── Redis ───┼─▶ backend "chat" #2
//	clients ──ws/polling──▶ gateway C ─┘            └─▶ backend "game" #1
//
// A gateway is any sio server (httpadapter.Server, or another core.Server
// front end) with a [Gateway] installed: the connects to the namespaces it
// forwards (static, GatewayOptions.Namespaces, or decided per connect,
// GatewayOptions.Route) go to a live replica of the namespace's service,
// with the handshake and the auth payload; that socket's events, acks and
// disconnect follow to the same replica for the socket's whole life, so its
// events stay in order. A [Backend] embeds a core.Server whose connections
// are remote (core.NewRemoteConn): the namespace API is the local one
// (Use, OnConnection, On, OnAny, Emit with acks, Join, Leave, To(room).Emit,
// broadcast acks, Disconnect, FetchSockets) with the same types, so moving
// a namespace to a backend changes its setup and none of its handlers:
//
//	// before: on every node
//	srv := httpadapter.New(httpadapter.Options{})
//	chat(srv.Of("/chat"))
//
//	// after: on the gateways
//	srv := httpadapter.New(httpadapter.Options{})
//	gw, err := distributor.NewGateway(srv.Server, distributor.GatewayOptions{
//		Common:     distributor.Common{URL: "redis://127.0.0.1:6379"},
//		Namespaces: map[string]string{"/chat": "chat"},
//	})
//	// and in the backend processes
//	be, err := distributor.NewBackend(distributor.BackendOptions{
//		Common:  distributor.Common{URL: "redis://127.0.0.1:6379"},
//		Service: "chat",
//	})
//	chat(be.Of("/chat"))
//
// # Design
//
// The split is at the Socket.IO packet: the gateway decodes the client's
// Engine.IO messages as usual, and hands the packets of a forwarded
// namespace to a core.Route instead of a local socket; the backend's core
// runs them exactly as it would a local client's, and the frames its
// sockets emit travel back encoded, to be queued on the client's session
// unchanged. So the gateway knows nothing of handlers, rooms or acks, and
// the backend nothing of transports; every behaviour of a namespace (ack
// ids, binary attachments, middlewares' refusals, disconnect reasons) is
// core's own, on both sides. The alternative, a backend that emits through
// the cluster adapter to rooms held by the gateways (as the original
// design did), would keep rooms and socket state on the gateways and give
// the backend a second, partial socket API; here the backend's sockets are
// core.Sockets.
//
// Replicas of one service share a cluster bus (package cluster, prefix
// "<prefix>#svc#<service>"): a broadcast or FetchSockets on one reaches the
// sockets of the others, exactly as across the nodes of a cluster. A
// broadcast does not cost a message per client: the publisher coalesces
// the copies queued together for the sockets of one gateway into one item
// that names every recipient (so typically one message per gateway and
// replica), and the gateway queues the same frames on each session.
//
// Backpressure stops at Redis: a gateway cannot be asked to stop reading
// one client, so a backend whose socket's inbox is full takes four times
// core.Config.Inbox.Events more packets, then closes that client's session.
//
// # On Redis
//
// Each node (gateway or backend) has a channel "<prefix>#n#<id>" carrying
// MessagePack envelopes of items, in order: connects (with the handshake),
// packets and session ends one way; frames for sockets and session closes
// the other. Heartbeats go on "<prefix>#hb" every Common.Heartbeat (1s); a
// node not heard from for three is gone, and a node leaving says so. A new
// node says hello and every node answers at once, so a gateway knows the
// live replicas within a round trip of starting.
//
// # Failures
//
//   - No live replica of a namespace's service: the connect is refused
//     with connect_error "Namespace unavailable", data {reason: "no live
//     backend", service}.
//   - A replica gone (its heartbeats stopped, or it closed): every gateway
//     closes the sessions of the clients that had a socket on it (reason
//     "forced close"); the official client reconnects by itself and its
//     connects go to the live replicas. The client's pending acks fail
//     with its own disconnect error; the backend's died with it.
//   - A gateway gone: the backends end its sockets with "transport close",
//     failing their pending acks with core.ErrDisconnected.
//   - Redis away: nothing flows; when it is back the nodes subscribe again
//     and heartbeats resume. Past three heartbeats, both sides take the
//     other as gone, as above, and clients reconnect.
//
// A backend has no connect timeout of its own (the gateway keeps its
// client's); a remote connection whose last socket went is dropped. A
// connect that finds no live replica waits for one for at most
// GatewayOptions.ConnectWait when one may come soon (the gateway has just
// subscribed, or the service had a replica within the last minute), so
// that clients reconnecting after a restart are served, not refused.
//
// # Cost
//
// Every packet crosses Redis once more than on a plain server, and is
// decoded and encoded once more on each side. BenchmarkAckRoundTrip puts
// the two side by side (the server tiers in child processes, Go clients
// over WebSocket); on a shared 2-core machine, one client: p50 88µs plain
// against 373µs distributed, 18,000 against 3,300 round trips per server
// CPU-second; 32 clients: p50 1.3ms against 3.3ms, 38,000 against 13,000
// round trips per CPU-second (gateway and backend together; Redis not
// counted). Prefer it when the handlers, not the connections, are what
// needs its own processes: stateful or heavy namespaces (a game, a chat
// with its history) scaled, deployed and restarted apart from the edge,
// one connection per client for several services, broadcasts fanned out
// by the gateways.
//
// It imports core, core/eio, core/sio, cluster, github.com/redis/rueidis
// and github.com/vmihailenco/msgpack/v5.
package distributor
