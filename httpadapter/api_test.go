package httpadapter_test

// Every public call of package core, proven with the official client and
// held against the reference server.
//
// TestAPIAgainstReference runs one script of client commands (api.js)
// against the Go server (apiSetup) and against the reference server
// (apiserver.js, the same namespaces and handlers), and compares what the
// clients saw and what the server-side calls returned, line by line. The
// other tests cover what the reference cannot show: calls it lacks, and
// the differences kept on purpose, each named where it is tested:
//
//   - Broadcast acks without Timeout wait for every answer; the reference
//     arms a timer of undefined ms, which fires at once (TestAPINamespaceEmitAck).
//   - ServerSideEmitWithAck on a node without others completes at once with
//     no answers; the reference's in-memory adapter never calls back
//     (TestAPIServerSideEmit).
//   - A middleware or connection handler added to a dynamic parent applies
//     to its children created before too; the reference copies them into a
//     child when it creates it (TestAPIDynamicNamespaces).
//   - A broadcast with acks answers with every argument of each client's
//     answer (Args); the reference keeps the first. The comparison takes the
//     first.
//   - Socket.Data is nil and Handshake.Auth empty until set or sent; the
//     reference starts both as {}. The comparison shows nil as {}.
//   - Emitting on a socket that has left returns ErrDisconnected, and its
//     pending acks end with ErrDisconnected; the reference drops the
//     packet silently and never calls the ack back.
//   - OnAnyOutgoing sees a broadcast's arguments as their wire form (each
//     an Args element), not the values given to Emit.
//   - A client may see its connect before the connection handlers have
//     run: they run after the answer, on the socket's goroutine, and may
//     block. The reference runs synchronous ones before it handles any
//     other input. A socket's events are handled after them (settled).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
	"github.com/sio-go/sio/httpadapter"
)

// ---------------------------------------------------------------------------
// The Go twin of apiserver.js.

type apiAuth struct {
	Deny    bool     `json:"deny"`
	DenyDyn bool     `json:"denyDyn"`
	Token   string   `json:"token"`
	Data    any      `json:"data"`
	Rooms   []string `json:"rooms"`
}

func authOf(s *core.Socket) apiAuth {
	var a apiAuth
	if s.Handshake().Auth.JSON != nil {
		_ = s.Handshake().Auth.Bind(&a)
	}
	return a
}

// apiServer holds what the operations need.
type apiServer struct {
	srv    *httpadapter.Server
	parent *core.ParentNamespace
}

// apiSetup declares on srv what apiserver.js declares on the reference.
func apiSetup(srv *httpadapter.Server) *apiServer {
	a := &apiServer{srv: srv}
	srv.Use(func(s *core.Socket) error {
		if authOf(s).Deny {
			return &core.ConnectError{Message: "denied", Data: map[string]any{"why": "deny"}}
		}
		return nil
	})
	srv.OnConnection(a.setup)
	admin := srv.Of("/admin")
	admin.Use(func(s *core.Socket) error {
		if authOf(s).Token == "secret" {
			return nil
		}
		return &core.ConnectError{Message: "not authorized", Data: map[string]any{"reason": "bad token"}}
	})
	admin.OnConnection(a.setup)
	a.parent = srv.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
	a.parent.Use(func(s *core.Socket) error {
		if authOf(s).DenyDyn {
			return errors.New("dyn denied")
		}
		return nil
	})
	a.parent.OnConnection(a.setup)
	return a
}

// outLog is what a socket's OnAnyOutgoing listener saw.
type outLog struct {
	mu sync.Mutex
	l  [][]any
}

func (a *apiServer) setup(s *core.Socket) {
	auth := authOf(s)
	if auth.Data != nil {
		s.SetData(auth.Data)
	}
	if len(auth.Rooms) > 0 {
		s.Join(auth.Rooms...)
	}
	out := &outLog{}
	s.OnAnyOutgoing(func(ev string, args []any) {
		entry := []any{ev}
		for _, v := range args {
			entry = append(entry, plain(v))
		}
		out.mu.Lock()
		out.l = append(out.l, entry)
		out.mu.Unlock()
	})
	s.On("echo", func(e *core.Event) { _ = e.Ack(e.Args.Values()...) })
	s.On("x", func(e *core.Event) { _ = e.Ack("x-handled") })
	s.On("op", func(e *core.Event) {
		var o apiOp
		if err := e.Bind(&o); err != nil {
			_ = e.Ack(map[string]any{"bad": err.Error()})
			return
		}
		res, err := a.run(s, &o, out)
		if err != nil {
			res = map[string]any{"bad": err.Error()}
		}
		_ = e.Ack(res)
	})
}

// plain turns an argument as the wire gave it (sio.Raw, or *sio.Raw from
// Args.Values) into a plain value, for comparison and to send back.
func plain(v any) any {
	r, ok := v.(sio.Raw)
	if p, isPtr := v.(*sio.Raw); isPtr && p != nil {
		r, ok = *p, true
	}
	if !ok {
		return v
	}
	var x any
	if err := json.Unmarshal(r.JSON, &x); err != nil {
		return "(bad json)"
	}
	return x
}

func first(a core.Args) any {
	if len(a) == 0 {
		return nil
	}
	return plain(a[0])
}

// apiOp is an operation a client asks for; see run in apiserver.js.
type apiOp struct {
	Op     string              `json:"op"`
	Base   string              `json:"base"`
	Nsp    string              `json:"nsp"`
	Chain  [][]json.RawMessage `json:"chain"`
	Ev     string              `json:"ev"`
	Args   []any               `json:"args"`
	Rooms  []string            `json:"rooms"`
	Except []string            `json:"except"`
	Close  bool                `json:"close"`
	Ack    bool                `json:"ack"`
	Token  string              `json:"token"`
	Action *struct {
		Do      string   `json:"do"`
		Ev      string   `json:"ev"`
		Args    []any    `json:"args"`
		Timeout int      `json:"timeout"`
		Rooms   []string `json:"rooms"`
		Close   bool     `json:"close"`
	} `json:"action"`
}

func (a *apiServer) nsp(s *core.Socket, o *apiOp) *core.Namespace {
	if o.Nsp != "" {
		return a.srv.Of(o.Nsp)
	}
	return s.Namespace()
}

func (a *apiServer) base(s *core.Socket, o *apiOp) (any, error) {
	switch o.Base {
	case "server":
		return a.srv.Server, nil
	case "nsp":
		return a.nsp(s, o), nil
	case "parent":
		return a.parent, nil
	case "socket":
		return s, nil
	}
	return nil, fmt.Errorf("unknown base %q", o.Base)
}

