package ssh

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"

	gossh "golang.org/x/crypto/ssh"
)

// x/crypto hands the negotiated algorithms to nobody until authentication
// starts: HostKeyCallback gets (host, address, key) only, the first place
// they appear is ClientAuthContext.Algorithms (after the host key was
// accepted and "none" answered), and Conn's AlgorithmsConnMetadata exists
// only after authentication. libssh programs print them right after
// ssh_connect, before deciding about the host key. So the transport keeps
// the first KEXINIT of each direction as it passes (both are sent in the
// clear, RFC 4253 §7.1), and Algorithms applies the RFC's agreement to them
// until x/crypto reports its own result.

// kexInitMsg is the SSH_MSG_KEXINIT payload (RFC 4253 §7.1), as
// gossh.Unmarshal reads it.
type kexInitMsg struct {
	Cookie                  [16]byte `sshtype:"20"`
	KexAlgos                []string
	ServerHostKeyAlgos      []string
	CiphersClientServer     []string
	CiphersServerClient     []string
	MACsClientServer        []string
	MACsServerClient        []string
	CompressionClientServer []string
	CompressionServerClient []string
	LanguagesClientServer   []string
	LanguagesServerClient   []string
	FirstKexFollows         bool
	Reserved                uint32
}

const (
	// maxKexInitPrelude bounds the bytes looked at before the version line
	// (maxVersionPrelude is the same bound for the line itself).
	maxKexInitPrelude = maxVersionPrelude
	// maxKexInitPacket bounds the KEXINIT kept: real ones are 1–2 KiB.
	maxKexInitPacket = 64 << 10
)

// kexInitSniffer finds the first binary packet after the identification
// line in one direction of the byte stream and keeps it if it is a
// KEXINIT. It gives up (done, no result) on anything unexpected; it never
// changes the stream. feed may be called from several goroutines.
type kexInitSniffer struct {
	done atomic.Bool // nothing more to look for; checked without the lock

	mu       sync.Mutex
	prelude  int    // bytes seen before the packet
	line     []byte // the start of the current line, up to 4 bytes
	inPacket bool   // the version line is over
	packet   []byte
	msg      *kexInitMsg
}

// feed looks at the next bytes of the stream.
func (k *kexInitSniffer) feed(p []byte) {
	if k.done.Load() || len(p) == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for !k.inPacket && len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if n := min(4-len(k.line), len(chunk)); n > 0 {
			k.line = append(k.line, chunk[:n]...)
		}
		if k.prelude += len(chunk); k.prelude > maxKexInitPrelude {
			k.done.Store(true)
			return
		}
		if i < 0 {
			return
		}
		// RFC 4253 §4.2: lines before the one starting "SSH-" are not
		// part of the protocol.
		k.inPacket = string(k.line) == "SSH-"
		k.line = k.line[:0]
		p = p[i+1:]
	}
	if !k.inPacket {
		return
	}
	if room := 4 + maxKexInitPacket - len(k.packet); len(p) > room {
		p = p[:room]
	}
	k.packet = append(k.packet, p...)
	if len(k.packet) < 5 {
		return
	}
	// RFC 4253 §6: uint32 packet_length, byte padding_length, payload,
	// padding; the first packets have no MAC.
	n := binary.BigEndian.Uint32(k.packet)
	if n > maxKexInitPacket || n < 1 {
		k.finish()
		return
	}
	if uint32(len(k.packet)-4) < n {
		return
	}
	pad := uint32(k.packet[4])
	if pad+1 > n {
		k.finish()
		return
	}
	var msg kexInitMsg
	if err := gossh.Unmarshal(k.packet[5:4+n-pad], &msg); err == nil {
		k.msg = &msg
	}
	k.finish()
}

func (k *kexInitSniffer) finish() {
	k.packet = nil
	k.done.Store(true)
}

// result returns the KEXINIT, if one was seen.
func (k *kexInitSniffer) result() (kexInitMsg, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.msg == nil {
		return kexInitMsg{}, false
	}
	return *k.msg, true
}

// aeadCiphers need no MAC: x/crypto then negotiates none and reports "".
var aeadCiphers = []string{gossh.CipherAES128GCM, gossh.CipherAES256GCM, gossh.CipherChaCha20Poly1305}

// agreeAlgorithms is RFC 4253 §7.1's agreement, as x/crypto's client runs
// it (findAgreedAlgorithms): for each list, the first of the client's names
// that the server also lists; no MAC with an AEAD cipher. ok is false when
// a list has no common name (the handshake then fails anyway).
func agreeAlgorithms(client, server kexInitMsg) (neg gossh.NegotiatedAlgorithms, ok bool) {
	common := func(c, s []string) string {
		for _, name := range c {
			if slices.Contains(s, name) {
				return name
			}
		}
		ok = false
		return ""
	}
	ok = true
	neg.KeyExchange = common(client.KexAlgos, server.KexAlgos)
	neg.HostKey = common(client.ServerHostKeyAlgos, server.ServerHostKeyAlgos)
	neg.Write.Cipher = common(client.CiphersClientServer, server.CiphersClientServer)
	neg.Read.Cipher = common(client.CiphersServerClient, server.CiphersServerClient)
	if !slices.Contains(aeadCiphers, neg.Write.Cipher) {
		neg.Write.MAC = common(client.MACsClientServer, server.MACsClientServer)
	}
	if !slices.Contains(aeadCiphers, neg.Read.Cipher) {
		neg.Read.MAC = common(client.MACsServerClient, server.MACsServerClient)
	}
	return neg, ok
}
