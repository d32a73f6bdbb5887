package scp

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/interop"
	"github.com/libssh-go/libssh/ssh"
)

// interopSession logs in to env's server with its ed25519 key, checking
// the host key against the harness's known_hosts file.
func interopSession(t *testing.T, env *interop.Env) *ssh.Session {
	t.Helper()
	s := ssh.NewSession()
	if err := s.SetOption(ssh.ProcessConfig(false), ssh.Hostname(env.Host), ssh.Port(env.Port),
		ssh.User(env.User), ssh.SSHDir(t.TempDir()), ssh.IdentityAgent("none"),
		ssh.KnownHosts(env.KnownHostsFile), ssh.GlobalKnownHosts("/dev/null")); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	if st, err := s.IsKnownServer(); st != ssh.KnownHostsOK {
		t.Fatalf("host key: %v, %v", st, err)
	}
	key, err := ssh.ParsePrivateKeyFile(env.Keys["ed25519"].Private, "")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthPublicKey(testCtx(t), "", key); st != ssh.AuthSuccess {
		t.Fatalf("auth: %v, %v", st, err)
	}
	return s
}

// workDir makes a directory the server's user can write, under env.Dir.
func workDir(t *testing.T, env *interop.Env) string {
	t.Helper()
	dir, err := os.MkdirTemp(env.Dir, "scp-")
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup(env.User)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	// Files the server writes are removed with env.Dir, by root.
	return dir
}

// opensshSCP runs OpenSSH's scp client in legacy mode (-O, the protocol
// this package speaks) against env with args.
func opensshSCP(t *testing.T, env *interop.Env, args ...string) {
	t.Helper()
	base := []string{"-O", "-q", "-F", "/dev/null", "-P", strconv.Itoa(env.Port),
		"-i", env.Keys["ed25519"].Private, "-o", "UserKnownHostsFile=" + env.KnownHostsFile,
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "IdentityAgent=none"}
	cmd := exec.CommandContext(testCtx(t), "scp", append(base, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scp %q: %v\n%s", args, err, out)
	}
}

func TestInteropOpenSSH(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	interopTransfers(t, env)
}

// Dropbear runs the scp it finds in PATH for "scp -t"/"scp -f": Debian's
// dropbear-bin ships none, so that is OpenSSH's.
func TestInteropDropbear(t *testing.T) {
	env := interop.StartDropbear(t, interop.DropbearOptions{NoAgent: true})
	interopTransfers(t, env)
}

func interopTransfers(t *testing.T, env *interop.Env) {
	s := interopSession(t, env)
	ctx := testCtx(t)
	remoteDir := workDir(t, env)
	local := t.TempDir()
	remote := func(name string) string { return env.User + "@" + env.Host + ":" + filepath.Join(remoteDir, name) }

	t.Run("file both ways, cross-checked with OpenSSH scp", func(t *testing.T) {
		src := filepath.Join(local, "src.bin")
		data := randomFile(t, src, 8<<20+3)
		if err := Put(ctx, s, src, filepath.Join(remoteDir, "cross.bin")); err != nil {
			t.Fatal(err)
		}
		viaOpenSSH := filepath.Join(local, "via-openssh.bin")
		opensshSCP(t, env, remote("cross.bin"), viaOpenSSH)
		sameFile(t, viaOpenSSH, data)

		data2 := randomFile(t, src, 5<<20+1)
		opensshSCP(t, env, src, remote("from-openssh.bin"))
		back := filepath.Join(local, "back.bin")
		if err := Get(ctx, s, filepath.Join(remoteDir, "from-openssh.bin"), back); err != nil {
			t.Fatal(err)
		}
		sameFile(t, back, data2)
		noStrayFiles(t, local, "src.bin", "via-openssh.bin", "back.bin")
	})

	t.Run("hostile names", func(t *testing.T) {
		src := filepath.Join(local, "small")
		data := randomFile(t, src, 1234)
		for _, name := range []string{"a b", "it's", "$(touch pwned)", "x;touch pwned", "-r", "`touch pwned`"} {
			r := filepath.Join(remoteDir, name)
			if err := Put(ctx, s, src, r); err != nil {
				t.Fatalf("Put %q: %v", name, err)
			}
			sameFile(t, r, data)
			got := filepath.Join(local, "got")
			if err := Get(ctx, s, r, got); err != nil {
				t.Fatalf("Get %q: %v", name, err)
			}
			sameFile(t, got, data)
		}
		for _, d := range []string{remoteDir, local} {
			if _, err := os.Stat(filepath.Join(d, "pwned")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a name was executed: %v", err)
			}
		}
	})

	t.Run("tree with times, cross-checked", func(t *testing.T) {
		tree := filepath.Join(local, "tree")
		files := map[string]string{"f1": "one", "d/f2": strings.Repeat("two", 10000), "d/e/f3": "", "d/e/with space": "sp"}
		for name, body := range files {
			p := filepath.Join(tree, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
				t.Fatal(err)
			}
		}
		old := time.Date(2010, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := os.Chtimes(filepath.Join(tree, "d/f2"), old, old); err != nil {
			t.Fatal(err)
		}
		if err := Put(ctx, s, tree, filepath.Join(remoteDir, "tree"), Recursive(), PreserveTimes()); err != nil {
			t.Fatal(err)
		}
		viaOpenSSH := filepath.Join(local, "tree-openssh")
		opensshSCP(t, env, "-r", "-p", remote("tree"), viaOpenSSH)
		if got := treeFiles(t, viaOpenSSH); !maps.Equal(got, files) {
			t.Fatalf("OpenSSH read %v", got)
		}
		fi, err := os.Stat(filepath.Join(viaOpenSSH, "d/f2"))
		if err != nil || !fi.ModTime().Equal(old) || fi.Mode().Perm() != 0o640 {
			t.Fatalf("d/f2 via OpenSSH: %v %v", fi, err)
		}
		opensshSCP(t, env, "-r", "-p", tree, remote("tree2"))
		back := filepath.Join(local, "tree-back")
		if err := Get(ctx, s, filepath.Join(remoteDir, "tree2"), back, Recursive(), PreserveTimes()); err != nil {
			t.Fatal(err)
		}
		if got := treeFiles(t, back); !maps.Equal(got, files) {
			t.Fatalf("Get read %v", got)
		}
		fi, err = os.Stat(filepath.Join(back, "d/f2"))
		if err != nil || !fi.ModTime().Equal(old) || fi.Mode().Perm() != 0o640 {
			t.Fatalf("d/f2 via Get: %v %v", fi, err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		err := Get(ctx, s, filepath.Join(remoteDir, "missing"), filepath.Join(local, "m"))
		if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrRemote) {
			t.Fatalf("missing: %v", err)
		}
		if err := Put(ctx, s, filepath.Join(local, "small"), "/proc/forbidden/x"); !errors.Is(err, ErrRemote) {
			t.Fatalf("unwritable: %v", err)
		}
	})
}
