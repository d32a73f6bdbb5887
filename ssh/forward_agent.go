package ssh

import (
	"context"
	"io"
	"net"
	"os"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Agent forwarding (OpenSSH PROTOCOL.agent): after "auth-agent-req@openssh.com"
// on a session channel, the server opens an "auth-agent@openssh.com"
// channel each time a program on its side talks to the forwarded agent.
//
// Such channels are refused unless RequestAuthAgent was sent on the
// connection (a server has no business asking for the agent otherwise).
// When it was, they go
//
//   - to the application, through AcceptAgentForward, if
//     EnableAcceptAgentForward(true) was called (libssh-rs semantics);
//   - else, with the ForwardAgent option, straight to the local agent
//     (ForwardAgentSocket, else IdentityAgent, else $SSH_AUTH_SOCK), as
//     `ssh -A` does;
//   - else they are refused.

// maxAgentPipes bounds the agent channels piped to the local agent at
// once; a server opening more is refused (ResourceShortage).
const maxAgentPipes = 64

// agentDialTimeout bounds connecting to the local agent.
const agentDialTimeout = 10 * time.Second

// EnableAcceptAgentForward makes agent channels the server opens wait for
// AcceptAgentForward (true), or stops that (false; waiting ones are then
// refused). It applies to this and later connections of the session; it
// takes precedence over the ForwardAgent option's automatic piping. The
// server opens agent channels only after RequestAuthAgent on a session
// channel; without that they are refused whatever this says.
func (s *Session) EnableAcceptAgentForward(enable bool) {
	s.acceptAgent.Store(enable)
	if enable {
		return
	}
	if c := s.current(); c != nil {
		if fw := c.existingForwarding(); fw != nil {
			for _, p := range fw.agentQ.remove(func(pendingOpen) bool { return true }) {
				p.reject(gossh.Prohibited, "agent forwarding disabled")
			}
		}
	}
}

// AcceptAgentForward returns the next agent channel the server opened, now
// accepted, or nil when none is waiting; it never blocks (libssh-rs
// accept_agent_forward). Channels wait only while EnableAcceptAgentForward
// is on, at most 64 at a time. The returned channel speaks the agent
// protocol: copy it to and from an agent. Session.Events and Fd signal
// when one arrives.
func (s *Session) AcceptAgentForward() *Channel {
	c := s.current()
	if c == nil {
		return nil
	}
	fw := c.existingForwarding()
	if fw == nil {
		return nil
	}
	for {
		p, ok := fw.agentQ.tryPop()
		if !ok {
			return nil
		}
		ch, err := fw.accept(s, p, "unix", sshAddr("agent"), sshAddr("agent"))
		if err == nil {
			return ch
		}
		if c.isClosed() {
			return nil
		}
	}
}

func (fw *forwarding) onAgent(nc gossh.NewChannel) {
	fw.mu.Lock()
	wanted := fw.agent.wanted()
	fw.mu.Unlock()
	switch {
	case !wanted:
		_ = nc.Reject(gossh.Prohibited, "agent forwarding was not requested")
	case fw.c.sess.acceptAgent.Load():
		if !fw.agentQ.push(pendingOpen{nc: nc}) {
			_ = nc.Reject(gossh.ResourceShortage, "too many agent channels waiting")
			return
		}
		fw.c.events.signal()
	case fw.c.opts.ForwardAgent:
		fw.pipeAgent(nc)
	default:
		_ = nc.Reject(gossh.Prohibited, "agent forwarding is not enabled")
	}
}

// pipeAgent connects an agent channel to the local agent, on a goroutine
// of the connection (dialling must not hold up the dispatcher).
func (fw *forwarding) pipeAgent(nc gossh.NewChannel) {
	fw.mu.Lock()
	if fw.agentPipes >= maxAgentPipes {
		fw.mu.Unlock()
		_ = nc.Reject(gossh.ResourceShortage, "too many agent channels")
		return
	}
	fw.agentPipes++
	fw.mu.Unlock()
	release := func() {
		fw.mu.Lock()
		fw.agentPipes--
		fw.mu.Unlock()
	}
	if !fw.c.goTracked(func() { defer release(); fw.serveAgent(nc) }) {
		release()
		_ = nc.Reject(gossh.ConnectionFailed, "client is going away")
	}
}

func (fw *forwarding) serveAgent(nc gossh.NewChannel) {
	c := fw.c
	sock := forwardAgentSocket(c.opts)
	if sock == "" {
		_ = nc.Reject(gossh.ConnectionFailed, "no local agent")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), agentDialTimeout)
	var d net.Dialer
	agentConn, err := d.DialContext(ctx, "unix", sock)
	cancel()
	if err != nil {
		c.log.Warn("agent forwarding: cannot reach the local agent", "socket", sock, "err", err)
		_ = nc.Reject(gossh.ConnectionFailed, "cannot reach the local agent")
		return
	}
	defer agentConn.Close()
	xch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer xch.Close()
	if !c.goTracked(func() { gossh.DiscardRequests(reqs) }) {
		return
	}
	// Each side's end closes the other: the agent answering nothing more
	// ends the channel, the server's EOF or close ends the agent
	// connection. The connection's end closes the channel and so both.
	toAgent := make(chan struct{})
	if !c.goTracked(func() {
		defer close(toAgent)
		_, _ = io.Copy(agentConn, xch)
		_ = agentConn.Close()
	}) {
		return
	}
	_, _ = io.Copy(xch, agentConn)
	_ = xch.CloseWrite()
	_ = xch.Close()
	<-toAgent
}

// forwardAgentSocket is the local agent that forwarded agent channels
// reach: ForwardAgent's own socket, else the agent in use, resolved the way
// agentKeys resolves it ("" or "SSH_AUTH_SOCK" = the environment, "none" =
// no agent). "" means none.
func forwardAgentSocket(o Options) string {
	sock := o.ForwardAgentSocket
	if sock == "" {
		sock = o.IdentityAgent
	}
	if sock == "" || sock == "SSH_AUTH_SOCK" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock == "none" {
		return ""
	}
	return sock
}
