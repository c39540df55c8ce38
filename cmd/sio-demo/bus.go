package main

import (
	"context"
	"errors"
	"io"

	"github.com/sio-go/sio/core"
)

// bus is the adapter the workers share: the in-memory one when no Redis
// URL is given.
type bus struct {
	f       core.AdapterFactory
	closeFn func() error
	metrics func(w io.Writer)
}

func newBus(_ context.Context, cfg demoConfig, _ int) (*bus, error) {
	if cfg.RedisURL == "" {
		return &bus{}, nil
	}
	return nil, errors.New("REDIS_URL is set, but this build has no cluster bus yet (package cluster)")
}

func (b *bus) factory() core.AdapterFactory { return b.f }

func (b *bus) close() error {
	if b.closeFn == nil {
		return nil
	}
	return b.closeFn()
}
