package ssh

import (
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/libssh-go/libssh/internal/faultrelay"
	"github.com/libssh-go/libssh/internal/interop"
	"github.com/libssh-go/libssh/sshtest"
)

// countingConn counts the bytes read from it, so a test knows the offset
// in the server's stream at which the next server packet starts: during
// authentication the server waits for the client, so once a call returned
// everything it sent has been read.
type countingConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// relayedSession connects through relay over a counting socket, with
// the given cipher and MAC, and accepts the host key.
func relayedSession(t *testing.T, relay *faultrelay.Relay, user string, opts ...Option) (*Session, *countingConn) {
	t.Helper()
	raw, err := net.Dial("tcp", relay.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: raw}
	s := NewSession()
	base := []Option{ProcessConfig(false), Hostname("127.0.0.1"), Port(relay.Port()), User(user),
		SSHDir(t.TempDir()), Socket(cc)}
	if err := s.SetOption(append(base, opts...)...); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	return s, cc
}

// wantDead checks that an auth outcome reports a dead connection, and that
// the session knows it: IsConnected turns false and every later Userauth
// call fails the same way instead of answering "denied".
func wantDead(t *testing.T, s *Session, st AuthStatus, err error) {
	t.Helper()
	if st != AuthError || !errors.Is(err, ErrDisconnected) {
		t.Fatalf("got %v, %v; want AuthError and ErrDisconnected", st, err)
	}
	t.Logf("step: %v", err)
	if s.IsConnected() {
		t.Fatal("IsConnected is still true after the connection died")
	}
	ctx := testCtx(t)
	for name, call := range map[string]func() (AuthStatus, error){
		"password": func() (AuthStatus, error) { return s.UserauthPassword(ctx, "", "pw") },
		"kbdint":   func() (AuthStatus, error) { return s.UserauthKeyboardInteractive(ctx, "", "") },
		"none":     func() (AuthStatus, error) { return s.UserauthNone(ctx, "") },
	} {
		if st, err := call(); st != AuthError || !errors.Is(err, ErrDisconnected) {
			t.Fatalf("later %s call: %v, %v; want AuthError and ErrDisconnected", name, st, err)
		}
	}
}

// A corrupted server packet during keyboard-interactive authentication
// kills x/crypto's reader while the socket stays fine. The step must fail
// with ErrDisconnected, not read as "denied" (issue 14, point 2).
//
// With aes*-gcm the 4-byte packet length travels in clear: flipping its
// first byte announces a packet of about 4 GB, which x/crypto refuses as too
// large; flipping a later byte breaks the authentication tag.
func TestCorruptPacketDuringKeyboardInteractive(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{
		Ciphers: []string{"aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr"},
		MACs:    []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"},
		Users: map[string]sshtest.User{"u": {KeyboardInteractive: []sshtest.Round{
			{Prompts: []string{"Password: "}, Want: []string{"pw"}},
			{}, // PAM's last round, with no prompts
		}}},
	})
	cases := []struct {
		cipher, mac string
		offset      int64 // in the server packet after the one the client waits for
		inRound     bool  // corrupt the reply to the first round's answers, not the first round
	}{
		{"aes128-gcm@openssh.com", "", 0, false},                 // huge length
		{"aes128-gcm@openssh.com", "", 0, true},                  // huge length
		{"aes128-gcm@openssh.com", "", 9, false},                 // tag failure
		{"aes128-gcm@openssh.com", "", 9, true},                  // tag failure
		{"chacha20-poly1305@openssh.com", "", 9, true},           // tag failure
		{"aes128-ctr", "hmac-sha2-256-etm@openssh.com", 9, true}, // MAC failure
		{"aes128-ctr", "hmac-sha2-256", 20, true},                // MAC failure
	}
	for _, tc := range cases {
		name := tc.cipher + "/" + tc.mac + "/" + strconv.FormatInt(tc.offset, 10)
		if tc.inRound {
			name += "/reply"
		}
		t.Run(name, func(t *testing.T) {
			relay := faultrelay.New(t, srv.Addr())
			opts := []Option{CiphersCS(tc.cipher)}
			if tc.mac != "" {
				opts = append(opts, HmacCS(tc.mac))
			}
			// A clean run finds where the packet to corrupt starts in
			// the server's stream; the stream is the same on every
			// connection with these algorithms. (A fault set while the
			// relay waits in a read would only apply after that read.)
			clean, cc := relayedSession(t, relay, "u", opts...)
			at := kbdintOffsets(t, clean, cc, "pw")
			_ = clean.Disconnect()
			offset := at[0]
			if tc.inRound {
				offset = at[1]
			}
			relay.Set(faultrelay.Fault{Dir: faultrelay.ServerToClient, After: offset + tc.offset, Action: faultrelay.Corrupt})

			s, _ := relayedSession(t, relay, "u", opts...)
			ctx := testCtx(t)
			if st, err := s.UserauthNone(ctx, ""); st != AuthDenied || err != nil {
				t.Fatalf("none: %v, %v", st, err)
			}
			st, err := s.UserauthKeyboardInteractive(ctx, "", "")
			if tc.inRound {
				if st != AuthInfo || err != nil {
					t.Fatalf("first round: %v, %v", st, err)
				}
				if err := s.UserauthKeyboardInteractiveSetAnswers([]string{"pw"}); err != nil {
					t.Fatal(err)
				}
				st, err = s.UserauthKeyboardInteractive(ctx, "", "")
			}
			select {
			case <-relay.Triggered():
			default:
				t.Fatalf("the fault did not fire; got %v, %v", st, err)
			}
			wantDead(t, s, st, err)
		})
	}
}

