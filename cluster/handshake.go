package cluster

import (
	"context"
	"encoding/json"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/sio"
)

// jsDateLayout is the form of JavaScript's Date.prototype.toString, which
// the reference puts in handshake.time.
const jsDateLayout = "Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"

// socketValue is a socket as the reference describes it in a fetchSockets
// answer: {id, handshake, rooms, data}.
func socketValue(info core.SocketInfo, maxDepth int) *object {
	hs := info.Handshake
	headers := &object{}
	header := hs.Header.Map()
	keys := make([]string, 0, len(header))
	for k := range header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := header[k]
		if len(vs) == 0 {
			continue
		}
		lk := strings.ToLower(k)
		switch {
		case lk == "set-cookie":
			arr := make([]any, len(vs))
			for i, v := range vs {
				arr[i] = v
			}
			headers.set(lk, arr)
		case len(vs) == 1:
			headers.set(lk, vs[0])
		default:
			headers.set(lk, strings.Join(vs, ", "))
		}
	}
	query := &object{}
	if q, err := url.ParseQuery(hs.RawQuery); err == nil {
		qk := make([]string, 0, len(q))
		for k := range q {
			qk = append(qk, k)
		}
		sort.Strings(qk)
		for _, k := range qk {
			if vs := q[k]; len(vs) == 1 {
				query.set(k, vs[0])
			} else {
				arr := make([]any, len(vs))
				for i, v := range vs {
					arr[i] = v
				}
				query.set(k, arr)
			}
		}
	}
	var auth any = &object{}
	if len(hs.Auth.JSON) > 0 {
		if v, err := parseJSON(hs.Auth.JSON, hs.Auth.Attachments, maxDepth); err == nil {
			auth = v
		}
	}
	h := newObject(
		"headers", headers,
		"time", hs.Time.Format(jsDateLayout),
		"address", hs.Address,
		"xdomain", hs.XDomain,
		"secure", hs.Secure,
		"issued", hs.Time.UnixMilli(),
		"url", hs.URL,
		"query", query,
		"auth", auth,
	)
	rooms := make([]any, len(info.Rooms))
	for i, r := range info.Rooms {
		rooms[i] = r
	}
	o := newObject("id", info.ID, "handshake", h, "rooms", rooms)
	if info.Data != nil {
		if js, err := json.Marshal(info.Data); err == nil {
			if v, err := parseJSON(js, nil, maxDepth); err == nil {
				o.set("data", v)
			}
		}
	}
	return o
}

// socketInfo reads a socket of a fetchSockets answer. Data is its JSON
// decoded as encoding/json decodes into an any.
func socketInfo(v any) (core.SocketInfo, bool) {
	o, ok := v.(*object)
	if !ok {
		return core.SocketInfo{}, false
	}
	info := core.SocketInfo{ID: o.str("id")}
	if info.ID == "" {
		return info, false
	}
	rooms, ok := o.strings("rooms")
	if !ok {
		return info, false
	}
	info.Rooms = rooms
	if d, present := o.get("data"); present && d != nil {
		w := jsonWriter{mode: binBuffer}
		js := w.append(nil, d)
		var x any
		if json.Unmarshal(js, &x) == nil {
			info.Data = x
		}
	}
	hs := core.Handshake{Context: context.Background()}
	if h := o.obj("handshake"); h != nil {
		if hd := h.obj("headers"); hd != nil {
			header := map[string][]string{}
			for i, k := range hd.keys {
				ck := textproto.CanonicalMIMEHeaderKey(k)
				switch v := hd.vals[i].(type) {
				case string:
					header[ck] = append(header[ck], v)
				case []any:
					for _, e := range v {
						if s, ok := e.(string); ok {
							header[ck] = append(header[ck], s)
						}
					}
				}
			}
			hs.Header = core.MakeHeader(header)
		}
		if ms, ok := h.int("issued"); ok {
			hs.Time = time.UnixMilli(ms)
		} else if t, err := time.Parse(jsDateLayout, h.str("time")); err == nil {
			hs.Time = t
		}
		hs.Address = h.str("address")
		hs.XDomain = h.bool("xdomain")
		hs.Secure = h.bool("secure")
		hs.URL = h.str("url")
		if q := h.obj("query"); q != nil {
			vals := url.Values{}
			for i, k := range q.keys {
				switch v := q.vals[i].(type) {
				case string:
					vals.Add(k, v)
				case []any:
					for _, e := range v {
						if s, ok := e.(string); ok {
							vals.Add(k, s)
						}
					}
				case int64, uint64, float64:
					vals.Add(k, string(appendNumber(nil, v)))
				}
			}
			hs.RawQuery = vals.Encode()
		} else if _, q, ok := strings.Cut(hs.URL, "?"); ok {
			hs.RawQuery = q
		}
		if a, present := h.get("auth"); present && a != nil {
			w := jsonWriter{mode: binPlaceholder}
			js := w.append(nil, a)
			hs.Auth = sio.Raw{JSON: js, Attachments: w.atts}
		}
	}
	info.Handshake = hs
	return info, true
}
