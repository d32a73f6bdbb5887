package ssh

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
	"unicode/utf8"

	gossh "golang.org/x/crypto/ssh"
)

// clientVersion is the identification string this library sends.
const clientVersion = "SSH-2.0-libssh_go_0.1"

// Connect connects to the configured host and runs the key exchange. It
// returns once the server's host key is known and waiting for a verdict
// (IsKnownServer, UpdateKnownHostsFile, AcceptHostKey, or the
// StrictHostKeyChecking policy at the first Userauth call); nothing of the
// user's is sent before that verdict.
//
// Unless ProcessConfig(false) was set or OptionsParseConfig already ran,
// Connect first resolves ssh_config (OptionsParseConfig("")). It then
// connects over the Socket option, through the ProxyJump hosts, through the
// ProxyCommand, or over TCP (honouring AddressFamily and BindAddress).
//
// ctx and the Timeout option bound the whole TCP connect and key exchange: a
// silent or stalled server makes Connect fail with an error matching
// context.DeadlineExceeded (or context.Canceled); the message names
// host:port. Errors: ErrHostnameRequired, ErrAlreadyConnected, ErrConnect
// when the server cannot be reached (the name does not resolve, the
// connection is refused or times out: errors.As still finds the
// *net.OpError or *net.DNSError), and handshake errors, which match
// ErrDisconnected or are a *HostKeyError.
//
// In non-blocking mode Connect starts all this in the background and
// returns ErrAgain; calling it again returns ErrAgain until the connection
// is up (nil) or failed (the error). The background attempt is bounded by
// the Timeout option, not by the first call's ctx, and Disconnect cancels
// it.
func (s *Session) Connect(ctx context.Context) error {
	s.mu.Lock()
	pc := s.connecting
	if pc == nil && !s.IsBlocking() {
		pc = &pendingConnect{done: make(chan struct{})}
		var bg context.Context
		bg, pc.cancel = context.WithCancel(context.WithoutCancel(ctx))
		s.connecting = pc
		go func() {
			pc.err = s.connect(bg)
			close(pc.done)
		}()
	}
	s.mu.Unlock()
	if pc == nil {
		return s.connect(ctx)
	}
	select {
	case <-pc.done:
	default:
		if !s.IsBlocking() {
			return ErrAgain
		}
		select {
		case <-pc.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	if s.connecting == pc {
		s.connecting = nil
	}
	s.mu.Unlock()
	pc.cancel()
	return pc.err
}

// pendingConnect is a Connect running in the background (non-blocking mode).
type pendingConnect struct {
	done   chan struct{}
	cancel context.CancelFunc
	err    error
}

// connect is Connect's blocking body.
func (s *Session) connect(ctx context.Context) error {
	if err := s.processConfig(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	if s.conn != nil && !s.conn.isClosed() {
		s.mu.Unlock()
		return ErrAlreadyConnected
	}
	old := s.conn
	s.conn = nil
	opts := s.opts.clone()
	s.mu.Unlock()
	if old != nil {
		// The peer ended the previous connection; finish its teardown.
		old.shutdown(ErrDisconnected)
		old.wg.Wait()
	}
	if opts.Host == "" && opts.Socket == nil {
		return ErrHostnameRequired
	}

	ctx, cancel := s.withTimeout(ctx)
	defer cancel()

	c := newConn(s, opts)
	if mux := s.dialControlMaster(opts, c.log); mux != nil {
		return s.connectMux(ctx, c, mux)
	}
	raw, err := s.dialTransport(ctx, opts)
	if err != nil {
		return err
	}
	c.version = newTransport(raw)
	c.transport = c.version

	// A ctx that ends while the handshake runs becomes a past deadline on
	// the transport, so x/crypto's blocked read or write returns at once.
	stopWatch := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })

	s.mu.Lock()
	if s.conn != nil {
		s.mu.Unlock()
		stopWatch()
		_ = raw.Close()
		return ErrAlreadyConnected
	}
	s.conn = c
	s.mu.Unlock()

	c.wg.Add(1)
	go c.handshake(c.clientConfig(), net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)))

	err = c.waitFor(ctx, func() bool { return c.hostKey != nil || c.client != nil })
	if stopped := stopWatch(); !stopped && err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = raw.SetDeadline(time.Time{})
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("ssh: connect to %s: %w", net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)), ctx.Err())
		}
		s.mu.Lock()
		if s.conn == c {
			s.conn = nil
		}
		s.mu.Unlock()
		c.shutdown(err)
		c.wg.Wait()
		return err
	}
	c.log.Info("connected", "host", opts.Host, "port", opts.Port, "server", c.version.line())
	return nil
}

