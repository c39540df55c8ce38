// Package cluster makes several sio processes act as one server: a
// core.Adapter that carries broadcasts, room changes and requests between
// nodes through Redis, in the wire format of the reference's Redis adapter,
// so that Go nodes and Node.js nodes share one cluster and the reference's
// emitter drives Go nodes.
//
// It owns the Redis connection of a server (one [Bus]), the adapter of each
// namespace ([Adapter]), and their encodings: the MessagePack flavour of
// the reference (notepack.io) and its JSON messages. It imports core,
// core/sio, github.com/redis/rueidis and github.com/vmihailenco/msgpack/v5.
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
// Redis confirmed every subscription.
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
package cluster
