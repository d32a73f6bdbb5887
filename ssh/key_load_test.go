package ssh

import (
	"context"
	"encoding/pem"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// keyTestWithin runs f and fails the test when it has not returned after
// limit: a watchdog for calls that must end by their ctx, far longer than
// that ctx so a slow machine cannot fail a correct call.
func keyTestWithin(t *testing.T, limit time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	watchdog := time.NewTimer(limit)
	defer watchdog.Stop()
	select {
	case <-done:
	case <-watchdog.C:
		t.Fatalf("%s still running after %v", what, limit)
	}
}

// The case: an encrypted key of 2048 bcrypt rounds (20 s to
// decrypt) that the server accepts, with a 1 s ctx. The call returns with
// the ctx's error, the session still works, and Disconnect does not wait
// for the derivation.
func TestUserauthPublicKeyAutoSlowDecryptionEndsWithCtx(t *testing.T) {
	dir := t.TempDir()
	signer := newEd25519(t)
	writeFile(t, filepath.Join(dir, "id_ed25519"), keyTestSlowOpenSSHKey(t, signer.PublicKey(), maxBcryptRounds))
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {
		Password: "pw", AuthorizedKeys: []gossh.PublicKey{signer.PublicKey()}}}})
	s := acceptedSession(t, srv, "u", SSHDir(dir), IdentityAgent("none"))

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var st AuthStatus
	var err error
	keyTestWithin(t, 15*time.Second, "UserauthPublicKeyAuto(ctx 1 s)", func() {
		st, err = s.UserauthPublicKeyAuto(ctx, "", "passphrase")
	})
	if st != AuthError || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, %v; want AuthError and the ctx's error", st, err)
	}
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatalf("password afterwards: %v, %v", st, err)
	}
	keyTestWithin(t, 10*time.Second, "Disconnect", func() { _ = s.Disconnect() })
}

// Disconnect during the derivation ends the call and the derivation.
func TestDisconnectEndsKeyDecryption(t *testing.T) {
	dir := t.TempDir()
	signer := newEd25519(t)
	writeFile(t, filepath.Join(dir, "id_ed25519"), keyTestSlowOpenSSHKey(t, signer.PublicKey(), maxBcryptRounds))
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {
		AuthorizedKeys: []gossh.PublicKey{signer.PublicKey()}}}})
	s := acceptedSession(t, srv, "u", SSHDir(dir), IdentityAgent("none"))
	asked := make(chan struct{})
	s.SetAuthCallback(func(prompt string, echo, verify bool, identity string) (string, error) {
		close(asked) // the server accepted the key: the derivation starts next
		return "passphrase", nil
	})
	result := make(chan error, 1)
	go func() {
		_, err := s.UserauthPublicKeyAuto(testCtx(t), "", "")
		result <- err
	}()
	<-asked
	keyTestWithin(t, 10*time.Second, "Disconnect", func() { _ = s.Disconnect() })
	select {
	case err := <-result:
		if !errors.Is(err, ErrDisconnected) && !errors.Is(err, ErrNotConnected) {
			t.Fatalf("err = %v, want ErrDisconnected", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("UserauthPublicKeyAuto still running after Disconnect returned")
	}
}

// The other case: a hostile id_rsa (16,384-bit random odd
// "primes", no CRT values) cost 11 s before the size limits; now it is
// skipped at once.
func TestUserauthPublicKeyAutoSkipsHostileRSAIdentity(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "id_rsa"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: keyTestHostileRSA(t, 16384)}))
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := acceptedSession(t, srv, "u", SSHDir(dir), IdentityAgent("none"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var st AuthStatus
	var err error
	keyTestWithin(t, 8*time.Second, "UserauthPublicKeyAuto(ctx 3 s)", func() {
		st, err = s.UserauthPublicKeyAuto(ctx, "", "")
	})
	if st != AuthDenied || err != nil {
		t.Fatalf("got %v, %v; want AuthDenied: the only key is unusable", st, err)
	}
}

// A key within the limits may still take a second to parse (8,192-bit
// random odd "primes" without CRT values, where x509 does the whole
// precomputation and then refuses it). A call whose ctx ends meanwhile
// returns with the ctx's error instead of waiting, and Disconnect waits for
// the parse, so no goroutine is left (TestMain's goleak).
func TestUserauthPublicKeyAutoSlowParseEndsWithCtx(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "id_rsa"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: keyTestHostileRSA(t, maxRSAPrimeBits)}))
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := acceptedSession(t, srv, "u", SSHDir(dir), IdentityAgent("none"))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	st, err := s.UserauthPublicKeyAuto(ctx, "", "")
	if st != AuthError || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, %v; want AuthError and the ctx's error", st, err)
	}
	keyTestWithin(t, 20*time.Second, "Disconnect", func() { _ = s.Disconnect() })
}

// A decryption interrupted by the ctx is retried by the next call, for the
// same key, without asking the user for the passphrase again.
func TestUserauthPublicKeyAutoRetriesInterruptedKeyWithoutAskingAgain(t *testing.T) {
	dir := t.TempDir()
	signer := newEd25519(t)
	writeFile(t, filepath.Join(dir, "id_ed25519"), keyTestSlowOpenSSHKey(t, signer.PublicKey(), maxBcryptRounds))
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {
		AuthorizedKeys: []gossh.PublicKey{signer.PublicKey()}}}})
	s := acceptedSession(t, srv, "u", SSHDir(dir), IdentityAgent("none"))
	var asked []string
	s.SetAuthCallback(func(prompt string, echo, verify bool, identity string) (string, error) {
		asked = append(asked, identity)
		return "passphrase", nil
	})
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		st, err := s.UserauthPublicKeyAuto(ctx, "", "")
		cancel()
		if st != AuthError || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, %v; want AuthError and the ctx's error", st, err)
		}
	}
	if len(asked) != 1 {
		t.Fatalf("passphrase asked %d times (%q), want once", len(asked), asked)
	}
}