// target applies o.Chain to o.Base, each step through the method of that
// name of the value it has reached; an empty chain on a socket is its
// Broadcast.
func (a *apiServer) target(s *core.Socket, o *apiOp) (any, error) {
	t, err := a.base(s, o)
	if err != nil {
		return nil, err
	}
	if len(o.Chain) == 0 && o.Base == "socket" {
		return s.Broadcast(), nil
	}
	for _, st := range o.Chain {
		if t, err = step(t, st); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func step(t any, st []json.RawMessage) (any, error) {
	var name string
	var rooms []string
	var ms int
	var on bool
	if len(st) == 0 || json.Unmarshal(st[0], &name) != nil {
		return nil, fmt.Errorf("bad step %s", st)
	}
	if len(st) > 1 {
		switch name {
		case "to", "in", "except":
			_ = json.Unmarshal(st[1], &rooms)
		case "timeout":
			_ = json.Unmarshal(st[1], &ms)
		case "compress":
			_ = json.Unmarshal(st[1], &on)
		}
	}
	d := time.Duration(ms) * time.Millisecond
	var r any
	switch t := t.(type) {
	case *core.Server:
		switch name {
		case "to":
			r = t.To(rooms...)
		case "in":
			r = t.In(rooms...)
		case "except":
			r = t.Except(rooms...)
		case "volatile":
			r = t.Volatile()
		case "local":
			r = t.Local()
		case "timeout":
			r = t.Timeout(d)
		}
	case *core.Namespace:
		switch name {
		case "to":
			r = t.To(rooms...)
		case "in":
			r = t.In(rooms...)
		case "except":
			r = t.Except(rooms...)
		case "volatile":
			r = t.Volatile()
		case "local":
			r = t.Local()
		case "timeout":
			r = t.Timeout(d)
		case "compress":
			r = t.Compress(on)
		}
	case *core.ParentNamespace:
		if name == "to" {
			r = t.To(rooms...)
		}
	case *core.Socket:
		switch name {
		case "to":
			r = t.To(rooms...)
		case "in":
			r = t.In(rooms...)
		case "except":
			r = t.Except(rooms...)
		case "volatile":
			r = t.Volatile()
		case "timeout":
			r = t.Timeout(d)
		case "compress":
			r = t.Compress(on)
		}
	case *core.SocketEmitter:
		switch name {
		case "volatile":
			r = t.Volatile()
		case "timeout":
			r = t.Timeout(d)
		}
	case *core.BroadcastOperator:
		switch name {
		case "to":
			r = t.To(rooms...)
		case "in":
			r = t.In(rooms...)
		case "except":
			r = t.Except(rooms...)
		case "volatile":
			r = t.Volatile()
		case "local":
			r = t.Local()
		case "timeout":
			r = t.Timeout(d)
		case "compress":
			r = t.Compress(on)
		}
	}
	if r == nil {
		return nil, fmt.Errorf("no step %q on %T", name, t)
	}
	return r, nil
}

// describe is a fetched socket as apiserver.js describes one. A nil Data
// and an absent auth show as {}, the reference's defaults.
func describe(r *core.RemoteSocket) map[string]any {
	data := r.Data
	if data == nil {
		data = map[string]any{}
	}
	var auth any = map[string]any{}
	if r.Handshake.Auth.JSON != nil {
		auth = plain(r.Handshake.Auth)
	}
	return map[string]any{"id": r.ID, "rooms": r.Rooms, "data": data, "auth": auth, "local": r.Local() != nil}
}

type (
	emitter interface {
		Emit(string, ...any) error
	}
	fetcher interface {
		FetchSockets(context.Context) ([]*core.RemoteSocket, error)
	}
	grouper interface {
		SocketsJoin(...string)
		SocketsLeave(...string)
		DisconnectSockets(bool)
	}
	serverSider interface {
		ServerSideEmit(string, ...any) error
	}
	socketEmitter interface {
		Emit(string, ...any) error
		EmitWithAck(context.Context, string, ...any) (core.Args, error)
	}
)

// errText is err's text, as the reference's error message; a reserved
// name shows as "reserved" on both (their texts differ).
func errText(err error) any {
	if err == nil {
		return nil
	}
	if errors.Is(err, core.ErrReservedEvent) {
		return "reserved"
	}
	return err.Error()
}

// run runs an operation for socket s; out is its OnAnyOutgoing log.
func (a *apiServer) run(s *core.Socket, o *apiOp, out *outLog) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	switch o.Op {
	case "mark":
		for _, n := range a.srv.Namespaces() {
			_ = n.Emit("mark", o.Token)
		}
		return nil, nil
	case "off":
		s.Off(o.Ev)
		return nil, nil
	case "outgoing":
		out.mu.Lock()
		l := out.l
		out.l = nil
		out.mu.Unlock()
		if l == nil {
			l = [][]any{}
		}
		return l, nil
	case "rooms":
		all, ok := a.nsp(s, o).Adapter().(interface {
			AllRooms(context.Context) ([]string, error)
		})
		if !ok {
			return nil, errors.New("the adapter has no AllRooms")
		}
		return all.AllRooms(ctx)
	case "sockets":
		ids := a.nsp(s, o).Adapter().Sockets(o.Rooms)
		if ids == nil {
			ids = []string{}
		}
		return ids, nil
	case "apply":
		ma, ok := a.nsp(s, o).Adapter().(*core.MemoryAdapter)
		if !ok {
			return nil, errors.New("not the in-memory adapter")
		}
		ids := []string{}
		ma.Apply(&core.BroadcastOptions{Rooms: o.Rooms, Except: o.Except}, func(s *core.Socket) { ids = append(ids, s.ID()) })
		return ids, nil
	case "hasRoom":
		ma, ok := a.nsp(s, o).Adapter().(*core.MemoryAdapter)
		if !ok || len(o.Rooms) == 0 {
			return nil, errors.New("not the in-memory adapter, or no room")
		}
		return ma.HasRoom(o.Rooms[0]), nil
	case "nextAckId":
		ma, ok := a.nsp(s, o).Adapter().(*core.MemoryAdapter)
		if !ok {
			return nil, errors.New("not the in-memory adapter")
		}
		return ma.NextAckID(), nil
	case "parentUse":
		a.parent.Use(func(s *core.Socket) error {
			var late struct{ Late bool }
			if s.Handshake().Auth.JSON != nil {
				_ = s.Handshake().Auth.Bind(&late)
			}
			if late.Late {
				return errors.New("late")
			}
			return nil
		})
		return nil, nil
	case "sse":
		b, err := a.base(s, o)
		if err != nil {
			return nil, err
		}
		ss, ok := b.(serverSider)
		if !ok {
			return nil, fmt.Errorf("no ServerSideEmit on %T", b)
		}
		return map[string]any{"err": ss.ServerSideEmit(o.Ev, o.Args...) != nil}, nil
	case "sockEmit":
		var e socketEmitter = s
		var t any = s
		for _, st := range o.Chain {
			var err error
			if t, err = step(t, st); err != nil {
				return nil, err
			}
			e = t.(socketEmitter)
		}
		if !o.Ack {
			return nil, e.Emit(o.Ev, o.Args...)
		}
		ans, err := e.EmitWithAck(ctx, o.Ev, o.Args...)
		return map[string]any{"err": errText(err), "answer": first(ans)}, nil
	}
	t, err := a.target(s, o)
	if err != nil {
		return nil, err
	}
	switch o.Op {
	case "emit":
		e, ok := t.(emitter)
		if !ok {
			return nil, fmt.Errorf("no Emit on %T", t)
		}
		return map[string]any{"err": e.Emit(o.Ev, o.Args...) != nil}, nil
	case "emitAck":
		var res []core.Args
		switch t := t.(type) {
		case *core.BroadcastOperator:
			res, err = t.EmitWithAck(ctx, o.Ev, o.Args...)
		case *core.Namespace:
			type answers struct {
				r   []core.Args
				err error
			}
			done := make(chan answers, 1)
			if err = t.EmitAck(o.Ev, func(r []core.Args, e error) { done <- answers{r, e} }, o.Args...); err == nil {
				a := <-done
				res, err = a.r, a.err
			}
		default:
			return nil, fmt.Errorf("no EmitWithAck on %T", t)
		}
		rs := []any{}
		for _, r := range res {
			rs = append(rs, first(r))
		}
		return map[string]any{"err": errText(err), "responses": rs}, nil
	case "fetch", "remote":
		f, ok := t.(fetcher)
		if !ok {
			return nil, fmt.Errorf("no FetchSockets on %T", t)
		}
		found, err := f.FetchSockets(ctx)
		if err != nil {
			return nil, err
		}
		out := []any{}
		for _, r := range found {
			if o.Op == "fetch" {
				out = append(out, describe(r))
				continue
			}
			if r.Namespace() != a.srv.Of(r.Namespace().Name()) {
				return nil, errors.New("a fetched socket names a namespace of another server")
			}
			act := o.Action
			switch act.Do {
			case "emit":
				err = r.Emit(act.Ev, act.Args...)
			case "emitAck":
				ans, err := r.EmitWithAck(ctx, time.Duration(act.Timeout)*time.Millisecond, act.Ev, act.Args...)
				out = append(out, map[string]any{"id": r.ID, "err": errText(err), "answer": first(ans)})
			case "join":
				r.Join(act.Rooms...)
			case "leave":
				r.Leave(act.Rooms...)
			case "disconnect":
				r.Disconnect(act.Close)
			}
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	case "join", "leave", "disconnect":
		g, ok := t.(grouper)
		if !ok {
			return nil, fmt.Errorf("no SocketsJoin on %T", t)
		}
		switch o.Op {
		case "join":
			g.SocketsJoin(o.Rooms...)
		case "leave":
			g.SocketsLeave(o.Rooms...)
		default:
			g.DisconnectSockets(o.Close)
		}
		return nil, nil
	}
	return nil, fmt.Errorf("unknown op %q", o.Op)
}

// ---------------------------------------------------------------------------
// The processes: api.js as the clients, apiserver.js as the reference.

// startAPIClients runs api.js against the server at base.
func startAPIClients(h *harness, base string) *nodeProc {
	h.t.Helper()
	return h.startScript(120*time.Second, "api.js", base)
}

// startAPIReference runs apiserver.js and returns its base URL.
func startAPIReference(h *harness) string {
	t := h.t
	t.Helper()
	node := requireNode(t)
	dir, _ := filepath.Abs(nodeDir)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "apiserver.js"))
	cmd.Dir = dir
	cmd.WaitDelay = 2 * time.Second
	stderr := new(syncBuffer)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	h.addExtra(func() {
		_ = stdin.Close()
		select {
		case <-waited:
		case <-time.After(3 * time.Second):
			cancel()
			<-waited
		}
		cancel()
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			port <- strings.TrimSpace(sc.Text())
		}
		close(port)
		for sc.Scan() {
		}
	}()
	select {
	case p, ok := <-port:
		if !ok || p == "" {
			t.Fatalf("the reference server printed no port; stderr:\n%s", stderr.String())
		}
		return "http://127.0.0.1:" + p
	case <-time.After(waitFor):
		t.Fatalf("the reference server did not start; stderr:\n%s", stderr.String())
	}
	return ""
}

