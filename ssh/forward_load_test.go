package ssh

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// openFDs counts the process's open file descriptors (-1 where /proc is
// missing).
func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// 200 -L connections, 200 -R connections and a burst of 64 (the backlog)
// accepted with AcceptForward, all at once through one session, each
// checked end to end; afterwards goroutines and file descriptors are back
// where they started.
func TestForwardLoad200Concurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const conns = 200
	const accepted = maxPendingOpens
	const perConn = 256 << 10
	goroutines, fds := runtime.NumGoroutine(), openFDs()

	srv, err := sshtest.Start(sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	if err != nil {
		t.Fatal(err)
	}
	echoLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopEcho := serveEchoUntil(echoLn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	s := NewSession()
	if err := s.SetOption(ProcessConfig(false), Hostname(srv.Host()), Port(srv.Port()), User("alice"), SSHDir(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	_ = s.AcceptHostKey()
	if st, err := s.UserauthPassword(ctx, "", "pw"); st != AuthSuccess {
		t.Fatalf("login: %v, %v", st, err)
	}
	host, port := splitPort(t, echoLn.Addr().String())
	echo := Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: port}
	local, err := s.LocalForward(ctx, echo)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := s.RemoteForward(ctx, echo)
	if err != nil {
		t.Fatal(err)
	}
	rport, err := s.ListenForward(ctx, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 3*conns)
	// The application side of ListenForward: accept and echo.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range accepted {
			_, ch, err := s.AcceptForward(ctx)
			if err != nil {
				errs <- err
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer ch.Close()
				fwdEchoHandler(ch.NetConn(), nil)
			}()
		}
	}()
	addrs := make([]string, 0, 2*conns+accepted)
	for range conns {
		addrs = append(addrs, local.Addr().String(), remote.Addr().String())
	}
	for range accepted {
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(rport))
	}
	for _, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := fwdExchange(t, c, perConn); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d forwarded connections at once (%d -L, %d -R, %d AcceptForward), %d KiB each way: %v",
		len(addrs), conns, conns, accepted, perConn>>10, elapsed)

	if err := remote.Close(); err != nil {
		t.Fatal(err)
	}
	if err := local.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	stopEcho()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// Disconnect has waited for every goroutine it started, but one that
	// has run its deferred wg.Done may not have returned yet: give those a
	// moment to finish (goleak retries the same way) before counting.
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > goroutines && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	if g := runtime.NumGoroutine(); g > goroutines {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", g, goroutines, buf[:runtime.Stack(buf, true)])
	}
	if f := openFDs(); f > fds {
		t.Fatalf("%d file descriptors after Close, %d before", f, fds)
	}
}

// serveEchoUntil echoes on ln until the returned stop is called, which
// returns once every connection and goroutine ended.
func serveEchoUntil(ln net.Listener) (stop func()) {
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
				fwdEchoHandler(c, nil)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	return func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
}

// A hostile server opens 10,000 channels of each kind the client did not
// ask for, and floods a requested listener nobody accepts from: every
// open is refused, memory stays flat, and the session keeps working.
func TestHostileServerOpens(t *testing.T) {
	if testing.Short() {
		t.Skip("flood")
	}
	s, srv := loggedIn(t)
	ctx := testCtx(t)
	port, err := s.ListenForward(ctx, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	const each = 10000
	const workers = 8
	kinds := []struct {
		typ     string
		payload []byte
	}{
		{"forwarded-tcpip", fwdPayload("127.0.0.1", port+1)},
		{"x11", x11Payload(6000)},
		{"auth-agent@openssh.com", nil},
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for _, k := range kinds {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < each; i += workers {
					_, _, err := srv.OpenChannelToClient(ctx, "alice", k.typ, k.payload)
					if fwdOCE(err) == nil {
						mu.Lock()
						accepted++
						mu.Unlock()
						return
					}
				}
			}()
		}
	}
	// Meanwhile the session works.
	if out, err := s.Output(ctx, "echo alive"); err != nil || string(out) != "alive\n" {
		t.Errorf("session during the flood: %q, %v", out, err)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if accepted != 0 {
		t.Fatalf("%d hostile opens were not refused", accepted)
	}
	after := heap()
	t.Logf("%d hostile opens refused in %v; heap in use %d KiB before, %d KiB after", len(kinds)*each, elapsed, before>>10, after>>10)
	if after > before+8<<20 {
		t.Fatalf("heap grew from %d to %d bytes", before, after)
	}

	// The requested listener, flooded with nobody accepting: 64 wait,
	// the rest are refused at once; Disconnect ends the waiting ones.
	results := make(chan error, 200)
	for range 200 {
		go func() {
			c, reqs, err := srv.OpenChannelToClient(ctx, "alice", "forwarded-tcpip", fwdPayload("127.0.0.1", port))
			if err == nil {
				go gossh.DiscardRequests(reqs)
				c.Close()
			}
			results <- err
		}()
	}
	shortage := 0
	for range 200 - maxPendingOpens {
		if e := fwdOCE(<-results); e != nil && e.Reason == gossh.ResourceShortage {
			shortage++
		}
	}
	if shortage != 200-maxPendingOpens {
		t.Fatalf("%d refused for shortage, want %d", shortage, 200-maxPendingOpens)
	}
	if out, err := s.Output(ctx, "echo still"); err != nil || string(out) != "still\n" {
		t.Fatalf("session with a full queue: %q, %v", out, err)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	for range maxPendingOpens {
		select {
		case err := <-results:
			if err == nil {
				t.Fatal("a waiting open was accepted by a disconnected client")
			}
		case <-ctx.Done():
			t.Fatal("waiting opens outlived the connection")
		}
	}
}

// Peers that hang never hold up Close, Disconnect or other channels.
func TestForwardedPeersHang(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)

	// An accepted forward whose peer sends nothing: the read deadline
	// fires, Close returns.
	port, err := s.ListenForward(ctx, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	idle, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_, ch, err := s.AcceptForward(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nc := ch.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read from a silent peer: %v", err)
	}
	_ = nc.Close()

	// -L to a target that never reads, with a local client pushing data:
	// Close returns though the channel's window is shut.
	silent := fwdSilentServer(t)
	host, sport := splitPort(t, silent)
	lfw, err := s.LocalForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: sport})
	if err != nil {
		t.Fatal(err)
	}
	pusher, err := net.Dial("tcp", lfw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer pusher.Close()
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		_, _ = io.Copy(pusher, &patternReader{left: 64 << 20})
	}()

	// -R to a local target that never reads, with the server's peer
	// pushing data.
	rfw, err := s.RemoteForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: sport})
	if err != nil {
		t.Fatal(err)
	}
	rpusher, err := net.Dial("tcp", rfw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer rpusher.Close()
	rpushed := make(chan struct{})
	go func() {
		defer close(rpushed)
		_, _ = io.Copy(rpusher, &patternReader{left: 64 << 20})
	}()

	// Other channels keep working meanwhile.
	if out, err := s.Output(ctx, "echo busy"); err != nil || string(out) != "busy\n" {
		t.Fatalf("session beside hung forwards: %q, %v", out, err)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = lfw.Close()
		_ = rfw.Close()
	}()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close hung on a stalled forward")
	}
	_ = pusher.Close()
	_ = rpusher.Close()
	<-pushed
	<-rpushed
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
}
