package redisopt_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/sio-go/sio/cluster/internal/redisopt"
	"github.com/sio-go/sio/transport/peertest"
)

// A client made from each kind of URL (TCP, a Unix socket, TLS) talks to a
// real Redis, over connections that are raw sockets where they can be.
func TestFromURL(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "redis.sock")
	r := peertest.StartRedis(t, "--unixsocket", sock, "--unixsocketperm", "700")
	proxy, roots := tlsProxy(t, r.Addr())
	for _, tc := range []struct{ name, url string }{
		{"tcp", r.URL()},
		{"unix", "unix://" + sock},
		{"tls", "rediss://" + proxy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			co, err := redisopt.FromURL(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if !co.DisableCache {
				t.Error("the client-side cache is on")
			}
			if co.TLSConfig != nil {
				co.TLSConfig.RootCAs = roots
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := co.DialCtxFn(ctx, co.InitAddress[0], &co.Dialer, co.TLSConfig)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if tconn, ok := c.(*tls.Conn); ok {
				c = tconn.NetConn() // TLS goes over the raw socket
			}
			switch c.(type) {
			case *net.TCPConn, *net.UnixConn:
				if runtime.GOOS == "linux" {
					t.Errorf("the dial gave a %T, not a raw socket", c)
				}
			}
			client, err := rueidis.NewClient(co)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			if err := client.Do(ctx, client.B().Set().Key("k").Value(tc.name).Build()).Error(); err != nil {
				t.Fatal(err)
			}
			got, err := client.Do(ctx, client.B().Get().Key("k").Build()).ToString()
			if err != nil || got != tc.name {
				t.Fatalf("GET = %q, %v; want %q", got, err, tc.name)
			}
		})
	}
}

// tlsProxy forwards TLS connections on a free loopback port to the Redis at
// addr; roots trusts its certificate.
func tlsProxy(t *testing.T, addr string) (string, *x509.CertPool) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	cfg := ts.TLS.Clone()
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	ts.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			track(in)
			track(out)
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(out, in); out.Close() }()
			go func() { defer wg.Done(); io.Copy(in, out); in.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), roots
}
