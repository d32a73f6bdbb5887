package ssh

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/faultrelay"
	"github.com/libssh-go/libssh/sshtest"
)

// Waits that must end whatever the server does: its window at 0 forever, a
// re-key it never finishes, a socket it stops reading. Each test puts the
// call in the stuck state first (a call that cannot complete, proven by a
// signal from the server or the socket, never by sleeping), then checks that
// Close, ctx or a deadline ends it with an error, within a generous bound.

// bound is how long a call that should end "at once" may take before the
// test calls it a hang: generous for a loaded -race run.
const bound = 15 * time.Second

// gateConn is the client's socket with two switches. stallWrites makes
// every later Write block until Close, as when the server stops reading
// and the kernel's buffers are full; stallReads makes every later Read
// block until Close (dropping what arrives), as when the server's bytes
// stop arriving: a frozen path, or a server that never answers.
type gateConn struct {
	net.Conn
	closed    chan struct{}
	closeOnce sync.Once

	rStall, wStall chan struct{}
	rOnce, wOnce   sync.Once
	wBlocked       chan struct{} // closed when a Write first blocks on the stall
	wbOnce         sync.Once
}

func newGateConn(c net.Conn) *gateConn {
	return &gateConn{Conn: c, closed: make(chan struct{}), rStall: make(chan struct{}),
		wStall: make(chan struct{}), wBlocked: make(chan struct{})}
}

func (g *gateConn) stallReads()  { g.rOnce.Do(func() { close(g.rStall) }) }
func (g *gateConn) stallWrites() { g.wOnce.Do(func() { close(g.wStall) }) }

// writeBlocked is closed once a Write waits on the stall: from then on
// x/crypto holds the transport's lock in a write that cannot finish.
func (g *gateConn) writeBlocked() <-chan struct{} { return g.wBlocked }

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (g *gateConn) Read(p []byte) (int, error) {
	if !isClosed(g.rStall) {
		n, err := g.Conn.Read(p)
		if !isClosed(g.rStall) {
			return n, err
		}
	}
	<-g.closed
	return 0, net.ErrClosed
}

func (g *gateConn) Write(p []byte) (int, error) {
	if isClosed(g.wStall) {
		g.wbOnce.Do(func() { close(g.wBlocked) })
		<-g.closed
		return 0, net.ErrClosed
	}
	return g.Conn.Write(p)
}

func (g *gateConn) Close() error {
	g.closeOnce.Do(func() { close(g.closed) })
	return g.Conn.Close()
}

// gatedSession logs in to a test server with cfg over a gateConn.
func gatedSession(t *testing.T, cfg sshtest.Config, opts ...Option) (*Session, *gateConn) {
	t.Helper()
	cfg.Users = map[string]sshtest.User{"alice": {Password: "pw"}}
	srv := sshtest.New(t, cfg)
	raw, err := net.Dial("tcp", net.JoinHostPort(srv.Host(), strconv.Itoa(srv.Port())))
	if err != nil {
		t.Fatal(err)
	}
	g := newGateConn(raw)
	s := NewSession()
	base := []Option{ProcessConfig(false), Socket(g), User("alice"), SSHDir(t.TempDir())}
	if err := s.SetOption(append(base, opts...)...); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		_ = g.Close()
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatalf("login: %v, %v", st, err)
	}
	return s, g
}

// holdServer is a test server config whose commands read stdin up to
// first bytes, then signal reading (once per command) and read nothing more
// until the channel ends: their window closes for good.
func holdServer(first int64, reading chan<- struct{}) sshtest.Config {
	return sshtest.Config{Exec: func(ctx sshtest.ExecContext) int {
		_, _ = io.CopyN(io.Discard, ctx.Stdin, first)
		reading <- struct{}{}
		<-ctx.Ctx.Done()
		return 0
	}}
}

// readingServer's commands signal on the first stdin byte, then read
// stdin to its end.
func readingServer(reading chan<- struct{}) sshtest.Config {
	return sshtest.Config{Exec: func(ctx sshtest.ExecContext) int {
		_, _ = io.CopyN(io.Discard, ctx.Stdin, 1)
		reading <- struct{}{}
		_, _ = io.Copy(io.Discard, ctx.Stdin)
		return 0
	}}
}

