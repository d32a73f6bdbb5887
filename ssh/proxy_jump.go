package ssh

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/libssh-go/libssh/sshconfig"
)

// maxJumpHops bounds one ProxyJump list, and maxJumpDepth the nesting of
// jump hosts whose own configuration names jump hosts (a loop in the
// configuration would otherwise recurse for ever).
const (
	maxJumpHops  = 32
	maxJumpDepth = 8
)

// errJumpLoop is wrapped by the *OptionError of a ProxyJump chain that
// OpenSSH refuses as a "jumphost loop".
var errJumpLoop = errors.New("jump host loop")

// jumpHost is one element of a ProxyJump list.
type jumpHost = sshconfig.JumpHost

// parseJumpList parses a ProxyJump value (sshconfig.ParseProxyJump).
func parseJumpList(spec string) ([]jumpHost, error) { return sshconfig.ParseProxyJump(spec) }

// dialTransport opens the byte stream Connect runs SSH over: the Socket
// option, a ProxyJump chain, a ProxyCommand, or a TCP connection.
func (s *Session) dialTransport(ctx context.Context, opts Options) (net.Conn, error) {
	cmd := opts.ProxyCommand != "" && opts.ProxyCommand != "none"
	jump := opts.ProxyJump != "" && !strings.EqualFold(opts.ProxyJump, "none")
	switch {
	case opts.Socket != nil:
		return opts.Socket, nil
	case cmd && jump:
		return nil, &OptionError{Option: "ProxyJump", Value: opts.ProxyJump,
			Err: errors.New("ProxyCommand and ProxyJump are both set")}
	case jump:
		return s.dialJump(ctx, opts)
	case cmd:
		return dialProxyCommand(opts, opts.logger())
	}
	return dial(ctx, opts)
}

// dialJump connects through the ProxyJump hosts, as `ssh -J` does: each
// hop is a Session resolved from the same configuration (the first one may
// use its own ProxyCommand or ProxyJump), checked against known_hosts by
// its StrictHostKeyChecking, and authenticated with authenticateHop; the
// next hop, and finally the destination, is reached through a direct-tcpip
// channel (RFC 4254 §7.2) of the hop before. The returned conn owns the
// hops: closing it disconnects them all. A chain OpenSSH refuses as a
// jumphost loop (checkJumpLoop) is refused before anything is dialled.
func (s *Session) dialJump(ctx context.Context, opts Options) (net.Conn, error) {
	orig := opts.configHost
	if orig == "" {
		orig = opts.Host
	}
	// ssh_config(5): ProxyJump accepts %h, %n, %p, %r (and %%).
	spec, err := sshconfig.Tokens{'h': opts.Host, 'n': orig, 'p': strconv.Itoa(opts.Port), 'r': opts.User}.Expand(opts.ProxyJump, sshconfig.TokensProxyJump)
	if err != nil {
		return nil, &OptionError{Option: "ProxyJump", Value: opts.ProxyJump, Err: err}
	}
	hops, err := parseJumpList(spec)
	if err != nil {
		return nil, &OptionError{Option: "ProxyJump", Value: opts.ProxyJump, Err: err}
	}
	if opts.jumpDepth >= maxJumpDepth {
		return nil, &OptionError{Option: "ProxyJump", Value: opts.ProxyJump,
			Err: fmt.Errorf("jump hosts nested more than %d deep (a ProxyJump loop in the configuration?)", maxJumpDepth)}
	}
	s.mu.Lock()
	cb := s.authCB
	s.mu.Unlock()
	if cb != nil {
		cb = (&passphraseMemo{cb: cb, answers: map[string]string{}}).ask
	}
	chain := &jumpConn{}
	fail := func(err error) (net.Conn, error) {
		chain.disconnectHops()
		return nil, err
	}
	for _, h := range hops {
		hop, err := newHopSession(opts, h, cb)
		if err != nil {
			return fail(fmt.Errorf("ssh: jump host %s: %w", h, err))
		}
		chain.hops = append(chain.hops, hop)
	}
	// The whole chain is checked before anything is dialled: ssh runs
	// every check (one per nested ssh) before its innermost hop connects.
	if err := checkJumpLoop(opts, hops, chain.hops); err != nil {
		return fail(err)
	}
	for i, hop := range chain.hops {
		h := hops[i]
		if i > 0 {
			ho := hop.Options()
			ch, err := chain.openDirect(ctx, i-1, ho.Host, ho.Port)
			if err != nil {
				return fail(err)
			}
			if err := hop.SetOption(Socket(ch)); err != nil {
				_ = ch.Close()
				return fail(err)
			}
		}
		if err := hop.Connect(ctx); err != nil {
			return fail(fmt.Errorf("ssh: jump host %s: %w", h, err))
		}
		if err := authenticateHop(ctx, hop, h.String()); err != nil {
			return fail(err)
		}
	}
	ch, err := chain.openDirect(ctx, len(hops)-1, opts.Host, opts.Port)
	if err != nil {
		return fail(err)
	}
	chain.chanConn = ch
	return chain, nil
}

