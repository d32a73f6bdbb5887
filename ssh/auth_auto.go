package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keyCandidate is one key UserauthAgent or UserauthPublicKeyAuto will try.
type keyCandidate struct {
	label  string          // for errors and prompts: the file, or "agent key SHA256:..."
	pub    gossh.PublicKey // what the server is asked about (a certificate, if any)
	signer gossh.Signer    // nil while the private key is encrypted
	path   string          // the private key file, to decrypt on demand
	cert   *Key            // the certificate to attach after decrypting
}

// keyIter remembers how far a multi-key call got, so a call interrupted by
// its ctx or by non-blocking mode resumes where it stopped.
type keyIter struct {
	kind    string
	keys    []keyCandidate
	idx     int
	probing bool // the step in flight for keys[idx] is a probe
	probed  bool // keys[idx] passed its probe; unlock and sign next
	agent   io.Closer
	errs    []error
	// pass is the passphrase the AuthCallback gave for keys[idx], kept so
	// that a decryption interrupted by the ctx is retried without asking
	// the user again.
	pass string
}

func (it *keyIter) close() {
	if it != nil && it.agent != nil {
		_ = it.agent.Close()
	}
}

func (it *keyIter) advance() { it.idx, it.probed, it.pass = it.idx+1, false, "" }

// UserauthAgent authenticates with the keys of the SSH agent at
// IdentityAgent or $SSH_AUTH_SOCK, each tried in turn (libssh
// ssh_userauth_agent). An agent that cannot be reached, dies, hangs past ctx
// or answers garbage ends this method with an error wrapping ErrAuth; the
// session stays usable.
func (s *Session) UserauthAgent(ctx context.Context, user string) (AuthStatus, error) {
	return s.keysStep(ctx, user, kindAgent, "", func(c *conn) (*keyIter, error) {
		keys, closer, err := c.agentKeys(ctx)
		if err != nil {
			return nil, err
		}
		return &keyIter{keys: keys, agent: closer}, nil
	})
}

// UserauthPublicKeyAuto authenticates with the agent's keys, then the
// identity files (AddIdentity and config IdentityFile, then
// SSHDir/id_ed25519, id_ecdsa and id_rsa), each with its "-cert.pub"
// certificate when there is one (libssh ssh_userauth_publickey_auto).
//
// The server is asked about each public key before its private key is
// decrypted, so a passphrase is requested only for a key the server would
// accept. It comes from passphrase, or else from the AuthCallback (with the
// key file as identity). A key that cannot be read or decrypted is skipped;
// one key's failure never stops the keys after it.
//
// Reading and decrypting a key file can take seconds (see
// ParsePrivateKeyFile; about 20 s for an OpenSSH key of 2,048 bcrypt
// rounds). ctx bounds that too: when it ends first, the call returns
// AuthError with the ctx's error, the decryption stops, and the next call
// resumes with the same key (without asking for its passphrase again).
// Disconnect ends a decryption in progress; an RSA key's setup, which
// cannot be interrupted, makes Disconnect wait for it, at most about 1.5 s.
func (s *Session) UserauthPublicKeyAuto(ctx context.Context, user, passphrase string) (AuthStatus, error) {
	return s.keysStep(ctx, user, kindAuto, passphrase, func(c *conn) (*keyIter, error) {
		it := &keyIter{}
		files, err := c.identityKeys(ctx)
		if err != nil {
			return nil, err
		}
		agentKeys, closer, err := c.agentKeys(ctx)
		if err == nil {
			it.agent = closer
			if c.opts.IdentitiesOnly {
				agentKeys = slices.DeleteFunc(agentKeys, func(k keyCandidate) bool {
					return !slices.ContainsFunc(files, func(f keyCandidate) bool { return samePlainKey(f.pub, k.pub) })
				})
			}
			it.keys = agentKeys
		}
		for _, f := range files {
			// A key the agent holds was tried already.
			if !slices.ContainsFunc(agentKeys, func(k keyCandidate) bool { return samePub(k.pub, f.pub) }) {
				it.keys = append(it.keys, f)
			}
		}
		return it, nil
	})
}

func samePub(a, b gossh.PublicKey) bool {
	return string(a.Marshal()) == string(b.Marshal())
}

// samePlainKey compares keys ignoring certificates.
func samePlainKey(a, b gossh.PublicKey) bool {
	if c, ok := a.(*gossh.Certificate); ok {
		a = c.Key
	}
	if c, ok := b.(*gossh.Certificate); ok {
		b = c.Key
	}
	return samePub(a, b)
}

// keysStep runs a multi-key method: one step per key, resuming a previous
// interrupted call of the same kind.
func (s *Session) keysStep(ctx context.Context, user, kind, passphrase string, build func(*conn) (*keyIter, error)) (AuthStatus, error) {
	return s.authCall(ctx, user, func(c *conn, callCtx context.Context) (AuthStatus, error) {
		return c.keysStepLocked(ctx, callCtx, kind, passphrase, build)
	})
}

