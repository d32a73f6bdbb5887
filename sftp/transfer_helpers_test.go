package sftp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
)

const (
	xferUser = "xfer"
	xferPass = "xfer-pw"
)

// xferCtx is a test's context with a deadline well inside go test's.
func xferCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// xferSession logs in to an sshd-like server at host:port with a password, accepting any host
// key (the tests own the server).
func xferSession(t testing.TB, host string, port int, user, password string) *ssh.Session {
	t.Helper()
	ctx := xferCtx(t)
	s := ssh.NewSession()
	if err := s.SetOption(ssh.ProcessConfig(false), ssh.Hostname(host), ssh.Port(port), ssh.User(user),
		ssh.SSHDir(t.TempDir()), ssh.IdentityAgent("none")); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthPassword(ctx, "", password); st != ssh.AuthSuccess || err != nil {
		t.Fatalf("password auth: %v, %v", st, err)
	}
	return s
}

// xferServerConfig is an sshtest configuration serving sftp to xferUser.
func xferServerConfig(sftpHandler func(sshtest.ExecContext) int) sshtest.Config {
	return sshtest.Config{
		Users:      map[string]sshtest.User{xferUser: {Password: xferPass}},
		Subsystems: map[string]func(sshtest.ExecContext) int{"sftp": sftpHandler},
	}
}

// xferClient starts an in-process server with cfg and returns a Client on it.
func xferClient(t testing.TB, cfg sshtest.Config) (*Client, *ssh.Session, *sshtest.Server) {
	t.Helper()
	srv := xferServer(t, cfg)
	s := xferSession(t, srv.Host(), srv.Port(), xferUser, xferPass)
	c, err := New(xferCtx(t), s)
	if err != nil {
		t.Fatalf("sftp.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, s, srv
}

// xferServer starts an in-process server with cfg, closed at t's cleanup.
func xferServer(t testing.TB, cfg sshtest.Config) *sshtest.Server {
	t.Helper()
	return sshtest.New(t, cfg)
}

// randomFile writes size pseudo-random bytes (seeded, so a failure can be replayed) to p.
func randomFile(t testing.TB, p string, size int64, seed uint64) []byte {
	t.Helper()
	data := xferRandomBytes(size, seed)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func xferRandomBytes(size int64, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	data := make([]byte, size)
	for i := 0; i+8 <= len(data); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	for i := len(data) &^ 7; i < len(data); i++ {
		data[i] = byte(r.Uint32())
	}
	return data
}

// sameFile fails t unless the file at p holds want.
func sameFile(t testing.TB, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, sha256 %x; want %d bytes, sha256 %x", p, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

// noTemps fails t if a temporary or partial file is left in dir.
func noTemps(t testing.TB, dir string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if strings.Contains(de.Name(), ".part") {
			t.Errorf("left behind in %s: %s", dir, de.Name())
		}
	}
}

// hashFile returns the sha256 of the file at p, read in pieces.
func hashFile(t testing.TB, p string) [32]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// treeListing describes a local tree: one line per entry, "path kind size/target".
func treeListing(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			out = append(out, rel+" dir")
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" link "+target)
		default:
			data, _ := os.ReadFile(p)
			sum := sha256.Sum256(data)
			out = append(out, fmt.Sprintf("%s file %d %x", rel, len(data), sum[:8]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// xferHandler is the test server's sftp subsystem, serving this machine's files.
func xferHandler() func(sshtest.ExecContext) int { return sshtest.SFTPHandler(sshtest.SFTPOptions{}) }
