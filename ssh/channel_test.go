package ssh

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
)

func loggedIn(t *testing.T) (*Session, *sshtest.Server) {
	t.Helper()
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	s := acceptedSession(t, srv, "alice")
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatalf("login: %v, %v", st, err)
	}
	return s, srv
}

// runExec is the minimal libssh exec flow: new, open, exec, read, status.
func runExec(t *testing.T, s *Session, cmd string) (stdout, stderr string, status int, err error) {
	t.Helper()
	ctx := testCtx(t)
	ch, err := s.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.OpenSession(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestExec(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	if err := ch.SendEOF(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(ch.Stderr()); errc <- b }()
	out, rerr := io.ReadAll(ch.Stdout())
	if rerr != nil {
		t.Fatal(rerr)
	}
	errb := <-errc
	status, err = ch.ExitStatus(ctx)
	return string(out), string(errb), status, err
}

func TestExecWhoamiAndExitStatus(t *testing.T) {
	s, _ := loggedIn(t)
	out, _, status, err := runExec(t, s, "whoami")
	if out != "alice\n" || status != 0 || err != nil {
		t.Fatalf("whoami: %q, %d, %v", out, status, err)
	}
	if _, _, status, err := runExec(t, s, "exit 42"); status != 42 || err != nil {
		t.Fatalf("exit 42: %d, %v", status, err)
	}
	out, errOut, _, _ := runExec(t, s, "both to-out to-err")
	if out != "to-out\n" || errOut != "to-err\n" {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
}

func TestExecKilledBySignalHasNoStatus(t *testing.T) {
	s, _ := loggedIn(t)
	_, _, status, err := runExec(t, s, "kill TERM")
	var ee *ExitError
	if !errors.As(err, &ee) || !errors.Is(err, ErrNoExitStatus) || ee.Signal == nil || ee.Signal.Signal != "TERM" || status != -1 {
		t.Fatalf("got %d, %v", status, err)
	}
}

func TestChannelBeforeAuthAndAfterDisconnect(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := acceptedSession(t, srv, "u")
	if _, err := s.NewChannel(); !errors.Is(err, ErrNotAuthenticated) {
		t.Fatalf("NewChannel before auth: %v", err)
	}
	if st, _ := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatal(st)
	}
	ch, err := s.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.OpenSession(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestExec(testCtx(t), "sleep 60"); err != nil {
		t.Fatal(err)
	}
	// Disconnect wakes the blocked ExitStatus with an error: the
	// connection's end, not a channel the server closed without a status.
	done := make(chan error, 1)
	go func() { _, err := ch.ExitStatus(context.Background()); done <- err }()
	_ = s.Disconnect()
	if err := <-done; !errors.Is(err, ErrDisconnected) || errors.Is(err, ErrNoExitStatus) {
		t.Fatalf("ExitStatus after Disconnect: %v", err)
	}
	if _, err := ch.Stdout().Read(make([]byte, 1)); err == nil {
		t.Fatal("read after Disconnect succeeded")
	}
	if err := ch.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Close after Disconnect: %v", err)
	}
}
