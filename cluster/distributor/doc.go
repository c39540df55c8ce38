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
//     backend", service}. A connect that may soon find a replica (the
//     gateway has just subscribed, or the service had a replica within
//     the last minute: a restart, Redis coming back) waits for one for at
//     most GatewayOptions.ConnectWait (5s) first, so that clients
//     reconnecting after a restart are served, not refused.
//   - A replica that does not answer a connect within
//     GatewayOptions.ConnectTimeout (10s; its middlewares may block): the
//     replica is told the client left, and the client gets connect_error
//     "Namespace unavailable", data {reason: "no answer from backend",
//     service}.
//   - A replica gone (its heartbeats stopped for three intervals, or it
//     said goodbye: Backend.Close does first, so that a replica stopped
//     for a deploy hands its sockets over at once, and one restarted
//     within ConnectWait gets them back): each gateway hands every socket
//     it had over to the least loaded live replica of the service, as a
//     connect that carries the socket's id, the client's handshake and
//     auth, and a handover mark (core.RemoteConn.HandleHandover). There
//     the namespace's middlewares and connection handlers run again for
//     the socket, which keeps its id and reports core.Socket.HandedOver;
//     its rooms and state on the dead replica are lost, so a connection
//     handler joins its rooms again, as on any connect. The client sees
//     nothing: no disconnect, no new connect, the same socket id; the
//     gateway keeps the new replica's CONNECT answer, and holds what the
//     client sends until it comes, then sends it on in order. The client's
//     other namespaces are untouched. Lost: the events the client sent to
//     the replica in its last moments and during the detection (up to
//     three heartbeats), and the broadcasts made before the new replica's
//     connection handlers put the socket back in its rooms, as on a
//     reconnect.
//   - A socket is not handed over, but ended at the client with a
//     DISCONNECT of its namespace, when its client waits for the answer
//     to an event the dead replica had taken (an acknowledgement that
//     would never come), when the new replica refuses it (a middleware's
//     error) or does not answer in ConnectTimeout, or when its client
//     sends more than 256 packets or 1 MiB while it is handed over. The
//     official client then emits "disconnect" with reason "io server
//     disconnect" for that namespace only and fails its pending
//     acknowledgements that take an error ("socket has been
//     disconnected"; a plain callback is dropped without a call, as on
//     any disconnect). It does not connect that socket again by itself:
//     the application calls socket.connect(), as for any "io server
//     disconnect". A connect_error would be the clearer message, but the
//     official client takes one only while connecting: on a connected
//     socket it stays "connected", unusable, and cannot connect again.
//   - A replica gone with no other replica live: its sockets wait for one
//     for ConnectWait, holding what their clients send, and are handed
//     over to it if it comes (a restart, Redis back). If none comes, the
//     client's session is closed: the official client sees "transport
//     close" on every namespace of the connection and reconnects by
//     itself, and the connect of this namespace waits once more, then is
//     refused with connect_error "Namespace unavailable" {reason: "no
//     live backend", service} if the service is still down.
//   - The backend's side of a replica that died: its handlers died with
//     it, callers of EmitWithAck included; nothing on the gateway waits
//     for it. An answer the client gives later to a question the dead
//     replica asked is dropped at the gateway; a question the new replica
//     asks meanwhile with the same ack id reaches the client with another
//     id (the gateway maps the answer back), so the two are never mixed
//     up. A replica that was only out of reach is told to drop its
//     copies of the sockets handed over (if that message reaches it; cut
//     off from Redis, it drops them itself once its gateways are gone).
//   - A gateway gone: the backends end its sockets with "transport close",
//     failing their pending acks with core.ErrDisconnected. When the
//     gateway was not gone but only unheard for a while (it still heard
//     the backend), the next packet of each such socket is answered with
//     "unknown" and the gateway hands the socket over as above, to any
//     live replica; that packet is lost, and if it asked for an answer,
//     the socket is ended at the client instead.
//   - Redis away: nothing flows; when it is back the nodes subscribe again
//     and heartbeats resume. Past three heartbeats, both sides take the
//     other as gone, as above: the backends end the gateway's sockets, the
//     gateways' sockets wait for a replica and, Redis back within
//     ConnectWait, are handed over to the same replicas.
//
// Stats counts, on a gateway, the sockets handed over (Handovers) and
// those ended at the client instead (EndedSockets). A remote connection
// whose last socket went is dropped.
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
// It imports core, core/eio, core/sio, cluster, cluster/internal/subloop
// (the loop that keeps its Pub/Sub connection subscribed),
// cluster/internal/publoop (the loop that publishes),
// github.com/redis/rueidis and github.com/vmihailenco/msgpack/v5.
package distributor
