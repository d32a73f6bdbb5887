package sshclient_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
	"github.com/libssh-go/libssh/sshtest/sshclient"
	"go.uber.org/goleak"
	gossh "golang.org/x/crypto/ssh"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Uptime is the code under test: it runs uptime(1) on the host behind s.
func Uptime(ctx context.Context, s *ssh.Session) (string, error) {
	out, err := s.Output(ctx, "uptime")
	if err != nil {
		return "", fmt.Errorf("uptime: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

const fixedUptime = " 10:17:03 up 3 days,  2:04,  1 user,  load average: 0.00, 0.01, 0.05"

// uptimeHandler is what a test hands the server: uptime prints a fixed
// line, anything else is not found, as in sh.
func uptimeHandler(ctx sshtest.ExecContext) int {
	if ctx.Command != "uptime" {
		fmt.Fprintf(ctx.Stderr, "sh: %s: not found\n", ctx.Command)
		return 127
	}
	fmt.Fprintln(ctx.Stdout, fixedUptime)
	return 0
}

func TestUptime(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Exec:  uptimeHandler,
	})
	sess := sshclient.Connect(t, srv, "alice")

	got, err := Uptime(t.Context(), sess)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(fixedUptime); got != want {
		t.Errorf("Uptime = %q, want %q", got, want)
	}
	var cmds []string
	for _, r := range srv.Requests() {
		if r.Type == "exec" {
			cmds = append(cmds, r.Command)
		}
	}
	if len(cmds) != 1 || cmds[0] != "uptime" {
		t.Errorf("exec requests = %q, want [uptime]", cmds)
	}
}

// A host without uptime: the function under test reports the exit status.
func TestUptimeMissing(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Exec: func(ctx sshtest.ExecContext) int {
			fmt.Fprintln(ctx.Stderr, "sh: uptime: not found")
			return 127
		},
	})
	sess := sshclient.Connect(t, srv, "alice")

	_, err := Uptime(t.Context(), sess)
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.Status != 127 || !strings.Contains(string(ee.Stderr), "not found") {
		t.Fatalf("Uptime error = %v, want an *ssh.ExitError with status 127 and the stderr", err)
	}
}

// A command that hangs after part of its output: the function under test
// must give up when its context ends, not wait for ever.
func TestUptimeHangs(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Exec: func(ctx sshtest.ExecContext) int {
			fmt.Fprint(ctx.Stdout, " 10:17:03 up")
			<-ctx.Ctx.Done() // a handler must return once its context ends
			return 1
		},
	})
	sess := sshclient.Connect(t, srv, "alice")
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := Uptime(ctx, sess); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Uptime = %v, want context.DeadlineExceeded", err)
	}
}

// A server that stalls after its version line, as one behind a dying
// network path: Connect must end with the context, naming the deadline.
func TestConnectStalledServer(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{
		Fault:      sshtest.FaultStallAfterBytes,
		StallAfter: len("SSH-2.0-libssh-go-testserver\r\n"),
	})
	sess := ssh.NewSession()
	defer sess.Disconnect()
	if err := sess.SetOption(ssh.Hostname(srv.Host()), ssh.Port(srv.Port()), ssh.User("alice"), ssh.ProcessConfig(false)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := sess.Connect(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect = %v, want context.DeadlineExceeded", err)
	}
	if len(srv.Negotiated()) != 0 {
		t.Errorf("a key exchange completed: %v", srv.Negotiated())
	}
}