// ---------------------------------------------------------------------------
// The driver: commands to api.js, and a transcript of what comes back,
// socket ids replaced by client names.

type apiRun struct {
	t     *testing.T
	p     *nodeProc
	ids   map[string]string // socket id -> client name
	live  []string          // clients connected now
	lines []string
	marks int
}

func newAPIRun(t *testing.T, p *nodeProc) *apiRun {
	return &apiRun{t: t, p: p, ids: map[string]string{}}
}

// expect waits for event ev of client name.
func (r *apiRun) expect(ev, name string) nodeEvent {
	r.t.Helper()
	return r.expectOne(name, ev)
}

// expectOne waits for the first of the events evs of client name.
func (r *apiRun) expectOne(name string, evs ...string) nodeEvent {
	r.t.Helper()
	p := r.p
	match := func(e nodeEvent) bool {
		if !slices.Contains(evs, e.Ev) {
			return false
		}
		var f struct{ Name string }
		_ = json.Unmarshal(e.Raw, &f)
		return f.Name == name
	}
	for i, e := range p.backlog {
		if match(e) {
			p.backlog = append(p.backlog[:i:i], p.backlog[i+1:]...)
			return e
		}
	}
	deadline := time.After(waitFor)
	for {
		select {
		case e, ok := <-p.events:
			if !ok {
				r.t.Fatalf("api.js exited before %v of %s; stderr:\n%s\nevents: %s", evs, name, p.stderr.String(), p.seen())
			}
			if e.Ev == "fatal" {
				r.t.Fatalf("api.js failed: %s", e.Raw)
			}
			if match(e) {
				return e
			}
			p.backlog = append(p.backlog, e)
		case <-deadline:
			r.t.Fatalf("no %v of %s within %v; transcript so far:\n%s\nevents: %s", evs, name, waitFor, strings.Join(r.lines, "\n"), p.seen())
		}
	}
}

// norm replaces socket ids with <name>.
func (r *apiRun) norm(s string) string {
	for id, name := range r.ids {
		s = strings.ReplaceAll(s, id, "<"+name+">")
	}
	return s
}

func (r *apiRun) log(format string, args ...any) {
	r.lines = append(r.lines, r.norm(fmt.Sprintf(format, args...)))
}

// connect starts client name on nsp with auth and logs whether it got in;
// want, when not empty, is the outcome required: "connected" or
// "connect_error".
func (r *apiRun) connect(name, nsp string, auth map[string]any, want string) {
	r.t.Helper()
	r.connectQuery(name, nsp, auth, nil, want)
}

func (r *apiRun) connectQuery(name, nsp string, auth, query map[string]any, want string) {
	r.t.Helper()
	r.p.send("connect", map[string]any{"name": name, "nsp": nsp, "auth": auth, "query": query})
	e := r.expectOne(name, "connected", "connect_error")
	var f struct {
		ID, Message string
		Data        json.RawMessage
	}
	e.Decode(r.t, &f)
	if e.Ev == "connected" {
		r.ids[f.ID] = name
		r.live = append(r.live, name)
		r.log("%s connected to %s", name, nsp)
		r.settled(name)
	} else {
		r.log("%s refused on %s: %q %s", name, nsp, f.Message, f.Data)
	}
	if want != "" && e.Ev != want {
		r.t.Fatalf("%s on %s: %s, want %s; transcript:\n%s", name, nsp, e.Ev, want, strings.Join(r.lines, "\n"))
	}
}

// connectedAs waits for the connect of client name, started by a command
// of its own.
func (r *apiRun) connectedAs(name, nsp string) {
	r.t.Helper()
	var f struct{ ID string }
	r.expect("connected", name).Decode(r.t, &f)
	r.ids[f.ID] = name
	r.live = append(r.live, name)
	r.log("%s connected to %s", name, nsp)
	r.settled(name)
}

