package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// OpenSSH's -L, -R and -D as library calls. Each runs in the background on
// goroutines that Close, or the end of the connection, ends.

const (
	// maxForwarderConns bounds the connections one RemoteForward carries
	// at once; the server's further opens are refused (ResourceShortage).
	maxForwarderConns = 1024
	// forwardDialTimeout bounds RemoteForward's connect to its local
	// target (the server waits for the channel's confirmation meanwhile).
	forwardDialTimeout = 30 * time.Second
	// socksHandshakeTimeout bounds a SOCKS client's request.
	socksHandshakeTimeout = 30 * time.Second
)

// Forwarder is a running LocalForward, RemoteForward or DynamicForward. It
// is safe for concurrent use. It stops when Close is called or the
// session's connection ends; Wait and Done tell when and why.
//
// A failure of one forwarded connection (the server refused the channel,
// the target refused the connection) closes that connection only and is
// logged through the session's Logger; it never stops the Forwarder.
type Forwarder struct {
	kind string // "local", "remote" or "dynamic"
	spec Forward
	sess *Session
	c    *conn
	addr net.Addr
	ln   net.Listener    // local and dynamic
	rl   *remoteListener // remote

	ctx    context.Context // ends the dials in progress at Close
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	err    error
	conns  map[io.Closer]struct{} // open connections, closed by Close
	active int                    // RemoteForward connections being served
	wg     sync.WaitGroup         // every goroutine of the Forwarder but the watcher

	stopping chan struct{} // closed when shutdown starts
	stopOnce sync.Once
	done     chan struct{} // closed when every goroutine ended
}

// LocalForward starts an OpenSSH -L forward: it listens locally on
// f.ListenHost:f.ListenPort (or the Unix socket f.ListenPath) and carries
// each connection through a direct-tcpip channel to
// f.ConnectHost:f.ConnectPort as the server sees it (or a
// direct-streamlocal channel to f.ConnectPath). ListenHost "" listens on
// the loopback address only, as ssh does without GatewayPorts; "*" on all
// addresses. ListenPort 0 picks a free port: Addr tells which.
//
// ctx bounds only the start. Errors: ErrNotConnected,
// ErrNotAuthenticated, an *OptionError for an unusable Forward, the local
// listen error.
func (s *Session) LocalForward(ctx context.Context, f Forward) (*Forwarder, error) {
	network, target, err := connectTarget(f)
	if err != nil {
		return nil, err
	}
	return s.startListening(ctx, "local", f, func(fw *Forwarder, conn net.Conn) {
		remote, err := s.DialContext(fw.ctx, network, target)
		if err != nil {
			fw.logf("connect through the server to %s: %v", target, err)
			_ = conn.Close()
			return
		}
		fw.pipe(conn, remote.(*forwardConn))
	})
}

// DynamicForward starts an OpenSSH -D forward: a SOCKS server (SOCKS4,
// SOCKS4a and SOCKS5, CONNECT only, no authentication) listening locally
// on f.ListenHost:f.ListenPort, whose connections go through direct-tcpip
// channels to the host and port each SOCKS client asks for, resolved by
// the server when given as a name. Listening, errors and the result are as
// for LocalForward; f's Connect fields must be empty. A SOCKS client has
// 30 seconds to send its request.
func (s *Session) DynamicForward(ctx context.Context, f Forward) (*Forwarder, error) {
	if f.ConnectHost != "" || f.ConnectPath != "" || f.ListenPath != "" {
		return nil, &OptionError{Option: "DynamicForward", Value: f.String(), Err: errors.New("a SOCKS forward listens on a TCP port and has no destination")}
	}
	return s.startListening(ctx, "dynamic", f, func(fw *Forwarder, conn net.Conn) {
		_ = conn.SetDeadline(time.Now().Add(socksHandshakeTimeout))
		remote, err := socksConnect(fw.ctx, conn, s.DialContext)
		if err != nil {
			fw.logf("SOCKS request from %s: %v", conn.RemoteAddr(), err)
			_ = conn.Close()
			return
		}
		_ = conn.SetDeadline(time.Time{})
		fw.pipe(conn, remote.(*forwardConn))
	})
}

