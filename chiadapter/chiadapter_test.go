package chiadapter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
)

type userKey struct{}

// auth is a router middleware: it refuses requests without a token and puts
// the user in the request context.
func auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("token")
		if tok == "" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, "user-"+tok)))
	})
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMountRunsRouterMiddlewaresBeforeTheHandshake(t *testing.T) {
	srv := httpadapter.New(httpadapter.Options{KeepRequestContext: true})
	defer srv.Close(context.Background())
	users := make(chan string, 1)
	srv.Of("/").Use(func(s *core.Socket) error {
		u, _ := s.Handshake().Context.Value(userKey{}).(string)
		users <- u
		return nil
	})
	r := chi.NewRouter()
	r.Use(auth)
	r.Get("/hello", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hi") })
	Mount(r, srv)
	ts := httptest.NewServer(r)
	defer ts.Close()

	if code, _ := get(t, ts.URL+"/socket.io/?EIO=4&transport=polling"); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d, want 401 from the router's middleware", code)
	}
	code, body := get(t, ts.URL+"/socket.io/?EIO=4&transport=polling&token=42")
	if code != http.StatusOK || !strings.HasPrefix(body, `0{"sid":"`) {
		t.Fatalf("handshake: %d %q", code, body)
	}
	sid := body[len(`0{"sid":"`):strings.Index(body, `","upgrades"`)]
	base := ts.URL + "/socket.io/?EIO=4&transport=polling&token=42&sid=" + sid
	resp, err := http.Post(base, "text/plain;charset=UTF-8", strings.NewReader("40"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case u := <-users:
		if u != "user-42" {
			t.Fatalf("namespace middleware saw user %q", u)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the namespace middleware did not run")
	}
	if code, body := get(t, base); code != http.StatusOK || !strings.HasPrefix(body, `40{"sid":"`) {
		t.Fatalf("connect answer: %d %q", code, body)
	}
	if code, body := get(t, ts.URL+"/hello?token=1"); code != http.StatusOK || body != "hi" {
		t.Fatalf("the router's own route: %d %q", code, body)
	}
}

func TestMountWithOwnMiddlewares(t *testing.T) {
	eng := httpadapter.NewEngine(httpadapter.Options{Path: "/engine.io/"}, nil)
	defer eng.Close(context.Background())
	r := chi.NewRouter()
	seen := 0
	Mount(r, eng, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			seen++
			next.ServeHTTP(w, req)
		})
	})
	ts := httptest.NewServer(r)
	defer ts.Close()
	if code, body := get(t, ts.URL+"/engine.io/?EIO=4&transport=polling"); code != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake: %d %q", code, body)
	}
	if seen != 1 {
		t.Fatalf("mount middleware ran %d times", seen)
	}
}
