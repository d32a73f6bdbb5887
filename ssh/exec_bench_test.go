package ssh

import (
	"context"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// BenchmarkChannelExecTrue is one channel open, exec "true", exit status and
// close on an authenticated connection to the in-process server, for this
// library and for raw x/crypto: the step a fleet tool's exec wave repeats.
// Allocations per op are the figure to compare; times include the server.
func BenchmarkChannelExecTrue(b *testing.B) {
	var cfg sshtest.Config
	cfg.AddPasswordUser("u", "pw")
	cfg.Exec = func(sshtest.ExecContext) int { return 0 }
	srv, err := sshtest.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	b.Run("lib", func(b *testing.B) {
		s := NewSession()
		if err := s.SetOption(ProcessConfig(false), Hostname(srv.Host()), Port(srv.Port()), User("u"), SSHDir(b.TempDir())); err != nil {
			b.Fatal(err)
		}
		if err := s.Connect(ctx); err != nil {
			b.Fatal(err)
		}
		defer s.Disconnect()
		_ = s.AcceptHostKey()
		if st, err := s.UserauthPassword(ctx, "", "pw"); st != AuthSuccess {
			b.Fatal(st, err)
		}
		b.ReportAllocs()
		for b.Loop() {
			execTrue(b, ctx, s)
		}
	})
	b.Run("xcrypto", func(b *testing.B) {
		c, err := gossh.Dial("tcp", srv.Addr(), &gossh.ClientConfig{User: "u", Auth: []gossh.AuthMethod{gossh.Password("pw")},
			HostKeyCallback: gossh.InsecureIgnoreHostKey()})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ReportAllocs()
		for b.Loop() {
			sess, err := c.NewSession()
			if err != nil {
				b.Fatal(err)
			}
			if err := sess.Run("true"); err != nil {
				b.Fatal(err)
			}
			_ = sess.Close()
		}
	})
}

// BenchmarkChannelExecTrueSSHD is BenchmarkChannelExecTrue against OpenSSH's
// sshd, whose exec channels run without TCP_NODELAY.
func BenchmarkChannelExecTrueSSHD(b *testing.B) {
	env := benchEnv(b)
	s := benchLib(b, env, "")
	ctx := context.Background()
	for b.Loop() {
		execTrue(b, ctx, s)
	}
}

// execTrue opens a session channel on s, runs "true" and closes the channel.
func execTrue(b *testing.B, ctx context.Context, s *Session) {
	b.Helper()
	ch, err := s.NewChannel()
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.OpenSession(ctx); err != nil {
		b.Fatal(err)
	}
	if err := ch.RequestExec(ctx, "true"); err != nil {
		b.Fatal(err)
	}
	if code, err := ch.ExitStatus(ctx); code != 0 || err != nil {
		b.Fatal(code, err)
	}
	_ = ch.Close()
}
