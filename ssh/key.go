package ssh

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"

	xssh "golang.org/x/crypto/ssh"
)

// HashType selects the digest of PublicKeyHash and PublicKeyHashHex. The
// values and their order are libssh's SSH_PUBLICKEY_HASH_*, so the zero value
// is HashSHA1.
type HashType int

// The digests libssh offers for public key hashes.
const (
	HashSHA1   HashType = iota // SSH_PUBLICKEY_HASH_SHA1 (the zero value)
	HashMD5                    // SSH_PUBLICKEY_HASH_MD5
	HashSHA256                 // SSH_PUBLICKEY_HASH_SHA256
)

// String returns "SHA1", "MD5" or "SHA256", the names OpenSSH prints before a
// fingerprint, or "HashType(n)" for an unknown value.
func (t HashType) String() string {
	switch t {
	case HashSHA1:
		return "SHA1"
	case HashMD5:
		return "MD5"
	case HashSHA256:
		return "SHA256"
	}
	return "HashType(" + strconv.Itoa(int(t)) + ")"
}

// maxKeyFileSize bounds what ParsePrivateKeyFile and ParsePublicKeyFile read.
// The largest keys OpenSSH writes (16384-bit RSA, encrypted) stay well under
// 20 KiB; the bound only keeps a wrong path from filling memory.
const maxKeyFileSize = 1 << 20

// Key is a public key, optionally with its private half. It is libssh's
// ssh_key. A Key is immutable and safe for concurrent use.
//
// Keys come from ParsePrivateKeyFile, ParsePrivateKeyBase64,
// ParsePublicKeyFile, NewKey and NewKeyFromSigner, or from a Session
// (ServerPublicKey). A nil *Key, or a Key{} built by hand, holds no key: its
// methods return zero values or an error wrapping ErrInvalidKey, and never
// panic.
type Key struct {
	pub    xssh.PublicKey // never nil in a Key made by this package
	signer xssh.Signer    // nil when only the public half is known
	path   string         // the file the key came from, "" if none
}

// keyParseError is the error of the key parsers. It wraps a sentinel
// (ErrInvalidKey or ErrPassphraseRequired) and the cause, so that errors.Is
// finds both the sentinel and, for instance, fs.ErrNotExist or
// x509.IncorrectPasswordError, and errors.As finds an
// *xssh.PassphraseMissingError.
type keyParseError struct {
	kind  error  // ErrInvalidKey or ErrPassphraseRequired
	where string // the file, or "" when parsing text or when err names it
	err   error  // the cause; may be nil
}

func (e *keyParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.kind.Error())
	if e.where != "" {
		b.WriteString(": ")
		b.WriteString(e.where)
	}
	if e.err != nil {
		b.WriteString(": ")
		// x/crypto's messages start with "ssh: " as ours do; say it once.
		b.WriteString(strings.TrimPrefix(e.err.Error(), "ssh: "))
	}
	return b.String()
}

func (e *keyParseError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}

// ParsePrivateKeyFile reads a private key file, as libssh's
// ssh_pki_import_privkey_file does. It reads the OpenSSH format
// ("OPENSSH PRIVATE KEY", what ssh-keygen writes), PEM PKCS#1 ("RSA PRIVATE
// KEY"), SEC1 ("EC PRIVATE KEY"), DSA, and PKCS#8 ("PRIVATE KEY" and
// PBES2-encrypted "ENCRYPTED PRIVATE KEY"), each plain or encrypted, including
// the legacy OpenSSL encryption of PEM files (Proc-Type/DEK-Info headers).
//
// passphrase is ignored when the key is not encrypted; "" means none is known.
//
// Errors wrap ErrPassphraseRequired when the key is encrypted and passphrase
// is empty or wrong; for a wrong passphrase they also wrap
// x509.IncorrectPasswordError, and for an OpenSSH key without a passphrase
// errors.As finds an *xssh.PassphraseMissingError whose PublicKey is the key's
// public half (so a caller can ask a server about the key before asking the
// user for the passphrase). Every other failure wraps ErrInvalidKey: a file
// that cannot be read (errors.Is(err, fs.ErrNotExist) then works too), that is
// not a regular file (a FIFO, a device, a directory: refused without reading
// from it), that is larger than 1 MiB, or whose content is not a supported
// key. The legacy PEM encryption cannot tell a wrong passphrase from damaged
// data, so damaged legacy-encrypted files report ErrPassphraseRequired too.
//
// The work a file can cost is bounded. An RSA key whose modulus exceeds
// 16,384 bits, with a prime over 8,192 bits or with more than 5 primes, is
// refused (ErrInvalidKey) before any arithmetic, in every format; so is an
// OpenSSH key asking for more than 2,048 bcrypt rounds or a PKCS#8 key for
// more than 2²³ PBKDF2 iterations. Within the limits, decrypting an OpenSSH
// key costs about 10 ms per bcrypt round (ssh-keygen's default of 16 about
// 0.15 s, 2,048 rounds about 20 s) and the largest RSA key without its CRT
// values about 1.5 s. ParsePrivateKeyFile cannot be interrupted; the
// Userauth methods that read key files give up at their ctx instead.
func ParsePrivateKeyFile(path, passphrase string) (*Key, error) {
	return parsePrivateKeyFile(context.Background(), path, passphrase)
}

