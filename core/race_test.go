//go:build race

package core

// raceOn: the race detector is on: code runs several times slower, and
// sync.Pool drops items at random, so allocation counts vary.
const raceOn = true
