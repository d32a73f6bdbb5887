package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/faultrelay"
	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// The tests of this file break connections in the middle of a download and
// check that every read path reports the break (DESIGN.md, Reliability
// rules): an error matching ErrDisconnected, or ErrServerNotResponding when
// keepalives found the server gone, after a prefix of the real data, and
// never io.EOF or nil. They also check that servers that end cleanly, even
// by closing TCP right after the channel's CLOSE, still read as a clean end.

// truncTotal is the size of the download the faults cut: 64 MiB, far more
// than the 1 MiB after which the relay breaks the connection, so a
// complete transfer would be a bug of the test.
const truncTotal = 64 << 20

// truncAfter is where the relay breaks the server-to-client direction.
const truncAfter = 1 << 20

// patternByte is byte i of every test stream, so that any prefix can be
// checked without keeping the stream.
func patternByte(i int64) byte { return byte(i*131 ^ i>>9) }

// patternSource reads n bytes of the pattern.
type patternSource struct{ off, n int64 }

func (p *patternSource) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = patternByte(p.off + int64(i))
	}
	p.off += int64(len(b))
	return len(b), nil
}

// prefixCheck is a writer that checks what it is given against want,
// from offset 0, without keeping it.
type prefixCheck struct {
	want func(int64) byte
	n    int64
	bad  error
}

func (c *prefixCheck) Write(b []byte) (int, error) {
	for i, x := range b {
		if c.bad == nil && x != c.want(c.n+int64(i)) {
			c.bad = fmt.Errorf("byte %d is %#x, want %#x", c.n+int64(i), x, c.want(c.n+int64(i)))
		}
	}
	c.n += int64(len(b))
	return len(b), nil
}

// patternExec is a testserver Exec handler: "pattern N" writes N bytes of
// the pattern to stdout, "pattern-err N" to stderr; anything else runs the
// built-ins.
func patternExec(ctx sshtest.ExecContext) int {
	name, arg, _ := strings.Cut(ctx.Command, " ")
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || (name != "pattern" && name != "pattern-err") {
		return sshtest.RunBuiltin(ctx)
	}
	w := ctx.Stdout
	if name == "pattern-err" {
		w = ctx.Stderr
	}
	buf := make([]byte, 32<<10)
	src := &patternSource{n: n}
	for ctx.Ctx.Err() == nil {
		k, err := src.Read(buf)
		if err != nil {
			return 0
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return 1
		}
	}
	return 1
}

// patternListener serves n bytes of the pattern to every connection, for
// forwarded channels, and returns its address.
func patternListener(t *testing.T, n int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveConns(t, ln, func(c net.Conn) {
		_, _ = io.Copy(c, &patternSource{n: n})
	})
	return ln.Addr().String()
}

// truncTarget is one side of the truncation tests: a server, the commands
// that download truncTotal bytes from it, and a TCP address it can forward
// to that serves as much.
type truncTarget struct {
	connect       func(t *testing.T, relayPort int, opts ...Option) *Session
	addr          string // what the relay connects to
	stdoutCmd     string
	stderrCmd     string
	want          func(int64) byte
	forwardTarget string
}

func testserverTarget(t *testing.T) truncTarget {
	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Exec:  patternExec,
	})
	return truncTarget{
		connect: func(t *testing.T, port int, opts ...Option) *Session {
			s := NewSession()
			base := []Option{ProcessConfig(false), Hostname("127.0.0.1"), Port(port), User("alice"), SSHDir(t.TempDir())}
			if err := s.SetOption(append(base, opts...)...); err != nil {
				t.Fatal(err)
			}
			if err := s.Connect(testCtx(t)); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			t.Cleanup(func() { _ = s.Disconnect() })
			if err := s.AcceptHostKey(); err != nil {
				t.Fatal(err)
			}
			if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
				t.Fatalf("login: %v, %v", st, err)
			}
			return s
		},
		addr:          srv.Addr(),
		stdoutCmd:     fmt.Sprintf("pattern %d", truncTotal),
		stderrCmd:     fmt.Sprintf("pattern-err %d", truncTotal),
		want:          patternByte,
		forwardTarget: patternListener(t, truncTotal),
	}
}