// settled waits until the server has admitted client name for good: its
// connection handlers have run and it is in its namespace and rooms. The
// client's connect event does not say so on sio, whose handlers run after
// the answer on a goroutine of their own (and may block): a socket's
// events are handled in order after them, so the answer to one does.
func (r *apiRun) settled(name string) {
	r.t.Helper()
	r.p.send("emit", map[string]any{"name": name, "ev": "echo", "args": []any{"settled"}, "ack": true, "timeout": 10000})
	var f struct {
		Err  any
		Args []any
	}
	r.expect("ack", name).Decode(r.t, &f)
	if f.Err != nil || len(f.Args) != 1 || f.Args[0] != "settled" {
		r.t.Fatalf("%s: echo answered %v %v", name, f.Err, f.Args)
	}
}

// op runs an operation as client name and logs its result, canonical.
func (r *apiRun) op(name string, op map[string]any) any {
	r.t.Helper()
	r.p.send("op", map[string]any{"name": name, "op": op})
	var f struct{ Result any }
	r.expect("op", name).Decode(r.t, &f)
	opJS, _ := json.Marshal(op)
	sorted := op["op"] != "outgoing" // the others list sockets or answers
	r.log("op %s by %s -> %s", opJS, name, r.canon(f.Result, sorted))
	return f.Result
}

// canon is v as JSON with ids named, and sorted (their order is the
// server's map order or the network's): the arrays under "rooms" and
// "responses" keys, and with sortTop v itself.
func (r *apiRun) canon(v any, sortTop bool) string {
	var walk func(v any, sortHere bool) any
	walk = func(v any, sortHere bool) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e, k == "rooms" || k == "responses")
			}
			return x
		case []any:
			for i := range x {
				x[i] = walk(x[i], false)
			}
			if sortHere {
				sort.Slice(x, func(i, j int) bool { return r.norm(jsonOf(x[i])) < r.norm(jsonOf(x[j])) })
			}
			return x
		}
		return v
	}
	return r.norm(jsonOf(walk(v, sortTop)))
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// emit has client name emit ev; with ack, it logs the answer.
func (r *apiRun) emit(name, ev string, args []any, timeout int) {
	r.t.Helper()
	r.p.send("emit", map[string]any{"name": name, "ev": ev, "args": args, "ack": true, "timeout": timeout})
	var f struct {
		Ev   string
		Err  any
		Args any
	}
	r.expect("ack", name).Decode(r.t, &f)
	r.log("%s emit %s -> err %v, %s", name, ev, f.Err, r.canon(f.Args, false))
}

// mark asks the server (through client by) to send "mark" to every socket,
// and logs what each live client received before it.
func (r *apiRun) mark(by string) {
	r.t.Helper()
	r.marks++
	token := fmt.Sprint("m", r.marks)
	r.p.send("mark", map[string]any{"name": by, "token": token})
	names := slices.Clone(r.live)
	slices.Sort(names)
	for _, n := range names {
		var f struct {
			Token string
			Log   any
		}
		r.expect("mark", n).Decode(r.t, &f)
		if f.Token != token {
			r.t.Fatalf("%s got mark %s, want %s", n, f.Token, token)
		}
		r.log("%s received %s", n, r.canon(f.Log, false))
	}
}

// disconnected waits for the disconnect of client name and logs it.
func (r *apiRun) disconnected(name string) {
	r.t.Helper()
	var f struct {
		Reason string
		Log    any
	}
	r.expect("disconnect", name).Decode(r.t, &f)
	r.live = slices.DeleteFunc(r.live, func(n string) bool { return n == name })
	r.log("%s disconnected: %s, having received %s", name, f.Reason, r.canon(f.Log, false))
}

// done checks that nothing came that no step awaited.
func (r *apiRun) done() {
	r.t.Helper()
	for _, e := range r.p.backlog {
		r.log("unexpected: %s", e.Raw)
	}
	r.p.backlog = nil
}

// ---------------------------------------------------------------------------
// The script.

type obj = map[string]any

func rooms(r ...string) []string { return r }

func chain(steps ...[]any) [][]any { return steps }

