package ssh

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// keyTestRSA is generated once: 2048-bit RSA generation is the slow part of
// these tests, more so under -race.
var keyTestRSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

type keyTestPriv struct {
	name string
	priv crypto.Signer
	typ  string // the SSH key type
}

func keyTestKeys(t *testing.T) []keyTestPriv {
	t.Helper()
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return []keyTestPriv{
		{"ed25519", edPriv, "ssh-ed25519"},
		{"ecdsa-p256", p256, "ecdsa-sha2-nistp256"},
		{"ecdsa-p384", p384, "ecdsa-sha2-nistp384"},
		{"rsa", keyTestRSA(), "ssh-rsa"},
	}
}

func keyTestWrite(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// keyTestLegacyPEM encrypts der the way OpenSSL's traditional PEM writer does
// with AES-128-CBC: key = MD5(passphrase || IV[:8]) (EVP_BytesToKey, one
// round), PKCS#7 padding, and the IV in the DEK-Info header.
func keyTestLegacyPEM(t *testing.T, typ string, der []byte, pass string) []byte {
	t.Helper()
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		t.Fatal(err)
	}
	key := md5.Sum(append([]byte(pass), iv[:8]...))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		t.Fatal(err)
	}
	data := keyTestPad(der, aes.BlockSize)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(data, data)
	return pem.EncodeToMemory(&pem.Block{
		Type: typ,
		Headers: map[string]string{
			"Proc-Type": "4,ENCRYPTED",
			"DEK-Info":  "AES-128-CBC," + strings.ToUpper(hex.EncodeToString(iv)),
		},
		Bytes: data,
	})
}

func keyTestPad(b []byte, bs int) []byte {
	n := bs - len(b)%bs
	return append(bytes.Clone(b), bytes.Repeat([]byte{byte(n)}, n)...)
}

// keyTestPKCS8Encrypted writes an "ENCRYPTED PRIVATE KEY" with PBES2,
// PBKDF2-HMAC-SHA256 and AES-256-CBC, as OpenSSL 3 does by default.
func keyTestPKCS8Encrypted(t *testing.T, der []byte, pass string) []byte {
	t.Helper()
	salt := make([]byte, 16)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	if _, err := rand.Read(iv); err != nil {
		t.Fatal(err)
	}
	const iter = 2048
	key, err := pbkdf2.Key(sha256.New, pass, salt, iter, 32)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	data := keyTestPad(der, aes.BlockSize)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(data, data)

	mustMarshal := func(v any) []byte {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	kdf := pbkdf2Parameters{
		Salt:       salt,
		Iterations: iter,
		PRF:        pkcs8AlgorithmID{Algorithm: oidHMACSHA256, Parameters: asn1.NullRawValue},
	}
	params := pbes2Parameters{
		KDF:    pkcs8AlgorithmID{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: mustMarshal(kdf)}},
		Cipher: pkcs8AlgorithmID{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: mustMarshal(iv)}},
	}
	enc := pkcs8Encrypted{
		Algorithm: pkcs8AlgorithmID{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: mustMarshal(params)}},
		Data:      data,
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: mustMarshal(enc)})
}

type keyTestFile struct {
	format    string
	data      []byte
	encrypted bool
}

