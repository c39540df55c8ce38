package chiadapter

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Handler is what Mount serves: an httpadapter.Server or Engine.
type Handler interface {
	http.Handler
	// Path is where the handler serves requests, such as "/socket.io/".
	Path() string
}

// Mount serves h on r under h.Path(), for every method. Middlewares given
// here run for these requests only, after r's own.
func Mount(r chi.Router, h Handler, middlewares ...func(http.Handler) http.Handler) {
	path := h.Path()
	var handler http.Handler = h
	if len(middlewares) > 0 {
		handler = chi.Chain(middlewares...).Handler(h)
	}
	r.Handle(path+"*", handler)
}
