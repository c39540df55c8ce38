package sio

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// encFlags carry context down the encoding of one value.
type encFlags uint8

const (
	// flagQuoted: write a primitive inside a JSON string (",string").
	flagQuoted encFlags = 1 << iota
	// flagNoAddr: the value is a map element (or part of one) and counts as
	// not addressable even though the encoder reads it from an addressable
	// copy, so pointer-receiver marshalers are not called on it.
	flagNoAddr
)

type encFn func(e *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error)

// codec is the cached encoder of one type. fn is set before the codec is
// published in the cache.
type codec struct{ fn encFn }

var (
	codecCache sync.Map   // reflect.Type -> *codec
	codecBuild sync.Mutex // serialises building
)

var (
	rawType           = reflect.TypeFor[Raw]()
	numberType        = reflect.TypeFor[json.Number]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	isZeroerType      = reflect.TypeFor[interface{ IsZero() bool }]()
)

// codecOf returns the codec of t, building and caching it (and the codecs it
// refers to) on first use.
func codecOf(t reflect.Type) *codec {
	if c, ok := codecCache.Load(t); ok {
		return c.(*codec)
	}
	codecBuild.Lock()
	defer codecBuild.Unlock()
	b := builder{building: map[reflect.Type]*codec{}}
	c := b.get(t)
	// Publish everything built in this round only now, once complete, so
	// that no reader sees a codec whose children are unfinished.
	for t, c := range b.building {
		codecCache.Store(t, c)
	}
	return c
}

// builder builds codecs under codecBuild; building holds those of this
// round, including unfinished ones (recursive types refer to them).
type builder struct {
	building map[reflect.Type]*codec
}

func (bl *builder) get(t reflect.Type) *codec {
	if c, ok := codecCache.Load(t); ok {
		return c.(*codec)
	}
	if c, ok := bl.building[t]; ok {
		return c
	}
	c := &codec{}
	bl.building[t] = c
	c.fn = bl.newFn(t, true)
	return c
}

func (bl *builder) newFn(t reflect.Type, allowAddr bool) encFn {
	if t == rawType {
		return encRaw
	}
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(marshalerType) {
		return condAddr(encAddrMarshaler, bl.newFn(t, false))
	}
	if t.Implements(marshalerType) {
		return encMarshaler
	}
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(textMarshalerType) {
		return condAddr(encAddrTextMarshaler, bl.newFn(t, false))
	}
	if t.Implements(textMarshalerType) {
		return encTextMarshaler
	}
	switch t.Kind() {
	case reflect.Bool:
		return encBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return encInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return encUint
	case reflect.Float32:
		return encFloat32
	case reflect.Float64:
		return encFloat64
	case reflect.String:
		if t == numberType {
			return encNumber
		}
		return encString
	case reflect.Interface:
		return encInterface
	case reflect.Struct:
		return bl.structFn(t)
	case reflect.Map:
		return bl.mapFn(t)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			p := reflect.PointerTo(t.Elem())
			if !p.Implements(marshalerType) && !p.Implements(textMarshalerType) {
				return encBinary
			}
		}
		return bl.sliceFn(t)
	case reflect.Array:
		return bl.arrayFn(t)
	case reflect.Pointer:
		return bl.ptrFn(t)
	}
	return unsupportedFn(t)
}

func unsupportedFn(t reflect.Type) encFn {
	return func(*Encoder, []byte, reflect.Value, encFlags) ([]byte, error) {
		return nil, &Error{Code: ErrCodeUnsupported, Offset: -1, Msg: "unsupported type " + t.String()}
	}
}

func condAddr(addrFn, elseFn encFn) encFn {
	return func(e *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
		if fl&flagNoAddr == 0 && v.CanAddr() {
			return addrFn(e, b, v, fl)
		}
		return elseFn(e, b, v, fl)
	}
}

func hiddenValue(t reflect.Type) error {
	return &Error{Code: ErrCodeUnsupported, Offset: -1, Msg: "value of type " + t.String() + " reached through an unexported field"}
}

