//go:build linux

package transport

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// The parking lot: one epoll instance for the whole process, in which
// idle WebSocket connections wait for their next bytes without a
// goroutine (see park.go). The epoll instance is itself waited on through
// the runtime's network poller, by one goroutine that lives while some
// connection is parked.

// epollOneShot disarms a connection once it has reported readiness: it
// is woken once per park.
const epollOneShot = 1 << 30

// canPark: idle WebSocket connections park (tests).
const canPark = true

type parkingLot struct {
	once sync.Once
	file *os.File // the epoll instance, as the runtime polls it
	rc   syscall.RawConn
	fd   int
	err  error // of the set-up, or of the epoll instance later: parking is off

	mu     sync.Mutex
	next   uint64
	parked map[uint64]parkedReader // by park id, the epoll event's data
	alive  bool                    // a goroutine waits on the epoll instance

	// What the last wait collected; the lot's goroutine's only.
	evs    []syscall.EpollEvent
	n      int
	werr   error
	waitFn func(fd uintptr) bool
}

type parkedReader struct {
	d *Driver
	c *corkConn
}

var lot parkingLot

func (p *parkingLot) setup() {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		p.err = err
		return
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		p.err = err
		return
	}
	// Non-blocking: the runtime's poller waits on it for us.
	p.file = os.NewFile(uintptr(fd), "sio-parking")
	if p.rc, err = p.file.SyscallConn(); err != nil {
		p.file.Close()
		p.err = err
		return
	}
	// A deadline that cannot be set means the file is not polled: a
	// wait on it would hold a thread.
	if err := p.file.SetReadDeadline(time.Time{}); err != nil {
		p.file.Close()
		p.err = err
		return
	}
	p.fd = fd
	p.parked = make(map[uint64]parkedReader)
	p.evs = make([]syscall.EpollEvent, 128)
	p.waitFn = p.collect
}

// park registers c in the epoll instance, to run d's reader again once c
// is readable (or closed by the peer); false when c cannot be parked (the
// caller then waits itself).
func (p *parkingLot) park(d *Driver, c *corkConn) bool {
	p.once.Do(p.setup)
	if p.err != nil || c.rc == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return false
	}
	p.next++
	id := p.next
	ok := false
	cerr := c.rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{
			Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollOneShot,
			Fd:     int32(uint32(id)),
			Pad:    int32(uint32(id >> 32)),
		}
		op := syscall.EPOLL_CTL_MOD
		if !c.parkAdded {
			op = syscall.EPOLL_CTL_ADD
		}
		if syscall.EpollCtl(p.fd, op, int(fd), &ev) == nil {
			c.parkAdded, ok = true, true
		}
	})
	if cerr != nil || !ok {
		return false // closed meanwhile, most likely: the caller reads that
	}
	p.parked[id] = parkedReader{d, c}
	c.parkID = id
	if !p.alive {
		p.alive = true
		_ = p.file.SetReadDeadline(time.Time{})
		go p.run()
	}
	return true
}

// unpark takes c out of the lot, if it is parked there, before it is
// closed: closing a connection takes it out of the epoll instance without
// an event, so its reader must be woken here. It returns the driver whose
// reader to wake once c is closed.
func (p *parkingLot) unpark(c *corkConn) *Driver {
	if c.rc == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.parkID == 0 {
		return nil
	}
	d := p.parked[c.parkID].d
	delete(p.parked, c.parkID)
	c.parkID = 0
	if len(p.parked) == 0 && p.alive {
		// Nobody left to wait for: the lot's goroutine ends.
		_ = p.file.SetReadDeadline(time.Unix(1, 0))
	}
	return d
}

// run waits on the epoll instance and wakes the readers of the connections
// that became readable, until none is parked.
func (p *parkingLot) run() {
	var wake []*Driver
	for {
		err := p.rc.Read(p.waitFn)
		if err == nil {
			err, p.werr = p.werr, nil
		}
		p.mu.Lock()
		for _, ev := range p.evs[:p.n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if r, ok := p.parked[id]; ok {
				delete(p.parked, id)
				r.c.parkID = 0
				wake = append(wake, r.d)
			}
		}
		p.n = 0
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// The epoll instance failed: wake every reader, and park
			// none from now on.
			p.err = err
			for id, r := range p.parked {
				delete(p.parked, id)
				r.c.parkID = 0
				wake = append(wake, r.d)
			}
		}
		last := len(p.parked) == 0
		if last {
			p.alive = false
		} else if err != nil {
			_ = p.file.SetReadDeadline(time.Time{}) // parked again meanwhile
		}
		p.mu.Unlock()
		for i, d := range wake {
			d.unparked()
			wake[i] = nil
		}
		wake = wake[:0]
		if last {
			return
		}
	}
}

// collect is the callback of the lot's raw read: it takes the events that
// are ready, and reports false (wait for the poller) when none is.
func (p *parkingLot) collect(fd uintptr) bool {
	for {
		n, err := syscall.EpollWait(int(fd), p.evs, 0)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			p.n, p.werr = 0, err
			return true
		case n == 0:
			return false
		}
		p.n = n
		return true
	}
}

// count is how many connections are parked (tests).
func (p *parkingLot) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// parks is how many parks there have been (tests).
func (p *parkingLot) parks() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}
