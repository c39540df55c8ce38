//go:build race

package httpadapter_test

// raceOn: the race detector is on; code runs several times slower.
const raceOn = true
