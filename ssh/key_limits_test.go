package ssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// keyTestOdd returns a random odd number of exactly bits bits.
func keyTestOdd(t testing.TB, bits int) *big.Int {
	t.Helper()
	b := make([]byte, (bits+7)/8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	excess := uint(len(b)*8 - bits)
	b[0] = b[0]&(0xff>>excess) | 0x80>>excess
	b[len(b)-1] |= 1
	return new(big.Int).SetBytes(b)
}

// keyTestPKCS1 is RFC 8017 §A.1.2 RSAPrivateKey, built by hand so that the
// values need not be a key (x509.MarshalPKCS1PrivateKey would precompute).
type keyTestPKCS1 struct {
	Version          int
	N                *big.Int
	E                int
	D                *big.Int
	P                *big.Int
	Q                *big.Int
	Dp               *big.Int            `asn1:"optional"`
	Dq               *big.Int            `asn1:"optional"`
	Qinv             *big.Int            `asn1:"optional"`
	AdditionalPrimes []keyTestOtherPrime `asn1:"optional,omitempty"`
}

type keyTestOtherPrime struct{ Prime, Exp, Coeff *big.Int }

func keyTestMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyTestHostileRSA returns the PKCS#1 DER of a "key" whose primes are
// random odd numbers of primeBits bits and which has no CRT values: crypto/x509
// then computes q⁻¹ mod p, a modular exponentiation cubic in the prime size,
// before it checks anything. d is just below n so that x509 gets that far.
func keyTestHostileRSA(t testing.TB, primeBits int) []byte {
	t.Helper()
	p, q := keyTestOdd(t, primeBits), keyTestOdd(t, primeBits)
	n := new(big.Int).Mul(p, q)
	d := new(big.Int).Sub(n, big.NewInt(2))
	// Without the optional fields: the SEQUENCE ends after q.
	return keyTestMarshal(t, struct {
		Version int
		N       *big.Int
		E       int
		D, P, Q *big.Int
	}{0, n, 65537, d, p, q})
}

// keyTestMultiPrimeRSA returns PKCS#1 DER of a multi-prime "key" with count
// pairwise coprime factors of about 8,176 bits (i·L+1 for L divisible by
// every number below count+3), which crypto/rsa accepts without checking
// their product, after a setup quadratic in it.
func keyTestMultiPrimeRSA(t testing.TB, count int) []byte {
	t.Helper()
	l := big.NewInt(1)
	for i := int64(2); i < int64(count+3); i++ {
		l.Mul(l, big.NewInt(i))
	}
	l.Mul(l, keyTestOdd(t, 8176-l.BitLen()))
	factor := func(i int) *big.Int {
		f := new(big.Int).Mul(big.NewInt(int64(i)), l)
		return f.Add(f, big.NewInt(1))
	}
	n := new(big.Int).Lsh(big.NewInt(1), maxRSAModulusBits-1)
	n.Add(n, big.NewInt(1))
	one := big.NewInt(1)
	k := keyTestPKCS1{Version: 1, N: n, E: 65537, D: new(big.Int).Sub(n, big.NewInt(2)),
		P: factor(1), Q: factor(2), Dp: one, Dq: one, Qinv: one}
	for i := 3; i <= count; i++ {
		k.AdditionalPrimes = append(k.AdditionalPrimes, keyTestOtherPrime{factor(i), one, one})
	}
	return keyTestMarshal(t, k)
}

func keyTestPKCS8FromPKCS1(t testing.TB, der []byte) []byte {
	t.Helper()
	return keyTestMarshal(t, struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{0, pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}, der})
}

// keyTestOpenSSHRSA writes the fields of PKCS#1 der as an unencrypted
// OpenSSH-format RSA key (PROTOCOL.key), padding included.
func keyTestOpenSSHRSA(t testing.TB, der []byte) []byte {
	t.Helper()
	var k keyTestPKCS1
	if _, err := asn1.Unmarshal(der, &k); err != nil {
		t.Fatal(err)
	}
	iqmp := k.Qinv
	if iqmp == nil {
		iqmp = big.NewInt(1)
	}
	e := big.NewInt(int64(k.E))
	priv := xssh.Marshal(struct {
		Check1, Check2 uint32
		Type           string
		N, E, D, Iqmp  *big.Int
		P, Q           *big.Int
		Comment        string
	}{7, 7, "ssh-rsa", k.N, e, k.D, iqmp, k.P, k.Q, "hostile"})
	for i := byte(1); len(priv)%8 != 0; i++ {
		priv = append(priv, i)
	}
	pub := xssh.Marshal(struct {
		Type string
		E, N *big.Int
	}{"ssh-rsa", e, k.N})
	env := opensshKeyEnvelope{CipherName: "none", KdfName: "none", NumKeys: 1, PubKey: pub, PrivKeyBlock: priv}
	return pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY",
		Bytes: append([]byte(opensshKeyMagic), xssh.Marshal(&env)...)})
}

