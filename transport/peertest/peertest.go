// Package peertest finds and prepares the real peers that sio's tests run
// against: Node.js with the official packages pinned in a package-lock.json,
// and (in redis.go) redis-server. It is for tests only, as net/http/httptest
// is.
//
// A test that needs a peer calls Node or NodeModules. When the binary is
// missing the test is skipped with a one-line reason that names the command
// to install it; with SIO_REQUIRE_EXTERNAL=1 (set by .ci/run) it fails
// instead. Pinned npm packages are installed once, on first use, with
// `npm ci`, under a lock, so that `go test ./...` on a fresh machine with
// node and npm runs every interoperability test.
package peertest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Required reports whether missing peers fail tests instead of skipping
// them (SIO_REQUIRE_EXTERNAL=1).
func Required() bool { return os.Getenv("SIO_REQUIRE_EXTERNAL") == "1" }

// Unavailable skips t with reason, or fails it when peers are required.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatal(reason + " (SIO_REQUIRE_EXTERNAL=1)")
	}
	t.Skip(reason)
}

// Binary returns the path of the named program, or skips (fails when
// required) with a reason that says how to install it.
func Binary(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, fmt.Sprintf("%s is not on PATH; install it with: %s", name, install))
	}
	return p
}

// Node returns the path of node.
func Node(t testing.TB) string {
	t.Helper()
	return Binary(t, "node", "apt-get install nodejs npm")
}

var (
	installMu sync.Mutex
	installed = map[string]error{}
)

// NodeModules makes sure the packages pinned by dir/package-lock.json are
// installed in dir/node_modules, running `npm ci` once if they are not, and
// returns the path of node. dir is relative to the test's package or
// absolute. Concurrent test binaries share the work through a lock file.
func NodeModules(t testing.TB, dir string) string {
	t.Helper()
	node := Node(t)
	npm := Binary(t, "npm", "apt-get install npm")
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	installMu.Lock()
	defer installMu.Unlock()
	err, done := installed[abs]
	if !done {
		err = install(npm, abs)
		installed[abs] = err
	}
	if err != nil {
		Unavailable(t, fmt.Sprintf("npm ci in %s failed (%v); run it by hand: cd %s && npm ci", dir, err, dir))
	}
	return node
}

// install runs npm ci in dir unless node_modules is newer than the lock.
func install(npm, dir string) error {
	unlock, err := lockDir(filepath.Join(dir, ".npm-ci.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if fresh(dir) {
		return nil
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, lastLine(out))
	}
	return os.WriteFile(filepath.Join(dir, "node_modules", ".sio-installed"), nil, 0o644)
}

// fresh reports whether dir/node_modules was installed from the current
// package-lock.json.
func fresh(dir string) bool {
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false
	}
	mark, err := os.Stat(filepath.Join(dir, "node_modules", ".sio-installed"))
	if err == nil {
		return !mark.ModTime().Before(lock.ModTime())
	}
	// Installed by hand (npm ci, as .ci/run does): trust the tree npm wrote.
	hidden, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	return err == nil && !hidden.ModTime().Before(lock.ModTime())
}

// lockDir takes a lock shared by processes: a directory made with Mkdir.
// A lock older than ten minutes is taken to be left by a dead process.
func lockDir(path string) (unlock func(), err error) {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		err := os.Mkdir(path, 0o755)
		if err == nil {
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if st, serr := os.Stat(path); serr == nil && time.Since(st.ModTime()) > 10*time.Minute {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out waiting for %s", path)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func lastLine(b []byte) string {
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}
