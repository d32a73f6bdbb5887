package sftp

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/faultrelay"
	"github.com/libssh-go/libssh/internal/interop"
	"github.com/libssh-go/libssh/ssh"
)

// interopXferSession logs in to the harness's sshd at host:port (the sshd itself, or a relay
// in front of it) with the "ed25519" key, accepting the host key only if the harness's
// known_hosts lists it.
func interopXferSession(t testing.TB, env *interop.Env, host string, port int) *ssh.Session {
	t.Helper()
	ctx := xferCtx(t)
	s := ssh.NewSession()
	if err := s.SetOption(ssh.ProcessConfig(false), ssh.Hostname(host), ssh.Port(port), ssh.User(env.User),
		ssh.SSHDir(t.TempDir()), ssh.IdentityAgent("none")); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	key, err := s.ServerPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	known, err := os.ReadFile(env.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(known), key.AuthorizedKey()) {
		t.Fatalf("server key %s is not in the harness's known_hosts", key.Fingerprint())
	}
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	priv, err := ssh.ParsePrivateKeyFile(env.Keys["ed25519"].Private, "")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthPublicKey(ctx, "", priv); st != ssh.AuthSuccess || err != nil {
		t.Fatalf("publickey: %v, %v", st, err)
	}
	return s
}

func interopXferClient(t testing.TB, env *interop.Env, host string, port int) *Client {
	t.Helper()
	c, err := New(xferCtx(t), interopXferSession(t, env, host, port))
	if err != nil {
		t.Fatalf("sftp.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// interopDir is a directory the server's user can write and the test can read: sshd runs
// sftp as env.User, which is not the test's user in ModeRoot.
func interopDir(t testing.TB, env *interop.Env) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "libssh-sftp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	u, err := user.Lookup(env.User)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeRandom writes size seeded pseudo-random bytes to p without holding them, and returns
// their sha256.
func writeRandom(t testing.TB, p string, size int64, seed uint64) [32]byte {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	// ChaCha8's Read is assembly, fast even under -race (a byte loop here took minutes).
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	r := rand.NewChaCha8(key)
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := int(min(left, int64(len(buf))))
		_, _ = r.Read(buf[:n])
		h.Write(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= int64(n)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// remoteSHA256 asks the server for a file's hash with OpenSSH's ssh and sha256sum, so the
// check does not go through this package.
func remoteSHA256(t testing.TB, env *interop.Env, p string) [32]byte {
	t.Helper()
	out, err := env.SSH(t, "sha256sum", p).Output()
	if err != nil {
		t.Fatalf("sha256sum %s: %v", p, err)
	}
	var sum [32]byte
	f := strings.Fields(string(out))
	if len(f) == 0 {
		t.Fatalf("sha256sum %s: %q", p, out)
	}
	if b, err := hex.DecodeString(f[0]); err != nil || copy(sum[:], b) != len(sum) {
		t.Fatalf("sha256sum %s: %q", p, out)
	}
	return sum
}

// xferOpenSSH runs OpenSSH's sftp in batch mode against env with the "ed25519" key, failing t
// if a command fails.
func xferOpenSSH(t testing.TB, env *interop.Env, commands ...string) string {
	t.Helper()
	bin, err := exec.LookPath("sftp")
	if err != nil {
		if interop.Required() {
			t.Fatalf("OpenSSH sftp: %v", err)
		}
		t.Skipf("no OpenSSH sftp client: %v", err)
	}
	batch := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(batch, []byte(strings.Join(commands, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin,
		"-b", batch, "-F", "/dev/null", "-P", strconv.Itoa(env.Port),
		"-i", env.Keys["ed25519"].Private,
		"-o", "UserKnownHostsFile="+env.KnownHostsFile, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentityAgent=none",
		env.User+"@"+env.Host)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sftp -b %q: %v\n%s", commands, err, out)
	}
	return string(out)
}

// interopLargeSize is 1 GiB in the required interop run (LIBSSH_INTEROP=1) and 64 MiB
// otherwise or with -short, which still crosses MultiChannelThreshold.
func interopLargeSize() int64 {
	if interop.Required() && !testing.Short() {
		return 1 << 30
	}
	return 64 << 20
}

func mbps(n int64, d time.Duration) string {
	return fmt.Sprintf("%.1f MB/s", float64(n)/1e6/d.Seconds())
}

// TestInteropTransferLarge puts and gets a large file through OpenSSH's sftp-server (sshd's
// internal-sftp, the same code) and checks its sha256 on each side.
func TestInteropTransferLarge(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	c := interopXferClient(t, env, env.Host, env.Port)
	// Under -race on a shared 2-core machine 1 GiB moves at 8-40 MB/s: allow for it.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	dir := interopDir(t, env)
	size := interopLargeSize()
	src := filepath.Join(dir, "src.bin")
	want := writeRandom(t, src, size, 77)

	remote := filepath.Join(dir, "remote.bin")
	start := time.Now()
	if err := c.Put(ctx, src, remote); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	t.Logf("put %d bytes: %v, %s", size, d, mbps(size, d))
	if got := remoteSHA256(t, env, remote); got != want {
		t.Fatalf("remote sha256 %x, want %x", got, want)
	}

	back := filepath.Join(dir, "back.bin")
	start = time.Now()
	if err := c.Get(ctx, remote, back); err != nil {
		t.Fatal(err)
	}
	d = time.Since(start)
	t.Logf("get %d bytes: %v, %s", size, d, mbps(size, d))
	if got := hashFile(t, back); got != want {
		t.Fatalf("local sha256 %x, want %x", got, want)
	}
	noTemps(t, dir)
}

// TestInteropTransferResumeAfterDrop cuts the connection to sshd midway (a relay resets it)
// and resumes over a new connection.
func TestInteropTransferResumeAfterDrop(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	const size = 48 << 20 // above resumeBackoff, so the resume skips data
	for _, op := range []string{"get", "put"} {
		t.Run(op, func(t *testing.T) {
			ctx := xferCtx(t)
			dir := interopDir(t, env)
			src := filepath.Join(dir, "src.bin")
			want := writeRandom(t, src, size, 78)
			dst := filepath.Join(dir, "dst.bin")

			relay := faultrelay.New(t, env.Addr)
			dirn := faultrelay.ServerToClient
			if op == "put" {
				dirn = faultrelay.ClientToServer
			}
			relay.Set(faultrelay.Fault{Dir: dirn, After: 40 << 20, Action: faultrelay.Reset})
			c := interopXferClient(t, env, "127.0.0.1", relay.Port())
			run := c.Get
			if op == "put" {
				run = c.Put
			}
			err := run(ctx, src, dst, Resume())
			var te *TransferError
			if !errors.Is(err, ssh.ErrDisconnected) || !errors.As(err, &te) || te.Offset <= 0 {
				t.Fatalf("%s through a relay that resets: %v", op, err)
			}
			t.Logf("%s cut at offset %d: %v", op, te.Offset, err)
			if _, err := os.Stat(dst); err == nil {
				t.Fatal("target exists after the drop")
			}

			c2 := interopXferClient(t, env, env.Host, env.Port)
			run = c2.Get
			if op == "put" {
				run = c2.Put
			}
			var first int64 = -1
			if err := run(ctx, src, dst, Resume(), Progress(func(d, _ int64) {
				if first < 0 {
					first = d
				}
			})); err != nil {
				t.Fatal(err)
			}
			if first <= 0 {
				t.Errorf("the second %s started from %d, not from the partial file", op, first)
			}
			t.Logf("resumed from %d", first)
			if got := hashFile(t, dst); got != want {
				t.Fatalf("sha256 %x, want %x", got, want)
			}
			noTemps(t, dir)
		})
	}
}

// makeSmallTree writes files small files spread over directories of 100, with one symbolic
// link per directory (which sftp -r leaves out).
func makeSmallTree(t testing.TB, root string, files int) {
	t.Helper()
	for i := range files {
		d := filepath.Join(root, fmt.Sprintf("d%02d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("f0000", filepath.Join(d, "link")); err != nil {
				t.Fatal(err)
			}
		}
		data := xferRandomBytes(int64(i%997+i/3), uint64(i))
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%04d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInteropTransferTree copies a tree of 1,000 small files each way, and cross-checks with
// OpenSSH's own sftp -r on the same server: what one writes the other reads back identically.
func TestInteropTransferTree(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	c := interopXferClient(t, env, env.Host, env.Port)
	ctx := xferCtx(t)
	dir := interopDir(t, env)
	src := filepath.Join(dir, "src")
	makeSmallTree(t, src, 1000)
	want := withoutLinks(treeListing(t, src))

	start := time.Now()
	if err := c.Put(ctx, src, filepath.Join(dir, "put"), Recursive()); err != nil {
		t.Fatal(err)
	}
	t.Logf("put -r of 1,000 files: %v", time.Since(start))
	if got := treeListing(t, filepath.Join(dir, "put")); !slices.Equal(got, want) {
		t.Fatalf("Put -r: %d entries, want %d", len(got), len(want))
	}

	start = time.Now()
	if err := c.Get(ctx, filepath.Join(dir, "put"), filepath.Join(dir, "got"), Recursive()); err != nil {
		t.Fatal(err)
	}
	t.Logf("get -r of 1,000 files: %v", time.Since(start))
	if got := treeListing(t, filepath.Join(dir, "got")); !slices.Equal(got, want) {
		t.Fatalf("Get -r: %d entries, want %d", len(got), len(want))
	}

	// OpenSSH reads what we wrote, and we read what OpenSSH wrote. Its put -r leaves the
	// links out too.
	start = time.Now()
	xferOpenSSH(t, env, "get -r "+filepath.Join(dir, "put")+" "+filepath.Join(dir, "oget"))
	t.Logf("OpenSSH sftp get -r of 1,000 files: %v", time.Since(start))
	if got := treeListing(t, filepath.Join(dir, "oget")); !slices.Equal(got, want) {
		t.Fatalf("OpenSSH get -r of our tree: %d entries, want %d", len(got), len(want))
	}
	start = time.Now()
	xferOpenSSH(t, env, "put -r "+src+" "+filepath.Join(dir, "oput"))
	t.Logf("OpenSSH sftp put -r of 1,000 files: %v", time.Since(start))
	if got := treeListing(t, filepath.Join(dir, "oput")); !slices.Equal(got, want) {
		t.Fatalf("OpenSSH put -r: %d entries, want %d (links left out)", len(got), len(want))
	}
	if err := c.Get(ctx, filepath.Join(dir, "oput"), filepath.Join(dir, "got2"), Recursive()); err != nil {
		t.Fatal(err)
	}
	if got := treeListing(t, filepath.Join(dir, "got2")); !slices.Equal(got, want) {
		t.Fatalf("Get -r of OpenSSH's tree: %d entries, want %d", len(got), len(want))
	}
}

// TestInteropTransferCrossCheck moves single files between this package and OpenSSH's sftp
// through the same server, with -p on both sides.
func TestInteropTransferCrossCheck(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	c := interopXferClient(t, env, env.Host, env.Port)
	ctx := xferCtx(t)
	dir := interopDir(t, env)
	const size = 5<<20 + 3
	src := filepath.Join(dir, "src.bin")
	want := writeRandom(t, src, size, 79)
	mtime := time.Date(2015, 6, 7, 8, 9, 10, 0, time.UTC)
	if err := os.Chtimes(src, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(src, 0o604); err != nil {
		t.Fatal(err)
	}

	// Ours writes, OpenSSH reads.
	if err := c.Put(ctx, src, filepath.Join(dir, "ours.bin"), PreserveTimes(), PreserveMode()); err != nil {
		t.Fatal(err)
	}
	xferOpenSSH(t, env, "get -p "+filepath.Join(dir, "ours.bin")+" "+filepath.Join(dir, "ours-by-openssh.bin"))
	checkCopy(t, filepath.Join(dir, "ours-by-openssh.bin"), want, mtime, 0o604)

	// OpenSSH writes, ours reads.
	xferOpenSSH(t, env, "put -p "+src+" "+filepath.Join(dir, "openssh.bin"))
	if err := c.Get(ctx, filepath.Join(dir, "openssh.bin"), filepath.Join(dir, "openssh-by-ours.bin"), PreserveTimes(), PreserveMode()); err != nil {
		t.Fatal(err)
	}
	checkCopy(t, filepath.Join(dir, "openssh-by-ours.bin"), want, mtime, 0o604)

	// A file OpenSSH's reget can finish is one our Resume left, and the other way round.
	part := filepath.Join(dir, "partial.bin")
	f, err := os.Create(part)
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, in, 2<<20); err != nil {
		t.Fatal(err)
	}
	in.Close()
	f.Close()
	if err := c.Get(ctx, src, part, Resume()); err != nil {
		t.Fatal(err)
	}
	if got := hashFile(t, part); got != want {
		t.Fatal("Resume of a partial target: wrong data")
	}
}

func checkCopy(t testing.TB, p string, want [32]byte, mtime time.Time, perm os.FileMode) {
	t.Helper()
	if got := hashFile(t, p); got != want {
		t.Fatalf("%s: sha256 %x, want %x", p, got, want)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mtime) || fi.Mode().Perm() != perm {
		t.Errorf("%s: mtime %v mode %v, want %v %v", p, fi.ModTime(), fi.Mode().Perm(), mtime, perm)
	}
}
