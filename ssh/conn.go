package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	gossh "golang.org/x/crypto/ssh"
)

// conn is one connection's state, from Connect to its end. x/crypto runs the
// handshake and the whole authentication on one goroutine (the handshake
// goroutine); the host-key and auth callbacks park it there until an
// application call hands it a decision or a method. Every wait on either
// side is a wait for the shared state to change, broadcast through changed.
type conn struct {
	opts Options
	log  *slog.Logger
	sess *Session

	transport net.Conn // what x/crypto reads and writes
	version   *transport

	done      chan struct{} // closed when the connection ends
	closeOnce sync.Once
	wg        sync.WaitGroup // every goroutine this connection started

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	err     error         // why the connection ended; nil while alive

	// host key gate
	hostKey      gossh.PublicKey
	hostDecision chan error // the application's verdict, read by the parked callback
	hostAccepted bool
	hostRefused  error
	rekeyRefused *HostKeyError              // the changed key a re-key presented; it ended the connection
	keyExchanges int                        // completed or running key exchanges, re-keys included
	negotiated   gossh.NegotiatedAlgorithms // as the first auth callback saw them

	banner            string // the issue banner, once received; at most maxIssueBanner bytes
	bannerDropped     int64  // banner bytes dropped over the limit
	bannerDroppedMsgs int    // banner messages cut or dropped
	bannerLogged      int64  // bannerDropped at the last warning

	client   gossh.Conn // set when authentication succeeded
	auth     authState
	incoming map[string]func(gossh.NewChannel) // handlers of server-opened channels, by type
	fwd      *forwarding                       // forward.go: remote listeners, X11 and agent channels; nil until used
	channels map[*Channel]struct{}             // open channels, for PollState and BlockingFlush
	pinger   pinger                            // ping.go: round trips shared by concurrent callers

	events events // the poll(2) wake-up pipe, created by Fd

	// muxed: the connection is an OpenSSH ControlMaster's, reached over
	// its socket in proxy mode (control.go); the master verified the host
	// and authenticated.
	muxed bool
}

func newConn(s *Session, opts Options) *conn {
	return &conn{
		opts:         opts,
		log:          opts.logger(),
		sess:         s,
		done:         make(chan struct{}),
		changed:      make(chan struct{}),
		hostDecision: make(chan error, 1),
		auth:         newAuthState(),
	}
}

// notifyLocked wakes every waiter, and a poll loop; c.mu must be held.
func (c *conn) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
	c.events.signal()
}

func (c *conn) track(ch *Channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.channels == nil {
		c.channels = map[*Channel]struct{}{}
	}
	c.channels[ch] = struct{}{}
}

func (c *conn) untrack(ch *Channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.channels, ch)
}

// openChannels returns the channels not closed yet.
func (c *conn) openChannels() []*Channel {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Channel, 0, len(c.channels))
	for ch := range c.channels {
		out = append(out, ch)
	}
	return out
}

// waitFor blocks until ready (called with c.mu held) returns true, the
// connection ends, or ctx is done.
func (c *conn) waitFor(ctx context.Context, ready func() bool) error {
	for {
		c.mu.Lock()
		if ready() {
			c.mu.Unlock()
			return nil
		}
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return err
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *conn) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *conn) isClosed() bool { return c.closedErr() != nil }

// shutdown ends the connection once: it records why, closes the transport
// (which ends x/crypto's goroutines and ours) and wakes every waiter.
func (c *conn) shutdown(reason error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if c.err == nil {
			c.err = reason
		}
		c.auth.failInflightLocked(c.err)
		c.auth.iter.close() // a parked agent exchange must end too
		c.logBannerDropLocked()
		c.notifyLocked()
		client := c.client
		c.mu.Unlock()
		close(c.done)
		if client != nil {
			_ = client.Close()
		}
		if c.transport != nil {
			_ = c.transport.Close()
		}
	})
}

// handshake runs x/crypto's client handshake and authentication on the
// handshake goroutine, then serves the connection's incoming requests and
// channels until it ends.
func (c *conn) handshake(cfg *gossh.ClientConfig, addr string) {
	defer c.wg.Done()
	client, chans, reqs, err := gossh.NewClientConn(c.transport, addr, cfg)
	if err != nil {
		c.mu.Lock()
		if c.hostRefused != nil {
			err = c.hostRefused
		}
		c.mu.Unlock()
		c.shutdown(wrapHandshakeError(err))
		return
	}
	c.serve(client, chans, reqs)
}

