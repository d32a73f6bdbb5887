package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"net"

	"github.com/libssh-go/libssh/knownhosts"
	gossh "golang.org/x/crypto/ssh"
)

// KnownHostsState is what known_hosts says about the server's key (libssh's
// ssh_known_hosts_e): knownhosts.State. The zero value is
// KnownHostsUnknown, so a state that was never computed is never mistaken
// for a match.
type KnownHostsState = knownhosts.State

// The known_hosts states, as libssh-rs names them.
const (
	KnownHostsUnknown  = knownhosts.Unknown  // files exist, no entry for this host
	KnownHostsNotFound = knownhosts.NotFound // no known_hosts file exists
	KnownHostsOK       = knownhosts.OK       // the key is recorded for this host
	KnownHostsChanged  = knownhosts.Changed  // a key of the same type is recorded, and differs
	KnownHostsOther    = knownhosts.Other    // only keys of other types are recorded
)

// ErrHostKeyChanged is wrapped by the *HostKeyError for a key that differs
// from the recorded one, including a key that changes during a re-key. Such
// a re-key ends the connection, and every later call's error is that
// *HostKeyError, matching ErrNotConnected and ErrDisconnected as well.
var ErrHostKeyChanged = errors.New("ssh: host key changed")

// HostKeyError reports a host key that was refused, with what a UI needs to
// print a warning like OpenSSH's.
type HostKeyError struct {
	Host        string
	State       KnownHostsState
	Key         *Key   // the server's key
	Fingerprint string // "SHA256:..."
	File        string // the known_hosts file of the conflicting entry, if any
	Line        int    // its line number, 1-based; 0 when there is none
	Err         error  // ErrHostKeyNotVerified, ErrHostKeyChanged, ...
}

