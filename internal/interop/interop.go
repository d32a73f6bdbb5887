// Package interop starts real SSH servers (OpenSSH's sshd, Dropbear) and ssh-agent for
// interoperability tests.
//
// Each call to Start runs its own sshd on 127.0.0.1 with a private configuration, host keys and
// client keys made by ssh-keygen, so tests never depend on the machine's sshd or ~/.ssh.
//
// LIBSSH_INTEROP chooses how (see Mode):
//
//   - LIBSSH_INTEROP=1 (ModeRoot; ./test.sh as root, and so CI): the servers run as root and log
//     in the test user (TestUser), which ./test.sh creates, so that PAM can check TestPassword
//     and sessions can switch to that user. Anything missing fails the test.
//   - LIBSSH_INTEROP=nonroot (ModeNonRoot; ./test.sh without root): the servers run as the
//     current user, on a free port, and log in that user with public keys. A non-root sshd
//     cannot check a password (PAM and /etc/shadow need root), so the password and
//     keyboard-interactive cases skip, naming why (Env.SkipWithoutPassword), and so do the
//     other cases that need root (a pty on some machines, a server that is not installed).
//   - unset: as LIBSSH_INTEROP=1 when running as root with everything installed; otherwise the
//     tests skip with the reason.
package interop

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestUser and TestPassword are the test account that ./test.sh creates when it runs as root
// (its test_user and test_password must stay equal to these); sshd checks the password through
// PAM for both password and keyboard-interactive authentication.
const (
	TestUser     = "libsshtest"
	TestPassword = "libsshtest-pw"
)

// KeyPassphrase encrypts the "ed25519-enc" client key.
const KeyPassphrase = "libsshtest-passphrase"

// sshdPath is absolute because sshd re-executes itself and refuses a relative argv[0].
const sshdPath = "/usr/sbin/sshd"

// Env is a running server, sshd made by Start or Dropbear made by StartDropbear (and, unless
// NoAgent was set, a running ssh-agent), for one test or shared by the tests of a package. It is
// read-only after Start returns and safe to use from several goroutines. Everything it started
// is stopped by the cleanup of the test passed to Start.
type Env struct {
	Host string // always 127.0.0.1
	Port int    // a free port chosen by Start
	Addr string // Host:Port

	// User is the account the server logs in: TestUser in ModeRoot, the current user in
	// ModeNonRoot.
	User string

	// Password is User's password, TestPassword, when PasswordAuth is true; empty otherwise.
	Password string

	// PasswordAuth reports whether the server can check Password (password and, for sshd,
	// keyboard-interactive logins). It is true only in ModeRoot: a server running as an
	// ordinary user can read neither /etc/shadow nor use PAM. Tests of those methods call
	// SkipWithoutPassword.
	PasswordAuth bool

	// PTY reports whether the server can allocate pseudo-terminals (pty-req). It is always
	// true as root; as an ordinary user only when devpts gives new terminals group tty, see
	// SkipWithoutPTY.
	PTY        bool
	ptyProblem string

	// Dir is the temporary directory holding the configuration, keys, logs and sockets.
	// It is removed by the cleanup.
	Dir string

	// KnownHostsFile lists the host keys of this server, one "[127.0.0.1]:PORT type base64"
	// line per key type (ed25519, ecdsa, rsa).
	KnownHostsFile string

	// HostKeyFiles maps "ed25519", "ecdsa" and "rsa" to the private host key files of this
	// server, in its own format (OpenSSH's for sshd, Dropbear's for Dropbear); each has its
	// public half in OpenSSH format beside it, in PATH.pub.
	HostKeyFiles map[string]string

	// Keys holds client keys made by ssh-keygen, all authorized for User: "ed25519", "ecdsa"
	// (P-256) and "rsa" without a passphrase, and "ed25519-enc" encrypted with KeyPassphrase;
	// StartDropbear adds "ecdsa384" and "ecdsa521".
	Keys map[string]Key

	// AgentSock is the socket of a running ssh-agent that holds the "ed25519" and "rsa" keys.
	// It is empty with Options.NoAgent.
	AgentSock string

	SSHBin       string // the OpenSSH ssh client
	SSHKeygenBin string // ssh-keygen
	SSHAddBin    string // ssh-add

	sshAgentBin string
	uid, gid    int    // User's, for the authorized keys file
	home        string // User's home directory
}

