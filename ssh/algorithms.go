package ssh

import (
	"fmt"
	"slices"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// algorithmKind names one of the negotiated algorithm lists. Its string is
// the libssh option that sets it, so errors name the option.
type algorithmKind string

const (
	kindKex       algorithmKind = "KeyExchange"
	kindHostKey   algorithmKind = "HostKeys"
	kindPubkey    algorithmKind = "PublicKeyAcceptedTypes"
	kindCiphersCS algorithmKind = "CiphersCS"
	kindCiphersSC algorithmKind = "CiphersSC"
	kindHmacCS    algorithmKind = "HmacCS"
	kindHmacSC    algorithmKind = "HmacSC"
)

// defaultCiphers puts AES-GCM first: Go has assembly for AES-GCM on amd64
// and arm64, while x/crypto's chacha20-poly1305 is pure Go and several times
// slower. OpenSSH prefers chacha20 because its C implementation is fast; on
// this stack AES-GCM is what makes the byte pipe competitive.
var defaultCiphers = []string{
	"aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
	"chacha20-poly1305@openssh.com",
	"aes128-ctr", "aes192-ctr", "aes256-ctr",
}

// defaultAlgorithms returns this library's default preference list for a
// kind. Everything else comes from x/crypto's secure set, in its order.
func defaultAlgorithms(kind algorithmKind) []string {
	sup := gossh.SupportedAlgorithms()
	switch kind {
	case kindKex:
		return sup.KeyExchanges
	case kindHostKey:
		return preferHostKeys(sup.HostKeys)
	case kindPubkey:
		return sup.PublicKeyAuths
	case kindCiphersCS, kindCiphersSC:
		return slices.Clone(defaultCiphers)
	default:
		return sup.MACs
	}
}

// hostKeyPreference is OpenSSH's default HostKeyAlgorithms order:
// certificates first, then ed25519, ECDSA and RSA. x/crypto lists RSA first,
// which makes every handshake with a multi-key server cost it an RSA
// signature, and shows a key type fewer known_hosts files hold.
var hostKeyPreference = []string{"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256"}

func preferHostKeys(algos []string) []string {
	rank := func(a string) int {
		r := slices.Index(hostKeyPreference, underlyingAlgo(a))
		if r < 0 {
			r = len(hostKeyPreference)
		}
		if underlyingAlgo(a) == a {
			r += len(hostKeyPreference) + 1 // plain keys after every certificate
		}
		return r
	}
	out := slices.Clone(algos)
	slices.SortStableFunc(out, func(a, b string) int { return rank(a) - rank(b) })
	return out
}

// knownAlgorithms is every name x/crypto implements for a kind, secure or
// not: a caller may deliberately enable a legacy algorithm, as with OpenSSH.
func knownAlgorithms(kind algorithmKind) []string {
	sup, insecure := gossh.SupportedAlgorithms(), gossh.InsecureAlgorithms()
	switch kind {
	case kindKex:
		return append(sup.KeyExchanges, insecure.KeyExchanges...)
	case kindHostKey:
		return append(sup.HostKeys, insecure.HostKeys...)
	case kindPubkey:
		return append(sup.PublicKeyAuths, insecure.PublicKeyAuths...)
	case kindCiphersCS, kindCiphersSC:
		return append(sup.Ciphers, insecure.Ciphers...)
	default:
		return append(sup.MACs, insecure.MACs...)
	}
}

// parseAlgorithmList resolves a comma-separated list as libssh and OpenSSH
// do: a plain list replaces the defaults, "+list" appends to them, "-list"
// removes from them and "^list" puts the list first. Unknown names and
// empty results are errors naming the option.
func parseAlgorithmList(kind algorithmKind, value string) ([]string, error) {
	optErr := func(err error) error {
		return &OptionError{Option: string(kind), Value: value, Err: err}
	}
	if value == "" {
		return nil, optErr(fmt.Errorf("empty algorithm list"))
	}
	op := byte(0)
	list := value
	if strings.ContainsAny(value[:1], "+-^") {
		op, list = value[0], value[1:]
	}
	known := knownAlgorithms(kind)
	var names []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, optErr(fmt.Errorf("empty name in algorithm list"))
		}
		if !slices.Contains(known, name) {
			return nil, optErr(fmt.Errorf("unknown algorithm %q", name))
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	defaults := defaultAlgorithms(kind)
	var result []string
	switch op {
	case '+':
		result = defaults
		for _, n := range names {
			if !slices.Contains(result, n) {
				result = append(result, n)
			}
		}
	case '-':
		result = slices.DeleteFunc(defaults, func(n string) bool { return slices.Contains(names, n) })
	case '^':
		result = names
		for _, n := range defaults {
			if !slices.Contains(result, n) {
				result = append(result, n)
			}
		}
	default:
		result = names
	}
	if len(result) == 0 {
		return nil, optErr(fmt.Errorf("no algorithms left"))
	}
	return result, nil
}

// Algorithms is what the key exchange negotiated: what a user of `ssh -v`
// reads in its "kex: ..." lines.
type Algorithms struct {
	KeyExchange string
	HostKey     string
	CipherCS    string // client to server
	CipherSC    string // server to client
	MacCS       string // "" with an AEAD cipher, which needs no MAC
	MacSC       string
}

// Algorithms returns the algorithms the last key exchange chose. They are
// known from the moment Connect returns, while the handshake waits for the
// host-key decision, which is when libssh programs print them. Until
// authentication starts they are worked out from the two KEXINIT messages
// (x/crypto reports its negotiation only to the first authentication
// callback); from then on they are x/crypto's, re-keys included. It fails
// with ErrNotConnected before Connect, and with ErrNotAuthenticated in the
// rare case that the KEXINITs could not be read and authentication has not
// started. It does not wait.
func (s *Session) Algorithms() (Algorithms, error) {
	c, err := s.live()
	if err != nil {
		return Algorithms{}, err
	}
	c.mu.Lock()
	neg, client, kexRan := c.negotiated, c.client, c.hostKey != nil
	c.mu.Unlock()
	if m, ok := client.(gossh.AlgorithmsConnMetadata); ok {
		neg = m.Algorithms() // current, re-keys included
	}
	if neg.KeyExchange == "" && kexRan && c.version != nil {
		// The host key arrived: both KEXINITs went by before it.
		out, okOut := c.version.kexOut.result()
		in, okIn := c.version.kexIn.result()
		if okOut && okIn {
			if agreed, ok := agreeAlgorithms(out, in); ok {
				neg = agreed
			}
		}
	}
	if neg.KeyExchange == "" {
		return Algorithms{}, fmt.Errorf("%w: the key exchange messages could not be read; algorithms are known after the first authentication answer", ErrNotAuthenticated)
	}
	mac := func(d gossh.DirectionAlgorithms) string {
		if strings.Contains(d.Cipher, "gcm") || strings.Contains(d.Cipher, "poly1305") {
			return ""
		}
		return d.MAC
	}
	return Algorithms{
		KeyExchange: neg.KeyExchange, HostKey: neg.HostKey,
		CipherCS: neg.Write.Cipher, CipherSC: neg.Read.Cipher,
		MacCS: mac(neg.Write), MacSC: mac(neg.Read),
	}, nil
}