// parsePrivateKeyFile is ParsePrivateKeyFile with a ctx that interrupts the
// key derivation of an encrypted key.
func parsePrivateKeyFile(ctx context.Context, path, passphrase string) (*Key, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	k, err := parsePrivateKey(ctx, data, passphrase, path)
	if err != nil {
		return nil, err
	}
	k.path = path
	return k, nil
}

// ParsePrivateKeyBase64 parses the text of a private key file: the
// "-----BEGIN ... PRIVATE KEY-----" armour and the base64 between, as libssh's
// ssh_pki_import_privkey_base64 takes it. Text around the armour is ignored.
// It reads the formats ParsePrivateKeyFile reads, with the same passphrase
// rules, and returns the same errors (except those about the file).
func ParsePrivateKeyBase64(b64, passphrase string) (*Key, error) {
	return parsePrivateKey(context.Background(), []byte(b64), passphrase, "")
}

// ParsePublicKeyFile reads a public key file such as id_ed25519.pub or
// id_ed25519-cert.pub: the first key in authorized_keys format, that is
// "[options] type base64 [comment]", where blank lines and "#" comments are
// skipped and options and comment are dropped. A certificate gives a Key whose
// PublicKey is an *xssh.Certificate (see Certificate).
//
// As libssh's ssh_pki_import_pubkey_file does, it also accepts a private key
// file and returns its public half only; the public half of an encrypted
// OpenSSH key is stored in clear, other encrypted keys give an error wrapping
// ErrPassphraseRequired.
//
// Errors wrap ErrInvalidKey, for a file that cannot be read, is not a regular
// file, is larger than 1 MiB or holds no key.
func ParsePublicKeyFile(path string) (*Key, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		k, err := publicFromPrivate(data, path)
		if err != nil {
			return nil, err
		}
		k.path = path
		return k, nil
	}
	pub, _, _, _, err := xssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, &keyParseError{kind: ErrInvalidKey, where: path, err: err}
	}
	return &Key{pub: pub, path: path}, nil
}

// publicFromPrivate returns the public half of a private key file's content.
func publicFromPrivate(data []byte, where string) (*Key, error) {
	k, err := parsePrivateKey(context.Background(), data, "", where)
	if err == nil {
		return &Key{pub: k.pub}, nil
	}
	var missing *xssh.PassphraseMissingError
	if errors.As(err, &missing) && missing.PublicKey != nil {
		return &Key{pub: missing.PublicKey}, nil
	}
	return nil, err
}

// NewKey returns a public-only Key for pub. NewKey(nil) returns nil.
func NewKey(pub xssh.PublicKey) *Key {
	if pub == nil {
		return nil
	}
	return &Key{pub: pub}
}

// NewKeyFromSigner returns a private Key that signs with s, for instance a
// signer from an agent or a hardware token. NewKeyFromSigner(nil), or a signer
// whose PublicKey is nil, returns nil.
func NewKeyFromSigner(s xssh.Signer) *Key {
	if s == nil {
		return nil
	}
	pub := s.PublicKey()
	if pub == nil {
		return nil
	}
	return &Key{pub: pub, signer: s}
}

// PublicKey returns the public key (an *xssh.Certificate for a certificate),
// or nil for a nil Key.
func (k *Key) PublicKey() xssh.PublicKey {
	if k == nil {
		return nil
	}
	return k.pub
}

// Signer returns the private half, or nil when the key is public only or the
// Key is nil.
func (k *Key) Signer() xssh.Signer {
	if k == nil {
		return nil
	}
	return k.signer
}

// IsPrivate reports whether the key can sign (libssh's ssh_key_is_private).
// It is false for a nil Key.
func (k *Key) IsPrivate() bool {
	return k != nil && k.pub != nil && k.signer != nil
}

