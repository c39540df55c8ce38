//go:build !linux

package transport

// Parking needs epoll: elsewhere an idle WebSocket session's reader waits
// on a goroutine of its own, as a busy one does.
// canPark: idle WebSocket connections park (tests).
const canPark = false

type parkingLot struct{}

var lot parkingLot

func (*parkingLot) park(*Driver, *corkConn) bool { return false }

func (*parkingLot) unpark(*corkConn) *Driver { return nil }

func (*parkingLot) count() int { return 0 }

func (*parkingLot) parks() uint64 { return 0 }
