package core

import (
	"context"
	"time"
)

// The main namespace's operations on the server itself, as io.emit and
// io.to are in the reference: each is the same call on Of("/").

func (s *Server) main() *Namespace { return s.Of("/") }

// Emit sends an event to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.main().Emit(event, args...) }

// To selects the sockets of the main namespace in rooms.
func (s *Server) To(rooms ...string) *BroadcastOperator { return s.main().To(rooms...) }

// In is To.
func (s *Server) In(rooms ...string) *BroadcastOperator { return s.main().In(rooms...) }

// Except leaves out the sockets of the main namespace in rooms.
func (s *Server) Except(rooms ...string) *BroadcastOperator { return s.main().Except(rooms...) }

// Volatile marks a broadcast to the main namespace as droppable.
func (s *Server) Volatile() *BroadcastOperator { return s.main().Volatile() }

// Local keeps a broadcast to the main namespace on this node.
func (s *Server) Local() *BroadcastOperator { return s.main().Local() }

// Timeout sets the ack timeout of a broadcast to the main namespace.
func (s *Server) Timeout(d time.Duration) *BroadcastOperator { return s.main().Timeout(d) }

// FetchSockets lists the sockets of the main namespace on every node.
func (s *Server) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return s.main().FetchSockets(ctx)
}

// SocketsJoin makes every socket of the main namespace join rooms.
func (s *Server) SocketsJoin(rooms ...string) { s.main().SocketsJoin(rooms...) }

// SocketsLeave makes every socket of the main namespace leave rooms.
func (s *Server) SocketsLeave(rooms ...string) { s.main().SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket of the main namespace.
func (s *Server) DisconnectSockets(close bool) { s.main().DisconnectSockets(close) }

// ServerSideEmit sends an event to the main namespace of the other nodes.
func (s *Server) ServerSideEmit(event string, args ...any) error {
	return s.main().ServerSideEmit(event, args...)
}

// OnServerSideEmit handles events other nodes send to the main namespace.
func (s *Server) OnServerSideEmit(event string, h ServerSideHandler) {
	s.main().OnServerSideEmit(event, h)
}

// Use adds a middleware to the main namespace.
func (s *Server) Use(m Middleware) *Namespace { return s.main().Use(m) }

// OnConnection adds a connection handler to the main namespace.
func (s *Server) OnConnection(h func(*Socket)) *Namespace { return s.main().OnConnection(h) }