// Connect logs in with whatever the server has for the user, following
// partial success through an AuthSequence.
func TestConnectMethods(t *testing.T) {
	key := sshtest.NewSigner(t, gossh.KeyAlgoED25519)
	kbd := []sshtest.Round{
		{Prompts: []string{"Password: "}, Want: []string{"pw"}},
		{Instruction: "PAM's last round has no prompts"},
		{Prompts: []string{"Code: ", "Again: "}}, // any answers
	}
	for name, tc := range map[string]struct {
		cfg     sshtest.Config
		key     bool
		methods []string // successful attempts in AuthLog, in order
	}{
		"none":     {cfg: sshtest.Config{Users: map[string]sshtest.User{"u": {NoneAuth: true}}}, methods: []string{"none"}},
		"password": {cfg: sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}}, methods: []string{"password"}},
		"keyboard-interactive": {
			cfg:     sshtest.Config{Users: map[string]sshtest.User{"u": {KeyboardInteractive: kbd}}},
			methods: []string{"keyboard-interactive"},
		},
		"key": {cfg: keyUser("u", key, ""), key: true, methods: []string{"publickey"}},
		"key then password": {
			cfg: func() sshtest.Config {
				c := keyUser("u", key, "pw")
				c.AuthSequence = []string{"publickey", "password"}
				return c
			}(),
			key:     true,
			methods: []string{"publickey", "password"},
		},
		"password then keyboard-interactive": {
			cfg: sshtest.Config{
				Users:        map[string]sshtest.User{"u": {Password: "pw", KeyboardInteractive: kbd}},
				AuthSequence: []string{"password", "keyboard-interactive"},
			},
			methods: []string{"password", "keyboard-interactive"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := sshtest.New(t, tc.cfg)
			var sess *ssh.Session
			if tc.key {
				sess = sshclient.ConnectKey(t, srv, "u", key)
			} else {
				sess = sshclient.Connect(t, srv, "u")
			}
			out, err := sess.Output(t.Context(), "whoami")
			if err != nil || string(out) != "u\n" {
				t.Fatalf("whoami = %q, %v", out, err)
			}
			var got []string
			for _, a := range srv.AuthLog() {
				if a.Success || a.Partial {
					got = append(got, a.Method)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.methods, ",") {
				t.Errorf("accepted methods %q, want %q (log %+v)", got, tc.methods, srv.AuthLog())
			}
		})
	}
}

func keyUser(name string, key interface{ PublicKey() gossh.PublicKey }, password string) sshtest.Config {
	var c sshtest.Config
	c.AddKeyUser(name, key.PublicKey())
	if password != "" {
		c.AddPasswordUser(name, password)
	}
	return c
}

// Dial verifies the host key for real: a session built from Dial's options
// but pointed at another server refuses that server's key.
func TestDialChecksHostKey(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	sess := sshclient.Dial(t, srv, "u")
	if k, err := sess.ServerPublicKey(); err != nil || !matchesAny(k, srv.HostKeys()) {
		t.Fatalf("ServerPublicKey = %v, %v; not one of the server's keys", k, err)
	}
	// Not authenticated yet: the test drives authentication itself.
	if st, err := sess.UserauthPassword(t.Context(), "", "wrong"); st != ssh.AuthDenied || err != nil {
		t.Fatalf("wrong password: %v, %v", st, err)
	}
	if st, err := sess.UserauthPassword(t.Context(), "", "pw"); st != ssh.AuthSuccess || err != nil {
		t.Fatalf("password: %v, %v", st, err)
	}

	// Another server with its own host key, reached with the first one's
	// known_hosts (as Dial wrote it): the port differs, so the key is
	// unknown and authentication is refused before any credential leaves.
	other := sshtest.New(t, sshtest.Config{
		HostKeys: []gossh.Signer{sshtest.NewSigner(t, gossh.KeyAlgoED25519)},
		Users:    map[string]sshtest.User{"u": {Password: "pw"}},
	})
	opts := sess.Options()
	s2 := ssh.NewSession()
	defer s2.Disconnect()
	if err := s2.SetOption(ssh.Hostname(other.Host()), ssh.Port(other.Port()), ssh.User("u"), ssh.ProcessConfig(false),
		ssh.KnownHosts(opts.KnownHosts[0]), ssh.GlobalKnownHosts(opts.GlobalKnownHosts[0]), ssh.StrictHostKeyChecking("yes")); err != nil {
		t.Fatal(err)
	}
	if err := s2.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, err := s2.IsKnownServer(); st != ssh.KnownHostsUnknown || err != nil {
		t.Fatalf("IsKnownServer = %v, %v; want unknown", st, err)
	}
	_, err := s2.UserauthPassword(t.Context(), "", "pw")
	var hk *ssh.HostKeyError
	if !errors.As(err, &hk) {
		t.Fatalf("UserauthPassword with an unknown host key = %v, want a *ssh.HostKeyError", err)
	}
	for _, a := range other.AuthLog() {
		if a.Method == "password" {
			t.Fatalf("the password was sent to a server with an unknown key: %+v", a)
		}
	}
}

