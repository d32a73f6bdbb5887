package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// OpenForward opens a "direct-tcpip" channel (RFC 4254 §7.2, what `ssh -L`
// uses): the server connects to remoteHost:remotePort and the channel
// carries that connection. sourceHost and sourcePort name the originator
// of the connection for the server's logs; "" and 0 are allowed (libssh
// ssh_channel_open_forward).
//
// It waits for the server's answer, bounded by ctx and the Timeout option.
// A refusal (sshd's AllowTcpForwarding or PermitOpen, or a failed connect
// on the server side) is an *OpenChannelError matching ErrRequestDenied.
// Afterwards the channel is an io.ReadWriteCloser; NetConn gives it as a
// net.Conn with deadlines.
func (ch *Channel) OpenForward(ctx context.Context, remoteHost string, remotePort int, sourceHost string, sourcePort int) error {
	if remotePort < 0 || remotePort > 65535 {
		return &OptionError{Option: "OpenForward remotePort", Value: strconv.Itoa(remotePort)}
	}
	if sourcePort < 0 || sourcePort > 65535 {
		return &OptionError{Option: "OpenForward sourcePort", Value: strconv.Itoa(sourcePort)}
	}
	if err := ch.open(ctx, "direct-tcpip", directTCPIPPayload(remoteHost, remotePort, sourceHost, sourcePort)); err != nil {
		return err
	}
	ch.setForwardConn("tcp", hostPortAddr("tcp", sourceHost, sourcePort), hostPortAddr("tcp", remoteHost, remotePort))
	return nil
}

// OpenForwardUnix opens a "direct-streamlocal@openssh.com" channel (OpenSSH
// PROTOCOL §2.4, what `ssh -L port:/path` uses): the server connects to the
// Unix socket remotePath. sourceHost and sourcePort fill the message's
// reserved fields as libssh does (ssh_channel_open_forward_unix); sshd
// ignores them. Waiting and errors are as for OpenForward; sshd refuses
// when AllowStreamLocalForwarding forbids it.
func (ch *Channel) OpenForwardUnix(ctx context.Context, remotePath, sourceHost string, sourcePort int) error {
	if remotePath == "" {
		return &OptionError{Option: "OpenForwardUnix remotePath", Value: remotePath}
	}
	if sourcePort < 0 || sourcePort > 65535 {
		return &OptionError{Option: "OpenForwardUnix sourcePort", Value: strconv.Itoa(sourcePort)}
	}
	if err := ch.open(ctx, "direct-streamlocal@openssh.com", directUnixPayload(remotePath, sourceHost, sourcePort)); err != nil {
		return err
	}
	addr := &net.UnixAddr{Name: remotePath, Net: "unix"}
	ch.setForwardConn("unix", &net.UnixAddr{Name: "@ssh", Net: "unix"}, addr)
	return nil
}

func (ch *Channel) setForwardConn(network string, local, remote net.Addr) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.fwd = newForwardConn(ch, network, local, remote)
}

// NetConn returns the channel as a net.Conn, for code that wants one
// (net/http, database drivers, gRPC, TLS). Every call returns the same
// value. Its addresses are those of the forwarding: for OpenForward the
// source as LocalAddr and the destination as RemoteAddr; for a channel
// from AcceptForward the server-side listening address as LocalAddr and
// the connecting peer as RemoteAddr; for other channels placeholders of
// network "ssh".
//
// Unlike the Channel's own Read and Write, the net.Conn honours deadlines
// (SetDeadline, SetReadDeadline, SetWriteDeadline, also for calls already
// blocked) and always blocks, even in non-blocking mode. A call that runs
// past its deadline fails with a *net.OpError whose Timeout() is true and
// which matches os.ErrDeadlineExceeded. Read returns io.EOF only after the
// server's EOF; when the SSH connection ends first, an error matching
// ErrDisconnected, as for the Channel's reads. Close closes the channel (and
// interrupts blocked calls, which then match net.ErrClosed and
// ErrChannelClosed); CloseWrite, found by a type assertion to
// interface{ CloseWrite() error } as on a *net.TCPConn, sends EOF. The
// net.Conn is safe for concurrent use.
//
// Writes wait for the server's flow-control window and for the connection
// to take the packets. To be abandonable at a deadline, a Write copies its
// data and sends it in pieces of up to 64 KiB from a goroutine of the
// connection. When the deadline passes while x/crypto holds a piece (the
// window is closed, the server stopped reading its socket, or a key
// exchange stalls), Write returns the timeout and counts that piece as
// written: it is committed, like data in a socket's send buffer, and goes
// out in order before anything written later (the next Write or CloseWrite
// waits for it first, within its own deadline). Data is therefore never
// lost, duplicated or reordered, n never counts bytes the caller must send
// again, and the connection stays usable after a timeout, as a net.Conn
// must. Close is what ends a channel whose writes never finish: it returns
// at once and wakes every blocked call; if the connection itself is stuck,
// the session is disconnected (see Channel.Close). The net.Conn's Write
// and the Channel's take turns: each call's data goes out whole.
func (ch *Channel) NetConn() net.Conn {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.fwd == nil {
		ch.fwd = newForwardConn(ch, "ssh", sshAddr("local"), sshAddr("channel"))
	}
	return ch.fwd
}