// truncPath is one way of reading a download: it reads until the end and
// returns how many bytes it got (checked by check on the way) and the error
// that ended it (nil or io.EOF for a clean end, as the path reports one).
type truncPath struct {
	name string
	run  func(t *testing.T, s *Session, tg truncTarget, check *prefixCheck) (int64, error)
}

// execChannel opens a session channel running cmd.
func execChannel(t *testing.T, s *Session, cmd string) *Channel {
	t.Helper()
	ch := openSession(t, s)
	if err := ch.RequestExec(testCtx(t), cmd); err != nil {
		t.Fatal(err)
	}
	return ch
}

// readLoop reads with read until it fails, feeding check.
func readLoop(check *prefixCheck, read func([]byte) (int, error)) (int64, error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := read(buf)
		check.Write(buf[:n])
		if err != nil {
			return check.n, err
		}
	}
}

var truncPaths = []truncPath{
	{"Channel.Read", func(t *testing.T, s *Session, tg truncTarget, c *prefixCheck) (int64, error) {
		ch := execChannel(t, s, tg.stdoutCmd)
		return readLoop(c, ch.Read)
	}},
	{"Stdout.Read", func(t *testing.T, s *Session, tg truncTarget, c *prefixCheck) (int64, error) {
		ch := execChannel(t, s, tg.stdoutCmd)
		return readLoop(c, ch.Stdout().Read)
	}},
	{"Stderr.Read", func(t *testing.T, s *Session, tg truncTarget, c *prefixCheck) (int64, error) {
		ch := execChannel(t, s, tg.stderrCmd)
		return readLoop(c, ch.Stderr().Read)
	}},
	{"WriteTo", func(t *testing.T, s *Session, tg truncTarget, c *prefixCheck) (int64, error) {
		ch := execChannel(t, s, tg.stdoutCmd)
		return io.Copy(c, ch)
	}},
	{"ReadTimeout", func(t *testing.T, s *Session, tg truncTarget, c *prefixCheck) (int64, error) {
		ch := execChannel(t, s, tg.stdoutCmd)
		return readLoop(c, func(b []byte) (int, error) {
			for {
				n, err := ch.ReadTimeout(b, false, 10*time.Second)
				if n > 0 || err != nil {
					return n, err
				}
			}
		})
	}},
	{"NetConn.Read", func(t *testing.T, s *Session, tg truncTarget, c *prefixCheck) (int64, error) {
		ch := openForward(t, s, tg.forwardTarget)
		nc := ch.NetConn()
		_ = nc.SetReadDeadline(time.Now().Add(25 * time.Second))
		return readLoop(c, nc.Read)
	}},
	{"Exec", func(t *testing.T, s *Session, tg truncTarget, c *prefixCheck) (int64, error) {
		res, err := s.Exec(testCtx(t), tg.stdoutCmd, nil)
		if res == nil {
			return 0, err
		}
		c.Write(res.Stdout)
		return c.n, err
	}},
	{"Output", func(t *testing.T, s *Session, tg truncTarget, c *prefixCheck) (int64, error) {
		out, err := s.Output(testCtx(t), tg.stdoutCmd)
		c.Write(out)
		return c.n, err
	}},
	{"CombinedOutput", func(t *testing.T, s *Session, tg truncTarget, c *prefixCheck) (int64, error) {
		out, err := s.CombinedOutput(testCtx(t), tg.stderrCmd)
		c.Write(out)
		return c.n, err
	}},
	{"Run", func(t *testing.T, s *Session, tg truncTarget, c *prefixCheck) (int64, error) {
		return 0, s.Run(testCtx(t), tg.stdoutCmd)
	}},
	{"ExitStatus", func(t *testing.T, s *Session, tg truncTarget, c *prefixCheck) (int64, error) {
		ch := execChannel(t, s, tg.stdoutCmd)
		n, _ := io.Copy(c, ch)
		st, err := ch.ExitStatus(testCtx(t))
		if err == nil {
			t.Errorf("ExitStatus = %d, nil after a truncated download", st)
		}
		if errors.Is(err, ErrNoExitStatus) {
			t.Errorf("ExitStatus says the channel closed without a status: %v", err)
		}
		return n, err
	}},
}