// keyTestFiles returns priv in every format the parsers read. Encrypted
// files use passphrase pass.
func keyTestFiles(t *testing.T, priv crypto.Signer, pass string) []keyTestFile {
	t.Helper()
	var files []keyTestFile
	add := func(format string, encrypted bool, data []byte) {
		files = append(files, keyTestFile{format, data, encrypted})
	}

	b, err := xssh.MarshalPrivateKey(priv, "test key")
	if err != nil {
		t.Fatal(err)
	}
	add("openssh", false, pem.EncodeToMemory(b))
	// bcrypt_pbkdf with OpenSSH's 16 rounds takes over a second under -race,
	// and the encryption does not depend on the key type: one type will do.
	if _, ok := priv.(ed25519.PrivateKey); ok {
		b, err = xssh.MarshalPrivateKeyWithPassphrase(priv, "test key", []byte(pass))
		if err != nil {
			t.Fatal(err)
		}
		add("openssh", true, pem.EncodeToMemory(b))
	}

	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	add("pkcs8", false, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	add("pkcs8", true, keyTestPKCS8Encrypted(t, der, pass))

	switch k := priv.(type) {
	case *rsa.PrivateKey:
		der := x509.MarshalPKCS1PrivateKey(k)
		add("pkcs1", false, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}))
		add("pkcs1", true, keyTestLegacyPEM(t, "RSA PRIVATE KEY", der, pass))
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		add("sec1", false, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
		add("sec1", true, keyTestLegacyPEM(t, "EC PRIVATE KEY", der, pass))
	}
	return files
}

func TestParsePrivateKeyFormats(t *testing.T) {
	const pass = "correct horse"
	for _, kt := range keyTestKeys(t) {
		want, err := xssh.NewPublicKey(kt.priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range keyTestFiles(t, kt.priv, pass) {
			name := kt.name + "/" + f.format
			if f.encrypted {
				name += "-encrypted"
			}
			t.Run(name, func(t *testing.T) {
				path := keyTestWrite(t, "id", f.data)
				check := func(k *Key, err error) {
					t.Helper()
					if err != nil {
						t.Fatalf("parse: %v", err)
					}
					if !k.IsPrivate() || k.Signer() == nil {
						t.Fatal("key is not private")
					}
					if got := k.Type(); got != kt.typ {
						t.Errorf("Type() = %q, want %q", got, kt.typ)
					}
					if !k.Equal(NewKey(want)) {
						t.Errorf("public key %s, want %s", k.AuthorizedKey(), NewKey(want).AuthorizedKey())
					}
				}

				k, err := ParsePrivateKeyFile(path, pass)
				check(k, err)
				if k.Path() != path {
					t.Errorf("Path() = %q, want %q", k.Path(), path)
				}
				check(ParsePrivateKeyBase64(string(f.data), pass))

				if !f.encrypted {
					// No passphrase needed, and one given is ignored.
					check(ParsePrivateKeyFile(path, ""))
					return
				}
				for _, bad := range []string{"", "wrong horse"} {
					_, err := ParsePrivateKeyFile(path, bad)
					if !errors.Is(err, ErrPassphraseRequired) {
						t.Errorf("passphrase %q: err = %v, want ErrPassphraseRequired", bad, err)
					}
					if errors.Is(err, ErrInvalidKey) {
						t.Errorf("passphrase %q: err = %v also matches ErrInvalidKey", bad, err)
					}
					if err != nil && !strings.HasPrefix(err.Error(), "ssh: ") {
						t.Errorf("error %q does not start with \"ssh: \"", err)
					}
				}
			})
		}
	}
}

func TestParsePrivateKeySigns(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := xssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePrivateKeyBase64(string(pem.EncodeToMemory(b)), "")
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("session identifier and request")
	sig, err := k.Signer().Sign(rand.Reader, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.PublicKey().Verify(data, sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
}

func TestParsePrivateKeyPassphraseMissingCarriesPublicKey(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := xssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParsePrivateKeyBase64(string(pem.EncodeToMemory(b)), "")
	var missing *xssh.PassphraseMissingError
	if !errors.As(err, &missing) || missing.PublicKey == nil {
		t.Fatalf("err = %v, want a *PassphraseMissingError with the public key", err)
	}
	want, _ := xssh.NewPublicKey(priv.Public())
	if !NewKey(missing.PublicKey).Equal(NewKey(want)) {
		t.Error("PassphraseMissingError.PublicKey is not the key's")
	}

	_, err = ParsePrivateKeyBase64(string(pem.EncodeToMemory(b)), "nope")
	if !errors.Is(err, x509.IncorrectPasswordError) {
		t.Errorf("wrong passphrase: err = %v, want x509.IncorrectPasswordError wrapped", err)
	}
}

func TestParsePrivateKeyInvalid(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	good := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
	for name, text := range map[string]string{
		"empty":         "",
		"not pem":       "hello, world",
		"public key":    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1Uwq0+7JnJXs+3pMqkvqsXbVlTQ5OcKVq5Pn9Y2m0Q",
		"unknown type":  "-----BEGIN FOO PRIVATE KEY-----\nAAAA\n-----END FOO PRIVATE KEY-----\n",
		"bad openssh":   "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
		"bad pkcs1":     "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
		"pkcs8 as pbes": string(good), // a plain PKCS#8 body under the encrypted label
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePrivateKeyBase64(text, "pw")
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("err = %v, want ErrInvalidKey", err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "ssh: ") {
				t.Errorf("error %q does not start with \"ssh: \"", err)
			}
		})
	}
}

func TestParseKeyFileSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxKeyFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()

	paths := map[string]string{
		"directory": dir,
		"too large": big,
		"missing":   filepath.Join(dir, "missing"),
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		paths["/dev/zero"] = "/dev/zero"
	}
	if mkfifo, err := exec.LookPath("mkfifo"); err == nil {
		fifo := filepath.Join(dir, "fifo")
		if err := exec.Command(mkfifo, fifo).Run(); err == nil {
			paths["fifo"] = fifo
		}
	}

	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			for _, parse := range []func(string) (*Key, error){
				func(p string) (*Key, error) { return ParsePrivateKeyFile(p, "") },
				ParsePublicKeyFile,
			} {
				done := make(chan error, 1)
				go func() {
					_, err := parse(path)
					done <- err
				}()
				select {
				case err := <-done:
					if !errors.Is(err, ErrInvalidKey) {
						t.Errorf("err = %v, want ErrInvalidKey", err)
					}
					if name == "missing" && !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("err = %v, want fs.ErrNotExist too", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("parsing did not return")
				}
			}
		})
	}
}

