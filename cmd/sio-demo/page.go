package main

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed web
var webFiles embed.FS

// newPage serves the live page and its files.
func newPage(d *demoServer) http.Handler {
	sub, _ := fs.Sub(webFiles, "web")
	return http.FileServerFS(sub)
}