// apiScript runs the same commands on whichever server api.js talks to.
// Z is the controller, in a dynamic namespace of its own; A, B, C are on
// "/", D on "/admin", G and H in dynamic namespaces.
func apiScript(r *apiRun) {
	// Connections, middlewares of the server, a namespace and a parent.
	r.connect("Z", "/dyn-0", obj{}, "connected")
	r.connect("A", "/", obj{"data": obj{"role": "a", "n": 1}, "rooms": rooms("r1", "r2")}, "connected")
	r.connect("B", "/", obj{"rooms": rooms("r1")}, "connected")
	r.connect("C", "/", nil, "connected")
	r.connect("D", "/admin", obj{"token": "secret", "data": 5}, "connected")
	r.connect("E", "/admin", obj{"token": "nope"}, "connect_error")
	r.connect("F", "/", obj{"deny": true}, "connect_error")
	r.connect("G", "/dyn-1", obj{"rooms": rooms("r1")}, "connected")
	r.connect("H", "/dyn-2", obj{}, "connected")
	r.connect("I", "/dyn-3", obj{"denyDyn": true}, "connect_error")
	r.connect("J", "/admin", obj{"deny": true, "token": "secret"}, "connected") // Server.Use guards "/" only
	r.mark("Z")

	// Emits from the server, its namespaces, a parent and a socket.
	for _, op := range []obj{
		{"base": "server", "ev": "s1", "args": []any{1, "two", obj{"three": []int{3}}}},
		{"base": "server", "chain": chain([]any{"to", rooms("r1")}), "ev": "s2"},
		{"base": "server", "chain": chain([]any{"in", rooms("r2")}), "ev": "s3"},
		{"base": "server", "chain": chain([]any{"except", rooms("r2")}), "ev": "s4"},
		{"base": "server", "chain": chain([]any{"volatile"}), "ev": "s5"},
		{"base": "server", "chain": chain([]any{"local"}, []any{"to", rooms("r1", "r2")}), "ev": "s6"},
		{"base": "server", "chain": chain([]any{"to", rooms("r1")}, []any{"in", rooms("r2")}, []any{"except", rooms("r2")}), "ev": "s7"},
		{"base": "nsp", "nsp": "/admin", "ev": "n1", "args": []any{"admin"}},
		{"base": "nsp", "nsp": "/admin", "chain": chain([]any{"compress", false}), "ev": "n2"},
		{"base": "nsp", "nsp": "/", "chain": chain([]any{"local"}, []any{"volatile"}, []any{"compress", true}), "ev": "n3"},
		{"base": "nsp", "nsp": "/", "chain": chain([]any{"in", rooms("r1")}, []any{"except", rooms("r2")}), "ev": "n4"},
		{"base": "nsp", "nsp": "/dyn-1", "chain": chain([]any{"volatile"}), "ev": "n5"},
		{"base": "parent", "chain": chain([]any{"to", rooms("r1")}), "ev": "p1"},
		{"base": "server", "ev": "disconnect"}, // reserved: refused
		{"base": "nsp", "nsp": "/", "chain": chain([]any{"to", rooms("r1")}), "ev": "connect"},
	} {
		op["op"] = "emit"
		r.op("Z", op)
	}
	r.mark("Z")
	for _, op := range []obj{
		{"base": "socket", "chain": chain([]any{"to", rooms("r1")}), "ev": "k1"},
		{"base": "socket", "chain": chain([]any{"in", rooms("r2")}), "ev": "k2"},
		{"base": "socket", "chain": chain([]any{"except", rooms("r2")}), "ev": "k3"},
		{"base": "socket", "ev": "k4"},
		{"base": "socket", "chain": chain([]any{"to", rooms("r1")}, []any{"volatile"}, []any{"local"}), "ev": "k5"},
	} {
		op["op"] = "emit"
		r.op("A", op)
	}
	r.mark("Z")

	// The socket's own emits, with flags, and OnAnyOutgoing.
	r.op("A", obj{"op": "outgoing"})
	r.op("A", obj{"op": "sockEmit", "ev": "o1", "args": []any{"self"}})
	r.op("A", obj{"op": "sockEmit", "chain": chain([]any{"volatile"}), "ev": "o2"})
	r.op("A", obj{"op": "sockEmit", "chain": chain([]any{"compress", false}), "ev": "o3"})
	r.op("A", obj{"op": "sockEmit", "chain": chain([]any{"timeout", 5000}), "ev": "o4", "args": []any{4}, "ack": true})
	r.op("A", obj{"op": "sockEmit", "chain": chain([]any{"volatile"}, []any{"timeout", 5000}), "ev": "o5", "ack": true})
	r.op("A", obj{"op": "sockEmit", "chain": chain([]any{"timeout", 5000}, []any{"volatile"}), "ev": "o6", "ack": true})
	r.op("A", obj{"op": "sockEmit", "ev": "o7", "ack": true})
	r.op("A", obj{"op": "sockEmit", "chain": chain([]any{"timeout", 200}), "ev": "silent-o8", "ack": true})
	r.op("Z", obj{"op": "emit", "base": "server", "chain": chain([]any{"to", rooms("r2")}), "ev": "o9", "args": []any{obj{"k": []any{1, "x"}}}})
	r.op("Z", obj{"op": "emitAck", "base": "server", "chain": chain([]any{"in", rooms("r2")}, []any{"timeout", 5000}), "ev": "o10"})
	r.op("A", obj{"op": "outgoing"})
	r.mark("Z")

	// Broadcasts with acks: every answer, a timeout with the answers that
	// came (the timeouts that others' answers must beat leave them a
	// second), and nobody to ask.
	for _, op := range []obj{
		{"base": "server", "chain": chain([]any{"timeout", 5000}), "ev": "q1", "args": []any{1}},
		{"base": "server", "chain": chain([]any{"to", rooms("r1")}, []any{"timeout", 5000}), "ev": "q2"},
		{"base": "server", "chain": chain([]any{"timeout", 1000}), "ev": "q3", "args": []any{obj{"silent": []string{"B"}}}},
		{"base": "server", "chain": chain([]any{"timeout", 300}), "ev": "silent-q4"},
		{"base": "server", "chain": chain([]any{"to", rooms("nobody")}, []any{"timeout", 300}), "ev": "q5"},
		{"base": "nsp", "nsp": "/admin", "chain": chain([]any{"timeout", 5000}), "ev": "q6"},
		{"base": "nsp", "nsp": "/", "chain": chain([]any{"except", rooms("r1")}, []any{"timeout", 5000}), "ev": "q7"},
		{"base": "socket", "chain": chain([]any{"to", rooms("r1")}, []any{"timeout", 5000}), "ev": "q8"},
		{"base": "server", "chain": chain([]any{"timeout", 5000}), "ev": "connect"},
	} {
		op["op"] = "emitAck"
		by := "Z"
		if op["base"] == "socket" {
			by = "B"
		}
		r.op(by, op)
	}
	r.mark("Z")

	// Fetching sockets, and acting on them.
	r.op("Z", obj{"op": "fetch", "base": "server"})
	r.op("Z", obj{"op": "fetch", "base": "server", "chain": chain([]any{"in", rooms("r1")})})
	r.op("Z", obj{"op": "fetch", "base": "server", "chain": chain([]any{"except", rooms("r2")})})
	r.op("Z", obj{"op": "fetch", "base": "nsp", "nsp": "/admin"})
	r.op("Z", obj{"op": "fetch", "base": "nsp", "nsp": "/dyn-1", "chain": chain([]any{"to", rooms("r1")})})
	r.op("A", obj{"op": "fetch", "base": "socket", "chain": chain([]any{"to", rooms("r1")})})
	r.op("Z", obj{"op": "fetch", "base": "server", "chain": chain([]any{"to", rooms("nobody")})})
	r.op("Z", obj{"op": "remote", "base": "server", "chain": chain([]any{"in", rooms("r1")}), "action": obj{"do": "emit", "ev": "re1", "args": []any{"hi"}}})
	r.op("Z", obj{"op": "remote", "base": "server", "action": obj{"do": "emitAck", "ev": "re2", "timeout": 5000, "args": []any{2}}})
	r.op("Z", obj{"op": "remote", "base": "server", "action": obj{"do": "emitAck", "ev": "re3", "timeout": 1000, "args": []any{obj{"silent": []string{"C"}}}}})
	r.op("Z", obj{"op": "remote", "base": "nsp", "nsp": "/admin", "action": obj{"do": "join", "rooms": rooms("rj", "rk")}})
	r.op("Z", obj{"op": "fetch", "base": "nsp", "nsp": "/admin"})
	r.op("Z", obj{"op": "remote", "base": "nsp", "nsp": "/admin", "action": obj{"do": "leave", "rooms": rooms("rj")}})
	r.op("Z", obj{"op": "fetch", "base": "nsp", "nsp": "/admin"})
	r.mark("Z")

	// Rooms for many sockets at once, and the adapter's view.
	r.op("Z", obj{"op": "join", "base": "server", "rooms": rooms("j1", "j2")})
	r.op("Z", obj{"op": "leave", "base": "server", "chain": chain([]any{"in", rooms("r1")}), "rooms": rooms("j1")})
	r.op("Z", obj{"op": "join", "base": "nsp", "nsp": "/admin", "rooms": rooms("j3")})
	r.op("Z", obj{"op": "join", "base": "nsp", "nsp": "/", "chain": chain([]any{"except", rooms("r2")}), "rooms": rooms("j4")})
	r.op("Z", obj{"op": "leave", "base": "nsp", "nsp": "/", "rooms": rooms("j2")})
	r.op("Z", obj{"op": "join", "base": "server", "chain": chain([]any{"in", rooms("r2")}), "rooms": rooms("j6")})
	r.op("Z", obj{"op": "leave", "base": "server", "rooms": rooms("j6")})
	r.op("B", obj{"op": "join", "base": "socket", "chain": chain([]any{"to", rooms("r1")}), "rooms": rooms("j5")})
	r.op("Z", obj{"op": "fetch", "base": "server"})
	r.op("Z", obj{"op": "fetch", "base": "nsp", "nsp": "/admin"})
	r.op("A", obj{"op": "rooms"})
	r.op("A", obj{"op": "sockets", "rooms": rooms("r1", "j4")})
	r.op("A", obj{"op": "sockets"})
	r.op("Z", obj{"op": "sockets", "nsp": "/admin", "rooms": rooms("nobody")})
	r.op("A", obj{"op": "apply", "rooms": rooms("r1", "j4"), "except": rooms("r2")})
	r.op("A", obj{"op": "apply", "except": rooms("j4")})
	r.op("A", obj{"op": "hasRoom", "rooms": rooms("j4")})
	r.op("A", obj{"op": "hasRoom", "rooms": rooms("j2")})
	r.op("D", obj{"op": "hasRoom", "rooms": rooms("j3")})
	r.op("A", obj{"op": "nextAckId"}) // the acks asked for so far on "/"
	r.op("D", obj{"op": "nextAckId"})
	r.op("Z", obj{"op": "nextAckId"})
	r.op("Z", obj{"op": "emit", "base": "server", "chain": chain([]any{"to", rooms("j1")}), "ev": "j1"})
	r.mark("Z")

	// Server-side emits on one node: nobody to reach; the names a namespace
	// reserves (not a socket's) refused.
	r.op("Z", obj{"op": "sse", "base": "server", "ev": "hello", "args": []any{1}})
	r.op("Z", obj{"op": "sse", "base": "nsp", "nsp": "/admin", "ev": "hello"})
	r.op("Z", obj{"op": "sse", "base": "server", "ev": "disconnecting"}) // reserved for sockets only
	r.op("Z", obj{"op": "sse", "base": "nsp", "ev": "connect"})
	r.op("Z", obj{"op": "sse", "base": "nsp", "nsp": "/", "ev": "connection"})
	r.op("Z", obj{"op": "sse", "base": "server", "ev": "new_namespace"})

	// Off removes the handlers of an event: its acks no longer come.
	r.emit("C", "x", nil, 5000)
	r.op("C", obj{"op": "off", "ev": "x"})
	r.emit("C", "x", nil, 300)
	r.emit("C", "echo", []any{"still", 2}, 5000)

	// Disconnecting: with its connection, a socket that shares it with
	// another namespace; by room; a whole namespace with its connection; a
	// fetched socket; the rest of the main namespace.
	r.connect("P", "/", obj{"rooms": rooms("p")}, "connected")
	r.p.send("connect", map[string]any{"name": "Q", "nsp": "/admin", "manager": "P", "auth": obj{"token": "secret"}})
	r.connectedAs("Q", "/admin")
	r.op("Z", obj{"op": "disconnect", "base": "nsp", "nsp": "/", "chain": chain([]any{"in", rooms("p")}), "close": true})
	r.disconnected("P")
	r.disconnected("Q")
	r.op("Z", obj{"op": "disconnect", "base": "server", "chain": chain([]any{"in", rooms("r2")})})
	r.disconnected("A")
	r.op("Z", obj{"op": "disconnect", "base": "nsp", "nsp": "/admin", "close": true})
	r.disconnected("D")
	r.disconnected("J")
	r.op("Z", obj{"op": "remote", "base": "server", "chain": chain([]any{"in", rooms("r1")}), "action": obj{"do": "disconnect"}})
	r.disconnected("B")
	r.op("Z", obj{"op": "disconnect", "base": "server", "close": true})
	r.disconnected("C")
	r.op("Z", obj{"op": "fetch", "base": "server"})
	r.op("Z", obj{"op": "disconnect", "base": "nsp", "nsp": "/dyn-1", "chain": chain([]any{"to", rooms("r1")})})
	r.disconnected("G")
	r.op("Z", obj{"op": "fetch", "base": "nsp", "nsp": "/dyn-1"})
	r.mark("Z")
	r.done()
}