// RemoteForward starts an OpenSSH -R forward: the server listens on
// f.ListenHost:f.ListenPort (or the Unix socket f.ListenPath) and each
// connection it accepts there is connected here to
// f.ConnectHost:f.ConnectPort (or the Unix socket f.ConnectPath). The
// channel is confirmed only once that local connect succeeded, as ssh
// does; a failed connect refuses it. ListenHost "" asks the server for its
// loopback addresses ("localhost"), "*" for all; ListenPort 0 lets the
// server choose, and Addr tells the port bound.
//
// Its connections never reach AcceptForward. Like the other helpers it
// works the same in blocking and non-blocking mode. A dynamic remote forward (no
// Connect fields: SOCKS on the server side) is not supported
// (ErrUnsupported). ctx bounds the start, with the Timeout option. Errors:
// those of ListenForward.
func (s *Session) RemoteForward(ctx context.Context, f Forward) (*Forwarder, error) {
	if f.ConnectHost == "" && f.ConnectPath == "" {
		return nil, fmt.Errorf("%w: dynamic remote forwarding (%s)", ErrUnsupported, f)
	}
	network, target, err := connectTarget(f)
	if err != nil {
		return nil, err
	}
	c, _, err := s.authedConn()
	if err != nil {
		return nil, err
	}
	fw := newForwarder(s, c, "remote", f)
	deliver := func(p pendingOpen) bool { return fw.onRemoteOpen(p, network, target) }
	if f.ListenPath != "" {
		fw.rl, err = s.listenUnix(ctx, f.ListenPath, deliver)
		if err == nil {
			fw.addr = &net.UnixAddr{Name: f.ListenPath, Net: "unix"}
		}
	} else {
		host := bindHost(f.ListenHost)
		fw.rl, err = s.listenTCP(ctx, host, f.ListenPort, deliver)
		if err == nil {
			fw.addr = hostPortAddr("tcp", host, fw.rl.port)
		}
	}
	if err != nil {
		// A listen still in flight (ctx ended) may be granted later: its
		// opens find this Forwarder closed and are refused.
		fw.shutdown(nil)
		return nil, err
	}
	if err := fw.start(); err != nil {
		return nil, err
	}
	return fw, nil
}

// StartConfiguredForwards starts the LocalForward, DynamicForward and
// RemoteForward entries of the options the connection was made with
// (ssh_config or the LocalForward/RemoteForward/DynamicForward options),
// as ssh does after logging in. It returns the Forwarders that started,
// and the failures joined into one error: like ssh without
// ExitOnForwardFailure, one failure does not stop the others; close the
// returned ones if it should.
func (s *Session) StartConfiguredForwards(ctx context.Context) ([]*Forwarder, error) {
	c, _, err := s.authedConn()
	if err != nil {
		return nil, err
	}
	var started []*Forwarder
	var errs []error
	for _, group := range []struct {
		kind  string
		specs []Forward
		start func(context.Context, Forward) (*Forwarder, error)
	}{
		{"LocalForward", c.opts.LocalForwards, s.LocalForward},
		{"DynamicForward", c.opts.DynamicForwards, s.DynamicForward},
		{"RemoteForward", c.opts.RemoteForwards, s.RemoteForward},
	} {
		for _, f := range group.specs {
			fw, err := group.start(ctx, f)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", group.kind, f, err))
				continue
			}
			started = append(started, fw)
		}
	}
	return started, errors.Join(errs...)
}

// Addr returns the address the Forwarder listens on: local for
// LocalForward and DynamicForward, on the server for RemoteForward (with
// the port the server bound).
func (fw *Forwarder) Addr() net.Addr { return fw.addr }

// Close stops the Forwarder: it stops listening (for RemoteForward it
// cancels the server's listener, without waiting for the answer), closes
// every connection it carries and returns once all its goroutines ended.
// It is idempotent and returns nil.
func (fw *Forwarder) Close() error {
	fw.shutdown(nil)
	<-fw.done
	return nil
}

// Wait blocks until the Forwarder stopped and returns why: nil after
// Close, an error matching ErrDisconnected when the connection ended, or
// the local listener's failure.
func (fw *Forwarder) Wait() error {
	<-fw.done
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.err
}

// Done returns a channel closed when the Forwarder has stopped, for use in
// select; Wait then returns at once.
func (fw *Forwarder) Done() <-chan struct{} { return fw.done }

func newForwarder(s *Session, c *conn, kind string, f Forward) *Forwarder {
	ctx, cancel := context.WithCancel(context.Background())
	return &Forwarder{kind: kind, spec: f, sess: s, c: c, ctx: ctx, cancel: cancel,
		conns: map[io.Closer]struct{}{}, stopping: make(chan struct{}), done: make(chan struct{})}
}

// start runs the watcher that ends the Forwarder with the connection and
// closes done once every goroutine has ended. The watcher belongs to the
// connection, so Disconnect waits for the Forwarder too.
func (fw *Forwarder) start() error {
	c := fw.c
	if !c.goTracked(func() {
		select {
		case <-c.done:
			fw.shutdown(fmt.Errorf("%w: %w", ErrDisconnected, c.closedErr()))
		case <-fw.stopping:
		}
		fw.wg.Wait()
		close(fw.done)
	}) {
		fw.shutdown(ErrDisconnected)
		fw.wg.Wait()
		close(fw.done)
		return fmt.Errorf("%w: %w", ErrNotConnected, c.closedErr())
	}
	return nil
}

