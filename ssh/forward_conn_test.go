package ssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

func openForward(t *testing.T, s *Session, addr string) *Channel {
	t.Helper()
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	ch, err := s.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.OpenForward(testCtx(t), host, port, "198.51.100.7", 5555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	return ch
}

func TestOpenForwardAndUnix(t *testing.T) {
	s, srv := loggedIn(t)
	ctx := testCtx(t)
	addr := fwdEchoServer(t, "tcp")
	ch := openForward(t, s, addr)
	nc := ch.NetConn()
	if nc.LocalAddr().String() != "198.51.100.7:5555" || nc.RemoteAddr().String() != addr {
		t.Errorf("addresses %s -> %s", nc.LocalAddr(), nc.RemoteAddr())
	}
	if err := fwdExchange(t, nc, 4<<20); err != nil {
		t.Fatal(err)
	}
	if ch.NetConn() != nc {
		t.Fatal("NetConn returns a new value each call")
	}
	recs := srv.ForwardRecords()
	if len(recs) != 1 || recs[0].OrigHost != "198.51.100.7" || recs[0].OrigPort != 5555 || !recs[0].OK {
		t.Fatalf("server saw %+v", recs)
	}

	sock := fwdEchoServer(t, "unix")
	uch, err := s.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	defer uch.Close()
	if err := uch.OpenForwardUnix(ctx, sock, "", 0); err != nil {
		t.Fatal(err)
	}
	if got := uch.NetConn().RemoteAddr().String(); got != sock {
		t.Errorf("RemoteAddr %s", got)
	}
	if err := fwdExchange(t, uch.NetConn(), 1<<20); err != nil {
		t.Fatal(err)
	}

	// Refusals are *OpenChannelError matching ErrRequestDenied.
	dead := fwdListen(t, "tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	bad, _ := s.NewChannel()
	err = bad.OpenForward(ctx, "127.0.0.1", dead.Addr().(*net.TCPAddr).Port, "", 0)
	var oce *OpenChannelError
	if !errors.As(err, &oce) || !errors.Is(err, ErrRequestDenied) {
		t.Fatalf("OpenForward to a closed port: %v", err)
	}
	if _, err := s.DialContext(ctx, "tcp", deadAddr); !errors.Is(err, ErrRequestDenied) {
		t.Fatalf("DialContext to a closed port: %v", err)
	}
	if err := bad.OpenForward(ctx, "h", 65536, "", 0); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("port 65536: %v", err)
	}
}

func TestNetConnReadDeadline(t *testing.T) {
	s, _ := loggedIn(t)
	peer := make(chan net.Conn, 1)
	addr := fwdServe(t, fwdListen(t, "tcp", "127.0.0.1:0"), func(c net.Conn, stop <-chan struct{}) {
		peer <- c
		<-stop
	})
	nc := openForward(t, s, addr).NetConn()
	server := <-peer

	// A deadline that passes.
	_ = nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := nc.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}

	// A deadline set while Read blocks wakes it.
	_ = nc.SetReadDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() { _, err := nc.Read(make([]byte, 10)); errc <- err }()
	_ = nc.SetReadDeadline(time.Now().Add(-time.Second))
	if err := <-errc; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read woken by a past deadline: %v", err)
	}

	// Extending a deadline keeps Read waiting; nothing is lost.
	_ = nc.SetReadDeadline(time.Now().Add(time.Hour))
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 5)
		n, _ := io.ReadFull(nc, b)
		got <- string(b[:n])
	}()
	_ = nc.SetReadDeadline(time.Now().Add(2 * time.Hour))
	if _, err := io.WriteString(server, "hello"); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "hello" {
		t.Fatalf("read %q", g)
	}

	// Close wakes a blocked Read with net.ErrClosed.
	go func() { _, err := nc.Read(make([]byte, 10)); errc <- err }()
	_ = nc.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) || !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("read after Close: %v", err)
	}
}

