// Package redisopt makes the Redis client options of the cluster's
// packages when they are given a URL rather than a client.
package redisopt

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/redis/rueidis"
	"github.com/sio-go/sio/transport"
)

// FromURL parses url (redis://, rediss://, unix://, with the options
// rueidis.ParseURL reads) into client options: no client-side cache (the
// bus only publishes and subscribes), and sockets read and written with
// raw system calls (transport.RawSocket), as sio's WebSocket connections
// are, so that a message from Redis after an idle spell does not wake the
// runtime's monitor thread.
func FromURL(url string) (rueidis.ClientOption, error) {
	co, err := rueidis.ParseURL(url)
	if err != nil {
		return co, err
	}
	co.DisableCache = true
	dial := co.DialCtxFn // unix:// sets one
	co.DialCtxFn = func(ctx context.Context, dst string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
		if dial != nil {
			c, err := dial(ctx, dst, d, cfg)
			if err != nil {
				return nil, err
			}
			return transport.RawSocket(c), nil
		}
		c, err := d.DialContext(ctx, "tcp", dst)
		if err != nil {
			return nil, err
		}
		c = transport.RawSocket(c)
		if cfg == nil {
			return c, nil
		}
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(dst)
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
	return co, nil
}