// returnsSoon fails the test unless f returns within bound, and returns
// its error.
func returnsSoon(t *testing.T, what string, f func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	return waitErr(t, what, errc)
}

func waitErr(t *testing.T, what string, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(bound):
		t.Fatalf("%s still blocked after %v", what, bound)
		return nil
	}
}

// goWrite starts ch.Write(p) on its own goroutine.
func goWrite(w io.Writer, p []byte) <-chan error {
	errc := make(chan error, 1)
	go func() { _, err := w.Write(p); errc <- err }()
	return errc
}

// waitDisconnected fails the test unless the session's connection ends
// within d plus bound.
func waitDisconnected(t *testing.T, s *Session, d time.Duration) {
	t.Helper()
	c := s.current()
	select {
	case <-c.done:
	case <-time.After(d + bound):
		t.Fatalf("session still connected %v after the transport stuck", d+bound)
	}
	if err := c.closedErr(); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("connection ended with %v, want ErrDisconnected", err)
	}
}

// endless is an stdin that never ends, in reads of size bytes.
type endless struct{ size int }

func (e endless) Read(p []byte) (int, error) {
	n := min(len(p), e.size)
	clear(p[:n])
	return n, nil
}

// runningChannel opens a session channel on s running cmd.
func runningChannel(t *testing.T, s *Session, cmd string) *Channel {
	t.Helper()
	ch := openSession(t, s)
	if err := ch.RequestExec(testCtx(t), cmd); err != nil {
		t.Fatal(err)
	}
	return ch
}

// ---- window 0 forever, and a server that never answers CLOSE (sshd with
// the command still running) ----

func TestCloseWakesWriteOnClosedWindow(t *testing.T) {
	reading := make(chan struct{}, 1)
	s, g := gatedSession(t, holdServer(64<<10, reading))
	ch := runningChannel(t, s, "hold")
	errc := goWrite(ch, make([]byte, 8<<20))
	<-reading      // 8 MiB cannot fit in what the server took plus its window
	g.stallReads() // and the server's answer to CLOSE never arrives
	if err := returnsSoon(t, "Close", ch.Close); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := waitErr(t, "Write after Close", errc); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("Write woken by Close: %v", err)
	}
}

func TestExecCtxEndsStdinOnClosedWindow(t *testing.T) {
	reading := make(chan struct{}, 1)
	s, g := gatedSession(t, holdServer(64<<10, reading))
	go func() { <-reading; g.stallReads() }()
	ctx, cancel := context.WithTimeout(testCtx(t), time.Second)
	defer cancel()
	err := returnsSoon(t, "Exec", func() error {
		_, err := s.Exec(ctx, "hold", endless{32 << 10})
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exec on a closed window: %v", err)
	}
}

func TestDisconnectWakesWriteWithErrDisconnected(t *testing.T) {
	reading := make(chan struct{}, 1)
	s, _ := gatedSession(t, holdServer(64<<10, reading))
	ch := runningChannel(t, s, "hold")
	errc := goWrite(ch, make([]byte, 8<<20))
	<-reading
	_ = returnsSoon(t, "Disconnect", s.Disconnect)
	if err := waitErr(t, "Write after Disconnect", errc); !errors.Is(err, ErrDisconnected) || errors.Is(err, ErrChannelClosed) {
		t.Fatalf("Write woken by Disconnect: %v", err)
	}
}

// ---- a server that stops reading its socket: the transport is stuck ----

func TestCloseWakesWriteOnStuckTransport(t *testing.T) {
	const grace = 5 * time.Second
	s, g := gatedSession(t, sshtest.Config{}, Timeout(grace))
	ch := runningChannel(t, s, "sha256")
	other := runningChannel(t, s, "sha256")
	g.stallWrites()
	errc := goWrite(ch, make([]byte, 8<<20))
	<-g.writeBlocked()
	otherc := goWrite(other, make([]byte, 1<<20))
	if err := returnsSoon(t, "Close", ch.Close); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := waitErr(t, "Write after Close", errc); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("Write woken by Close: %v", err)
	}
	// The connection cannot even take the CLOSE: it is ended, and the
	// writer on the other channel learns why.
	waitDisconnected(t, s, grace)
	err := waitErr(t, "Write on the other channel", otherc)
	if !errors.Is(err, ErrDisconnected) {
		t.Fatalf("other channel's Write: %v", err)
	}
	t.Logf("a writer on the stuck connection: %v", err)
	if s.IsConnected() {
		t.Fatal("IsConnected after the transport was found stuck")
	}
}

