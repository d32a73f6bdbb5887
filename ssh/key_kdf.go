package ssh

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/blowfish"
	xssh "golang.org/x/crypto/ssh"
)

// The key derivations of encrypted key files, written here rather than
// taken from x/crypto (whose bcrypt_pbkdf is internal) or crypto/pbkdf2
// because they must stop when asked: both are loops of thousands to
// millions of steps whose count the file chooses, and a Userauth call must
// be able to give up on one at its ctx, and Disconnect must not wait for it.
// Each checks ctx between rounds, so a cancelled derivation ends within one
// round (about 10 ms of bcrypt, well under 1 ms of PBKDF2).

// maxBcryptRounds bounds the bcrypt_pbkdf rounds an OpenSSH-format key file
// may ask for. ssh-keygen writes 16 by default (-a); OpenSSH itself has no
// upper bound. This is x/crypto's cap (keys.go,
// passphraseProtectedOpenSSHKey), kept here so that every key x/crypto
// reads, this library reads: 128 times the default, about 20 s of one
// core, which only a call without a ctx (ParsePrivateKeyFile) can be made
// to wait for.
const maxBcryptRounds = 2048

// bcryptPBKDF is OpenBSD's bcrypt_pbkdf(3) (the KDF of OpenSSH's key format,
// PROTOCOL.key): PBKDF2's structure with SHA-512 hashing and a bcrypt-based
// core, whose output bytes are spread across the blocks rather than
// concatenated. It returns ctx's error when ctx ends first.
func bcryptPBKDF(ctx context.Context, password, salt []byte, rounds, keyLen int) ([]byte, error) {
	if rounds < 1 || len(password) == 0 || len(salt) == 0 || keyLen <= 0 || keyLen > bcryptHashSize*bcryptHashSize || len(salt) > 1<<20 {
		return nil, errors.New("bcrypt_pbkdf: invalid parameters")
	}
	stride := (keyLen + bcryptHashSize - 1) / bcryptHashSize
	amount := (keyLen + stride - 1) / stride
	key := make([]byte, keyLen)

	sha2pass := sha512.Sum512(password)
	countSalt := make([]byte, len(salt)+4)
	copy(countSalt, salt)
	var out, tmp [bcryptHashSize]byte
	for block := 1; (block-1)*amount < keyLen; block++ {
		binary.BigEndian.PutUint32(countSalt[len(salt):], uint32(block))
		sha2salt := sha512.Sum512(countSalt)
		if err := bcryptHash(&tmp, &sha2pass, &sha2salt); err != nil {
			return nil, err
		}
		out = tmp
		for r := 1; r < rounds; r++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sha2salt = sha512.Sum512(tmp[:])
			if err := bcryptHash(&tmp, &sha2pass, &sha2salt); err != nil {
				return nil, err
			}
			for i := range out {
				out[i] ^= tmp[i]
			}
		}
		// Byte i of this block's output goes to key[i*stride + block-1].
		for i := 0; i < amount; i++ {
			dest := i*stride + block - 1
			if dest >= keyLen {
				break
			}
			key[dest] = out[i]
		}
	}
	return key, nil
}

const bcryptHashSize = 32

// bcryptMagic is what bcrypt_hash encrypts, as in OpenBSD's bcrypt_pbkdf.c.
var bcryptMagic = []byte("OxychromaticBlowfishSwatDynamite")

// bcryptHash is bcrypt_pbkdf's core: an expensive Blowfish key schedule of
// the hashed password and salt (64 alternating expansions), then 64
// encryptions of the magic text, written out as little-endian 32-bit words.
func bcryptHash(out *[bcryptHashSize]byte, sha2pass, sha2salt *[sha512.Size]byte) error {
	c, err := blowfish.NewSaltedCipher(sha2pass[:], sha2salt[:])
	if err != nil {
		return err
	}
	for range 64 {
		blowfish.ExpandKey(sha2salt[:], c)
		blowfish.ExpandKey(sha2pass[:], c)
	}
	// Blowfish_stream2word reads the magic as big-endian words, which is
	// the byte order Cipher.Encrypt takes its 64-bit blocks in.
	copy(out[:], bcryptMagic)
	for range 64 {
		for i := 0; i < bcryptHashSize; i += blowfish.BlockSize {
			c.Encrypt(out[i:i+blowfish.BlockSize], out[i:i+blowfish.BlockSize])
		}
	}
	for i := 0; i < bcryptHashSize; i += 4 {
		binary.LittleEndian.PutUint32(out[i:], binary.BigEndian.Uint32(out[i:]))
	}
	return nil
}

