package sio

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
)

// Raw is one decoded argument: its JSON exactly as the peer sent it, and the
// attachments its placeholders refer to (all the packet's attachments, with
// placeholder numbers as on the wire).
//
// A Raw given to [Encoder.AppendArgs] is written back unchanged, except that
// its placeholders are renumbered into the new message's attachments.
type Raw struct {
	JSON        []byte
	Attachments [][]byte
}

// SplitArgs splits the top-level JSON array of p.Data (an EVENT or ACK and
// their binary forms) into its elements, without re-encoding: each Raw's
// JSON is a sub-slice of p.Data, byte for byte as on the wire, and its
// Attachments is p.Attachments. For an event the first element is the
// event name.
//
// SplitArgs checks the JSON again (p may not come from a [Decoder]); it
// returns an *[Error] if p.Data is not an array or has a placeholder that
// does not index p.Attachments.
func SplitArgs(p *Packet) ([]Raw, error) {
	if len(p.Data) == 0 {
		return nil, newError(ErrCodeBadPayload, 0, "packet without arguments")
	}
	var tmp [16]span
	s := scanner{buf: p.Data, maxDepth: maxScanDepth, natt: len(p.Attachments)}
	elems, kind, err := s.topArray(tmp[:0])
	if err != nil {
		return nil, err
	}
	if kind != kindArray {
		return nil, newError(ErrCodeBadPayload, 0, "arguments must be a JSON array")
	}
	out := make([]Raw, len(elems))
	for i, sp := range elems {
		out[i] = Raw{JSON: p.Data[sp.start:sp.end:sp.end], Attachments: p.Attachments}
	}
	return out, nil
}

// String returns the JSON of r.
func (r Raw) String() string { return string(r.JSON) }

// Bind stores the argument in the value v points to, as json.Unmarshal
// does, each placeholder standing for the bytes of its attachment:
//
//   - a []byte destination (at any depth) receives a copy of the
//     attachment bytes;
//   - when v is a *any, *[]any or *map[string]any, placeholders become
//     []byte values (copies) and everything else what encoding/json
//     yields (float64 numbers, map[string]any objects, ...);
//   - other destinations see each placeholder as a JSON string holding
//     the base64 of the attachment; in particular an any-typed field
//     nested in a struct receives that string, not a []byte.
//
// Bind returns an *[Error] for invalid JSON or a placeholder that does not
// index r.Attachments, and the errors of encoding/json otherwise.
func (r Raw) Bind(v any) error {
	js := r.JSON
	if len(js) == 0 {
		js = []byte("null")
	}
	s := scanner{buf: js, maxDepth: maxScanDepth, natt: len(r.Attachments), recordPH: true}
	if _, err := s.top(); err != nil {
		return err
	}
	switch p := v.(type) {
	case *any:
		x, err := decodeAny(js, s.phs, r.Attachments)
		if err != nil {
			return err
		}
		*p = x
		return nil
	case *[]any:
		x, err := decodeAny(js, s.phs, r.Attachments)
		if err != nil {
			return err
		}
		switch x := x.(type) {
		case nil:
			*p = nil
		case []any:
			*p = x
		default:
			return typeError(js, reflect.TypeFor[[]any]())
		}
		return nil
	case *map[string]any:
		x, err := decodeAny(js, s.phs, r.Attachments)
		if err != nil {
			return err
		}
		switch x := x.(type) {
		case nil:
			*p = nil
		case map[string]any:
			if *p == nil {
				*p = x
			} else {
				for k, e := range x {
					(*p)[k] = e
				}
			}
		default:
			return typeError(js, reflect.TypeFor[map[string]any]())
		}
		return nil
	}
	if len(s.phs) == 0 {
		return json.Unmarshal(js, v)
	}
	// Rewrite each placeholder object into the base64 string of its
	// attachment, which encoding/json decodes into []byte.
	size := len(js)
	for _, ph := range s.phs {
		size += base64.StdEncoding.EncodedLen(len(r.Attachments[ph.n])) + 2
	}
	buf := make([]byte, 0, size)
	last := 0
	for _, ph := range s.phs {
		buf = append(buf, js[last:ph.obj.start]...)
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, r.Attachments[ph.n])
		buf = append(buf, '"')
		last = ph.obj.end
	}
	buf = append(buf, js[last:]...)
	return json.Unmarshal(buf, v)
}

func typeError(js []byte, t reflect.Type) error {
	what := "value"
	s := scanner{buf: js, maxDepth: maxScanDepth, noPH: true}
	switch k, _ := s.value(0); k {
	case kindObject:
		what = "object"
	case kindArray:
		what = "array"
	case kindString:
		what = "string"
	case kindNumber:
		what = "number"
	case kindTrue, kindFalse:
		what = "bool"
	}
	return &json.UnmarshalTypeError{Value: what, Type: t}
}

// anyDecoder builds the generic value of JSON already checked by the
// scanner; phs are its placeholders in text order.
type anyDecoder struct {
	buf  []byte
	pos  int
	phs  []phRef
	atts [][]byte
}

func decodeAny(js []byte, phs []phRef, atts [][]byte) (any, error) {
	d := anyDecoder{buf: js, phs: phs, atts: atts}
	return d.value()
}

func (d *anyDecoder) skipWS() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// end returns the end of the string or number starting at d.pos.
func (d *anyDecoder) scanToken() int {
	s := scanner{buf: d.buf, pos: d.pos, noPH: true}
	if d.buf[d.pos] == '"' {
		s.str()
	} else {
		s.number()
	}
	return s.pos
}

func (d *anyDecoder) value() (any, error) {
	d.skipWS()
	switch c := d.buf[d.pos]; c {
	case '{':
		if len(d.phs) > 0 && d.phs[0].obj.start == d.pos {
			ph := d.phs[0]
			d.phs = d.phs[1:]
			d.pos = ph.obj.end
			return append([]byte{}, d.atts[ph.n]...), nil
		}
		m := map[string]any{}
		d.pos++
		d.skipWS()
		if d.buf[d.pos] == '}' {
			d.pos++
			return m, nil
		}
		for {
			d.skipWS()
			end := d.scanToken()
			key := string(appendUnquoted(nil, d.buf[d.pos:end]))
			d.pos = end
			d.skipWS()
			d.pos++ // :
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			m[key] = v
			d.skipWS()
			c := d.buf[d.pos]
			d.pos++
			if c == '}' {
				return m, nil
			}
		}
	case '[':
		a := []any{}
		d.pos++
		d.skipWS()
		if d.buf[d.pos] == ']' {
			d.pos++
			return a, nil
		}
		for {
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			d.skipWS()
			c := d.buf[d.pos]
			d.pos++
			if c == ']' {
				return a, nil
			}
		}
	case '"':
		end := d.scanToken()
		s := string(appendUnquoted(nil, d.buf[d.pos:end]))
		d.pos = end
		return s, nil
	case 't':
		d.pos += 4
		return true, nil
	case 'f':
		d.pos += 5
		return false, nil
	case 'n':
		d.pos += 4
		return nil, nil
	}
	start := d.pos
	d.pos = d.scanToken()
	lit := string(d.buf[start:d.pos])
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, &json.UnmarshalTypeError{Value: "number " + lit, Type: reflect.TypeFor[float64](), Offset: int64(start)}
	}
	return f, nil
}
