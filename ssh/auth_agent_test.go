package ssh

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

func pubOf(t *testing.T, k any) gossh.PublicKey {
	t.Helper()
	s, err := gossh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s.PublicKey()
}

func TestUserauthAgentTriesEachKey(t *testing.T) {
	unknown, good := newEd25519Raw(t), newEd25519Raw(t)
	sock := startAgent(t, nil, unknown, good)
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {AuthorizedKeys: []gossh.PublicKey{pubOf(t, good)}}}})
	s := acceptedSession(t, srv, "u", IdentityAgent(sock))
	if st, err := s.UserauthAgent(testCtx(t), ""); st != AuthSuccess || err != nil {
		t.Fatalf("got %v, %v", st, err)
	}
}

func TestUserauthAgentDenied(t *testing.T) {
	sock := startAgent(t, nil, newEd25519Raw(t))
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := acceptedSession(t, srv, "u", IdentityAgent(sock))
	if st, err := s.UserauthAgent(testCtx(t), ""); st != AuthDenied || err != nil {
		t.Fatalf("got %v, %v", st, err)
	}
	if st, _ := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatalf("password after agent: %v", st)
	}
}

// A broken agent costs the method, with an error, and never the session.
func TestUserauthAgentFailuresCostOnlyTheMethod(t *testing.T) {
	for _, mode := range []string{"missing", "die", "hang", "garbage"} {
		t.Run(mode, func(t *testing.T) {
			key := newEd25519Raw(t)
			var sock string
			if mode == "missing" {
				sock = filepath.Join(t.TempDir(), "nothing.sock")
			} else {
				sock = agentThatListsThen(t, mode, key)
			}
			srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {
				Password: "pw", AuthorizedKeys: []gossh.PublicKey{pubOf(t, key)}}}})
			s := acceptedSession(t, srv, "u", IdentityAgent(sock))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			st, err := s.UserauthAgent(ctx, "")
			if st == AuthSuccess || err == nil {
				t.Fatalf("got %v, %v; want an error", st, err)
			}
			if mode != "hang" && !errors.Is(err, ErrAuth) {
				t.Fatalf("error %v does not match ErrAuth", err)
			}
			if !s.IsConnected() {
				t.Fatal("the agent's failure cost the session")
			}
			if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
				t.Fatalf("password afterwards: %v, %v", st, err)
			}
		})
	}
}

func TestUserauthPublicKeyAutoAsksPassphraseOnlyForAcceptedKey(t *testing.T) {
	dir := t.TempDir()
	_, _ = writeKeyFile(t, dir, "id_ed25519", "rejected-pass") // the server does not know this one
	goodPath, goodPub := writeKeyFile(t, dir, "extra_key", "good-pass")
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {AuthorizedKeys: []gossh.PublicKey{goodPub}}}})
	s := acceptedSession(t, srv, "u", SSHDir(dir), AddIdentity(goodPath), IdentityAgent("none"))
	var asked []string
	s.SetAuthCallback(func(prompt string, echo, verify bool, identity string) (string, error) {
		asked = append(asked, identity)
		return "good-pass", nil
	})
	if st, err := s.UserauthPublicKeyAuto(testCtx(t), "", ""); st != AuthSuccess || err != nil {
		t.Fatalf("got %v, %v", st, err)
	}
	if len(asked) != 1 || asked[0] != goodPath {
		t.Fatalf("passphrase asked for %q, want only %s", asked, goodPath)
	}
}

func TestUserauthPublicKeyAutoSkipsKeyWithWrongPassphrase(t *testing.T) {
	dir := t.TempDir()
	firstPath, firstPub := writeKeyFile(t, dir, "id_ed25519", "pass-one")
	_, secondPub := writeKeyFile(t, dir, "id_ecdsa", "") // plain: default name, tried after
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {
		AuthorizedKeys: []gossh.PublicKey{firstPub, secondPub}}}})
	s := acceptedSession(t, srv, "u", SSHDir(dir), IdentityAgent("none"))
	st, err := s.UserauthPublicKeyAuto(testCtx(t), "", "not-the-passphrase")
	if st != AuthSuccess || err != nil {
		t.Fatalf("got %v, %v", st, err)
	}
	for _, a := range srv.AuthLog() {
		if a.Success && a.KeyFingerprint != gossh.FingerprintSHA256(secondPub) {
			t.Fatalf("logged in with %s, want the second key", a.KeyFingerprint)
		}
	}
	_ = firstPath
}

func TestUserauthPublicKeyAutoUsesAgentFirstAndCertificates(t *testing.T) {
	dir := t.TempDir()
	caSigner := newEd25519(t)
	keyPath, keyPub := writeKeyFile(t, dir, "id_ed25519", "")
	cert := &gossh.Certificate{Key: keyPub, CertType: gossh.UserCert, ValidPrincipals: []string{"u"},
		ValidBefore: gossh.CertTimeInfinity, KeyId: "test"}
	if err := cert.SignCert(rand.Reader, caSigner); err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyPath+"-cert.pub", gossh.MarshalAuthorizedKey(cert))
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {
		CertAuthorities: []gossh.PublicKey{caSigner.PublicKey()}}}})
	agentKey := newEd25519Raw(t)
	sock := startAgent(t, nil, agentKey)
	s := acceptedSession(t, srv, "u", SSHDir(dir), IdentityAgent(sock))
	if st, err := s.UserauthPublicKeyAuto(testCtx(t), "", ""); st != AuthSuccess || err != nil {
		t.Fatalf("got %v, %v", st, err)
	}
	log := srv.AuthLog()
	var keys []string
	for _, a := range log {
		if a.Method == "publickey" {
			keys = append(keys, a.KeyType)
		}
	}
	if len(keys) < 2 || keys[0] != "ssh-ed25519" || keys[len(keys)-1] != gossh.CertAlgoED25519v01 {
		t.Fatalf("publickey attempts %v: want the agent's key first and the certificate last", keys)
	}
}

func TestUserauthPublicKeyAutoWithNothingToOffer(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := acceptedSession(t, srv, "u", IdentityAgent("none"))
	if st, err := s.UserauthPublicKeyAuto(testCtx(t), "", ""); st != AuthDenied || err != nil {
		t.Fatalf("got %v, %v", st, err)
	}
}
