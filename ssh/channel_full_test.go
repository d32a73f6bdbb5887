package ssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

func loggedInWith(t *testing.T, cfg sshtest.Config) (*Session, *sshtest.Server) {
	t.Helper()
	cfg.Users = map[string]sshtest.User{"alice": {Password: "pw"}}
	srv := sshtest.New(t, cfg)
	s := acceptedSession(t, srv, "alice")
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatalf("login: %v, %v", st, err)
	}
	return s, srv
}

func openSession(t *testing.T, s *Session) *Channel {
	t.Helper()
	ch, err := s.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.OpenSession(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	return ch
}

func TestShellInPtyWithResizeEnvAndRecordedRequests(t *testing.T) {
	s, srv := loggedIn(t)
	ctx := testCtx(t)
	ch := openSession(t, s)
	if err := ch.RequestEnv(ctx, "LANG", "C.UTF-8"); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestEnv(ctx, "DENY_THIS", "x"); !errors.Is(err, ErrRequestDenied) {
		t.Fatalf("refused env: %v", err)
	}
	if err := ch.RequestPty(ctx, "vt100", 80, 24); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestShell(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ch.ChangePtySize(132, 43); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitRequest(ctx, func(r sshtest.RequestRecord) bool {
		return r.Type == "window-change" && r.Cols == 132 && r.Rows == 43
	}); err != nil {
		t.Fatalf("window-change never arrived: %v", err)
	}
	if _, err := io.WriteString(ch.Stdin(), "printenv LANG\npty\nexit 3\n"); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(ch)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"printenv LANG\r\n", "C.UTF-8\r\n", "vt100"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("shell output lacks %q:\n%q", want, out)
		}
	}
	if st, err := ch.ExitStatus(ctx); st != 3 || err != nil {
		t.Fatalf("exit: %d, %v", st, err)
	}
	var pty *sshtest.RequestRecord
	for _, r := range srv.Requests() {
		if r.Type == "pty-req" {
			pty = &r
		}
	}
	if pty == nil || pty.Term != "vt100" || pty.Cols != 80 || pty.Rows != 24 || !bytes.Contains(pty.Modes, []byte{ttyECHO, 0, 0, 0, 1}) {
		t.Fatalf("pty-req recorded as %+v", pty)
	}
}