// TestAPIAgainstReference runs apiScript on the Go server and on the
// reference server and compares the transcripts.
func TestAPIAgainstReference(t *testing.T) {
	requireNode(t)
	h := newHarness(t)
	ref := startAPIReference(h)
	refRun := newAPIRun(t, startAPIClients(h, ref))
	apiScript(refRun)

	e := h.newEnv(nil, httpadapter.Options{}, func(srv *httpadapter.Server) { apiSetup(srv) })
	goRun := newAPIRun(t, startAPIClients(h, e.base))
	apiScript(goRun)

	if testing.Verbose() {
		t.Logf("sio's transcript:\n%s", strings.Join(goRun.lines, "\n"))
	}
	if !slices.Equal(refRun.lines, goRun.lines) {
		var b strings.Builder
		for i := 0; i < max(len(refRun.lines), len(goRun.lines)); i++ {
			var rl, gl string
			if i < len(refRun.lines) {
				rl = refRun.lines[i]
			}
			if i < len(goRun.lines) {
				gl = goRun.lines[i]
			}
			if rl == gl {
				fmt.Fprintf(&b, "  = %s\n", rl)
				continue
			}
			fmt.Fprintf(&b, "  reference: %s\n  sio:       %s\n", rl, gl)
		}
		t.Errorf("the Go server and the reference differ:\n%s", b.String())
	}
}

// ---------------------------------------------------------------------------
// The differences kept on purpose, shown on both servers.

// onBoth runs script against the reference server and against the Go
// server (set up by apiSetup), each with its own api.js, and returns the
// transcripts: reference first.
func onBoth(t *testing.T, script func(r *apiRun)) (ref, sio []string) {
	t.Helper()
	requireNode(t)
	h := newHarness(t)
	refRun := newAPIRun(t, startAPIClients(h, startAPIReference(h)))
	script(refRun)
	refRun.done()
	e := h.newEnv(nil, httpadapter.Options{}, func(srv *httpadapter.Server) { apiSetup(srv) })
	goRun := newAPIRun(t, startAPIClients(h, e.base))
	script(goRun)
	goRun.done()
	return refRun.lines, goRun.lines
}

// wantLines checks that the transcript of who has the lines want, in order
// (others may come between).
func wantLines(t *testing.T, who string, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, l := range got {
		if i < len(want) && l == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("%s: no line %q in order; transcript:\n%s", who, want[i], strings.Join(got, "\n"))
	}
}

// A broadcast with acks and no Timeout: sio waits for every answer; the
// reference arms its timer with an undefined delay, which fires at once,
// before any client can answer. Namespace.EmitAck is the call.
func TestAPINamespaceEmitAck(t *testing.T) {
	ref, sio := onBoth(t, func(r *apiRun) {
		r.connect("Z", "/dyn-0", obj{}, "connected")
		r.connect("A", "/", obj{}, "connected")
		r.connect("B", "/", obj{}, "connected")
		// The clients answer after 50ms: the reference's timer of 1ms has
		// fired by then, whatever the machine's speed.
		r.op("Z", obj{"op": "emitAck", "base": "nsp", "nsp": "/", "ev": "q", "args": []any{obj{"delay": 50}}})
		r.op("Z", obj{"op": "emitAck", "base": "nsp", "nsp": "/admin", "ev": "q"}) // nobody
		r.mark("Z")
	})
	wantLines(t, "reference", ref,
		`op {"args":[{"delay":50}],"base":"nsp","ev":"q","nsp":"/","op":"emitAck"} by Z -> {"err":"operation has timed out","responses":[]}`,
		`op {"base":"nsp","ev":"q","nsp":"/admin","op":"emitAck"} by Z -> {"err":null,"responses":[]}`,
		`A received [["q",{"delay":50}]]`, `B received [["q",{"delay":50}]]`)
	wantLines(t, "sio", sio,
		`op {"args":[{"delay":50}],"base":"nsp","ev":"q","nsp":"/","op":"emitAck"} by Z -> {"err":null,"responses":[{"args":[{"delay":50}],"ev":"q","from":"A"},{"args":[{"delay":50}],"ev":"q","from":"B"}]}`,
		`op {"base":"nsp","ev":"q","nsp":"/admin","op":"emitAck"} by Z -> {"err":null,"responses":[]}`,
		`A received [["q",{"delay":50}]]`, `B received [["q",{"delay":50}]]`)
}

