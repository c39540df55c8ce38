//go:build linux || darwin || freebsd || netbsd || openbsd

package transport

import "syscall"

// peekReadable reports whether the socket fd has bytes (or its end) to
// read, without consuming them; false means the read would block.
func peekReadable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
}
