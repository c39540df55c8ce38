package httpadapter

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

var defaultCORSMethods = "GET,HEAD,PUT,PATCH,POST,DELETE"

// applyCORS sets the CORS headers of an actual request, as the reference's
// cors middleware does before the engine answers.
func (c *CORSOptions) apply(h http.Header, r *http.Request) {
	c.origin(h, r)
	if c.Credentials {
		h["Access-Control-Allow-Credentials"] = []string{"true"}
	}
}

func (c *CORSOptions) origin(h http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	switch {
	case c.AllowOrigin != nil:
		if origin != "" && c.AllowOrigin(origin) {
			h["Access-Control-Allow-Origin"] = []string{origin}
		}
		h.Add("Vary", "Origin")
	case len(c.Origins) == 0:
		if origin != "" {
			h["Access-Control-Allow-Origin"] = []string{origin}
		}
		h.Add("Vary", "Origin")
	case len(c.Origins) == 1 && c.Origins[0] == "*":
		h["Access-Control-Allow-Origin"] = []string{"*"}
	case len(c.Origins) == 1:
		h["Access-Control-Allow-Origin"] = []string{c.Origins[0]}
		h.Add("Vary", "Origin")
	default:
		if slices.Contains(c.Origins, origin) {
			h["Access-Control-Allow-Origin"] = []string{origin}
		}
		h.Add("Vary", "Origin")
	}
}

// preflight answers an OPTIONS request: 204 with the allowed methods and
// headers.
func (c *CORSOptions) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	c.origin(h, r)
	if c.Credentials {
		h["Access-Control-Allow-Credentials"] = []string{"true"}
	}
	methods := defaultCORSMethods
	if len(c.Methods) > 0 {
		methods = strings.Join(c.Methods, ",")
	}
	h["Access-Control-Allow-Methods"] = []string{methods}
	if len(c.AllowedHeaders) > 0 {
		h["Access-Control-Allow-Headers"] = []string{strings.Join(c.AllowedHeaders, ",")}
	} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h["Access-Control-Allow-Headers"] = []string{req}
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	if c.MaxAge > 0 {
		h["Access-Control-Max-Age"] = []string{strconv.Itoa(int(c.MaxAge.Seconds()))}
	}
	h["Content-Length"] = []string{"0"}
	w.WriteHeader(http.StatusNoContent)
}