// Key is a client key pair made by ssh-keygen.
type Key struct {
	Private    string // path of the private key file (mode 0600, OpenSSH format)
	Public     string // path of the public key file (Private + ".pub")
	Passphrase string // empty unless the private key is encrypted
	Type       string // the key's algorithm name: "ssh-ed25519", "ecdsa-sha2-nistp256" or "ssh-rsa"
}

// Options adjusts the sshd that Start runs. The zero value is the default configuration.
type Options struct {
	// AuthenticationMethods, when not empty, is written as sshd's AuthenticationMethods
	// (for example "publickey,keyboard-interactive" for two factors).
	AuthenticationMethods string

	// ExtraConfig holds raw sshd_config lines. sshd keeps the first value it reads for most
	// keywords, so lines up to the first "Match" are written before Start's defaults and
	// override them; a "Match" line and everything after it go at the end of the file.
	ExtraConfig []string

	// NoAgent skips starting ssh-agent; Env.AgentSock is then empty.
	NoAgent bool
}

// Mode is how interop tests run; the environment variable LIBSSH_INTEROP chooses it.
type Mode int

const (
	// ModeAuto (LIBSSH_INTEROP unset or empty) runs the tests as ModeRoot does when the process
	// is root and everything is installed, and skips them otherwise.
	ModeAuto Mode = iota
	// ModeRoot (LIBSSH_INTEROP=1) runs the servers as root, logging in TestUser with
	// TestPassword or keys. Anything missing, root included, fails the test.
	ModeRoot
	// ModeNonRoot (LIBSSH_INTEROP=nonroot) runs the servers as the current user, who must not
	// be root, logging in that user with keys. Cases that need root skip, saying why: a
	// password, a pty (see SkipWithoutPTY), a server that is not installed. Anything else that
	// goes wrong fails the test.
	ModeNonRoot
)

// String returns the LIBSSH_INTEROP value that selects m.
func (m Mode) String() string {
	switch m {
	case ModeRoot:
		return "1"
	case ModeNonRoot:
		return "nonroot"
	}
	return ""
}

// CurrentMode returns the Mode LIBSSH_INTEROP selects. Any value other than "", "1" and
// "nonroot" is an error, so a typo cannot turn required tests into skips.
func CurrentMode() (Mode, error) {
	switch v := os.Getenv("LIBSSH_INTEROP"); v {
	case "":
		return ModeAuto, nil
	case "1":
		return ModeRoot, nil
	case "nonroot":
		return ModeNonRoot, nil
	default:
		return ModeAuto, fmt.Errorf("LIBSSH_INTEROP=%q: want 1 (servers run as root), nonroot (servers run as the current user) or nothing", v)
	}
}

// Required reports whether a missing server or tool must fail a test rather than skip it:
// LIBSSH_INTEROP=1 (ModeRoot). In ModeNonRoot what is not installed skips, since installing it
// needs root; everything else that goes wrong fails.
func Required() bool {
	return os.Getenv("LIBSSH_INTEROP") == "1"
}

// SkipWithoutPassword skips t when the server cannot check Password (PasswordAuth is false),
// naming why. Every test of password or keyboard-interactive logins calls it first, so that
// ModeNonRoot reports those tests as skipped, never as passed.
func (e *Env) SkipWithoutPassword(t testing.TB) {
	t.Helper()
	if !e.PasswordAuth {
		t.Skipf("interop: needs root: a server running as %s (LIBSSH_INTEROP=nonroot) cannot check passwords, because PAM and /etc/shadow need root; run ./test.sh as root for the password and keyboard-interactive cases", e.User)
	}
}

