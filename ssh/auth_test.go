package ssh

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

func TestUserauthBeforeHostKeyDecisionSendsNothing(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "secret"}}})
	s := dialSession(t, srv, "u")
	st, err := s.UserauthPassword(testCtx(t), "", "secret")
	var hk *HostKeyError
	if st != AuthError || !errors.As(err, &hk) || !errors.Is(err, ErrHostKeyNotVerified) {
		t.Fatalf("got %v, %v; want a *HostKeyError", st, err)
	}
	if hk.Key == nil || hk.Fingerprint == "" {
		t.Fatalf("HostKeyError lacks the key: %+v", hk)
	}
	for _, a := range srv.AuthLog() {
		if a.Method != "none" {
			t.Fatalf("server saw %q before the host key was accepted", a.Method)
		}
	}
	// The application may still decide and go on.
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthPassword(testCtx(t), "", "secret"); st != AuthSuccess || err != nil {
		t.Fatalf("after accepting: %v, %v", st, err)
	}
}

func TestUserauthNoneAndList(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{
		Banner: "Authorized use only\n",
		Users:  map[string]sshtest.User{"u": {Password: "pw"}},
	})
	// x/crypto sends "none" by itself once the host key is accepted, so
	// on loopback its answer may already be in when UserauthList is first
	// called. Holding the server's bytes back makes "not answered yet"
	// certain: the list must then be empty.
	s, held := heldDial(t, srv, "u")
	held.hold()
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	if m, err := s.UserauthList(""); err != nil || m != 0 {
		t.Fatalf("UserauthList before none was answered = %v, %v; want empty", m, err)
	}
	held.release()
	st, err := s.UserauthNone(testCtx(t), "")
	if st != AuthDenied || err != nil {
		t.Fatalf("UserauthNone = %v, %v", st, err)
	}
	m, err := s.UserauthList("")
	if err != nil || !m.Has(AuthMethodPassword) || !m.Has(AuthMethodPublicKey) || !m.Has(AuthMethodInteractive) {
		t.Fatalf("UserauthList = %v, %v", m, err)
	}
	if b, err := s.IssueBanner(); err != nil || b != "Authorized use only\n" {
		t.Fatalf("IssueBanner = %q, %v", b, err)
	}
	// A second none reports the same outcome without a new attempt.
	if st, _ := s.UserauthNone(testCtx(t), ""); st != AuthDenied {
		t.Fatalf("second UserauthNone = %v", st)
	}
	if _, err := s.UserauthNone(testCtx(t), "someone-else"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("other user: %v", err)
	}
}

func TestUserauthNoneSuccess(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {NoneAuth: true}}})
	s := acceptedSession(t, srv, "u")
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess || err != nil {
		t.Fatalf("got %v, %v", st, err)
	}
	// Further auth calls report success without talking to the server.
	if st, err := s.UserauthPassword(testCtx(t), "", "x"); st != AuthSuccess || err != nil {
		t.Fatalf("password after success: %v, %v", st, err)
	}
}

func TestUserauthPasswordDeniedThenSuccess(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "right"}}})
	s := acceptedSession(t, srv, "u")
	ctx := testCtx(t)
	if st, err := s.UserauthPassword(ctx, "", "wrong"); st != AuthDenied || err != nil {
		t.Fatalf("wrong password: %v, %v", st, err)
	}
	if m, _ := s.UserauthList(""); !m.Has(AuthMethodPassword) {
		t.Fatalf("list after failure: %v", m)
	}
	if st, err := s.UserauthPassword(ctx, "", "right"); st != AuthSuccess || err != nil {
		t.Fatalf("right password: %v, %v", st, err)
	}
	var pw []string
	for _, a := range srv.AuthLog() {
		if a.Method == "password" {
			pw = append(pw, a.Password)
		}
	}
	if !slices.Equal(pw, []string{"wrong", "right"}) {
		t.Fatalf("server saw passwords %q", pw)
	}
}

