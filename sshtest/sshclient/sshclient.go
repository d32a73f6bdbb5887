// Package sshclient hands out client sessions of package
// [github.com/libssh-go/libssh/ssh] connected to an in-process
// [sshtest.Server], for tests of code that takes an *ssh.Session.
//
// It is a package of its own because package sshtest must not import
// package ssh: the ssh package's own tests use sshtest. A test that needs a
// ready session writes
//
//	srv := sshtest.New(t, sshtest.Config{
//		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
//		Exec:  func(ctx sshtest.ExecContext) int { fmt.Fprintln(ctx.Stdout, "up 3 days"); return 0 },
//	})
//	sess := sshclient.Connect(t, srv, "alice")
//	got, err := Uptime(ctx, sess) // the code under test
//
// Every session is checked against the server's host keys the way a real
// one is checked against ~/.ssh/known_hosts: the helpers write
// srv.KnownHostsLine() to a known_hosts file in t.TempDir and require
// ssh.Session.IsKnownServer to say KnownHostsOK, with
// StrictHostKeyChecking "yes". Nothing of the user's is read: no
// ssh_config (ProcessConfig false), no ~/.ssh (SSHDir is the temporary
// directory), no agent (IdentityAgent "none").
//
// The helpers call t.Fatal on failure, so they must be called from the
// test's goroutine, and they register the session's Disconnect with
// t.Cleanup. Called after sshtest.New, that cleanup runs before the
// server's Close (cleanups run last-registered first).
package sshclient

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// connectTimeout bounds each helper's connect, host key check and
// authentication, so a test against a faulty server fails instead of
// hanging until the test binary's timeout.
const connectTimeout = time.Minute

// maxAuthSteps bounds the authentication loop; Config.AuthSequence needs
// one step per method, and no useful sequence is longer.
const maxAuthSteps = 8

