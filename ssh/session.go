// Package ssh is a pure-Go SSH client with libssh's Session API (as the Rust
// crate libssh-rs exposes it), built on golang.org/x/crypto/ssh.
//
// A Session is configured with SetOption, connected with Connect, checked
// against known_hosts, authenticated one step at a time with the Userauth*
// calls, and then opens Channels. Every call that waits on the network takes
// a context; a Session and its Channels are safe for concurrent use.
package ssh

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Session is one SSH client connection and its configuration. The zero value
// is not usable; create one with NewSession. A Session can Connect again
// after Disconnect.
type Session struct {
	mu       sync.Mutex
	opts     Options
	explicit map[string]bool // option names set through SetOption; they win over config files
	authCB   AuthCallback
	conn     *conn // the current connection; nil when never connected or after Disconnect

	connecting *pendingConnect // a non-blocking Connect under way

	blocking    atomic.Bool
	acceptAgent atomic.Bool // EnableAcceptAgentForward (forward_agent.go)
}

// AuthCallback supplies a passphrase (or other secret) during public-key
// authentication, as libssh's auth callback does. prompt is the text to
// show, echo whether the input may be shown, verify whether to ask twice,
// and identity the key file being tried ("" when unknown).
// prompt.AuthCallback fits this type.
type AuthCallback func(prompt string, echo, verify bool, identity string) (string, error)

// NewSession returns an unconnected Session with default options: the local
// user, port 22, ~/.ssh, blocking mode.
func NewSession() *Session {
	s := &Session{opts: defaultOptions(), explicit: map[string]bool{}}
	s.blocking.Store(true)
	return s
}

// SetOption applies options in order. Each value is validated; if one is
// refused, none of them is applied and the *OptionError (matching
// ErrInvalidOption) names the option. Options set on a connected session
// take effect at the next Connect.
func (s *Session) SetOption(opts ...Option) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.opts.clone()
	for _, o := range opts {
		if o.apply == nil {
			continue
		}
		if err := o.apply(&next); err != nil {
			return err
		}
	}
	s.opts = next
	for _, o := range opts {
		if o.name != "" {
			s.explicit[o.name] = true
		}
	}
	return nil
}

// Options returns a snapshot of the resolved options, defaults filled in.
// Changing the snapshot does not change the session.
func (s *Session) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.clone()
}

// SetAuthCallback sets the callback asked for passphrases of encrypted keys
// during UserauthPublicKeyAuto. It is not used for password or
// keyboard-interactive authentication. nil removes it.
func (s *Session) SetAuthCallback(cb AuthCallback) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authCB = cb
}

// UserName returns the user name that authentication uses.
func (s *Session) UserName() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.User == "" {
		return "", fmt.Errorf("%w: no user name", ErrInvalidOption)
	}
	return s.opts.User, nil
}

// IsConnected reports whether the session has a live connection: from a
// successful Connect until Disconnect or until the peer goes away.
func (s *Session) IsConnected() bool {
	c := s.current()
	return c != nil && !c.isClosed()
}

// SetBlocking sets blocking mode (the default) or non-blocking mode, in which
// calls that would wait return ErrAgain or AuthAgain.
func (s *Session) SetBlocking(blocking bool) { s.blocking.Store(blocking) }

// IsBlocking reports whether the session is in blocking mode.
func (s *Session) IsBlocking() bool { return s.blocking.Load() }

func (s *Session) current() *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// live returns the current connection, or ErrNotConnected.
func (s *Session) live() (*conn, error) {
	c := s.current()
	if c == nil {
		return nil, ErrNotConnected
	}
	if err := c.closedErr(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	return c, nil
}

// Disconnect closes the connection, wakes every blocked call with an error
// and waits until every goroutine the session started has ended. It is
// idempotent; the Session can Connect again afterwards.
func (s *Session) Disconnect() error {
	s.mu.Lock()
	pc := s.connecting
	s.connecting = nil
	s.mu.Unlock()
	if pc != nil {
		// A non-blocking Connect under way: stop it and let it finish.
		pc.cancel()
		<-pc.done
	}
	s.mu.Lock()
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	c.shutdown(ErrDisconnected)
	c.wg.Wait()
	c.events.close()
	return nil
}

// withTimeout bounds ctx by the Timeout option, if set.
func (s *Session) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	s.mu.Lock()
	d := s.opts.Timeout
	s.mu.Unlock()
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}