func TestExecCtxEndsStdinOnStuckTransport(t *testing.T) {
	reading := make(chan struct{}, 1)
	s, g := gatedSession(t, readingServer(reading))
	go func() { <-reading; g.stallWrites() }()
	ctx, cancel := context.WithTimeout(testCtx(t), time.Second)
	defer cancel()
	err := returnsSoon(t, "Exec", func() error {
		_, err := s.Exec(ctx, "read", endless{32 << 10})
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exec on a stuck transport: %v", err)
	}
}

func TestNetConnWriteDeadlineOnStuckTransport(t *testing.T) {
	s, g := gatedSession(t, sshtest.Config{})
	ch := runningChannel(t, s, "sha256")
	nc := ch.NetConn()
	g.stallWrites()
	_ = nc.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	var ne net.Error
	for i := range 2 { // the second Write waits for the piece the first left in flight
		err := returnsSoon(t, "NetConn Write", func() error { _, err := nc.Write(make([]byte, 4<<20)); return err })
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write %d past the deadline: %v", i, err)
		}
	}
	cw := nc.(interface{ CloseWrite() error })
	if err := returnsSoon(t, "CloseWrite", cw.CloseWrite); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("CloseWrite past the deadline: %v", err)
	}
	// Without a deadline, Close wakes the Write.
	_ = nc.SetWriteDeadline(time.Time{})
	errc := goWrite(nc, make([]byte, 1<<20))
	if err := returnsSoon(t, "Close", nc.Close); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := waitErr(t, "Write after Close", errc); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write woken by Close: %v", err)
	}
}

// A CloseWrite that the connection does not take must not hold a Write up
// past the Write's deadline.
func TestNetConnWriteDeadlineBehindStuckCloseWrite(t *testing.T) {
	s, g := gatedSession(t, sshtest.Config{})
	nc := runningChannel(t, s, "sha256").NetConn()
	other := runningChannel(t, s, "sha256")
	g.stallWrites()
	_ = goWrite(other, make([]byte, 1<<20)) // takes the transport's lock for good
	<-g.writeBlocked()
	cwc := make(chan error, 1)
	go func() { cwc <- nc.(interface{ CloseWrite() error }).CloseWrite() }()
	_ = nc.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	if err := returnsSoon(t, "NetConn Write", func() error { _, err := nc.Write([]byte("x")); return err }); err == nil {
		t.Fatal("Write behind a stuck CloseWrite succeeded")
	}
	if err := waitErr(t, "CloseWrite", cwc); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("CloseWrite woken by the new deadline: %v", err)
	}
}

func TestRequestsEndOnStuckTransport(t *testing.T) {
	s, g := gatedSession(t, sshtest.Config{})
	ch := openSession(t, s)
	fresh, err := s.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	g.stallWrites()
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	for name, call := range map[string]func() error{
		"RequestEnv":  func() error { return ch.RequestEnv(short(), "A", "b") },
		"RequestPty":  func() error { return ch.RequestPty(short(), "xterm", 80, 24) },
		"OpenSession": func() error { return fresh.OpenSession(short()) },
	} {
		if err := returnsSoon(t, name, call); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a stuck transport: %v", name, err)
		}
	}
	// Close wakes a request that waits without a deadline.
	errc := make(chan error, 1)
	go func() { errc <- ch.RequestExec(context.Background(), "true") }()
	go func() { errc <- ch.ChangePtySize(100, 30) }()
	if err := returnsSoon(t, "Close", ch.Close); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 2 {
		if err := waitErr(t, "request after Close", errc); !errors.Is(err, ErrChannelClosed) {
			t.Errorf("request woken by Close: %v", err)
		}
	}
}