// viaInterface makes the encoders of a type that implements I (its value,
// and its address when only the pointer does): nil pointers are null, a
// value reached through an unexported field is refused, and appendI writes
// the rest.
func viaInterface[I any](appendI func([]byte, I, reflect.Type) ([]byte, error)) (value, addr encFn) {
	value = func(e *Encoder, b []byte, v reflect.Value, _ encFlags) ([]byte, error) {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return append(b, "null"...), nil
		}
		if !v.CanInterface() {
			return nil, hiddenValue(v.Type())
		}
		m, ok := reflect.TypeAssert[I](v)
		if !ok {
			return append(b, "null"...), nil
		}
		return appendI(b, m, v.Type())
	}
	addr = func(e *Encoder, b []byte, v reflect.Value, _ encFlags) ([]byte, error) {
		va := v.Addr()
		if !va.CanInterface() {
			return nil, hiddenValue(v.Type())
		}
		m, _ := reflect.TypeAssert[I](va)
		return appendI(b, m, v.Type())
	}
	return value, addr
}

var (
	encMarshaler, encAddrMarshaler         = viaInterface(appendMarshalJSON)
	encTextMarshaler, encAddrTextMarshaler = viaInterface(appendMarshalText)
)

func appendMarshalJSON(b []byte, m json.Marshaler, t reflect.Type) ([]byte, error) {
	js, err := m.MarshalJSON()
	if err != nil {
		return nil, &Error{Code: ErrCodeMarshaler, Offset: -1, Msg: "MarshalJSON of " + t.String(), Err: err}
	}
	s := scanner{buf: js, maxDepth: maxScanDepth, noPH: true}
	if _, err := s.top(); err != nil {
		return nil, &Error{Code: ErrCodeMarshaler, Offset: -1, Msg: "MarshalJSON of " + t.String() + " wrote invalid JSON", Err: err}
	}
	return appendCompact(b, js), nil
}

// appendCompact appends valid JSON js without insignificant whitespace.
func appendCompact(b, js []byte) []byte {
	start := 0
	inString := false
	for i := 0; i < len(js); i++ {
		c := js[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ' ', '\t', '\n', '\r':
			b = append(b, js[start:i]...)
			start = i + 1
		}
	}
	return append(b, js[start:]...)
}

func appendMarshalText(b []byte, m encoding.TextMarshaler, t reflect.Type) ([]byte, error) {
	text, err := m.MarshalText()
	if err != nil {
		return nil, &Error{Code: ErrCodeMarshaler, Offset: -1, Msg: "MarshalText of " + t.String(), Err: err}
	}
	return appendString(b, text), nil
}

func quoteIf(b []byte, fl encFlags) []byte {
	if fl&flagQuoted != 0 {
		b = append(b, '"')
	}
	return b
}

func encBool(_ *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
	b = quoteIf(b, fl)
	b = strconv.AppendBool(b, v.Bool())
	return quoteIf(b, fl), nil
}

func encInt(_ *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
	b = quoteIf(b, fl)
	b = strconv.AppendInt(b, v.Int(), 10)
	return quoteIf(b, fl), nil
}

func encUint(_ *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
	b = quoteIf(b, fl)
	b = strconv.AppendUint(b, v.Uint(), 10)
	return quoteIf(b, fl), nil
}

func encFloat32(_ *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
	return appendFloatValue(b, v.Float(), 32, fl)
}

func encFloat64(_ *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
	return appendFloatValue(b, v.Float(), 64, fl)
}

func appendFloatValue(b []byte, f float64, bits int, fl encFlags) ([]byte, error) {
	if f != f || f > maxFloat || f < -maxFloat {
		return nil, &Error{Code: ErrCodeUnsupported, Offset: -1, Msg: "unsupported value " + strconv.FormatFloat(f, 'g', -1, bits)}
	}
	b = quoteIf(b, fl)
	b = appendFloat(b, f, bits)
	return quoteIf(b, fl), nil
}

const maxFloat = 1.79769313486231570814527423731704356798070e+308

func encString(e *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
	if fl&flagQuoted != 0 {
		// ",string" on a string: the JSON string of its JSON string.
		inner := appendString(e.scratch[:0], v.String())
		b = appendString(b, inner)
		e.scratch = inner[:0]
		return b, nil
	}
	return appendString(b, v.String()), nil
}

