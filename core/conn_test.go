package core

import (
	"slices"
	"testing"
)

// TestNamespacesPerConn checks a connection's sockets, one per namespace:
// each namespace's events reach its own socket, a namespace left may be
// joined again, and MaxNamespacesPerConn holds at the limit and past it.
func TestNamespacesPerConn(t *testing.T) {
	const limit = 3
	h := newHarness(t, Config{MaxNamespacesPerConn: limit})
	got := map[string][]string{}
	for _, name := range []string{"/", "/a", "/b", "/c"} {
		h.srv.Of(name).OnConnection(func(s *Socket) {
			s.On("hi", func(e *Event) { got[name] = append(got[name], s.ID()) })
		})
	}
	cl := h.dial()
	ids := map[string]string{}
	for _, name := range []string{"/", "/a", "/b"} { // up to the limit
		ids[name] = cl.connect(name)
	}
	cl.send(`40/c,`)
	if out := cl.out(); !slices.Equal(out, []string{`44/c,{"message":"Too many namespaces"}`}) {
		t.Fatalf("past the limit: %q", out)
	}
	cl.send(`42["hi"]`, `42/a,["hi"]`, `42/b,["hi"]`)
	for _, name := range []string{"/", "/a", "/b"} {
		if !slices.Equal(got[name], []string{ids[name]}) {
			t.Fatalf("events of %s reached %v, want %s", name, got[name], ids[name])
		}
	}
	// Leaving the first namespace frees a place.
	cl.send(`41`)
	ids["/c"] = cl.connect("/c")
	cl.send(`40`)
	if out := cl.out(); len(out) != 1 || out[0] != `44{"message":"Too many namespaces"}` {
		t.Fatalf("past the limit again: %q", out)
	}
	cl.send(`42/c,["hi"]`, `42/a,["hi"]`)
	if !slices.Equal(got["/c"], []string{ids["/c"]}) || len(got["/a"]) != 2 || len(got["/"]) != 1 {
		t.Fatalf("events after the change: %v", got)
	}
	cl.send(`41/a,`, `41/b,`)
	ids["/"] = cl.connect("/")
	cl.send(`42["hi"]`)
	if want := []string{got["/"][0], ids["/"]}; !slices.Equal(got["/"], want) {
		t.Fatalf("events of / after joining again: %v, want %v", got["/"], want)
	}
	if n := len(cl.c.socketList()); n != 2 {
		t.Fatalf("%d sockets, want 2 (/ and /c)", n)
	}
	if cl.c.Closed() {
		t.Fatal("connection closed")
	}
}
