// Package subloop keeps a Redis Pub/Sub connection subscribed: it takes a
// dedicated connection of a rueidis client, subscribes, waits until the
// connection is lost, and starts again after a backoff, until told to
// stop. The cluster bus (package cluster) runs its classic protocol's
// subscriptions on it, and cluster/distributor a node's two channels.
//
// It imports github.com/redis/rueidis only. Its entry point is [Run].
package subloop