// Error names the host, the key's fingerprint, the state and, if any,
// the conflicting known_hosts entry.
func (e *HostKeyError) Error() string {
	msg := fmt.Sprintf("ssh: host key for %s (%s) refused: %s", e.Host, e.Fingerprint, e.State)
	if e.File != "" {
		msg += fmt.Sprintf(" (%s:%d)", e.File, e.Line)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause, so errors.Is(err, ErrHostKeyNotVerified) works.
func (e *HostKeyError) Unwrap() error { return e.Err }

func (c *conn) hostKeyError(state KnownHostsState, key gossh.PublicKey, cause error) *HostKeyError {
	return &HostKeyError{
		Host:        c.opts.Host,
		State:       state,
		Key:         NewKey(key),
		Fingerprint: gossh.FingerprintSHA256(key),
		Err:         cause,
	}
}

// hostKeyCallback parks the handshake goroutine until the application
// decides about the key: x/crypto sends nothing of the user's before it
// returns. A re-key must present the key accepted the first time.
func (c *conn) hostKeyCallback(_ string, _ net.Addr, key gossh.PublicKey) error {
	c.mu.Lock()
	c.keyExchanges++
	if c.hostKey != nil {
		if bytes.Equal(c.hostKey.Marshal(), key.Marshal()) {
			c.mu.Unlock()
			return nil
		}
		// The refusal ends the connection; it is recorded so that every
		// later call reports it, not a bare "not connected" (x/crypto's
		// own error is often only the socket it closed).
		err := c.hostKeyError(KnownHostsChanged, key, ErrHostKeyChanged)
		if c.rekeyRefused == nil {
			c.rekeyRefused = err
		}
		accepted := gossh.FingerprintSHA256(c.hostKey)
		c.mu.Unlock()
		c.log.Warn("the host key changed during a re-key; ending the connection",
			"fingerprint", err.Fingerprint, "accepted", accepted)
		return err
	}
	c.hostKey = key
	c.notifyLocked()
	c.mu.Unlock()
	c.log.Debug("host key received, waiting for a verdict", "type", key.Type(), "fingerprint", gossh.FingerprintSHA256(key))
	select {
	case err := <-c.hostDecision:
		return err
	case <-c.done:
		return ErrDisconnected
	}
}

// decideHostKey hands the verdict to the parked handshake: nil accepts the
// key, an error refuses it (and ends the connection). Later verdicts are
// ignored; the first one's outcome is returned.
func (c *conn) decideHostKey(verdict error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return fmt.Errorf("%w: %w", ErrNotConnected, c.err)
	}
	if c.muxed {
		return nil // the ControlMaster verified the host
	}
	if c.hostKey == nil {
		return fmt.Errorf("%w: no host key received yet", ErrNotConnected)
	}
	switch {
	case c.hostAccepted:
		return nil
	case c.hostRefused != nil:
		return c.hostRefused
	}
	if verdict == nil {
		c.hostAccepted = true
	} else {
		c.hostRefused = verdict
	}
	c.hostDecision <- verdict
	c.notifyLocked()
	return verdict
}

// AcceptHostKey trusts the server's current key for this connection only,
// after the application verified it by other means (libssh: continuing
// after ssh_session_is_known_server without updating the file). It fails
// with ErrNotConnected before Connect.
func (s *Session) AcceptHostKey() error {
	c, err := s.live()
	if err != nil {
		return err
	}
	return c.decideHostKey(nil)
}

// ServerPublicKey returns the server's host key, available once Connect
// returned. It fails with ErrNotConnected before that.
func (s *Session) ServerPublicKey() (*Key, error) {
	c, err := s.live()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.muxed {
		return nil, errMuxNoHostKey
	}
	if c.hostKey == nil {
		return nil, fmt.Errorf("%w: no host key received yet", ErrNotConnected)
	}
	return NewKey(c.hostKey), nil
}

// requireVerifiedHostKey is the gate every Userauth call passes: no
// credential leaves before the host key is accepted. When the application
// has not decided, the StrictHostKeyChecking policy decides.
func (c *conn) requireVerifiedHostKey() error {
	c.mu.Lock()
	accepted, refused, key := c.hostAccepted, c.hostRefused, c.hostKey
	c.mu.Unlock()
	switch {
	case accepted:
		return nil
	case refused != nil:
		return refused
	case key == nil:
		return fmt.Errorf("%w: no host key received yet", ErrNotConnected)
	}
	// A final verdict goes to the parked handshake: nil lets authentication
	// start, an error ends the connection. If the application decided
	// meanwhile, its decision stands and is what decideHostKey returns. A
	// key that is merely not known is refused for this call only: the
	// application may still vouch for it (that is what "ask" means).
	verdict, final := c.applyHostKeyPolicy(key)
	if !final {
		return verdict
	}
	return c.decideHostKey(verdict)
}

// applyHostKeyPolicy decides for an application that did not, by
// StrictHostKeyChecking: nil accepts the key, an error is the *HostKeyError
// that refuses it, and final says whether the verdict is for good. A key
// known_hosts holds is accepted under every policy; that is what "verified"
// means. Otherwise:
//
//   - "ask" (the default) and "yes" refuse an Unknown, NotFound or Other
//     key, not for good: the application may still check it and call
//     AcceptHostKey or UpdateKnownHostsFile, as OpenSSH asks the user;
//   - "accept-new", "no" and "off" record an Unknown or NotFound key in the
//     first user file, as UpdateKnownHostsFile does, and accept it ("no"
//     and "off" are synonyms in OpenSSH, and both record); they refuse an
//     Other key, not for good.
//
// A Changed key, a revoked key or CA, and a host certificate from a known CA
// that is not valid are refused for good under every policy: the connection
// ends. So is a key when the known_hosts files cannot be read (fail closed),
// though not for good. A failure to record a new key is logged and does not
// refuse it, as in OpenSSH.
func (c *conn) applyHostKeyPolicy(key gossh.PublicKey) (verdict error, final bool) {
	res, err := c.knownHostsCheck(key)
	if err != nil {
		var hk *HostKeyError
		final := errors.As(err, &hk) && (errors.Is(hk, ErrHostKeyRevoked) || errors.Is(hk, ErrHostCertificateInvalid))
		return err, final
	}
	switch res.state {
	case KnownHostsOK:
		return nil, true
	case KnownHostsChanged:
		return c.hostKeyResultError(res, key, ErrHostKeyChanged), true
	case KnownHostsOther:
		return c.hostKeyResultError(res, key, ErrHostKeyNotVerified), false
	}
	switch policy := c.opts.StrictHostKeyChecking; policy {
	case "accept-new", "no", "off":
		if err := c.recordHostKey(key, res.ipState); err != nil {
			c.log.Warn("known_hosts: could not record the new host key", "policy", policy, "err", err)
		}
		return nil, true
	}
	return c.hostKeyResultError(res, key, ErrHostKeyNotVerified), false
}
