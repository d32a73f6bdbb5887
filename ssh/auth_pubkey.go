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
//
// It also notices a key that x/crypto never offered. x/crypto picks the
// signature algorithm from the server's server-sig-algs (RFC 8308 §3.1) or,
// without them, assumes the key's own format (ssh-rsa for RSA keys); when
// the signer cannot do that one it sends nothing and returns an error,
// which it drops because an AuthCallback is set (client_auth.go,
// pickSignatureAlgorithm and clientAuthenticate). The denial would then come
// with no reason at all. So every step starts with ErrNoSignatureAlgorithm
// as its reason, and the key x/crypto puts on the wire clears it: x/crypto
// marshals the public key only to send it (offeredKey).
type stepSigner struct {
	pub   gossh.PublicKey
	inner gossh.Signer // nil for a probe
	algos []string
	label string
	c     *conn
	st    *authStep
}

var errProbeOnly = errors.New("ssh: key probe only, not signing")

func (s *stepSigner) PublicKey() gossh.PublicKey { return offeredKey{s.pub, s} }
func (s *stepSigner) Algorithms() []string       { return s.algos }

// offeredKey is the public key as x/crypto sees it: marshaling it means the
// key is being sent, so the step is no longer one without an algorithm.
type offeredKey struct {
	gossh.PublicKey
	s *stepSigner
}

func (k offeredKey) Marshal() []byte {
	c, st := k.s.c, k.s.st
	c.mu.Lock()
	var none *noAlgorithmError
	if errors.As(st.methodErr, &none) {
		st.methodErr = nil
	}
	c.mu.Unlock()
	return k.PublicKey.Marshal()
}

// noAlgorithmError is the reason of a denial in which the key was never
// offered. It matches ErrNoSignatureAlgorithm (and so ErrAuth).
type noAlgorithmError struct {
	keyType     string   // the key's algorithm name, e.g. "ssh-rsa"
	fingerprint string   // SHA256:...
	algos       []string // what the key may sign with under PublicKeyAcceptedTypes
	why         string
}

func (e *noAlgorithmError) Error() string {
	return fmt.Sprintf("%v: %s key %s: %s", ErrNoSignatureAlgorithm, e.keyType, e.fingerprint, e.why)
}

func (e *noAlgorithmError) Unwrap() error { return ErrNoSignatureAlgorithm }

func newNoAlgorithmError(pub gossh.PublicKey, algos []string) *noAlgorithmError {
	e := &noAlgorithmError{keyType: pub.Type(), fingerprint: gossh.FingerprintSHA256(pub), algos: algos}
	switch base := underlyingAlgo(pub.Type()); {
	case len(algos) == 0:
		e.why = "PublicKeyAcceptedTypes allows no signature algorithm for this key type"
	case base == gossh.KeyAlgoRSA && !slices.Contains(algos, gossh.KeyAlgoRSA):
		e.why = fmt.Sprintf("the server's server-sig-algs (RFC 8308) list none of %s, or it sent none, "+
			"and then only ssh-rsa (SHA-1) can be assumed; PublicKeyAcceptedTypes leaves ssh-rsa out "+
			"(\"+ssh-rsa\" adds it, if the server takes SHA-1)", strings.Join(algos, ", "))
	default:
		e.why = fmt.Sprintf("the server's server-sig-algs (RFC 8308) list none of %s", strings.Join(algos, ", "))
	}
	return e
}

// warnIfNoAlgorithm logs a denial whose reason is that the key was never
// offered: OpenSSH says "no mutual signature algorithm" in the same case
// (sshconnect2.c).
func (c *conn) warnIfNoAlgorithm(err error) {
	var e *noAlgorithmError
	if errors.As(err, &e) {
		c.log.Warn("no mutual signature algorithm", "key_type", e.keyType, "fingerprint", e.fingerprint,
			"algorithms", strings.Join(e.algos, ","), "reason", e.why)
	}
}

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
	s := &stepSigner{pub: pub, inner: inner, label: label, c: c, st: st,
		algos: signatureAlgorithms(pub, inner, c.opts.PublicKeyAcceptedTypes)}
	c.mu.Lock()
	st.methodErr = newNoAlgorithmError(pub, s.algos) // until the key goes out (offeredKey)
	c.mu.Unlock()
	return s
}

// UserauthTryPublicKey asks the server whether it would accept key, without
// signing anything (libssh ssh_userauth_try_publickey). AuthSuccess means
// the key is acceptable; authenticate with UserauthPublicKey then.
//
// AuthDenied comes with a nil error when the server refused the key, and
// with an error matching ErrNoSignatureAlgorithm when the key could not be
// offered at all (no signature algorithm suits both sides, see
// ErrNoSignatureAlgorithm; this is also logged as a warning).
func (s *Session) UserauthTryPublicKey(ctx context.Context, user string, key *Key) (AuthStatus, error) {
	if key == nil || key.PublicKey() == nil {
		return AuthError, fmt.Errorf("%w: nil key", ErrInvalidKey)
	}
	return s.warnedStep(s.simpleStep(ctx, user, kindTryKey, func(c *conn, st *authStep) gossh.AuthMethod {
		return gossh.PublicKeys(c.newStepSigner(st, key.PublicKey(), nil, "probe"))
	}))
}

// UserauthPublicKey authenticates with key, which must hold a private key
// (libssh ssh_userauth_publickey). x/crypto asks the server about the key
// before signing. AuthDenied comes with an error as for
// UserauthTryPublicKey, or with the signing error when signing failed.
func (s *Session) UserauthPublicKey(ctx context.Context, user string, key *Key) (AuthStatus, error) {
	if key == nil || key.Signer() == nil {
		return AuthError, fmt.Errorf("%w: a private key is required", ErrInvalidKey)
	}
	return s.warnedStep(s.simpleStep(ctx, user, kindKey, func(c *conn, st *authStep) gossh.AuthMethod {
		return gossh.PublicKeys(c.newStepSigner(st, key.PublicKey(), key.Signer(), "key"))
	}))
}

// warnedStep passes a step's outcome through, logging it when the key was
// never offered.
func (s *Session) warnedStep(status AuthStatus, err error) (AuthStatus, error) {
	if c := s.current(); c != nil {
		c.warnIfNoAlgorithm(err)
	}
	return status, err
}
