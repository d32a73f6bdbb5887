package sshtest_test

// Tests written as a user of package sshtest writes them: a handler literal
// in a Config, the module's ssh client (or sshclient) against it, and the
// server's records checked afterwards.

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
	"github.com/libssh-go/libssh/sshtest/sshclient"
	gossh "golang.org/x/crypto/ssh"
)

// Uptime is the function under test: it runs uptime(1) over s.
func Uptime(ctx context.Context, s *ssh.Session) (string, error) {
	out, err := s.Output(ctx, "uptime")
	if err != nil {
		return "", fmt.Errorf("uptime: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// dialKnown connects a session to srv the long way, as a program does
// against a real host: known_hosts from srv.KnownHostsLine, a host key
// check, a password.
func dialKnown(t *testing.T, srv *sshtest.Server, user, password string) *ssh.Session {
	t.Helper()
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(srv.KnownHostsLine()), 0o600); err != nil {
		t.Fatal(err)
	}
	sess := ssh.NewSession()
	t.Cleanup(func() { sess.Disconnect() })
	if err := sess.SetOption(ssh.Hostname(srv.Host()), ssh.Port(srv.Port()), ssh.User(user),
		ssh.ProcessConfig(false), ssh.KnownHosts(knownHosts), ssh.GlobalKnownHosts(knownHosts),
		ssh.StrictHostKeyChecking("yes"), ssh.IdentityAgent("none")); err != nil {
		t.Fatal(err)
	}
	if err := sess.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, err := sess.IsKnownServer(); st != ssh.KnownHostsOK || err != nil {
		t.Fatalf("IsKnownServer = %v, %v", st, err)
	}
	if st, err := sess.UserauthPassword(t.Context(), "", password); st != ssh.AuthSuccess || err != nil {
		t.Fatalf("UserauthPassword = %v, %v", st, err)
	}
	return sess
}

func TestUptime(t *testing.T) {
	const line = "10:17:03 up 3 days,  2:04,  1 user,  load average: 0.00, 0.01, 0.05"
	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Exec: func(ctx sshtest.ExecContext) int {
			if ctx.Command != "uptime" {
				return sshtest.RunBuiltin(ctx)
			}
			fmt.Fprintln(ctx.Stdout, line)
			return 0
		},
	})
	sess := dialKnown(t, srv, "alice", "pw")

	got, err := Uptime(t.Context(), sess)
	if err != nil || got != line {
		t.Fatalf("Uptime = %q, %v; want %q", got, err, line)
	}
	// The handler fell back to the built-ins for anything else.
	if out, err := sess.Output(t.Context(), "echo still here"); err != nil || string(out) != "still here\n" {
		t.Fatalf("echo = %q, %v", out, err)
	}

	log := srv.AuthLog()
	if last := log[len(log)-1]; last.Method != "password" || last.Password != "pw" || !last.Success {
		t.Errorf("last auth attempt %+v, want a successful password", last)
	}
	var execs []string
	for _, r := range srv.Requests() {
		if r.Type == "exec" {
			execs = append(execs, r.Command)
		}
	}
	if strings.Join(execs, "|") != "uptime|echo still here" {
		t.Errorf("exec requests %q", execs)
	}
}

// A subsystem handler, as an sftp or netconf server would be plugged in.
func TestSubsystemHandler(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Subsystems: map[string]func(sshtest.ExecContext) int{
			"upper": func(ctx sshtest.ExecContext) int {
				sc := bufio.NewScanner(ctx.Stdin)
				for sc.Scan() {
					fmt.Fprintln(ctx.Stdout, strings.ToUpper(sc.Text()))
				}
				if sc.Err() != nil {
					return 1
				}
				return 0
			},
		},
	})
	sess := sshclient.Connect(t, srv, "alice")

	ch, err := sess.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.OpenSession(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestSubsystem(t.Context(), "upper"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(ch, "hello\nworld\n"); err != nil {
		t.Fatal(err)
	}
	if err := ch.SendEOF(); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(ch.Stdout())
	if err != nil || string(out) != "HELLO\nWORLD\n" {
		t.Fatalf("subsystem output %q, %v", out, err)
	}
	if code, err := ch.ExitStatus(t.Context()); code != 0 || err != nil {
		t.Fatalf("exit status %d, %v", code, err)
	}

	// A name the server does not serve is refused, and recorded as such.
	ch2, err := sess.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch2.Close()
	if err := ch2.OpenSession(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := ch2.RequestSubsystem(t.Context(), "sftp"); !errors.Is(err, ssh.ErrRequestDenied) {
		t.Fatalf("subsystem sftp = %v, want ErrRequestDenied", err)
	}
	var got []string
	for _, r := range srv.Requests() {
		if r.Type == "subsystem" {
			got = append(got, fmt.Sprintf("%s:%v", r.Subsystem, r.OK))
		}
	}
	if strings.Join(got, " ") != "upper:true sftp:false" {
		t.Errorf("subsystem records %q", got)
	}
}

// A shell handler replaces the built-in line shell: here a prompt that
// answers one line and exits.
func TestShellHandler(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"alice": {Password: "pw"}},
		Shell: func(ctx sshtest.ExecContext) int {
			if ctx.Pty == nil {
				fmt.Fprintln(ctx.Stderr, "no tty")
				return 1
			}
			fmt.Fprintf(ctx.Stdout, "%s$ ", ctx.User)
			line, err := bufio.NewReader(ctx.Stdin).ReadString('\r')
			if err != nil {
				return 2
			}
			fmt.Fprintf(ctx.Stdout, "you said %q on a %dx%d %s\r\n", strings.TrimSpace(line), ctx.Pty.Cols, ctx.Pty.Rows, ctx.Pty.Term)
			return 3
		},
	})
	sess := sshclient.Connect(t, srv, "alice")
	ch, err := sess.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.OpenSession(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestPty(t.Context(), "vt100", 80, 24); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestShell(t.Context()); err != nil {
		t.Fatal(err)
	}
	prompt := make([]byte, len("alice$ "))
	if _, err := io.ReadFull(ch, prompt); err != nil || string(prompt) != "alice$ " {
		t.Fatalf("prompt %q, %v", prompt, err)
	}
	if _, err := io.WriteString(ch, "hi\r"); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(ch.Stdout())
	if want := "you said \"hi\" on a 80x24 vt100\r\n"; err != nil || string(out) != want {
		t.Fatalf("shell output %q, %v; want %q", out, err, want)
	}
	if code, err := ch.ExitStatus(t.Context()); code != 3 || err != nil {
		t.Fatalf("exit status %d, %v; want 3", code, err)
	}
}

