package httpadapter_test

import (
	"testing"

	"github.com/sio-go/sio/transport/peertest"
)

// checkLeaks fails the test if a goroutine it started outlives its
// cleanups (register it first).
func checkLeaks(t *testing.T) { peertest.CheckLeaks(t) }
