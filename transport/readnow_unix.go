//go:build linux || darwin || freebsd || netbsd || openbsd

package transport

import "syscall"

// readNow reads what the socket fd holds into p, without waiting; wait
// is true when it holds nothing yet. n is 0 with a nil err at the end of
// the stream.
func readNow(fd uintptr, p []byte) (n int, err error, wait bool) {
	for {
		n, err = sysRead(fd, p)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil, true
		case nil:
			return n, nil, false
		}
		return 0, err, false
	}
}

// writeNow writes p to the socket fd, as much as it takes without
// waiting; wait is true when it takes no more now.
func writeNow(fd uintptr, p []byte) (n int, err error, wait bool) {
	for n < len(p) {
		k, err := sysWrite(fd, p[n:])
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return n, nil, true
		case nil:
			n += k
			continue
		}
		return n, err, false
	}
	return n, nil, false
}

// dupSocket makes a second descriptor of the socket fd, closed on exec.
func dupSocket(fd uintptr) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := syscall.Dup(int(fd))
	if err == nil {
		syscall.CloseOnExec(nfd)
	}
	return nfd, err
}

// shutdownSocket shuts the socket fd down both ways.
func shutdownSocket(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_RDWR) }
