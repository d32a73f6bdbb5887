package sftp

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
)

// testCtx bounds one test's waits: generous for -race, but finite.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// loginTo returns a Session logged in to srv as alice.
func loginTo(t testing.TB, srv *sshtest.Server) *ssh.Session {
	t.Helper()
	s := ssh.NewSession()
	if err := s.SetOption(ssh.ProcessConfig(false), ssh.Hostname(srv.Host()), ssh.Port(srv.Port()),
		ssh.User("alice"), ssh.SSHDir(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != ssh.AuthSuccess {
		t.Fatalf("login: %v %v", st, err)
	}
	return s
}

// serve starts an sshtest server whose sftp subsystem serves o (o.Dir a
// fresh directory when empty) and returns a logged-in Session and the
// directory.
func serve(t testing.TB, o sshtest.SFTPOptions) (*ssh.Session, string) {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	srv := sshtest.New(t, sshtest.Config{
		Users:      map[string]sshtest.User{"alice": {Password: "pw"}},
		Subsystems: map[string]func(sshtest.ExecContext) int{"sftp": sshtest.SFTPHandler(o)},
	})
	return loginTo(t, srv), o.Dir
}

// client returns a Client on a server serving o, closed at cleanup.
func client(t testing.TB, o sshtest.SFTPOptions, opts ...Option) (*Client, string) {
	t.Helper()
	s, dir := serve(t, o)
	c, err := New(testCtx(t), s, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, dir
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func writeLocal(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func checkLocal(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d expected", path, len(got), len(want))
	}
}
