package ssh

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/pem"
	"errors"
	"hash"
	"path/filepath"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// keyTestSlowOpenSSHKey returns an OpenSSH-format key file that announces
// pub, is encrypted with aes256-ctr under a bcrypt_pbkdf of the given rounds,
// and holds noise: decrypting it costs the whole derivation and then fails
// as a wrong passphrase would. Writing a real key with 2048 rounds would
// cost the test the same 20 s it is about.
func keyTestSlowOpenSSHKey(t testing.TB, pub xssh.PublicKey, rounds uint32) []byte {
	t.Helper()
	salt := make([]byte, 16)
	block := make([]byte, 64)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	if _, err := rand.Read(block); err != nil {
		t.Fatal(err)
	}
	block[0], block[4] = 1, 2 // the check words differ whatever the key
	opts := xssh.Marshal(struct {
		Salt   string
		Rounds uint32
	}{string(salt), rounds})
	env := opensshKeyEnvelope{CipherName: "aes256-ctr", KdfName: "bcrypt", KdfOpts: string(opts),
		NumKeys: 1, PubKey: pub.Marshal(), PrivKeyBlock: block}
	return pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY",
		Bytes: append([]byte(opensshKeyMagic), xssh.Marshal(&env)...)})
}

func TestPBKDF2KeyMatchesCryptoPBKDF2(t *testing.T) {
	salt := []byte("NaCl and pepper")
	for _, h := range []func() hash.Hash{sha1.New, sha256.New, sha512.New384} {
		for _, iter := range []int{1, 2, 4097} {
			for _, n := range []int{1, 20, 32, 70} {
				want, err := pbkdf2.Key(h, "passphrase", salt, iter, n)
				if err != nil {
					t.Fatal(err)
				}
				got, err := pbkdf2Key(context.Background(), h, "passphrase", salt, iter, n)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%T iter %d len %d: got %x, %v; want %x", h(), iter, n, got, err, want)
				}
			}
		}
	}
}

// TestBcryptPBKDFReadsSSHKeygenKeys decrypts what ssh-keygen writes, with
// several round counts and both ciphers x/crypto knows: the check words
// (PROTOCOL.key) match only if the derivation is OpenSSH's to the bit.
func TestBcryptPBKDFReadsSSHKeygenKeys(t *testing.T) {
	keygen := keyTestTool(t, "ssh-keygen")
	for _, tc := range []struct{ rounds, cipher string }{
		{"1", "aes256-ctr"}, {"3", "aes256-ctr"}, {"2", "aes256-cbc"},
	} {
		t.Run(tc.rounds+"-"+tc.cipher, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "id")
			keyTestRun(t, keygen, "-q", "-t", "ed25519", "-a", tc.rounds, "-Z", tc.cipher, "-N", "pass phrase", "-C", "c", "-f", path)
			pub, err := ParsePublicKeyFile(path + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			k, err := ParsePrivateKeyFile(path, "pass phrase")
			if err != nil {
				t.Fatal(err)
			}
			if !k.IsPrivate() || !k.Equal(pub) {
				t.Fatalf("private key %s does not match %s", k.AuthorizedKey(), pub.AuthorizedKey())
			}
			if _, err := ParsePrivateKeyFile(path, "pass phrasf"); !errors.Is(err, ErrPassphraseRequired) {
				t.Fatalf("wrong passphrase: err = %v", err)
			}
		})
	}
}

// TestKeyDerivationsStopWithCtx: the derivations of the largest files
// accepted (2048 bcrypt rounds, about 20 s; 2²³ PBKDF2 iterations, about
// 4 s) end soon after their ctx. The bound is a second ctx, not a speed
// assertion.
func TestKeyDerivationsStopWithCtx(t *testing.T) {
	for _, tc := range []struct {
		name   string
		derive func(context.Context) ([]byte, error)
	}{
		{"bcrypt", func(ctx context.Context) ([]byte, error) {
			return bcryptPBKDF(ctx, []byte("pw"), []byte("salt"), maxBcryptRounds, 48)
		}},
		{"pbkdf2", func(ctx context.Context) ([]byte, error) {
			return pbkdf2Key(ctx, sha1.New, "pw", []byte("salt"), maxPBKDF2Iterations, 32)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := tc.derive(ctx)
				done <- err
			}()
			watchdog := time.NewTimer(3 * time.Second)
			defer watchdog.Stop()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want the ctx's", err)
				}
			case <-watchdog.C:
				t.Fatal("still deriving 3 s after the ctx ended")
			}
		})
	}
}

// TestParsePrivateKeyBcryptRoundsLimit: a key asking for more rounds than
// x/crypto accepts is refused before any derivation, and the limit is
// inclusive.
func TestParsePrivateKeyBcryptRoundsLimit(t *testing.T) {
	pub := newEd25519(t).PublicKey()
	data := keyTestSlowOpenSSHKey(t, pub, maxBcryptRounds+1)
	_, err := ParsePrivateKeyBase64(string(data), "pw")
	if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "2049") || !strings.Contains(err.Error(), "2048") {
		t.Fatalf("err = %v, want ErrInvalidKey naming the rounds and the limit", err)
	}
	// At the limit the derivation runs (and a ctx can end it).
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = parsePrivateKey(ctx, keyTestSlowOpenSSHKey(t, pub, maxBcryptRounds), "pw", "")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "ssh: ") {
		t.Fatalf("err = %v, want the ctx's", err)
	}
	// Without a passphrase nothing is derived: the public half comes back.
	var missing *xssh.PassphraseMissingError
	if _, err := ParsePrivateKeyBase64(string(data), ""); !errors.As(err, &missing) || missing.PublicKey == nil {
		t.Fatalf("err = %v, want a PassphraseMissingError with the public key", err)
	}
}