// A middleware added to a dynamic parent once children exist: sio runs it
// for every child, those created before included; the reference copies
// the parent's middlewares into a child when it creates it, so its older
// children go unguarded. Both run it for children created later, and a
// parent's To and Emit reach every child.
func TestAPIDynamicNamespaces(t *testing.T) {
	ref, sio := onBoth(t, func(r *apiRun) {
		r.connect("Z", "/dyn-0", obj{}, "connected")
		r.connect("G", "/dyn-1", obj{"rooms": rooms("g")}, "connected")
		r.op("Z", obj{"op": "parentUse"})
		r.connect("L", "/dyn-0", obj{"late": true}, "")
		r.connect("M", "/dyn-7", obj{"late": true}, "connect_error")
		r.connect("N", "/dyn-7", obj{"rooms": rooms("g")}, "connected")
		r.op("Z", obj{"op": "emit", "base": "parent", "chain": chain([]any{"to", rooms("g")}), "ev": "to-g"})
		r.mark("Z")
	})
	wantLines(t, "reference", ref,
		`L connected to /dyn-0`,
		`M refused on /dyn-7: "late" null`,
		`N connected to /dyn-7`,
		`G received [["to-g"]]`, `L received []`, `N received [["to-g"]]`, `Z received []`)
	wantLines(t, "sio", sio,
		`L refused on /dyn-0: "late" null`,
		`M refused on /dyn-7: "late" null`,
		`N connected to /dyn-7`,
		`G received [["to-g"]]`, `N received [["to-g"]]`, `Z received []`)
}

// ---------------------------------------------------------------------------
// Calls the reference has no counterpart for, or whose counterpart cannot
// be shown on one node.

// id is the socket id of client name.
func (r *apiRun) id(name string) string {
	for id, n := range r.ids {
		if n == name {
			return id
		}
	}
	r.t.Fatalf("no client %s", name)
	return ""
}