// startListening listens locally for LocalForward and DynamicForward and
// serves each connection with handle.
func (s *Session) startListening(ctx context.Context, kind string, f Forward, handle func(*Forwarder, net.Conn)) (*Forwarder, error) {
	c, _, err := s.authedConn()
	if err != nil {
		return nil, err
	}
	network, addr := "unix", f.ListenPath
	if f.ListenPath == "" {
		host := f.ListenHost
		switch host {
		case "":
			host = "localhost"
		case "*":
			host = ""
		}
		if f.ListenPort < 0 || f.ListenPort > 65535 {
			return nil, &OptionError{Option: "Forward ListenPort", Value: strconv.Itoa(f.ListenPort)}
		}
		network, addr = "tcp", net.JoinHostPort(host, strconv.Itoa(f.ListenPort))
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("ssh: %s forward: %w", kind, err)
	}
	fw := newForwarder(s, c, kind, f)
	fw.ln, fw.addr = ln, ln.Addr()
	fw.wg.Add(1)
	go fw.acceptLoop(handle)
	if err := fw.start(); err != nil {
		return nil, err
	}
	return fw, nil
}

func (fw *Forwarder) acceptLoop(handle func(*Forwarder, net.Conn)) {
	defer fw.wg.Done()
	var delay time.Duration
	for {
		conn, err := fw.ln.Accept()
		if err != nil {
			fw.mu.Lock()
			closed := fw.closed
			fw.mu.Unlock()
			if closed {
				return
			}
			if transientAcceptError(err) {
				// Out of descriptors or memory, or a connection that
				// died in the backlog: wait and go on, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-fw.stopping:
					t.Stop()
					return
				}
				continue
			}
			fw.shutdown(fmt.Errorf("ssh: %s forward on %s: %w", fw.kind, fw.addr, err))
			return
		}
		delay = 0
		if !fw.goTracked(func() { handle(fw, conn) }, conn) {
			_ = conn.Close()
			return
		}
	}
}

// goTracked runs f on a goroutine of the Forwarder, with conn registered
// for Close, unless the Forwarder is closing.
func (fw *Forwarder) goTracked(f func(), conn io.Closer) bool {
	fw.mu.Lock()
	if fw.closed {
		fw.mu.Unlock()
		return false
	}
	fw.wg.Add(1)
	fw.conns[conn] = struct{}{}
	fw.mu.Unlock()
	go func() {
		defer fw.wg.Done()
		defer fw.untrack(conn)
		f()
	}()
	return true
}

// track registers a connection for Close; false when closing (the caller
// closes it then).
func (fw *Forwarder) track(conn io.Closer) bool {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.closed {
		return false
	}
	fw.conns[conn] = struct{}{}
	return true
}

func (fw *Forwarder) untrack(conn io.Closer) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	delete(fw.conns, conn)
}

// shutdown stops listening and closes every connection, once; it does not
// wait (the watcher does).
func (fw *Forwarder) shutdown(reason error) {
	fw.stopOnce.Do(func() {
		fw.mu.Lock()
		fw.closed = true
		fw.err = reason
		conns := make([]io.Closer, 0, len(fw.conns))
		for c := range fw.conns {
			conns = append(conns, c)
		}
		fw.mu.Unlock()
		close(fw.stopping)
		fw.cancel()
		if fw.ln != nil {
			_ = fw.ln.Close()
		}
		if fw.rl != nil {
			fw.cancelRemote()
		}
		for _, c := range conns {
			// Cut, not finished: a TCP peer gets a reset (copyHalf).
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
		}
	})
}

// cancelRemote forgets the server's listener and asks the server to close
// it, without waiting for the answer: Close must not hang on the server.
func (fw *Forwarder) cancelRemote() {
	l := fw.rl
	fw.c.forwarding().drop(func(o *remoteListener) bool { return o == l })
	client, err := fw.c.authenticatedClient()
	if err != nil {
		return
	}
	if l.unix {
		_, _, _ = client.SendRequest("cancel-streamlocal-forward@openssh.com", false, gossh.Marshal(struct{ Path string }{l.path}))
		return
	}
	_, _, _ = client.SendRequest("cancel-tcpip-forward", false, gossh.Marshal(struct {
		Addr string
		Port uint32
	}{l.addr, uint32(l.port)}))
}

