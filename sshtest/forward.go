package sshtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Port forwarding, both ways, and server-opened channels on demand.
//
//   - "tcpip-forward" (RFC 4254 §7.1) binds a listener on 127.0.0.1,
//     whatever address the client names (the name is echoed back in the
//     forwarded-tcpip opens), port 0 picking a free port that the reply
//     carries; "streamlocal-forward@openssh.com" listens on the Unix
//     socket path given. Each accepted connection becomes a
//     "forwarded-tcpip" or "forwarded-streamlocal@openssh.com" channel to
//     the client. The cancel requests close the listener before replying,
//     so a connect after the reply is refused.
//   - "direct-tcpip" and "direct-streamlocal@openssh.com" (§7.2) dial the
//     address asked for, with a 10 s timeout, and refuse the channel
//     (ConnectionFailed) when the dial fails.
//   - OpenChannelToClient opens any channel type with any payload to a
//     client, for agent and X11 channels and for misbehaving servers.
//
// Every listener, forwarded connection and goroutine belongs to its SSH
// connection and ends with it; Server.Close therefore ends them all.

// directDialTimeout bounds the server's connect for direct-tcpip.
const directDialTimeout = 10 * time.Second

// ForwardRecord is one forwarding event the server saw: a direct-tcpip or
// direct-streamlocal@openssh.com open, or a forwarding global request.
type ForwardRecord struct {
	// Type is the channel type or global request name.
	Type string
	// Host and Port are the destination of a direct-tcpip open, or the
	// address and port of a (cancel-)tcpip-forward request.
	Host string
	Port int
	// OrigHost and OrigPort are a direct-tcpip open's originator fields.
	OrigHost string
	OrigPort int
	// Path is the socket path of the streamlocal variants.
	Path string
	// OK is the server's answer.
	OK bool
}

// fwdRegistry is the Server's list of live connections, for
// OpenChannelToClient. The zero value is ready.
type fwdRegistry struct {
	mu      sync.Mutex
	conns   []*fwdConn
	changed chan struct{} // closed and replaced when a connection registers; nil until waited on
	records []ForwardRecord
}

// fwdConn is one SSH connection's forwarding state.
type fwdConn struct {
	srv   *Server
	sconn *ssh.ServerConn

	mu        sync.Mutex
	closed    bool
	listeners map[string]net.Listener // "tcp addr:port" or "unix path"
	streams   map[io.Closer]struct{}  // forwarded TCP and Unix connections
}

// trackForwarding registers a new connection; its close method must run
// when the connection ends.
func (s *Server) trackForwarding(sconn *ssh.ServerConn) *fwdConn {
	fc := &fwdConn{srv: s, sconn: sconn, listeners: map[string]net.Listener{}, streams: map[io.Closer]struct{}{}}
	s.fwd.mu.Lock()
	s.fwd.conns = append(s.fwd.conns, fc)
	if s.fwd.changed != nil {
		close(s.fwd.changed)
		s.fwd.changed = nil
	}
	s.fwd.mu.Unlock()
	return fc
}

// close stops the connection's listeners and closes its forwarded
// connections, which ends their goroutines.
func (fc *fwdConn) close() {
	s := fc.srv
	s.fwd.mu.Lock()
	s.fwd.conns = slices.DeleteFunc(s.fwd.conns, func(o *fwdConn) bool { return o == fc })
	s.fwd.mu.Unlock()
	fc.mu.Lock()
	fc.closed = true
	ls := fc.listeners
	streams := fc.streams
	fc.listeners, fc.streams = map[string]net.Listener{}, map[io.Closer]struct{}{}
	fc.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for c := range streams {
		c.Close()
	}
}

// track registers a forwarded connection; false (and closed) when the SSH
// connection is gone.
func (fc *fwdConn) track(c io.Closer) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.closed {
		c.Close()
		return false
	}
	fc.streams[c] = struct{}{}
	return true
}

func (fc *fwdConn) untrack(c io.Closer) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	delete(fc.streams, c)
}

// goServe runs f on a goroutine the Server waits for, unless the
// connection is gone. It is called from goroutines the Server already
// counts, so the Add never races with Close's Wait.
func (fc *fwdConn) goServe(f func()) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.closed {
		return false
	}
	fc.srv.wg.Add(1)
	go func() {
		defer fc.srv.wg.Done()
		f()
	}()
	return true
}

func (s *Server) recordForward(r ForwardRecord) {
	s.fwd.mu.Lock()
	defer s.fwd.mu.Unlock()
	s.fwd.records = append(s.fwd.records, r)
}

// ForwardRecords returns the forwarding events seen so far, in order. Each
// is recorded before it is answered, so a client that has the answer can
// already see the record.
func (s *Server) ForwardRecords() []ForwardRecord {
	s.fwd.mu.Lock()
	defer s.fwd.mu.Unlock()
	return slices.Clone(s.fwd.records)
}