// Type returns the key's SSH type name, for example "ssh-ed25519",
// "ecdsa-sha2-nistp256", "ssh-rsa" or "ssh-ed25519-cert-v01@openssh.com".
// It returns "" for a nil Key.
func (k *Key) Type() string {
	if k.empty() {
		return ""
	}
	return k.pub.Type()
}

// Path returns the file the key was read from, or "" for a key that did not
// come from a file (or a nil Key).
func (k *Key) Path() string {
	if k == nil {
		return ""
	}
	return k.path
}

// Certificate returns the OpenSSH certificate when the key is one, and nil
// otherwise (also for a nil Key).
func (k *Key) Certificate() *xssh.Certificate {
	if k.empty() {
		return nil
	}
	cert, _ := k.pub.(*xssh.Certificate)
	return cert
}

// WithCertificate returns a Key that presents the certificate cert (a Key
// from an id_*-cert.pub file) and signs with k's private half, as libssh's
// ssh_pki_copy_cert_to_privkey does. k is not changed. The error wraps
// ErrInvalidKey when k is not private, cert holds no certificate, or the
// certificate is for another key.
func (k *Key) WithCertificate(cert *Key) (*Key, error) {
	if !k.IsPrivate() {
		return nil, &keyParseError{kind: ErrInvalidKey, err: errors.New("not a private key")}
	}
	c := cert.Certificate()
	if c == nil {
		return nil, &keyParseError{kind: ErrInvalidKey, err: errors.New("not a certificate")}
	}
	s, err := xssh.NewCertSigner(c, k.signer)
	if err != nil {
		return nil, &keyParseError{kind: ErrInvalidKey, err: err}
	}
	return &Key{pub: c, signer: s, path: k.path}, nil
}

// PublicKeyHash returns the digest of the key's public key blob (its SSH wire
// format, RFC 4253 §6.6), as libssh's ssh_get_publickey_hash does. For a
// certificate it hashes the certified key, not the certificate, as OpenSSH's
// fingerprints do. The error wraps ErrInvalidKey for a nil Key or an unknown
// HashType.
func (k *Key) PublicKeyHash(t HashType) ([]byte, error) {
	if k.empty() {
		return nil, &keyParseError{kind: ErrInvalidKey, err: errors.New("no key")}
	}
	blob := k.plain().Marshal()
	switch t {
	case HashSHA1:
		sum := sha1.Sum(blob)
		return sum[:], nil
	case HashMD5:
		sum := md5.Sum(blob)
		return sum[:], nil
	case HashSHA256:
		sum := sha256.Sum256(blob)
		return sum[:], nil
	}
	return nil, &keyParseError{kind: ErrInvalidKey, err: fmt.Errorf("unknown hash type %d", int(t))}
}

// PublicKeyHashHex returns PublicKeyHash as lowercase hex byte pairs joined by
// colons ("ab:cd:..."), as libssh's ssh_get_hexa prints it. Errors are those
// of PublicKeyHash.
func (k *Key) PublicKeyHashHex(t HashType) (string, error) {
	sum, err := k.PublicKeyHash(t)
	if err != nil {
		return "", err
	}
	return colonHex(sum), nil
}

// Fingerprint returns the SHA-256 fingerprint as OpenSSH prints it
// (ssh-keygen -l): "SHA256:" and the unpadded standard base64 of the digest.
// For a plain key this equals xssh.FingerprintSHA256; for a certificate it is
// the fingerprint of the certified key, as ssh-keygen prints it. It returns ""
// for a nil Key.
func (k *Key) Fingerprint() string {
	sum, err := k.PublicKeyHash(HashSHA256)
	if err != nil {
		return ""
	}
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum)
}

// FingerprintMD5 returns the MD5 fingerprint as ssh-keygen -E md5 -l prints
// it: "MD5:" and lowercase hex byte pairs joined by colons. It returns "" for
// a nil Key.
func (k *Key) FingerprintMD5() string {
	sum, err := k.PublicKeyHash(HashMD5)
	if err != nil {
		return ""
	}
	return "MD5:" + colonHex(sum)
}

// AuthorizedKey returns the key as one authorized_keys line, "type base64",
// without comment or newline. It returns "" for a nil Key.
func (k *Key) AuthorizedKey() string {
	if k.empty() {
		return ""
	}
	return strings.TrimSuffix(string(xssh.MarshalAuthorizedKey(k.pub)), "\n")
}

