package knownhosts

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

var (
	// ErrInvalidLine is wrapped by the errors of ParseLine, by the
	// *LineError of every line a DB skips, and by Lines and Append for a
	// host name that cannot be written into a known_hosts line.
	ErrInvalidLine = errors.New("knownhosts: invalid known_hosts line")

	// ErrFile is wrapped, together with the cause, by the error of a
	// known_hosts file that exists but cannot be used: unreadable, not a
	// regular file (a directory, a FIFO, a device), or larger than 64 MiB;
	// and by the error of Append when the file cannot be written. A lookup
	// that meets such a file fails: host keys fail closed.
	ErrFile = errors.New("knownhosts: known_hosts file unusable")

	// ErrRevoked is wrapped by the error of a lookup, and by the *KeyError
	// of a HostKeyCallback, for a key, or the certificate authority that
	// signed a host certificate, that a @revoked line names.
	ErrRevoked = errors.New("knownhosts: host key revoked")

	// ErrCertificateInvalid is wrapped by the error of a lookup, and by the
	// *KeyError of a HostKeyCallback, for a host certificate signed by a
	// certificate authority known for the host that is nevertheless not
	// valid: not a host certificate, not issued for the host name, outside
	// its validity period, with critical options, without principals, or
	// with a bad signature. OpenSSH refuses such a certificate rather than
	// falling back to the plain key.
	ErrCertificateInvalid = errors.New("knownhosts: host certificate invalid")

	// ErrKeyChanged is wrapped by the *KeyError of a HostKeyCallback when
	// the files hold another key of the same type for the host (Changed):
	// what OpenSSH warns about as "REMOTE HOST IDENTIFICATION HAS CHANGED".
	ErrKeyChanged = errors.New("knownhosts: host key changed")

	// ErrKeyUnknown is wrapped by the *KeyError of a HostKeyCallback when
	// the key is not known for the host: no entry for it (Unknown), no file
	// at all (NotFound), or only keys of other types (Other).
	ErrKeyUnknown = errors.New("knownhosts: host key not known")
)

// LineError is a line a DB skipped: malformed, longer than 64 KiB, or
// (found by a lookup) with a key that does not parse.
type LineError struct {
	File string // as given to Load or Read
	Line int    // 1-based
	Err  error  // wraps ErrInvalidLine
}

// Error names the file, the line and the reason.
func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// Unwrap returns Err, so errors.Is(err, ErrInvalidLine) holds.
func (e *LineError) Unwrap() error { return e.Err }

// KeyError is the error of a HostKeyCallback for a key it refuses. Use
// errors.As to get it and errors.Is with ErrKeyUnknown, ErrKeyChanged,
// ErrRevoked, ErrCertificateInvalid or ErrFile for the reason.
type KeyError struct {
	Host  string // the name looked up, as HostName writes it
	State State  // never OK
	Key   ssh.PublicKey
	// Entry is the deciding entry, with its File and Line: the @revoked
	// line, the @cert-authority of an invalid certificate, or for Changed
	// and Other the first entry holding another key ("Offending key").
	// nil for Unknown and NotFound.
	Entry *Entry
	// Want are the plain entries the files hold for the host: the keys
	// that would have been accepted. Empty for Unknown and NotFound.
	Want []Entry
	Err  error // one of the sentinels above, possibly with a cause
}

// Error names the host, the key's fingerprint, the state and, if any, the
// deciding entry's place.
func (e *KeyError) Error() string {
	msg := "knownhosts: host key for " + e.Host
	if e.Key != nil {
		msg += " (" + ssh.FingerprintSHA256(e.Key) + ")"
	}
	msg += " refused: " + e.State.String()
	if e.Entry != nil && e.Entry.File != "" {
		msg += fmt.Sprintf(" (%s:%d)", e.Entry.File, e.Entry.Line)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns Err.
func (e *KeyError) Unwrap() error { return e.Err }
