package main

import (
	"net"
	"syscall"
)

// reusePortSupported: several processes can listen on one port, the kernel
// spreading new connections among them.
const reusePortSupported = true

// reusePortConfig sets SO_REUSEPORT on the listening socket.
var reusePortConfig = net.ListenConfig{
	Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
		}); err != nil {
			return err
		}
		return serr
	},
}
