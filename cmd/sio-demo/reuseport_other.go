//go:build !linux

package main

import "net"

// reusePortSupported is false: the demo runs one process here.
const reusePortSupported = false

var reusePortConfig = net.ListenConfig{}
