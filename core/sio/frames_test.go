package sio

import (
	"bytes"
	"testing"

	"github.com/sio-go/sio/core/eio"
	"pgregory.net/rapid"
)

// TestAppendFramesOfMatchesPacket: AppendEventFrames and AppendAckFrames
// give the frames of the packet NewEvent and NewAck build, byte for byte,
// binary attachments and errors included.
func TestAppendFramesOfMatchesPacket(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nsp := rapid.SampledFrom([]string{"/", "", "/chat", "/a-b"}).Draw(t, "nsp")
		args := make([]any, rapid.IntRange(0, 4).Draw(t, "nargs"))
		for i := range args {
			if rapid.IntRange(0, 3).Draw(t, "binary") == 0 {
				args[i] = genBytes(t)
			} else {
				args[i] = genAny(t, 3)
			}
		}
		id := rapid.Int64Range(0, 1<<53-1).Draw(t, "id")
		var want Packet
		var err error
		var got []eio.Packet
		var gerr error
		if rapid.Bool().Draw(t, "ack") {
			want, err = NewAck(nsp, id, args)
			got, gerr = AppendAckFrames(nil, nsp, id, args)
		} else {
			hasID, name := rapid.Bool().Draw(t, "hasID"), genGoString(t)
			want, err = NewEvent(nsp, name, args)
			want.ID, want.HasID = id, hasID
			got, gerr = AppendEventFrames(nil, nsp, name, id, hasID, args)
		}
		if (err != nil) != (gerr != nil) {
			t.Fatalf("errors: packet %v, frames %v", err, gerr)
		}
		if err != nil {
			return
		}
		exp := AppendFrames(nil, &want)
		if len(got) != len(exp) {
			t.Fatalf("%d frames, want %d", len(got), len(exp))
		}
		for i := range exp {
			if got[i].Type != exp[i].Type || got[i].Binary != exp[i].Binary || !bytes.Equal(got[i].Data, exp[i].Data) {
				t.Fatalf("frame %d: %+v, want %+v", i, got[i], exp[i])
			}
		}
	})
}

// TestAppendAckFramesAllocs: an ack's text frame is its one allocation.
func TestAppendAckFramesAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector's sync.Pool drops items at random; counted without it")
	}
	var one [1]eio.Packet
	args := []any{"hello", 42}
	n := testing.AllocsPerRun(100, func() {
		if _, err := AppendAckFrames(one[:0], "/", 7, args); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 {
		t.Errorf("%v allocations per ack frame, want 1", n)
	}
}
