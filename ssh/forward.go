package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	gossh "golang.org/x/crypto/ssh"
)

// Remote forwarding, libssh style (RFC 4254 §7.1; OpenSSH PROTOCOL §2.4 for
// the Unix-socket variant).
//
// The server opens one channel per connection it accepted on a listener the
// client asked for. x/crypto's own Client.Listen hands each to a Go channel
// and blocks its connection-wide dispatcher when nobody accepts: three
// unaccepted connections deadlock the whole connection. Here every open is
// decided on the spot, without waiting:
//
//   - an open for a listener never requested is refused (Prohibited);
//   - an open for a requested listener is queued, unconfirmed, until the
//     application accepts it; the queue holds maxPendingOpens and refuses
//     the excess (ResourceShortage);
//   - cancelling a listener refuses what is still queued for it.
//
// The opens stay unconfirmed while queued, so the server holds no window
// for them and no data can pile up in the client. Accepting confirms.

// maxPendingOpens bounds each queue of server-opened channels waiting for
// the application (forwarded TCP, forwarded Unix, X11, agent).
const maxPendingOpens = 64

// Channel types the server opens (RFC 4254 §7.2, §6.3.2; OpenSSH PROTOCOL).
const (
	typeForwardedTCPIP = "forwarded-tcpip"
	typeForwardedUnix  = "forwarded-streamlocal@openssh.com"
	typeX11            = "x11"
	typeAgent          = "auth-agent@openssh.com"
)

// forwarding is one connection's forwarding state: the remote listeners it
// asked for, the opens waiting for the application, and which server-opened
// channel types were requested. It is created on first use and lives as
// long as the connection.
type forwarding struct {
	c        *conn
	register sync.Once

	mu        sync.Mutex
	listeners []*remoteListener // few; a linear scan is fine
	inflight  int               // listen requests sent and not answered yet
	limbo     []pendingOpen     // opens that arrived while a listen was in flight
	ops       map[string]*fwdOp // global requests in flight, by key

	x11, agent expectation
	agentPipes int // agent channels being piped to the local agent

	tcpQ, unixQ, x11Q, agentQ *openQueue
}

// remoteListener is one tcpip-forward or streamlocal-forward the server
// granted.
type remoteListener struct {
	unix bool
	addr string // bind address as requested (TCP)
	port int    // bound port (TCP)
	path string // socket path (Unix)
	// deliver takes an open for this listener (a RemoteForward helper);
	// it must not block and reports false to have the open refused. Nil
	// queues it for AcceptForward / AcceptForwardUnix.
	deliver func(pendingOpen) bool
}

// pendingOpen is a server-opened channel not yet accepted or refused.
type pendingOpen struct {
	nc       gossh.NewChannel
	l        *remoteListener // the listener it belongs to; nil for X11 and agent
	unix     bool
	connHost string // the address the server accepted the connection on
	connPort int
	path     string // forwarded-streamlocal: the socket path
	origHost string // the peer that connected to the server
	origPort int
}

func (p pendingOpen) reject(reason gossh.RejectionReason, msg string) {
	_ = p.nc.Reject(reason, msg)
}

// forwarding returns the connection's forwarding state, creating it and
// registering its channel handlers on first use. Every caller returns only
// after the handlers are in place, so a request sent afterwards cannot see
// its channels refused for want of a handler.
func (c *conn) forwarding() *forwarding {
	c.mu.Lock()
	fw := c.fwd
	if fw == nil {
		fw = &forwarding{c: c, ops: map[string]*fwdOp{}, tcpQ: newOpenQueue(), unixQ: newOpenQueue(),
			x11Q: newOpenQueue(), agentQ: newOpenQueue()}
		c.fwd = fw
	}
	c.mu.Unlock()
	fw.register.Do(func() {
		c.handleIncoming(typeForwardedTCPIP, fw.onForwardedTCPIP)
		c.handleIncoming(typeForwardedUnix, fw.onForwardedUnix)
		c.handleIncoming(typeX11, fw.onX11)
		c.handleIncoming(typeAgent, fw.onAgent)
	})
	return fw
}

// existingForwarding returns the state if it was ever created, else nil.
func (c *conn) existingForwarding() *forwarding {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fwd
}