// ServerSideEmit on one node: the events of other nodes come through
// HandleServerSideEmit (a cluster adapter's call) to the OnServerSideEmit
// handlers of their namespace; ServerSideEmit reaches nobody, and
// ServerSideEmitWithAck completes at once with no answers (the reference's
// in-memory adapter never calls back), from a handler too.
func TestAPIServerSideEmit(t *testing.T) {
	requireNode(t)
	h := newHarness(t)
	type heard struct {
		nsp, who string
		withAck  bool
	}
	heardCh := make(chan heard, 8)
	var a *apiServer
	e := h.newEnv(nil, httpadapter.Options{}, func(srv *httpadapter.Server) {
		a = apiSetup(srv)
		srv.OnServerSideEmit("greet", func(args core.Args, ack func(...any) error) {
			var who string
			if err := args.Bind(&who); err != nil {
				t.Errorf("bind: %v", err)
			}
			_ = srv.Emit("greeted", who) // tell this node's clients
			if ack != nil {
				_ = ack("hello " + who)
			}
			heardCh <- heard{nsp: "/", who: who, withAck: ack != nil}
		})
		srv.Of("/admin").OnServerSideEmit("greet", func(args core.Args, ack func(...any) error) {
			heardCh <- heard{nsp: "/admin"}
		})
		srv.OnConnection(func(s *core.Socket) {
			s.On("nodes", func(e *core.Event) {
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				res, err := srv.Of("/").ServerSideEmitWithAck(ctx, time.Hour, "count")
				_ = e.Ack(len(res), errText(err))
			})
		})
	})
	srv := e.srv
	r := newAPIRun(t, startAPIClients(h, e.base))
	r.connect("A", "/", obj{}, "connected")
	r.connect("Z", "/dyn-0", obj{}, "connected")
	r.connect("Y", "/dyn-1", obj{}, "connected")

	// Another node's event, as a cluster adapter hands it over.
	var answer []any
	srv.Of("/").HandleServerSideEmit("greet", core.Args{{JSON: []byte(`"node-2"`)}}, func(args ...any) error {
		answer = args
		return nil
	})
	if got := recv(t, heardCh, "the handler"); got != (heard{nsp: "/", who: "node-2", withAck: true}) {
		t.Errorf("handler saw %+v", got)
	}
	if !slices.Equal(answer, []any{"hello node-2"}) {
		t.Errorf("answer %v, want [hello node-2]", answer)
	}
	srv.Of("/").HandleServerSideEmit("greet", core.Args{{JSON: []byte(`"node-3"`)}}, nil)
	if got := recv(t, heardCh, "the handler"); got != (heard{nsp: "/", who: "node-3"}) {
		t.Errorf("handler saw %+v", got)
	}
	srv.Of("/").HandleServerSideEmit("unknown", nil, nil) // no handler: nothing
	r.mark("Z")
	wantLines(t, "sio", r.lines, `A received [["greeted","node-2"],["greeted","node-3"]]`)

	// This node's own ServerSideEmit goes to the other nodes only.
	if err := srv.ServerSideEmit("greet", "self"); err != nil {
		t.Errorf("Server.ServerSideEmit: %v", err)
	}
	if err := srv.To("r").ServerSideEmit("greet", "self"); err != nil {
		t.Errorf("BroadcastOperator.ServerSideEmit: %v", err)
	}
	if err := srv.Of("/admin").ServerSideEmit("greet", "self"); err != nil {
		t.Errorf("Namespace.ServerSideEmit: %v", err)
	}
	// The memory adapter's ServerSideEmit is synchronous: a handler run
	// would be in the channel now.
	if len(heardCh) != 0 {
		t.Errorf("a node's own ServerSideEmit ran its handler: %+v", <-heardCh)
	}
	for _, err := range []error{
		srv.ServerSideEmit("connection"),
		srv.Of("/admin").ServerSideEmit("new_namespace"),
		srv.To("r").ServerSideEmit("connect"),
	} {
		if !errors.Is(err, core.ErrReservedEvent) {
			t.Errorf("reserved name: %v, want ErrReservedEvent", err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if res, err := srv.Of("/").ServerSideEmitWithAck(ctx, time.Hour, "count", 1); err != nil || len(res) != 0 {
		t.Errorf("Namespace.ServerSideEmitWithAck: %v %v, want no answers at once", res, err)
	}
	if res, err := srv.Timeout(time.Hour).ServerSideEmitWithAck(ctx, "count"); err != nil || len(res) != 0 {
		t.Errorf("BroadcastOperator.ServerSideEmitWithAck: %v %v, want no answers at once", res, err)
	}
	if _, err := srv.To("r").ServerSideEmitWithAck(ctx, "count"); !errors.Is(err, core.ErrNoTimeout) {
		t.Errorf("without a timeout: %v, want ErrNoTimeout", err)
	}
	if _, err := srv.Timeout(time.Hour).ServerSideEmitWithAck(ctx, "connect"); !errors.Is(err, core.ErrReservedEvent) {
		t.Errorf("reserved name: %v, want ErrReservedEvent", err)
	}
	if _, err := a.parent.To("r").Timeout(time.Hour).ServerSideEmitWithAck(ctx, "count"); err == nil {
		t.Error("ServerSideEmitWithAck on two namespaces at once: no error")
	}
	r.emit("A", "nodes", nil, 5000)
	wantLines(t, "sio", r.lines, `A emit nodes -> err <nil>, [0,null]`)
}

// The accessors: the server's configuration, logger, namespaces and
// connections, a namespace's server and adapter, the handshake's query,
// the operator's options, the Engine.IO session, and the in-memory
// adapter a cluster adapter embeds.
func TestAPIAccessors(t *testing.T) {
	requireNode(t)
	h := newHarness(t)
	logger := slog.New(slog.DiscardHandler)
	var made []*core.MemoryAdapter
	var mu sync.Mutex
	opts := httpadapter.Options{
		Logger: logger,
		Adapter: func(n *core.Namespace) core.Adapter {
			a := core.NewLocalAdapter(n)
			mu.Lock()
			made = append(made, a)
			mu.Unlock()
			return a
		},
	}
	e := h.newEnv(nil, opts, func(srv *httpadapter.Server) { apiSetup(srv) })
	srv := e.srv
	r := newAPIRun(t, startAPIClients(h, e.base))
	r.connectQuery("A", "/", obj{"rooms": rooms("r1")}, obj{"token": "abc", "n": "1"}, "connected")
	r.connect("Z", "/dyn-0", obj{}, "connected")

	if srv.Logger() != logger || srv.Config().Logger != logger {
		t.Error("Logger: not the logger of the options")
	}
	if c := srv.Config(); c.ConnectTimeout != 45*time.Second || c.Inbox.Events <= 0 {
		t.Errorf("Config: defaults not applied: %+v", c)
	}
	var names []string
	for _, n := range srv.Namespaces() {
		names = append(names, n.Name())
		if n.Server() != srv.Server {
			t.Errorf("%s: Server is not its server", n.Name())
		}
	}
	slices.Sort(names)
	if want := []string{"/", "/admin", "/dyn-0"}; !slices.Equal(names, want) {
		t.Errorf("Namespaces %v, want %v", names, want)
	}
	main := srv.Of("/")
	ma, ok := main.Adapter().(*core.MemoryAdapter)
	mu.Lock()
	if !ok || !slices.Contains(made, ma) {
		t.Error("Adapter: not the adapter the factory made")
	}
	mu.Unlock()
	s := main.Socket(r.id("A"))
	if s == nil {
		t.Fatal("no socket A")
	}
	if got := main.Adapter().Sockets([]string{"r1"}); !slices.Equal(got, []string{s.ID()}) {
		t.Errorf("Sockets(r1) %v, want [%s]", got, s.ID())
	}
	c := s.Conn()
	if srv.Conn(c.SID()) != c || !slices.Contains(srv.Conns(), c) || srv.Conn("nope") != nil {
		t.Error("Conn/Conns: the client's connection not found by its id")
	}
	q := c.Handshake().Query()
	if q.Get("token") != "abc" || q.Get("n") != "1" || q.Get("EIO") != "4" || q.Get("transport") != "websocket" {
		t.Errorf("Handshake().Query() %v", q)
	}
	if s.Handshake().Query().Get("token") != "abc" {
		t.Error("the socket's handshake lost the query")
	}
	var sid string
	var tr string
	c.Session(func(es *eio.Session) { sid, tr = es.SID(), es.Transport().String() })
	if sid != c.SID() || tr != "websocket" {
		t.Errorf("Session: sid %q over %q, want %q over websocket", sid, tr, c.SID())
	}
	if err := (&core.ConnectError{Message: "m", Data: 1}); err.Error() != "m" {
		t.Errorf("ConnectError.Error %q, want its message", err.Error())
	}

	// Operators are values: each call returns a new one.
	base := srv.To("a")
	full := base.In("b").Except("c").Volatile().Local().Compress(false).Timeout(time.Second)
	want := core.BroadcastOptions{Rooms: []string{"a", "b"}, Except: []string{"c"},
		Flags: core.BroadcastFlags{Volatile: true, Local: true, NoCompress: true, Timeout: time.Second}}
	if got := full.Options(); !slices.Equal(got.Rooms, want.Rooms) || !slices.Equal(got.Except, want.Except) || got.Flags != want.Flags {
		t.Errorf("Options %+v, want %+v", got, want)
	}
	if got := base.Options(); !slices.Equal(got.Rooms, []string{"a"}) || len(got.Except) != 0 || got.Flags != (core.BroadcastFlags{}) {
		t.Errorf("the first operator changed: %+v", got)
	}
	if got := srv.Except("x").Options(); !slices.Equal(got.Except, []string{"x"}) {
		t.Errorf("Server.Except: %+v", got)
	}
}

// A fetched socket that has since left: acting on it reaches nobody, and
// EmitWithAck reports ErrDisconnected; the socket itself refuses to emit.
func TestAPIFetchedSocketLeft(t *testing.T) {
	requireNode(t)
	h := newHarness(t)
	gone := make(chan string, 4)
	e := h.newEnv(nil, httpadapter.Options{}, func(srv *httpadapter.Server) {
		apiSetup(srv)
		srv.OnConnection(func(s *core.Socket) {
			s.OnDisconnect(func(string) { gone <- s.ID() })
		})
	})
	srv := e.srv
	r := newAPIRun(t, startAPIClients(h, e.base))
	r.connect("A", "/", obj{"rooms": rooms("r1")}, "connected")
	r.connect("B", "/", obj{}, "connected")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	found, err := srv.In("r1").FetchSockets(ctx)
	if err != nil || len(found) != 1 || found[0].ID != r.id("A") {
		t.Fatalf("FetchSockets(r1): %v %v", found, err)
	}
	rs := found[0]
	s := rs.Local()
	if s == nil || rs.Namespace() != srv.Of("/") {
		t.Fatal("the fetched socket is not the local one")
	}
	r.p.send("disconnect", map[string]any{"name": "A"})
	r.disconnected("A")
	if id := recv(t, gone, "A's disconnect"); id != rs.ID {
		t.Fatalf("disconnect of %s, want %s", id, rs.ID)
	}
	if rs.Local() != nil {
		t.Error("Local: still found after the disconnect")
	}
	if err := rs.Emit("late"); err != nil {
		t.Errorf("Emit to a socket gone: %v", err)
	}
	if _, err := rs.EmitWithAck(ctx, time.Hour, "late"); !errors.Is(err, core.ErrDisconnected) {
		t.Errorf("EmitWithAck to a socket gone: %v, want ErrDisconnected", err)
	}
	rs.Join("z")
	rs.Leave("r1")
	rs.Disconnect(true)
	if got := srv.Of("/").Adapter().Sockets([]string{"z"}); len(got) != 0 {
		t.Errorf("Join on a socket gone put %v in the room", got)
	}
	if err := s.Emit("late"); !errors.Is(err, core.ErrDisconnected) {
		t.Errorf("Socket.Emit after the disconnect: %v, want ErrDisconnected", err)
	}
	if err := s.Volatile().Emit("late"); !errors.Is(err, core.ErrDisconnected) {
		t.Errorf("SocketEmitter.Emit after the disconnect: %v, want ErrDisconnected", err)
	}
	r.mark("B")
	wantLines(t, "sio", r.lines, `B received []`)
}