// checkJumpLoop applies OpenSSH's "jumphost loop" rule to a chain. ssh.c
// compares only the last hop (options.jump_host), as written, with the
// destination as resolved: the host name after HostName and lowercasing,
// the port (22 when the hop gives none, whatever the configuration says
// for it) and the user (the destination's when the hop gives none); it
// refuses when all three are equal. Earlier hops may name the destination:
// "-J u@h:A,u@h:B -p A u@h" goes out through A and back in.
//
// ssh then runs the rest of the chain as the ProxyCommand
// "ssh [-l user] [-p port] -J h1,...,hn-1 hn", whose own check compares
// hn-1 with hn resolved by its configuration, and so on down the chain. So
// each hop is compared with the next one, and two equal hops in a row are a
// loop too. hops are the parsed hops, sessions their Sessions (options
// resolved, not connected).
func checkJumpLoop(dest Options, hops []jumpHost, sessions []*Session) error {
	loops := func(h jumpHost, o Options) bool {
		return h.Host == strings.ToLower(o.Host) && cmp.Or(h.Port, 22) == o.Port && cmp.Or(h.User, o.User) == o.User
	}
	for i := len(hops) - 1; i >= 0; i-- {
		next := dest
		if i+1 < len(hops) {
			next = sessions[i+1].Options()
		}
		if loops(hops[i], next) {
			return &OptionError{Option: "ProxyJump", Value: dest.ProxyJump,
				Err: fmt.Errorf("%w via %s", errJumpLoop, hops[i])}
		}
	}
	return nil
}

// newHopSession makes the Session of one jump host: its name, user and port
// from the jump spec, everything else from the configuration the parent
// session read (the same file, or the defaults), and the same SSHDir,
// logging and timeout.
func newHopSession(parent Options, h jumpHost, cb AuthCallback) (*Session, error) {
	hop := NewSession()
	opts := []Option{Hostname(h.Host), SSHDir(parent.SSHDir), Logger(parent.Logger), ProcessConfig(parent.ProcessConfig)}
	if h.User != "" {
		opts = append(opts, User(h.User))
	}
	if h.Port != 0 {
		opts = append(opts, Port(h.Port))
	}
	if err := hop.SetOption(opts...); err != nil {
		return nil, err
	}
	hop.mu.Lock()
	hop.opts.LogLevel = parent.LogLevel // not marked as set: the hop's config may change it
	hop.opts.jumpDepth = parent.jumpDepth + 1
	hop.opts.systemConfig = parent.systemConfig
	hop.mu.Unlock()
	if parent.configParsed {
		if err := hop.OptionsParseConfig(parent.configPath); err != nil {
			return nil, err
		}
	}
	hop.mu.Lock()
	hop.opts.configParsed = true // parsed above, or never wanted
	if hop.opts.BatchMode {
		cb = nil
	}
	hop.mu.Unlock()
	hop.SetAuthCallback(cb)
	return hop, nil
}

