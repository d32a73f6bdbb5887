package knownhosts

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/libssh-go/libssh/internal/pattern"
	"golang.org/x/crypto/ssh"
)

// This file reads and writes single known_hosts lines and matches host
// names against their host field, as OpenSSH's hostfile.c and match.c do
// (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT").

// Marker is the optional first field of a known_hosts line. The zero value,
// MarkerNone, is a plain host key entry.
type Marker string

// The markers OpenSSH defines (sshd(8)).
const (
	MarkerNone          Marker = ""
	MarkerCertAuthority Marker = "@cert-authority" // the key is a CA for host certificates
	MarkerRevoked       Marker = "@revoked"        // the key must never be accepted
)

// Entry is one known_hosts line. The zero value is not a valid entry (it
// has no Key); String prints it as an empty host field.
type Entry struct {
	Marker Marker
	// Hosts are the host patterns of the line, in order, as written:
	// names, "[name]:port", "*"/"?" wildcards and "!"-negated patterns. A
	// hashed line has exactly one element, "|1|salt|hash".
	Hosts   []string
	Key     ssh.PublicKey // never an *ssh.Certificate on a @cert-authority line
	Comment string        // the rest of the line after the key, trimmed; "" if none

	// File and Line say where a DB read the entry: the file's name as
	// given to Load or Read, and the 1-based line number. They are "" and 0
	// for an entry from ParseLine.
	File string
	Line int
}

// hashMagic starts a hashed host name (OpenSSH HASH_MAGIC): "|1|" followed
// by the base64 salt, "|" and the base64 HMAC-SHA1 of the name under that
// salt.
const hashMagic = "|1|"

// ParseLine parses one known_hosts line:
//
//	[@cert-authority|@revoked] hosts keytype base64 [comment]
//
// Leading white space is skipped. The key must decode to the type the line
// names, and a @cert-authority key cannot be a certificate. Blank lines,
// "#" comments, lines with a NUL, CR inside or newline, an unknown marker, a
// malformed hashed name, or a key that does not parse give an error
// wrapping ErrInvalidLine. A trailing "\n" or "\r\n" is allowed.
func ParseLine(line string) (Entry, error) {
	e, keyType, blob, err := splitLine(line)
	if err != nil {
		return Entry{}, err
	}
	if err := e.decodeKey(keyType, blob); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// splitLine checks and splits a line without decoding its key, which is
// the expensive part; a DB decodes keys only of lines whose host field
// matches.
func splitLine(line string) (e Entry, keyType, blob string, err error) {
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if strings.ContainsAny(line, "\x00\r\n") {
		return e, "", "", fmt.Errorf("%w: NUL, CR or newline inside the line", ErrInvalidLine)
	}
	rest := strings.TrimLeft(line, " \t")
	if rest == "" || rest[0] == '#' {
		return e, "", "", fmt.Errorf("%w: blank or comment line", ErrInvalidLine)
	}
	field := func() string {
		rest = strings.TrimLeft(rest, " \t")
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			f := rest
			rest = ""
			return f
		}
		f := rest[:i]
		rest = rest[i:]
		return f
	}
	first := field()
	if strings.HasPrefix(first, "@") {
		switch Marker(first) {
		case MarkerCertAuthority, MarkerRevoked:
			e.Marker = Marker(first)
		default:
			return e, "", "", fmt.Errorf("%w: unknown marker %q", ErrInvalidLine, first)
		}
		first = field()
	}
	if first == "" {
		return e, "", "", fmt.Errorf("%w: no host field", ErrInvalidLine)
	}
	if strings.HasPrefix(first, "|") {
		if _, _, err := decodeHashedName(first); err != nil {
			return e, "", "", err
		}
		e.Hosts = []string{first}
	} else {
		e.Hosts = strings.Split(first, ",")
	}
	keyType, blob = field(), field()
	if keyType == "" || blob == "" {
		return e, "", "", fmt.Errorf("%w: missing key type or key", ErrInvalidLine)
	}
	e.Comment = strings.TrimSpace(rest)
	return e, keyType, blob, nil
}

// decodeKey decodes the base64 key of a line and checks that it is of the
// type the line names, as OpenSSH's sshkey_read does.
func (e *Entry) decodeKey(keyType, blob string) error {
	raw, err := base64.StdEncoding.DecodeString(blob)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(blob); err != nil {
			return fmt.Errorf("%w: key is not base64: %w", ErrInvalidLine, err)
		}
	}
	pub, err := ssh.ParsePublicKey(raw)
	if err != nil {
		return fmt.Errorf("%w: %s key: %w", ErrInvalidLine, keyType, err)
	}
	if pub.Type() != keyType {
		return fmt.Errorf("%w: line says %s, key is %s", ErrInvalidLine, keyType, pub.Type())
	}
	if _, isCert := pub.(*ssh.Certificate); isCert && e.Marker == MarkerCertAuthority {
		return fmt.Errorf("%w: a certificate cannot be a certificate authority", ErrInvalidLine)
	}
	e.Key = pub
	return nil
}

