//go:build linux && !(mips || mipsle || mips64 || mips64le)

package main

// soReusePort is SO_REUSEPORT on Linux (the syscall package does not name
// it on every architecture).
const soReusePort = 0xf