// keyTestRSAFormats wraps PKCS#1 DER in every file format that can carry
// an RSA key; the encrypted ones use passphrase pass.
func keyTestRSAFormats(t *testing.T, der []byte, pass string) []keyTestFile {
	t.Helper()
	pkcs8 := keyTestPKCS8FromPKCS1(t, der)
	return []keyTestFile{
		{"pkcs1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), false},
		{"pkcs1", keyTestLegacyPEM(t, "RSA PRIVATE KEY", der, pass), true},
		{"pkcs8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), false},
		{"pkcs8", keyTestPKCS8Encrypted(t, pkcs8, pass), true},
		{"openssh", keyTestOpenSSHRSA(t, der), false},
	}
}

// keyTestParseWithin parses data on a goroutine and fails the test if that
// takes longer than budget: the bound is a ctx, not a speed assertion, so a
// slow machine cannot fail a correct parser, and a parser doing seconds of
// arithmetic fails.
func keyTestParseWithin(t *testing.T, budget time.Duration, data []byte, pass string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := ParsePrivateKeyBase64(string(data), pass)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		t.Fatalf("still parsing after %v: the sizes were not checked before the arithmetic", budget)
		return nil
	}
}

// TestParsePrivateKeyRefusesHugeRSABeforeArithmetic: a key whose 16,384-bit
// "primes" (a 32,768-bit modulus) come without CRT values costs x509 about
// 11 s of CPU; every format refuses it at once, saying why.
func TestParsePrivateKeyRefusesHugeRSABeforeArithmetic(t *testing.T) {
	const pass = "pw"
	der := keyTestHostileRSA(t, 16384)
	for _, f := range keyTestRSAFormats(t, der, pass) {
		name := f.format
		if f.encrypted {
			name += "-encrypted"
		}
		t.Run(name, func(t *testing.T) {
			err := keyTestParseWithin(t, 5*time.Second, f.data, pass)
			if !errors.Is(err, ErrInvalidKey) || errors.Is(err, ErrPassphraseRequired) {
				t.Fatalf("err = %v, want ErrInvalidKey only", err)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(maxRSAModulusBits)) {
				t.Errorf("error %q does not name the %d-bit limit", err, maxRSAModulusBits)
			}
		})
	}
}

// TestParsePrivateKeyRefusesManyPrimes: 600 coprime factors of 8,176 bits
// cost crypto/rsa over 20 s, and it accepts the result.
func TestParsePrivateKeyRefusesManyPrimes(t *testing.T) {
	der := keyTestMultiPrimeRSA(t, 600)
	data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})
	if len(data) > maxKeyFileSize {
		t.Fatalf("test file of %d bytes exceeds what a key file may be", len(data))
	}
	err := keyTestParseWithin(t, 5*time.Second, data, "")
	if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "600 prime factors") {
		t.Fatalf("err = %v, want ErrInvalidKey naming the 600 factors", err)
	}
}

