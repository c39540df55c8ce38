module github.com/sio-go/sio

go 1.26

require (
	github.com/coder/websocket v1.8.15
	pgregory.net/rapid v1.3.0
)

require github.com/go-chi/chi/v5 v5.5.0 // indirect