// SkipWithoutPTY skips t when the server cannot allocate a pseudo-terminal (PTY is false),
// naming why. Tests that send pty-req call it first: a server running as an ordinary user must
// chown the new terminal to group tty, which only root can do unless devpts already does it,
// and the server's connection process exits when the chown fails.
func (e *Env) SkipWithoutPTY(t testing.TB) {
	t.Helper()
	if !e.PTY {
		t.Skipf("interop: needs root: a server running as %s (LIBSSH_INTEROP=nonroot) cannot allocate a pty here: %s", e.User, e.ptyProblem)
	}
}

// needsPassword reports whether an AuthenticationMethods list names a method that checks a
// password.
func needsPassword(methods string) bool {
	for _, list := range strings.Fields(methods) {
		for _, m := range strings.Split(list, ",") {
			m, _, _ = strings.Cut(m, ":")
			if m == "password" || m == "keyboard-interactive" {
				return true
			}
		}
	}
	return false
}

// Start runs sshd (and ssh-agent unless opts.NoAgent) for the test t and returns once sshd
// accepts connections. Cleanups registered on t stop every process started (sshd with its
// connection and session children) and remove Env.Dir; if t failed, the sshd log is written
// with t.Log first.
//
// When sshd, the OpenSSH client tools, root privileges (ModeRoot) or TestUser are missing,
// Start skips t, or fails it if Required reports true. In ModeNonRoot, Start skips t when
// opts.AuthenticationMethods needs a password.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	e := newEnv(t, "sshd", sshdPath)
	if needsPassword(opts.AuthenticationMethods) {
		e.SkipWithoutPassword(t)
	}
	e.Dir = makeEnvDir(t, e.PasswordAuth)
	e.writeAuthorizedKeys(t, e.makeKeys(t, true, baseClientKeys))
	e.startSSHD(t, opts)
	e.writeKnownHosts(t)
	if !opts.NoAgent {
		e.startAgent(t)
	}
	return e
}

// newEnv decides the Mode, checks the server's programs (absolute paths) and the client
// tools, and returns an Env with User, Password and the tool paths set. It skips or fails t as Start
// documents.
func newEnv(t testing.TB, server string, serverPaths ...string) *Env {
	t.Helper()
	mode, err := CurrentMode()
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	e := &Env{Host: "127.0.0.1"}
	if err := e.findTools(mode, serverPaths); err != nil {
		missing := errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist)
		switch {
		case mode == ModeRoot:
			t.Fatalf("interop: %v (LIBSSH_INTEROP=1 requires a working %s as root; ./test.sh sets it up)", err, server)
		case mode == ModeNonRoot && missing:
			t.Skipf("interop: needs root: %s is not installed, and installing it needs root (./test.sh as root installs it): %v", server, err)
		case mode == ModeNonRoot:
			t.Fatalf("interop: %v", err)
		}
		t.Skipf("interop: no usable %s (./test.sh sets LIBSSH_INTEROP to require it): %v", server, err)
	}
	return e
}

// findTools checks everything Start needs from the machine for mode and fills in the user and
// the tool paths.
func (e *Env) findTools(mode Mode, serverPaths []string) error {
	if runtime.GOOS != "linux" {
		return errors.New("interop tests run only on Linux")
	}
	root := os.Geteuid() == 0
	switch {
	case mode == ModeNonRoot && root:
		return errors.New("LIBSSH_INTEROP=nonroot runs the servers as the current user, which is root here; use LIBSSH_INTEROP=1")
	case mode != ModeNonRoot && !root:
		return errors.New("not running as root, which the servers need for passwords (PAM, /etc/shadow) and to log in as " + TestUser + "; LIBSSH_INTEROP=nonroot runs them as yourself")
	}
	for _, p := range serverPaths {
		if _, err := os.Stat(p); err != nil {
			return err
		}
	}
	for _, tool := range []struct {
		name string
		path *string
	}{
		{"ssh", &e.SSHBin},
		{"ssh-keygen", &e.SSHKeygenBin},
		{"ssh-agent", &e.sshAgentBin},
		{"ssh-add", &e.SSHAddBin},
	} {
		p, err := exec.LookPath(tool.name)
		if err != nil {
			return err
		}
		*tool.path = p
	}
	var u *user.User
	var err error
	if root {
		if u, err = user.Lookup(TestUser); err != nil {
			return fmt.Errorf("test user: %w", err)
		}
		e.User, e.Password, e.PasswordAuth = TestUser, TestPassword, true
	} else {
		if u, err = user.Current(); err != nil {
			return fmt.Errorf("current user: %w", err)
		}
		e.User = u.Username
	}
	e.ptyProblem = ptyProblem()
	e.PTY = e.ptyProblem == ""
	if fi, err := os.Stat(u.HomeDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("user %s has no home directory %q", u.Username, u.HomeDir)
	}
	var err1, err2 error
	e.uid, err1 = strconv.Atoi(u.Uid)
	e.gid, err2 = strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("user %s has uid %q and gid %q, not numbers", u.Username, u.Uid, u.Gid)
	}
	e.home = u.HomeDir
	return nil
}

