package sshtest

import (
	"context"
	"net"

	"golang.org/x/crypto/ssh"
)

// serveConn runs one accepted TCP connection to its end.
func (s *Server) serveConn(raw net.Conn) {
	defer s.wg.Done()
	defer s.untrack(raw)
	defer raw.Close()

	if s.serveRawFault(raw) {
		return
	}
	conn := raw
	switch s.cfg.Fault {
	case FaultDropAfterBytes:
		conn = newDropConn(raw, s.cfg.DropAfter)
	case FaultStallAfterBytes:
		conn = newStallConn(raw, s.cfg.StallAfter)
	}
	// Writes are queued so that x/crypto's read loop never waits for the
	// network, as sshd's never does (sendqueue.go).
	queued := s.newQueuedConn(conn)
	defer queued.Close()
	var transport net.Conn = queued
	if s.rewrites() {
		transport = newRewriteConn(s, queued) // rewrite.go
	}

	auth := &authState{srv: s, raw: raw, queue: queued}
	sconn, chans, reqs, err := ssh.NewServerConn(transport, s.serverConfig(auth))
	if err != nil {
		// The client gave up, failed to authenticate, or a fault
		// struck; x/crypto has closed conn.
		return
	}

	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	fc := s.trackForwarding(sconn) // forward.go
	defer fc.close()

	s.wg.Add(1)
	go s.serveGlobalRequests(fc, reqs)

	// chans is closed when the connection ends, whoever ends it.
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			s.wg.Add(1)
			go s.serveSession(ctx, sconn.User(), ch, creqs)
		case "direct-tcpip", "direct-streamlocal@openssh.com":
			// RFC 4254 §7.2 local forwarding (forward.go).
			if !fc.goServe(func() { fc.serveDirect(ctx, nc) }) {
				nc.Reject(ssh.ConnectionFailed, "sshtest: connection closing")
			}
		default:
			s.recordRefusedChannel(nc.ChannelType())
			nc.Reject(ssh.Prohibited, "sshtest: channel type "+nc.ChannelType()+" is not supported")
		}
	}
	cancel()
	// Wait returns after x/crypto's mux has closed the transport and its
	// own goroutines have ended, so none outlives Close.
	sconn.Close()
	sconn.Wait()
}

// serverConfig builds the x/crypto configuration for one connection. A
// fresh config per connection lets the authentication callbacks keep
// per-connection state in auth.
func (s *Server) serverConfig(auth *authState) *ssh.ServerConfig {
	first := auth.callbacks(0)
	c := &ssh.ServerConfig{
		Config: ssh.Config{
			KeyExchanges: s.cfg.KeyExchanges,
			Ciphers:      s.cfg.Ciphers,
			MACs:         s.cfg.MACs,
		},
		// "none" always reaches auth.none, which decides per user.
		NoClientAuth:                true,
		NoClientAuthCallback:        auth.none,
		MaxAuthTries:                s.cfg.MaxAuthTries,
		PasswordCallback:            first.PasswordCallback,
		PublicKeyCallback:           first.PublicKeyCallback,
		KeyboardInteractiveCallback: first.KeyboardInteractiveCallback,
		VerifiedPublicKeyCallback:   auth.verifiedPublicKey,
		AuthLogCallback:             auth.log,
		PreAuthConnCallback: func(c ssh.ServerPreAuthConn) {
			auth.pre = c // for BannerRepeat
			s.handshakeDone(c)
		},
		ServerVersion:           s.cfg.ServerVersion,
		PublicKeyAuthAlgorithms: s.cfg.PublicKeyAuthAlgorithms,
	}
	if s.rewrites() {
		// The rewriter must know the session keys: see rewrite.go.
		c.Config.KeyExchanges = []string{rewriteKex}
		c.Config.Ciphers = []string{rewriteCipher}
		c.Config.Rand = rewriteRand{}
	}
	if banner := s.cfg.Banner; banner != "" {
		c.BannerCallback = func(ssh.ConnMetadata) string { return banner }
	}
	for _, k := range s.hostKeys {
		c.AddHostKey(k)
	}
	return c
}

// rewrites reports whether the connections' packets are rewritten in flight
// (rewrite.go).
func (s *Server) rewrites() bool { return s.cfg.GlobalRequestsUnimplemented || s.cfg.NoExtInfo }

// handshakeDone runs once the initial key exchange has completed, before
// authentication.
func (s *Server) handshakeDone(c ssh.ServerPreAuthConn) {
	var algs ssh.NegotiatedAlgorithms
	if am, ok := c.(ssh.AlgorithmsConnMetadata); ok {
		algs = am.Algorithms()
	}
	s.recordHandshake(algs, string(c.ClientVersion()))
}

// serveGlobalRequests answers global requests (RFC 4254 §4) until the
// connection ends.
func (s *Server) serveGlobalRequests(fc *fwdConn, reqs <-chan *ssh.Request) {
	defer s.wg.Done()
	for req := range reqs {
		ok := false
		var reply []byte
		switch req.Type {
		case "keepalive@openssh.com":
			// OpenSSH clients probe liveness with this; any reply
			// will do, and OpenSSH's sshd answers it as unknown.
			// Answering true lets tests tell it was understood.
			ok = true
		case "tcpip-forward", "cancel-tcpip-forward",
			"streamlocal-forward@openssh.com", "cancel-streamlocal-forward@openssh.com":
			// RFC 4254 §7.1 remote forwarding and OpenSSH's Unix
			// socket variant (forward.go).
			ok, reply = fc.globalRequest(req.Type, req.Payload)
		}
		s.recordGlobalRequest(RequestRecord{
			Type:      req.Type,
			WantReply: req.WantReply,
			OK:        ok,
			Payload:   append([]byte(nil), req.Payload...),
		})
		if req.WantReply {
			req.Reply(ok, reply)
		}
	}
}