// goTracked runs f on a goroutine that Disconnect waits for, unless the
// connection already ended (then it reports false and f does not run).
// Adding under c.mu while c.err is nil guarantees the WaitGroup's counter is
// not zero (the handshake goroutine holds it until shutdown), so the Add
// never races with Disconnect's Wait.
func (c *conn) goTracked(f func()) bool {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return false
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// authedConn returns the live, authenticated connection.
func (s *Session) authedConn() (*conn, gossh.Conn, error) {
	c, err := s.live()
	if err != nil {
		return nil, nil, err
	}
	client, err := c.authenticatedClient()
	if err != nil {
		return nil, nil, err
	}
	return c, client, nil
}

// ListenForward asks the server to listen on bindAddress:port and forward
// the connections it accepts there to this client (RFC 4254 §7.1
// "tcpip-forward"; libssh ssh_channel_listen_forward). port 0 lets the
// server choose; the port bound is returned either way. bindAddress is
// interpreted by the server: "" means all addresses, "localhost" the
// loopback ones (sshd binds loopback only unless GatewayPorts allows more).
//
// The connections arrive through AcceptForward. It waits for the server's
// answer, bounded by ctx and the Timeout option. A refusal is an error
// matching ErrRequestDenied. If ctx ends first the request stays in flight
// and a later call with the same arguments collects its answer (in
// non-blocking mode the call returns ErrAgain at once, the same way).
// A server that answers global requests with SSH_MSG_UNIMPLEMENTED
// (tinysshd, which has no forwarding; see quirks.go) is sent nothing: the
// call fails with an error matching ErrUnsupported. The same holds for
// CancelForward, ListenForwardUnix and CancelForwardUnix.
func (s *Session) ListenForward(ctx context.Context, bindAddress string, port int) (boundPort int, err error) {
	l, err := s.listenTCP(ctx, bindAddress, port, nil)
	if err != nil {
		return 0, err
	}
	return l.port, nil
}

func (s *Session) listenTCP(ctx context.Context, bindAddress string, port int, deliver func(pendingOpen) bool) (*remoteListener, error) {
	if port < 0 || port > 65535 {
		return nil, &OptionError{Option: "ListenForward port", Value: strconv.Itoa(port)}
	}
	c, client, err := s.authedConn()
	if err != nil {
		return nil, err
	}
	if err := c.refuseGlobalRequest("tcpip-forward"); err != nil {
		return nil, err // quirks.go: the request itself would end the connection
	}
	key := "tcpip-forward " + net.JoinHostPort(bindAddress, strconv.Itoa(port))
	return c.forwarding().run(ctx, s, key, true, deliver != nil, func() (*remoteListener, error) {
		// RFC 4254 §7.1: string address to bind, uint32 port.
		ok, reply, err := client.SendRequest("tcpip-forward", true, gossh.Marshal(struct {
			Addr string
			Port uint32
		}{bindAddress, uint32(port)}))
		if err != nil {
			// x/crypto fails a global request only when the connection
			// is gone (a bare io.EOF); say so, and why.
			return nil, c.connLost("tcpip-forward "+net.JoinHostPort(bindAddress, strconv.Itoa(port)), err)
		}
		if !ok {
			return nil, fmt.Errorf("%w: tcpip-forward %s", ErrRequestDenied, net.JoinHostPort(bindAddress, strconv.Itoa(port)))
		}
		bound := port
		if port == 0 {
			p, ok := parseBoundPort(reply)
			if !ok {
				// Not usable, but bound on the server: undo it.
				_, _, _ = client.SendRequest("cancel-tcpip-forward", false, gossh.Marshal(struct {
					Addr string
					Port uint32
				}{bindAddress, p}))
				return nil, fmt.Errorf("ssh: tcpip-forward: the server did not say which port it bound")
			}
			bound = int(p)
		}
		return &remoteListener{addr: bindAddress, port: bound, deliver: deliver}, nil
	})
}

// parseBoundPort reads the reply to a tcpip-forward request for port 0.
// RFC 4254 §7.1: uint32 port that was bound on the server. ok is false
// unless that is a usable port; port is what the reply said, for the
// cancel-tcpip-forward that undoes the binding.
func parseBoundPort(reply []byte) (port uint32, ok bool) {
	var r struct{ Port uint32 }
	if gossh.Unmarshal(reply, &r) != nil || r.Port == 0 || r.Port > 65535 {
		return r.Port, false
	}
	return r.Port, true
}

// AcceptForward waits for the next connection forwarded from any listener
// set up with ListenForward, accepts it and returns the port it arrived on
// (the bound port) and the channel carrying it (libssh
// ssh_channel_accept_forward). The channel is open; use it as an
// io.ReadWriteCloser or through NetConn.
//
// Up to 64 connections wait for AcceptForward; the server's further opens
// are refused until the application accepts some. It waits until ctx ends
// (no Timeout option applies: waiting for a peer is open-ended); in
// non-blocking mode it returns ErrAgain when nothing is waiting. Errors:
// ErrNotConnected, ErrNotAuthenticated, ctx's error, ErrDisconnected when
// the connection ends while waiting.
func (s *Session) AcceptForward(ctx context.Context) (destPort int, ch *Channel, err error) {
	c, _, err := s.authedConn()
	if err != nil {
		return 0, nil, err
	}
	fw := c.forwarding()
	for {
		p, err := fw.tcpQ.pop(ctx, s, c)
		if err != nil {
			return 0, nil, err
		}
		ch, err := fw.accept(s, p, "tcp", hostPortAddr("tcp", p.connHost, p.connPort), hostPortAddr("tcp", p.origHost, p.origPort))
		if err != nil {
			if c.isClosed() {
				return 0, nil, err
			}
			continue // the server withdrew this one; take the next
		}
		return p.connPort, ch, nil
	}
}

// CancelForward asks the server to stop listening on bindAddress:port
// (RFC 4254 §7.1 "cancel-tcpip-forward"), with the bound port for a
// listener asked for with port 0. Connections from that listener that are
// still waiting for AcceptForward are refused at once, and the server's
// opens for it that cross the cancel in flight are refused too. A refusal
// matches ErrRequestDenied. It waits like ListenForward.
func (s *Session) CancelForward(ctx context.Context, bindAddress string, port int) error {
	if port < 0 || port > 65535 {
		return &OptionError{Option: "CancelForward port", Value: strconv.Itoa(port)}
	}
	c, client, err := s.authedConn()
	if err != nil {
		return err
	}
	if err := c.refuseGlobalRequest("cancel-tcpip-forward"); err != nil {
		return err
	}
	fw := c.forwarding()
	fw.drop(func(l *remoteListener) bool { return !l.unix && l.port == port && l.addr == bindAddress })
	addr := net.JoinHostPort(bindAddress, strconv.Itoa(port))
	_, err = fw.run(ctx, s, "cancel-tcpip-forward "+addr, false, false, func() (*remoteListener, error) {
		ok, _, err := client.SendRequest("cancel-tcpip-forward", true, gossh.Marshal(struct {
			Addr string
			Port uint32
		}{bindAddress, uint32(port)}))
		if err != nil {
			return nil, c.connLost("cancel-tcpip-forward "+addr, err)
		}
		if !ok {
			return nil, fmt.Errorf("%w: cancel-tcpip-forward %s", ErrRequestDenied, addr)
		}
		return nil, nil
	})
	return err
}

// ListenForwardUnix asks the server to listen on the Unix socket path and
// forward the connections to this client (OpenSSH
// "streamlocal-forward@openssh.com", what `ssh -R /path:...` sends). They
// arrive through AcceptForwardUnix, never through AcceptForward: TCP and
// Unix forwards have separate queues, so neither starves the other. It
// waits and fails like ListenForward; sshd refuses when
// AllowStreamLocalForwarding forbids it or the path exists (see
// StreamLocalBindUnlink).
func (s *Session) ListenForwardUnix(ctx context.Context, path string) error {
	_, err := s.listenUnix(ctx, path, nil)
	return err
}

func (s *Session) listenUnix(ctx context.Context, path string, deliver func(pendingOpen) bool) (*remoteListener, error) {
	if path == "" {
		return nil, &OptionError{Option: "ListenForwardUnix path", Value: path}
	}
	c, client, err := s.authedConn()
	if err != nil {
		return nil, err
	}
	if err := c.refuseGlobalRequest("streamlocal-forward"); err != nil {
		return nil, err
	}
	return c.forwarding().run(ctx, s, "streamlocal-forward "+path, true, deliver != nil, func() (*remoteListener, error) {
		ok, _, err := client.SendRequest("streamlocal-forward@openssh.com", true, gossh.Marshal(struct{ Path string }{path}))
		if err != nil {
			return nil, c.connLost("streamlocal-forward "+path, err)
		}
		if !ok {
			return nil, fmt.Errorf("%w: streamlocal-forward %s", ErrRequestDenied, path)
		}
		return &remoteListener{unix: true, path: path, deliver: deliver}, nil
	})
}

// AcceptForwardUnix is AcceptForward for listeners made with
// ListenForwardUnix: it returns the socket path the connection arrived on
// and the open channel. Queueing, waiting and errors are as for
// AcceptForward.
func (s *Session) AcceptForwardUnix(ctx context.Context) (path string, ch *Channel, err error) {
	c, _, err := s.authedConn()
	if err != nil {
		return "", nil, err
	}
	fw := c.forwarding()
	for {
		p, err := fw.unixQ.pop(ctx, s, c)
		if err != nil {
			return "", nil, err
		}
		addr := &net.UnixAddr{Name: p.path, Net: "unix"}
		ch, err := fw.accept(s, p, "unix", addr, addr)
		if err != nil {
			if c.isClosed() {
				return "", nil, err
			}
			continue
		}
		return p.path, ch, nil
	}
}

// CancelForwardUnix asks the server to stop listening on the Unix socket
// path ("cancel-streamlocal-forward@openssh.com"); like CancelForward it
// refuses what is still waiting for that listener.
func (s *Session) CancelForwardUnix(ctx context.Context, path string) error {
	c, client, err := s.authedConn()
	if err != nil {
		return err
	}
	if err := c.refuseGlobalRequest("cancel-streamlocal-forward"); err != nil {
		return err
	}
	fw := c.forwarding()
	fw.drop(func(l *remoteListener) bool { return l.unix && l.path == path })
	_, err = fw.run(ctx, s, "cancel-streamlocal-forward "+path, false, false, func() (*remoteListener, error) {
		ok, _, err := client.SendRequest("cancel-streamlocal-forward@openssh.com", true, gossh.Marshal(struct{ Path string }{path}))
		if err != nil {
			return nil, c.connLost("cancel-streamlocal-forward "+path, err)
		}
		if !ok {
			return nil, fmt.Errorf("%w: cancel-streamlocal-forward %s", ErrRequestDenied, path)
		}
		return nil, nil
	})
	return err
}

// fwdOp is a global request in flight. Like channel operations, a call
// that stops waiting (ctx, non-blocking mode) leaves it running, and the
// next call with the same key collects the result.
type fwdOp struct {
	done chan struct{}
	l    *remoteListener
	err  error
}

// run starts send under key unless it is already running, and waits for
// it: in non-blocking mode not at all (ErrAgain) unless always is set (the
// helpers of forward_helpers.go wait in either mode). For a listen (listen
// true), the listener send returns is registered before the result is
// reported, and opens that arrived meanwhile are routed to it.
func (fw *forwarding) run(ctx context.Context, s *Session, key string, listen, always bool, send func() (*remoteListener, error)) (*remoteListener, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	fw.mu.Lock()
	op := fw.ops[key]
	if op == nil {
		op = &fwdOp{done: make(chan struct{})}
		if listen {
			fw.inflight++
		}
		started := fw.c.goTracked(func() {
			l, err := send()
			fw.finish(listen, l, err)
			op.l, op.err = l, err
			close(op.done)
			fw.c.events.signal()
		})
		if !started {
			if listen {
				fw.inflight--
			}
			fw.mu.Unlock()
			return nil, fmt.Errorf("%w: %w", ErrNotConnected, fw.c.closedErr())
		}
		fw.ops[key] = op
	}
	fw.mu.Unlock()
	select {
	case <-op.done:
	default:
		if !always && !s.IsBlocking() {
			return nil, ErrAgain
		}
		select {
		case <-op.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	fw.mu.Lock()
	if fw.ops[key] == op {
		delete(fw.ops, key)
	}
	fw.mu.Unlock()
	return op.l, op.err
}

// finish registers a granted listener and settles the opens that waited
// for a listen in flight.
func (fw *forwarding) finish(listen bool, l *remoteListener, err error) {
	fw.mu.Lock()
	if l != nil && err == nil {
		// A repeated grant for the same address replaces the old entry.
		fw.listeners = deleteListeners(fw.listeners, func(o *remoteListener) bool {
			return o.unix == l.unix && o.addr == l.addr && o.port == l.port && o.path == l.path
		})
		fw.listeners = append(fw.listeners, l)
	}
	if listen {
		fw.inflight--
	}
	var ready, refused []pendingOpen
	kept := fw.limbo[:0]
	for _, p := range fw.limbo {
		switch {
		case fw.matchLocked(&p):
			ready = append(ready, p)
		case fw.inflight > 0:
			kept = append(kept, p)
		default:
			refused = append(refused, p)
		}
	}
	clear(fw.limbo[len(kept):])
	fw.limbo = kept
	fw.mu.Unlock()
	for _, p := range ready {
		fw.deliver(p)
	}
	for _, p := range refused {
		fw.c.refuseUnknownForward(p)
	}
}

// drop forgets the listeners that match, refusing their queued opens.
func (fw *forwarding) drop(match func(*remoteListener) bool) {
	fw.mu.Lock()
	var gone []*remoteListener
	fw.listeners = deleteListeners(fw.listeners, func(l *remoteListener) bool {
		if match(l) {
			gone = append(gone, l)
			return true
		}
		return false
	})
	fw.mu.Unlock()
	for _, l := range gone {
		q := fw.tcpQ
		if l.unix {
			q = fw.unixQ
		}
		for _, p := range q.remove(func(p pendingOpen) bool { return p.l == l }) {
			p.reject(gossh.ConnectionFailed, "forwarding cancelled")
		}
	}
}

func deleteListeners(ls []*remoteListener, del func(*remoteListener) bool) []*remoteListener {
	out := ls[:0]
	for _, l := range ls {
		if !del(l) {
			out = append(out, l)
		}
	}
	clear(ls[len(out):])
	return out
}

// matchLocked finds p's listener and sets p.l. A TCP open names the
// address it was accepted on as the client asked for it (OpenSSH sends the
// bind address string of the request); an exact match wins, else the port
// decides, since servers may normalise the address ("" versus "0.0.0.0").
func (fw *forwarding) matchLocked(p *pendingOpen) bool {
	var byPort *remoteListener
	for _, l := range fw.listeners {
		if l.unix != p.unix {
			continue
		}
		if p.unix {
			if l.path == p.path {
				p.l = l
				return true
			}
			continue
		}
		if l.port != p.connPort {
			continue
		}
		if l.addr == p.connHost {
			p.l = l
			return true
		}
		if byPort == nil {
			byPort = l
		}
	}
	if byPort != nil {
		p.l = byPort
		return true
	}
	return false
}

// route decides an open for a forwarded listener. It runs on the
// connection's dispatcher and never blocks.
func (fw *forwarding) route(p pendingOpen) {
	fw.mu.Lock()
	if !fw.matchLocked(&p) {
		// The reply to a listen request is read before the opens that
		// follow it, but reaches the requesting goroutine through the
		// scheduler: an open can get here first. Hold it until the
		// listens in flight are answered.
		if fw.inflight > 0 && len(fw.limbo) < maxPendingOpens {
			fw.limbo = append(fw.limbo, p)
			fw.mu.Unlock()
			return
		}
		fw.mu.Unlock()
		fw.c.refuseUnknownForward(p)
		return
	}
	fw.mu.Unlock()
	fw.deliver(p)
}

// deliver hands an open to its listener's taker, or refuses it when that
// one is full.
func (fw *forwarding) deliver(p pendingOpen) {
	if p.l.deliver != nil {
		if !p.l.deliver(p) {
			fw.c.log.Warn("forwarded connection refused: too many in progress", p.logAttrs()...)
			p.reject(gossh.ResourceShortage, "too many forwarded connections")
		}
		return
	}
	q := fw.tcpQ
	if p.unix {
		q = fw.unixQ
	}
	if !q.push(p) {
		fw.c.log.Warn("forwarded connection refused: too many waiting to be accepted",
			append(p.logAttrs(), "waiting", maxPendingOpens)...)
		p.reject(gossh.ResourceShortage, "too many forwarded connections waiting to be accepted")
		return
	}
	fw.c.events.signal()
}

func (fw *forwarding) onForwardedTCPIP(nc gossh.NewChannel) {
	if p, ok := fw.c.parseForwardedOpen(nc); ok {
		fw.route(p)
	}
}

func (fw *forwarding) onForwardedUnix(nc gossh.NewChannel) {
	if p, ok := fw.c.parseForwardedOpen(nc); ok {
		fw.route(p)
	}
}

// parseForwardedOpen reads a forwarded-tcpip or forwarded-streamlocal
// open; a malformed one is refused (and logged), and ok is false.
func (c *conn) parseForwardedOpen(nc gossh.NewChannel) (p pendingOpen, ok bool) {
	kind, parse := "forwarded-tcpip", parseForwardedTCPIP
	if nc.ChannelType() == typeForwardedUnix {
		kind, parse = "forwarded-streamlocal", parseForwardedUnix
	}
	p, ok = parse(nc.ExtraData())
	if !ok {
		c.log.Warn("malformed " + kind + " open refused")
		_ = nc.Reject(gossh.ConnectionFailed, "malformed "+kind+" open")
		return pendingOpen{}, false
	}
	p.nc = nc
	return p, true
}

// parseForwardedTCPIP reads a forwarded-tcpip open. RFC 4254 §7.2: address
// that was connected, port that was connected, originator IP address,
// originator port; a port beyond 65535 makes it malformed.
func parseForwardedTCPIP(payload []byte) (pendingOpen, bool) {
	var m struct {
		Addr     string
		Port     uint32
		OrigAddr string
		OrigPort uint32
	}
	if gossh.Unmarshal(payload, &m) != nil || m.Port > 65535 || m.OrigPort > 65535 {
		return pendingOpen{}, false
	}
	return pendingOpen{connHost: m.Addr, connPort: int(m.Port), origHost: m.OrigAddr, origPort: int(m.OrigPort)}, true
}

// parseForwardedUnix reads a forwarded-streamlocal@openssh.com open.
// OpenSSH PROTOCOL §2.4: string socket path, string reserved; only the
// path is needed, so what follows it is not checked.
func parseForwardedUnix(payload []byte) (pendingOpen, bool) {
	path, _, ok := parseSSHString(payload)
	if !ok {
		return pendingOpen{}, false
	}
	return pendingOpen{unix: true, path: path}, true
}

// refuseUnknownForward refuses a forwarded connection for a listener this
// client does not have (never requested, or cancelled), and says so as
// OpenSSH does (channels.c, channel_connect_by_listen_address: "WARNING:
// Server requests forwarding for unknown listen_port %d", and "... unknown
// path %.100s" for Unix sockets), with Warn as the "WARNING:".
func (c *conn) refuseUnknownForward(p pendingOpen) {
	if p.unix {
		c.log.Warn("server requests forwarding for unknown path", p.logAttrs()...)
	} else {
		c.log.Warn("server requests forwarding for unknown listen_port", p.logAttrs()...)
	}
	p.reject(gossh.Prohibited, "no such forwarding was requested")
}

// refuseUnrequested refuses a channel the server opened whose type has no
// handler because the client asked for nothing of the kind
// (serveIncoming), and logs it: forwarded connections as
// refuseUnknownForward does, other types by name.
func (c *conn) refuseUnrequested(nc gossh.NewChannel) {
	switch nc.ChannelType() {
	case typeForwardedTCPIP, typeForwardedUnix:
		if p, ok := c.parseForwardedOpen(nc); ok {
			c.refuseUnknownForward(p)
		}
		return
	}
	c.log.Warn("server opened a channel of a type the client did not request", "channel_type", nc.ChannelType())
	_ = nc.Reject(gossh.Prohibited, "channel type not requested by the client: "+nc.ChannelType())
}

// logAttrs describes a forwarded open for the log.
func (p pendingOpen) logAttrs() []any {
	if p.unix {
		return []any{"path", p.path}
	}
	return []any{"listen_host", p.connHost, "listen_port", p.connPort,
		"originator", net.JoinHostPort(p.origHost, strconv.Itoa(p.origPort))}
}

// accept confirms a pending open and returns it as an open Channel of s
// whose NetConn reports local and remote as its addresses.
func (fw *forwarding) accept(s *Session, p pendingOpen, network string, local, remote net.Addr) (*Channel, error) {
	ch, err := s.NewChannel()
	if err == nil && ch.c != fw.c {
		// The session reconnected meanwhile; this open belongs to the
		// old connection, which is gone.
		_ = ch.Close()
		err = ErrDisconnected
	}
	if err != nil {
		p.reject(gossh.ConnectionFailed, "client is going away")
		return nil, err
	}
	xch, reqs, err := p.nc.Accept()
	if err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("ssh: accept %s channel: %w", p.nc.ChannelType(), err)
	}
	ch.mu.Lock()
	ch.fwd = newForwardConn(ch, network, local, remote)
	ch.mu.Unlock()
	ch.attach(xch, reqs)
	return ch, nil
}

// openQueue holds server-opened channels until the application takes
// them. push never blocks: it refuses when full.
type openQueue struct {
	mu      sync.Mutex
	items   []pendingOpen
	changed chan struct{} // closed and replaced on every push
}

func newOpenQueue() *openQueue { return &openQueue{changed: make(chan struct{})} }

func (q *openQueue) push(p pendingOpen) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) >= maxPendingOpens {
		return false
	}
	q.items = append(q.items, p)
	close(q.changed)
	q.changed = make(chan struct{})
	return true
}