func TestParsePublicKeyFile(t *testing.T) {
	for _, kt := range keyTestKeys(t) {
		t.Run(kt.name, func(t *testing.T) {
			pub, err := xssh.NewPublicKey(kt.priv.Public())
			if err != nil {
				t.Fatal(err)
			}
			line := strings.TrimSpace(string(xssh.MarshalAuthorizedKey(pub)))
			want := NewKey(pub)
			for name, content := range map[string]string{
				"plain":        line + "\n",
				"comment":      line + " user@host\n",
				"no newline":   line,
				"options":      "# a comment\n\nfrom=\"10.0.0.1\",no-pty " + line + " c\n",
				"crlf comment": line + " c\r\n",
			} {
				path := keyTestWrite(t, "id.pub", []byte(content))
				k, err := ParsePublicKeyFile(path)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if k.IsPrivate() || k.Signer() != nil {
					t.Errorf("%s: public key file gave a private key", name)
				}
				if !k.Equal(want) || k.Type() != kt.typ || k.AuthorizedKey() != line {
					t.Errorf("%s: got %q (%s), want %q", name, k.AuthorizedKey(), k.Type(), line)
				}
				if k.Path() != path {
					t.Errorf("%s: Path() = %q", name, k.Path())
				}
			}

			// A private key file gives its public half, also when encrypted
			// in the OpenSSH format (tried with one key type: bcrypt is slow).
			encs := []bool{false}
			if kt.name == "ed25519" {
				encs = append(encs, true)
			}
			for _, enc := range encs {
				var b *pem.Block
				if enc {
					b, err = xssh.MarshalPrivateKeyWithPassphrase(kt.priv, "", []byte("pw"))
				} else {
					b, err = xssh.MarshalPrivateKey(kt.priv, "")
				}
				if err != nil {
					t.Fatal(err)
				}
				k, err := ParsePublicKeyFile(keyTestWrite(t, "id", pem.EncodeToMemory(b)))
				if err != nil {
					t.Fatalf("private key file (encrypted %v): %v", enc, err)
				}
				if k.IsPrivate() || !k.Equal(want) {
					t.Errorf("private key file (encrypted %v): got %s, private %v", enc, k.AuthorizedKey(), k.IsPrivate())
				}
			}
		})
	}

	for name, content := range map[string]string{
		"empty":   "",
		"garbage": "not a key\n",
		"bad b64": "ssh-ed25519 !!!!\n",
	} {
		_, err := ParsePublicKeyFile(keyTestWrite(t, "x.pub", []byte(content)))
		if !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: err = %v, want ErrInvalidKey", name, err)
		}
	}
}

