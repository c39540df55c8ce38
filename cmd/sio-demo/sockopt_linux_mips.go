//go:build linux && (mips || mipsle || mips64 || mips64le)

package main

// soReusePort is SO_REUSEPORT on Linux on MIPS.
const soReusePort = 0x200