// keysStepLocked is keysStep under the auth lock. ctx is the caller's (for
// local work such as reading keys), callCtx the one to wait with.
func (c *conn) keysStepLocked(ctx, callCtx context.Context, kind, passphrase string, build func(*conn) (*keyIter, error)) (AuthStatus, error) {
	prev, err := c.settlePending(callCtx, kind)
	if err != nil {
		return authWaitError(callCtx, err)
	}
	c.mu.Lock()
	it := c.auth.iter
	if it != nil && (it.kind != kind || prev == nil && it.idx >= len(it.keys)) {
		it.close()
		c.auth.iter, it = nil, nil
	}
	succeeded := c.auth.succeeded
	c.mu.Unlock()
	if succeeded {
		return AuthSuccess, nil
	}
	if it == nil {
		if it, err = build(c); err != nil {
			if interrupted(ctx, err) {
				return AuthError, err
			}
			return AuthDenied, err
		}
		it.kind = kind
		c.mu.Lock()
		c.auth.iter = it
		c.mu.Unlock()
	}
	finish := func(status AuthStatus, err error) (AuthStatus, error) {
		c.mu.Lock()
		if c.auth.iter == it {
			c.auth.iter = nil
		}
		c.mu.Unlock()
		it.close()
		return status, err
	}

	status, stepErr := AuthDenied, error(nil)
	if prev != nil {
		status, stepErr = prev.status, prev.err
	}
	for {
		if prev != nil {
			prev = nil
			if done, st, err := it.settle(status, stepErr); done {
				return finish(st, err)
			}
		}
		if it.idx >= len(it.keys) {
			return finish(AuthDenied, errors.Join(it.errs...))
		}
		cand := it.keys[it.idx]
		st := newStep(kind)
		var signer *stepSigner
		switch {
		case cand.signer != nil:
			signer = c.newStepSigner(st, cand.pub, cand.signer, cand.label)
		case !it.probed:
			signer = c.newStepSigner(st, cand.pub, nil, cand.label)
		default:
			inner, err := c.unlock(ctx, it, cand, passphrase)
			if interrupted(ctx, err) {
				// Keep the iteration where it is: the next call decrypts
				// this key again.
				return AuthError, err
			}
			if err != nil {
				it.errs = append(it.errs, err)
				it.advance()
				continue
			}
			signer = c.newStepSigner(st, cand.pub, inner, cand.label)
		}
		if len(signer.algos) == 0 {
			it.advance() // PublicKeyAcceptedTypes excludes this key
			continue
		}
		it.probing = signer.inner == nil
		status, stepErr = c.runStep(callCtx, st, gossh.PublicKeys(signer))
		if status == AuthAgain || status == AuthError && !st.finished() {
			return status, stepErr // still in flight; the next call resumes
		}
		prev = st
	}
}

// settle applies one step's outcome to the iteration; done reports that
// the call ends with (status, err).
func (it *keyIter) settle(status AuthStatus, err error) (done bool, _ AuthStatus, _ error) {
	switch {
	case status == AuthError:
		return true, status, err
	case it.probing && status == AuthSuccess:
		it.probed = true // the server would take it: decrypt and sign next
		return false, 0, nil
	case status == AuthSuccess || status == AuthPartial:
		return true, status, nil
	case err != nil && it.kind == kindAgent:
		return true, AuthDenied, err // a broken agent costs the method
	}
	if err != nil {
		it.errs = append(it.errs, err)
	}
	it.advance()
	return false, 0, nil
}

// interrupted reports whether err is ctx's end rather than a failure of the
// key or the method.
func interrupted(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
}

// unlock decrypts an identity the server accepted, with the passphrase
// given or the one the AuthCallback supplies (asked once per key of it).
func (c *conn) unlock(ctx context.Context, it *keyIter, cand keyCandidate, passphrase string) (gossh.Signer, error) {
	if passphrase == "" {
		passphrase = it.pass
	}
	if passphrase == "" {
		c.sess.mu.Lock()
		cb := c.sess.authCB
		c.sess.mu.Unlock()
		if cb == nil {
			return nil, fmt.Errorf("%w: %s is encrypted and no passphrase or AuthCallback was given", ErrPassphraseRequired, cand.path)
		}
		p, err := cb(fmt.Sprintf("Enter passphrase for key '%s': ", cand.path), false, false, cand.path)
		if err != nil {
			return nil, fmt.Errorf("%w: passphrase for %s: %w", ErrAuth, cand.path, err)
		}
		passphrase, it.pass = p, p
	}
	return loadKey(ctx, c, cand.path, func(ctx context.Context) (gossh.Signer, error) {
		k, err := parsePrivateKeyFile(ctx, cand.path, passphrase)
		if err != nil {
			return nil, err
		}
		if cand.cert != nil {
			if k, err = k.WithCertificate(cand.cert); err != nil {
				return nil, err
			}
		}
		return k.Signer(), nil
	})
}

