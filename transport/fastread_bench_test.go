//go:build !js

package transport

import "testing"

// BenchmarkWholeMessage: the check the fast read makes before each
// message, on a small event split between the two buffers.
func BenchmarkWholeMessage(b *testing.B) {
	msg := maskedFrame(true, opText, []byte(`42["echo","still-alive",{"n":1}]`))
	b.ReportAllocs()
	for b.Loop() {
		if !wholeMessage(msg[:9], msg[9:]) {
			b.Fatal("not whole")
		}
	}
}
