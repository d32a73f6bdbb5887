package ssh

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// Helpers of the forwarding tests.

// fwdServe runs handle for each connection of ln until cleanup, which
// closes stop, the listener and every connection and waits for the
// handlers.
func fwdServe(t testing.TB, ln net.Listener, handle func(c net.Conn, stop <-chan struct{})) string {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				handle(c, stop)
			}()
		}
	}()
	t.Cleanup(func() {
		close(stop)
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func fwdListen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// fwdEchoHandler echoes until EOF, then half-closes, so a client that
// half-closes reads everything back. The types are hidden from io.Copy:
// TCP to TCP would splice(2) through pipes that Go caches until a garbage
// collection, which the file descriptor count of the load test would see.
func fwdEchoHandler(c net.Conn, _ <-chan struct{}) {
	_, _ = io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// fwdEchoServer listens on 127.0.0.1 (or a Unix socket path) and echoes.
func fwdEchoServer(t testing.TB, network string) string {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(fwdTempDir(t), "echo.sock")
	}
	return fwdServe(t, fwdListen(t, network, addr), fwdEchoHandler)
}

// fwdSilentServer accepts and holds connections without reading or writing.
func fwdSilentServer(t testing.TB) string {
	t.Helper()
	return fwdServe(t, fwdListen(t, "tcp", "127.0.0.1:0"), func(c net.Conn, stop <-chan struct{}) { <-stop })
}

// fwdHTTPServer serves "hello from <path>" on 127.0.0.1.
func fwdHTTPServer(t testing.TB) string {
	t.Helper()
	ln := fwdListen(t, "tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from "+r.URL.Path)
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().String()
}

// fwdHTTPGet fetches url with a client that keeps no idle connections.
func fwdHTTPGet(t testing.TB, tr *http.Transport, url string) string {
	t.Helper()
	if tr == nil {
		tr = &http.Transport{}
	}
	tr.DisableKeepAlives = true
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// fwdTempDir is a temporary directory with a short path: Unix socket
// paths are limited to 108 bytes, which t.TempDir's can exceed.
func fwdTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fwd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// exchange writes n pattern bytes to c while reading the echo back, and
// checks the echo's hash; it half-closes after writing.
func fwdExchange(t testing.TB, c net.Conn, n int64) error {
	want := sha256.New()
	werr := make(chan error, 1)
	go func() {
		_, err := io.Copy(c, io.TeeReader(&patternReader{left: n}, want))
		if err == nil {
			err = c.(interface{ CloseWrite() error }).CloseWrite()
		}
		werr <- err
	}()
	got := sha256.New()
	m, err := io.Copy(got, c)
	if e := <-werr; e != nil {
		return e
	}
	if err != nil {
		return err
	}
	if m != n || string(got.Sum(nil)) != string(want.Sum(nil)) {
		return fmt.Errorf("echo differs: %d of %d bytes came back, hash equal %v", m, n, string(got.Sum(nil)) == string(want.Sum(nil)))
	}
	return nil
}

// oce returns the x/crypto open-channel error in err, or nil.
func fwdOCE(err error) *gossh.OpenChannelError {
	var e *gossh.OpenChannelError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// fwdPayload is a forwarded-tcpip open's payload.
func fwdPayload(addr string, port int) []byte {
	return gossh.Marshal(struct {
		Addr     string
		Port     uint32
		OrigAddr string
		OrigPort uint32
	}{addr, uint32(port), "192.0.2.1", 4242})
}
