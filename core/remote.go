package core

import (
	"context"
	"time"
)

// RemoteSocket is a socket as FetchSockets returns it: on this node or on
// another, behind one type. Its fields are a snapshot taken when it was
// fetched; its methods act on the live socket wherever it is (directly when
// it is local, through the adapter when it is not), as the reference's
// RemoteSocket does.
type RemoteSocket struct {
	ID        string
	Handshake Handshake
	Rooms     []string
	// Data is what SetData attached: the value itself for a socket of this
	// node, its JSON decoded into an any for one of another node.
	Data any

	nsp *Namespace
}

func newRemoteSocket(n *Namespace, info SocketInfo) *RemoteSocket {
	return &RemoteSocket{ID: info.ID, Handshake: info.Handshake, Rooms: info.Rooms, Data: info.Data, nsp: n}
}

// Namespace is the socket's namespace.
func (r *RemoteSocket) Namespace() *Namespace { return r.nsp }

// Local returns the socket when it is connected to this node, else nil.
func (r *RemoteSocket) Local() *Socket { return r.nsp.Socket(r.ID) }

// Emit sends an event to the socket.
func (r *RemoteSocket) Emit(event string, args ...any) error {
	if s := r.Local(); s != nil {
		return s.Emit(event, args...)
	}
	return r.nsp.To(r.ID).Emit(event, args...)
}

// EmitWithAck sends an event and waits for the socket's answer, for at most
// timeout (which must be positive) and until ctx ends.
func (r *RemoteSocket) EmitWithAck(ctx context.Context, timeout time.Duration, event string, args ...any) (Args, error) {
	if s := r.Local(); s != nil {
		return s.Timeout(timeout).EmitWithAck(ctx, event, args...)
	}
	res, err := r.nsp.To(r.ID).Timeout(timeout).EmitWithAck(ctx, event, args...)
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, ErrDisconnected
	}
	return res[0], nil
}

// Join puts the socket in rooms.
func (r *RemoteSocket) Join(rooms ...string) {
	if s := r.Local(); s != nil {
		s.Join(rooms...)
		return
	}
	r.nsp.In(r.ID).SocketsJoin(rooms...)
}

// Leave takes the socket out of rooms.
func (r *RemoteSocket) Leave(rooms ...string) {
	if s := r.Local(); s != nil {
		s.Leave(rooms...)
		return
	}
	r.nsp.In(r.ID).SocketsLeave(rooms...)
}

// Disconnect disconnects the socket; with close, its whole connection.
func (r *RemoteSocket) Disconnect(close bool) {
	if s := r.Local(); s != nil {
		s.Disconnect(close)
		return
	}
	r.nsp.In(r.ID).DisconnectSockets(close)
}
