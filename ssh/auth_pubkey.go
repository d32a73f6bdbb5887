package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// stepSigner is the signer this library hands to x/crypto for one key. It
// keeps the error of a failed signature (x/crypto drops it), restricts the
// signature algorithms to PublicKeyAcceptedTypes, and, without an inner
// signer, is a probe: x/crypto asks the server whether the key would do and
// calls Sign only if so, which is exactly the answer UserauthTryPublicKey
// wants; the probe then refuses to sign.
type stepSigner struct {
	pub   gossh.PublicKey
	inner gossh.Signer // nil for a probe
	algos []string
	label string
	c     *conn
	st    *authStep
}

var errProbeOnly = errors.New("ssh: key probe only, not signing")

func (s *stepSigner) PublicKey() gossh.PublicKey { return s.pub }
func (s *stepSigner) Algorithms() []string       { return s.algos }

func (s *stepSigner) Sign(rand io.Reader, data []byte) (*gossh.Signature, error) {
	return s.SignWithAlgorithm(rand, data, "")
}

func (s *stepSigner) SignWithAlgorithm(rand io.Reader, data []byte, algo string) (*gossh.Signature, error) {
	if s.inner == nil {
		s.c.mu.Lock()
		s.st.accepted = true
		s.c.mu.Unlock()
		return nil, errProbeOnly
	}
	var sig *gossh.Signature
	var err error
	if as, ok := s.inner.(gossh.AlgorithmSigner); ok && algo != "" {
		sig, err = as.SignWithAlgorithm(rand, data, algo)
	} else {
		sig, err = s.inner.Sign(rand, data)
	}
	if err != nil {
		err = fmt.Errorf("%w: signing with %s: %w", ErrAuth, s.label, err)
		s.c.mu.Lock()
		s.st.methodErr = err
		s.c.mu.Unlock()
	}
	return sig, err
}

// underlyingAlgo maps a certificate algorithm to its key algorithm.
func underlyingAlgo(algo string) string {
	if base, ok := strings.CutSuffix(algo, "-cert-v01@openssh.com"); ok {
		return base
	}
	return algo
}

// signatureAlgorithms lists what a signer can sign with, as x/crypto's
// MultiAlgorithmSigner expects (key algorithms, never certificate ones),
// keeping those that PublicKeyAcceptedTypes allows.
func signatureAlgorithms(pub gossh.PublicKey, inner gossh.Signer, accepted []string) []string {
	keyType := underlyingAlgo(pub.Type())
	var algos []string
	switch s := inner.(type) {
	case gossh.MultiAlgorithmSigner:
		algos = s.Algorithms()
	default:
		if keyType == gossh.KeyAlgoRSA {
			// An AlgorithmSigner or a probe: RSA keys sign with SHA-2 too
			// (RFC 8332). A plain Signer only with the key format.
			if _, ok := inner.(gossh.AlgorithmSigner); ok || inner == nil {
				algos = []string{gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSA}
				break
			}
		}
		algos = []string{keyType}
	}
	return slices.DeleteFunc(slices.Clone(algos), func(a string) bool {
		return !slices.ContainsFunc(accepted, func(acc string) bool { return underlyingAlgo(acc) == a })
	})
}

func (c *conn) newStepSigner(st *authStep, pub gossh.PublicKey, inner gossh.Signer, label string) *stepSigner {
	return &stepSigner{pub: pub, inner: inner, label: label, c: c, st: st,
		algos: signatureAlgorithms(pub, inner, c.opts.PublicKeyAcceptedTypes)}
}

// UserauthTryPublicKey asks the server whether it would accept key, without
// signing anything (libssh ssh_userauth_try_publickey). AuthSuccess means
// the key is acceptable; authenticate with UserauthPublicKey then.
func (s *Session) UserauthTryPublicKey(ctx context.Context, user string, key *Key) (AuthStatus, error) {
	if key == nil || key.PublicKey() == nil {
		return AuthError, fmt.Errorf("%w: nil key", ErrInvalidKey)
	}
	return s.simpleStep(ctx, user, kindTryKey, func(c *conn, st *authStep) gossh.AuthMethod {
		return gossh.PublicKeys(c.newStepSigner(st, key.PublicKey(), nil, "probe"))
	})
}

// UserauthPublicKey authenticates with key, which must hold a private key
// (libssh ssh_userauth_publickey). x/crypto asks the server about the key
// before signing.
func (s *Session) UserauthPublicKey(ctx context.Context, user string, key *Key) (AuthStatus, error) {
	if key == nil || key.Signer() == nil {
		return AuthError, fmt.Errorf("%w: a private key is required", ErrInvalidKey)
	}
	return s.simpleStep(ctx, user, kindKey, func(c *conn, st *authStep) gossh.AuthMethod {
		return gossh.PublicKeys(c.newStepSigner(st, key.PublicKey(), key.Signer(), "key"))
	})
}
