package ssh

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// This file reads and writes single known_hosts and authorized_keys lines
// and matches host names against known_hosts host fields, as OpenSSH's
// hostfile.c and match.c do (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT").

// ErrInvalidKnownHosts is wrapped by the errors of ParseKnownHostsLine and
// ParseAuthorizedKeysLine, and by UpdateKnownHostsFile for a host name that
// cannot be written into a known_hosts line.
var ErrInvalidKnownHosts = errors.New("ssh: invalid known_hosts line")

// KnownHostsMarker is the optional first field of a known_hosts line. The
// zero value, MarkerNone, is a plain host key entry.
type KnownHostsMarker string

// The markers OpenSSH defines (sshd(8)).
const (
	MarkerNone          KnownHostsMarker = ""
	MarkerCertAuthority KnownHostsMarker = "@cert-authority" // the key is a CA for host certificates
	MarkerRevoked       KnownHostsMarker = "@revoked"        // the key must never be accepted
)

// KnownHostsEntry is one parsed known_hosts line. The zero value is not a
// valid entry (it has no Key); String prints it as an empty host field.
type KnownHostsEntry struct {
	Marker KnownHostsMarker
	// Hosts are the host patterns of the line, in order, as written:
	// names, "[name]:port", "*"/"?" wildcards and "!"-negated patterns. A
	// hashed line has exactly one element, "|1|salt|hash".
	Hosts   []string
	Key     *Key
	Comment string // the rest of the line after the key, trimmed; "" if none
}

// hashMagic starts a hashed host name (OpenSSH HASH_MAGIC): "|1|" followed
// by the base64 salt, "|" and the base64 HMAC-SHA1 of the name under that
// salt.
const hashMagic = "|1|"

// ParseKnownHostsLine parses one known_hosts line:
//
//	[@cert-authority|@revoked] hosts keytype base64 [comment]
//
// Leading white space is skipped. The key must decode to the type the line
// names. Blank lines, "#" comments, lines with a NUL, CR inside or newline,
// an unknown marker, a malformed hashed name, or a key that does not parse
// give an error wrapping ErrInvalidKnownHosts. A trailing "\n" or "\r\n" is
// allowed.
func ParseKnownHostsLine(line string) (KnownHostsEntry, error) {
	e, keyType, blob, err := splitKnownHostsLine(line)
	if err != nil {
		return KnownHostsEntry{}, err
	}
	key, err := parseKnownHostsKey(keyType, blob)
	if err != nil {
		return KnownHostsEntry{}, err
	}
	if e.Marker == MarkerCertAuthority && key.Certificate() != nil {
		return KnownHostsEntry{}, fmt.Errorf("%w: a certificate cannot be a certificate authority", ErrInvalidKnownHosts)
	}
	e.Key = key
	return e, nil
}

// splitKnownHostsLine checks and splits a line without decoding its key,
// which is the expensive part; the lookup decodes keys only of lines whose
// host field matches.
func splitKnownHostsLine(line string) (e KnownHostsEntry, keyType, blob string, err error) {
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if strings.ContainsAny(line, "\x00\r\n") {
		return e, "", "", fmt.Errorf("%w: NUL, CR or newline inside the line", ErrInvalidKnownHosts)
	}
	rest := strings.TrimLeft(line, " \t")
	if rest == "" || rest[0] == '#' {
		return e, "", "", fmt.Errorf("%w: blank or comment line", ErrInvalidKnownHosts)
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
		switch KnownHostsMarker(first) {
		case MarkerCertAuthority, MarkerRevoked:
			e.Marker = KnownHostsMarker(first)
		default:
			return e, "", "", fmt.Errorf("%w: unknown marker %q", ErrInvalidKnownHosts, first)
		}
		first = field()
	}
	if first == "" {
		return e, "", "", fmt.Errorf("%w: no host field", ErrInvalidKnownHosts)
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
		return e, "", "", fmt.Errorf("%w: missing key type or key", ErrInvalidKnownHosts)
	}
	e.Comment = strings.TrimSpace(rest)
	return e, keyType, blob, nil
}

// parseKnownHostsKey decodes the base64 key of a line and checks that it is
// of the type the line names, as OpenSSH's sshkey_read does.
func parseKnownHostsKey(keyType, blob string) (*Key, error) {
	raw, err := base64.StdEncoding.DecodeString(blob)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(blob); err != nil {
			return nil, fmt.Errorf("%w: key is not base64: %w", ErrInvalidKnownHosts, err)
		}
	}
	pub, err := gossh.ParsePublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s key: %w", ErrInvalidKnownHosts, keyType, err)
	}
	if pub.Type() != keyType {
		return nil, fmt.Errorf("%w: line says %s, key is %s", ErrInvalidKnownHosts, keyType, pub.Type())
	}
	return NewKey(pub), nil
}

