package ssh

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
)

// tinysshVersion is what Debian's tinysshd 20230101 sends, with the
// per-connection id it appends after a space.
const tinysshVersion = "SSH-2.0-tinyssh_20230101-1 dGVzdHNydg"

// tinysshLike is a test server that behaves as tinysshd does towards global
// requests: it answers every one with SSH_MSG_UNIMPLEMENTED.
func tinysshLike(t *testing.T) *sshtest.Server {
	return sshtest.New(t, sshtest.Config{
		Users:                       map[string]sshtest.User{"alice": {Password: "pw"}},
		ServerVersion:               tinysshVersion,
		GlobalRequestsUnimplemented: true,
	})
}

func loginTo(t *testing.T, srv *sshtest.Server, opts ...Option) *Session {
	t.Helper()
	s := acceptedSession(t, srv, "alice", opts...)
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatalf("login: %v, %v", st, err)
	}
	return s
}

func TestQuirkTable(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    quirk
	}{
		{tinysshVersion, quirkNoGlobalRequests},
		{"SSH-2.0-tinyssh_20190101", quirkNoGlobalRequests},
		{"SSH-2.0-tinysshd", 0},
		{"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", 0},
		{"SSH-2.0-dropbear_2022.83", 0},
		{"SSH-1.99-tinyssh_1", quirkNoGlobalRequests},
		{"", 0},
		{"garbage", 0},
	} {
		if got := quirksFor(tc.version); got != tc.want {
			t.Errorf("quirksFor(%q) = %v, want %v", tc.version, got, tc.want)
		}
	}
}

// tinysshd answers every global request with SSH_MSG_UNIMPLEMENTED, on which
// x/crypto ends the connection. Keepalives must go another way, and
// SendIgnore and the forwarding requests must be refused before anything is
// sent; the session must stay usable throughout.
func TestTinysshLikeServerSurvivesKeepalivesIgnoreAndForwarding(t *testing.T) {
	srv := tinysshLike(t)
	s := loginTo(t, srv, ServerAliveInterval(20*time.Millisecond), ServerAliveCountMax(2))
	if v, err := s.ServerBanner(); err != nil || v != tinysshVersion {
		t.Fatalf("ServerBanner: %q, %v", v, err)
	}

	// Several intervals of silence: each one costs a keepalive, which the
	// server answers (here: by refusing a channel open).
	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
	defer cancel()
	if _, err := srv.WaitRefusedChannels(ctx, 4); err != nil {
		t.Fatalf("waiting for 4 keepalives: %v (connected: %v)", err, s.IsConnected())
	}

	if err := s.SendIgnore([]byte("x")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SendIgnore: %v, want ErrUnsupported", err)
	}
	if _, err := s.ListenForward(testCtx(t), "127.0.0.1", 0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ListenForward: %v, want ErrUnsupported", err)
	}
	if err := s.CancelForward(testCtx(t), "127.0.0.1", 2222); !errors.Is(err, ErrUnsupported) {
		t.Errorf("CancelForward: %v, want ErrUnsupported", err)
	}
	if err := s.ListenForwardUnix(testCtx(t), "/tmp/x.sock"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ListenForwardUnix: %v, want ErrUnsupported", err)
	}
	if err := s.CancelForwardUnix(testCtx(t), "/tmp/x.sock"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("CancelForwardUnix: %v, want ErrUnsupported", err)
	}

	out, err := s.Output(testCtx(t), "echo still here")
	if err != nil || strings.TrimSpace(string(out)) != "still here" {
		t.Fatalf("exec after all that: %q, %v", out, err)
	}
	if got := srv.GlobalRequests(); len(got) != 0 {
		t.Errorf("global requests reached the server: %+v", got)
	}
	if !s.IsConnected() {
		t.Error("session ended")
	}
}