func TestSignalBreakX11AndAgentRequests(t *testing.T) {
	s, srv := loggedIn(t)
	ctx := testCtx(t)
	ch := openSession(t, s)
	if err := ch.RequestX11(ctx, true, "", "", 0); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestAuthAgent(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestExec(ctx, "sleep 60"); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestSendBreak(250 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestSendSignal("bad name"); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("bad signal name: %v", err)
	}
	if err := ch.RequestSendSignal("SIGTERM"); err != nil {
		t.Fatal(err)
	}
	_, err := ch.ExitStatus(ctx)
	sig, ok := ch.ExitSignal()
	if !errors.Is(err, ErrNoExitStatus) || !ok || sig.Signal != "TERM" {
		t.Fatalf("after TERM: %v, %+v", err, sig)
	}
	seen := map[string]sshtest.RequestRecord{}
	for _, r := range srv.Requests() {
		seen[r.Type] = r
	}
	if r := seen["break"]; r.BreakLength != 250 {
		t.Errorf("break recorded as %+v", r)
	}
	if _, ok := seen["x11-req"]; !ok {
		t.Error("no x11-req")
	}
	if _, ok := seen["auth-agent-req@openssh.com"]; !ok {
		t.Error("no auth-agent-req")
	}
}

func TestSubsystem(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	ch := openSession(t, s)
	if err := ch.RequestSubsystem(ctx, "echo-subsystem"); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(ch, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	other := openSession(t, s)
	if err := other.RequestSubsystem(ctx, "no-such"); !errors.Is(err, ErrRequestDenied) {
		t.Fatalf("unknown subsystem: %v", err)
	}
}

func TestStreamsTimeoutsAndEOF(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	ch := openSession(t, s)
	if err := ch.RequestExec(ctx, "cat"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	start := time.Now()
	if n, err := ch.ReadTimeout(buf, false, 50*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("ReadTimeout with nothing to read: %d, %v", n, err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("ReadTimeout returned before its timeout")
	}
	if n, err := ch.PollTimeout(false, 0); n != 0 || err != nil {
		t.Fatalf("PollTimeout(0): %d, %v", n, err)
	}
	if _, err := io.WriteString(ch.Stdin(), "hello"); err != nil {
		t.Fatal(err)
	}
	if n, err := ch.PollTimeout(false, 10*time.Second); n != 5 || err != nil {
		t.Fatalf("PollTimeout: %d, %v", n, err)
	}
	if n, err := ch.ReadTimeout(buf, false, time.Second); n != 5 || string(buf[:5]) != "hello" || err != nil {
		t.Fatalf("ReadTimeout: %q, %v", buf[:n], err)
	}
	if ch.IsEOF() || !ch.IsOpen() {
		t.Fatal("EOF before stdin closed")
	}
	if err := ch.Stdin().Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Write([]byte("late")); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("write after EOF: %v", err)
	}
	if n, err := ch.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read after remote EOF: %d, %v", n, err)
	}
	if !ch.IsEOF() {
		t.Fatal("IsEOF false after EOF")
	}
	if n, err := ch.PollTimeout(false, time.Second); n != 0 || err != io.EOF {
		t.Fatalf("PollTimeout at EOF: %d, %v", n, err)
	}
	if st, err := ch.ExitStatus(ctx); st != 0 || err != nil {
		t.Fatalf("exit: %d %v", st, err)
	}
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ch.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if !ch.IsClosed() || ch.IsOpen() {
		t.Fatal("state after Close")
	}
	if _, err := ch.Write([]byte("x")); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	if _, err := ch.Read(buf); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("read after Close: %v", err)
	}
}

func TestCloseWakesBlockedRead(t *testing.T) {
	s, _ := loggedIn(t)
	ch := openSession(t, s)
	if err := ch.RequestExec(testCtx(t), "sleep 60"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ch.Read(make([]byte, 1)); done <- err }()
	go func() { _, err := io.Copy(io.Discard, ch.Stderr()); done <- err }()
	_ = ch.Close()
	for range 2 {
		if err := <-done; !errors.Is(err, ErrChannelClosed) {
			t.Fatalf("blocked read woke with %v", err)
		}
	}
}

// bigStreams writes n bytes to one stream, then n to the other.
func bigStreams(n int) func(sshtest.ExecContext) int {
	return func(ctx sshtest.ExecContext) int {
		first, second := ctx.Stderr, ctx.Stdout
		if ctx.Command == "stdout-first" {
			first, second = second, first
		}
		block := bytes.Repeat([]byte("x"), 64<<10)
		for _, w := range []io.Writer{first, second} {
			for sent := 0; sent < n; sent += len(block) {
				if _, err := w.Write(block); err != nil {
					return 1
				}
			}
		}
		return 0
	}
}

// One unread stream must not stall the other, within the documented buffer.
func TestUnreadStreamDoesNotStallTheOther(t *testing.T) {
	const n = 4 << 20 // twice x/crypto's window
	s, _ := loggedInWith(t, sshtest.Config{Exec: bigStreams(n)})
	for _, tc := range []struct {
		cmd    string
		stderr bool
	}{{"stderr-first", false}, {"stdout-first", true}} {
		ch := openSession(t, s)
		if err := ch.RequestExec(testCtx(t), tc.cmd); err != nil {
			t.Fatal(err)
		}
		r := ch.Stdout()
		if tc.stderr {
			r = ch.Stderr()
		}
		got, err := io.Copy(io.Discard, r)
		if err != nil || got != n {
			t.Fatalf("%s: read %d bytes, %v", tc.cmd, got, err)
		}
		if st, err := ch.ExitStatus(testCtx(t)); st != 0 || err != nil {
			t.Fatalf("%s: exit %d %v", tc.cmd, st, err)
		}
	}
}

func TestManyChannelsFromManyGoroutines(t *testing.T) {
	s, _ := loggedIn(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				want := fmt.Sprintf("g%d-%d", g, i)
				out, err := s.Output(context.Background(), "echo "+want)
				if err != nil || string(out) != want+"\n" {
					errs <- fmt.Errorf("%s: %q, %v", want, out, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRefusedChannelCarriesReason(t *testing.T) {
	s, _ := loggedIn(t)
	ch, _ := s.NewChannel()
	err := ch.open(testCtx(t), "no-such-channel-type", nil)
	var oce *OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != gossh.Prohibited || oce.Message == "" || !errors.Is(err, ErrRequestDenied) {
		t.Fatalf("got %v", err)
	}
}

func TestExecHelpers(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	if out, err := s.Output(ctx, "echo hi"); string(out) != "hi\n" || err != nil {
		t.Fatalf("Output: %q, %v", out, err)
	}
	err := s.Run(ctx, "exit 7")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Status != 7 || errors.Is(err, ErrNoExitStatus) {
		t.Fatalf("Run exit 7: %v", err)
	}
	if out, err := s.CombinedOutput(ctx, "both o e"); len(out) != 4 || err != nil {
		t.Fatalf("CombinedOutput: %q, %v", out, err)
	}
	res, err := s.Exec(ctx, "sha256", strings.NewReader("abc"))
	sum := sha256.Sum256([]byte("abc"))
	if err != nil || string(res.Stdout) != hex.EncodeToString(sum[:])+"\n" || res.ExitStatus != 0 {
		t.Fatalf("Exec with stdin: %+v, %v", res, err)
	}
	if _, err := s.Output(ctx, "kill KILL"); !errors.Is(err, ErrNoExitStatus) {
		t.Fatalf("killed command: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := s.Run(short, "sleep 60"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run past ctx: %v", err)
	}
}

// patternReader yields n deterministic bytes without holding them.
type patternReader struct{ left int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		b[i] = byte(p.left - int64(i))
	}
	p.left -= int64(len(b))
	return len(b), nil
}

func TestDataIntegrity256MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("large transfer")
	}
	const n = 256 << 20
	s, _ := loggedIn(t)
	// 512 MiB through x/crypto under -race: testCtx's 30 s is too tight on a
	// busy 2-core machine; this bounds a hang, not the speed.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Upload: the server hashes what it received.
	want := sha256.New()
	res, err := s.Exec(ctx, "sha256", io.TeeReader(&patternReader{left: n}, want))
	if err != nil || strings.TrimSpace(string(res.Stdout)) != hex.EncodeToString(want.Sum(nil)) {
		t.Fatalf("upload: %q, %v", res.Stdout, err)
	}

	// Download: exactly n bytes of 'y'.
	ch := openSession(t, s)
	if err := ch.RequestExec(ctx, fmt.Sprintf("yes %d", n)); err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	counted, err := io.Copy(got, ch)
	if err != nil || counted != n {
		t.Fatalf("download: %d bytes, %v", counted, err)
	}
	exp := sha256.New()
	if _, err := io.Copy(exp, io.LimitReader(yesReader{}, n)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Sum(nil), exp.Sum(nil)) {
		t.Fatal("download corrupted")
	}
}

type yesReader struct{}

func (yesReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 'y'
	}
	return len(b), nil
}

func TestExecHelpersSendConfiguredEnv(t *testing.T) {
	t.Setenv("LIBSSH_GO_SENT", "from-local")
	t.Setenv("LIBSSH_GO_NOT_SENT", "no")
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	s := acceptedSession(t, srv, "alice", SendEnv("LIBSSH_GO_S*"), SetEnv("FIXED=1 DENY_ME=2"))
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatal(st, err)
	}
	for cmd, want := range map[string]string{
		"printenv LIBSSH_GO_SENT": "from-local\n", "printenv FIXED": "1\n",
		"printenv LIBSSH_GO_NOT_SENT": "", "printenv DENY_ME": "",
	} {
		out, _ := s.Output(testCtx(t), cmd)
		if string(out) != want {
			t.Errorf("%s: %q, want %q", cmd, out, want)
		}
	}
}

func TestRekeyLimitReKeysAndDataSurvives(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	s := acceptedSession(t, srv, "alice", RekeyLimit(256<<10, 0))
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatal(st, err)
	}
	out, err := s.Output(testCtx(t), "yes 4000000")
	if err != nil || len(out) != 4000000 {
		t.Fatalf("%d bytes, %v", len(out), err)
	}
	c := s.current()
	c.mu.Lock()
	n := c.keyExchanges
	c.mu.Unlock()
	if n < 2 {
		t.Fatalf("no re-key for 4 MB with a 256 KiB limit (%d key exchanges)", n)
	}
}
