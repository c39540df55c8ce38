package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/rueidis"
	"github.com/sio-go/sio/cluster/internal/redisopt"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/sio"
)

// EmitterOptions configure an Emitter. The zero value of a field means its
// default.
type EmitterOptions struct {
	// Client is the connection to Redis; the Emitter leaves it open on
	// Close. When nil, URL is dialed.
	Client rueidis.Client
	// URL of Redis when Client is nil (see Options.URL).
	URL string
	// Prefix of the channels: "socket.io" as in the reference.
	Prefix string
}

// Emitter publishes to the nodes of a cluster from a process that holds no
// connections, in the format of the reference's Redis emitter: emits to
// rooms, room changes, disconnects and server-side events. It speaks the
// classic protocol. Acks are not supported, as in the reference.
type Emitter struct {
	client rueidis.Client
	own    bool
	prefix string
}

// NewEmitter makes an Emitter.
func NewEmitter(opts EmitterOptions) (*Emitter, error) {
	e := &Emitter{client: opts.Client, prefix: opts.Prefix}
	if e.prefix == "" {
		e.prefix = "socket.io"
	}
	if e.client == nil {
		if opts.URL == "" {
			return nil, errors.New("cluster: EmitterOptions.Client or EmitterOptions.URL is required")
		}
		co, err := redisopt.FromURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		c, err := rueidis.NewClient(co)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		e.client, e.own = c, true
	}
	return e, nil
}

// Close closes the Redis client when the Emitter made it.
func (e *Emitter) Close() {
	if e.own {
		e.client.Close()
	}
}

// Of selects a namespace ("/" when empty).
func (e *Emitter) Of(nsp string) *EmitterOperator {
	if nsp == "" || nsp[0] != '/' {
		nsp = "/" + nsp
	}
	return &EmitterOperator{e: e, nsp: nsp}
}

// To selects the sockets in rooms of the main namespace.
func (e *Emitter) To(rooms ...string) *EmitterOperator { return e.Of("/").To(rooms...) }

// Emit sends an event to every socket of the main namespace.
func (e *Emitter) Emit(ctx context.Context, event string, args ...any) error {
	return e.Of("/").Emit(ctx, event, args...)
}

// EmitterOperator selects sockets of one namespace, as a broadcast
// operator does. Every method returns a new operator.
type EmitterOperator struct {
	e    *Emitter
	nsp  string
	opts core.BroadcastOptions
}

func (o *EmitterOperator) clone() *EmitterOperator {
	c := *o
	c.opts.Rooms = slices.Clip(c.opts.Rooms)
	c.opts.Except = slices.Clip(c.opts.Except)
	return &c
}

// To adds rooms to the selection.
func (o *EmitterOperator) To(rooms ...string) *EmitterOperator {
	c := o.clone()
	for _, r := range rooms {
		if !slices.Contains(c.opts.Rooms, r) {
			c.opts.Rooms = append(c.opts.Rooms, r)
		}
	}
	return c
}

// In is To.
func (o *EmitterOperator) In(rooms ...string) *EmitterOperator { return o.To(rooms...) }

// Except leaves out the sockets in rooms.
func (o *EmitterOperator) Except(rooms ...string) *EmitterOperator {
	c := o.clone()
	c.opts.Except = append(c.opts.Except, rooms...)
	return c
}

// Volatile lets the event be dropped for clients whose queue is full.
func (o *EmitterOperator) Volatile() *EmitterOperator {
	c := o.clone()
	c.opts.Flags.Volatile = true
	return c
}

// Compress sets the compression flag.
func (o *EmitterOperator) Compress(on bool) *EmitterOperator {
	c := o.clone()
	c.opts.Flags.NoCompress = !on
	return c
}

func (o *EmitterOperator) channel() string {
	ch := o.e.prefix + "#" + o.nsp + "#"
	if len(o.opts.Rooms) == 1 {
		ch += o.opts.Rooms[0] + "#"
	}
	return ch
}

func (o *EmitterOperator) requestChannel() string { return o.e.prefix + "-request#" + o.nsp + "#" }

func (o *EmitterOperator) publish(ctx context.Context, channel string, payload []byte) error {
	c := o.e.client
	err := c.Do(ctx, c.B().Publish().Channel(channel).Message(rueidis.BinaryString(payload)).Build()).Error()
	if err != nil && staleConnection(err) {
		err = c.Do(ctx, c.B().Publish().Channel(channel).Message(rueidis.BinaryString(payload)).Build()).Error()
	}
	if err != nil {
		return fmt.Errorf("cluster: publish: %w", err)
	}
	return nil
}

func reservedEvent(event string) error {
	switch event {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return fmt.Errorf("%w: %q", core.ErrReservedEvent, event)
	}
	return nil
}

// Emit sends an event to the selected sockets of every node, and returns
// once Redis took it.
func (o *EmitterOperator) Emit(ctx context.Context, event string, args ...any) error {
	if err := reservedEvent(event); err != nil {
		return err
	}
	p, err := sio.NewEvent(o.nsp, event, args)
	if err != nil {
		return err
	}
	data, err := eventData(&p)
	if err != nil {
		return err
	}
	flags := &object{}
	if o.opts.Flags.Volatile {
		flags.set("volatile", true)
	}
	if o.opts.Flags.NoCompress {
		flags.set("compress", false)
	}
	wo := wireOpts(&o.opts, false)
	rooms, _ := wo.get("rooms")
	except, _ := wo.get("except")
	msg, err := encodeMsgpack([]any{
		emitterUID,
		newObject("type", int64(sio.Event), "data", data, "nsp", o.nsp),
		newObject("rooms", rooms, "flags", flags, "except", except),
	})
	if err != nil {
		return err
	}
	return o.publish(ctx, o.channel(), msg)
}

func (o *EmitterOperator) request(ctx context.Context, v *object) error {
	w := jsonWriter{mode: binBuffer}
	return o.publish(ctx, o.requestChannel(), w.append(nil, v))
}

// SocketsJoin makes the selected sockets of every node join rooms.
func (o *EmitterOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	return o.request(ctx, newObject("type", int64(reqRemoteJoin), "opts", wireOpts(&o.opts, false), "rooms", anyStrings(rooms)))
}

// SocketsLeave makes the selected sockets of every node leave rooms.
func (o *EmitterOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	return o.request(ctx, newObject("type", int64(reqRemoteLeave), "opts", wireOpts(&o.opts, false), "rooms", anyStrings(rooms)))
}

// DisconnectSockets disconnects the selected sockets of every node; close
// also closes their connections.
func (o *EmitterOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return o.request(ctx, newObject("type", int64(reqRemoteDisconnect), "opts", wireOpts(&o.opts, false), "close", close))
}

// ServerSideEmit sends an event to the namespace's server-side handlers
// on every node. Rooms and flags do not apply.
func (o *EmitterOperator) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	if err := reservedEvent(event); err != nil {
		return err
	}
	data, err := serverSideData(event, args)
	if err != nil {
		return err
	}
	return o.request(ctx, newObject("uid", emitterUID, "type", int64(reqServerSideEmit), "data", data))
}
