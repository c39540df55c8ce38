package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// demoConfig is what the demo server runs with. Every field comes from a
// flag whose default is read from an environment variable, as on a
// platform that configures processes through their environment.
type demoConfig struct {
	Host          string
	Port          int
	Concurrency   int           // worker processes sharing the port
	RedisURL      string        // the cluster bus; "" for the in-memory adapter
	SeqInterval   time.Duration // per-client seq-num
	BcastInterval time.Duration // s2c-event broadcast
	Transports    string        // "auto", "websocket", "polling" or "polling,websocket"
}

// setting is one flag and the variable that gives its default.
type setting struct {
	flag, env, def, usage string
}

var demoSettings = []setting{
	{"host", "HOST", "localhost", "interface to listen on; 0.0.0.0 (or \"\") for every interface"},
	{"port", "PORT", "3000", "TCP port; 0 picks a free one"},
	{"concurrency", "WEB_CONCURRENCY", "1", "worker processes sharing the port (SO_REUSEPORT, Linux only); more than 1 needs -redis"},
	{"redis", "REDIS_URL", "", "Redis URL of the cluster bus (redis://host:port/db); empty: one process, in-memory adapter"},
	{"seq-interval", "SERVER2CLIENT_MESSAGE_INTERVAL_MSECS", "1000", "milliseconds between the seq-num events sent to each client"},
	{"broadcast-interval", "BROADCAST_MESSAGE_INTERVAL_MSECS", "1000", "milliseconds between the s2c-event broadcasts of each worker to every client"},
	{"transports", "SIO_TRANSPORTS", "auto", "transports offered: polling,websocket, websocket or polling; auto is websocket alone when several processes may serve one address (more than one worker, or REDIS_URL set), polling,websocket otherwise"},
}

const demoHelpTail = `
Each flag's default comes from the environment variable in parentheses.

Events: every client gets "welcome" on connect (the worker that answered),
then "seq-num" with its own counter (1, 2, 3...) every -seq-interval; each
worker broadcasts "s2c-event" {from, n, t, clients} to every client of the
cluster every -broadcast-interval; "c2s-event" from a client is answered
with an ack {worker, n, t}.

Endpoints: / the live page (/?client=go runs sio's Go client compiled to
WebAssembly, built with the local go command on the first request),
/socket.io/ Socket.IO, /healthz, /metrics (Prometheus text format). With
several workers, /healthz and /metrics answer from the worker that took
the connection, and every metric carries its worker="N" label.

Several processes on one port: the kernel hands each new TCP connection
to any of the workers (SO_REUSEPORT). A polling session is a series of
HTTP requests that must all reach the worker holding the session, which
needs sticky sessions; nothing here provides them, so with -concurrency
above 1 the server offers WebSocket only (one TCP connection per session).
The same holds with REDIS_URL set and one process, as on a platform that
runs several of them behind a router without session affinity: there too
auto means WebSocket only; with sticky sessions, -transports
polling,websocket offers both. The workers share broadcasts and the
socket list through the cluster bus on Redis, which is why -concurrency
above 1 needs -redis.

SIGINT or SIGTERM stops the server: clients are told, workers stop.
`

// parseDemoFlags reads the demo server's flags, with defaults from getenv.
// It returns flag.ErrHelp after printing the help to out.
func parseDemoFlags(args []string, getenv func(string) string, out io.Writer) (demoConfig, error) {
	fs := flag.NewFlagSet("sio-demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := make(map[string]*string, len(demoSettings))
	for _, s := range demoSettings {
		def := s.def
		if v, ok := lookup(getenv, s.env); ok {
			def = v
		}
		vals[s.flag] = fs.String(s.flag, def, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			demoUsage(out)
			return demoConfig{}, err
		}
		return demoConfig{}, err
	}
	if fs.NArg() > 0 {
		return demoConfig{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := demoConfig{Host: *vals["host"], RedisURL: *vals["redis"], Transports: *vals["transports"]}
	var err error
	if cfg.Port, err = intSetting("port", *vals["port"], 0, 65535); err != nil {
		return cfg, err
	}
	if cfg.Concurrency, err = intSetting("concurrency", *vals["concurrency"], 1, 64); err != nil {
		return cfg, err
	}
	ms, err := intSetting("seq-interval", *vals["seq-interval"], 10, 3_600_000)
	if err != nil {
		return cfg, err
	}
	cfg.SeqInterval = time.Duration(ms) * time.Millisecond
	if ms, err = intSetting("broadcast-interval", *vals["broadcast-interval"], 10, 3_600_000); err != nil {
		return cfg, err
	}
	cfg.BcastInterval = time.Duration(ms) * time.Millisecond
	switch cfg.Transports {
	case "auto", "websocket", "polling,websocket", "websocket,polling", "polling":
	default:
		return cfg, fmt.Errorf("-transports must be auto, websocket, polling or polling,websocket, not %q", cfg.Transports)
	}
	if cfg.Concurrency > 1 && cfg.RedisURL == "" {
		return cfg, fmt.Errorf("WEB_CONCURRENCY=%d needs REDIS_URL: each worker process holds its own clients, so without the cluster bus a worker's broadcast would reach only its own clients and the client count would be one worker's; set REDIS_URL (or -redis), or run one process", cfg.Concurrency)
	}
	if cfg.Concurrency > 1 && strings.Contains(cfg.Transports, "polling") {
		return cfg, fmt.Errorf("-transports %s with %d processes on one port: polling needs every request of a session to reach the same process (sticky sessions), which SO_REUSEPORT does not do; use websocket", cfg.Transports, cfg.Concurrency)
	}
	return cfg, nil
}

// transports is the list the server offers.
func (c demoConfig) transports() []string {
	switch c.Transports {
	case "auto":
		if c.Concurrency > 1 || c.RedisURL != "" {
			return []string{"websocket"}
		}
		return []string{"polling", "websocket"}
	case "websocket":
		return []string{"websocket"}
	case "polling":
		return []string{"polling"}
	}
	return []string{"polling", "websocket"}
}

func (c demoConfig) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

func lookup(getenv func(string) string, name string) (string, bool) {
	if getenv == nil {
		return os.LookupEnv(name)
	}
	v := getenv(name)
	return v, v != ""
}

func intSetting(name, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("-%s must be a whole number from %d to %d, not %q", name, lo, hi, v)
	}
	return n, nil
}

func demoUsage(w io.Writer) {
	fmt.Fprint(w, `usage: sio-demo [flags]              the demo server (this text)
       sio-demo client [flags]       the load tool: many sessions against a server (-h for its flags)
       sio-demo bench [flags]        sio-demo client -compare: the bench server, the reference
                                     server and a plain WebSocket server side by side
       sio-demo serve [flags]        the bench's echo server (-plain: without Socket.IO)

The demo server: a Socket.IO server with a live page at /.

flags:
`)
	for _, s := range demoSettings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  -%s (%s)\n        %s (default %s)\n", s.flag, s.env, s.usage, def)
	}
	fmt.Fprint(w, demoHelpTail)
}