// globalRequest answers the forwarding global requests; reply is the
// answer's payload.
func (fc *fwdConn) globalRequest(typ string, payload []byte) (ok bool, reply []byte) {
	rec := ForwardRecord{Type: typ}
	defer func() { rec.OK = ok; fc.srv.recordForward(rec) }()
	switch typ {
	case "tcpip-forward", "cancel-tcpip-forward":
		var m struct {
			Addr string
			Port uint32
		}
		if ssh.Unmarshal(payload, &m) != nil || m.Port > 65535 {
			return false, nil
		}
		rec.Host, rec.Port = m.Addr, int(m.Port)
		if typ == "cancel-tcpip-forward" {
			return fc.cancel("tcp " + net.JoinHostPort(m.Addr, strconv.Itoa(int(m.Port)))), nil
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(m.Port))))
		if err != nil {
			return false, nil
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if !fc.listen("tcp "+net.JoinHostPort(m.Addr, strconv.Itoa(port)), ln, func(c net.Conn) (string, []byte) {
			orig := c.RemoteAddr().(*net.TCPAddr)
			// RFC 4254 §7.2: address that was connected, port that was
			// connected, originator address, originator port.
			return "forwarded-tcpip", ssh.Marshal(struct {
				Addr     string
				Port     uint32
				OrigAddr string
				OrigPort uint32
			}{m.Addr, uint32(port), orig.IP.String(), uint32(orig.Port)})
		}) {
			return false, nil
		}
		if m.Port == 0 {
			// §7.1: the reply carries the port only when the client
			// let the server choose.
			return true, ssh.Marshal(struct{ Port uint32 }{uint32(port)})
		}
		return true, nil
	case "streamlocal-forward@openssh.com", "cancel-streamlocal-forward@openssh.com":
		var m struct{ Path string }
		if ssh.Unmarshal(payload, &m) != nil || m.Path == "" {
			return false, nil
		}
		rec.Path = m.Path
		if typ == "cancel-streamlocal-forward@openssh.com" {
			return fc.cancel("unix " + m.Path), nil
		}
		ln, err := net.Listen("unix", m.Path)
		if err != nil {
			return false, nil
		}
		return fc.listen("unix "+m.Path, ln, func(net.Conn) (string, []byte) {
			// OpenSSH PROTOCOL §2.4: socket path, reserved string.
			return "forwarded-streamlocal@openssh.com", ssh.Marshal(struct{ Path, Reserved string }{m.Path, ""})
		}), nil
	}
	return false, nil
}

// listen serves ln until it is cancelled or the connection ends: each
// connection becomes a channel to the client, of the type and payload
// open returns.
func (fc *fwdConn) listen(key string, ln net.Listener, open func(net.Conn) (string, []byte)) bool {
	fc.mu.Lock()
	if fc.closed {
		fc.mu.Unlock()
		ln.Close()
		return false
	}
	if old := fc.listeners[key]; old != nil {
		old.Close()
	}
	fc.listeners[key] = ln
	fc.srv.wg.Add(1)
	fc.mu.Unlock()
	go func() {
		defer fc.srv.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !fc.track(c) {
				return
			}
			typ, payload := open(c)
			if !fc.goServe(func() { fc.forwardToClient(c, typ, payload) }) {
				c.Close()
				return
			}
		}
	}()
	return true
}

// cancel closes the listener under key; false if there is none.
func (fc *fwdConn) cancel(key string) bool {
	fc.mu.Lock()
	ln := fc.listeners[key]
	delete(fc.listeners, key)
	fc.mu.Unlock()
	if ln == nil {
		return false
	}
	ln.Close()
	return true
}

// forwardToClient opens a channel for an accepted connection and copies
// both ways; a refused channel closes the connection.
func (fc *fwdConn) forwardToClient(c net.Conn, typ string, payload []byte) {
	defer fc.untrack(c)
	defer c.Close()
	ch, reqs, err := fc.sconn.OpenChannel(typ, payload)
	if err != nil {
		return
	}
	fc.pipe(c, ch, reqs)
}