// kbdintLoop answers rounds the way libssh programs do: Info, then
// SetAnswers, then call again, until the status is not AuthInfo.
func kbdintLoop(t *testing.T, s *Session, answer func(InteractiveAuthInfo) []string) (AuthStatus, []InteractiveAuthInfo) {
	t.Helper()
	ctx := testCtx(t)
	var rounds []InteractiveAuthInfo
	st, err := s.UserauthKeyboardInteractive(ctx, "", "")
	for st == AuthInfo {
		info, err := s.UserauthKeyboardInteractiveInfo()
		if err != nil {
			t.Fatal(err)
		}
		rounds = append(rounds, info)
		if err := s.UserauthKeyboardInteractiveSetAnswers(answer(info)); err != nil {
			t.Fatal(err)
		}
		st, err = s.UserauthKeyboardInteractive(ctx, "", "")
		if err != nil {
			t.Fatal(err)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return st, rounds
}

func TestKeyboardInteractiveRounds(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {KeyboardInteractive: []sshtest.Round{
		{Name: "otp", Instruction: "two questions", Prompts: []string{"Password: ", "Code: "}, Echos: []bool{false, true}, Want: []string{"pw", "123"}},
		{Instruction: "nothing to ask"}, // PAM's zero-prompt round
		{Prompts: []string{"Last: "}, Want: []string{""}},
	}}}})
	s := acceptedSession(t, srv, "u")
	st, rounds := kbdintLoop(t, s, func(info InteractiveAuthInfo) []string {
		switch len(info.Prompts) {
		case 2:
			return []string{"pw", "123"}
		default:
			return nil // zero prompts; and a missing answer goes as ""
		}
	})
	if st != AuthSuccess {
		t.Fatalf("status %v", st)
	}
	if len(rounds) != 3 || rounds[0].Name != "otp" || rounds[0].Instruction != "two questions" ||
		rounds[0].Prompts[0] != (InteractiveAuthPrompt{"Password: ", false}) || !rounds[0].Prompts[1].Echo ||
		len(rounds[1].Prompts) != 0 {
		t.Fatalf("rounds %+v", rounds)
	}
}

func TestKeyboardInteractiveWrongAnswersAndTooMany(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {
		Password:            "pw",
		KeyboardInteractive: []sshtest.Round{{Prompts: []string{"Password: "}, Want: []string{"pw"}}},
	}}})
	s := acceptedSession(t, srv, "u")
	ctx := testCtx(t)
	if st, err := s.UserauthKeyboardInteractive(ctx, "", ""); st != AuthInfo || err != nil {
		t.Fatalf("start: %v, %v", st, err)
	}
	if err := s.UserauthKeyboardInteractiveSetAnswers([]string{"a", "b"}); !errors.Is(err, ErrAuth) {
		t.Fatalf("two answers for one prompt: %v", err)
	}
	if err := s.UserauthKeyboardInteractiveSetAnswers([]string{"wrong"}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthKeyboardInteractive(ctx, "", ""); st != AuthDenied || err != nil {
		t.Fatalf("wrong answer: %v, %v", st, err)
	}
	if _, err := s.UserauthKeyboardInteractiveInfo(); err == nil {
		t.Fatal("Info with no round waiting succeeded")
	}
	// A round abandoned for another method: the password still works.
	if st, _ := s.UserauthKeyboardInteractive(ctx, "", ""); st != AuthInfo {
		t.Fatalf("restart: %v", st)
	}
	if st, err := s.UserauthPassword(ctx, "", "pw"); st != AuthSuccess || err != nil {
		t.Fatalf("password after abandoned round: %v, %v", st, err)
	}
}

func TestPartialSuccessPublicKeyThenKeyboardInteractive(t *testing.T) {
	signer := newEd25519(t)
	srv := sshtest.New(t, sshtest.Config{
		AuthSequence: []string{"publickey", "keyboard-interactive"},
		Users: map[string]sshtest.User{"u": {
			AuthorizedKeys:      []gossh.PublicKey{signer.PublicKey()},
			KeyboardInteractive: []sshtest.Round{{Prompts: []string{"Password: "}, Want: []string{"pw"}}},
		}},
	})
	s := acceptedSession(t, srv, "u")
	ctx := testCtx(t)
	if st, _ := s.UserauthNone(ctx, ""); st != AuthDenied {
		t.Fatalf("none: %v", st)
	}
	if m, _ := s.UserauthList(""); m != AuthMethodPublicKey {
		t.Fatalf("first factor list %v", m)
	}
	st, err := s.UserauthPublicKey(ctx, "", NewKeyFromSigner(signer))
	if st != AuthPartial || err != nil {
		t.Fatalf("publickey: %v, %v", st, err)
	}
	if m, _ := s.UserauthList(""); m != AuthMethodInteractive {
		t.Fatalf("second factor list %v", m)
	}
	if st, _ := kbdintLoop(t, s, func(InteractiveAuthInfo) []string { return []string{"pw"} }); st != AuthSuccess {
		t.Fatalf("kbdint: %v", st)
	}
}

func TestTryPublicKeyAndPublicKey(t *testing.T) {
	good, other := newEd25519(t), newEd25519(t)
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {AuthorizedKeys: []gossh.PublicKey{good.PublicKey()}}}})
	s := acceptedSession(t, srv, "u")
	ctx := testCtx(t)
	if st, err := s.UserauthTryPublicKey(ctx, "", NewKey(other.PublicKey())); st != AuthDenied || err != nil {
		t.Fatalf("try unknown key: %v, %v", st, err)
	}
	if st, err := s.UserauthTryPublicKey(ctx, "", NewKey(good.PublicKey())); st != AuthSuccess || err != nil {
		t.Fatalf("try good key: %v, %v", st, err)
	}
	if _, err := s.UserauthPublicKey(ctx, "", NewKey(good.PublicKey())); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("public-only key for UserauthPublicKey: %v", err)
	}
	if st, err := s.UserauthPublicKey(ctx, "", NewKeyFromSigner(other)); st != AuthDenied || err != nil {
		t.Fatalf("wrong key: %v, %v", st, err)
	}
	if st, err := s.UserauthPublicKey(ctx, "", NewKeyFromSigner(good)); st != AuthSuccess || err != nil {
		t.Fatalf("good key: %v, %v", st, err)
	}
}