// serve runs an authenticated connection: it records the client, then
// serves the incoming requests and channels until the connection ends.
func (c *conn) serve(client gossh.Conn, chans <-chan gossh.NewChannel, reqs <-chan *gossh.Request) {
	c.mu.Lock()
	closed := c.err != nil
	if !closed {
		c.client = client
		c.auth.succeededLocked()
		c.notifyLocked()
	}
	c.mu.Unlock()
	if closed {
		_ = client.Close()
	}
	c.wg.Add(1)
	go c.serveIncoming(reqs, chans)
	if c.opts.ServerAliveInterval > 0 {
		c.wg.Add(1)
		go c.keepalive(client)
	}
	c.shutdown(c.endReason(client.Wait()))
}

// endReason is why an authenticated connection ended, as every later call
// reports it. A host key refused at a re-key comes first: x/crypto's own
// error is then often just the closed socket (when the re-key was ours).
// Otherwise x/crypto's error is kept (a protocol violation such as a
// channel confirmation with an invalid maximum packet size, a MAC failure,
// a disconnect message), made to match ErrDisconnected; the peer's plain
// close (io.EOF) is ErrDisconnected itself.
func (c *conn) endReason(err error) error {
	c.mu.Lock()
	rekey := c.rekeyRefused
	c.mu.Unlock()
	switch {
	case rekey != nil:
		return &handshakeError{rekey}
	case err == nil || errors.Is(err, io.EOF):
		return ErrDisconnected
	}
	return wrapHandshakeError(err)
}

// connLost is the error of a request that the connection died under.
// x/crypto reports such a request with whatever it saw: io.EOF for a
// global request, "unexpected packet in response to channel open: <nil>"
// for a channel open whose answer can no longer come. Why the connection
// ended says more; it is known once the handshake goroutine recorded it,
// which follows at once (x/crypto's read loop has ended), or at
// Disconnect. The result matches ErrDisconnected.
func (c *conn) connLost(what string, err error) error {
	<-c.done
	reason := c.closedErr()
	if errors.Is(reason, ErrDisconnected) {
		return fmt.Errorf("ssh: %s: %w", what, reason)
	}
	if reason == nil {
		reason = err
	}
	return fmt.Errorf("ssh: %s: %w: %w", what, ErrDisconnected, reason)
}

// wrapHandshakeError keeps x/crypto's message but makes the error match
// ErrDisconnected too when the peer went away.
func wrapHandshakeError(err error) error {
	var hk *HostKeyError
	if errors.As(err, &hk) || errors.Is(err, ErrDisconnected) {
		return err
	}
	return &handshakeError{err}
}

type handshakeError struct{ err error }

// maxErrorText bounds the text of an error that carries what the server
// said (a disconnect message may be 256 KiB): the error is copied into
// every later call's error, and nobody reads more than this.
const maxErrorText = 1 << 10

func (e *handshakeError) Error() string {
	msg := e.err.Error()
	if len(msg) > maxErrorText {
		cut := runeStart(msg, maxErrorText)
		msg = fmt.Sprintf("%s... (%d more bytes)", msg[:cut], len(msg)-cut)
	}
	if len(msg) >= 4 && msg[:4] == "ssh:" {
		return msg
	}
	return "ssh: " + msg
}

func (e *handshakeError) Unwrap() []error { return []error{ErrDisconnected, e.err} }

// serveIncoming answers the server's global requests (all refused, as
// OpenSSH's client refuses those it does not know) and hands each channel
// the server opens to the handler registered for its type (forwarding,
// agent, X11), refusing the rest. One goroutine serves both, so that an
// idle connection costs one goroutine fewer. Handlers run on this goroutine
// and must not block: the connection's other traffic waits meanwhile.
func (c *conn) serveIncoming(reqs <-chan *gossh.Request, chans <-chan gossh.NewChannel) {
	defer c.wg.Done()
	for reqs != nil || chans != nil {
		select {
		case r, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		case nc, ok := <-chans:
			if !ok {
				chans = nil
				continue
			}
			c.mu.Lock()
			handle := c.incoming[nc.ChannelType()]
			c.mu.Unlock()
			if handle != nil {
				handle(nc)
				continue
			}
			c.refuseUnrequested(nc) // forward.go: logged, as OpenSSH does
		}
	}
}

// handleIncoming registers (or, with nil, removes) the handler for channels
// of one type that the server opens.
func (c *conn) handleIncoming(channelType string, handle func(gossh.NewChannel)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.incoming == nil {
		c.incoming = map[string]func(gossh.NewChannel){}
	}
	if handle == nil {
		delete(c.incoming, channelType)
		return
	}
	c.incoming[channelType] = handle
}

// authenticatedClient returns the x/crypto connection once authentication
// succeeded, or an error saying why there is none.
func (c *conn) authenticatedClient() (gossh.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotConnected, c.err)
	}
	if c.client == nil {
		return nil, ErrNotAuthenticated
	}
	return c.client, nil
}