// keyTestCert returns a certificate for priv's public key signed by a fresh
// CA, as an authorized_keys line.
func keyTestCert(t *testing.T, priv crypto.Signer) []byte {
	t.Helper()
	_, caPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := xssh.NewSignerFromKey(caPriv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := xssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	cert := &xssh.Certificate{
		Key:             pub,
		Serial:          1,
		CertType:        xssh.UserCert,
		KeyId:           "test",
		ValidPrincipals: []string{"user"},
		ValidBefore:     xssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	return xssh.MarshalAuthorizedKey(cert)
}

func TestKeyCertificate(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certKey, err := ParsePublicKeyFile(keyTestWrite(t, "id-cert.pub", keyTestCert(t, priv)))
	if err != nil {
		t.Fatal(err)
	}
	if certKey.Certificate() == nil || certKey.Type() != xssh.CertAlgoED25519v01 {
		t.Fatalf("not a certificate: %s", certKey.Type())
	}
	signer, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	plain := NewKeyFromSigner(signer)
	if plain.Certificate() != nil {
		t.Error("plain key reports a certificate")
	}
	if certKey.Equal(plain) {
		t.Error("a certificate is Equal to its plain key")
	}
	if certKey.Fingerprint() != plain.Fingerprint() {
		t.Errorf("certificate fingerprint %s, want the certified key's %s", certKey.Fingerprint(), plain.Fingerprint())
	}

	withCert, err := plain.WithCertificate(certKey)
	if err != nil {
		t.Fatal(err)
	}
	if !withCert.IsPrivate() || !withCert.Equal(certKey) {
		t.Errorf("WithCertificate: private %v, type %s", withCert.IsPrivate(), withCert.Type())
	}
	if _, ok := withCert.Signer().PublicKey().(*xssh.Certificate); !ok {
		t.Error("WithCertificate signer does not present the certificate")
	}

	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := xssh.NewSignerFromKey(other)
	for name, tc := range map[string]struct{ k, cert *Key }{
		"public only":   {certKey, certKey},
		"not a cert":    {plain, plain},
		"other key":     {NewKeyFromSigner(otherSigner), certKey},
		"nil cert":      {plain, nil},
		"nil receiver":  {nil, certKey},
		"zero receiver": {&Key{}, certKey},
	} {
		if _, err := tc.k.WithCertificate(tc.cert); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: err = %v, want ErrInvalidKey", name, err)
		}
	}
}

func TestKeyHashes(t *testing.T) {
	hexRE := regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2})*$`)
	for _, kt := range keyTestKeys(t) {
		t.Run(kt.name, func(t *testing.T) {
			signer, err := xssh.NewSignerFromSigner(kt.priv)
			if err != nil {
				t.Fatal(err)
			}
			k := NewKeyFromSigner(signer)
			blob := signer.PublicKey().Marshal()
			s1, m5, s256 := sha1.Sum(blob), md5.Sum(blob), sha256.Sum256(blob)
			for _, tc := range []struct {
				t    HashType
				want []byte
			}{
				{HashSHA1, s1[:]},
				{HashMD5, m5[:]},
				{HashSHA256, s256[:]},
			} {
				got, err := k.PublicKeyHash(tc.t)
				if err != nil || !bytes.Equal(got, tc.want) {
					t.Errorf("PublicKeyHash(%v) = %x, %v; want %x", tc.t, got, err, tc.want)
				}
				h, err := k.PublicKeyHashHex(tc.t)
				if err != nil || !hexRE.MatchString(h) || strings.ReplaceAll(h, ":", "") != hex.EncodeToString(tc.want) {
					t.Errorf("PublicKeyHashHex(%v) = %q, %v", tc.t, h, err)
				}
			}
			if got, want := k.Fingerprint(), xssh.FingerprintSHA256(signer.PublicKey()); got != want {
				t.Errorf("Fingerprint() = %q, want %q", got, want)
			}
			if got, want := k.FingerprintMD5(), "MD5:"+xssh.FingerprintLegacyMD5(signer.PublicKey()); got != want {
				t.Errorf("FingerprintMD5() = %q, want %q", got, want)
			}
			for _, bad := range []HashType{-1, 3, 99} {
				if _, err := k.PublicKeyHash(bad); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("PublicKeyHash(%v): err = %v, want ErrInvalidKey", bad, err)
				}
				if _, err := k.PublicKeyHashHex(bad); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("PublicKeyHashHex(%v): err = %v, want ErrInvalidKey", bad, err)
				}
			}
		})
	}
	if HashSHA1 != 0 || HashMD5 != 1 || HashSHA256 != 2 {
		t.Error("HashType values differ from libssh's SSH_PUBLICKEY_HASH_*")
	}
	for ht, want := range map[HashType]string{HashSHA1: "SHA1", HashMD5: "MD5", HashSHA256: "SHA256", 7: "HashType(7)"} {
		if ht.String() != want {
			t.Errorf("HashType(%d).String() = %q, want %q", int(ht), ht.String(), want)
		}
	}
}

func TestKeyNil(t *testing.T) {
	for name, k := range map[string]*Key{"nil": nil, "zero": {}} {
		if k.PublicKey() != nil || k.Signer() != nil || k.IsPrivate() || k.Type() != "" ||
			k.Path() != "" || k.Certificate() != nil || k.Fingerprint() != "" ||
			k.FingerprintMD5() != "" || k.AuthorizedKey() != "" {
			t.Errorf("%s Key: a method returned a non-zero value", name)
		}
		if _, err := k.PublicKeyHash(HashSHA256); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s Key: PublicKeyHash err = %v", name, err)
		}
		if _, err := k.PublicKeyHashHex(HashMD5); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s Key: PublicKeyHashHex err = %v", name, err)
		}
	}
	if NewKey(nil) != nil || NewKeyFromSigner(nil) != nil {
		t.Error("NewKey(nil) or NewKeyFromSigner(nil) is not nil")
	}

	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := xssh.NewSignerFromKey(priv)
	k := NewKeyFromSigner(signer)
	if !(*Key)(nil).Equal(nil) || !(*Key)(nil).Equal(&Key{}) {
		t.Error("empty keys are not Equal")
	}
	if k.Equal(nil) || (*Key)(nil).Equal(k) {
		t.Error("a key is Equal to nil")
	}
	if !k.Equal(NewKey(signer.PublicKey())) {
		t.Error("a private key is not Equal to its public half")
	}
}

// keyTestTool returns the path of an external tool, or skips the test.
func keyTestTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

func keyTestRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestFingerprintSSHKeygen checks Fingerprint and FingerprintMD5 against what
// OpenSSH prints: "256 SHA256:... comment (ED25519)".
func TestFingerprintSSHKeygen(t *testing.T) {
	keygen := keyTestTool(t, "ssh-keygen")
	field := func(out string) string {
		f := strings.Fields(out)
		if len(f) < 2 {
			t.Fatalf("unexpected ssh-keygen output %q", out)
		}
		return f[1]
	}
	keys := keyTestKeys(t)
	for _, kt := range keys {
		t.Run(kt.name, func(t *testing.T) {
			pub, err := xssh.NewPublicKey(kt.priv.Public())
			if err != nil {
				t.Fatal(err)
			}
			path := keyTestWrite(t, "id.pub", xssh.MarshalAuthorizedKey(pub))
			k, err := ParsePublicKeyFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := field(keyTestRun(t, keygen, "-lf", path)); k.Fingerprint() != want {
				t.Errorf("Fingerprint() = %q, ssh-keygen says %q", k.Fingerprint(), want)
			}
			if want := field(keyTestRun(t, keygen, "-E", "md5", "-lf", path)); k.FingerprintMD5() != want {
				t.Errorf("FingerprintMD5() = %q, ssh-keygen says %q", k.FingerprintMD5(), want)
			}
		})
	}
	t.Run("certificate", func(t *testing.T) {
		path := keyTestWrite(t, "id-cert.pub", keyTestCert(t, keys[0].priv))
		k, err := ParsePublicKeyFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := field(keyTestRun(t, keygen, "-lf", path)); k.Fingerprint() != want {
			t.Errorf("Fingerprint() = %q, ssh-keygen says %q", k.Fingerprint(), want)
		}
	})
}

// TestParsePrivateKeySSHKeygen parses keys written by ssh-keygen in each of
// its formats (-m RFC4716 is the OpenSSH format), encrypted.
func TestParsePrivateKeySSHKeygen(t *testing.T) {
	keygen := keyTestTool(t, "ssh-keygen")
	const pass = "s3cret pass"
	for _, tc := range []struct{ typ, format string }{
		{"ed25519", "RFC4716"},
		{"ecdsa", "PEM"},
		{"ecdsa", "PKCS8"},
	} {
		t.Run(tc.typ+"-"+tc.format, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "id")
			keyTestRun(t, keygen, "-q", "-t", tc.typ, "-m", tc.format, "-N", pass, "-C", "c", "-f", path)
			pub, err := ParsePublicKeyFile(path + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			k, err := ParsePrivateKeyFile(path, pass)
			if err != nil {
				t.Fatal(err)
			}
			if !k.IsPrivate() || !k.Equal(pub) {
				t.Errorf("private key %s does not match %s", k.AuthorizedKey(), pub.AuthorizedKey())
			}
			for _, bad := range []string{"", "wrong"} {
				if _, err := ParsePrivateKeyFile(path, bad); !errors.Is(err, ErrPassphraseRequired) {
					t.Errorf("passphrase %q: err = %v, want ErrPassphraseRequired", bad, err)
				}
			}
		})
	}
}

// TestParsePrivateKeyOpenSSLPKCS8 parses encrypted PKCS#8 written by
// OpenSSL with several PBES2 ciphers and PRFs.
func TestParsePrivateKeyOpenSSLPKCS8(t *testing.T) {
	openssl := keyTestTool(t, "openssl")
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(p256)
	if err != nil {
		t.Fatal(err)
	}
	in := keyTestWrite(t, "plain.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	want := NewKeyFromSigner(keyTestSigner(t, p256))
	for _, args := range [][]string{
		{"-v2", "aes-256-cbc"},
		{"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"},
		{"-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512"},
		{"-v2", "des3"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "enc.pem")
			cmd := append([]string{"pkcs8", "-topk8", "-in", in, "-out", out, "-passout", "pass:pw"}, args...)
			keyTestRun(t, openssl, cmd...)
			k, err := ParsePrivateKeyFile(out, "pw")
			if err != nil {
				t.Fatal(err)
			}
			if !k.IsPrivate() || !k.Equal(want) {
				t.Error("parsed key differs")
			}
			if _, err := ParsePrivateKeyFile(out, "wrong"); !errors.Is(err, ErrPassphraseRequired) {
				t.Errorf("wrong passphrase: err = %v", err)
			}
		})
	}
}

func keyTestSigner(t *testing.T, priv crypto.Signer) xssh.Signer {
	t.Helper()
	s, err := xssh.NewSignerFromSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
