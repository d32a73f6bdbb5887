package sshtest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"

	"golang.org/x/crypto/curve25519"
)

// How the server sends packets x/crypto's server API cannot send.
//
// x/crypto's server never sends SSH_MSG_UNIMPLEMENTED and always sends
// SSH_MSG_EXT_INFO to a client that asks for it, and everything after the
// key exchange is encrypted, so a plain wrapper around the connection cannot
// change a packet. rewriteConn gets the session keys instead: the server's
// randomness is a constant (rewriteRand), so the wrapper knows the server's
// X25519 scalar, and it sees everything else the key exchange hashes (both
// version lines, both KEXINITs, both public values, the host key) go by in
// the clear. From them it derives the keys exactly as both peers do (RFC
// 4253 §7.2, RFC 8731), decrypts every packet in both directions, drops or
// adds packets, and encrypts the result again with its own packet counters,
// so neither peer notices. The key exchange and cipher are pinned to
// curve25519-sha256 and aes128-gcm@openssh.com (RFC 5647), whose length
// field is in the clear, to keep the wrapper small; a re-key ends the
// connection. Only test servers that ask for Config.GlobalRequestsUnimplemented
// or Config.NoExtInfo run this way: a constant randomness makes no secret.

// Pinned algorithms of a rewritten connection.
const (
	rewriteKex    = "curve25519-sha256"
	rewriteCipher = "aes128-gcm@openssh.com"
)

// rewriteRand is the server's randomness when packets are rewritten: every
// byte is rewriteByte, so the X25519 scalar it draws is known.
type rewriteRand struct{}

const rewriteByte = 0x5a

func (rewriteRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = rewriteByte
	}
	return len(p), nil
}

// SSH message numbers the wrapper looks at (RFC 4253 §12, RFC 4254 §9, RFC 8308).
const (
	msgUnimplemented = 3
	msgExtInfo       = 7
	msgKexInit       = 20
	msgNewKeys       = 21
	msgKexECDHInit   = 30
	msgKexECDHReply  = 31
	msgGlobalRequest = 80
)

// maxRewritePacket bounds a packet the wrapper buffers (x/crypto's own limit
// is 256 KiB).
const maxRewritePacket = 256 << 10

const gcmTagSize = 16

var errRewrite = errors.New("sshtest: packet rewriter")

// rewriteConn sits between x/crypto's server and the client's connection.
// Read is called only by x/crypto's reader goroutine; Write by its writers,
// serialised with the packets Read injects by mu.
type rewriteConn struct {
	net.Conn
	srv           *Server
	unimplemented bool // drop global requests, answer SSH_MSG_UNIMPLEMENTED
	dropExtInfo   bool // drop SSH_MSG_EXT_INFO
	fromClient    stream
	fromServer    stream
	rbuf, ready   []byte // Read side: bytes from the client not parsed yet, rewritten bytes not read yet
	wbuf          []byte // Write side: bytes from x/crypto not parsed yet
	mu            sync.Mutex
	kex           kexRecord
}

// stream is one direction's state.
type stream struct {
	versionDone bool
	seq         uint32 // sequence number of the next packet as sent (RFC 4253 §6.4)
	newKeys     bool   // this direction's NEWKEYS went by: the next packet is encrypted
	open, seal  gcmState
}

// gcmState is one AES-GCM packet counter (RFC 5647 §7.1).
type gcmState struct {
	aead cipher.AEAD
	iv   [12]byte
}

func (g *gcmState) next() {
	for i := 11; i >= 4; i-- {
		g.iv[i]++
		if g.iv[i] != 0 {
			break
		}
	}
}

// kexRecord is what the exchange hash covers, collected from both directions.
type kexRecord struct {
	vc, vs, ic, is, ks, qc, qs []byte
	strict                     bool // strict KEX (OpenSSH PROTOCOL §1.10): sequence numbers restart at NEWKEYS
	keys                       *sessionKeys
}