// Dial returns a Session connected to srv as user with its host key
// verified, not yet authenticated, for tests of authentication itself.
//
// The session's options are, in order: Hostname, Port and User for srv
// and user, ProcessConfig(false), SSHDir and KnownHosts in t.TempDir
// holding srv.KnownHostsLine(), GlobalKnownHosts on a file that does not
// exist, StrictHostKeyChecking("yes"), IdentityAgent("none"), then opts,
// which may override any of them. Dial calls t.Fatal when an option is
// refused, Connect fails (within one minute, and within t's context), or
// IsKnownServer does not return KnownHostsOK. The session's Disconnect
// runs at t.Cleanup, also when Dial fails; the test may call it earlier.
func Dial(t testing.TB, srv *sshtest.Server, user string, opts ...ssh.Option) *ssh.Session {
	t.Helper()
	dir := t.TempDir()
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(srv.KnownHostsLine()), 0o600); err != nil {
		t.Fatalf("sshclient: writing known_hosts: %v", err)
	}

	sess := ssh.NewSession()
	t.Cleanup(func() {
		if err := sess.Disconnect(); err != nil {
			t.Errorf("sshclient: Disconnect: %v", err)
		}
	})
	defaults := []ssh.Option{
		ssh.Hostname(srv.Host()),
		ssh.Port(srv.Port()),
		ssh.User(user),
		ssh.ProcessConfig(false),
		ssh.SSHDir(dir), // before KnownHosts: SSHDir resets it
		ssh.KnownHosts(knownHosts),
		ssh.GlobalKnownHosts(filepath.Join(dir, "ssh_known_hosts")), // absent
		ssh.StrictHostKeyChecking("yes"),
		ssh.IdentityAgent("none"),
	}
	if err := sess.SetOption(append(defaults, opts...)...); err != nil {
		t.Fatalf("sshclient: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), connectTimeout)
	defer cancel()
	if err := sess.Connect(ctx); err != nil {
		t.Fatalf("sshclient: connecting to %s: %v", srv.Addr(), err)
	}
	state, err := sess.IsKnownServer()
	if err != nil || state != ssh.KnownHostsOK {
		key, _ := sess.ServerPublicKey()
		t.Fatalf("sshclient: host key %s of %s not trusted: %v, %v", fingerprint(key), srv.Addr(), state, err)
	}
	return sess
}

// Connect returns a Session connected to srv and authenticated as user,
// with the credentials srv has for user (sshtest.Server.User): it follows
// the methods the server offers, step by step, so Config.AuthSequence
// works too, and uses, as offered, "none" (User.NoneAuth), "password"
// (User.Password), "keyboard-interactive" (User.KeyboardInteractive, each
// prompt answered with its Round.Want, or "" when Want is nil) and
// "publickey" with the identities given in opts (ssh.AddIdentity, tried
// with UserauthPublicKeyAuto). For a key held in memory, use ConnectKey.
//
// Options and host key check are Dial's. Connect calls t.Fatal when user is
// not configured on srv, when the server refuses every method it can try,
// or on any error; the whole connect and login is bounded by one minute and
// by t's context. The session's Disconnect runs at t.Cleanup.
func Connect(t testing.TB, srv *sshtest.Server, user string, opts ...ssh.Option) *ssh.Session {
	t.Helper()
	return connect(t, srv, user, nil, opts)
}

// ConnectKey is Connect with key as the client's public key credential:
// where the server offers "publickey", it authenticates with key (an
// authorized key of the user, see sshtest.Config.AddKeyUser, or a
// certificate signed by one of User.CertAuthorities). Other methods are
// used as Connect uses them.
func ConnectKey(t testing.TB, srv *sshtest.Server, user string, key gossh.Signer, opts ...ssh.Option) *ssh.Session {
	t.Helper()
	if key == nil {
		t.Fatal("sshclient: ConnectKey: nil key")
	}
	return connect(t, srv, user, ssh.NewKeyFromSigner(key), opts)
}

func connect(t testing.TB, srv *sshtest.Server, user string, key *ssh.Key, opts []ssh.Option) *ssh.Session {
	t.Helper()
	u, ok := srv.User(user)
	if !ok {
		t.Fatalf("sshclient: user %q is not configured on the server", user)
	}
	sess := Dial(t, srv, user, opts...)
	ctx, cancel := context.WithTimeout(t.Context(), connectTimeout)
	defer cancel()
	if err := login(ctx, sess, u, key); err != nil {
		t.Fatalf("sshclient: logging in as %q: %v", user, err)
	}
	return sess
}

// login authenticates sess with what u allows, following the server's
// list of methods after each denial or partial success.
func login(ctx context.Context, sess *ssh.Session, u sshtest.User, key *ssh.Key) error {
	status, err := sess.UserauthNone(ctx, "")
	if err != nil {
		return fmt.Errorf("none: %w", err)
	}
	hasIdentities := len(sess.Options().Identities) > 0
	denied := ssh.AuthMethods(0) // methods refused in the current step
	for range maxAuthSteps {
		if status == ssh.AuthSuccess {
			return nil
		}
		offered, err := sess.UserauthList("")
		if err != nil {
			return err
		}
		var method ssh.AuthMethods
		switch usable := offered &^ denied; {
		case usable.Has(ssh.AuthMethodPublicKey) && (key != nil || hasIdentities):
			method = ssh.AuthMethodPublicKey
			if key != nil {
				status, err = sess.UserauthPublicKey(ctx, "", key)
			} else {
				status, err = sess.UserauthPublicKeyAuto(ctx, "", "")
			}
		case usable.Has(ssh.AuthMethodPassword) && u.Password != "":
			method = ssh.AuthMethodPassword
			status, err = sess.UserauthPassword(ctx, "", u.Password)
		case usable.Has(ssh.AuthMethodInteractive) && u.KeyboardInteractive != nil:
			method = ssh.AuthMethodInteractive
			status, err = keyboardInteractive(ctx, sess, u.KeyboardInteractive)
		default:
			return fmt.Errorf("the server offers %q and the user has nothing more to try (key given: %v, identities: %v)",
				offered.String(), key != nil, hasIdentities)
		}
		if err != nil {
			return fmt.Errorf("%v: %w", method, err)
		}
		switch status {
		case ssh.AuthDenied:
			denied |= method
		case ssh.AuthPartial:
			denied = 0 // a new step: every method may be offered again
		}
	}
	if status == ssh.AuthSuccess {
		return nil
	}
	return fmt.Errorf("not authenticated after %d steps (last status %v)", maxAuthSteps, status)
}

// keyboardInteractive answers the server's rounds with the expected
// answers of rounds, in order.
func keyboardInteractive(ctx context.Context, sess *ssh.Session, rounds []sshtest.Round) (ssh.AuthStatus, error) {
	status, err := sess.UserauthKeyboardInteractive(ctx, "", "")
	for i := 0; err == nil && status == ssh.AuthInfo; i++ {
		info, err := sess.UserauthKeyboardInteractiveInfo()
		if err != nil {
			return ssh.AuthError, err
		}
		answers := make([]string, len(info.Prompts))
		if i < len(rounds) {
			copy(answers, rounds[i].Want)
		}
		if err := sess.UserauthKeyboardInteractiveSetAnswers(answers); err != nil {
			return ssh.AuthError, err
		}
		status, err = sess.UserauthKeyboardInteractive(ctx, "", "")
	}
	return status, err
}

func fingerprint(k *ssh.Key) string {
	if k == nil {
		return "(none)"
	}
	return k.Fingerprint()
}
