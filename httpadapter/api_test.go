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

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// plain turns an argument as the wire gave it (sio.Raw) into a plain
// value, for comparison and to send back.
func plain(v any) any {
	r, ok := v.(sio.Raw)
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
			done := make(chan struct{})
			if err = t.EmitAck(o.Ev, func(r []core.Args, e error) { res, err = r, e; close(done) }, o.Args...); err == nil {
				<-done
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
	t := h.t
	t.Helper()
	node := requireNode(t)
	dir, _ := filepath.Abs(nodeDir)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "api.js"), base)
	cmd.Dir = dir
	cmd.WaitDelay = 2 * time.Second
	p := &nodeProc{t: t, name: "api.js", cmd: cmd, events: make(chan nodeEvent, 4096), stderr: new(syncBuffer), exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			var head struct{ Ev string }
			line := append([]byte(nil), sc.Bytes()...)
			if json.Unmarshal(line, &head) != nil {
				head.Ev = "(garbage)"
			}
			p.events <- nodeEvent{Ev: head.Ev, Raw: line}
		}
		close(p.events)
	}()
	waited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(waited)
		close(p.exited)
	}()
	h.addClient(func() {
		_ = p.stdin.Close()
		select {
		case <-waited:
		case <-time.After(3 * time.Second):
			cancel()
			<-waited
		}
		cancel()
		for range p.events {
		}
	})
	return p
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
	p := r.p
	match := func(e nodeEvent) bool {
		if e.Ev != ev {
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
				r.t.Fatalf("api.js exited before %s of %s; stderr:\n%s\nevents: %s", ev, name, p.stderr.String(), p.seen())
			}
			if e.Ev == "fatal" {
				r.t.Fatalf("api.js failed: %s", e.Raw)
			}
			if match(e) {
				return e
			}
			p.backlog = append(p.backlog, e)
		case <-deadline:
			r.t.Fatalf("no %s of %s within %v; transcript so far:\n%s\nevents: %s", ev, name, waitFor, strings.Join(r.lines, "\n"), p.seen())
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

// connect starts client name on nsp with auth; want is "connected" or
// "connect_error".
func (r *apiRun) connect(name, nsp string, auth map[string]any, want string) {
	r.t.Helper()
	r.p.send("connect", map[string]any{"name": name, "nsp": nsp, "auth": auth})
	var f struct {
		ID, Message string
		Data        json.RawMessage
	}
	r.expect(want, name).Decode(r.t, &f)
	if want == "connected" {
		r.ids[f.ID] = name
		r.live = append(r.live, name)
		r.log("%s connected to %s", name, nsp)
		return
	}
	r.log("%s refused on %s: %q %s", name, nsp, f.Message, f.Data)
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
	// came, and nobody to ask.
	for _, op := range []obj{
		{"base": "server", "chain": chain([]any{"timeout", 5000}), "ev": "q1", "args": []any{1}},
		{"base": "server", "chain": chain([]any{"to", rooms("r1")}, []any{"timeout", 5000}), "ev": "q2"},
		{"base": "server", "chain": chain([]any{"timeout", 300}), "ev": "q3", "args": []any{obj{"silent": []string{"B"}}}},
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
	r.op("Z", obj{"op": "remote", "base": "server", "action": obj{"do": "emitAck", "ev": "re3", "timeout": 300, "args": []any{obj{"silent": []string{"C"}}}}})
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
	r.op("B", obj{"op": "join", "base": "socket", "chain": chain([]any{"to", rooms("r1")}), "rooms": rooms("j5")})
	r.op("Z", obj{"op": "fetch", "base": "server"})
	r.op("Z", obj{"op": "fetch", "base": "nsp", "nsp": "/admin"})
	r.op("A", obj{"op": "rooms"})
	r.op("A", obj{"op": "sockets", "rooms": rooms("r1", "j4")})
	r.op("A", obj{"op": "sockets"})
	r.op("Z", obj{"op": "sockets", "nsp": "/admin", "rooms": rooms("nobody")})
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

	// Disconnecting: by room, a whole namespace with its connection, a
	// fetched socket, and the rest of the main namespace.
	r.op("Z", obj{"op": "disconnect", "base": "server", "chain": chain([]any{"in", rooms("r2")})})
	r.disconnected("A")
	r.op("Z", obj{"op": "disconnect", "base": "nsp", "nsp": "/admin", "close": true})
	r.disconnected("D")
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
