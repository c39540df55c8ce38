// Package chiadapter mounts sio on a chi router, so that the router's
// middlewares (authentication, logging, rate limits) run in front of every
// Engine.IO request, the handshake included, and the values they put in the
// request context reach the namespace middlewares through
// core.Handshake.Context.
//
//	r := chi.NewRouter()
//	r.Use(middleware.RequestID, auth)
//	srv := httpadapter.New(httpadapter.Options{KeepRequestContext: true})
//	chiadapter.Mount(r, srv)
//
// It imports httpadapter's handlers through the small Handler interface and
// github.com/go-chi/chi/v5.
package chiadapter