func matchesAny(k *ssh.Key, keys []gossh.PublicKey) bool {
	for _, pk := range keys {
		if k.Equal(ssh.NewKey(pk)) {
			return true
		}
	}
	return false
}

// fatalTB records the first Fatal of a helper instead of ending the test;
// everything else goes to the real test, so cleanups still run.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatal(args ...any) { f.msg = fmt.Sprint(args...); runtime.Goexit() }
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalOf runs helper with a fatalTB on its own goroutine, as t.Fatal
// needs, and returns the message it failed with ("" if it did not).
func fatalOf(t *testing.T, helper func(testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		helper(f)
	}()
	<-done
	return f.msg
}

// The helpers fail the test with a message that says why, and fail closed.
func TestHelpersFail(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{
		"alice": {Password: "pw"},
		"nokey": {AuthorizedKeys: []gossh.PublicKey{sshtest.NewSigner(t, gossh.KeyAlgoED25519).PublicKey()}},
	}})
	stranger := sshtest.NewSigner(t, gossh.KeyAlgoED25519)
	for name, tc := range map[string]struct {
		helper func(testing.TB)
		want   string
	}{
		"unknown user":     {func(tb testing.TB) { sshclient.Connect(tb, srv, "mallory") }, `user "mallory" is not configured`},
		"no usable method": {func(tb testing.TB) { sshclient.Connect(tb, srv, "nokey") }, `nothing more to try`},
		"key refused":      {func(tb testing.TB) { sshclient.ConnectKey(tb, srv, "nokey", stranger) }, `logging in as "nokey"`},
		"bad option":       {func(tb testing.TB) { sshclient.Dial(tb, srv, "alice", ssh.Port(0)) }, "Port"},
		"nil key":          {func(tb testing.TB) { sshclient.ConnectKey(tb, srv, "alice", nil) }, "nil key"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := fatalOf(t, tc.helper); !strings.Contains(got, tc.want) {
				t.Errorf("fatal message %q, want it to contain %q", got, tc.want)
			}
		})
	}

	// A server gone before the dial: Connect fails, it does not hang.
	gone, err := sshtest.Start(sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	if got := fatalOf(t, func(tb testing.TB) { sshclient.Connect(tb, gone, "alice") }); !strings.Contains(got, "connecting to "+gone.Addr()) {
		t.Errorf("fatal message %q for a closed server", got)
	}
}

// A user certificate signed by one of the user's CAs logs in with ConnectKey.
func TestConnectKeyCertificate(t *testing.T) {
	ca := sshtest.NewSigner(t, gossh.KeyAlgoED25519)
	key := sshtest.NewSigner(t, gossh.KeyAlgoECDSA256)
	cert := &gossh.Certificate{
		Key:             key.PublicKey(),
		CertType:        gossh.UserCert,
		KeyId:           "carol",
		ValidPrincipals: []string{"carol"},
		ValidBefore:     gossh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	certSigner, err := gossh.NewCertSigner(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{
		"carol": {CertAuthorities: []gossh.PublicKey{ca.PublicKey()}},
	}})
	sess := sshclient.ConnectKey(t, srv, "carol", certSigner)
	if out, err := sess.Output(t.Context(), "whoami"); err != nil || string(out) != "carol\n" {
		t.Fatalf("whoami = %q, %v", out, err)
	}
	log := srv.AuthLog()
	if last := log[len(log)-1]; last.Method != "publickey" || !last.Success || !strings.Contains(last.KeyType, "cert") {
		t.Errorf("last attempt %+v, want a certificate login", last)
	}
}
