package ssh

import (
	"errors"
	"testing"

	"github.com/libssh-go/libssh/internal/interop"
	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// algorithmCases are client preferences that make the negotiation differ
// from the defaults in each field.
var algorithmCases = []struct {
	name string
	opts []Option
}{
	{"defaults", nil},
	{"ctr and etm", []Option{CiphersCS("aes128-ctr"), HmacCS("hmac-sha2-512-etm@openssh.com")}},
	{"chacha20", []Option{CiphersCS("chacha20-poly1305@openssh.com")}},
	{"curve25519 and rsa", []Option{KeyExchange("curve25519-sha256"), HostKeys("rsa-sha2-256")}},
	{"ecdh and ecdsa", []Option{KeyExchange("ecdh-sha2-nistp256"), HostKeys("ecdsa-sha2-nistp256"), HmacCS("hmac-sha2-256")}},
}

// checkAlgorithmsAtHostKeyTime: while the handshake waits for the host-key
// decision (what libssh programs print right after ssh_connect), Algorithms
// already reports the negotiation, and it is the one x/crypto reports once
// authentication starts.
func checkAlgorithmsAtHostKeyTime(t *testing.T, s *Session, login func() error) {
	t.Helper()
	early, err := s.Algorithms()
	if err != nil {
		t.Fatalf("Algorithms before the host-key decision: %v", err)
	}
	if early.KeyExchange == "" || early.HostKey == "" || early.CipherCS == "" || early.CipherSC == "" {
		t.Fatalf("Algorithms before the host-key decision: %+v", early)
	}
	if err := login(); err != nil {
		t.Fatal(err)
	}
	late, err := s.Algorithms()
	if err != nil || late != early {
		t.Fatalf("at host-key time %+v; after authentication started %+v, %v", early, late, err)
	}
}

func TestAlgorithmsBeforeTheHostKeyDecision(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	if _, err := NewSession().Algorithms(); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("before Connect: %v", err)
	}
	for _, tc := range algorithmCases {
		t.Run(tc.name, func(t *testing.T) {
			s := dialSession(t, srv, "u", tc.opts...)
			checkAlgorithmsAtHostKeyTime(t, s, func() error {
				if err := s.AcceptHostKey(); err != nil {
					return err
				}
				_, err := s.UserauthNone(testCtx(t), "")
				return err
			})
		})
	}
}

func TestInteropAlgorithmsBeforeTheHostKeyDecision(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	for _, tc := range algorithmCases {
		t.Run(tc.name, func(t *testing.T) {
			s := khInteropSession(t, env, env.KnownHostsFile, tc.opts...)
			checkAlgorithmsAtHostKeyTime(t, s, func() error {
				if st, err := s.IsKnownServer(); st != KnownHostsOK || err != nil {
					t.Fatalf("IsKnownServer = %v, %v", st, err)
				}
				st, err := khInteropLogin(t, env, s)
				if st != AuthSuccess {
					t.Fatalf("login = %v, %v", st, err)
				}
				return err
			})
		})
	}
}

// TestKexInitSniffer feeds the two directions of a handshake byte by byte
// and in one piece, with lines before the server's version, and checks
// what is refused: a packet announcing more than the bound, and a first
// packet that is not a KEXINIT.
func TestKexInitSniffer(t *testing.T) {
	msg := kexInitMsg{KexAlgos: []string{"curve25519-sha256"}, ServerHostKeyAlgos: []string{"ssh-ed25519"},
		CiphersClientServer: []string{"aes128-ctr"}, CiphersServerClient: []string{"aes256-ctr"},
		MACsClientServer: []string{"hmac-sha2-256"}, MACsServerClient: []string{"hmac-sha2-512"},
		CompressionClientServer: []string{"none"}, CompressionServerClient: []string{"none"}}
	packet := func(payload []byte) []byte {
		pad := 8 - (5+len(payload))%8 + 8
		n := 1 + len(payload) + pad
		b := []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), byte(pad)}
		b = append(b, payload...)
		return append(b, make([]byte, pad)...)
	}
	stream := append([]byte("hello\r\nnot yet\nSSH-2.0-Test\r\n"), packet(gossh.Marshal(&msg))...)
	stream = append(stream, "rest of the stream"...)

	var whole kexInitSniffer
	whole.feed(stream)
	var bytewise kexInitSniffer
	for i := range stream {
		bytewise.feed(stream[i : i+1])
	}
	for name, k := range map[string]*kexInitSniffer{"whole": &whole, "byte by byte": &bytewise} {
		got, ok := k.result()
		if !ok || got.CiphersServerClient[0] != "aes256-ctr" || got.MACsServerClient[0] != "hmac-sha2-512" {
			t.Errorf("%s: %+v, %v", name, got, ok)
		}
	}

	var huge kexInitSniffer
	huge.feed([]byte("SSH-2.0-x\r\n\x7f\xff\xff\xff\x00"))
	if _, ok := huge.result(); ok || !huge.done.Load() {
		t.Errorf("a 2 GiB packet was not refused")
	}
	var notKex kexInitSniffer
	notKex.feed(append([]byte("SSH-2.0-x\r\n"), packet([]byte{21})...))
	if _, ok := notKex.result(); ok || !notKex.done.Load() {
		t.Errorf("a NEWKEYS packet was taken for a KEXINIT")
	}
	var noVersion kexInitSniffer
	for range 100 {
		noVersion.feed(make([]byte, 1024))
	}
	if !noVersion.done.Load() {
		t.Errorf("100 KiB without a version line: still looking")
	}
}