type sessionKeys struct {
	c2sKey, s2cKey []byte
	c2sIV, s2cIV   []byte
}

func newRewriteConn(s *Server, c net.Conn) *rewriteConn {
	return &rewriteConn{Conn: c, srv: s, unimplemented: s.cfg.GlobalRequestsUnimplemented, dropExtInfo: s.cfg.NoExtInfo}
}

// Read returns the client's bytes, rewritten.
func (r *rewriteConn) Read(p []byte) (int, error) {
	for len(r.ready) == 0 {
		var buf [32 << 10]byte
		n, err := r.Conn.Read(buf[:])
		r.rbuf = append(r.rbuf, buf[:n]...)
		if perr := r.parseFromClient(); perr != nil {
			r.Conn.Close()
			return 0, perr
		}
		if len(r.ready) == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(p, r.ready)
	r.ready = r.ready[n:]
	if len(r.ready) == 0 {
		r.ready = nil
	}
	return n, nil
}

// Write takes x/crypto's bytes and forwards them, rewritten, packet by packet.
func (r *rewriteConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wbuf = append(r.wbuf, p...)
	out, err := r.parseFromServerLocked()
	if len(out) > 0 {
		if _, werr := r.Conn.Write(out); werr != nil {
			return 0, werr
		}
	}
	if err != nil {
		r.Conn.Close()
		return 0, err
	}
	return len(p), nil
}

// parseFromClient moves every complete unit of rbuf to ready.
func (r *rewriteConn) parseFromClient() error {
	for {
		if !r.fromClient.versionDone {
			line, rest, ok := cutLine(r.rbuf)
			if !ok {
				return nil
			}
			r.ready = append(r.ready, r.rbuf[:len(r.rbuf)-len(rest)]...)
			r.rbuf = rest
			if bytes.HasPrefix(line, []byte("SSH-")) {
				r.mu.Lock()
				r.kex.vc = line
				r.mu.Unlock()
				r.fromClient.versionDone = true
			}
			continue
		}
		raw, payload, ok, err := r.nextPacket(&r.fromClient, &r.rbuf)
		if err != nil || !ok {
			return err
		}
		seq := r.fromClient.seq
		r.fromClient.seq++
		if err := r.observe(&r.fromClient, payload, true); err != nil {
			return err
		}
		if raw != nil { // clear text: forward as it came
			r.ready = append(r.ready, raw...)
			continue
		}
		if payload[0] == msgGlobalRequest && r.unimplemented {
			r.recordGlobalRequest(payload)
			// RFC 4253 §11.4: uint32 sequence number of the rejected message.
			if err := r.inject(append([]byte{msgUnimplemented}, binary.BigEndian.AppendUint32(nil, seq)...)); err != nil {
				return err
			}
			continue
		}
		r.ready = r.fromClient.sealPacket(r.ready, payload)
	}
}

// parseFromServerLocked returns the rewritten form of every complete unit of wbuf.
func (r *rewriteConn) parseFromServerLocked() ([]byte, error) {
	var out []byte
	for {
		if !r.fromServer.versionDone {
			line, rest, ok := cutLine(r.wbuf)
			if !ok {
				return out, nil
			}
			out = append(out, r.wbuf[:len(r.wbuf)-len(rest)]...)
			r.wbuf = rest
			if bytes.HasPrefix(line, []byte("SSH-")) {
				r.kex.vs = line
				r.fromServer.versionDone = true
			}
			continue
		}
		raw, payload, ok, err := r.nextPacketLocked(&r.fromServer, &r.wbuf)
		if err != nil || !ok {
			return out, err
		}
		r.fromServer.seq++
		if err := r.observeLocked(&r.fromServer, payload, false); err != nil {
			return out, err
		}
		switch {
		case raw != nil:
			out = append(out, raw...)
		case payload[0] == msgExtInfo && r.dropExtInfo:
		default:
			out = r.fromServer.sealPacket(out, payload)
		}
	}
}

// inject sends payload to the client as a packet of the server's.
func (r *rewriteConn) inject(payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.fromServer.newKeys {
		return fmt.Errorf("%w: a packet to inject before the server's NEWKEYS", errRewrite)
	}
	_, err := r.Conn.Write(r.fromServer.sealPacket(nil, payload))
	return err
}

func (r *rewriteConn) nextPacket(st *stream, buf *[]byte) (raw, payload []byte, ok bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nextPacketLocked(st, buf)
}

// nextPacketLocked takes one packet off buf. In the clear it returns the
// packet's bytes as raw too; once encrypted, raw is nil.
func (r *rewriteConn) nextPacketLocked(st *stream, buf *[]byte) (raw, payload []byte, ok bool, err error) {
	b := *buf
	if len(b) < 4 {
		return nil, nil, false, nil
	}
	length := int(binary.BigEndian.Uint32(b))
	if length < 5 || length > maxRewritePacket {
		return nil, nil, false, fmt.Errorf("%w: packet length %d", errRewrite, length)
	}
	total := 4 + length
	if st.newKeys {
		total += gcmTagSize
	}
	if len(b) < total {
		return nil, nil, false, nil
	}
	pkt := b[:total]
	*buf = b[total:]
	var plain []byte
	if st.newKeys {
		plain, err = st.open.aead.Open(nil, st.open.iv[:], pkt[4:], pkt[:4])
		if err != nil {
			return nil, nil, false, fmt.Errorf("%w: decrypting: %w", errRewrite, err)
		}
		st.open.next()
	} else {
		plain = pkt[4:]
		raw = append([]byte(nil), pkt...)
	}
	pad := int(plain[0])
	if 1+pad >= len(plain) {
		return nil, nil, false, fmt.Errorf("%w: padding %d in a packet of %d", errRewrite, pad, len(plain))
	}
	return raw, append([]byte(nil), plain[1:len(plain)-pad]...), true, nil
}

func (r *rewriteConn) observe(st *stream, payload []byte, client bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.observeLocked(st, payload, client)
}

// observeLocked records what the key exchange hashes and switches a
// direction to encryption at its NEWKEYS.
func (r *rewriteConn) observeLocked(st *stream, payload []byte, client bool) error {
	k := &r.kex
	switch payload[0] {
	case msgKexInit:
		if k.keys != nil {
			return fmt.Errorf("%w: re-keying is not supported", errRewrite)
		}
		if client {
			k.ic = payload
		} else {
			k.is = payload
		}
		if k.ic != nil && k.is != nil {
			k.strict = nameListHas(k.ic, "kex-strict-c-v00@openssh.com") && nameListHas(k.is, "kex-strict-s-v00@openssh.com")
		}
	case msgKexECDHInit:
		if q, ok := sshString(payload[1:]); ok && client {
			k.qc = q
		}
	case msgKexECDHReply:
		if client {
			break
		}
		ks, rest, ok1 := cutString(payload[1:])
		qs, _, ok2 := cutString(rest)
		if !ok1 || !ok2 {
			return fmt.Errorf("%w: malformed KEX_ECDH_REPLY", errRewrite)
		}
		k.ks, k.qs = ks, qs
		keys, err := k.derive()
		if err != nil {
			return err
		}
		k.keys = keys
	case msgNewKeys:
		if k.keys == nil {
			return fmt.Errorf("%w: NEWKEYS before the key exchange", errRewrite)
		}
		key, iv := k.keys.s2cKey, k.keys.s2cIV
		if client {
			key, iv = k.keys.c2sKey, k.keys.c2sIV
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return err
		}
		st.open.aead, st.seal.aead = aead, aead
		copy(st.open.iv[:], iv)
		copy(st.seal.iv[:], iv)
		st.newKeys = true
		if k.strict {
			st.seq = 0
		}
	}
	return nil
}

// derive computes the exchange hash and the session keys (RFC 8731 §3.1,
// RFC 4253 §7.2).
func (k *kexRecord) derive() (*sessionKeys, error) {
	if k.vc == nil || k.vs == nil || k.ic == nil || k.is == nil || k.qc == nil {
		return nil, fmt.Errorf("%w: incomplete key exchange", errRewrite)
	}
	// The server offers only rewriteKex (serverConfig), so it is what
	// was negotiated if anything was.
	if !nameListHas(k.is, rewriteKex) {
		return nil, fmt.Errorf("%w: the server does not offer %s", errRewrite, rewriteKex)
	}
	var priv [32]byte
	for i := range priv {
		priv[i] = rewriteByte
	}
	pub, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pub, k.qs) {
		return nil, fmt.Errorf("%w: the server's X25519 key is not drawn from rewriteRand", errRewrite)
	}
	secret, err := curve25519.X25519(priv[:], k.qc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRewrite, err)
	}
	K := mpint(new(big.Int).SetBytes(secret))
	h := sha256.New()
	for _, s := range [][]byte{k.vc, k.vs, k.ic, k.is, k.ks, k.qc, k.qs} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
		h.Write(s)
	}
	h.Write(K)
	H := h.Sum(nil)
	derive := func(tag byte, n int) []byte {
		d := sha256.New()
		d.Write(K)
		d.Write(H)
		d.Write([]byte{tag})
		d.Write(H) // the session id: this is the first key exchange
		return d.Sum(nil)[:n]
	}
	return &sessionKeys{
		c2sIV: derive('A', 12), s2cIV: derive('B', 12),
		c2sKey: derive('C', 16), s2cKey: derive('D', 16),
	}, nil
}

