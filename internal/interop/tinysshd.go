package interop

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// tinysshd paths, as Debian's tinysshd package installs them.
const (
	tinysshdPath        = "/usr/sbin/tinysshd"
	tinysshdMakekeyPath = "/usr/sbin/tinysshd-makekey"
	tinysshdPrintkey    = "/usr/sbin/tinysshd-printkey"
)

// Tinysshd is a tinysshd (https://tinyssh.org) served on 127.0.0.1 for one test.
//
// tinysshd is an inetd-style server: it speaks SSH on its standard input and output and serves
// one connection. StartTinysshd therefore listens itself and runs one tinysshd per accepted
// connection, with the connection as stdin and stdout and a log file as stderr (tinysshd's -l
// would send its log to syslog instead; under inetd stderr would be the socket).
//
// tinysshd knows only public-key authentication with ed25519 keys, from the fixed file
// ~USER/.ssh/authorized_keys of the user logging in (TestUser). So that tests never touch that
// user's real home, each tinysshd runs in a private mount namespace (unshare --mount) in which a
// home directory made for the test is bind-mounted over TestUser's; tinysshd then reads the
// authorized keys file, and runs commands, there.
type Tinysshd struct {
	Host string // always 127.0.0.1
	Port int    // the port of the listener
	Addr string // Host:Port

	User string // TestUser
	Key  Key    // an ed25519 key without passphrase, authorized for User

	// KnownHostsFile holds the server's host key as "[127.0.0.1]:PORT ssh-ed25519 base64".
	KnownHostsFile string

	// Dir holds the keys, the home directory and the log; the cleanup removes it.
	Dir string
	// Home is the directory that stands in for User's home directory in the server's
	// processes; commands run there.
	Home string

	keyDir, logPath   string
	userHome          string // the real home directory of User, the mount point
	unshare, mountBin string
	sshKeygen         string

	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	procs []*process
	done  bool
}

// StartTinysshd starts the listener and registers the cleanup that closes it, stops every
// tinysshd it started and removes Dir; if t failed, tinysshd's log is written with t.Log first.
// It returns once a tinysshd has answered with its version line.
//
// When tinysshd, its tools, root privileges, unshare and mount, or TestUser are missing, it skips
// t, or fails it if Required reports true.
func StartTinysshd(t testing.TB) *Tinysshd {
	t.Helper()
	d := &Tinysshd{Host: "127.0.0.1", User: TestUser}
	uid, gid, err := d.findTools()
	if err != nil {
		if Required() {
			t.Fatalf("interop: %v (LIBSSH_INTEROP=1 requires tinysshd: apt-get install tinysshd)", err)
		}
		t.Skipf("interop: no usable tinysshd (set LIBSSH_INTEROP=1 in CI to require it): %v", err)
	}
	d.Dir = makeDir(t)
	d.keyDir = filepath.Join(d.Dir, "tinyssh-keys")
	d.logPath = filepath.Join(d.Dir, "tinysshd.log")
	d.Home = filepath.Join(d.Dir, "home")
	d.makeKeys(t, uid, gid)

	d.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	d.Port = d.ln.Addr().(*net.TCPAddr).Port
	d.Addr = net.JoinHostPort(d.Host, strconv.Itoa(d.Port))
	d.wg.Add(1)
	go d.serve()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("interop: tinysshd log %s:\n%s", d.logPath, logTail(d.logPath, logLimit))
		}
	})
	d.writeKnownHosts(t)
	if err := checkSSHBanner(d.Addr); err != nil {
		t.Fatalf("interop: tinysshd on %s: %v\ntinysshd log:\n%s", d.Addr, err, logTail(d.logPath, logLimit))
	}
	return d
}

// findTools checks what StartTinysshd needs and returns TestUser's uid and gid.
func (d *Tinysshd) findTools() (uid, gid int, err error) {
	if runtime.GOOS != "linux" {
		return 0, 0, errors.New("interop tests run only on Linux")
	}
	if os.Geteuid() != 0 {
		return 0, 0, errors.New("not running as root, which tinysshd needs to log in as " + TestUser + " and the mount namespace needs")
	}
	for _, p := range []string{tinysshdPath, tinysshdMakekeyPath, tinysshdPrintkey} {
		if _, err := os.Stat(p); err != nil {
			return 0, 0, fmt.Errorf("tinysshd: %w", err)
		}
	}
	if d.unshare, err = exec.LookPath("unshare"); err != nil {
		return 0, 0, err
	}
	if d.mountBin, err = exec.LookPath("mount"); err != nil {
		return 0, 0, err
	}
	if d.sshKeygen, err = exec.LookPath("ssh-keygen"); err != nil {
		return 0, 0, err
	}
	u, err := user.Lookup(TestUser)
	if err != nil {
		return 0, 0, fmt.Errorf("test user: %w", err)
	}
	if fi, err := os.Stat(u.HomeDir); err != nil || !fi.IsDir() {
		return 0, 0, fmt.Errorf("test user %s has no home directory %q", TestUser, u.HomeDir)
	}
	d.userHome = u.HomeDir
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("test user %s has uid %q and gid %q, not numbers", TestUser, u.Uid, u.Gid)
	}
	// A mount namespace needs CAP_SYS_ADMIN, which some containers drop even for root.
	if out, err := exec.Command(d.unshare, "--mount", "--", "true").CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("unshare --mount: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return uid, gid, nil
}

