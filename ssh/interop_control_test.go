package ssh

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/libssh-go/libssh/internal/interop"
)

// TestInteropControlMaster runs a session over a real OpenSSH master's
// socket: no key exchange or login of our own, commands and exit statuses
// as on a direct connection.
func TestInteropControlMaster(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	sock := filepath.Join(t.TempDir(), "cm")
	env.StartControlMaster(t, sock)
	ctx := testCtx(t)

	s := NewSession()
	t.Cleanup(func() { _ = s.Disconnect() })
	// No key and an empty SSHDir: only the master can log us in.
	if err := s.SetOption(ProcessConfig(false), Hostname(env.Host), Port(env.Port), User(env.User),
		SSHDir(t.TempDir()), IdentityAgent("none"), ControlMaster("auto"), ControlPath(sock)); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if !s.Multiplexed() {
		t.Fatal("Multiplexed() = false over a ControlMaster")
	}
	if st, err := s.IsKnownServer(); st != KnownHostsOK || err != nil {
		t.Fatalf("IsKnownServer = %v, %v", st, err)
	}
	if _, err := s.ServerPublicKey(); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ServerPublicKey error %v, want ErrUnsupported", err)
	}
	if st, err := s.UserauthNone(ctx, ""); st != AuthSuccess {
		t.Fatalf("UserauthNone = %v, %v", st, err)
	}
	for i := 0; i < 2; i++ { // the second proves the master kept us
		out, err := s.Output(ctx, "echo over-mux")
		if err != nil || string(out) != "over-mux\n" {
			t.Fatalf("Output %d = %q, %v", i, out, err)
		}
	}
	var ee *ExitError
	if err := s.Run(ctx, "exit 3"); !errors.As(err, &ee) || ee.Status != 3 {
		t.Fatalf("Run(exit 3) = %v", err)
	}
}

// TestInteropControlPathWithoutMaster: a ControlPath nobody listens on
// falls back to a normal connection, as ssh does.
func TestInteropControlPathWithoutMaster(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	s := interopSession(t, env, ControlMaster("auto"), ControlPath(filepath.Join(t.TempDir(), "nothing")))
	if s.Multiplexed() {
		t.Fatal("Multiplexed() = true without a master")
	}
}

func TestControlOptions(t *testing.T) {
	s := NewSession()
	for _, m := range []string{"no", "yes", "ask", "auto", "autoask", "true", "FALSE"} {
		if err := s.SetOption(ControlMaster(m)); err != nil {
			t.Errorf("ControlMaster(%q): %v", m, err)
		}
	}
	if err := s.SetOption(ControlMaster("sometimes")); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("ControlMaster(sometimes) = %v, want ErrInvalidOption", err)
	}
	if err := s.SetOption(ControlMaster("true"), ControlPath("/tmp/cm")); err != nil {
		t.Fatal(err)
	}
	if o := s.Options(); o.ControlMaster != "yes" || o.ControlPath != "/tmp/cm" {
		t.Errorf("Options = %q %q", o.ControlMaster, o.ControlPath)
	}
	if s.Multiplexed() {
		t.Error("Multiplexed before Connect")
	}
}
