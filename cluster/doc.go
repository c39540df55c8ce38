// Package cluster makes several sio processes act as one server: a
// core.Adapter that carries broadcasts, room changes and requests between
// nodes through Redis, in the wire format of the reference's Redis adapter,
// so that Go nodes and Node.js nodes share one cluster and the reference's
// emitter drives Go nodes.
//
// It owns the Redis connection of a server (one [Bus]), the adapter of each
// namespace ([Adapter]), and their encodings: the MessagePack flavour of
// the reference (notepack.io) and its JSON messages. It imports core,
// core/sio, cluster/internal/subloop (the loop that keeps a Pub/Sub
// connection subscribed) and cluster/internal/publoop (the loop that
// publishes), both shared with cluster/distributor,
// github.com/redis/rueidis and github.com/vmihailenco/msgpack/v5.
//
// # Entry points
//
//	bus, err := cluster.New(cluster.Options{URL: "redis://127.0.0.1:6379"})
//	srv := httpadapter.New(httpadapter.Options{Adapter: bus.Adapter})
//	...
//	srv.Close(ctx) // closes the adapters
//	bus.Close()
//
// [Bus.Stats] returns the counters (published, received, dropped, invalid,
// failed, request timeouts, reconnects). [Bus.WaitSubscribed] waits until
// Redis confirmed every subscription. Each namespace's adapter is an
// [*Adapter] (srv.Of("/").Adapter().(*cluster.Adapter)); its FetchSockets
// and AllRooms return a [*TimeoutError] that says which nodes did not
// answer, and so does core's ServerSideEmitWithAck, where the error also
// matches core.ErrAckTimeout:
//
//	answers, err := srv.Of("/").ServerSideEmitWithAck(ctx, time.Second, "ping")
//	var te *cluster.TimeoutError
//	if errors.As(err, &te) {
//		log.Printf("%d answers; no answer from %v", len(answers), te.Missing)
//	}
//
// [NewEmitter] publishes from a process without connections.
//
// One Bus serves one server: every namespace of the server has its
// channels on it, and Redis counts one subscriber per node and namespace.
// Several servers in one process need one Bus each.
//
// # Threads
//
// Nothing waits on Redis in a call that core makes: a broadcast reaches
// the local sockets at once and is queued for publication, which a
// goroutine of the bus does in batches, in order. What arrives is queued
// by the Redis client's reader and handled, in the order Redis delivered
// it, by one goroutine of the bus; the application's handlers
// (server-side events, disconnects that other nodes ask for) run on
// goroutines of their own, at most 1,024 at once per namespace. Both
// queues are bounded (Options.QueueSize): past them a message is dropped,
// logged and counted.
//
// # The classic protocol
//
// The default protocol is the reference's createAdapter: a broadcast is
// PUBLISHed as MessagePack [uid, packet, opts] on prefix#nsp# (or
// prefix#nsp#room# for a single room), which every node receives through
// PSUBSCRIBE prefix#nsp#*; requests (room changes, disconnects,
// fetchSockets, allRooms, serverSideEmit, broadcasts with acks) go on
// prefix-request#nsp#, answers on prefix-response#nsp#. The number of
// nodes is the number of subscribers of the request channel (PUBSUB
// NUMSUB, summed over the nodes of a Redis Cluster), so a request waits
// only for nodes that are there; every request has a timeout
// ([Options.RequestTimeout]), and one that ends without every answer
// returns what came with a [*TimeoutError].
//
// # The sharded protocol
//
// With Options.Protocol = [Sharded], the bus speaks the reference's
// createShardedAdapter: SPUBLISH and SSUBSCRIBE (Redis 7), messages
// {type, data, uid, nsp} in JSON (MessagePack when they carry binary), on
// prefix#nsp# for requests and broadcasts, prefix#nsp#uid# for each
// node's answers and, in the dynamic modes ([DynamicRooms],
// [DynamicPrivate]), prefix#nsp#room# for the rooms a node has sockets in.
// On a Redis Cluster each channel is subscribed on the node that owns its
// slot, and subscribed again when the subscription is lost. The number of
// nodes is PUBSUB SHARDNUMSUB summed over the cluster's nodes. AllRooms
// is not part of this protocol ([ErrUnsupported]). Socket ids are those
// of core, 20 characters as the reference makes them, which its dynamic
// mode relies on to tell a socket's room from a public one.
//
// # Binary
//
// Broadcasts carry binary inline as MessagePack bin, and clients receive
// it as binary attachments, whichever node sent it. The classic
// protocol's JSON requests (server-side events and their answers,
// fetchSockets answers) cannot: there a []byte travels as Node writes a
// Buffer in JSON, {"type":"Buffer","data":[...]}, and arrives as that
// object. The sharded protocol switches to MessagePack when a message
// carries binary, so binary stays binary.
//
// # Limits
//
// A message from Redis larger than Options.MaxMessageBytes (16 MiB), or
// nested deeper than Options.MaxDepth (64), is dropped and counted; a
// message that does not decode is counted in Stats.Invalid and logged.
// Lengths inside a message never size an allocation past the message.
//
// # What a client may miss while Redis is away
//
// Redis Pub/Sub keeps nothing: a message is delivered to the subscribers
// connected when it is published, and to no one else. So while a node
// cannot reach Redis, or Redis is restarting:
//
//   - broadcasts published by other nodes are lost for this node's
//     clients, and this node's broadcasts are lost for the other nodes'
//     clients (they fail to publish: logged and counted in Stats.Failed,
//     or in Stats.Dropped once the publish queue is full);
//   - room changes (SocketsJoin, SocketsLeave) and DisconnectSockets sent
//     to other nodes in that time are lost, so a socket may stay in, or
//     out of, a room it was meant to leave or join;
//   - requests (FetchSockets, AllRooms, ServerCount, server-side emits
//     with acks) fail or time out.
//
// Local delivery goes on throughout: a broadcast reaches this node's own
// clients at once, whatever happens to its publication. The bus
// reconnects and subscribes again by itself (Stats.Reconnects), and
// broadcasts flow again from then on; nothing missed is replayed.
//
// # Redis Cluster: failover and moved slots
//
// On a Redis Cluster, the classic protocol's subscription connection sits
// on a master (the owner of a slot picked at random by each bus), and the
// sharded protocol subscribes to each channel on the master that serves
// its slot. When a master dies, Redis promotes one of its replicas once
// cluster-node-timeout has passed and an election is won; the
// subscriptions on the dead master are lost, and the bus subscribes again
// on the new one by itself, as soon as its client learns of it. When a
// slot moves to another master (CLUSTER SETSLOT ... NODE), the old master
// ends the subscriptions to the shard channels of that slot, and the bus
// subscribes again on the new one. Meanwhile, as while Redis is away,
// what is published on the channels concerned is lost for this node, and
// a publish to a slot that has no master fails and is counted.
//
// Requests count the nodes over the Redis nodes that the client knows. A
// client whose view of the cluster predates a failover still lists the
// dead master, and its requests fail (naming that node) until the view is
// refreshed, rather than wait for too few nodes. The client that the bus
// makes from a URL refreshes its view every second; give a client of your
// own a ClusterOption.ShardsRefreshInterval.
package cluster
