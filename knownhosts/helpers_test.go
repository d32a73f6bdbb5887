package knownhosts

import (
	"crypto/dsa"
	"crypto/rand"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// khLine returns a plain known_hosts line.
func khLine(hosts string, key ssh.PublicKey) string {
	return hosts + " " + authorizedKey(key)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeKH writes lines to a new file in dir and returns its path.
func writeKH(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, []byte(strings.Join(lines, "\n")+"\n"))
	return path
}

// load loads paths, failing the test on error.
func load(t *testing.T, paths ...string) *DB {
	t.Helper()
	db, err := Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// khSigner returns a new key of the given type, failing the test on error.
func khSigner(t testing.TB, typ string) ssh.Signer {
	t.Helper()
	s, err := sshtest.GenerateSigner(typ)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// khDSAKey returns a DSA public key with parameters of the sizes x/crypto
// accepts; it is only ever parsed and compared, never used to verify.
func khDSAKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	one := big.NewInt(1)
	p := new(big.Int).Lsh(one, 1023)
	p.Add(p, big.NewInt(12345))
	q := new(big.Int).Lsh(one, 159)
	q.Add(q, big.NewInt(777))
	pub, err := ssh.NewPublicKey(&dsa.PublicKey{
		Parameters: dsa.Parameters{P: p, Q: q, G: big.NewInt(2)},
		Y:          big.NewInt(99999),
	})
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// khHostCert returns a certificate for host's key signed by ca, and a
// signer that presents it.
func khHostCert(t *testing.T, ca, host ssh.Signer, certType uint32, principals []string, after, before time.Time) (*ssh.Certificate, ssh.Signer) {
	t.Helper()
	cert := &ssh.Certificate{
		Key:             host.PublicKey(),
		CertType:        certType,
		KeyId:           "test host",
		ValidPrincipals: principals,
		ValidAfter:      uint64(after.Unix()),
		ValidBefore:     uint64(before.Unix()),
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewCertSigner(cert, host)
	if err != nil {
		t.Fatal(err)
	}
	return cert, s
}

// khCertLine returns "type base64" of a host certificate.
func khCertLine(t *testing.T) string {
	ca := khSigner(t, ssh.KeyAlgoED25519)
	cert, _ := khHostCert(t, ca, khSigner(t, ssh.KeyAlgoED25519), ssh.HostCert, []string{"h"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	return authorizedKey(cert)
}
