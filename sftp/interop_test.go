package sftp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/interop"
	"github.com/libssh-go/libssh/ssh"
)

// The interop tests run against OpenSSH's sftp server behind sshd: the
// harness's "Subsystem sftp internal-sftp" (sshd's built-in copy of
// sftp-server; sshd refuses a second Subsystem line) and the external
// /usr/lib/openssh/sftp-server through ServerCommand. They cross-check with
// OpenSSH's own sftp client.

const sftpServerPath = "/usr/lib/openssh/sftp-server"

func interopEnv(t testing.TB) *interop.Env {
	t.Helper()
	return interop.Start(t, interop.Options{NoAgent: true})
}

func interopSession(t testing.TB, env *interop.Env) *ssh.Session {
	t.Helper()
	s := ssh.NewSession()
	if err := s.SetOption(ssh.ProcessConfig(false), ssh.Hostname(env.Host), ssh.Port(env.Port),
		ssh.User(env.User), ssh.SSHDir(t.TempDir()), ssh.IdentityAgent("none"),
		ssh.KnownHosts(env.KnownHostsFile)); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	if st, err := s.IsKnownServer(); st != ssh.KnownHostsOK {
		t.Fatalf("host key: %v %v", st, err)
	}
	key, err := ssh.ParsePrivateKeyFile(env.Keys["ed25519"].Private, "")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthPublicKey(testCtx(t), "", key); st != ssh.AuthSuccess {
		t.Fatalf("login: %v %v", st, err)
	}
	return s
}

