package ssh

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

func TestConnectWithoutHost(t *testing.T) {
	err := NewSession().Connect(context.Background())
	if !errors.Is(err, ErrHostnameRequired) || !strings.Contains(err.Error(), "Hostname required") {
		t.Fatalf("got %v", err)
	}
}

func TestConnectShowsServerIdentity(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{ServerVersion: "SSH-2.0-OpenSSH_9.2p1 Debian-2"})
	s := dialSession(t, srv, "u")
	if !s.IsConnected() {
		t.Fatal("IsConnected false after Connect")
	}
	banner, err := s.ServerBanner()
	if err != nil || banner != "SSH-2.0-OpenSSH_9.2p1 Debian-2" {
		t.Fatalf("ServerBanner = %q, %v", banner, err)
	}
	key, err := s.ServerPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	var match bool
	for _, hk := range srv.HostKeys() {
		if gossh.FingerprintSHA256(hk) == key.Fingerprint() {
			match = true
		}
	}
	if !match {
		t.Fatalf("server key %s is not one of the server's", key.Fingerprint())
	}
	hex, err := key.PublicKeyHashHex(HashSHA256)
	if err != nil || len(hex) != 32*3-1 {
		t.Fatalf("PublicKeyHashHex = %q, %v", hex, err)
	}
	if err := s.Connect(testCtx(t)); !errors.Is(err, ErrAlreadyConnected) {
		t.Fatalf("second Connect: %v", err)
	}
}

func TestConnectTimesOut(t *testing.T) {
	for _, fault := range []sshtest.Fault{sshtest.FaultSilent, sshtest.FaultPartialVersion} {
		t.Run(fault.String(), func(t *testing.T) {
			srv := sshtest.New(t, sshtest.Config{Fault: fault})
			for _, viaOption := range []bool{false, true} {
				s := NewSession()
				opts := []Option{Hostname(srv.Host()), Port(srv.Port())}
				ctx := context.Background()
				if viaOption {
					opts = append(opts, Timeout(300*time.Millisecond))
				} else {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
					defer cancel()
				}
				if err := s.SetOption(opts...); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				err := s.Connect(ctx)
				if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("got %v, want a deadline error", err)
				}
				if el := time.Since(start); el > 10*time.Second {
					t.Fatalf("Connect took %v", el)
				}
				if s.IsConnected() {
					t.Fatal("connected after a failed Connect")
				}
				_ = s.Disconnect()
			}
		})
	}
}

func TestConnectToGarbageFails(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Fault: sshtest.FaultGarbage})
	s := NewSession()
	_ = s.SetOption(Hostname(srv.Host()), Port(srv.Port()))
	if err := s.Connect(testCtx(t)); err == nil {
		t.Fatal("Connect to a non-SSH server succeeded")
	}
	if s.IsConnected() {
		t.Fatal("IsConnected after failure")
	}
}

func TestConnectOverSocketAndBindAddress(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {NoneAuth: true}}})
	raw, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession()
	if err := s.SetOption(Socket(raw), Hostname("ignored.invalid"), User("u")); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	_ = s.AcceptHostKey()
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess || err != nil {
		t.Fatalf("UserauthNone = %v, %v", st, err)
	}

	s2 := dialSession(t, srv, "u", BindAddress("127.0.0.1"))
	if !s2.IsConnected() {
		t.Fatal("BindAddress connect failed")
	}
}

func TestDisconnectAndReconnect(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {NoneAuth: true}}})
	s := acceptedSession(t, srv, "u")
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatalf("second Disconnect: %v", err)
	}
	if s.IsConnected() {
		t.Fatal("still connected")
	}
	if _, err := s.UserauthPassword(testCtx(t), "", "x"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("auth after Disconnect: %v", err)
	}
	if _, err := s.NewChannel(); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("NewChannel after Disconnect: %v", err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	_ = s.AcceptHostKey()
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess || err != nil {
		t.Fatalf("UserauthNone after reconnect = %v, %v", st, err)
	}
}

func TestAlgorithmOptionsTakeEffect(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {NoneAuth: true}}})
	s := acceptedSession(t, srv, "u",
		CiphersCS("aes256-ctr"), CiphersSC("aes256-ctr"), HmacCS("hmac-sha2-512"),
		KeyExchange("ecdh-sha2-nistp384"), HostKeys("ecdsa-sha2-nistp256"))
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess {
		t.Fatalf("auth: %v %v", st, err)
	}
	neg := srv.Negotiated()
	if len(neg) != 1 {
		t.Fatalf("%d handshakes recorded", len(neg))
	}
	got := neg[0]
	if got.Read.Cipher != "aes256-ctr" || got.Write.Cipher != "aes256-ctr" || got.Read.MAC != "hmac-sha2-512" ||
		got.KeyExchange != "ecdh-sha2-nistp384" || got.HostKey != "ecdsa-sha2-nistp256" {
		t.Fatalf("negotiated %+v", got)
	}
	key, _ := s.ServerPublicKey()
	if key.Type() != "ecdsa-sha2-nistp256" {
		t.Fatalf("host key type %s", key.Type())
	}
}

func TestCallsOnUnconnectedSession(t *testing.T) {
	s := NewSession()
	ctx := context.Background()
	if _, err := s.UserauthNone(ctx, ""); !errors.Is(err, ErrNotConnected) {
		t.Errorf("UserauthNone: %v", err)
	}
	if _, err := s.ServerBanner(); !errors.Is(err, ErrNotConnected) {
		t.Errorf("ServerBanner: %v", err)
	}
	if _, err := s.ServerPublicKey(); !errors.Is(err, ErrNotConnected) {
		t.Errorf("ServerPublicKey: %v", err)
	}
	if err := s.AcceptHostKey(); !errors.Is(err, ErrNotConnected) {
		t.Errorf("AcceptHostKey: %v", err)
	}
	if _, err := s.NewChannel(); !errors.Is(err, ErrNotConnected) {
		t.Errorf("NewChannel: %v", err)
	}
	if _, err := s.UserauthList(""); !errors.Is(err, ErrNotConnected) {
		t.Errorf("UserauthList: %v", err)
	}
}

func TestAlgorithmsReportsTheNegotiation(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := acceptedSession(t, srv, "u", CiphersCS("aes128-ctr"), HmacCS("hmac-sha2-512-etm@openssh.com"), KeyExchange("curve25519-sha256"))
	if got, err := s.Algorithms(); err != nil || got.KeyExchange != "curve25519-sha256" {
		t.Fatalf("before none: %+v, %v", got, err)
	}
	if st, _ := s.UserauthNone(testCtx(t), ""); st != AuthDenied {
		t.Fatal(st)
	}
	want := Algorithms{KeyExchange: "curve25519-sha256", HostKey: "ssh-ed25519", CipherCS: "aes128-ctr", CipherSC: "aes128-ctr",
		MacCS: "hmac-sha2-512-etm@openssh.com", MacSC: "hmac-sha2-512-etm@openssh.com"}
	got, err := s.Algorithms()
	if err != nil || got != want {
		t.Fatalf("before auth: %+v, %v", got, err)
	}
	if st, _ := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatal(st)
	}
	if got, err := s.Algorithms(); err != nil || got != want {
		t.Fatalf("after auth: %+v, %v", got, err)
	}
	s2 := acceptedSession(t, srv, "u", CiphersCS("aes256-gcm@openssh.com"))
	_, _ = s2.UserauthNone(testCtx(t), "")
	if got, _ := s2.Algorithms(); got.CipherSC != "aes256-gcm@openssh.com" || got.MacSC != "" {
		t.Fatalf("AEAD: %+v", got)
	}
}