func TestServerDisconnectMidAuthFailsAtOnce(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Fault: sshtest.FaultDisconnectInAuth, Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := acceptedSession(t, srv, "u")
	st, err := s.UserauthPassword(testCtx(t), "", "pw")
	if st != AuthError || !errors.Is(err, ErrDisconnected) {
		t.Fatalf("got %v, %v", st, err)
	}
	if s.IsConnected() {
		t.Fatal("still connected")
	}
}

func TestStalledServerAuthEndsWithCtx(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Fault: sshtest.FaultStallInAuth, Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := acceptedSession(t, srv, "u")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	st, err := s.UserauthPassword(ctx, "", "pw")
	if st != AuthError || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, %v", st, err)
	}
	// Disconnect wakes the parked handshake; goleak checks it ended.
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
}

// TestAuthTimeoutOption: the Timeout option bounds an auth step when the
// caller's ctx has no deadline.
func TestAuthTimeoutOption(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Fault: sshtest.FaultStallInAuth, Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := acceptedSession(t, srv, "u", Timeout(200*time.Millisecond))
	if _, err := s.UserauthPassword(context.Background(), "", "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// TestInterruptedStepIsCollectedLater: a step whose caller gave up stays in
// flight; the next call of the same kind gets its outcome.
func TestInterruptedStepIsCollectedLater(t *testing.T) {
	release := make(chan struct{})
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {KeyboardInteractive: []sshtest.Round{{Prompts: []string{"P: "}}}}}})
	_ = release
	s := acceptedSession(t, srv, "u")
	ctx := testCtx(t)
	if st, _ := s.UserauthKeyboardInteractive(ctx, "", ""); st != AuthInfo {
		t.Fatalf("start: %v", st)
	}
	_ = s.UserauthKeyboardInteractiveSetAnswers([]string{"x"})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	// With a dead ctx the answers still go out; the outcome is collected next.
	st, err := s.UserauthKeyboardInteractive(cancelled, "", "")
	if st == AuthSuccess {
		return // the server was faster than the cancelled wait: fine
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, %v", st, err)
	}
	if st, err := s.UserauthKeyboardInteractive(ctx, "", ""); st != AuthSuccess || err != nil {
		t.Fatalf("collect: %v, %v", st, err)
	}
}

func TestDisconnectWakesBlockedAuth(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Fault: sshtest.FaultStallInAuth, Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := acceptedSession(t, srv, "u")
	type result struct {
		st  AuthStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := s.UserauthPassword(context.Background(), "", "pw")
		done <- result{st, err}
	}()
	// Wait until the password step is in flight, then pull the plug.
	c := s.current()
	if err := c.waitFor(testCtx(t), func() bool { return c.auth.inflight != nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.st != AuthError || !errors.Is(r.err, ErrDisconnected) {
		t.Fatalf("blocked call got %v, %v", r.st, r.err)
	}
}

func TestConnectionDroppedMidHandshake(t *testing.T) {
	for _, n := range []int{0, 10, 300, 1200} {
		srv := sshtest.New(t, sshtest.Config{Fault: sshtest.FaultDropAfterBytes, DropAfter: n,
			Users: map[string]sshtest.User{"u": {Password: "pw"}}})
		s := NewSession()
		_ = s.SetOption(Hostname(srv.Host()), Port(srv.Port()), User("u"))
		err := s.Connect(testCtx(t))
		if err == nil {
			_ = s.AcceptHostKey()
			_, err = s.UserauthPassword(testCtx(t), "", "pw")
		}
		if err == nil {
			t.Fatalf("drop after %d bytes: no error", n)
		}
		_ = s.Disconnect()
	}
}

func TestLogLevelSendsRecordsToLogger(t *testing.T) {
	var buf lockedBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 8}))
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := acceptedSession(t, srv, "u", Logger(logger), LogLevel(LogProtocol))
	_, _ = s.UserauthPassword(testCtx(t), "", "pw")
	out := string(buf.Bytes())
	if !strings.Contains(out, "userauth step") || strings.Contains(out, "level=DEBUG") {
		t.Fatalf("LogProtocol output:\n%s", out)
	}
	if strings.Contains(out, "pw") && strings.Contains(out, "password=pw") {
		t.Fatal("a secret reached the log")
	}
	var quiet lockedBuffer
	s2 := acceptedSession(t, srv, "u", Logger(slog.New(slog.NewTextHandler(&quiet, nil))))
	_, _ = s2.UserauthPassword(testCtx(t), "", "pw")
	if len(quiet.Bytes()) != 0 {
		t.Fatalf("LogNoLogging logged:\n%s", quiet.Bytes())
	}
}
