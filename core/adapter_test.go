package core

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/sio-go/sio/core/eio"

	"pgregory.net/rapid"
)

// roomModel is the adapter's rooms as the reference keeps them: each
// socket's rooms in the order it joined them, its own room like any other.
type roomModel struct {
	rooms  map[string][]string // socket id -> its rooms, in order
	events []string
}

func (m *roomModel) count(room string) int {
	n := 0
	for _, rs := range m.rooms {
		if slices.Contains(rs, room) {
			n++
		}
	}
	return n
}

func (m *roomModel) changed(id, room string, created bool) {
	_, sid := m.rooms[room]
	m.events = append(m.events, fmt.Sprint(room, sid || room == id, created))
}

func (m *roomModel) addAll(id string, rooms []string) {
	mine := m.rooms[id]
	for _, r := range rooms {
		if slices.Contains(mine, r) {
			continue
		}
		// mine is stored after the loop, as the adapter stores a new
		// socket after its rooms.
		if m.count(r) == 0 {
			m.changed(id, r, true)
		}
		mine = append(mine, r)
	}
	m.rooms[id] = mine
}

func (m *roomModel) del(id, room string) {
	mine, ok := m.rooms[id]
	if !ok {
		return
	}
	if i := slices.Index(mine, room); i >= 0 {
		m.rooms[id] = slices.Delete(mine, i, i+1)
		if m.count(room) == 0 {
			m.changed(id, room, false)
		}
	}
}

func (m *roomModel) delAll(id string) {
	for len(m.rooms[id]) > 0 {
		m.del(id, m.rooms[id][0])
	}
	delete(m.rooms, id)
}

// TestMemoryAdapterRoomsModel checks the adapter, which keeps a socket's
// own room apart from the others, against the plain model of rooms: each
// socket's room list and its order, every room's members, which rooms
// exist, and the room changes it reports, under random joins and leaves,
// sockets included in rooms named after other sockets.
func TestMemoryAdapterRoomsModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		srv := NewServer(Config{})
		a := newMemoryAdapter(srv.Of("/"))
		var got []string
		a.OnRoomChange(func(room string, private, created bool) {
			got = append(got, fmt.Sprint(room, private, created))
		})
		m := &roomModel{rooms: map[string][]string{}}
		ids := []string{"s0", "s1", "s2"}
		names := append([]string{"r0", "r1"}, ids...)
		id := rapid.SampledFrom(ids)
		room := rapid.SampledFrom(names)
		rt.Repeat(map[string]func(*rapid.T){
			"join": func(rt *rapid.T) {
				s := id.Draw(rt, "id")
				rs := rapid.SliceOfN(room, 0, 3).Draw(rt, "rooms")
				a.AddAll(s, rs)
				m.addAll(s, rs)
			},
			"connect": func(rt *rapid.T) { // as a socket joins at connect
				s := id.Draw(rt, "id")
				a.AddAll(s, []string{s})
				m.addAll(s, []string{s})
			},
			"leave": func(rt *rapid.T) {
				s, r := id.Draw(rt, "id"), room.Draw(rt, "room")
				a.Del(s, r)
				m.del(s, r)
			},
			"leaveAll": func(rt *rapid.T) {
				s := id.Draw(rt, "id")
				a.DelAll(s)
				m.delAll(s)
			},
			"": func(rt *rapid.T) {
				if !slices.Equal(got, m.events) {
					rt.Fatalf("room changes %q, want %q", got, m.events)
				}
				for _, s := range ids {
					want, ok := m.rooms[s]
					have := a.SocketRooms(s)
					if !slices.Equal(have, want) || (have == nil) != !ok {
						rt.Fatalf("rooms of %s: %q, want %q", s, have, want)
					}
				}
				var exist []string
				for _, r := range names {
					if n := m.count(r); n > 0 {
						exist = append(exist, r)
					}
					if a.HasRoom(r) != (m.count(r) > 0) {
						rt.Fatalf("HasRoom(%s) = %v", r, a.HasRoom(r))
					}
					for _, s := range ids {
						a.mu.RLock()
						in := a.in(s, r)
						a.mu.RUnlock()
						if in != slices.Contains(m.rooms[s], r) {
							rt.Fatalf("in(%s, %s) = %v", s, r, in)
						}
					}
				}
				all, _ := a.AllRooms(t.Context())
				sort.Strings(all)
				sort.Strings(exist)
				if !slices.Equal(all, exist) {
					rt.Fatalf("AllRooms %q, want %q", all, exist)
				}
			},
		})
	})
}

// BenchmarkBroadcast measures a broadcast to 1,000 idle connections of
// "/": to all, to all but the sender (its own room among the exceptions),
// and to one socket's room. The frames are taken after each broadcast.
func BenchmarkBroadcast(b *testing.B) {
	srv := NewServer(Config{})
	defer srv.Close()
	now := time.Unix(1_000_000, 0)
	out := make([]eio.Packet, 0, 4)
	conns := make([]*Conn, 1000)
	for i := range conns {
		conns[i] = openIdle(b, srv, Handshake{}, now, out, false)
	}
	nsp := srv.Of("/")
	sender := nsp.Socket(conns[0].first.ID())
	take := func() {
		for _, c := range conns {
			out = c.TakeOutput(out[:0])
		}
	}
	for _, c := range []struct {
		name string
		emit func() error
	}{
		{"all", func() error { return nsp.Emit("tick", 1) }},
		{"others", func() error { return sender.Broadcast().Emit("tick", 1) }},
		{"socket", func() error { return nsp.To(conns[500].first.ID()).Emit("tick", 1) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.emit(); err != nil {
					b.Fatal(err)
				}
				take()
			}
		})
	}
}
