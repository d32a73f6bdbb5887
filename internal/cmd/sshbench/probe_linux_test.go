package main

import (
	"slices"
	"testing"
)

// The lines of "ssh -vv" that parseProbe reads, as OpenSSH 9.2 prints them.
const sampleProbe = `debug2: local client KEXINIT proposal
debug2: KEX algorithms: sntrup761x25519-sha512@openssh.com,curve25519-sha256,ext-info-c
debug2: ciphers ctos: chacha20-poly1305@openssh.com,aes128-ctr
debug2: peer server KEXINIT proposal
debug2: KEX algorithms: sntrup761x25519-sha512@openssh.com,curve25519-sha256
debug2: host key algorithms: rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519
debug2: ciphers ctos: chacha20-poly1305@openssh.com,aes128-gcm@openssh.com
debug2: ciphers stoc: chacha20-poly1305@openssh.com,aes128-gcm@openssh.com
debug1: kex: algorithm: sntrup761x25519-sha512@openssh.com
debug1: kex: host key algorithm: ssh-ed25519
debug1: kex: server->client cipher: chacha20-poly1305@openssh.com MAC: <implicit> compression: none
debug1: kex: client->server cipher: chacha20-poly1305@openssh.com MAC: <implicit> compression: none
`

func TestParseProbe(t *testing.T) {
	p := parseProbe(sampleProbe)
	if !slices.Equal(p.serverKex, []string{"sntrup761x25519-sha512@openssh.com", "curve25519-sha256"}) {
		t.Errorf("server kex %q", p.serverKex)
	}
	if !slices.Equal(p.serverCiphers, []string{"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"}) {
		t.Errorf("server ciphers %q", p.serverCiphers)
	}
	want := negotiation{kex: "sntrup761x25519-sha512@openssh.com", hostKey: "ssh-ed25519", cipher: "chacha20-poly1305@openssh.com"}
	if p.negotiation != want {
		t.Errorf("negotiated %+v, want %+v", p.negotiation, want)
	}
	if got := (negotiation{kex: "k"}).String(); got != "k, ?, ?" {
		t.Errorf("String() = %q", got)
	}
}

func TestCountsAndPattern(t *testing.T) {
	if err := checkUpload([]byte("  1024\n"), 1024); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"1023\n", "", "x"} {
		if checkUpload([]byte(bad), 1024) == nil {
			t.Errorf("checkUpload(%q) passed", bad)
		}
	}
	p := newPattern(100000)
	var w countingWriter
	buf := make([]byte, 7777)
	for {
		n, err := p.Read(buf)
		_, _ = w.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if w.n != 100000 {
		t.Errorf("pattern gave %d bytes", w.n)
	}
}
