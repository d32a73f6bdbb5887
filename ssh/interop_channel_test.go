package ssh

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/libssh-go/libssh/internal/interop"
)

// interopLoggedIn is interopSession logged in with the ed25519 key: a key
// works in every interop mode, a password only when sshd runs as root.
func interopLoggedIn(t *testing.T, env *interop.Env) *Session {
	t.Helper()
	s := interopSession(t, env)
	key, err := ParsePrivateKeyFile(env.Keys["ed25519"].Private, "")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthPublicKey(testCtx(t), "", key); st != AuthSuccess {
		t.Fatalf("login: %v, %v", st, err)
	}
	return s
}

func TestInteropChannels(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	s := interopLoggedIn(t, env)
	ctx := testCtx(t)

	t.Run("exit codes and stderr", func(t *testing.T) {
		res, err := s.Exec(ctx, "echo out; echo err >&2; exit 42", nil)
		if err != nil || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.ExitStatus != 42 {
			t.Fatalf("%+v, %v", res, err)
		}
	})
	t.Run("shell in a pty", func(t *testing.T) {
		env.SkipWithoutPTY(t)
		ch := openSession(t, s)
		if err := ch.RequestPty(ctx, "xterm-256color", 100, 30); err != nil {
			t.Fatal(err)
		}
		if err := ch.RequestShell(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(ch, "echo TERM=$TERM; stty size; exit 3\n"); err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(ch)
		if !strings.Contains(string(out), "TERM=xterm-256color") || !strings.Contains(string(out), "30 100") {
			t.Fatalf("shell output %q", out)
		}
		if st, err := ch.ExitStatus(ctx); st != 3 || err != nil {
			t.Fatalf("exit %d, %v", st, err)
		}
	})
	t.Run("env through AcceptEnv", func(t *testing.T) {
		ch := openSession(t, s)
		if err := ch.RequestEnv(ctx, "LIBSSH_TEST", "accepted"); err != nil {
			t.Fatal(err)
		}
		// sshd answers failure for names outside AcceptEnv.
		if err := ch.RequestEnv(ctx, "NOT_ACCEPTED", "x"); !errors.Is(err, ErrRequestDenied) {
			t.Fatalf("env outside AcceptEnv: %v", err)
		}
		if err := ch.RequestExec(ctx, "printenv LIBSSH_TEST; printenv NOT_ACCEPTED"); err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(ch)
		if string(out) != "accepted\n" {
			t.Fatalf("printenv: %q", out)
		}
	})
	t.Run("signal", func(t *testing.T) {
		ch := openSession(t, s)
		if err := ch.RequestExec(ctx, "exec sleep 100"); err != nil {
			t.Fatal(err)
		}
		// Wait until sleep runs: the first read of stdout would block,
		// so poll for the process the way a user would, with pgrep.
		if out, err := s.Output(ctx, "for i in $(seq 100); do pgrep -u $(id -u) -x sleep >/dev/null && exit 0; sleep 0.05; done; exit 1"); err != nil {
			t.Fatalf("sleep never started: %q %v", out, err)
		}
		if err := ch.RequestSendSignal("TERM"); err != nil {
			t.Fatal(err)
		}
		_, err := ch.ExitStatus(ctx)
		sig, ok := ch.ExitSignal()
		if !errors.Is(err, ErrNoExitStatus) || !ok || sig.Signal != "TERM" {
			t.Fatalf("after TERM: %v, %+v", err, sig)
		}
	})
	t.Run("sftp subsystem", func(t *testing.T) {
		ch := openSession(t, s)
		if err := ch.RequestSubsystem(ctx, "sftp"); err != nil {
			t.Fatal(err)
		}
		// SSH_FXP_INIT, version 3 (draft-ietf-secsh-filexfer-02 §4).
		init := []byte{0, 0, 0, 5, 1, 0, 0, 0, 3}
		if _, err := ch.Write(init); err != nil {
			t.Fatal(err)
		}
		hdr := make([]byte, 9)
		if _, err := io.ReadFull(ch, hdr); err != nil {
			t.Fatal(err)
		}
		if hdr[4] != 2 || binary.BigEndian.Uint32(hdr[5:]) != 3 {
			t.Fatalf("SSH_FXP_VERSION expected, got % x", hdr)
		}
	})
}

func TestInteropDataIntegrity256MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("large transfer")
	}
	env := interop.Start(t, interop.Options{NoAgent: true})
	s := interopLoggedIn(t, env)
	ctx := testCtx(t)
	const n = 256 << 20

	want := sha256.New()
	res, err := s.Exec(ctx, "sha256sum", io.TeeReader(&patternReader{left: n}, want))
	if err != nil || !strings.HasPrefix(string(res.Stdout), hex.EncodeToString(want.Sum(nil))) {
		t.Fatalf("upload: %q, %v", res.Stdout, err)
	}

	ch := openSession(t, s)
	cmd := fmt.Sprintf("head -c %d /dev/urandom | tee >(sha256sum >&2) ; wait", n)
	if err := ch.RequestExec(ctx, "bash -c '"+cmd+"'"); err != nil {
		t.Fatal(err)
	}
	var remoteSum bytes.Buffer
	errDone := make(chan error, 1)
	go func() { _, err := io.Copy(&remoteSum, ch.Stderr()); errDone <- err }()
	got := sha256.New()
	counted, err := io.Copy(got, ch)
	if err != nil || counted != n {
		t.Fatalf("download: %d bytes, %v", counted, err)
	}
	if err := <-errDone; err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(remoteSum.String(), hex.EncodeToString(got.Sum(nil))) {
		t.Fatalf("download hash mismatch: remote %q", remoteSum.String())
	}
}

// sshd's MaxSessions refuses the extra session channel with a reason code
// and message, and the session goes on.
func TestInteropRefusedChannelCarriesReason(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true, ExtraConfig: []string{"MaxSessions 1"}})
	s := interopLoggedIn(t, env)
	first := openSession(t, s)
	if err := first.RequestExec(testCtx(t), "sleep 30"); err != nil {
		t.Fatal(err)
	}
	second, err := s.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	err = second.OpenSession(testCtx(t))
	var oce *OpenChannelError
	if !errors.As(err, &oce) || !errors.Is(err, ErrRequestDenied) || oce.Reason == 0 || oce.Message == "" {
		t.Fatalf("second session channel: %v", err)
	}
	t.Logf("sshd refused with %v: %q", oce.Reason, oce.Message)
	_ = first.Close()
}