// Faults: every server that never completes a key exchange makes Connect
// end with the context; every server that hangs up makes it fail with
// ErrDisconnected at once.
func TestConnectFaults(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg     sshtest.Config
		timeout bool // the connect must time out rather than fail
	}{
		"silent":                   {cfg: sshtest.Config{Fault: sshtest.FaultSilent}, timeout: true},
		"partial version":          {cfg: sshtest.Config{Fault: sshtest.FaultPartialVersion}, timeout: true},
		"stall before the version": {cfg: sshtest.Config{Fault: sshtest.FaultStallAfterBytes, StallAfter: 0}, timeout: true},
		"stall in the version":     {cfg: sshtest.Config{Fault: sshtest.FaultStallAfterBytes, StallAfter: 9}, timeout: true},
		"stall in the key exchange": {
			cfg:     sshtest.Config{Fault: sshtest.FaultStallAfterBytes, StallAfter: 200},
			timeout: true,
		},
		"garbage":                  {cfg: sshtest.Config{Fault: sshtest.FaultGarbage}},
		"drop in the version":      {cfg: sshtest.Config{Fault: sshtest.FaultDropAfterBytes, DropAfter: 9}},
		"drop in the key exchange": {cfg: sshtest.Config{Fault: sshtest.FaultDropAfterBytes, DropAfter: 200}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := sshtest.New(t, tc.cfg)
			sess := ssh.NewSession()
			defer sess.Disconnect()
			if err := sess.SetOption(ssh.Hostname(srv.Host()), ssh.Port(srv.Port()), ssh.User("u"), ssh.ProcessConfig(false)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			err := sess.Connect(ctx)
			switch {
			case tc.timeout && !errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("Connect = %v, want context.DeadlineExceeded", err)
			case !tc.timeout && (err == nil || errors.Is(err, context.DeadlineExceeded)):
				t.Fatalf("Connect = %v, want an error that is not a timeout", err)
			}
			if n := len(srv.Negotiated()); n != 0 {
				t.Errorf("%d key exchanges completed", n)
			}
		})
	}
}

// A server that stalls after the login, in the middle of a command's
// output: a client call bounded by a context must end with it.
func TestStallDuringCommand(t *testing.T) {
	// The budget is well past the login and a first command, and well
	// short of the second command's output.
	cfg := sshtest.Config{
		Users:      map[string]sshtest.User{"alice": {Password: "pw"}},
		Fault:      sshtest.FaultStallAfterBytes,
		StallAfter: 1 << 20,
	}
	srv := sshtest.New(t, cfg)
	sess := sshclient.Connect(t, srv, "alice")
	if out, err := sess.Output(t.Context(), "yes 100000"); err != nil || len(out) != 100000 {
		t.Fatalf("below the byte budget: %d bytes, %v", len(out), err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	out, err := sess.Output(ctx, "yes 2000000")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past the byte budget: %d bytes, %v; want context.DeadlineExceeded", len(out), err)
	}
}

// KnownHostsLine is what a known_hosts file needs: one line per key in
// use, for "[127.0.0.1]:port".
func TestKnownHostsLine(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{})
	lines := strings.Split(strings.TrimSuffix(srv.KnownHostsLine(), "\n"), "\n")
	keys := srv.HostKeys()
	if len(lines) != len(keys) {
		t.Fatalf("%d lines for %d host keys:\n%s", len(lines), len(keys), srv.KnownHostsLine())
	}
	for i, line := range lines {
		e, err := ssh.ParseKnownHostsLine(line)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if want := fmt.Sprintf("[127.0.0.1]:%d", srv.Port()); !e.MatchHostname(want) {
			t.Errorf("line %q does not match %s", line, want)
		}
		if !e.Key.Equal(ssh.NewKey(keys[i])) {
			t.Errorf("line %d holds %s, want %s", i, e.Key.Fingerprint(), gossh.FingerprintSHA256(keys[i]))
		}
	}

	// Restricted to one algorithm, the server serves one key, and only
	// that key's line is given.
	ed := sshtest.New(t, sshtest.Config{HostKeyAlgorithms: []string{gossh.KeyAlgoED25519}})
	if got := ed.KnownHostsLine(); strings.Count(got, "\n") != 1 || !strings.Contains(got, " ssh-ed25519 ") {
		t.Errorf("ed25519-only server: %q", got)
	}
}