// decodeHashedName splits "|1|salt|hash" into its salt and hash. OpenSSH
// uses HMAC-SHA1, so both are 20 bytes.
func decodeHashedName(field string) (salt, sum []byte, err error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: bad hashed host name: %s", ErrInvalidLine, why)
	}
	rest, ok := strings.CutPrefix(field, hashMagic)
	if !ok {
		return nil, nil, bad("not |1|")
	}
	s, h, ok := strings.Cut(rest, "|")
	if !ok {
		return nil, nil, bad("no hash")
	}
	if salt, err = base64.StdEncoding.DecodeString(s); err != nil || len(salt) != sha1.Size {
		return nil, nil, bad("salt is not 20 bytes of base64")
	}
	if sum, err = base64.StdEncoding.DecodeString(h); err != nil || len(sum) != sha1.Size {
		return nil, nil, bad("hash is not 20 bytes of base64")
	}
	return salt, sum, nil
}

// String prints the entry as one known_hosts line without a newline:
// marker, comma-joined hosts, key type, base64 key and comment, separated
// by single spaces. ParseLine reads it back to an equal entry (without
// File and Line, which are not part of the line).
func (e Entry) String() string {
	var b strings.Builder
	if e.Marker != MarkerNone {
		b.WriteString(string(e.Marker))
		b.WriteByte(' ')
	}
	b.WriteString(strings.Join(e.Hosts, ","))
	if e.Key != nil {
		b.WriteByte(' ')
		b.WriteString(authorizedKey(e.Key))
	}
	if e.Comment != "" {
		b.WriteByte(' ')
		b.WriteString(e.Comment)
	}
	return b.String()
}

func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k)), "\n")
}

// Hashed reports whether the entry's host field is a hashed name.
func (e Entry) Hashed() bool {
	return len(e.Hosts) == 1 && strings.HasPrefix(e.Hosts[0], "|")
}

// Match reports whether the entry's host field matches name, a string as
// HostName returns it: a hashed field must be the hash of name; otherwise
// some pattern must match name (case-insensitively, "*" any run of
// characters, "?" one character) and no "!"-negated pattern may match it.
// The marker is not considered. The time taken is at most linear in
// len(name) times the length of the host field, whatever the patterns.
func (e Entry) Match(name string) bool {
	if e.Hashed() {
		return matchHashedName(e.Hosts[0], asciiLower(name))
	}
	return matchHostPatterns(e.Hosts, asciiLower(name))
}

// matchHostPatterns is OpenSSH's match_hostname: patterns are lowercased,
// a negated match vetoes the line whatever else matches. name is
// lowercase already.
func matchHostPatterns(patterns []string, name string) bool {
	matched := false
	for _, p := range patterns {
		negated := strings.HasPrefix(p, "!")
		if negated {
			p = p[1:]
		}
		if !pattern.Match(asciiLower(p), name) {
			continue
		}
		if negated {
			return false
		}
		matched = true
	}
	return matched
}

func matchHashedName(field, name string) bool {
	salt, sum, err := decodeHashedName(field)
	if err != nil {
		return false
	}
	return hmac.Equal(sum, hashName(salt, name))
}

func hashName(salt []byte, name string) []byte {
	m := hmac.New(sha1.New, salt)
	m.Write([]byte(name))
	return m.Sum(nil)
}

// asciiLower lowercases ASCII letters only, as OpenSSH's tolower in the C
// locale does; other bytes are left alone.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// HostName returns the name under which OpenSSH records host in
// known_hosts: host itself for port 22 (or 0), "[host]:port" otherwise. An
// IPv6 address is written without brackets for port 22, as OpenSSH does.
func HostName(host string, port int) string {
	if port == 22 || port == 0 {
		return host
	}
	return "[" + host + "]:" + strconv.Itoa(port)
}

// HashHostName returns name hashed as OpenSSH's HashKnownHosts writes it:
// "|1|" + base64(salt) + "|" + base64(HMAC-SHA1(salt, name)), with a fresh
// random 20-byte salt. name is lowercased first, since lookups lowercase
// the names they hash.
func HashHostName(name string) string {
	salt := make([]byte, sha1.Size)
	_, _ = rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	return hashMagic + base64.StdEncoding.EncodeToString(salt) + "|" +
		base64.StdEncoding.EncodeToString(hashName(salt, asciiLower(name)))
}

// CheckHostName reports whether name can be written into a known_hosts
// line as the single literal host it is, as Lines and Append require. It
// refuses, with an error wrapping ErrInvalidLine, an empty name and names
// that would be read back as something else: white space or control
// characters would split or end the line, a comma would add a second host,
// the pattern characters * ? ! [ ] would make it match other hosts, and a
// leading "#", "@" or "|" would make a comment, a marker or a hashed name.
// "[host]:port", as HostName writes it, is allowed.
func CheckHostName(name string) error {
	host := name
	if h, p, err := net.SplitHostPort(name); err == nil && strings.HasPrefix(name, "[") {
		if _, perr := strconv.Atoi(p); perr == nil {
			host = h
		}
	}
	switch {
	case host == "":
		return fmt.Errorf("%w: empty host name", ErrInvalidLine)
	case strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("%w: host name %q contains white space or control characters", ErrInvalidLine, host)
	case strings.ContainsAny(host, ",*?![]"):
		return fmt.Errorf("%w: host name %q contains one of , * ? ! [ ]", ErrInvalidLine, host)
	case strings.ContainsAny(host[:1], "#@|"):
		return fmt.Errorf("%w: host name %q starts with # @ or |", ErrInvalidLine, host)
	}
	return nil
}