func TestCheckPKCS1LimitsBoundaries(t *testing.T) {
	n := func(bits int) *big.Int { return keyTestOdd(t, bits) }
	one := big.NewInt(1)
	for _, tc := range []struct {
		name    string
		key     keyTestPKCS1
		refused string
	}{
		{"at the limits", keyTestPKCS1{N: n(16384), E: 65537, D: one, P: n(8192), Q: n(8192)}, ""},
		{"modulus one bit over", keyTestPKCS1{N: n(16385), E: 65537, D: one, P: n(8192), Q: n(8192)}, "16385 bits"},
		{"prime one bit over", keyTestPKCS1{N: n(16384), E: 65537, D: one, P: n(8192), Q: n(8193)}, "prime 2 of 8193 bits"},
		{"five primes", keyTestPKCS1{Version: 1, N: n(16384), E: 65537, D: one, P: n(4096), Q: n(4096), Dp: one, Dq: one, Qinv: one,
			AdditionalPrimes: []keyTestOtherPrime{{n(2048), one, one}, {n(2048), one, one}, {n(2048), one, one}}}, ""},
		{"six primes", keyTestPKCS1{Version: 1, N: n(16384), E: 65537, D: one, P: n(4096), Q: n(4096), Dp: one, Dq: one, Qinv: one,
			AdditionalPrimes: []keyTestOtherPrime{{n(2048), one, one}, {n(2048), one, one}, {n(1024), one, one}, {n(1024), one, one}}}, "6 prime factors"},
		{"additional prime too large", keyTestPKCS1{Version: 1, N: n(16384), E: 65537, D: one, P: n(4096), Q: n(4096), Dp: one, Dq: one, Qinv: one,
			AdditionalPrimes: []keyTestOtherPrime{{n(9000), one, one}}}, "prime 3 of 9000 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := keyTestMarshal(t, tc.key)
			for _, check := range []struct {
				name string
				err  error
			}{{"pkcs1", checkPKCS1Limits(der)}, {"pkcs8", checkPKCS8Limits(keyTestPKCS8FromPKCS1(t, der))}} {
				switch {
				case tc.refused == "" && check.err != nil:
					t.Errorf("%s: refused: %v", check.name, check.err)
				case tc.refused != "" && (check.err == nil || !strings.Contains(check.err.Error(), tc.refused)):
					t.Errorf("%s: err = %v, want one saying %q", check.name, check.err, tc.refused)
				}
			}
		})
	}
	// What does not decode is left to crypto/x509, which refuses it.
	if err := checkPKCS1Limits([]byte("garbage")); err != nil {
		t.Errorf("garbage: %v", err)
	}
}

// BenchmarkParsePrivateKeyRSA shows the cost the limits leave: "largest"
// is the worst file they let through (a 16,384-bit modulus of 8,192-bit
// random odd numbers, no CRT values: x509 does the full precomputation and
// then refuses it), "refused" the hostile file of the tests.
func BenchmarkParsePrivateKeyRSA(b *testing.B) {
	for _, bc := range []struct {
		name      string
		primeBits int
	}{{"refused-16384-bit-primes", 16384}, {"largest-8192-bit-primes", 8192}, {"4096-bit-primes", 4096}} {
		data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: keyTestHostileRSA(b, bc.primeBits)})
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := ParsePrivateKeyBase64(string(data), ""); !errors.Is(err, ErrInvalidKey) {
					b.Fatalf("err = %v", err)
				}
			}
		})
	}
}

// FuzzParsePrivateKey: whatever the file holds, the parsers return a key or
// an error matching ErrInvalidKey or ErrPassphraseRequired, never panic, and
// refuse oversized RSA values before computing with them (the hostile seeds
// would take seconds each otherwise).
func FuzzParsePrivateKey(f *testing.F) {
	const pass = "pw"
	seeds := [][]byte{
		keyTestOpenSSHRSA(f, keyTestHostileRSA(f, 16384)),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: keyTestHostileRSA(f, 9000)}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyTestPKCS8FromPKCS1(f, keyTestHostileRSA(f, 9000))}),
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	for _, marshal := range []func() (*pem.Block, error){
		func() (*pem.Block, error) { return xssh.MarshalPrivateKey(ed, "c") },
		func() (*pem.Block, error) { return xssh.MarshalPrivateKeyWithPassphrase(ed, "c", []byte(pass)) },
	} {
		b, err := marshal()
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, pem.EncodeToMemory(b))
	}
	rsaDER := keyTestMarshal(f, keyTestPKCS1{N: big.NewInt(3233), E: 17, D: big.NewInt(413), P: big.NewInt(61), Q: big.NewInt(53)})
	seeds = append(seeds, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: rsaDER}))
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A mutated bcrypt round count can ask for 20 s of work, which a
		// ctx ends (ParsePrivateKeyBase64 has none): the size limits are
		// what is being tested, not the key derivations.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		k, err := parsePrivateKey(ctx, data, pass, "")
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return
		}
		switch {
		case err == nil && !k.IsPrivate():
			t.Fatal("no error and no private key")
		case err != nil && !errors.Is(err, ErrInvalidKey) && !errors.Is(err, ErrPassphraseRequired):
			t.Fatalf("error %v matches no sentinel", err)
		case err != nil && !strings.HasPrefix(err.Error(), "ssh: "):
			t.Fatalf("error %q does not start with \"ssh: \"", err)
		}
	})
}