func (q *openQueue) tryPop() (pendingOpen, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return pendingOpen{}, false
	}
	p := q.items[0]
	n := copy(q.items, q.items[1:])
	q.items[n] = pendingOpen{}
	q.items = q.items[:n]
	return p, true
}

// pop takes the oldest open, waiting for one until ctx ends or the
// connection does; in non-blocking mode it returns ErrAgain instead of
// waiting.
func (q *openQueue) pop(ctx context.Context, s *Session, c *conn) (pendingOpen, error) {
	for {
		if p, ok := q.tryPop(); ok {
			return p, nil
		}
		if !s.IsBlocking() {
			return pendingOpen{}, ErrAgain
		}
		q.mu.Lock()
		changed := q.changed
		empty := len(q.items) == 0
		q.mu.Unlock()
		if !empty {
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return pendingOpen{}, ctx.Err()
		case <-c.done:
			return pendingOpen{}, fmt.Errorf("%w: %w", ErrDisconnected, c.closedErr())
		}
	}
}

// remove takes out and returns the opens that match.
func (q *openQueue) remove(match func(pendingOpen) bool) []pendingOpen {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []pendingOpen
	kept := q.items[:0]
	for _, p := range q.items {
		if match(p) {
			out = append(out, p)
		} else {
			kept = append(kept, p)
		}
	}
	clear(q.items[len(kept):])
	q.items = kept
	return out
}

func (q *openQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// expectation records whether the application asked for one kind of
// server-opened channel (x11-req, auth-agent-req): channels of a kind
// nobody asked for are refused.
type expectation struct {
	inflight int  // requests sent, answer not seen
	granted  bool // a request was granted
}

func (e expectation) wanted() bool { return e.granted || e.inflight > 0 }

// expectIncoming marks channels of channelType (typeX11 or typeAgent) as
// wanted before the request that asks for them is sent: the server may
// open one as soon as it granted the request, before the reply reaches the
// requesting goroutine. The returned func settles the mark with the
// request's outcome; a request still in flight (ErrAgain) keeps it.
func (ch *Channel) expectIncoming(channelType string) func(error) {
	fw := ch.c.forwarding()
	e := &fw.agent
	if channelType == typeX11 {
		e = &fw.x11
	}
	fw.mu.Lock()
	e.inflight++
	fw.mu.Unlock()
	return func(err error) {
		if errors.Is(err, ErrAgain) {
			return
		}
		fw.mu.Lock()
		e.inflight--
		if err == nil {
			e.granted = true
		}
		fw.mu.Unlock()
	}
}
