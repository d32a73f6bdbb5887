package scp

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testCtx bounds one test's waits: generous for -race, but finite.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// login starts an sshtest server with exec as its Exec handler and returns
// an authenticated Session to it.
func login(t *testing.T, exec func(sshtest.ExecContext) int) *ssh.Session {
	t.Helper()
	srv := sshtest.New(t, sshtest.Config{
		Users: map[string]sshtest.User{"u": {Password: "pw"}},
		Exec:  exec,
	})
	s := ssh.NewSession()
	if err := s.SetOption(ssh.ProcessConfig(false), ssh.Hostname(srv.Host()), ssh.Port(srv.Port()),
		ssh.User("u"), ssh.SSHDir(t.TempDir())); err != nil {
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
		t.Fatalf("login: %v, %v", st, err)
	}
	return s
}

// scpPath is OpenSSH's scp, which the realSCP handler runs.
const scpPath = "/usr/bin/scp"

// realSCP runs the command line with sh -c, as sshd does, so the real scp
// serves the transfer and the quoting meets a real shell. Stdin is copied
// by a goroutine of its own that ends with the channel: scp exits without
// reading its input to the end, and its exit status must not wait for the
// client's EOF.
// It runs in dir, where relative names resolve.
func realSCP(t *testing.T, dir string) func(sshtest.ExecContext) int {
	if _, err := os.Stat(scpPath); err != nil {
		t.Skipf("needs OpenSSH's scp at %s: %v", scpPath, err)
	}
	return func(ec sshtest.ExecContext) int {
		cmd := exec.CommandContext(ec.Ctx, "/bin/sh", "-c", ec.Command)
		cmd.Stdout, cmd.Stderr, cmd.Dir = ec.Stdout, ec.Stderr, dir
		in, err := cmd.StdinPipe()
		if err != nil {
			return 127
		}
		if err := cmd.Start(); err != nil {
			return 127
		}
		go func() {
			_, _ = io.Copy(in, ec.Stdin)
			_ = in.Close()
		}()
		err = cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			return 126
		}
		return 0
	}
}

// randomFile writes n random bytes to path and returns them.
func randomFile(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// sameFile fails t unless path holds want.
func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d expected", path, len(got), len(want))
	}
}

// noStrayFiles fails t if dir holds anything but the names given (a
// leftover temporary file, or a file a hostile server planted).
func noStrayFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{}
	for _, n := range names {
		allowed[n] = true
	}
	for _, de := range des {
		if !allowed[de.Name()] {
			t.Errorf("unexpected %s in %s", de.Name(), dir)
		}
	}
}

// step is one exchange of a scripted remote scp: read Acks bytes from the
// client, then send Send.
type step struct {
	Acks int
	Send string
}

// scripted is an Exec handler playing a remote scp that follows steps and
// then exits with status 1, or with hang, waits until the channel closes.
// It records the command line it got on cmds.
func scripted(cmds chan<- string, hang bool, steps ...step) func(sshtest.ExecContext) int {
	return func(ec sshtest.ExecContext) int {
		if cmds != nil {
			cmds <- ec.Command
		}
		for _, s := range steps {
			if _, err := io.ReadFull(ec.Stdin, make([]byte, s.Acks)); err != nil {
				return 2
			}
			if _, err := io.WriteString(ec.Stdout, s.Send); err != nil {
				return 2
			}
		}
		if hang {
			_, _ = io.Copy(io.Discard, ec.Stdin)
			<-ec.Ctx.Done()
		}
		return 1
	}
}

// treeFiles lists the regular files below dir, relative, with contents.
func treeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