// Equal reports whether k and o hold the same public key (libssh's
// ssh_key_cmp with SSH_KEY_CMP_PUBLIC); private halves are not compared. A
// certificate is not Equal to the plain key it certifies. Two nil Keys are
// Equal; a nil Key is not Equal to a non-nil one.
func (k *Key) Equal(o *Key) bool {
	if k.empty() || o.empty() {
		return k.empty() == o.empty()
	}
	return bytes.Equal(k.pub.Marshal(), o.pub.Marshal())
}

func (k *Key) empty() bool { return k == nil || k.pub == nil }

// plain returns the key itself, or the certified key of a certificate.
func (k *Key) plain() xssh.PublicKey {
	if cert, ok := k.pub.(*xssh.Certificate); ok && cert.Key != nil {
		return cert.Key
	}
	return k.pub
}

func colonHex(b []byte) string {
	var s strings.Builder
	s.Grow(3 * len(b))
	for i, c := range b {
		if i > 0 {
			s.WriteByte(':')
		}
		s.WriteString(hex.EncodeToString([]byte{c}))
	}
	return s.String()
}

// readKeyFile reads a key file of at most maxKeyFileSize bytes. It stats the
// path before opening it, so that a FIFO (whose open blocks until a writer
// comes), a device such as /dev/zero or a directory is refused at once.
func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &keyParseError{kind: ErrInvalidKey, err: err}
	}
	if err := checkKeyFileInfo(fi); err != nil {
		return nil, &keyParseError{kind: ErrInvalidKey, where: path, err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &keyParseError{kind: ErrInvalidKey, err: err}
	}
	defer f.Close()
	// The path may have been replaced since the Stat; check what was opened.
	fi2, err := f.Stat()
	if err != nil {
		return nil, &keyParseError{kind: ErrInvalidKey, err: err}
	}
	if err := checkKeyFileInfo(fi2); err != nil {
		return nil, &keyParseError{kind: ErrInvalidKey, where: path, err: err}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, &keyParseError{kind: ErrInvalidKey, err: err}
	}
	if len(data) > maxKeyFileSize {
		return nil, &keyParseError{kind: ErrInvalidKey, where: path, err: errors.New("file larger than 1 MiB")}
	}
	return data, nil
}

func checkKeyFileInfo(fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return errors.New("is a directory")
		}
		return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	if fi.Size() > maxKeyFileSize {
		return errors.New("file larger than 1 MiB")
	}
	return nil
}

// parsePrivateKey parses the content of a private key file. where names the
// source in errors ("" for text given by the caller). ctx interrupts the key
// derivation of an encrypted key (bcrypt_pbkdf, PBKDF2); the rest of the
// work is bounded by the size limits of key_rsa_limits.go.
func parsePrivateKey(ctx context.Context, data []byte, passphrase, where string) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, &keyParseError{kind: ErrInvalidKey, where: where, err: errors.New("no PEM-armoured private key found")}
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" {
		// x/crypto does not read encrypted PKCS#8 (what `openssl pkcs8
		// -topk8` and `ssh-keygen -m PKCS8 -N pass` write); libssh does,
		// through OpenSSL.
		return parseEncryptedPKCS8(ctx, block.Bytes, passphrase, where)
	}
	if !strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		if err := checkRSALimits(block.Type, block.Bytes); err != nil {
			return nil, &keyParseError{kind: ErrInvalidKey, where: where, err: err}
		}
	}

	raw, err := xssh.ParseRawPrivateKey(data)
	var missing *xssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == "" {
			return nil, &keyParseError{kind: ErrPassphraseRequired, where: where, err: err}
		}
		raw, err = parseEncryptedPEM(ctx, block, data, passphrase)
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, interruptedKeyError(where, err)
		}
		var limit *keyLimitError
		if errors.As(err, &limit) {
			return nil, &keyParseError{kind: ErrInvalidKey, where: where, err: limit.err}
		}
		if err != nil {
			// OpenSSH keys carry a check value, so x/crypto tells a wrong
			// passphrase apart (x509.IncorrectPasswordError). The legacy
			// PEM encryption has no such check: a wrong passphrase gives
			// noise that may even pass the padding check and then fails as
			// an ASN.1 or x509 error of any kind.
			if errors.Is(err, x509.IncorrectPasswordError) || legacyEncryptedPEM(block) {
				return nil, &keyParseError{kind: ErrPassphraseRequired, where: where, err: err}
			}
			return nil, &keyParseError{kind: ErrInvalidKey, where: where, err: err}
		}
	} else if err != nil {
		return nil, &keyParseError{kind: ErrInvalidKey, where: where, err: err}
	}
	return keyFromRaw(raw, where)
}

