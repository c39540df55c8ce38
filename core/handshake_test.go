package core

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestHeaderReads(t *testing.T) {
	long := strings.Repeat("v", 300) // a length of two uvarint bytes
	h := MakeHeader(map[string][]string{
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Cookie":            {"a=1", "b=2"},
		"X-Long":            {long},
		"X-Empty":           {""},
		"X-None":            {},
	})
	for _, c := range []struct{ key, want string }{
		{"Sec-Websocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
		{"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="},
		{"COOKIE", "a=1"},
		{"X-Long", long},
		{"X-Empty", ""},
		{"X-None", ""},
		{"Absent", ""},
	} {
		if got := h.Get(c.key); got != c.want {
			t.Errorf("Get(%q) = %q, want %q", c.key, got, c.want)
		}
	}
	if got := h.Values("cookie"); !slices.Equal(got, []string{"a=1", "b=2"}) {
		t.Errorf("Values(cookie) = %q", got)
	}
	if got := h.Values("X-None"); got != nil {
		t.Errorf("Values of a name without values: %q", got)
	}
	var names []string
	for name, value := range h.All() {
		names = append(names, name+"="+value[:min(len(value), 3)])
	}
	if want := []string{"Cookie=a=1", "Cookie=b=2", "Sec-Websocket-Key=dGh", "X-Empty=", "X-Long=vvv"}; !slices.Equal(names, want) {
		t.Errorf("All: %q, want %q", names, want)
	}
	if h.Len() != 4 {
		t.Errorf("Len %d, want 4", h.Len())
	}
	js, err := json.Marshal(Handshake{Header: h}.Header)
	if err != nil {
		t.Fatal(err)
	}
	var back Header
	if err := json.Unmarshal(js, &back); err != nil || back != h {
		t.Errorf("JSON round trip: %s, %v", js, err)
	}
	var zero Header
	if zero.Get("a") != "" || zero.Len() != 0 || len(zero.Map()) != 0 || MakeHeader(nil) != zero {
		t.Error("the zero Header is not empty")
	}
}

// TestHeaderRoundTrip: Map gives back what MakeHeader was given, less the
// names without values.
func TestHeaderRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		name := rapid.OneOf(rapid.String(), rapid.SampledFrom(commonNames[:]), rapid.StringN(60, 300, -1))
		m := rapid.MapOf(name, rapid.SliceOfN(rapid.StringN(0, 200, -1), 0, 3)).Draw(rt, "m")
		want := maps.Clone(m)
		maps.DeleteFunc(want, func(_ string, vs []string) bool { return len(vs) == 0 })
		h := MakeHeader(m)
		if got := h.Map(); !maps.EqualFunc(got, want, slices.Equal) {
			rt.Fatalf("Map %q, want %q", got, want)
		}
		for k := range want {
			// The values of every name equal to k without regard to
			// case, names in sorted order.
			var vs []string
			for _, n := range slices.Sorted(maps.Keys(want)) {
				if equalFold(n, k) {
					vs = append(vs, want[n]...)
				}
			}
			if got := h.Values(k); !slices.Equal(got, vs) || h.Get(k) != vs[0] {
				rt.Fatalf("Values(%q) = %q, Get %q, want %q", k, got, h.Get(k), vs)
			}
		}
		if h.Len() != len(want) {
			rt.Fatalf("Len %d, want %d", h.Len(), len(want))
		}
	})
}

func TestHeaderGetAllocatesNothing(t *testing.T) {
	h := MakeHeader(map[string][]string{"Host": {"example.com"}, "Upgrade": {"websocket"}})
	if n := testing.AllocsPerRun(100, func() {
		if h.Get("upgrade") != "websocket" {
			t.Fatal("wrong value")
		}
	}); n != 0 {
		t.Fatalf("Get allocates %v times", n)
	}
}
