//go:build darwin || freebsd || netbsd || openbsd

package transport

import "syscall"

// canReadNow: readNow can read a socket without waiting.
const canReadNow = true

func sysRead(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }

func sysWrite(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }
