package ssh

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"slices"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// The transport reads two things off the server's byte stream before
// x/crypto does: the identification line (ServerBanner) and the first
// KEXINIT (Algorithms before the host-key decision). Whatever the stream,
// and however the socket splits it into reads, what they keep is bounded,
// the same for every split, and what a straightforward reading of the
// stream finds.

// chunks splits stream at the offsets splits gives (each byte a step of
// 1–256 bytes), to stand for the reads a socket returns.
func chunks(stream, splits []byte) [][]byte {
	var out [][]byte
	for i := 0; len(stream) > 0; i++ {
		n := len(stream)
		if len(splits) > 0 {
			n = min(int(splits[i%len(splits)])+1, len(stream))
		}
		out, stream = append(out, stream[:n]), stream[n:]
	}
	return out
}

// kexInitPacket frames payload as an unencrypted binary packet (RFC 4253
// §6) with pad bytes of padding.
func kexInitPacket(payload []byte, pad byte) []byte {
	n := 1 + len(payload) + int(pad)
	b := binary.BigEndian.AppendUint32(nil, uint32(n))
	b = append(b, pad)
	b = append(b, payload...)
	return append(b, make([]byte, pad)...)
}

// refKexInit reads the first KEXINIT of stream the plain way: skip the
// lines before the one starting "SSH-" (RFC 4253 §4.2), within
// maxKexInitPrelude bytes, then take one packet of at most
// maxKexInitPacket bytes.
func refKexInit(stream []byte) (kexInitMsg, bool) {
	seen := 0
	for {
		i := bytes.IndexByte(stream, '\n')
		if i < 0 {
			return kexInitMsg{}, false
		}
		line := stream[:i]
		if seen += len(line); seen > maxKexInitPrelude {
			return kexInitMsg{}, false
		}
		stream = stream[i+1:]
		if bytes.HasPrefix(line, []byte("SSH-")) {
			break
		}
	}
	if len(stream) < 5 {
		return kexInitMsg{}, false
	}
	n := binary.BigEndian.Uint32(stream)
	if n < 1 || n > maxKexInitPacket || uint64(len(stream)-4) < uint64(n) || uint32(stream[4])+1 > n {
		return kexInitMsg{}, false
	}
	var msg kexInitMsg
	if gossh.Unmarshal(stream[5:4+n-uint32(stream[4])], &msg) != nil {
		return kexInitMsg{}, false
	}
	return msg, true
}

// FuzzKexInitSniffer: the KEXINIT the sniffer keeps is the one a plain
// reading of the stream finds, whatever the reads; it never holds more
// than a maximum packet; it marshals back to a KEXINIT that reads the
// same; and the agreement run on it only ever picks names both sides list.
func FuzzKexInitSniffer(f *testing.F) {
	msg := kexInitMsg{KexAlgos: []string{"curve25519-sha256", "ext-info-s"}, ServerHostKeyAlgos: []string{"ssh-ed25519", "rsa-sha2-512"},
		CiphersClientServer: []string{"chacha20-poly1305@openssh.com", "aes128-ctr"}, CiphersServerClient: []string{"aes256-gcm@openssh.com"},
		MACsClientServer: []string{"hmac-sha2-256"}, MACsServerClient: []string{"hmac-sha2-512", "umac-64@openssh.com"},
		CompressionClientServer: []string{"none"}, CompressionServerClient: []string{"none", "zlib@openssh.com"}}
	kex := gossh.Marshal(&msg)
	for _, seed := range []struct{ stream, splits []byte }{
		{append([]byte("SSH-2.0-OpenSSH_9.2p1\r\n"), kexInitPacket(kex, 4)...), nil},
		{append([]byte("hello\r\nnot yet\nSSH-2.0-Test\r\n"), kexInitPacket(kex, 11)...), []byte{0, 3, 17, 255}},
		{append([]byte("SSH-2.0-x\n"), kexInitPacket(kex[:len(kex)-3], 4)...), []byte{7}}, // cut short
		{append([]byte("SSH-2.0-x\n"), kexInitPacket([]byte{21}, 4)...), nil},             // NEWKEYS first
		{[]byte("SSH-2.0-x\r\n\x7f\xff\xff\xff\x00"), nil},                                // a 2 GiB packet
		{[]byte("SSH-2.0-x\r\n\x00\x00\x00\x05\x09abcd"), nil},                            // padding beyond the packet
		{append(bytes.Repeat([]byte("x"), 300), "\nSSH-2.0-x\n"...), []byte{99}},
	} {
		f.Add(seed.stream, seed.splits)
	}
	ours := kexInitMsg{KexAlgos: []string{"curve25519-sha256", "ecdh-sha2-nistp256"}, ServerHostKeyAlgos: []string{"ssh-ed25519", "rsa-sha2-256"},
		CiphersClientServer: []string{"aes128-gcm@openssh.com", "aes128-ctr"}, CiphersServerClient: []string{"aes128-gcm@openssh.com", "aes128-ctr"},
		MACsClientServer: []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"}, MACsServerClient: []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"}}
	f.Fuzz(func(t *testing.T, stream, splits []byte) {
		var whole, split kexInitSniffer
		whole.feed(stream)
		for _, c := range chunks(stream, splits) {
			split.feed(c)
			if len(split.packet) > 4+maxKexInitPacket {
				t.Fatalf("holds %d bytes of packet", len(split.packet))
			}
		}
		got, ok := whole.result()
		got2, ok2 := split.result()
		want, wantOK := refKexInit(stream)
		if ok != wantOK || ok2 != wantOK || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(got2, want) {
			t.Fatalf("whole: %v %+v\nsplit: %v %+v\nwant:  %v %+v", ok, got, ok2, got2, wantOK, want)
		}
		if !ok {
			return
		}
		if !whole.done.Load() || !split.done.Load() || whole.packet != nil {
			t.Fatal("a KEXINIT was found, but the sniffer is still looking")
		}
		var again kexInitMsg
		if err := gossh.Unmarshal(gossh.Marshal(&got), &again); err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%+v marshals to a KEXINIT read as %+v (%v)", got, again, err)
		}
		neg, agreed := agreeAlgorithms(ours, got)
		for _, pick := range []struct {
			name         string
			client, serv []string
			needed       bool
		}{
			{neg.KeyExchange, ours.KexAlgos, got.KexAlgos, true},
			{neg.HostKey, ours.ServerHostKeyAlgos, got.ServerHostKeyAlgos, true},
			{neg.Write.Cipher, ours.CiphersClientServer, got.CiphersClientServer, true},
			{neg.Read.Cipher, ours.CiphersServerClient, got.CiphersServerClient, true},
			{neg.Write.MAC, ours.MACsClientServer, got.MACsClientServer, !slices.Contains(aeadCiphers, neg.Write.Cipher)},
			{neg.Read.MAC, ours.MACsServerClient, got.MACsServerClient, !slices.Contains(aeadCiphers, neg.Read.Cipher)},
		} {
			if pick.name != "" && (!pick.needed || !slices.Contains(pick.client, pick.name) || !slices.Contains(pick.serv, pick.name)) {
				t.Fatalf("agreed on %q, which is not needed or one side does not list: %+v", pick.name, neg)
			}
			if pick.name == "" && pick.needed && agreed {
				t.Fatalf("agreement claimed with a name missing: %+v", neg)
			}
		}
	})
}

// refVersion is the identification line x/crypto reads (transport.go,
// readVersion): the first line starting "SSH-", without its line end, and
// the offset where that line ends.
func refVersion(stream []byte) (version string, end int, found bool) {
	for {
		i := bytes.IndexByte(stream[end:], '\n')
		if i < 0 {
			return "", 0, false
		}
		if line := stream[end : end+i]; bytes.HasPrefix(line, []byte("SSH-")) {
			return string(bytes.TrimRight(line, "\r")), end + i, true
		}
		end += i + 1
	}
}

// FuzzVersionLine: the identification line the transport records is the
// first line starting "SSH-" or nothing, never another line; it is bounded
// by the prelude limit plus one read; and for a stream x/crypto accepts
// (lines of at most 255 bytes, RFC 4253 §4.2) it is found whatever the
// reads. fill repeated reps times comes first, to reach the limits.
func FuzzVersionLine(f *testing.F) {
	f.Add([]byte(nil), uint16(0), []byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n\x00\x00\x01\x14\x0a\x14"), []byte{3})
	f.Add([]byte("banner line\r\n"), uint16(20), []byte("SSH-2.0-dropbear_2022.83\r\n"), []byte{0, 1, 2})
	f.Add([]byte("xx"), uint16(maxVersionPrelude/2+1), []byte("\nSSH-2.0-late\n"), []byte{255})
	f.Add([]byte("SSH-"), uint16(3), []byte("SSH-1.99-x\r\r\n"), []byte(nil))
	f.Add([]byte(nil), uint16(0), []byte("SSH-2.0-no line end"), []byte{9})
	f.Fuzz(func(t *testing.T, fill []byte, reps uint16, rest, splits []byte) {
		if len(fill)*int(reps) > 1<<20 {
			return
		}
		stream := append(bytes.Repeat(fill, int(reps)), rest...)
		var whole, split transport
		whole.scan(stream)
		maxChunk := 0
		for _, c := range chunks(stream, splits) {
			split.scan(c)
			maxChunk = max(maxChunk, len(c))
			if len(split.prelude) > maxVersionPrelude+maxChunk {
				t.Fatalf("holds %d bytes of prelude", len(split.prelude))
			}
		}
		want, end, found := refVersion(stream)
		for name, tr := range map[string]*transport{"whole": &whole, "split": &split} {
			if tr.version != "" && tr.version != want {
				t.Fatalf("%s: recorded %q, the stream's version line is %q", name, tr.version, want)
			}
			if tr.version != "" && !tr.versionDone.Load() {
				t.Fatalf("%s: recorded %q but still looking", name, tr.version)
			}
		}
		if len(split.version) > maxVersionPrelude+maxChunk {
			t.Fatalf("a %d-byte version line", len(split.version))
		}
		// x/crypto's readVersion: at most 255 bytes a line, 1024 lines.
		accepted := found
		if found {
			lines := bytes.Split(stream[:end], []byte("\n"))
			accepted = len(lines) <= 1024
			for _, l := range lines {
				accepted = accepted && len(l) <= 255
			}
		}
		if accepted && (whole.version != want || split.version != want) {
			t.Fatalf("a line x/crypto accepts: want %q; whole read %q, split %q", want, whole.version, split.version)
		}
	})
}