// pbkdf2Key is PBKDF2 (RFC 8018 §5.2) with HMAC over h, as crypto/pbkdf2.Key,
// but it returns ctx's error when ctx ends first.
func pbkdf2Key(ctx context.Context, h func() hash.Hash, password string, salt []byte, iter, keyLen int) ([]byte, error) {
	prf := hmac.New(h, []byte(password))
	hashLen := prf.Size()
	blocks := (keyLen + hashLen - 1) / hashLen
	key := make([]byte, 0, blocks*hashLen)
	var counter [4]byte
	u := make([]byte, 0, hashLen)
	t := make([]byte, hashLen)
	for block := 1; block <= blocks; block++ {
		// U_1 = PRF(P, S || INT(i)); U_j = PRF(P, U_{j-1}); T_i = U_1 ^ ... ^ U_c
		prf.Reset()
		prf.Write(salt)
		binary.BigEndian.PutUint32(counter[:], uint32(block))
		prf.Write(counter[:])
		u = prf.Sum(u[:0])
		copy(t, u)
		for n := 2; n <= iter; n++ {
			if n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			prf.Reset()
			prf.Write(u)
			u = prf.Sum(u[:0])
			for i := range t {
				t[i] ^= u[i]
			}
		}
		key = append(key, t...)
	}
	return key[:keyLen], nil
}

// decryptOpenSSHKey decrypts an encrypted OpenSSH-format key (the bytes of
// an "OPENSSH PRIVATE KEY" PEM block) and returns the same key unencrypted,
// in the same format, for x/crypto's parser to read; a derivation ctx
// interrupts returns ctx's error. The ciphers are x/crypto's (aes256-ctr,
// ssh-keygen's default, and aes256-cbc). A wrong passphrase is reported as
// x509.IncorrectPasswordError, as x/crypto does: the decrypted block starts
// with two equal random check words (PROTOCOL.key), which noise does not.
func decryptOpenSSHKey(ctx context.Context, data []byte, passphrase string) ([]byte, error) {
	if len(data) < len(opensshKeyMagic) || string(data[:len(opensshKeyMagic)]) != opensshKeyMagic {
		return nil, errors.New("invalid OpenSSH private key format")
	}
	var env opensshKeyEnvelope
	if err := xssh.Unmarshal(data[len(opensshKeyMagic):], &env); err != nil {
		return nil, err
	}
	if env.KdfName != "bcrypt" {
		return nil, fmt.Errorf("unknown KDF %q, only bcrypt is supported", env.KdfName)
	}
	var opts struct {
		Salt   string
		Rounds uint32
	}
	if err := xssh.Unmarshal([]byte(env.KdfOpts), &opts); err != nil {
		return nil, fmt.Errorf("bcrypt KDF options: %w", err)
	}
	if opts.Rounds > maxBcryptRounds {
		return nil, fmt.Errorf("bcrypt KDF rounds %d exceed the limit of %d", opts.Rounds, maxBcryptRounds)
	}
	if env.CipherName != "aes256-ctr" && env.CipherName != "aes256-cbc" {
		return nil, fmt.Errorf("unknown cipher %q, only aes256-ctr and aes256-cbc are supported", env.CipherName)
	}
	if len(env.PrivKeyBlock)%aes.BlockSize != 0 {
		return nil, errors.New("encrypted private key is not a whole number of blocks")
	}
	k, err := bcryptPBKDF(ctx, []byte(passphrase), []byte(opts.Salt), int(opts.Rounds), 32+aes.BlockSize)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k[:32])
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(env.PrivKeyBlock))
	if env.CipherName == "aes256-ctr" {
		cipher.NewCTR(block, k[32:]).XORKeyStream(plain, env.PrivKeyBlock)
	} else {
		cipher.NewCBCDecrypter(block, k[32:]).CryptBlocks(plain, env.PrivKeyBlock)
	}
	if len(plain) < 8 || binary.BigEndian.Uint32(plain) != binary.BigEndian.Uint32(plain[4:]) {
		return nil, x509.IncorrectPasswordError
	}
	env.CipherName, env.KdfName, env.KdfOpts, env.PrivKeyBlock = "none", "none", "", plain
	return append([]byte(opensshKeyMagic), xssh.Marshal(&env)...), nil
}