// makeDir creates Env.Dir for a server that reads it as TestUser: makeEnvDir(t, true).
func makeDir(t testing.TB) string {
	t.Helper()
	return makeEnvDir(t, true)
}

// makeEnvDir creates Env.Dir. It is not t.TempDir: that path grows with the test name and
// would overflow the 108-byte limit of the agent's socket path, and its 0700 parents would keep
// a server running as root, acting as TestUser, from reading the authorized keys file; with
// otherUser set every parent is checked for that.
func makeEnvDir(t testing.TB, otherUser bool) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "libssh-interop-")
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("interop: removing %s: %v", dir, err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("interop: %v", err)
	}
	if !otherUser {
		return dir
	}
	// sshd reads the authorized keys file as TestUser, so every directory above it must be
	// searchable by others.
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatalf("interop: %v", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			t.Fatalf("interop: %s is not searchable by %s; set TMPDIR to a directory under a world-searchable path", d, TestUser)
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	return dir
}

// writeKnownHosts writes KnownHostsFile from the public host keys; it needs Port.
func (e *Env) writeKnownHosts(t testing.TB) {
	t.Helper()
	var b strings.Builder
	for _, typ := range keyTypes {
		line, err := os.ReadFile(e.HostKeyFiles[typ] + ".pub")
		if err != nil {
			t.Fatalf("interop: %v", err)
		}
		f := strings.Fields(string(line))
		if len(f) < 2 {
			t.Fatalf("interop: malformed public host key %q", line)
		}
		fmt.Fprintf(&b, "[%s]:%d %s %s\n", e.Host, e.Port, f[0], f[1])
	}
	e.KnownHostsFile = filepath.Join(e.Dir, "known_hosts")
	if err := os.WriteFile(e.KnownHostsFile, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("interop: %v", err)
	}
}

// SSH returns an OpenSSH ssh command logging in to this sshd as User with the "ed25519" key and
// checking the host key against KnownHostsFile, for tests that compare with OpenSSH. It ignores
// ~/.ssh/config (-F /dev/null) and runs in batch mode; SSH_AUTH_SOCK is removed from its
// environment so the agent is used only when args ask for it (-o IdentityAgent=...).
//
// args follow the destination: leading options are still parsed by ssh, which accepts options
// after the destination, and the rest is the remote command. The command is killed when t's
// context ends, just before t's cleanups run.
func (e *Env) SSH(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	base := []string{
		"-F", "/dev/null",
		"-p", strconv.Itoa(e.Port),
		"-l", e.User,
		"-i", e.Keys["ed25519"].Private,
		"-o", "UserKnownHostsFile=" + e.KnownHostsFile,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		e.Host,
	}
	cmd := exec.CommandContext(t.Context(), e.SSHBin, append(base, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// logTail returns at most the last limit bytes of the file at path, for failure reports.
func logTail(path string, limit int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	var prefix string
	if fi.Size() > limit {
		if _, err := f.Seek(-limit, io.SeekEnd); err != nil {
			return err.Error()
		}
		prefix = fmt.Sprintf("[first %d bytes left out]\n", fi.Size()-limit)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return prefix + string(b) + "\n[read error: " + err.Error() + "]"
	}
	return prefix + string(b)
}
