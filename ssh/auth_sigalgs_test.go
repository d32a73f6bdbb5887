package ssh

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// An RSA key against a server that sends no server-sig-algs (RFC 8308) and
// refuses SHA-1: x/crypto can only assume ssh-rsa, which
// PublicKeyAcceptedTypes leaves out by default, so it sends nothing and the
// key is denied. The denial must say why, and the log too.
func TestRSAKeyWithoutServerSigAlgsSaysWhy(t *testing.T) {
	rsaKey, err := sshtest.GenerateSigner(gossh.KeyAlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	srv := sshtest.New(t, sshtest.Config{
		Users:                   map[string]sshtest.User{"alice": {AuthorizedKeys: []gossh.PublicKey{rsaKey.PublicKey()}, Password: "pw"}},
		NoExtInfo:               true,
		PublicKeyAuthAlgorithms: []string{gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSASHA512, gossh.KeyAlgoED25519},
	})
	h := &recordHandler{}
	s := acceptedSession(t, srv, "alice", loggingTo(h)...)
	key := NewKeyFromSigner(rsaKey)

	for _, call := range []struct {
		name string
		run  func() (AuthStatus, error)
	}{
		{"UserauthTryPublicKey", func() (AuthStatus, error) { return s.UserauthTryPublicKey(testCtx(t), "", key) }},
		{"UserauthPublicKey", func() (AuthStatus, error) { return s.UserauthPublicKey(testCtx(t), "", key) }},
	} {
		st, err := call.run()
		if st != AuthDenied {
			t.Fatalf("%s: %v, %v; want AuthDenied", call.name, st, err)
		}
		if !errors.Is(err, ErrNoSignatureAlgorithm) || !errors.Is(err, ErrAuth) {
			t.Errorf("%s: denied with %v, want an error matching ErrNoSignatureAlgorithm and ErrAuth", call.name, err)
		}
	}
	if got := h.warnings("no mutual signature algorithm"); len(got) != 2 || got[0].attrs["key_type"] != gossh.KeyAlgoRSA {
		t.Errorf("warnings: %+v (all records: %+v)", got, h.records)
	}
	// Nothing reached the server: x/crypto had no algorithm to ask with.
	for _, a := range srv.AuthLog() {
		if a.Method == "publickey" {
			t.Errorf("the server saw %+v", a)
		}
	}
	// The session is fine: another method still works.
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatalf("password after the RSA denial: %v, %v", st, err)
	}
}

// A denial by the server itself carries no such reason, and ssh-rsa, when
// allowed, is what x/crypto falls back to without server-sig-algs.
func TestRSAKeyDenialsWithoutSigAlgsReason(t *testing.T) {
	rsaKey, err := sshtest.GenerateSigner(gossh.KeyAlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	other, err := sshtest.GenerateSigner(gossh.KeyAlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		noExt     bool
		allowSHA1 bool
		key       gossh.Signer
		want      AuthStatus
	}{
		{"server-sig-algs, key not authorized", false, false, other, AuthDenied},
		{"server-sig-algs, key authorized", false, false, rsaKey, AuthSuccess},
		{"no server-sig-algs, ssh-rsa allowed on both sides", true, true, rsaKey, AuthSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sshtest.Config{
				Users:     map[string]sshtest.User{"alice": {AuthorizedKeys: []gossh.PublicKey{rsaKey.PublicKey()}}},
				NoExtInfo: tc.noExt,
			}
			var opts []Option
			if tc.allowSHA1 {
				opts = append(opts, PublicKeyAcceptedTypes("+ssh-rsa"))
			} else {
				cfg.PublicKeyAuthAlgorithms = []string{gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSASHA512}
			}
			srv := sshtest.New(t, cfg)
			h := &recordHandler{}
			s := acceptedSession(t, srv, "alice", append(opts, loggingTo(h)...)...)
			st, err := s.UserauthPublicKey(testCtx(t), "", NewKeyFromSigner(tc.key))
			if st != tc.want || err != nil {
				t.Fatalf("UserauthPublicKey: %v, %v; want %v, nil", st, err, tc.want)
			}
			if got := h.warnings("no mutual signature algorithm"); len(got) != 0 {
				t.Fatalf("warned: %+v", got)
			}
		})
	}
}

// noSHA1NoExtInfo is a server that sends no server-sig-algs and refuses
// ssh-rsa, with alice authorized for keys.
func noSHA1NoExtInfo(t *testing.T, keys ...gossh.PublicKey) *sshtest.Server {
	return sshtest.New(t, sshtest.Config{
		Users:                   map[string]sshtest.User{"alice": {AuthorizedKeys: keys}},
		NoExtInfo:               true,
		PublicKeyAuthAlgorithms: []string{gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSASHA512, gossh.KeyAlgoED25519},
	})
}

// UserauthPublicKeyAuto reports the reason among its per-key errors, and
// warns.
func TestPublicKeyAutoReportsKeyWithoutAlgorithm(t *testing.T) {
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaSigner, err := gossh.NewSignerFromKey(rsaPriv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	block, err := gossh.MarshalPrivateKey(rsaPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "id_rsa"), pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := noSHA1NoExtInfo(t, rsaSigner.PublicKey())
	h := &recordHandler{}
	s := acceptedSession(t, srv, "alice", append(loggingTo(h), IdentityAgent("none"), SSHDir(dir))...)
	st, err := s.UserauthPublicKeyAuto(testCtx(t), "", "")
	if st != AuthDenied || !errors.Is(err, ErrNoSignatureAlgorithm) {
		t.Fatalf("UserauthPublicKeyAuto: %v, %v; want AuthDenied with ErrNoSignatureAlgorithm", st, err)
	}
	if got := h.warnings("no mutual signature algorithm"); len(got) != 1 || got[0].attrs["fingerprint"] != gossh.FingerprintSHA256(rsaSigner.PublicKey()) {
		t.Fatalf("warnings: %+v", got)
	}
}

// A key of the agent's that cannot be offered is not a broken agent: the
// agent's next key is still tried.
func TestAgentGoesOnPastKeyWithoutAlgorithm(t *testing.T) {
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPriv := newEd25519Raw(t)
	ring := agent.NewKeyring()
	for _, k := range []any{rsaPriv, edPriv} {
		if err := ring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := startAgent(t, func(c net.Conn) { _ = agent.ServeAgent(ring, c) })
	edSigner, err := gossh.NewSignerFromKey(edPriv)
	if err != nil {
		t.Fatal(err)
	}
	srv := noSHA1NoExtInfo(t, edSigner.PublicKey())
	h := &recordHandler{}
	s := acceptedSession(t, srv, "alice", append(loggingTo(h), IdentityAgent(sock))...)
	if st, err := s.UserauthAgent(testCtx(t), ""); st != AuthSuccess {
		t.Fatalf("UserauthAgent: %v, %v; want the ed25519 key after the RSA one", st, err)
	}
	if got := h.warnings("no mutual signature algorithm"); len(got) != 1 || got[0].attrs["key_type"] != gossh.KeyAlgoRSA {
		t.Fatalf("warnings: %+v", got)
	}
}