// DialContext connects to addr through the server, like net.Dialer's
// DialContext: "tcp", "tcp4" and "tcp6" open a direct-tcpip channel to
// host:port (the server resolves host names; a literal IP of the wrong
// family for tcp4/tcp6 is refused here), "unix" a direct-streamlocal
// channel to the socket path addr. The connection is the channel's
// NetConn. ctx bounds only the dial, together with the Timeout option; it
// does not end the connection afterwards. Like net.Dialer it waits for the
// answer in non-blocking mode too. Use it as net/http's
// Transport.DialContext, or wherever a dial function is wanted.
//
// Errors are *net.OpError with Op "dial" wrapping ErrNotConnected,
// ErrNotAuthenticated, an *OpenChannelError (the server refused, matching
// ErrRequestDenied), ctx's error, or net.UnknownNetworkError.
func (s *Session) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: dialAddr{network, addr}, Err: err}
	}
	var kind string
	var payload []byte
	var local, remote net.Addr
	switch network {
	case "tcp", "tcp4", "tcp6":
		host, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, opErr(err)
		}
		port, err := net.DefaultResolver.LookupPort(ctx, network, portStr)
		if err != nil {
			return nil, opErr(err)
		}
		if ip := net.ParseIP(host); ip != nil {
			if network == "tcp4" && ip.To4() == nil || network == "tcp6" && ip.To4() != nil {
				return nil, opErr(&net.AddrError{Err: "address of the wrong family for " + network, Addr: host})
			}
		}
		if host == "" {
			host = "localhost" // as net.Dial: the local system, here the server's
		}
		kind, payload = "direct-tcpip", directTCPIPPayload(host, port, "127.0.0.1", 0)
		local, remote = hostPortAddr("tcp", "127.0.0.1", 0), hostPortAddr("tcp", host, port)
	case "unix":
		kind, payload = "direct-streamlocal@openssh.com", directUnixPayload(addr, "", 0)
		local, remote = &net.UnixAddr{Name: "@ssh", Net: "unix"}, &net.UnixAddr{Name: addr, Net: "unix"}
	default:
		return nil, opErr(net.UnknownNetworkError(network))
	}
	ch, err := s.NewChannel()
	if err != nil {
		return nil, opErr(err)
	}
	if err := ch.openBlocking(ctx, kind, payload); err != nil {
		return nil, opErr(err)
	}
	ch.setForwardConn(network, local, remote)
	return ch.NetConn(), nil
}

// openBlocking opens the channel and waits for the answer or ctx, in
// blocking and non-blocking mode alike (net.Dialer semantics, unlike
// libssh's calls). A dial given up by its ctx may still complete
// afterwards: the channel is closed first, so attach closes it then.
func (ch *Channel) openBlocking(ctx context.Context, kind string, payload []byte) error {
	client, err := ch.c.authenticatedClient()
	if err != nil {
		return err
	}
	ctx, cancel := ch.sess.withTimeout(ctx)
	defer cancel()
	done := make(chan error, 1)
	if !ch.c.goTracked(func() {
		xch, reqs, err := client.OpenChannel(kind, payload)
		if err == nil {
			ch.attach(xch, reqs)
		}
		done <- err
	}) {
		return fmt.Errorf("%w: %w", ErrNotConnected, ch.c.closedErr())
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = ch.Close()
		return ctx.Err()
	}
	if err != nil {
		_ = ch.Close()
		var oce *gossh.OpenChannelError
		if errors.As(err, &oce) {
			return &OpenChannelError{Reason: oce.Reason, Message: oce.Message}
		}
		return fmt.Errorf("ssh: open %s channel: %w", kind, err)
	}
	return nil
}

// directTCPIPPayload is RFC 4254 §7.2's: host to connect, port to connect,
// originator IP address, originator port.
func directTCPIPPayload(host string, port int, origHost string, origPort int) []byte {
	return gossh.Marshal(struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}{host, uint32(port), origHost, uint32(origPort)})
}

// directUnixPayload is OpenSSH PROTOCOL §2.4's: socket path, reserved
// string, reserved uint32 (libssh puts the source host and port there).
func directUnixPayload(path, sourceHost string, sourcePort int) []byte {
	return gossh.Marshal(struct {
		Path     string
		Reserved string
		Port     uint32
	}{path, sourceHost, uint32(sourcePort)})
}