// kbdintOffsets runs a clean keyboard-interactive login and returns the
// offsets in the server's stream of the first INFO_REQUEST and of the
// server's reply to the first round's answers.
func kbdintOffsets(t *testing.T, s *Session, cc *countingConn, password string) [2]int64 {
	t.Helper()
	ctx := testCtx(t)
	var at [2]int64
	if st, err := s.UserauthNone(ctx, ""); st != AuthDenied || err != nil {
		t.Fatalf("clean none: %v, %v", st, err)
	}
	at[0] = cc.read.Load()
	if st, err := s.UserauthKeyboardInteractive(ctx, "", ""); st != AuthInfo || err != nil {
		t.Fatalf("clean first round: %v, %v", st, err)
	}
	at[1] = cc.read.Load()
	_ = s.UserauthKeyboardInteractiveSetAnswers([]string{password})
	if st, err := s.UserauthKeyboardInteractive(ctx, "", ""); st != AuthInfo || err != nil {
		t.Fatalf("clean second round: %v, %v", st, err)
	}
	if st, err := s.UserauthKeyboardInteractive(ctx, "", ""); st != AuthSuccess || err != nil {
		t.Fatalf("clean login: %v, %v", st, err)
	}
	return at
}

// A genuine refusal still reads as AuthDenied: the liveness check must not
// turn a live connection into an error.
func TestDeniedStaysDeniedOnALiveConnection(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw",
		KeyboardInteractive: []sshtest.Round{{Prompts: []string{"P: "}, Want: []string{"right"}}}}}})
	s := acceptedSession(t, srv, "u")
	ctx := testCtx(t)
	for i := 0; i < 3; i++ {
		if st, err := s.UserauthPassword(ctx, "", "wrong"); st != AuthDenied || err != nil {
			t.Fatalf("attempt %d: %v, %v", i, st, err)
		}
	}
	if st, _ := s.UserauthKeyboardInteractive(ctx, "", ""); st != AuthInfo {
		t.Fatalf("kbdint: %v", st)
	}
	_ = s.UserauthKeyboardInteractiveSetAnswers([]string{"wrong"})
	if st, err := s.UserauthKeyboardInteractive(ctx, "", ""); st != AuthDenied || err != nil {
		t.Fatalf("wrong answer: %v, %v", st, err)
	}
	if !s.IsConnected() {
		t.Fatal("not connected after plain refusals")
	}
	if st, err := s.UserauthPassword(ctx, "", "pw"); st != AuthSuccess || err != nil {
		t.Fatalf("right password: %v, %v", st, err)
	}
}

// The same against OpenSSH's sshd with PAM: the corrupted packet is the
// reply to the password round.
func TestInteropCorruptPacketDuringKeyboardInteractive(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	env.SkipWithoutPassword(t)
	// ssh-ed25519 and a fixed cipher make the stream the same on every
	// connection, so the clean run's offsets hold for the faulty one.
	opts := []Option{CiphersCS("aes128-gcm@openssh.com"), HostKeys("ssh-ed25519"), IdentityAgent("none")}
	for _, offset := range []int64{0, 9} { // the length's first byte; the payload
		t.Run(strconv.FormatInt(offset, 10), func(t *testing.T) {
			relay := faultrelay.New(t, env.Addr)
			clean, cc := relayedSession(t, relay, env.User, opts...)
			at := kbdintOffsets(t, clean, cc, env.Password)
			_ = clean.Disconnect()
			relay.Set(faultrelay.Fault{Dir: faultrelay.ServerToClient, After: at[1] + offset, Action: faultrelay.Corrupt})

			s, _ := relayedSession(t, relay, env.User, opts...)
			ctx := testCtx(t)
			if st, err := s.UserauthNone(ctx, ""); st != AuthDenied || err != nil {
				t.Fatalf("none: %v, %v", st, err)
			}
			if st, err := s.UserauthKeyboardInteractive(ctx, "", ""); st != AuthInfo || err != nil {
				t.Fatalf("first round: %v, %v", st, err)
			}
			_ = s.UserauthKeyboardInteractiveSetAnswers([]string{env.Password})
			st, err := s.UserauthKeyboardInteractive(ctx, "", "")
			select {
			case <-relay.Triggered():
			default:
				t.Fatalf("the fault did not fire; got %v, %v", st, err)
			}
			wantDead(t, s, st, err)
		})
	}
}
