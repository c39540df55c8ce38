package sio

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// fieldInfo is one JSON member of a struct type, found by structFields.
type fieldInfo struct {
	name      string
	tagged    bool  // the name came from a json tag
	index     []int // path of field indexes from the outer struct
	typ       reflect.Type
	decl      reflect.Type // declared type of the field (before the pointer unwrap)
	omitEmpty bool
	omitZero  bool
	quoted    bool
}

// tagOptions holds the part of a json tag after the name.
type tagOptions string

func (o tagOptions) has(opt string) bool {
	for s := string(o); s != ""; {
		var cur string
		cur, s, _ = strings.Cut(s, ",")
		if cur == opt {
			return true
		}
	}
	return false
}

// validTagName reports whether a json tag name is used as given: letters,
// digits and punctuation other than quotes and backslashes.
func validTagName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", r) {
			continue
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// structFields lists the JSON members of struct type t in the order and
// with the visibility rules of encoding/json: exported fields, fields of
// embedded structs promoted breadth-first, a shallower field hiding deeper
// ones of the same name, a tagged field beating an untagged one at the same
// depth, and ambiguous names dropped.
func structFields(t reflect.Type) []fieldInfo {
	type level struct {
		typ   reflect.Type
		index []int
	}
	var found []fieldInfo
	next := []level{{typ: t}}
	seen := map[reflect.Type]bool{}
	var nextCount map[reflect.Type]int
	for len(next) > 0 {
		cur := next
		next = nil
		count := nextCount
		nextCount = map[reflect.Type]int{}
		for _, lv := range cur {
			if seen[lv.typ] {
				continue
			}
			seen[lv.typ] = true
			for i := 0; i < lv.typ.NumField(); i++ {
				sf := lv.typ.Field(i)
				if sf.Anonymous {
					et := sf.Type
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if !sf.IsExported() && et.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, rest, _ := strings.Cut(tag, ",")
				opts := tagOptions(rest)
				if !validTagName(name) {
					name = ""
				}
				index := append(slices.Clip(lv.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					// An untagged embedded struct: its fields are
					// promoted, explored at the next depth.
					nextCount[ft]++
					if nextCount[ft] == 1 {
						next = append(next, level{typ: ft, index: index})
					}
					continue
				}
				quoted := false
				if opts.has("string") {
					switch ft.Kind() {
					case reflect.Bool,
						reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64, reflect.String:
						quoted = true
					}
				}
				f := fieldInfo{
					name:      name,
					tagged:    name != "",
					index:     index,
					typ:       ft,
					decl:      sf.Type,
					omitEmpty: opts.has("omitempty"),
					omitZero:  opts.has("omitzero"),
					quoted:    quoted,
				}
				if f.name == "" {
					f.name = sf.Name
				}
				found = append(found, f)
				if count[lv.typ] > 1 {
					// The embedding struct occurs more than once at this
					// depth: record the field twice so that it cancels out.
					found = append(found, f)
				}
			}
		}
	}

	// Group by name; within a name the dominant field comes first.
	slices.SortFunc(found, func(a, b fieldInfo) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return 1
		}
		return slices.Compare(a.index, b.index)
	})
	out := found[:0]
	for i := 0; i < len(found); {
		j := i + 1
		for j < len(found) && found[j].name == found[i].name {
			j++
		}
		group := found[i:j]
		if len(group) == 1 || len(group[0].index) != len(group[1].index) || group[0].tagged != group[1].tagged {
			out = append(out, group[0])
		}
		i = j
	}
	slices.SortFunc(out, func(a, b fieldInfo) int { return slices.Compare(a.index, b.index) })
	return out
}