// keyLimitError marks a decrypted key refused by the size limits, which
// says that the passphrase was right (noise does not decode as a key).
type keyLimitError struct{ err error }

func (e *keyLimitError) Error() string { return e.err.Error() }

// checkRSALimits applies the RSA size limits to an unencrypted PEM block's
// content, by its type.
func checkRSALimits(pemType string, der []byte) error {
	switch pemType {
	case "RSA PRIVATE KEY":
		return checkPKCS1Limits(der)
	case "PRIVATE KEY":
		return checkPKCS8Limits(der)
	case "OPENSSH PRIVATE KEY":
		return checkOpenSSHLimits(der)
	}
	return nil
}

// parseEncryptedPEM decrypts and parses an encrypted OpenSSH key or a PEM
// block with the legacy OpenSSL encryption.
func parseEncryptedPEM(ctx context.Context, block *pem.Block, data []byte, passphrase string) (any, error) {
	if block.Type == "OPENSSH PRIVATE KEY" {
		// x/crypto's own decryption cannot be interrupted; ours can, and
		// hands x/crypto the decrypted key.
		plain, err := decryptOpenSSHKey(ctx, block.Bytes, passphrase)
		if err != nil {
			return nil, err
		}
		if err := checkOpenSSHLimits(plain); err != nil {
			return nil, &keyLimitError{err}
		}
		return xssh.ParseRawPrivateKey(pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: plain}))
	}
	if block.Type == "RSA PRIVATE KEY" && x509.IsEncryptedPEMBlock(block) {
		// Decrypting costs one MD5 (EVP_BytesToKey), so decrypting twice
		// to check the sizes before x/crypto parses costs nothing.
		// DecryptPEMBlock is deprecated because the scheme is weak, not
		// wrong; x/crypto decrypts these files with it too.
		if der, err := x509.DecryptPEMBlock(block, []byte(passphrase)); err == nil {
			if err := checkPKCS1Limits(der); err != nil {
				return nil, &keyLimitError{err}
			}
		}
	}
	return xssh.ParseRawPrivateKeyWithPassphrase(data, []byte(passphrase))
}

// interruptedKeyError reports a key derivation that ctx ended.
func interruptedKeyError(where string, err error) error {
	if where == "" {
		return fmt.Errorf("ssh: decrypting key: %w", err)
	}
	return fmt.Errorf("ssh: decrypting %s: %w", where, err)
}

// legacyEncryptedPEM reports whether block uses OpenSSL's traditional PEM
// encryption (RFC 1421 Proc-Type and DEK-Info headers) with a cipher that
// x/crypto decrypts, on a key type it then parses.
func legacyEncryptedPEM(block *pem.Block) bool {
	switch block.Type {
	case "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY":
	default:
		return false
	}
	if !strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return false
	}
	alg, _, _ := strings.Cut(block.Headers["DEK-Info"], ",")
	switch alg {
	case "DES-CBC", "DES-EDE3-CBC", "AES-128-CBC", "AES-192-CBC", "AES-256-CBC":
		return true
	}
	return false
}

func keyFromRaw(raw any, where string) (*Key, error) {
	s, err := xssh.NewSignerFromKey(raw)
	if err != nil {
		return nil, &keyParseError{kind: ErrInvalidKey, where: where, err: err}
	}
	return &Key{pub: s.PublicKey(), signer: s}, nil
}

// Encrypted PKCS#8 (RFC 5208 §6) with PBES2 (RFC 8018 §6.2): PBKDF2 and a CBC
// cipher. These are what OpenSSL writes by default; PKCS#12-style PBES1
// schemes and scrypt are not supported.
var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

// maxPBKDF2Iterations bounds the work a key file can ask for, as x/crypto
// bounds bcrypt rounds: OpenSSL writes 2048, and a few million take seconds
// (this maximum about 4 s with HMAC-SHA1, which ctx interrupts).
const maxPBKDF2Iterations = 1 << 23

type pkcs8AlgorithmID struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type pkcs8Encrypted struct {
	Algorithm pkcs8AlgorithmID
	Data      []byte
}

type pbes2Parameters struct {
	KDF    pkcs8AlgorithmID
	Cipher pkcs8AlgorithmID
}

type pbkdf2Parameters struct {
	Salt       []byte
	Iterations int
	KeyLength  int              `asn1:"optional"`
	PRF        pkcs8AlgorithmID `asn1:"optional"`
}