// sealPacket appends payload to out as one encrypted packet of this direction.
func (st *stream) sealPacket(out, payload []byte) []byte {
	const block = 16
	pad := block - (1+len(payload))%block
	if pad < 4 {
		pad += block
	}
	plain := make([]byte, 0, 1+len(payload)+pad)
	plain = append(plain, byte(pad))
	plain = append(plain, payload...)
	plain = append(plain, make([]byte, pad)...)
	prefix := binary.BigEndian.AppendUint32(nil, uint32(len(plain)))
	out = append(out, prefix...)
	out = st.seal.aead.Seal(out, st.seal.iv[:], plain, prefix)
	st.seal.next()
	return out
}

// recordGlobalRequest records a global request that never reaches x/crypto.
func (r *rewriteConn) recordGlobalRequest(payload []byte) {
	name, rest, ok := cutString(payload[1:])
	if !ok || len(rest) < 1 {
		return
	}
	r.srv.recordGlobalRequest(RequestRecord{
		Type:      string(name),
		WantReply: rest[0] != 0,
		Payload:   append([]byte(nil), rest[1:]...),
	})
}

// cutLine splits off one line ending in LF; line has no CR LF.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, b, false
	}
	return append([]byte(nil), bytes.TrimRight(b[:i], "\r")...), b[i+1:], true
}

func cutString(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return append([]byte(nil), b[4:4+n]...), b[4+n:], true
}

func sshString(b []byte) ([]byte, bool) {
	s, _, ok := cutString(b)
	return s, ok
}

// firstNameList returns a KEXINIT's kex_algorithms (RFC 4253 §7.1).
func firstNameList(kexinit []byte) string {
	if len(kexinit) < 17 {
		return ""
	}
	s, _, _ := cutString(kexinit[17:])
	return string(s)
}

func nameListHas(kexinit []byte, name string) bool {
	for _, n := range strings.Split(firstNameList(kexinit), ",") {
		if n == name {
			return true
		}
	}
	return false
}

// mpint encodes x as an SSH mpint (RFC 4251 §5), length included.
func mpint(x *big.Int) []byte {
	b := x.Bytes()
	if len(b) > 0 && b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}