func TestCloseWakesSendEOFAndFlushOnStuckTransport(t *testing.T) {
	s, g := gatedSession(t, sshtest.Config{})
	ch := runningChannel(t, s, "sha256")
	g.stallWrites()
	// Non-blocking mode queues; BlockingFlush ends with its ctx.
	s.SetBlocking(false)
	if _, err := ch.Write(make([]byte, 512<<10)); err != nil {
		t.Fatal(err)
	}
	s.SetBlocking(true)
	<-g.writeBlocked()
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	if err := returnsSoon(t, "BlockingFlush", func() error { return s.BlockingFlush(ctx) }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BlockingFlush on a stuck transport: %v", err)
	}
	// A blocking Write waits behind the queue, SendEOF behind both; Close
	// wakes them.
	wc := goWrite(ch, []byte("more"))
	ec := make(chan error, 1)
	go func() { ec <- ch.SendEOF() }()
	if err := returnsSoon(t, "Close", ch.Close); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := waitErr(t, "Write after Close", wc); !errors.Is(err, ErrChannelClosed) {
		t.Errorf("Write woken by Close: %v", err)
	}
	if err := waitErr(t, "SendEOF after Close", ec); !errors.Is(err, ErrChannelClosed) {
		t.Errorf("SendEOF woken by Close: %v", err)
	}
}

func TestReadFromEndsOnClose(t *testing.T) {
	s, g := gatedSession(t, sshtest.Config{})
	ch := runningChannel(t, s, "sha256")
	g.stallWrites()
	errc := make(chan error, 1)
	go func() { _, err := io.Copy(ch, endless{64 << 10}); errc <- err }()
	<-g.writeBlocked()
	if err := returnsSoon(t, "Close", ch.Close); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, "io.Copy after Close", errc); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("io.Copy into the channel after Close: %v", err)
	}
}

// ---- a re-key the server never finishes ----

// stalledGrace is the Timeout option of kexStalled's session.
const stalledGrace = 5 * time.Second

// kexStalled logs in with a small RekeyLimit and returns a channel whose
// command is reading stdin; from the first byte on, the server's bytes no
// longer arrive, so the client's next KEXINIT is never answered.
func kexStalled(t *testing.T) (*Session, *Channel) {
	reading := make(chan struct{}, 1)
	s, g := gatedSession(t, readingServer(reading), RekeyLimit(64<<10, 0), Timeout(stalledGrace))
	ch := runningChannel(t, s, "read")
	if _, err := ch.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	<-reading
	g.stallReads()
	return s, ch
}

// wedge writes small pieces through nc with a short deadline until one
// times out: then x/crypto holds a write it cannot finish.
func wedge(t *testing.T, nc net.Conn) {
	t.Helper()
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	defer nc.SetWriteDeadline(time.Time{})
	buf := make([]byte, 1<<10)
	for total := 0; total < 64<<20; total += len(buf) {
		if _, err := nc.Write(buf); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("wedge: %v", err)
			}
			return
		}
	}
	t.Fatal("64 MiB written through a stalled re-key")
}

func TestCloseWakesWriteDuringStalledRekey(t *testing.T) {
	s, ch := kexStalled(t)
	wedge(t, ch.NetConn())
	errc := goWrite(ch, make([]byte, 1<<10))
	if err := returnsSoon(t, "Close", ch.Close); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, "Write after Close", errc); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("Write woken by Close: %v", err)
	}
	// The transport waits for the key exchange and takes no CLOSE: the
	// session is ended.
	waitDisconnected(t, s, stalledGrace)
}

