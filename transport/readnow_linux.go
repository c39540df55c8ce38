package transport

import (
	"syscall"
	"unsafe"
)

// canReadNow: readNow can read a socket without waiting.
const canReadNow = true

// sysRead and sysWrite are read(2) and write(2) on a socket that never
// blocks (the runtime's poller opens sockets non-blocking), made as raw
// system calls: without the runtime's system-call bookkeeping, which
// wakes its monitor thread on the first system call after every idle
// spell. A connection that carries one message at a time has an idle
// spell between every two messages; on it, that wake-up and the monitor's
// short sleeps that follow cost more CPU than the read itself (see the
// README, "Raw system calls"). The runtime needs the bookkeeping for
// calls that may block, to hand the processor to another thread; these
// return at once, with EAGAIN when they would block. The race detector
// does not see the kernel's write into a read's buffer.
func sysRead(fd uintptr, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(bufPtr(p)), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func sysWrite(fd uintptr, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(bufPtr(p)), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func bufPtr(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Pointer(&p[0])
}
