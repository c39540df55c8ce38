// Package publoop publishes a node's messages to Redis, in order: [Run]
// takes what a queue holds in batches and, once told to stop, publishes
// what is left for at most a second; a [Publisher] sends a batch in one
// round trip, sends again once what met a connection Redis had closed
// (see [Stale]), and counts what Redis accepted and what failed. The
// cluster bus (package cluster) and cluster/distributor's link publish
// through it, as they subscribe through cluster/internal/subloop.
//
// It also holds the two helpers that both of them use around their loops:
// [Limited], a warning log of at most one line a second per kind, and
// [RandomID].
//
// It imports cluster/internal/subloop (for its command timeout) and
// github.com/redis/rueidis only.
package publoop