// A host certificate is trusted through its CA: the line is
// @cert-authority, and a client accepts the certificate with it.
func TestKnownHostsLineCertificate(t *testing.T) {
	ca := sshtest.NewSigner(t, gossh.KeyAlgoED25519)
	hostKey := sshtest.NewSigner(t, gossh.KeyAlgoED25519)
	cert := &gossh.Certificate{
		Key:             hostKey.PublicKey(),
		CertType:        gossh.HostCert,
		ValidPrincipals: []string{"127.0.0.1"},
		ValidBefore:     gossh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	certSigner, err := gossh.NewCertSigner(cert, hostKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := sshtest.New(t, sshtest.Config{
		HostKeys: []gossh.Signer{certSigner},
		Users:    map[string]sshtest.User{"alice": {Password: "pw"}},
	})
	line := srv.KnownHostsLine()
	if !strings.HasPrefix(line, "@cert-authority [127.0.0.1]:") || !strings.Contains(line, string(gossh.MarshalAuthorizedKey(ca.PublicKey()))[:40]) {
		t.Fatalf("KnownHostsLine = %q, want a @cert-authority line for the CA", line)
	}
	sess := dialKnown(t, srv, "alice", "pw")
	if out, err := sess.Output(t.Context(), "whoami"); err != nil || string(out) != "alice\n" {
		t.Fatalf("whoami = %q, %v", out, err)
	}
}

// The records can be read while clients run: every accessor returns a
// copy taken under the server's lock (the race detector checks it).
func TestRecordsWhileClientsRun(t *testing.T) {
	var cfg sshtest.Config
	cfg.AddPasswordUser("alice", "pw")
	srv := sshtest.New(t, cfg)
	const clients = 4
	sessions := make([]*ssh.Session, clients)
	for i := range sessions {
		sessions[i] = sshclient.Connect(t, srv, "alice")
	}

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, sess := range sessions {
		wg.Go(func() {
			for j := range 5 {
				want := fmt.Sprintf("client %d run %d", i, j)
				if out, err := sess.Output(t.Context(), "echo "+want); err != nil || string(out) != want+"\n" {
					errs <- fmt.Errorf("%q: %q, %v", want, out, err)
					return
				}
			}
		})
	}
	// Read every record each time a request is recorded, while the
	// clients go on; WaitRequest calls match without the lock held.
	// A client that fails ends the wait early; the count below says so.
	ctx, cancel := context.WithCancel(t.Context())
	go func() { wg.Wait(); cancel() }()
	execs := 0
	_, err := srv.WaitRequest(ctx, func(r sshtest.RequestRecord) bool {
		_, _, _, _ = srv.AuthLog(), srv.Requests(), srv.GlobalRequests(), srv.Negotiated()
		if r.Type == "exec" {
			execs++
		}
		return execs == clients*5
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	execs = 0
	for _, r := range srv.Requests() {
		if r.Type == "exec" && r.OK {
			execs++
		}
	}
	if execs != clients*5 {
		t.Errorf("%d exec requests recorded, want %d", execs, clients*5)
	}
	if n := len(srv.Negotiated()); n != clients {
		t.Errorf("%d key exchanges recorded, want %d", n, clients)
	}
}

// AddPasswordUser and AddKeyUser build the Users map one user at a time,
// merging credentials.
func TestAddUsers(t *testing.T) {
	key := sshtest.NewSigner(t, gossh.KeyAlgoECDSA256)
	var cfg sshtest.Config
	cfg.AddKeyUser("bob", key.PublicKey())
	cfg.AddPasswordUser("bob", "pw")
	cfg.AddPasswordUser("carol", "pw2")
	srv := sshtest.New(t, cfg)

	bob, ok := srv.User("bob")
	if !ok || bob.Password != "pw" || len(bob.AuthorizedKeys) != 1 {
		t.Fatalf("bob = %+v, %v", bob, ok)
	}
	if _, ok := srv.User("dave"); ok {
		t.Fatal("an unconfigured user is reported")
	}
	sshclient.ConnectKey(t, srv, "bob", key)
	sshclient.Connect(t, srv, "bob")
	sshclient.Connect(t, srv, "carol")
}