// truncFault is a way the relay breaks the connection, and the error every
// read must then match.
type truncFault struct {
	name      string
	action    faultrelay.Action
	keepalive bool  // ServerAliveInterval 500 ms, ServerAliveCountMax 2
	want      error // what errors.Is must find
}

var truncFaults = []truncFault{
	{"close", faultrelay.Close, false, ErrDisconnected},
	{"reset", faultrelay.Reset, false, ErrDisconnected},
	{"freeze", faultrelay.Freeze, true, ErrServerNotResponding},
	{"corrupt", faultrelay.Corrupt, false, ErrDisconnected},
}

// runTruncation runs every read path against every fault on target.
func runTruncation(t *testing.T, newTarget func(t *testing.T) truncTarget, paths []truncPath) {
	tg := newTarget(t)
	for _, f := range truncFaults {
		t.Run(f.name, func(t *testing.T) {
			for _, p := range paths {
				t.Run(p.name, func(t *testing.T) {
					t.Parallel()
					relay := faultrelay.New(t, tg.addr)
					relay.Set(faultrelay.Fault{Dir: faultrelay.ServerToClient, After: truncAfter, Action: f.action})
					var opts []Option
					if f.keepalive {
						opts = append(opts, ServerAliveInterval(500*time.Millisecond), ServerAliveCountMax(2))
					}
					s := tg.connect(t, relay.Port(), opts...)
					check := &prefixCheck{want: tg.want}
					n, err := p.run(t, s, tg, check)
					checkTruncated(t, n, err, f.want, check)
				})
			}
		})
	}
}

func checkTruncated(t *testing.T, n int64, err, want error, check *prefixCheck) {
	t.Helper()
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("truncated download after %d bytes ended with %v, want an error matching %v", n, err, want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v (after %d bytes) does not match %v", err, n, want)
	}
	if !strings.HasPrefix(err.Error(), "ssh:") && !errors.As(err, new(*net.OpError)) {
		t.Errorf("error %q does not start with ssh:", err)
	}
	if check.bad != nil {
		t.Fatalf("data before the error is not the server's: %v", check.bad)
	}
	if n >= truncTotal {
		t.Fatalf("got all %d bytes through a relay that cut the connection", n)
	}
}

func TestTruncatedDownloadIsAnError(t *testing.T) {
	runTruncation(t, testserverTarget, truncPaths)
}

// A reset keeps the socket's own error reachable under ErrDisconnected.
func TestResetKeepsTheSocketError(t *testing.T) {
	tg := testserverTarget(t)
	relay := faultrelay.New(t, tg.addr)
	relay.Set(faultrelay.Fault{Dir: faultrelay.ServerToClient, After: truncAfter, Action: faultrelay.Reset})
	s := tg.connect(t, relay.Port())
	ch := execChannel(t, s, tg.stdoutCmd)
	_, err := io.Copy(io.Discard, ch)
	if !errors.Is(err, ErrDisconnected) || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		t.Fatalf("io.Copy after a reset: %v; want ErrDisconnected with the socket's reset", err)
	}
}

// A read blocked when the application disconnects ends with
// ErrDisconnected, not io.EOF: nothing said the data was complete.
func TestDisconnectDuringReadIsNotEOF(t *testing.T) {
	s, _ := loggedIn(t)
	ch := execChannel(t, s, "sleep 30")
	nc := openForward(t, s, patternListener(t, 0)).NetConn()
	errc := make(chan error, 2)
	go func() { _, err := io.Copy(io.Discard, ch); errc <- err }()
	go func() {
		_, err := nc.Read(make([]byte, 10))
		for err == nil {
			_, err = nc.Read(make([]byte, 10))
		}
		errc <- err
	}()
	// The forward target sends nothing and closes at once: that EOF is
	// real and must read as such, before the Disconnect.
	if err := <-errc; err != io.EOF {
		t.Fatalf("forwarded connection closed by its target: %v, want io.EOF", err)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrDisconnected) {
		t.Fatalf("read during Disconnect: %v, want ErrDisconnected", err)
	}
	if _, err := ch.ExitStatus(testCtx(t)); !errors.Is(err, ErrDisconnected) || errors.Is(err, ErrNoExitStatus) {
		t.Fatalf("ExitStatus after Disconnect: %v, want ErrDisconnected", err)
	}
}