// identityKeys loads the identity files: the configured ones, then the
// default names, each preceded by its certificate when one exists, as
// OpenSSH tries them. Missing default files are skipped silently, and so
// are unusable ones, with a log record. Each file is read under loadKey:
// the only error is ctx's end (or the connection's).
func (c *conn) identityKeys(ctx context.Context) ([]keyCandidate, error) {
	paths := slices.Clone(c.opts.Identities)
	for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		paths = append(paths, filepath.Join(c.opts.SSHDir, name))
	}
	var out []keyCandidate
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		if _, err := os.Stat(p); err != nil {
			continue
		}
		type loaded struct {
			cands []keyCandidate
			err   error // why the identity is skipped
		}
		l, err := loadKey(ctx, c, p, func(context.Context) (loaded, error) {
			cands, err := loadIdentity(p, c.opts.CertificateFiles)
			return loaded{cands, err}, nil
		})
		if err != nil {
			return nil, err
		}
		if l.err != nil {
			c.log.Warn("skipping identity", "path", p, "err", l.err)
			continue
		}
		out = append(out, l.cands...)
	}
	return out, nil
}

// loadIdentity reads the identity at path without a passphrase and returns
// what to offer for it: the key with its certificate, if one of certFiles
// (after path-cert.pub) certifies it, then the plain key.
func loadIdentity(path string, certFiles []string) ([]keyCandidate, error) {
	cand, err := loadIdentityKey(path)
	if err != nil {
		return nil, err
	}
	for _, certPath := range append([]string{path + "-cert.pub"}, certFiles...) {
		cert, err := ParsePublicKeyFile(certPath)
		if err != nil || cert.Certificate() == nil || !samePlainKey(cert.PublicKey(), cand.pub) {
			continue
		}
		cc := cand
		cc.pub, cc.cert, cc.label = cert.PublicKey(), cert, certPath
		if cand.signer != nil {
			if k, err := NewKeyFromSigner(cand.signer).WithCertificate(cert); err == nil {
				cc.signer = k.Signer()
			}
		}
		return []keyCandidate{cc, cand}, nil
	}
	return []keyCandidate{cand}, nil
}

// loadIdentityKey reads an identity without a passphrase: the whole key when
// it is not encrypted, else its public half (from the .pub file or the clear
// part of an OpenSSH key), to be decrypted if the server accepts it.
func loadIdentityKey(path string) (keyCandidate, error) {
	k, err := ParsePrivateKeyFile(path, "")
	if err == nil {
		return keyCandidate{label: path, pub: k.PublicKey(), signer: k.Signer(), path: path}, nil
	}
	if !errors.Is(err, ErrPassphraseRequired) {
		return keyCandidate{}, err
	}
	pub, perr := ParsePublicKeyFile(path + ".pub")
	if perr != nil {
		if pub, perr = ParsePublicKeyFile(path); perr != nil {
			return keyCandidate{}, fmt.Errorf("%w (and no public key: %w)", err, perr)
		}
	}
	return keyCandidate{label: path, pub: pub.PublicKey(), path: path}, nil
}

// agentIOTimeout bounds one exchange with the agent when ctx has no earlier
// deadline, so a hung agent costs the method instead of the session.
const agentIOTimeout = 30 * time.Second

// agentKeys connects to the agent and lists its keys. The connection stays
// open for signing and is closed when the iteration ends.
func (c *conn) agentKeys(ctx context.Context) ([]keyCandidate, io.Closer, error) {
	sock := c.opts.IdentityAgent
	if sock == "" || sock == "SSH_AUTH_SOCK" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock == "" || sock == "none" {
		return nil, nil, fmt.Errorf("%w: no agent (SSH_AUTH_SOCK is not set)", ErrAuth)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: agent %s: %w", ErrAuth, sock, err)
	}
	ac := &agentConn{Conn: raw, ctx: ctx}
	signers, err := agent.NewClient(ac).Signers()
	if err != nil {
		_ = raw.Close()
		return nil, nil, fmt.Errorf("%w: agent %s: %w", ErrAuth, sock, err)
	}
	keys := make([]keyCandidate, 0, len(signers))
	for _, s := range signers {
		keys = append(keys, keyCandidate{label: "agent key " + gossh.FingerprintSHA256(s.PublicKey()), pub: s.PublicKey(), signer: s})
	}
	return keys, raw, nil
}

// agentConn gives every exchange with the agent a deadline: the caller's, or
// agentIOTimeout from now.
type agentConn struct {
	net.Conn
	ctx context.Context
}

func (a *agentConn) Write(p []byte) (int, error) {
	deadline := time.Now().Add(agentIOTimeout)
	if d, ok := a.ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = a.Conn.SetDeadline(deadline)
	return a.Conn.Write(p)
}