// A peer that does not read makes Write wait for window; the deadline
// abandons the wait, and what Write reported written arrives exactly once
// and in order when the peer reads again.
func TestNetConnWriteDeadlineLosesNothing(t *testing.T) {
	s, _ := loggedIn(t)
	startReading := make(chan struct{})
	sums := make(chan []byte, 1)
	addr := fwdServe(t, fwdListen(t, "tcp", "127.0.0.1:0"), func(c net.Conn, stop <-chan struct{}) {
		select {
		case <-startReading:
		case <-stop:
			return
		}
		h := sha256.New()
		_, _ = io.Copy(h, c)
		sums <- h.Sum(nil)
	})
	nc := openForward(t, s, addr).NetConn()

	const total = 64 << 20
	data := make([]byte, total)
	_, _ = io.ReadFull(&patternReader{left: total}, data)
	_ = nc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := nc.Write(data)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) || n >= total {
		t.Fatalf("write to a peer that does not read: %d, %v", n, err)
	}
	t.Logf("%d bytes accepted before the deadline", n)

	// Another Write waits for the piece in flight, and times out too.
	_ = nc.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	if m, err := nc.Write(data[n:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second write: %d, %v", m, err)
	} else {
		n += m
	}
	// A deadline set while Write blocks wakes it.
	_ = nc.SetWriteDeadline(time.Time{})
	type res struct {
		n   int
		err error
	}
	wc := make(chan res, 1)
	go func() { m, err := nc.Write(data[n:]); wc <- res{m, err} }()
	_ = nc.SetWriteDeadline(time.Now().Add(-time.Second))
	r := <-wc
	if !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("write woken by a past deadline: %v", r.err)
	}
	n += r.n

	close(startReading)
	_ = nc.SetWriteDeadline(time.Time{})
	if m, err := nc.Write(data[n:]); err != nil || n+m != total {
		t.Fatalf("rest: %d, %v", m, err)
	}
	if err := nc.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if got := <-sums; !bytes.Equal(got, want[:]) {
		t.Fatal("the peer received different data")
	}
}

func TestNetConnCloseWakesBlockedWrite(t *testing.T) {
	s, _ := loggedIn(t)
	addr := fwdSilentServer(t)
	nc := openForward(t, s, addr).NetConn()
	errc := make(chan error, 1)
	go func() { _, err := nc.Write(make([]byte, 64<<20)); errc <- err }()
	_ = nc.Close() // before or while the write waits for window: either way it ends
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	if _, err := nc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write on a closed conn: %v", err)
	}
}

func TestDialContext(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	web := fwdHTTPServer(t)
	tr := &http.Transport{DialContext: s.DialContext}
	if body := fwdHTTPGet(t, tr, "http://"+web+"/tcp"); body != "hello from /tcp" {
		t.Fatalf("GET over the tunnel: %q", body)
	}

	// HTTP to a Unix socket through the server.
	sock := fwdTempDir(t) + "/http.sock"
	unixLn := fwdListen(t, "unix", sock)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "unix "+r.URL.Path)
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(unixLn) }()
	defer func() { _ = srv.Close(); <-done }()
	utr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return s.DialContext(ctx, "unix", sock)
	}}
	if body := fwdHTTPGet(t, utr, "http://unix/x"); body != "unix /x" {
		t.Fatalf("GET over a unix socket: %q", body)
	}

	for _, tc := range []struct{ network, addr string }{
		{"udp", "127.0.0.1:53"},
		{"tcp", "no-port"},
		{"tcp4", "[::1]:80"},
		{"tcp6", "127.0.0.1:80"},
	} {
		_, err := s.DialContext(ctx, tc.network, tc.addr)
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			t.Errorf("%s %s: %v", tc.network, tc.addr, err)
		}
	}
	// A dial in non-blocking mode still waits, as net.Dialer does.
	s.SetBlocking(false)
	c, err := s.DialContext(ctx, "tcp", fwdEchoServer(t, "tcp"))
	s.SetBlocking(true)
	if err != nil {
		t.Fatalf("dial in non-blocking mode: %v", err)
	}
	defer c.Close()
	if err := fwdExchange(t, c, 1024); err != nil {
		t.Fatal(err)
	}
}

func TestDialContextCancelled(t *testing.T) {
	s, _ := loggedIn(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	if _, err := s.DialContext(ctx, "tcp", fwdEchoServer(t, "tcp")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v", err)
	}
	// The session is fine afterwards.
	if out, err := s.Output(testCtx(t), "echo ok"); err != nil || string(out) != "ok\n" {
		t.Fatalf("%q, %v", out, err)
	}
}