func TestExecCtxEndsStdinDuringStalledRekey(t *testing.T) {
	reading := make(chan struct{}, 1)
	s, g := gatedSession(t, readingServer(reading), RekeyLimit(64<<10, 0))
	go func() { <-reading; g.stallReads() }()
	ctx, cancel := context.WithTimeout(testCtx(t), time.Second)
	defer cancel()
	err := returnsSoon(t, "Exec", func() error {
		_, err := s.Exec(ctx, "read", endless{1 << 10})
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exec during a stalled re-key: %v", err)
	}
}

// ---- what a failed write says ----

func TestWriteErrorsMatchSentinels(t *testing.T) {
	t.Run("connection reset mid-upload", func(t *testing.T) {
		srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
		relay := faultrelay.New(t, net.JoinHostPort(srv.Host(), strconv.Itoa(srv.Port())))
		relay.Set(faultrelay.Fault{Dir: faultrelay.ClientToServer, After: 1 << 20, Action: faultrelay.Reset})
		s := NewSession()
		if err := s.SetOption(ProcessConfig(false), Hostname("127.0.0.1"), Port(relay.Port()), User("alice"), SSHDir(t.TempDir())); err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Disconnect() })
		_ = s.AcceptHostKey()
		if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
			t.Fatal(st, err)
		}
		ch := runningChannel(t, s, "sha256")
		_, err := io.Copy(ch, endless{64 << 10})
		t.Logf("upload through a reset connection: %v", err)
		var errno syscall.Errno
		if !errors.Is(err, ErrDisconnected) || errors.Is(err, ErrChannelClosed) {
			t.Fatalf("upload through a reset connection: %v", err)
		}
		if !errors.As(err, &errno) && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("the cause is not reachable: %v", err)
		}
	})
	t.Run("server closed the channel", func(t *testing.T) {
		s, _ := loggedIn(t)
		ch := runningChannel(t, s, "exit 0")
		if _, err := ch.ExitStatus(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		<-ch.remote
		if _, err := ch.Write([]byte("late")); !errors.Is(err, ErrChannelClosed) || errors.Is(err, ErrDisconnected) {
			t.Fatalf("Write after the server closed: %v", err)
		}
	})
	t.Run("after SendEOF", func(t *testing.T) {
		s, _ := loggedIn(t)
		ch := runningChannel(t, s, "sha256")
		if err := ch.SendEOF(); err != nil {
			t.Fatal(err)
		}
		if _, err := ch.Write([]byte("late")); !errors.Is(err, ErrChannelClosed) {
			t.Fatalf("Write after SendEOF: %v", err)
		}
	})
	t.Run("after Close", func(t *testing.T) {
		s, _ := loggedIn(t)
		ch := runningChannel(t, s, "sha256")
		_ = ch.Close()
		for name, f := range map[string]func() error{
			"Write":      func() error { _, err := ch.Write([]byte("x")); return err },
			"SendEOF":    ch.SendEOF,
			"RequestEnv": func() error { return ch.RequestEnv(testCtx(t), "A", "b") },
		} {
			if err := f(); !errors.Is(err, ErrChannelClosed) {
				t.Errorf("%s after Close: %v", name, err)
			}
		}
	})
}

// ---- the same through real kernel buffers: a relay that stops passing
// the client's bytes to the test server ----

func TestServerStopsReadingThroughRelay(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	login := func(t *testing.T) (*Session, *faultrelay.Relay) {
		relay := faultrelay.New(t, net.JoinHostPort(srv.Host(), strconv.Itoa(srv.Port())))
		relay.Set(faultrelay.Fault{Dir: faultrelay.ClientToServer, After: 64 << 10, Action: faultrelay.Freeze})
		s := NewSession()
		if err := s.SetOption(ProcessConfig(false), Hostname("127.0.0.1"), Port(relay.Port()), User("alice"), SSHDir(t.TempDir())); err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Disconnect() })
		_ = s.AcceptHostKey()
		if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
			t.Fatal(st, err)
		}
		return s, relay
	}
	t.Run("Exec with a ctx", func(t *testing.T) {
		s, _ := login(t)
		ctx, cancel := context.WithTimeout(testCtx(t), time.Second)
		defer cancel()
		err := returnsSoon(t, "Exec", func() error {
			_, err := s.Exec(ctx, "sha256", endless{64 << 10})
			return err
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Exec to a server that stopped reading: %v", err)
		}
	})
	t.Run("Close wakes writers", func(t *testing.T) {
		s, relay := login(t)
		var chans []*Channel
		for range 8 {
			chans = append(chans, runningChannel(t, s, "sha256"))
		}
		var errcs []<-chan error
		for _, ch := range chans {
			errcs = append(errcs, goWrite(ch, make([]byte, 16<<20)))
		}
		<-relay.Triggered() // from now on the server sees nothing: no write can finish
		for _, ch := range chans {
			if err := returnsSoon(t, "Close", ch.Close); err != nil {
				t.Fatal(err)
			}
		}
		for i, errc := range errcs {
			if err := waitErr(t, "Write after Close", errc); !errors.Is(err, ErrChannelClosed) {
				t.Errorf("Write %d woken by Close: %v", i, err)
			}
		}
	})
}