// sharedDir is a directory the server's user may write.
func sharedDir(t testing.TB) string {
	d := t.TempDir()
	// The test's own temporary directory (d's parent) is 0700.
	if err := os.Chmod(filepath.Dir(d), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}

// opensshSFTP runs OpenSSH's sftp client with a batch of commands.
func opensshSFTP(t testing.TB, env *interop.Env, batch string) {
	t.Helper()
	bf := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(bf, []byte(batch), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "sftp", "-F", "/dev/null", "-P", strconv.Itoa(env.Port),
		"-i", env.Keys["ed25519"].Private, "-o", "UserKnownHostsFile="+env.KnownHostsFile,
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
		"-b", bf, env.User+"@"+env.Host)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sftp -b: %v\n%s", err, out)
	}
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestInteropOpenSSHSFTPServer(t *testing.T) {
	env := interopEnv(t)
	for _, mode := range []string{"subsystem", "command"} {
		t.Run(mode, func(t *testing.T) {
			var opts []Option
			if mode == "command" {
				opts = append(opts, ServerCommand(sftpServerPath))
			}
			c, err := New(testCtx(t), interopSession(t, env), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			interopCalls(t, env, c)
		})
	}
}

func interopCalls(t *testing.T, env *interop.Env, c *Client) {
	ctx := testCtx(t)
	for _, ext := range []string{"posix-rename@openssh.com", "statvfs@openssh.com", "hardlink@openssh.com",
		"fsync@openssh.com", "limits@openssh.com", "expand-path@openssh.com"} {
		if !c.HasExtension(ext) {
			t.Errorf("OpenSSH 9 announces %s; got %v", ext, c.Extensions())
		}
	}
	if r, w := c.RequestSizes(); r != 255<<10 || w != 255<<10 {
		t.Errorf("request sizes with limits@openssh.com: %d %d", r, w)
	}
	dir := sharedDir(t)

	// Data both ways, cross-checked with OpenSSH's sftp client.
	data := randomBytes(8<<20+4321, 11)
	p := path.Join(dir, "data")
	f, err := c.Create(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.ReadFrom(bytes.NewReader(data)); n != int64(len(data)) || err != nil {
		t.Fatalf("ReadFrom: %d %v", n, err)
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(sharedDir(t), "got")
	opensshSFTP(t, env, fmt.Sprintf("get %s %s\nput %s %s\n", p, local, local, p+".back"))
	checkLocal(t, local, data)
	f, err = c.Open(ctx, p+".back", OpenReadOnly, 0)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if n, err := f.WriteTo(h); n != int64(len(data)) || err != nil || hex.EncodeToString(h.Sum(nil)) != sha(data) {
		t.Fatalf("WriteTo: %d %v", n, err)
	}
	got := make([]byte, len(data))
	if n, err := f.ReadAt(got, 0); n != len(data) || err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAt: %d %v", n, err)
	}
	if n, err := f.ReadAt(got, 10); n != len(data)-10 || err != io.EOF {
		t.Fatalf("ReadAt to past the end: %d %v", n, err)
	}
	_ = f.Close()

	// Path calls.
	sub := path.Join(dir, "sub")
	if err := c.CreateDir(ctx, sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDir(ctx, sub, 0o755); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("mkdir existing: %v", err)
	}
	fp := path.Join(sub, "f")
	if f, err = c.Open(ctx, fp, OpenWriteOnly|OpenCreate|OpenExclusive, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(ctx, 4); err != nil {
		t.Fatal(err)
	}
	m, err := f.Metadata(ctx)
	if err != nil || m.Size() != 4 || m.Mode().Perm() != 0o600 {
		t.Fatalf("fstat: %v %v %v", m.Size(), m.Mode(), err)
	}
	_ = f.Close()
	if _, err := c.Open(ctx, fp, OpenWriteOnly|OpenCreate|OpenExclusive, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("exclusive create of an existing file: %v", err)
	}
	mt := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	at := mt.Add(-48 * time.Hour)
	if err := c.Chtimes(ctx, fp, at, mt); err != nil {
		t.Fatal(err)
	}
	if err := c.Chmod(ctx, fp, 0o640); err != nil {
		t.Fatal(err)
	}
	m, err = c.Metadata(ctx, fp)
	if err != nil || !m.ModTime().Equal(mt) || !m.AccessTime().Equal(at) || m.Mode() != 0o640 {
		t.Fatalf("stat: mtime %v atime %v mode %v %v", m.ModTime(), m.AccessTime(), m.Mode(), err)
	}
	if err := c.Chown(ctx, fp, m.Uid(), m.Gid()); err != nil {
		t.Fatal(err)
	}
	if err := c.Truncate(ctx, fp, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Symlink(ctx, "f", path.Join(sub, "l")); err != nil {
		t.Fatal(err)
	}
	if tgt, err := c.ReadLink(ctx, path.Join(sub, "l")); err != nil || tgt != "f" {
		t.Fatalf("readlink: %q %v", tgt, err)
	}
	if m, err := c.SymlinkMetadata(ctx, path.Join(sub, "l")); err != nil || m.FileType() != TypeSymlink {
		t.Fatalf("lstat: %v %v", m.FileType(), err)
	}
	if m, err := c.Metadata(ctx, path.Join(sub, "l")); err != nil || m.FileType() != TypeRegular || m.Size() != 2 {
		t.Fatalf("stat through link: %v %v", m.FileType(), err)
	}
	if err := c.Symlink(ctx, "f", path.Join(sub, "l")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("symlink over existing: %v", err)
	}
	if err := c.Hardlink(ctx, fp, path.Join(sub, "h")); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename(ctx, path.Join(sub, "h"), path.Join(sub, "h2")); err != nil {
		t.Fatal(err)
	}
	ents, err := c.ReadDir(ctx, sub)
	if err != nil || len(ents) != 3 {
		t.Fatalf("readdir: %v %v", ents, err)
	}
	for _, e := range ents {
		if e.Owner() != env.User || e.Group() == "" || e.LongName() == "" {
			t.Errorf("%s: owner %q group %q long %q", e.Name(), e.Owner(), e.Group(), e.LongName())
		}
	}
	if names := ents[0].Name() + "," + ents[1].Name() + "," + ents[2].Name(); names != "f,h2,l" {
		t.Fatalf("names %s", names)
	}
	if canon, err := c.Canonicalize(ctx, sub+"/../sub/."); err != nil || canon != sub {
		t.Fatalf("realpath: %q %v", canon, err)
	}
	home, err := c.HomeDir(ctx)
	if want, _ := c.Canonicalize(ctx, "."); err != nil || home != want || home == "" {
		t.Fatalf("home %q (realpath . %q) %v", home, want, err)
	}
	if st, err := c.StatVFS(ctx, dir); err != nil || st.FragmentSize == 0 || st.Blocks == 0 || st.NameMax == 0 {
		t.Fatalf("statvfs: %+v %v", st, err)
	}

	// Errors.
	if _, err := c.Metadata(ctx, path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	if env.User != "root" {
		if err := c.Chmod(ctx, fp, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Open(ctx, fp, OpenReadOnly, 0); !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("open of a mode-0 file: %v", err)
		}
		if _, err := c.ReadDir(ctx, "/root"); !errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("readdir /root: %v", err)
		}
	}
	if err := c.RemoveDir(ctx, sub); err == nil {
		t.Fatal("rmdir of a non-empty directory")
	}

	// FS over the tree.
	var walked []string
	err = fs.WalkDir(c.FS(), strings.TrimPrefix(sub, "/"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		walked = append(walked, path.Base(p))
		return nil
	})
	if err != nil || strings.Join(walked, ",") != "sub,f,h2,l" {
		t.Fatalf("WalkDir: %v %v", walked, err)
	}
	for _, n := range []string{"f", "h2", "l"} {
		if err := c.RemoveFile(ctx, path.Join(sub, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RemoveDir(ctx, sub); err != nil {
		t.Fatal(err)
	}
}
