package ssh

import (
	"errors"
	"fmt"
)

// The sentinel errors of the library. Every error a call returns wraps one of
// these, or is one of the typed errors below, so callers can use errors.Is and
// errors.As instead of matching text.
var (
	// ErrAgain means a non-blocking call would have had to wait. The
	// operation goes on in the background; call again to collect the
	// result. It is libssh's SSH_AGAIN (libssh-rs Error::TryAgain).
	ErrAgain = errors.New("ssh: operation would block, try again")

	// ErrRequestDenied means the server refused a request, and the session
	// is still usable (libssh-rs Error::RequestDenied).
	ErrRequestDenied = errors.New("ssh: request denied")

	// ErrNotConnected is returned by calls that need a connection when the
	// session is not connected (never was, or was disconnected).
	ErrNotConnected = errors.New("ssh: not connected")

	// ErrNotAuthenticated is returned by channel calls before
	// authentication succeeded.
	ErrNotAuthenticated = errors.New("ssh: not authenticated")

	// ErrAlreadyConnected is returned by Connect on a connected session.
	ErrAlreadyConnected = errors.New("ssh: already connected")

	// ErrConnect is wrapped by the error Connect returns when it cannot
	// reach the server: the name does not resolve, the connection is
	// refused, the network is unreachable, the TCP connect timed out, or a
	// ProxyJump host could not open its direct-tcpip channel to the next
	// host (the hop's *ssh.OpenChannelError of x/crypto stays reachable).
	// The cause stays available: errors.As finds the *net.OpError or
	// *net.DNSError, and errors.Is a syscall.Errno such as ECONNREFUSED or
	// context.DeadlineExceeded. The message names host:port.
	ErrConnect = errors.New("ssh: cannot reach the server")

	// ErrHostnameRequired is returned by Connect when no host is set.
	ErrHostnameRequired = errors.New("ssh: Hostname required")

	// ErrInvalidOption is wrapped by *OptionError, which SetOption returns
	// for a value it refuses.
	ErrInvalidOption = errors.New("ssh: invalid option")

	// ErrUnsupported is returned for a libssh feature that x/crypto cannot
	// provide (for example different cipher lists per direction).
	ErrUnsupported = errors.New("ssh: not supported")

	// ErrServerNotResponding is returned to every call after the session
	// was closed because ServerAliveCountMax keepalives went unanswered. It
	// wraps ErrDisconnected.
	ErrServerNotResponding = fmt.Errorf("%w: server not responding to keepalives", ErrDisconnected)

	// ErrDisconnected is returned to calls that were waiting when the
	// session was disconnected, by the application or by the peer.
	ErrDisconnected = errors.New("ssh: disconnected")

	// ErrHostKeyNotVerified is wrapped by the *HostKeyError returned when
	// authentication is attempted before the server's host key was accepted.
	ErrHostKeyNotVerified = errors.New("ssh: host key not verified")

	// ErrAuth is wrapped by errors that cost one authentication method but
	// not the session, such as an agent that died or a key that could not be
	// read.
	ErrAuth = errors.New("ssh: authentication error")

	// ErrNoSignatureAlgorithm comes with AuthDenied when a public key was
	// never offered because no signature algorithm suits both sides:
	// typically an RSA key against a server that sends no server-sig-algs
	// (RFC 8308 §3.1), for which only ssh-rsa (SHA-1) may be assumed, while
	// PublicKeyAcceptedTypes leaves ssh-rsa out by default, as OpenSSH's
	// PubkeyAcceptedAlgorithms does. It wraps ErrAuth: the session stays
	// usable.
	ErrNoSignatureAlgorithm = fmt.Errorf("%w: no mutual signature algorithm", ErrAuth)

	// ErrInvalidKey is returned when a key cannot be parsed or used.
	ErrInvalidKey = errors.New("ssh: invalid key")

	// ErrPassphraseRequired is returned when a private key is encrypted and
	// no passphrase (or a wrong one) was given.
	ErrPassphraseRequired = errors.New("ssh: passphrase required or incorrect")

	// ErrChannelClosed is returned by channel calls on a closed channel.
	ErrChannelClosed = errors.New("ssh: channel closed")

	// ErrNoExitStatus is wrapped by *ExitError when the channel closed
	// without an exit-status, for example because the process died of a
	// signal.
	ErrNoExitStatus = errors.New("ssh: no exit status")
)

// OptionError reports an option value that SetOption refused.
type OptionError struct {
	Option string // the option's name as libssh spells it, e.g. "Port"
	Value  string // the refused value, printed
	Err    error  // why; may be nil
}

// Error names the option and the refused value.
func (e *OptionError) Error() string {
	msg := fmt.Sprintf("ssh: invalid value %q for option %s", e.Value, e.Option)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap lets errors.Is match ErrInvalidOption and the underlying cause.
func (e *OptionError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidOption}
	}
	return []error{ErrInvalidOption, e.Err}
}