func parseEncryptedPKCS8(ctx context.Context, der []byte, passphrase, where string) (*Key, error) {
	invalid := func(err error) error {
		return &keyParseError{kind: ErrInvalidKey, where: where, err: fmt.Errorf("encrypted PKCS#8: %w", err)}
	}
	var enc pkcs8Encrypted
	if rest, err := asn1.Unmarshal(der, &enc); err != nil {
		return nil, invalid(err)
	} else if len(rest) > 0 {
		return nil, invalid(errors.New("trailing data"))
	}
	if !enc.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, invalid(fmt.Errorf("unsupported encryption scheme %v", enc.Algorithm.Algorithm))
	}
	var params pbes2Parameters
	if _, err := asn1.Unmarshal(enc.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, invalid(err)
	}
	if !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, invalid(fmt.Errorf("unsupported key derivation %v", params.KDF.Algorithm))
	}
	var kdf pbkdf2Parameters
	if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil {
		return nil, invalid(err)
	}
	if kdf.Iterations < 1 || kdf.Iterations > maxPBKDF2Iterations {
		return nil, invalid(fmt.Errorf("PBKDF2 iteration count %d out of range [1, %d]", kdf.Iterations, maxPBKDF2Iterations))
	}
	var prf func() hash.Hash
	switch alg := kdf.PRF.Algorithm; {
	case len(alg) == 0, alg.Equal(oidHMACSHA1): // RFC 8018 §A.2: the default
		prf = sha1.New
	case alg.Equal(oidHMACSHA224):
		prf = sha256.New224
	case alg.Equal(oidHMACSHA256):
		prf = sha256.New
	case alg.Equal(oidHMACSHA384):
		prf = sha512.New384
	case alg.Equal(oidHMACSHA512):
		prf = sha512.New
	default:
		return nil, invalid(fmt.Errorf("unsupported PBKDF2 PRF %v", alg))
	}

	var keyLen int
	var newCipher func([]byte) (cipher.Block, error)
	switch alg := params.Cipher.Algorithm; {
	case alg.Equal(oidAES128CBC):
		keyLen, newCipher = 16, aes.NewCipher
	case alg.Equal(oidAES192CBC):
		keyLen, newCipher = 24, aes.NewCipher
	case alg.Equal(oidAES256CBC):
		keyLen, newCipher = 32, aes.NewCipher
	case alg.Equal(oidDESEDE3CBC):
		keyLen, newCipher = 24, des.NewTripleDESCipher
	default:
		return nil, invalid(fmt.Errorf("unsupported cipher %v", alg))
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, invalid(fmt.Errorf("PBKDF2 key length %d does not fit the cipher", kdf.KeyLength))
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Cipher.Parameters.FullBytes, &iv); err != nil {
		return nil, invalid(err)
	}

	if passphrase == "" {
		return nil, &keyParseError{kind: ErrPassphraseRequired, where: where, err: errors.New("encrypted PKCS#8 key")}
	}
	key, err := pbkdf2Key(ctx, prf, passphrase, kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, interruptedKeyError(where, err)
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, invalid(err)
	}
	bs := block.BlockSize()
	if len(iv) != bs {
		return nil, invalid(fmt.Errorf("IV of %d bytes for a %d-byte block cipher", len(iv), bs))
	}
	if len(enc.Data) == 0 || len(enc.Data)%bs != 0 {
		return nil, invalid(errors.New("encrypted data is not a whole number of blocks"))
	}
	plain := make([]byte, len(enc.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, enc.Data)

	// With a wrong passphrase the plaintext is noise: the padding (RFC 8018
	// §6.2.1 step 4, PKCS#7) is most likely wrong, and if it happens to be
	// right the DER is not a key.
	wrong := &keyParseError{kind: ErrPassphraseRequired, where: where, err: x509.IncorrectPasswordError}
	n := int(plain[len(plain)-1])
	if n == 0 || n > bs {
		return nil, wrong
	}
	for _, p := range plain[len(plain)-n:] {
		if int(p) != n {
			return nil, wrong
		}
	}
	der = plain[:len(plain)-n]
	var info struct {
		Version    int
		Algorithm  pkcs8AlgorithmID
		PrivateKey []byte
	}
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, wrong
	}
	// The passphrase was right; what fails now is the key itself.
	if err := checkPKCS8Limits(der); err != nil {
		return nil, invalid(err)
	}
	raw, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, invalid(err)
	}
	return keyFromRaw(raw, where)
}