// serveDirect answers a direct-tcpip or direct-streamlocal@openssh.com
// open by dialling its destination.
func (fc *fwdConn) serveDirect(ctx context.Context, nc ssh.NewChannel) {
	rec := ForwardRecord{Type: nc.ChannelType()}
	network, addr := "tcp", ""
	if nc.ChannelType() == "direct-tcpip" {
		// RFC 4254 §7.2: host to connect, port to connect, originator
		// address, originator port.
		var m struct {
			Host     string
			Port     uint32
			OrigHost string
			OrigPort uint32
		}
		if ssh.Unmarshal(nc.ExtraData(), &m) != nil || m.Port > 65535 {
			fc.srv.recordForward(rec)
			nc.Reject(ssh.ConnectionFailed, "sshtest: malformed direct-tcpip")
			return
		}
		rec.Host, rec.Port, rec.OrigHost, rec.OrigPort = m.Host, int(m.Port), m.OrigHost, int(m.OrigPort)
		addr = net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port)))
	} else {
		// OpenSSH PROTOCOL §2.4: socket path, reserved string, reserved
		// uint32.
		var m struct {
			Path     string
			Reserved string
			Port     uint32
		}
		if ssh.Unmarshal(nc.ExtraData(), &m) != nil {
			fc.srv.recordForward(rec)
			nc.Reject(ssh.ConnectionFailed, "sshtest: malformed direct-streamlocal")
			return
		}
		rec.Path = m.Path
		network, addr = "unix", m.Path
	}
	dctx, cancel := context.WithTimeout(ctx, directDialTimeout)
	var d net.Dialer
	c, err := d.DialContext(dctx, network, addr)
	cancel()
	if err != nil {
		fc.srv.recordForward(rec)
		nc.Reject(ssh.ConnectionFailed, "sshtest: "+err.Error())
		return
	}
	if !fc.track(c) {
		nc.Reject(ssh.ConnectionFailed, "sshtest: connection closing")
		return
	}
	defer fc.untrack(c)
	defer c.Close()
	rec.OK = true
	fc.srv.recordForward(rec)
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	fc.pipe(c, ch, reqs)
}

// pipe copies between a network connection and a channel, passing EOF on
// as a half-close each way, until both directions ended.
func (fc *fwdConn) pipe(c net.Conn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	if !fc.goServe(func() { ssh.DiscardRequests(reqs) }) {
		return
	}
	done := make(chan struct{})
	if !fc.goServe(func() {
		defer close(done)
		if _, err := io.Copy(ch, c); err != nil {
			ch.Close()
			return
		}
		ch.CloseWrite()
	}) {
		return
	}
	if _, err := io.Copy(c, ch); err == nil {
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}
	<-done
}

// ErrNoClient is wrapped by OpenChannelToClient's error when no
// authenticated connection of the user opened in time.
var ErrNoClient = errors.New("sshtest: no such client connected")

// OpenChannelToClient opens a channel of channelType with payload as its
// type-specific data to the most recently connected client authenticated
// as user ("" means any user), as a server does for "forwarded-tcpip",
// "x11" or "auth-agent@openssh.com". It returns what x/crypto returns: the
// channel and its requests (which the caller must drain, for example with
// ssh.DiscardRequests), or an *ssh.OpenChannelError when the client
// refused.
//
// A client sees its login succeed a moment before the server registers
// the connection, so it waits for such a client to be connected, and then
// for the client's answer, until ctx ends; if ctx ends first, a channel
// the client accepts later is closed. With no such client by then the
// error matches both ErrNoClient and ctx's error. After Close it fails
// with ErrServerClosed.
func (s *Server) OpenChannelToClient(ctx context.Context, user, channelType string, payload []byte) (ssh.Channel, <-chan *ssh.Request, error) {
	var fc *fwdConn
	for fc == nil {
		s.fwd.mu.Lock()
		for i := len(s.fwd.conns) - 1; i >= 0; i-- {
			if user == "" || s.fwd.conns[i].sconn.User() == user {
				fc = s.fwd.conns[i]
				break
			}
		}
		if s.fwd.changed == nil {
			s.fwd.changed = make(chan struct{})
		}
		changed := s.fwd.changed
		s.fwd.mu.Unlock()
		if fc != nil {
			break
		}
		select {
		case <-changed:
		case <-s.ctx.Done():
			return nil, nil, ErrServerClosed
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w: user %q: %w", ErrNoClient, user, ctx.Err())
		}
	}
	type opened struct {
		ch   ssh.Channel
		reqs <-chan *ssh.Request
		err  error
	}
	out := make(chan opened, 1)
	var mu sync.Mutex
	abandoned := false
	// Counted under s.mu while the server is open, so this Add (from the
	// caller's goroutine) cannot race with Close's Wait.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, nil, ErrServerClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		ch, reqs, err := fc.sconn.OpenChannel(channelType, payload)
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			if err == nil {
				ch.Close()
				ssh.DiscardRequests(reqs)
			}
			return
		}
		out <- opened{ch, reqs, err}
	}()
	select {
	case o := <-out:
		return o.ch, o.reqs, o.err
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		select {
		case o := <-out:
			return o.ch, o.reqs, o.err
		default:
		}
		abandoned = true
		return nil, nil, ctx.Err()
	}
}
