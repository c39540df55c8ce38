//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package transport

import "errors"

// canReadNow: a socket cannot be read without waiting here; the read
// itself then waits, on the WebSocket library's deeper stack.
const canReadNow = false

func readNow(uintptr, []byte) (int, error, bool) { return 0, nil, false }

func writeNow(uintptr, []byte) (int, error, bool) { return 0, nil, false }

func dupSocket(uintptr) (int, error) { return -1, errors.ErrUnsupported }

func shutdownSocket(uintptr) {}