func encNumber(_ *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
	n := v.String()
	if n == "" {
		n = "0"
	}
	if !validNumber(n) {
		return nil, &Error{Code: ErrCodeUnsupported, Offset: -1, Msg: "invalid number literal " + strconv.Quote(n)}
	}
	b = quoteIf(b, fl)
	b = append(b, n...)
	return quoteIf(b, fl), nil
}

// validNumber reports whether s is exactly one JSON number.
func validNumber(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		digits()
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

func encInterface(e *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
	if v.IsNil() {
		return append(b, "null"...), nil
	}
	el := v.Elem()
	return codecOf(el.Type()).fn(e, b, el, fl)
}

func encBinary(e *Encoder, b []byte, v reflect.Value, _ encFlags) ([]byte, error) {
	if v.IsNil() {
		return append(b, "null"...), nil
	}
	return e.appendBinary(b, v.Bytes()), nil
}

func encRaw(e *Encoder, b []byte, v reflect.Value, _ encFlags) ([]byte, error) {
	if v.CanInterface() {
		r, _ := reflect.TypeAssert[Raw](v)
		return e.appendRaw(b, r.JSON, r.Attachments)
	}
	// Reached through an unexported embedded field: read it field by field.
	atts := make([][]byte, v.Field(1).Len())
	for i := range atts {
		atts[i] = v.Field(1).Index(i).Bytes()
	}
	return e.appendRaw(b, v.Field(0).Bytes(), atts)
}

func (e *Encoder) enter() error {
	e.depth++
	if e.depth > maxEncodeDepth {
		return &Error{Code: ErrCodeTooDeep, Offset: -1, Limit: maxEncodeDepth, Msg: "value nested too deep (a cycle?)"}
	}
	return nil
}

func (bl *builder) ptrFn(t reflect.Type) encFn {
	elem := bl.get(t.Elem())
	return func(e *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		if err := e.enter(); err != nil {
			return nil, err
		}
		b, err := elem.fn(e, b, v.Elem(), fl&^flagNoAddr)
		e.depth--
		return b, err
	}
}

func (bl *builder) sliceFn(t reflect.Type) encFn {
	elem := bl.get(t.Elem())
	return func(e *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		if err := e.enter(); err != nil {
			return nil, err
		}
		b = append(b, '[')
		var err error
		for i, n := 0, v.Len(); i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			// Slice elements are addressable whatever holds the slice.
			if b, err = elem.fn(e, b, v.Index(i), 0); err != nil {
				return nil, err
			}
		}
		e.depth--
		return append(b, ']'), nil
	}
}

func (bl *builder) arrayFn(t reflect.Type) encFn {
	elem := bl.get(t.Elem())
	return func(e *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
		b = append(b, '[')
		var err error
		for i, n := 0, v.Len(); i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = elem.fn(e, b, v.Index(i), fl&flagNoAddr); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
}

// mapKey is a map entry during encoding: its key as a string and the index
// of its value in the copied values.
type mapKey struct {
	ks string
	i  int
}

func (bl *builder) mapFn(t reflect.Type) encFn {
	kt := t.Key()
	var keyFn func(k reflect.Value) (string, error)
	switch {
	case kt.Kind() == reflect.String:
		keyFn = func(k reflect.Value) (string, error) { return k.String(), nil }
	case kt.Implements(textMarshalerType):
		keyFn = func(k reflect.Value) (string, error) {
			if kt.Kind() == reflect.Pointer && k.IsNil() {
				return "", nil
			}
			m, _ := reflect.TypeAssert[encoding.TextMarshaler](k)
			text, err := m.MarshalText()
			if err != nil {
				return "", &Error{Code: ErrCodeMarshaler, Offset: -1, Msg: "MarshalText of map key " + kt.String(), Err: err}
			}
			return string(text), nil
		}
	default:
		switch kt.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			keyFn = func(k reflect.Value) (string, error) { return strconv.FormatInt(k.Int(), 10), nil }
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			keyFn = func(k reflect.Value) (string, error) { return strconv.FormatUint(k.Uint(), 10), nil }
		default:
			return unsupportedFn(t)
		}
	}
	elem := bl.get(t.Elem())
	valsType := reflect.SliceOf(t.Elem())
	return func(e *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		if err := e.enter(); err != nil {
			return nil, err
		}
		n := v.Len()
		if n == 0 {
			e.depth--
			return append(b, '{', '}'), nil
		}
		// Copy keys and values out once, sort by key string, then write.
		vals := reflect.MakeSlice(valsType, n, n)
		key := reflect.New(kt).Elem()
		base := len(e.keys)
		it := v.MapRange()
		for i := 0; it.Next() && i < n; i++ {
			key.SetIterKey(it)
			ks, err := keyFn(key)
			if err != nil {
				e.dropKeys(base)
				return nil, err
			}
			vals.Index(i).SetIterValue(it)
			e.keys = append(e.keys, mapKey{ks: ks, i: i})
		}
		slices.SortFunc(e.keys[base:], func(a, b mapKey) int { return strings.Compare(a.ks, b.ks) })
		b = append(b, '{')
		end := len(e.keys)
		for j := base; j < end; j++ {
			k := e.keys[j] // re-read: nested maps may grow e.keys
			if j > base {
				b = append(b, ',')
			}
			b = appendString(b, k.ks)
			b = append(b, ':')
			var err error
			if b, err = elem.fn(e, b, vals.Index(k.i), flagNoAddr); err != nil {
				e.dropKeys(base)
				return nil, err
			}
		}
		e.dropKeys(base)
		e.depth--
		return append(b, '}'), nil
	}
}

