package sio

import (
	"reflect"
	"strconv"
)

// maxEncodeDepth bounds how many pointers, maps and slices the encoder
// follows into a value, which is how it stops on cyclic values.
const maxEncodeDepth = 1000

// Encoder turns Go values into the JSON arguments of an EVENT or ACK, with
// every binary value replaced by a placeholder and collected as an
// attachment.
//
// Everything that is not binary is written exactly as encoding/json writes
// it with HTML escaping off: struct fields in declaration order with json
// tags (name, omitempty, omitzero, string, "-") and embedded structs
// promoted, map keys sorted, the same number formats and string escapes;
// json.Marshaler and encoding.TextMarshaler values are written by their
// methods (marshaler output is validated and compacted, as encoding/json
// does), nil slices and maps are null.
//
// Binary is any slice of bytes ([]byte or a named type of it, unless its
// elements have marshal methods), at any depth: in slices, arrays, maps,
// struct fields, behind pointers and interfaces. A nil one is null; any
// other becomes {"_placeholder":true,"num":N} where N is its index among
// the attachments. A [Raw] is copied as is, its placeholders renumbered
// into this message's attachments.
//
// Arrays of bytes ([N]byte) are not binary: they are JSON arrays of
// numbers, as in encoding/json.
//
// Per-type encoders are cached process-wide, and an Encoder keeps its
// scratch space, so encoding into reused buffers allocates nothing in the
// steady state for values without maps. The zero value is ready to use. An
// Encoder is not safe for concurrent use; use one per goroutine.
//
// Note that a Go value that itself looks like a placeholder (a map or
// struct writing {"_placeholder":true,"num":0}) is indistinguishable from
// one on the wire, as with every Socket.IO implementation.
type Encoder struct {
	atts    [][]byte
	depth   int
	scratch []byte
	keys    []mapKey
	phs     []phRef
	renum   []int
}

// AppendArgs appends to dst the JSON array of args (for an event, the event
// name first) and appends the binary values found to atts, in placeholder
// order: the placeholder numbers continue from len(atts) as given, so
// attachments gathered so far are kept. It returns the extended dst and atts.
//
// The attachments are the caller's byte slices themselves, not copies.
//
// On error (an unsupported value, a failing marshaler, a value nested more
// than 1000 deep, a Raw with invalid JSON), dst and atts are returned with
// their original lengths together with an *[Error].
func (e *Encoder) AppendArgs(dst []byte, atts [][]byte, args ...any) ([]byte, [][]byte, error) {
	dst0, n0, a0 := dst, len(dst), len(atts)
	e.atts = atts
	e.depth = 0
	dst = append(dst, '[')
	var err error
	for i, a := range args {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = e.appendAny(dst, a); err != nil {
			clear(e.atts[a0:]) // drop references to the caller's bytes
			e.atts = nil
			return dst0[:n0], atts[:a0], err
		}
	}
	atts, e.atts = e.atts, nil
	return append(dst, ']'), atts, nil
}

func (e *Encoder) appendAny(b []byte, a any) ([]byte, error) {
	switch x := a.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case []byte:
		if x == nil {
			return append(b, "null"...), nil
		}
		return e.appendBinary(b, x), nil
	case Raw:
		return e.appendRaw(b, x.JSON, x.Attachments)
	case *Raw:
		if x == nil {
			return append(b, "null"...), nil
		}
		return e.appendRaw(b, x.JSON, x.Attachments)
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		return appendFloatValue(b, x, 64, 0)
	}
	v := reflect.ValueOf(a)
	b, err := codecOf(v.Type()).fn(e, b, v, 0)
	return b, err
}

func (e *Encoder) appendBinary(b, data []byte) []byte {
	b = append(b, `{"_placeholder":true,"num":`...)
	b = strconv.AppendInt(b, int64(len(e.atts)), 10)
	e.atts = append(e.atts, data)
	return append(b, '}')
}

// appendRaw copies the JSON of a Raw. Without attachments it is copied
// verbatim, unchecked. With attachments it is scanned, and each attachment a
// placeholder refers to is appended to e.atts on first reference, the
// placeholder rewritten to its new number; unreferenced attachments are
// left out.
func (e *Encoder) appendRaw(b, js []byte, ratts [][]byte) ([]byte, error) {
	if len(js) == 0 {
		return append(b, "null"...), nil
	}
	if len(ratts) == 0 {
		return append(b, js...), nil
	}
	s := scanner{buf: js, maxDepth: maxScanDepth, natt: len(ratts), recordPH: true, phs: e.phs[:0]}
	_, err := s.top()
	e.phs = s.phs[:0]
	if err != nil {
		return nil, err
	}
	if len(s.phs) == 0 {
		return append(b, js...), nil
	}
	renum := e.renum[:0]
	for range ratts {
		renum = append(renum, -1)
	}
	last := 0
	for _, ph := range s.phs {
		b = append(b, js[last:ph.num.start]...)
		n := renum[ph.n]
		if n < 0 {
			n = len(e.atts)
			e.atts = append(e.atts, ratts[ph.n])
			renum[ph.n] = n
		}
		b = strconv.AppendInt(b, int64(n), 10)
		last = ph.num.end
	}
	e.renum = renum[:0]
	return append(b, js[last:]...), nil
}
