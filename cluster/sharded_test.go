package cluster_test

import (
	"strings"
	"testing"

	"github.com/sio-go/sio/cluster"
	"github.com/sio-go/sio/transport/peertest"
)

var shardedModes = []cluster.SubscriptionMode{cluster.DynamicRooms, cluster.StaticChannels, cluster.DynamicPrivate}

// The sharded protocol on a standalone Redis 7, in each subscription mode,
// with the checks of the classic protocol's tests.
func TestShardedStandalone(t *testing.T) {
	for _, mode := range shardedModes {
		t.Run(mode.String(), func(t *testing.T) {
			opts := cluster.Options{Protocol: cluster.Sharded, SubscriptionMode: mode}
			t.Run("Broadcasts", func(t *testing.T) { testBroadcasts(t, opts) })
			t.Run("BroadcastOrder", func(t *testing.T) { testBroadcastOrder(t, opts) })
			t.Run("RoomsAcrossNodes", func(t *testing.T) { testRoomsAcrossNodes(t, opts) })
			t.Run("FetchSockets", func(t *testing.T) { testFetchSockets(t, opts) })
			t.Run("ServerSideEmit", func(t *testing.T) { testServerSideEmit(t, opts) })
			t.Run("BroadcastWithAcks", func(t *testing.T) { testBroadcastWithAcks(t, opts) })
		})
	}
}

// clusterURL is the URL of a Redis Cluster: the first node, the others as
// more seed addresses.
func clusterURL(c *peertest.RedisCluster) string {
	addrs := c.Addrs()
	return "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
}

// The sharded protocol on a real Redis Cluster of three masters: channels
// live on different nodes, the client routes each SSUBSCRIBE and SPUBLISH
// to its slot's owner, and the server count sums every node.
func TestShardedRedisCluster(t *testing.T) {
	rc := peertest.StartRedisCluster(t, 3)
	for _, mode := range []cluster.SubscriptionMode{cluster.DynamicRooms, cluster.StaticChannels} {
		t.Run(mode.String(), func(t *testing.T) {
			opts := cluster.Options{URL: clusterURL(rc), Protocol: cluster.Sharded, SubscriptionMode: mode}
			t.Run("Broadcasts", func(t *testing.T) { testBroadcasts(t, opts) })
			t.Run("RoomsAcrossNodes", func(t *testing.T) { testRoomsAcrossNodes(t, opts) })
			t.Run("FetchSockets", func(t *testing.T) { testFetchSockets(t, opts) })
			t.Run("ServerSideEmit", func(t *testing.T) { testServerSideEmit(t, opts) })
			t.Run("BroadcastWithAcks", func(t *testing.T) { testBroadcastWithAcks(t, opts) })
		})
	}
}

// The classic protocol on the same Redis Cluster: PUBLISH reaches every
// node's subscribers, and NUMSUB is summed over the nodes.
func TestClassicRedisCluster(t *testing.T) {
	rc := peertest.StartRedisCluster(t, 3)
	opts := cluster.Options{URL: clusterURL(rc)}
	t.Run("Broadcasts", func(t *testing.T) { testBroadcasts(t, opts) })
	t.Run("RoomsAcrossNodes", func(t *testing.T) { testRoomsAcrossNodes(t, opts) })
	t.Run("FetchSockets", func(t *testing.T) { testFetchSockets(t, opts) })
	t.Run("ServerSideEmit", func(t *testing.T) { testServerSideEmit(t, opts) })
}