func dial(ctx context.Context, opts Options) (net.Conn, error) {
	if opts.Socket != nil {
		return opts.Socket, nil
	}
	d := net.Dialer{}
	if opts.BindAddress != "" {
		ip := net.ParseIP(opts.BindAddress)
		if ip == nil {
			addrs, err := net.DefaultResolver.LookupIPAddr(ctx, opts.BindAddress)
			if err == nil && len(addrs) == 0 {
				err = &net.DNSError{Err: "no address", Name: opts.BindAddress, IsNotFound: true}
			}
			if err != nil {
				return nil, fmt.Errorf("%w: BindAddress %q: %w", ErrConnect, opts.BindAddress, err)
			}
			ip = addrs[0].IP
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	addr := net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
	network := map[string]string{"inet": "tcp4", "inet6": "tcp6"}[opts.AddressFamily]
	if network == "" {
		network = "tcp"
	}
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		// The *net.OpError (and the *net.DNSError or errno inside) stays
		// reachable through errors.As and errors.Is.
		return nil, fmt.Errorf("%w: connect to %s: %w", ErrConnect, addr, err)
	}
	return raw, nil
}

// clientConfig builds x/crypto's configuration: algorithms from the options,
// and the three callbacks through which the application drives the
// handshake step by step.
func (c *conn) clientConfig() *gossh.ClientConfig {
	cfg := &gossh.ClientConfig{
		User:              c.opts.User,
		HostKeyCallback:   c.hostKeyCallback,
		BannerCallback:    c.bannerCallback,
		AuthCallback:      c.authCallback,
		ClientVersion:     clientVersion,
		HostKeyAlgorithms: orderHostKeyAlgorithms(c.opts, c.opts.Host, c.opts.Port, c.log),
	}
	// RekeyLimit's byte count maps onto x/crypto's threshold; x/crypto has
	// no time-based re-key, so its interval is recorded but not acted on.
	if c.opts.RekeyLimitBytes > 0 {
		cfg.RekeyThreshold = uint64(c.opts.RekeyLimitBytes)
	}
	cfg.KeyExchanges = c.opts.KeyExchanges
	cfg.Ciphers = c.opts.CiphersCS
	cfg.MACs = c.opts.HmacCS
	return cfg
}

// maxIssueBanner bounds the issue banner kept for IssueBanner, across all
// the banner messages of a connection. x/crypto bounds one message by its
// 256 KiB packet limit, but a server may send any number of them (RFC 4252
// §5.4 sets no limit), and they used to pile up whole. 64 KiB is a
// thousand lines of 64 characters: far more than any login notice or a
// terminal shows, so a real server's banner is always kept whole (sshd
// itself refuses a Banner file over 1 MiB), while a hostile one costs at
// most that much.
const maxIssueBanner = 64 << 10

// bannerCallback is x/crypto's BannerCallback: it appends message to the
// issue banner, up to maxIssueBanner, and counts what it drops.
func (c *conn) bannerCallback(message string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := maxIssueBanner - len(c.banner)
	if c.bannerDropped > 0 {
		// The banner was cut: keeping a later message would put it after
		// a hole, so the banner stays the first bytes the server sent.
		room = 0
	}
	kept := message
	if len(message) > room {
		first := c.bannerDropped == 0
		kept = ""
		if first {
			// Cut the banner as IssueBanner joins it: a rune the server
			// split across two messages is not cut either, which can take
			// back up to three bytes of the previous message.
			from := max(0, len(c.banner)-(utf8.UTFMax-1))
			window := c.banner[from:] + message[:min(len(message), room+utf8.UTFMax)]
			if cut := from + runeStart(window, len(c.banner)-from+room); cut < len(c.banner) {
				c.bannerDropped += int64(len(c.banner) - cut)
				c.banner = c.banner[:cut]
			} else {
				kept = message[:cut-len(c.banner)]
			}
		}
		c.bannerDropped += int64(len(message) - len(kept))
		c.bannerDroppedMsgs++
		if first {
			c.log.Warn("issue banner over the limit: keeping the first part, dropping the rest",
				"limit", maxIssueBanner, "message_bytes", len(message))
		}
	}
	c.banner += kept
	c.notifyLocked()
	return nil
}

// runeStart returns the largest n <= max at which s can be cut without
// splitting a valid UTF-8 sequence: at most utf8.UTFMax-1 bytes before max.
// Bytes that are not UTF-8 are cut at max, so a run of them cannot pull the
// cut back to the start.
func runeStart(s string, max int) int {
	for n := max; n >= 0 && n < len(s) && max-n < utf8.UTFMax; n-- {
		if utf8.RuneStart(s[n]) {
			if _, size := utf8.DecodeRuneInString(s[n:]); n+size > max {
				return n
			}
			return max
		}
	}
	return max
}

// logBannerDropLocked reports, once per batch, how much issue banner was
// dropped since the last report: at each authentication step and when the
// connection ends, so an endless stream of banners logs twice, not
// without end. c.mu must be held.
func (c *conn) logBannerDropLocked() {
	if c.bannerDropped == c.bannerLogged {
		return
	}
	c.bannerLogged = c.bannerDropped
	c.log.Warn("issue banner truncated", "kept_bytes", len(c.banner),
		"dropped_bytes", c.bannerDropped, "dropped_messages", c.bannerDroppedMsgs)
}

// ServerBanner returns the server's identification line, such as
// "SSH-2.0-OpenSSH_9.2p1 Debian-2", available as soon as Connect returned.
// It fails with ErrNotConnected before that.
func (s *Session) ServerBanner() (string, error) {
	c := s.current()
	if c == nil || c.version == nil || c.muxed {
		return "", ErrNotConnected
	}
	if v := c.version.line(); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%w: no version line received", ErrNotConnected)
}

// IssueBanner returns the authentication banner the server sent (sshd's
// Banner), available after UserauthNone; "" if the server sent none.
// Several banner messages are joined. At most the first 64 KiB are kept,
// cut where no UTF-8 character is split; the rest is dropped, and a warning
// says how much.
func (s *Session) IssueBanner() (string, error) {
	c, err := s.live()
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.banner, nil
}
