// Package fuzz holds the go test -fuzz targets over every decoder and state
// machine of sio: Engine.IO payloads, frames and handshakes, the server
// session fed arbitrary input and time, the Socket.IO decoder, argument
// binding, and the whole server connection. Each target asserts an
// invariant: the input is accepted, or rejected with the package's typed
// error; never a panic, never growth past the configured limits.
//
// Seed corpora, built from the examples of the protocol specifications,
// live in testdata/fuzz. Run one target with
//
//	go test -run='^$' -fuzz='^FuzzSIODecoder$' -fuzztime=60s ./fuzz
//
// The package has no code outside its tests.
package fuzz
