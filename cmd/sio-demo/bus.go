package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/sio-go/sio/cluster"
	"github.com/sio-go/sio/core"
)

// bus is what the workers share: the cluster bus on Redis when a URL is
// given, else nothing (each namespace keeps the in-memory adapter).
type bus struct {
	b      *cluster.Bus
	worker int
}

// newBus connects to Redis and waits until every subscription is in
// place, so that a worker that says it is ready misses no broadcast.
func newBus(ctx context.Context, cfg demoConfig, worker int, logger *slog.Logger) (*bus, error) {
	if cfg.RedisURL == "" {
		return &bus{worker: worker}, nil
	}
	b, err := cluster.New(cluster.Options{URL: cfg.RedisURL, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("the cluster bus on %s: %w", cfg.RedisURL, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := b.WaitSubscribed(wctx); err != nil {
		b.Close()
		return nil, fmt.Errorf("the cluster bus on %s did not subscribe: %w", cfg.RedisURL, err)
	}
	return &bus{b: b, worker: worker}, nil
}

// factory is the adapter factory of the server: nil for the in-memory one.
func (b *bus) factory() core.AdapterFactory {
	if b.b == nil {
		return nil
	}
	return b.b.Adapter
}

// metrics writes the bus's counters in the Prometheus text format.
func (b *bus) metrics(w io.Writer) {
	if b.b == nil {
		return
	}
	st := b.b.Stats()
	lbl := `{worker="` + strconv.Itoa(b.worker) + `"}`
	sub := 0
	if st.Subscribed {
		sub = 1
	}
	for _, m := range []struct {
		name, typ, help string
		v               uint64
	}{
		{"sio_demo_cluster_published_total", "counter", "Messages the cluster bus published to Redis.", st.Published},
		{"sio_demo_cluster_received_total", "counter", "Messages the cluster bus received from Redis for this worker's namespaces.", st.Received},
		{"sio_demo_cluster_dropped_total", "counter", "Messages dropped: a queue was full or a message too large.", st.Dropped},
		{"sio_demo_cluster_invalid_total", "counter", "Messages received that could not be decoded.", st.Invalid},
		{"sio_demo_cluster_failed_total", "counter", "Publishes Redis refused or could not take.", st.Failed},
		{"sio_demo_cluster_request_timeouts_total", "counter", "Requests to other workers that ended without every answer.", st.RequestTimeouts},
		{"sio_demo_cluster_reconnects_total", "counter", "Reconnections of the subscription to Redis.", st.Reconnects},
		{"sio_demo_cluster_subscribed", "gauge", "1 when every channel of this worker is subscribed.", uint64(sub)},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s%s %d\n", m.name, m.help, m.name, m.typ, m.name, lbl, m.v)
	}
}

func (b *bus) close() error {
	if b.b == nil {
		return nil
	}
	return b.b.Close()
}