// authenticateHop logs in to a jump host without the application's help:
// "none", then (PubkeyAuthentication) the agent and identity files with
// passphrases from the AuthCallback, then, when the AuthCallback is set and
// BatchMode is off, keyboard-interactive and password answers from the
// AuthCallback. The host key is decided first by the hop's
// StrictHostKeyChecking against known_hosts; a refusal is returned as the
// *HostKeyError.
func authenticateHop(ctx context.Context, hop *Session, label string) error {
	o := hop.Options()
	st, err := hop.UserauthNone(ctx, "")
	if err != nil {
		return fmt.Errorf("ssh: jump host %s: %w", label, err)
	}
	if st == AuthSuccess {
		return nil
	}
	var errs []error
	if o.PubkeyAuthentication {
		st, err = hop.UserauthPublicKeyAuto(ctx, "", "")
		if st == AuthSuccess {
			return nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	hop.mu.Lock()
	cb := hop.authCB
	hop.mu.Unlock()
	if cb != nil {
		methods, _ := hop.UserauthList("")
		if o.KbdInteractiveAuthentication && methods.Has(AuthMethodInteractive) {
			st, err = hopKeyboardInteractive(ctx, hop, cb, label)
			if st == AuthSuccess {
				return nil
			}
			if err != nil {
				errs = append(errs, err)
			}
			methods, _ = hop.UserauthList("")
		}
		if o.PasswordAuthentication && methods.Has(AuthMethodPassword) {
			for range max(o.NumberOfPasswordPrompts, 1) {
				pw, err := cb(fmt.Sprintf("%s@%s's password: ", o.User, o.Host), false, false, "")
				if err != nil {
					errs = append(errs, err)
					break
				}
				st, err = hop.UserauthPassword(ctx, "", pw)
				if st == AuthSuccess {
					return nil
				}
				if err != nil {
					errs = append(errs, err)
					break
				}
			}
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return fmt.Errorf("%w: jump host %s: no method succeeded: %w", ErrAuth, label, errors.Join(errs...))
}

// maxHopRounds bounds the keyboard-interactive rounds of one hop login.
const maxHopRounds = 16

func hopKeyboardInteractive(ctx context.Context, hop *Session, cb AuthCallback, label string) (AuthStatus, error) {
	st, err := hop.UserauthKeyboardInteractive(ctx, "", "")
	for range maxHopRounds {
		if st != AuthInfo || err != nil {
			return st, err
		}
		info, err := hop.UserauthKeyboardInteractiveInfo()
		if err != nil {
			return AuthError, err
		}
		answers := make([]string, len(info.Prompts))
		for i, p := range info.Prompts {
			prompt := p.Prompt
			if i == 0 && info.Instruction != "" {
				prompt = info.Instruction + "\n" + prompt
			}
			if answers[i], err = cb(prompt, p.Echo, false, ""); err != nil {
				return AuthError, err
			}
		}
		if err := hop.UserauthKeyboardInteractiveSetAnswers(answers); err != nil {
			return AuthError, err
		}
		st, err = hop.UserauthKeyboardInteractive(ctx, "", "")
	}
	return AuthDenied, fmt.Errorf("%w: jump host %s: too many keyboard-interactive rounds", ErrAuth, label)
}

// passphraseMemo asks the application once per key file: every hop of a
// chain may try the same identity, and the user should type its passphrase
// once. Other prompts (passwords, which differ per host) pass through.
type passphraseMemo struct {
	cb      AuthCallback
	mu      sync.Mutex
	answers map[string]string
}

func (m *passphraseMemo) ask(prompt string, echo, verify bool, identity string) (string, error) {
	if identity == "" {
		return m.cb(prompt, echo, verify, identity)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.answers[identity]; ok {
		return a, nil
	}
	a, err := m.cb(prompt, echo, verify, identity)
	if err == nil {
		m.answers[identity] = a
	}
	return a, err
}

// jumpConn is the transport to the destination: a direct-tcpip channel of
// the last hop. It owns every hop of the chain.
type jumpConn struct {
	*chanConn
	hops      []*Session
	closeOnce sync.Once
}

// openDirect opens a direct-tcpip channel from hops[i] to host:port.
func (j *jumpConn) openDirect(ctx context.Context, i int, host string, port int) (*chanConn, error) {
	c, err := j.hops[i].live()
	if err != nil {
		return nil, err
	}
	client, err := c.authenticatedClient()
	if err != nil {
		return nil, err
	}
	payload := gossh.Marshal(struct {
		Host       string
		Port       uint32
		OriginAddr string
		OriginPort uint32
	}{host, uint32(port), "127.0.0.1", 0})
	type result struct {
		ch   gossh.Channel
		reqs <-chan *gossh.Request
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ch, reqs, err := client.OpenChannel("direct-tcpip", payload)
		done <- result{ch, reqs, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		// Unblock OpenChannel by ending the hop; the channel, if it opens
		// meanwhile, dies with it.
		j.disconnectHops()
		r = <-done
		if r.err == nil {
			_ = r.ch.Close()
		}
		return nil, fmt.Errorf("ssh: jump host %s: direct-tcpip to %s: %w", j.hops[i].Options().Host, net.JoinHostPort(host, strconv.Itoa(port)), ctx.Err())
	}
	if r.err != nil {
		// The hop could not reach the next host: to the caller that is the
		// same failure as a refused TCP connect (ErrConnect), with the hop's
		// refusal (an *ssh.OpenChannelError of x/crypto) kept inside.
		return nil, fmt.Errorf("%w: jump host %s: cannot reach %s: %w", ErrConnect, j.hops[i].Options().Host,
			net.JoinHostPort(host, strconv.Itoa(port)), r.err)
	}
	go gossh.DiscardRequests(r.reqs)
	return newChanConn(r.ch, host, port), nil
}

// Close ends the destination channel and disconnects every hop, the last
// first (which also ends the channels running through it). It is
// idempotent.
func (j *jumpConn) Close() error {
	j.closeOnce.Do(func() {
		j.disconnectHops()
		if j.chanConn != nil {
			_ = j.chanConn.Close()
		}
	})
	return nil
}

func (j *jumpConn) disconnectHops() {
	for i := len(j.hops) - 1; i >= 0; i-- {
		_ = j.hops[i].Disconnect()
	}
}

// chanConn makes an SSH channel a net.Conn. x/crypto channels cannot
// interrupt a blocked Read, so a deadline that passes ends the stream:
// later calls fail with os.ErrDeadlineExceeded. That is all an SSH
// transport needs (Connect uses a deadline only to abandon a handshake).
type chanConn struct {
	ch     gossh.Channel
	remote net.Addr

	mu      sync.Mutex
	timer   *time.Timer
	expired bool
}

func newChanConn(ch gossh.Channel, host string, port int) *chanConn {
	return &chanConn{ch: ch, remote: jumpAddr(net.JoinHostPort(host, strconv.Itoa(port)))}
}

func (c *chanConn) err(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired {
		return os.ErrDeadlineExceeded
	}
	return err
}

func (c *chanConn) Read(p []byte) (int, error) {
	n, err := c.ch.Read(p)
	if err != nil && err != io.EOF {
		err = c.err(err)
	} else if err == io.EOF && n == 0 {
		err = c.err(err)
	}
	return n, err
}

func (c *chanConn) Write(p []byte) (int, error) {
	n, err := c.ch.Write(p)
	if err != nil {
		err = c.err(err)
	}
	return n, err
}

func (c *chanConn) Close() error {
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	return c.ch.Close()
}

func (c *chanConn) LocalAddr() net.Addr  { return jumpAddr("direct-tcpip") }
func (c *chanConn) RemoteAddr() net.Addr { return c.remote }

func (c *chanConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if t.IsZero() || c.expired {
		return nil
	}
	c.timer = time.AfterFunc(time.Until(t), func() {
		c.mu.Lock()
		c.expired = true
		c.mu.Unlock()
		_ = c.ch.Close()
	})
	return nil
}

func (c *chanConn) SetReadDeadline(t time.Time) error  { return c.SetDeadline(t) }
func (c *chanConn) SetWriteDeadline(t time.Time) error { return c.SetDeadline(t) }

// jumpAddr names the ends of a channel used as a transport.
type jumpAddr string

func (a jumpAddr) Network() string { return "direct-tcpip" }
func (a jumpAddr) String() string  { return string(a) }