// decodeHashedName splits "|1|salt|hash" into its salt and hash. OpenSSH
// uses HMAC-SHA1, so both are 20 bytes.
func decodeHashedName(field string) (salt, sum []byte, err error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: bad hashed host name: %s", ErrInvalidKnownHosts, why)
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
// by single spaces. ParseKnownHostsLine reads it back to an equal entry.
func (e KnownHostsEntry) String() string {
	var b strings.Builder
	if e.Marker != MarkerNone {
		b.WriteString(string(e.Marker))
		b.WriteByte(' ')
	}
	b.WriteString(strings.Join(e.Hosts, ","))
	if k := e.Key.AuthorizedKey(); k != "" {
		b.WriteByte(' ')
		b.WriteString(k)
	}
	if e.Comment != "" {
		b.WriteByte(' ')
		b.WriteString(e.Comment)
	}
	return b.String()
}

// Hashed reports whether the entry's host field is a hashed name.
func (e KnownHostsEntry) Hashed() bool {
	return len(e.Hosts) == 1 && strings.HasPrefix(e.Hosts[0], "|")
}

// MatchHostname reports whether the entry's host field matches name, the
// string KnownHostsHostname returns: a hashed field must be the hash of
// name; otherwise some pattern must match name (case-insensitively, "*" any
// run of characters, "?" one character) and no "!"-negated pattern may
// match it. The marker is not considered.
func (e KnownHostsEntry) MatchHostname(name string) bool {
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
		if !matchGlob(asciiLower(p), name) {
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

// matchGlob reports whether name matches pattern, where "*" matches any run
// of bytes (also none) and "?" exactly one byte; every other byte matches
// itself. known_hosts and ssh_config patterns both use it. It is the
// classic two-pointer algorithm: on a mismatch it goes back to the last "*"
// seen and lets it swallow one more byte. Earlier stars
// never need revisiting, because the last star can absorb whatever an
// earlier one would have, so the work is at most len(name)*len(pattern) steps
// whatever the number of stars (OpenSSH's and x/crypto's recursive matchers
// are exponential in it).
func matchGlob(pattern, name string) bool {
	p, n := 0, 0
	star, resume := -1, 0 // the last star's index, and where its match ends
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, resume = p, n
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case star >= 0:
			resume++
			p, n = star+1, resume
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
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

// KnownHostsHostname returns the name under which OpenSSH records host in
// known_hosts: host itself for port 22, "[host]:port" otherwise. An IPv6
// address is written without brackets for port 22, as OpenSSH does.
func KnownHostsHostname(host string, port int) string {
	if port == 22 || port == 0 {
		return host
	}
	return "[" + host + "]:" + strconv.Itoa(port)
}

// HashKnownHostsHostname returns name hashed as OpenSSH's HashKnownHosts
// writes it: "|1|" + base64(salt) + "|" + base64(HMAC-SHA1(salt, name)),
// with a fresh random 20-byte salt. name is lowercased first, since the
// lookup lowercases the names it hashes.
func HashKnownHostsHostname(name string) string {
	salt := make([]byte, sha1.Size)
	_, _ = rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	return hashMagic + base64.StdEncoding.EncodeToString(salt) + "|" +
		base64.StdEncoding.EncodeToString(hashName(salt, asciiLower(name)))
}

// checkRecordableHost refuses a name that would not be read back as the
// single literal host it is: white space or control characters would split
// or end the line, a comma would add a second host, pattern characters
// would make it match other hosts, and a leading "#", "@" or "|" would turn
// the line into a comment, a marker or a hashed name.
func checkRecordableHost(name string) error {
	host := name
	if h, p, err := net.SplitHostPort(name); err == nil && strings.HasPrefix(name, "[") {
		if _, perr := strconv.Atoi(p); perr == nil {
			host = h
		}
	}
	switch {
	case host == "":
		return fmt.Errorf("%w: empty host name", ErrInvalidKnownHosts)
	case strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("%w: host name %q contains white space or control characters", ErrInvalidKnownHosts, host)
	case strings.ContainsAny(host, ",*?![]"):
		return fmt.Errorf("%w: host name %q contains one of , * ? ! [ ]", ErrInvalidKnownHosts, host)
	case strings.ContainsAny(host[:1], "#@|"):
		return fmt.Errorf("%w: host name %q starts with # @ or |", ErrInvalidKnownHosts, host)
	}
	return nil
}

// AuthorizedKeysEntry is one parsed authorized_keys line (sshd(8)
// "AUTHORIZED_KEYS FILE FORMAT"). The zero value holds no key.
type AuthorizedKeysEntry struct {
	// Options are the comma-separated options before the key, each as
	// written, e.g. `command="uptime"` or "no-pty"; nil when there are none.
	Options []string
	Key     *Key
	Comment string // "" if none
}

// ParseAuthorizedKeysLine parses one authorized_keys line,
// "[options] keytype base64 [comment]". A trailing newline is allowed; a
// blank line, a comment, a line with a newline or NUL inside, or one without
// a valid key gives an error wrapping ErrInvalidKnownHosts and ErrInvalidKey.
func ParseAuthorizedKeysLine(line string) (AuthorizedKeysEntry, error) {
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if strings.ContainsAny(line, "\x00\r\n") {
		return AuthorizedKeysEntry{}, fmt.Errorf("%w: %w: NUL, CR or newline inside the line", ErrInvalidKnownHosts, ErrInvalidKey)
	}
	pub, comment, options, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return AuthorizedKeysEntry{}, fmt.Errorf("%w: %w: %w", ErrInvalidKnownHosts, ErrInvalidKey, err)
	}
	return AuthorizedKeysEntry{Options: options, Key: NewKey(pub), Comment: comment}, nil
}

// String prints the entry as one authorized_keys line without a newline.
func (e AuthorizedKeysEntry) String() string {
	var parts []string
	if len(e.Options) > 0 {
		parts = append(parts, strings.Join(e.Options, ","))
	}
	if k := e.Key.AuthorizedKey(); k != "" {
		parts = append(parts, k)
	}
	if e.Comment != "" {
		parts = append(parts, e.Comment)
	}
	return strings.Join(parts, " ")
}