// onRemoteOpen takes a connection the server forwards to a RemoteForward.
// It runs on the connection's dispatcher and must not block.
func (fw *Forwarder) onRemoteOpen(p pendingOpen, network, target string) bool {
	fw.mu.Lock()
	if fw.closed || fw.active >= maxForwarderConns {
		fw.mu.Unlock()
		return false
	}
	fw.active++
	fw.wg.Add(1)
	fw.mu.Unlock()
	go func() {
		defer fw.wg.Done()
		defer func() {
			fw.mu.Lock()
			fw.active--
			fw.mu.Unlock()
		}()
		fw.serveRemote(p, network, target)
	}()
	return true
}

func (fw *Forwarder) serveRemote(p pendingOpen, network, target string) {
	ctx, cancel := context.WithTimeout(fw.ctx, forwardDialTimeout)
	var d net.Dialer
	local, err := d.DialContext(ctx, network, target)
	cancel()
	if err != nil {
		fw.logf("connect to %s: %v", target, err)
		p.reject(gossh.ConnectionFailed, "connect failed")
		return
	}
	if !fw.track(local) {
		_ = local.Close()
		p.reject(gossh.ConnectionFailed, "forwarding stopped")
		return
	}
	defer fw.untrack(local)
	var laddr, raddr net.Addr
	if p.unix {
		laddr = &net.UnixAddr{Name: p.path, Net: "unix"}
		raddr = laddr
	} else {
		laddr, raddr = hostPortAddr("tcp", p.connHost, p.connPort), hostPortAddr("tcp", p.origHost, p.origPort)
	}
	ch, err := fw.c.forwarding().accept(fw.sess, p, map[bool]string{true: "unix", false: "tcp"}[p.unix], laddr, raddr)
	if err != nil {
		_ = local.Close()
		return
	}
	fw.pipe(local, ch.NetConn().(*forwardConn))
}

// transientAcceptError reports an Accept failure that passes by itself.
func transientAcceptError(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// halfCloser is a connection whose sending side can be closed alone.
type halfCloser interface {
	io.ReadWriteCloser
	CloseWrite() error
}

// pipe copies both ways between a local connection and a channel until
// both directions ended. A clean EOF on one side is passed on as a
// half-close (TCP FIN, SSH EOF), so request/response protocols that
// half-close keep working; an error on either side closes both.
func (fw *Forwarder) pipe(local net.Conn, remote *forwardConn) {
	if !fw.track(remote) {
		_ = remote.Close()
		_ = local.Close()
		return
	}
	defer fw.untrack(remote)
	defer local.Close()
	defer remote.Close()
	lh, ok := local.(halfCloser)
	if !ok {
		lh = closeBoth{local}
	}
	done := make(chan struct{})
	go func() { // ends before pipe returns: pipe waits for it
		defer close(done)
		copyHalf(remote, lh)
	}()
	copyHalf(lh, remote)
	<-done
}

// copyHalf copies src to dst, then half-closes dst; on an error it closes
// both, which also ends the copy the other way. A TCP connection closed on
// an error is reset rather than finished, so that its peer cannot take a
// stream the SSH connection cut short for a complete one.
func copyHalf(dst, src halfCloser) {
	if _, err := io.Copy(dst, src); err != nil {
		resetOnClose(dst)
		resetOnClose(src)
		_ = dst.Close()
		_ = src.Close()
		return
	}
	if err := dst.CloseWrite(); err != nil {
		_ = dst.Close()
		_ = src.Close()
	}
}

// resetOnClose makes the next Close of a TCP connection send a reset
// (SO_LINGER 0), as a broken connection would.
func resetOnClose(c halfCloser) {
	if cb, ok := c.(closeBoth); ok {
		c, _ = cb.Conn.(halfCloser)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

// closeBoth adapts a connection without half-close: CloseWrite closes it.
type closeBoth struct{ net.Conn }

func (c closeBoth) CloseWrite() error { return c.Close() }

func (fw *Forwarder) logf(format string, args ...any) {
	fw.c.log.Warn(fmt.Sprintf("%s forward %s: ", fw.kind, fw.spec)+fmt.Sprintf(format, args...), "forward", fw.kind)
}

// connectTarget returns where a local or remote forward connects.
func connectTarget(f Forward) (network, addr string, err error) {
	switch {
	case f.ConnectPath != "":
		return "unix", f.ConnectPath, nil
	case f.ConnectHost != "" && f.ConnectPort > 0 && f.ConnectPort <= 65535:
		return "tcp", net.JoinHostPort(f.ConnectHost, strconv.Itoa(f.ConnectPort)), nil
	}
	return "", "", &OptionError{Option: "Forward", Value: f.String(), Err: errors.New("no destination host and port, or socket path")}
}

// bindHost is what ssh asks the server to bind for a remote forward's
// listen host (OpenSSH channel_rfwd_bind_host): "" the loopback addresses,
// "*" all addresses.
func bindHost(h string) string {
	switch h {
	case "":
		return "localhost"
	case "*":
		return ""
	}
	return h
}
