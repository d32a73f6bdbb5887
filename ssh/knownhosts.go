package ssh

import (
	"github.com/libssh-go/libssh/internal/pattern"
	"github.com/libssh-go/libssh/knownhosts"
)

// The known_hosts format lives in package knownhosts; these are the names
// this package has always had for it.

// ErrInvalidKnownHosts is wrapped by the errors of ParseKnownHostsLine and
// ParseAuthorizedKeysLine, and by UpdateKnownHostsFile for a host name that
// cannot be written into a known_hosts line. It is knownhosts.ErrInvalidLine.
var ErrInvalidKnownHosts = knownhosts.ErrInvalidLine

// KnownHostsMarker is the optional first field of a known_hosts line. The
// zero value, MarkerNone, is a plain host key entry.
type KnownHostsMarker = knownhosts.Marker

// The markers OpenSSH defines (sshd(8)).
const (
	MarkerNone          = knownhosts.MarkerNone
	MarkerCertAuthority = knownhosts.MarkerCertAuthority // the key is a CA for host certificates
	MarkerRevoked       = knownhosts.MarkerRevoked       // the key must never be accepted
)

// KnownHostsEntry is one parsed known_hosts line: a knownhosts.Entry with
// its key as a *Key and without its place in a file. The zero value is not
// a valid entry (it has no Key); String prints it as an empty host field.
type KnownHostsEntry struct {
	Marker KnownHostsMarker
	// Hosts are the host patterns of the line, in order, as written:
	// names, "[name]:port", "*"/"?" wildcards and "!"-negated patterns. A
	// hashed line has exactly one element, "|1|salt|hash".
	Hosts   []string
	Key     *Key
	Comment string // the rest of the line after the key, trimmed; "" if none
}

// ParseKnownHostsLine parses one known_hosts line:
//
//	[@cert-authority|@revoked] hosts keytype base64 [comment]
//
// as knownhosts.ParseLine does. Leading white space is skipped. The key
// must decode to the type the line names. Blank lines, "#" comments, lines
// with a NUL, CR inside or newline, an unknown marker, a malformed hashed
// name, or a key that does not parse give an error wrapping
// ErrInvalidKnownHosts. A trailing "\n" or "\r\n" is allowed.
func ParseKnownHostsLine(line string) (KnownHostsEntry, error) {
	e, err := knownhosts.ParseLine(line)
	if err != nil {
		return KnownHostsEntry{}, err
	}
	return knownHostsEntryOf(e), nil
}

func knownHostsEntryOf(e knownhosts.Entry) KnownHostsEntry {
	return KnownHostsEntry{Marker: e.Marker, Hosts: e.Hosts, Key: NewKey(e.Key), Comment: e.Comment}
}

func (e KnownHostsEntry) entry() knownhosts.Entry {
	return knownhosts.Entry{Marker: e.Marker, Hosts: e.Hosts, Key: e.Key.PublicKey(), Comment: e.Comment}
}

// String prints the entry as one known_hosts line without a newline:
// marker, comma-joined hosts, key type, base64 key and comment, separated
// by single spaces. ParseKnownHostsLine reads it back to an equal entry.
func (e KnownHostsEntry) String() string { return e.entry().String() }

// Hashed reports whether the entry's host field is a hashed name.
func (e KnownHostsEntry) Hashed() bool { return e.entry().Hashed() }

// MatchHostname reports whether the entry's host field matches name, the
// string KnownHostsHostname returns: a hashed field must be the hash of
// name; otherwise some pattern must match name (case-insensitively, "*" any
// run of characters, "?" one character) and no "!"-negated pattern may
// match it. The marker is not considered. See knownhosts.Entry.Match.
func (e KnownHostsEntry) MatchHostname(name string) bool { return e.entry().Match(name) }

// KnownHostsHostname returns the name under which OpenSSH records host in
// known_hosts: host itself for port 22, "[host]:port" otherwise. An IPv6
// address is written without brackets for port 22, as OpenSSH does. It is
// knownhosts.HostName.
func KnownHostsHostname(host string, port int) string { return knownhosts.HostName(host, port) }

// HashKnownHostsHostname returns name hashed as OpenSSH's HashKnownHosts
// writes it: "|1|" + base64(salt) + "|" + base64(HMAC-SHA1(salt, name)),
// with a fresh random 20-byte salt. name is lowercased first, since the
// lookup lowercases the names it hashes. It is knownhosts.HashHostName.
func HashKnownHostsHostname(name string) string { return knownhosts.HashHostName(name) }

// matchGlob is the OpenSSH wildcard match, for ssh_config patterns, SendEnv
// and server quirks.
func matchGlob(p, name string) bool { return pattern.Match(p, name) }