func (e *Encoder) dropKeys(base int) {
	clear(e.keys[base:])
	e.keys = e.keys[:base]
}

// structField is a member of a struct codec.
type structField struct {
	key       []byte // `"name":`
	index     []int
	c         *codec
	quoted    bool
	omitEmpty bool
	omitZero  bool
	isZero    func(v reflect.Value, addressable bool) bool
}

func (bl *builder) structFn(t reflect.Type) encFn {
	infos := structFields(t)
	fields := make([]structField, len(infos))
	for i, f := range infos {
		fields[i] = structField{
			key:       append(appendString(nil, f.name), ':'),
			index:     f.index,
			c:         bl.get(f.decl),
			quoted:    f.quoted,
			omitEmpty: f.omitEmpty,
			omitZero:  f.omitZero,
		}
		if f.omitZero {
			fields[i].isZero = isZeroFunc(f.decl)
		}
	}
	return func(e *Encoder, b []byte, v reflect.Value, fl encFlags) ([]byte, error) {
		b = append(b, '{')
		first := true
	next:
		for i := range fields {
			f := &fields[i]
			fv := v
			ffl := fl & flagNoAddr
			for _, x := range f.index {
				if fv.Kind() == reflect.Pointer {
					if fv.IsNil() {
						continue next
					}
					fv = fv.Elem()
					ffl = 0
				}
				fv = fv.Field(x)
			}
			if f.omitEmpty && isEmptyValue(fv) {
				continue
			}
			if f.omitZero {
				if f.isZero != nil {
					if f.isZero(fv, ffl&flagNoAddr == 0 && fv.CanAddr()) {
						continue
					}
				} else if fv.IsZero() {
					continue
				}
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, f.key...)
			if f.quoted {
				ffl |= flagQuoted
			}
			var err error
			if b, err = f.c.fn(e, b, fv, ffl); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func callIsZero(v reflect.Value) bool {
	z, _ := reflect.TypeAssert[interface{ IsZero() bool }](v)
	return z.IsZero()
}

// isZeroFunc returns how ",omitzero" decides for a field of type t: its
// IsZero method when it has one, else nil (reflect's zero test).
func isZeroFunc(t reflect.Type) func(reflect.Value, bool) bool {
	switch {
	case t.Kind() == reflect.Interface && t.Implements(isZeroerType):
		return func(v reflect.Value, _ bool) bool {
			return v.IsNil() || (v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil()) || callIsZero(v)
		}
	case t.Kind() == reflect.Pointer && t.Implements(isZeroerType):
		return func(v reflect.Value, _ bool) bool { return v.IsNil() || callIsZero(v) }
	case t.Implements(isZeroerType):
		return func(v reflect.Value, _ bool) bool { return callIsZero(v) }
	case reflect.PointerTo(t).Implements(isZeroerType):
		return func(v reflect.Value, addressable bool) bool {
			if !addressable {
				c := reflect.New(v.Type()).Elem()
				c.Set(v)
				v = c
			}
			return callIsZero(v.Addr())
		}
	}
	return nil
}
