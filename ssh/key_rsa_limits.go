package ssh

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"

	xssh "golang.org/x/crypto/ssh"
)

// Limits on RSA private keys, checked on the ASN.1 sizes before any
// arithmetic. crypto/x509 validates a key only after its precomputation,
// and without the CRT values in the file that precomputation is a modular
// exponentiation cubic in the size of the primes: a 1 MiB PEM file of random
// odd "primes" of 16,384 bits costs seconds of CPU, one of 32,768 bits more
// than a minute. These are the caps x/crypto applies to its own OpenSSH
// format (keys.go, parseOpenSSHPrivateKey); this library applies them to
// PKCS#1, PKCS#8 and the legacy-encrypted PEM variants too, so that every
// format costs the same at most: about a second for the largest key let
// through (16,384 bits without CRT values, see BenchmarkParsePrivateKeyRSA).
const (
	// maxRSAModulusBits is OpenSSH's SSH_RSA_MAXIMUM_MODULUS_SIZE (sshkey.h):
	// OpenSSH neither generates nor loads a larger RSA key, and x/crypto
	// refuses larger moduli in public keys and OpenSSH-format private keys.
	maxRSAModulusBits = 16384
	// maxRSAPrimeBits: each prime factor, as x/crypto bounds P and Q.
	maxRSAPrimeBits = 8192
	// maxRSAPrimes bounds multi-prime keys (RFC 8017 §3.2). OpenSSL
	// generates at most RSA_MAX_PRIME_NUM = 5 primes; crypto/rsa handles
	// more than two without CRT and its setup is quadratic in their product,
	// so 600 primes of 8,192 bits in a 1 MiB file cost over 20 s.
	maxRSAPrimes = 5
)

// The public exponent has no cap here: crypto/rsa already refuses e ≥ 2³¹,
// and an exponent that size costs 31 squarings per signature check, nothing
// next to the private operation.

var oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1} // RFC 8017 §A.1

// pkcs1Sizes has the shape of RFC 8017 §A.1.2 RSAPrivateKey, and of
// crypto/x509's own decoding of it, so that a DER this accepts is one x509
// would go on to precompute, and one it refuses x509 refuses too.
type pkcs1Sizes struct {
	Version          int
	N                *big.Int
	E                int
	D                *big.Int
	P                *big.Int
	Q                *big.Int
	Dp               *big.Int `asn1:"optional"`
	Dq               *big.Int `asn1:"optional"`
	Qinv             *big.Int `asn1:"optional"`
	AdditionalPrimes []struct {
		Prime *big.Int
		Exp   *big.Int
		Coeff *big.Int
	} `asn1:"optional,omitempty"`
}

// checkPKCS1Limits refuses PKCS#1 RSAPrivateKey DER whose sizes exceed the
// limits above. DER that does not decode is left for crypto/x509 to refuse
// with its own message; decoding costs time linear in the input.
func checkPKCS1Limits(der []byte) error {
	var k pkcs1Sizes
	if _, err := asn1.Unmarshal(der, &k); err != nil {
		return nil
	}
	if n := 2 + len(k.AdditionalPrimes); n > maxRSAPrimes {
		return fmt.Errorf("RSA key with %d prime factors: at most %d are accepted", n, maxRSAPrimes)
	}
	primes := []*big.Int{k.P, k.Q}
	for _, a := range k.AdditionalPrimes {
		primes = append(primes, a.Prime)
	}
	return checkRSASizes(k.N, primes)
}

// checkRSASizes checks a modulus and its prime factors against the limits;
// nil values are left for the parser to refuse.
func checkRSASizes(n *big.Int, primes []*big.Int) error {
	if b := n.BitLen(); b > maxRSAModulusBits {
		return fmt.Errorf("RSA modulus of %d bits exceeds the %d-bit limit", b, maxRSAModulusBits)
	}
	for i, p := range primes {
		if b := p.BitLen(); b > maxRSAPrimeBits {
			return fmt.Errorf("RSA prime %d of %d bits exceeds the %d-bit limit", i+1, b, maxRSAPrimeBits)
		}
	}
	return nil
}

// checkPKCS8Limits applies checkPKCS1Limits to the RSA key inside PKCS#8
// PrivateKeyInfo DER (RFC 5208 §5), the shape crypto/x509 decodes.
func checkPKCS8Limits(der []byte) error {
	var info struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	if _, err := asn1.Unmarshal(der, &info); err != nil || !info.Algo.Algorithm.Equal(oidRSAEncryption) {
		return nil
	}
	return checkPKCS1Limits(info.PrivateKey)
}

// checkOpenSSHLimits applies the limits to an unencrypted OpenSSH-format RSA
// key (PROTOCOL.key; the content of an "OPENSSH PRIVATE KEY" block).
// x/crypto applies the same ones, but says only "rsa modulus too large";
// checking here first gives every format the same error.
func checkOpenSSHLimits(data []byte) error {
	rest, ok := bytes.CutPrefix(data, []byte(opensshKeyMagic))
	var env opensshKeyEnvelope
	if !ok || xssh.Unmarshal(rest, &env) != nil || env.CipherName != "none" {
		return nil
	}
	var inner struct {
		Check1, Check2 uint32
		Keytype        string
		Rest           []byte `ssh:"rest"`
	}
	if xssh.Unmarshal(env.PrivKeyBlock, &inner) != nil || inner.Keytype != xssh.KeyAlgoRSA {
		return nil
	}
	var k struct {
		N, E, D, Iqmp, P, Q *big.Int
		Rest                []byte `ssh:"rest"`
	}
	if xssh.Unmarshal(inner.Rest, &k) != nil {
		return nil
	}
	return checkRSASizes(k.N, []*big.Int{k.P, k.Q})
}

// The envelope of OpenSSH's private key format (PROTOCOL.key): the magic,
// then these fields in SSH wire encoding.
const opensshKeyMagic = "openssh-key-v1\x00"

type opensshKeyEnvelope struct {
	CipherName   string
	KdfName      string
	KdfOpts      string
	NumKeys      uint32
	PubKey       []byte
	PrivKeyBlock []byte
	Rest         []byte `ssh:"rest"`
}