// A LocalForward whose SSH connection breaks resets the local connection,
// so the local client sees the break instead of a clean end of stream.
func TestLocalForwardResetsOnTruncation(t *testing.T) {
	tg := testserverTarget(t)
	relay := faultrelay.New(t, tg.addr)
	relay.Set(faultrelay.Fault{Dir: faultrelay.ServerToClient, After: truncAfter, Action: faultrelay.Close})
	s := tg.connect(t, relay.Port())
	host, portStr, _ := net.SplitHostPort(tg.forwardTarget)
	port, _ := strconv.Atoi(portStr)
	fw, err := s.LocalForward(testCtx(t), Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: port})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	c, err := net.Dial("tcp", fw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(25 * time.Second))
	check := &prefixCheck{want: patternByte}
	n, err := io.Copy(check, c)
	if err == nil || !errors.Is(err, syscall.ECONNRESET) || n >= truncTotal || check.bad != nil {
		t.Fatalf("local end of a broken forward: %d bytes, %v (%v); want a reset", n, err, check.bad)
	}
}

// A connection accepted from ListenForward (ssh -R's channels) follows the
// same rule as every other read: cut short, it ends with ErrDisconnected.
func TestAcceptedForwardTruncationIsAnError(t *testing.T) {
	tg := testserverTarget(t)
	relay := faultrelay.New(t, tg.addr)
	relay.Set(faultrelay.Fault{Dir: faultrelay.ServerToClient, After: truncAfter, Action: faultrelay.Close})
	s := tg.connect(t, relay.Port())
	ctx := testCtx(t)
	port, err := s.ListenForward(ctx, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	sent := make(chan struct{})
	go func() { defer close(sent); _, _ = io.Copy(peer, &patternSource{n: truncTotal}) }()
	defer func() { _ = peer.Close(); <-sent }()
	_, ch, err := s.AcceptForward(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check := &prefixCheck{want: patternByte}
	for _, read := range []func([]byte) (int, error){ch.NetConn().Read, ch.Read} {
		n, err := readLoop(check, read)
		checkTruncated(t, n, err, ErrDisconnected, check)
	}
}

// closingServer is an x/crypto server that runs script on each session
// channel and, as soon as script returns, ends the connection: it sends its
// TCP FIN right after the channel's CLOSE and stops speaking SSH (requests
// such as the client's round trips go unanswered). It keeps reading and
// dropping what the client sends until the client closes: closing the
// socket with unread data would make TCP reset it and drop the server's
// unsent data, a real truncation.
func closingServer(t *testing.T, script func(ch gossh.Channel, reqs <-chan *gossh.Request)) (port int) {
	t.Helper()
	cfg := &gossh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(newEd25519(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveConns(t, ln, func(c net.Conn) {
		cc := &cuttableConn{Conn: c}
		sc, chans, reqs, err := gossh.NewServerConn(cc, cfg)
		if err != nil {
			return
		}
		defer sc.Close()
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Add(1)
		go func() { defer wg.Done(); gossh.DiscardRequests(reqs) }()
		for nc := range chans {
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			script(ch, creqs)
			cc.cut.Store(true)
			_ = c.(*net.TCPConn).CloseWrite()
			break
		}
		for range chans {
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// cuttableConn gives x/crypto nothing more once cut is set: its reads
// drain the socket until the peer closes it.
type cuttableConn struct {
	net.Conn
	cut atomic.Bool
}

func (c *cuttableConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for c.cut.Load() && err == nil {
		n, err = c.Conn.Read(p)
	}
	if c.cut.Load() {
		n = 0
	}
	return n, err
}

// closeAfter is a channel script: answer exec, send n bytes of the pattern,
// EOF, the exit status (unless status < 0) and CLOSE.
func closeAfter(n int64, status int) func(ch gossh.Channel, reqs <-chan *gossh.Request) {
	return func(ch gossh.Channel, reqs <-chan *gossh.Request) {
		answerExec(reqs)
		go gossh.DiscardRequests(reqs)
		if _, err := io.Copy(ch, &patternSource{n: n}); err != nil {
			return
		}
		_ = ch.CloseWrite()
		if status >= 0 {
			_, _ = ch.SendRequest("exit-status", false, gossh.Marshal(struct{ S uint32 }{uint32(status)}))
		}
		_ = ch.Close()
	}
}

func noAuthSession(t *testing.T, port int) *Session {
	t.Helper()
	s := NewSession()
	if err := s.SetOption(ProcessConfig(false), Hostname("127.0.0.1"), Port(port), User("u"), SSHDir(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	_ = s.AcceptHostKey()
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess {
		t.Fatalf("none: %v %v", st, err)
	}
	return s
}

// A server that sends its data, EOF, exit-status and CLOSE and then closes
// TCP at once (FIN) ended cleanly: every read path says so, with all the data,
// however the connection's end races with the channel's.
func TestServerClosingTCPRightAfterChannelCloseIsCleanEnd(t *testing.T) {
	for _, n := range []int64{1000, 3 << 20} {
		t.Run(strconv.FormatInt(n, 10), func(t *testing.T) {
			port := closingServer(t, closeAfter(n, 7))
			for i := range 8 {
				s := noAuthSession(t, port)
				check := &prefixCheck{want: patternByte}
				var err error
				var st int
				if i%2 == 0 {
					var res *ExecResult
					res, err = s.Exec(testCtx(t), "x", nil)
					if res != nil {
						check.Write(res.Stdout)
						st = res.ExitStatus
					}
				} else {
					ch := execChannel(t, s, "x")
					if _, err = readLoop(check, ch.Read); err == io.EOF {
						st, err = ch.ExitStatus(testCtx(t))
					}
				}
				if err != nil || check.n != n || check.bad != nil || st != 7 {
					t.Fatalf("round %d: %d of %d bytes (%v), status %d, %v; want a clean end", i, check.n, n, check.bad, st, err)
				}
				_ = s.Disconnect()
			}
		})
	}
}

// The same server without an exit status: the channel's CLOSE was real, so
// ExitStatus reports no status (ErrNoExitStatus), not a lost connection.
func TestServerClosingTCPRightAfterCloseWithoutStatus(t *testing.T) {
	port := closingServer(t, closeAfter(1000, -1))
	for range 4 {
		s := noAuthSession(t, port)
		ch := execChannel(t, s, "x")
		check := &prefixCheck{want: patternByte}
		if n, err := readLoop(check, ch.Read); err != io.EOF || n != 1000 {
			t.Fatalf("read %d bytes, %v", n, err)
		}
		if _, err := ch.ExitStatus(testCtx(t)); !errors.Is(err, ErrNoExitStatus) || errors.Is(err, ErrDisconnected) {
			t.Fatalf("ExitStatus = %v, want ErrNoExitStatus", err)
		}
		_ = s.Disconnect()
	}
}

// A server's EOF on a connection that stays up reads as io.EOF, on stdout
// and stderr alike, and ExitStatus after a server's CLOSE without status
// still says ErrNoExitStatus.
func TestCleanEndOnLiveConnection(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	res, err := s.Exec(ctx, "both out err", nil)
	if err != nil || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Fatalf("%+v, %v", res, err)
	}
	ch := execChannel(t, s, "kill TERM")
	if _, err := io.Copy(io.Discard, ch); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.ExitStatus(ctx); !errors.Is(err, ErrNoExitStatus) || errors.Is(err, ErrDisconnected) {
		t.Fatalf("killed command: %v", err)
	}
}

// BenchmarkExecTrue measures one Exec on loopback: what the liveness round
// trip at each stream's end costs.
func BenchmarkExecTrue(b *testing.B) {
	srv := sshtest.New(b, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	s := NewSession()
	if err := s.SetOption(ProcessConfig(false), Hostname(srv.Host()), Port(srv.Port()), User("alice"), SSHDir(b.TempDir())); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Disconnect()
	_ = s.AcceptHostKey()
	if st, err := s.UserauthPassword(ctx, "", "pw"); st != AuthSuccess {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Exec(ctx, "true", nil); err != nil {
			b.Fatal(err)
		}
	}
}
