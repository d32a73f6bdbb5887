package ssh

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/interop"
)

// Against a real tinysshd, which answers every global request with
// SSH_MSG_UNIMPLEMENTED: keepalives keep an idle session alive over many
// intervals, SendIgnore and the forwarding requests are refused before
// anything is sent, and the session still runs commands afterwards.
func TestInteropTinysshdQuirks(t *testing.T) {
	env := interop.StartTinysshd(t)
	const interval = 40 * time.Millisecond
	s := NewSession()
	if err := s.SetOption(ProcessConfig(false), Hostname(env.Host), Port(env.Port), User(env.User),
		SSHDir(t.TempDir()), IdentityAgent("none"), KnownHosts(env.KnownHostsFile), GlobalKnownHosts("/dev/null"),
		ServerAliveInterval(interval), ServerAliveCountMax(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	banner, err := s.ServerBanner()
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-tinyssh_") {
		t.Fatalf("ServerBanner = %q, %v", banner, err)
	}
	if state, err := s.IsKnownServer(); state != KnownHostsOK {
		t.Fatalf("IsKnownServer: %v, %v", state, err)
	}
	key, err := ParsePrivateKeyFile(env.Key.Private, "")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthPublicKey(testCtx(t), "", key); st != AuthSuccess {
		t.Fatalf("UserauthPublicKey: %v, %v", st, err)
	}
	c := s.current()

	// tinysshd sends nothing on its own to an idle session, and with
	// ServerAliveCountMax 1 two silent intervals end it: surviving many
	// intervals means keepalives went out and were answered.
	select {
	case <-c.done:
		t.Fatalf("session ended while idle: %v", c.closedErr())
	case <-time.After(15 * interval):
	}
	for range 3 {
		if err := c.ping(testCtx(t)); err != nil {
			t.Fatalf("ping: %v", err)
		}
	}

	if err := s.SendIgnore([]byte("padding")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SendIgnore: %v, want ErrUnsupported", err)
	}
	if _, err := s.ListenForward(testCtx(t), "127.0.0.1", 0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ListenForward: %v, want ErrUnsupported", err)
	}
	if !s.IsConnected() {
		t.Fatalf("session ended: %v", c.closedErr())
	}
	// tinysshd allows one session channel and exits when it closes, so the
	// connection may end right after this command; the output must still
	// read as complete.
	out, err := s.Output(testCtx(t), "echo still here")
	if err != nil || strings.TrimSpace(string(out)) != "still here" {
		t.Fatalf("exec after keepalives, SendIgnore and ListenForward: %q, %v", out, err)
	}
}