// makeKeys makes the host key directory, the client key and the stand-in home directory with
// its authorized keys file. tinysshd checks, as the user, that every directory from ~/.ssh up
// to / and the file itself are owned by the user or root and not writable by group or others.
func (d *Tinysshd) makeKeys(t testing.TB, uid, gid int) {
	t.Helper()
	if out, err := exec.Command(tinysshdMakekeyPath, "-q", d.keyDir).CombinedOutput(); err != nil {
		t.Fatalf("interop: tinysshd-makekey: %v\n%s", err, out)
	}
	d.Key = Key{Private: filepath.Join(d.Dir, "id_ed25519")}
	d.Key.Public = d.Key.Private + ".pub"
	out, err := exec.Command(d.sshKeygen, "-q", "-t", "ed25519", "-N", "", "-C", "libssh-interop-tinysshd", "-f", d.Key.Private).CombinedOutput()
	if err != nil {
		t.Fatalf("interop: ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(d.Key.Public)
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	d.Key.Type, _, _ = strings.Cut(string(pub), " ")

	sshDir := filepath.Join(d.Home, ".ssh")
	authorized := filepath.Join(sshDir, "authorized_keys")
	if err := os.MkdirAll(sshDir, 0o755); err != nil {
		t.Fatalf("interop: %v", err)
	}
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		t.Fatalf("interop: %v", err)
	}
	for _, p := range []string{d.Home, sshDir, authorized} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatalf("interop: %v", err)
		}
	}
	if err := os.Chmod(sshDir, 0o700); err != nil {
		t.Fatalf("interop: %v", err)
	}
}

// writeKnownHosts writes KnownHostsFile from tinysshd-printkey's output.
func (d *Tinysshd) writeKnownHosts(t testing.TB) {
	t.Helper()
	out, err := exec.Command(tinysshdPrintkey, d.keyDir).Output()
	if err != nil {
		t.Fatalf("interop: tinysshd-printkey: %v", err)
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("interop: malformed tinysshd-printkey line %q", line)
		}
		fmt.Fprintf(&b, "[%s]:%d %s %s\n", d.Host, d.Port, f[0], f[1])
	}
	d.KnownHostsFile = filepath.Join(d.Dir, "known_hosts")
	if err := os.WriteFile(d.KnownHostsFile, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("interop: %v", err)
	}
}

// serve accepts connections until the listener is closed and runs one tinysshd for each.
func (d *Tinysshd) serve() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.spawn(c)
	}
}

// spawn runs tinysshd on c. The process gets its own copy of the socket; ours is closed.
func (d *Tinysshd) spawn(c net.Conn) {
	defer c.Close()
	f, err := c.(*net.TCPConn).File()
	if err != nil {
		return
	}
	defer f.Close()
	logFile, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer logFile.Close()
	// In the new mount namespace (private propagation, unshare's default for --mount) the
	// stand-in home covers the real one for this tinysshd and the commands it runs only.
	// -v: log every connection's steps (to stderr, the log file).
	cmd := exec.Command(d.unshare, "--mount", "--", "sh", "-c", `"$0" --bind "$1" "$2" && exec "$3" -v "$4"`,
		d.mountBin, d.Home, d.userHome, tinysshdPath, d.keyDir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, logFile
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return
	}
	p, err := startProcess(cmd)
	if err != nil {
		fmt.Fprintf(logFile, "interop: starting tinysshd: %v\n", err)
		return
	}
	// Finished processes are dropped as new ones start, so a long test does not pile them up.
	kept := d.procs[:0]
	for _, q := range d.procs {
		if !q.exited() {
			kept = append(kept, q)
		}
	}
	d.procs = append(kept, p)
}

// stop closes the listener, waits for the accept loop and stops every tinysshd still running.
func (d *Tinysshd) stop() {
	_ = d.ln.Close()
	d.wg.Wait()
	d.mu.Lock()
	d.done = true
	procs := d.procs
	d.procs = nil
	d.mu.Unlock()
	for _, p := range procs {
		p.stop()
	}
}
