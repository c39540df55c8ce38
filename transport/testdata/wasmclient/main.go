//go:build js

// Command wasmclient is the Go client run in a browser by
// TestClient_InBrowser: it connects to the page's origin on the
// transports the page's query names ("?transports=polling,websocket"),
// runs a short exchange, and posts each step's outcome to /report, one
// line each, ending with "done" or "error ...".
package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall/js"
	"time"

	"github.com/sio-go/sio/transport"
)

var origin = js.Global().Get("location").Get("origin").String()

func report(format string, args ...any) {
	resp, err := http.Post(origin+"/report", "text/plain", bytes.NewReader(fmt.Appendf(nil, format, args...)))
	if err == nil {
		resp.Body.Close()
	}
}

func main() {
	if err := run(); err != nil {
		report("error %v", err)
		return
	}
	report("done")
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	q, _ := url.ParseQuery(strings.TrimPrefix(js.Global().Get("location").Get("search").String(), "?"))
	opts := &transport.ClientOptions{Transports: strings.Split(q.Get("transports"), ",")}
	c, err := transport.Dial(ctx, origin, opts)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	s := c.Socket("/", map[string]string{"token": "from the browser"})
	welcome := make(chan string, 1)
	s.On("welcome", func(e *transport.ClientEvent) {
		var v string
		_ = e.Args.Bind(&v)
		select {
		case welcome <- v:
		default:
		}
	})
	if err := s.Connect(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	select {
	case v := <-welcome:
		report("welcome %s", v)
	case <-ctx.Done():
		return fmt.Errorf("welcome: %w", ctx.Err())
	}
	args, err := s.EmitWithAck(ctx, "echo", "hi", []byte{1, 2, 3})
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	var text string
	var bin []byte
	if err := args.Bind(&text, &bin); err != nil {
		return fmt.Errorf("echo answer: %w", err)
	}
	report("echo %s %v", text, bin)
	if len(opts.Transports) > 1 {
		for c.Transport() != "websocket" {
			if ctx.Err() != nil {
				return fmt.Errorf("upgrade: %w", ctx.Err())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	report("transport %s", c.Transport())
	s.Disconnect()
	return nil
}
