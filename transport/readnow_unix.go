//go:build linux || darwin || freebsd || netbsd || openbsd

package transport

import "syscall"

// canReadNow: readNow can read a socket without waiting.
const canReadNow = true

// readNow reads what the socket fd holds into p, without waiting; wait
// is true when it holds nothing yet. n is 0 with a nil err at the end of
// the stream.
func readNow(fd uintptr, p []byte) (n int, err error, wait bool) {
	for {
		n, err = syscall.Read(int(fd), p)
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
