package sshtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// generated caches the default host keys: generating an RSA key takes long
// enough to slow a test suite that starts a server per test. Signers are
// safe for concurrent use, so servers can share them.
var generated struct {
	once    sync.Once
	signers []ssh.Signer
	err     error
}

// generatedHostKeys returns the process-wide default host keys.
func generatedHostKeys() ([]ssh.Signer, error) {
	generated.once.Do(func() {
		for _, t := range []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSA} {
			s, err := GenerateSigner(t)
			if err != nil {
				generated.err = err
				return
			}
			generated.signers = append(generated.signers, s)
		}
	})
	return slices.Clone(generated.signers), generated.err
}

// GenerateSigner returns a new random private key of the given SSH key type:
// ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384,
// ssh.KeyAlgoECDSA521 or ssh.KeyAlgoRSA (2048 bits). Tests use it for client
// keys and certificate authorities. It is safe for concurrent use. An
// unknown keyType is an error, as is a failure of crypto/rand.
func GenerateSigner(keyType string) (ssh.Signer, error) {
	var (
		key crypto.Signer
		err error
	)
	switch keyType {
	case ssh.KeyAlgoED25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case ssh.KeyAlgoECDSA256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ssh.KeyAlgoECDSA384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case ssh.KeyAlgoECDSA521:
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case ssh.KeyAlgoRSA:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("sshtest: cannot generate key type %q", keyType)
	}
	if err != nil {
		return nil, fmt.Errorf("sshtest: generating %s key: %w", keyType, err)
	}
	return ssh.NewSignerFromSigner(key)
}

// NewSigner is GenerateSigner for a test: it returns a new random key of
// keyType and calls t.Fatal if keyType is not one GenerateSigner knows.
func NewSigner(t testing.TB, keyType string) ssh.Signer {
	t.Helper()
	s, err := GenerateSigner(keyType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// uniqueHostKeys keeps one signer per key type, the last one given, at the
// position of the first, which is what ssh.ServerConfig.AddHostKey does. Doing
// it here keeps Server.HostKeys equal to the keys actually served.
func uniqueHostKeys(keys []ssh.Signer) []ssh.Signer {
	var out []ssh.Signer
	for _, k := range keys {
		i := slices.IndexFunc(out, func(o ssh.Signer) bool {
			return o.PublicKey().Type() == k.PublicKey().Type()
		})
		if i >= 0 {
			out[i] = k
		} else {
			out = append(out, k)
		}
	}
	return out
}

// restrictHostKeys limits the signature algorithms each host key is offered
// with to those in allowed, and drops keys left with none. x/crypto offers a
// host key with exactly the algorithms of an ssh.MultiAlgorithmSigner, so
// wrapping is the way to restrict them. An empty allowed keeps keys
// unchanged.
func restrictHostKeys(keys []ssh.Signer, allowed []string) ([]ssh.Signer, error) {
	if len(allowed) == 0 {
		return keys, nil
	}
	var out []ssh.Signer
	for _, k := range keys {
		format := k.PublicKey().Type()
		as, ok := k.(ssh.AlgorithmSigner)
		if !ok {
			// x/crypto can offer such a signer only under its key format.
			if slices.Contains(allowed, format) {
				out = append(out, k)
			}
			continue
		}
		var keep []string
		for _, algo := range signatureAlgorithms(format) {
			if slices.Contains(allowed, algo) {
				keep = append(keep, plainAlgorithm(algo))
			}
		}
		if len(keep) == 0 {
			continue
		}
		ms, err := ssh.NewSignerWithAlgorithms(as, keep)
		if err != nil {
			return nil, fmt.Errorf("sshtest: restricting %s host key: %w", format, err)
		}
		out = append(out, ms)
	}
	return out, nil
}

// signatureAlgorithms lists the algorithms a key of the given format can be
// offered with: RSA keys sign with SHA-2 (RFC 8332) or SHA-1, every other
// format has one algorithm named like the format.
func signatureAlgorithms(format string) []string {
	switch format {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSAv01}
	}
	return []string{format}
}

// plainAlgorithm maps a certificate algorithm to the signature algorithm of
// its key, which is how ssh.NewSignerWithAlgorithms names algorithms of a
// certificate signer; other names are returned unchanged.
func plainAlgorithm(algo string) string {
	const certSuffix = "-cert-v01@openssh.com"
	base, ok := strings.CutSuffix(algo, certSuffix)
	if !ok {
		return algo
	}
	if strings.HasPrefix(base, "sk-") {
		// Security-key algorithms keep their vendor suffix:
		// sk-ssh-ed25519-cert-v01@openssh.com -> sk-ssh-ed25519@openssh.com.
		return base + "@openssh.com"
	}
	return base
}