// dialAddr is the address a failed dial names.
type dialAddr struct{ network, addr string }

// Network and String make dialAddr a net.Addr.
func (a dialAddr) Network() string { return a.network }
func (a dialAddr) String() string  { return a.addr }

// sshAddr is the address of a channel end without a network address.
type sshAddr string

// Network and String make sshAddr a net.Addr.
func (a sshAddr) Network() string { return "ssh" }
func (a sshAddr) String() string  { return string(a) }

// hostPortAddr returns a *net.TCPAddr for an IP, else an address that
// prints host:port (the server resolves names; the client never does).
func hostPortAddr(network, host string, port int) net.Addr {
	if ip := net.ParseIP(host); ip != nil {
		return &net.TCPAddr{IP: ip, Port: port}
	}
	return dialAddr{network, net.JoinHostPort(host, strconv.Itoa(port))}
}

// errConnClosed is what a closed forward connection's calls return: it
// matches both ErrChannelClosed and net.ErrClosed.
var errConnClosed = fmt.Errorf("%w: %w", ErrChannelClosed, net.ErrClosed)

// forwardConn is a channel as a net.Conn with deadlines.
type forwardConn struct {
	ch            *Channel
	network       string
	local, remote net.Addr

	rd, wd connDeadline
}

func newForwardConn(ch *Channel, network string, local, remote net.Addr) *forwardConn {
	return &forwardConn{ch: ch, network: network, local: local, remote: remote}
}

// connDeadline is one direction's deadline; changed wakes the calls blocked
// under the old value.
type connDeadline struct {
	mu      sync.Mutex
	t       time.Time
	changed chan struct{}
}

func (d *connDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.t = t
	if d.changed != nil {
		close(d.changed)
	}
	d.changed = make(chan struct{})
}

func (d *connDeadline) get() (time.Time, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.changed == nil {
		d.changed = make(chan struct{})
	}
	return d.t, d.changed
}

func (fc *forwardConn) opErr(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if errors.Is(err, ErrChannelClosed) && !errors.Is(err, net.ErrClosed) {
		err = errConnClosed
	}
	return &net.OpError{Op: op, Net: fc.network, Source: fc.local, Addr: fc.remote, Err: err}
}

// Read reads the channel's data, waiting until data, EOF or the read
// deadline.
func (fc *forwardConn) Read(p []byte) (int, error) {
	b, err := fc.ch.stream(false)
	if err != nil {
		return 0, fc.opErr("read", err)
	}
	for {
		deadline, changed := fc.rd.get()
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return 0, fc.opErr("read", os.ErrDeadlineExceeded)
		}
		n, err := b.read(p, deadline, changed)
		if errors.Is(err, errWouldWait) {
			continue // the deadline passed, or moved: look again
		}
		if errors.Is(err, ErrChannelClosed) {
			select {
			case <-changed:
				continue // woken by a new deadline, not by Close
			default:
			}
		}
		return n, fc.opErr("read", err)
	}
}

// Write writes p, waiting for window until the write deadline; see NetConn
// for what a timed-out Write leaves behind.
func (fc *forwardConn) Write(p []byte) (int, error) {
	n, err := fc.ch.send(p, limit{dl: &fc.wd}, false)
	return n, fc.opErr("write", err)
}

// Close closes the channel and returns at once; blocked Reads and Writes
// return at once too (see Channel.Close).
func (fc *forwardConn) Close() error {
	if err := fc.ch.Close(); err != nil {
		return fc.opErr("close", err)
	}
	return nil
}

// CloseWrite sends EOF after everything written so far; it waits for a
// piece still in flight, within the write deadline.
func (fc *forwardConn) CloseWrite() error {
	return fc.opErr("close", fc.ch.sendEOF(limit{dl: &fc.wd}))
}

// LocalAddr and RemoteAddr are the forwarding's ends (see NetConn).
func (fc *forwardConn) LocalAddr() net.Addr  { return fc.local }
func (fc *forwardConn) RemoteAddr() net.Addr { return fc.remote }

// SetDeadline sets both deadlines; the zero time removes them. Blocked
// calls see the change at once.
func (fc *forwardConn) SetDeadline(t time.Time) error {
	fc.rd.set(t)
	fc.wd.set(t)
	return nil
}

// SetReadDeadline and SetWriteDeadline set one direction's deadline.
func (fc *forwardConn) SetReadDeadline(t time.Time) error  { fc.rd.set(t); return nil }
func (fc *forwardConn) SetWriteDeadline(t time.Time) error { fc.wd.set(t); return nil }
