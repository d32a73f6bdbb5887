// Package interop starts a real OpenSSH sshd and ssh-agent for interoperability tests.
//
// Each call to Start runs its own sshd on 127.0.0.1 with a private configuration, host keys and
// client keys made by ssh-keygen, so tests never depend on the machine's sshd or ~/.ssh. Logins go
// to the CI test user (TestUser), which .ci/run creates; sshd therefore runs as root so that PAM
// can check TestPassword and sessions can switch to that user.
//
// Without sshd, root or the test user the tests skip, unless LIBSSH_INTEROP=1 (set by CI), which
// turns anything missing into a failure.
package interop

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestUser and TestPassword are the CI test account that .ci/run creates; sshd checks the
// password through PAM for both password and keyboard-interactive authentication.
const (
	TestUser     = "libsshtest"
	TestPassword = "libsshtest-pw"
)

// KeyPassphrase encrypts the "ed25519-enc" client key.
const KeyPassphrase = "libsshtest-passphrase"

// sshdPath is absolute because sshd re-executes itself and refuses a relative argv[0].
const sshdPath = "/usr/sbin/sshd"

// Env is a running sshd (and, unless Options.NoAgent, a running ssh-agent) made by Start for one
// test or shared by the tests of a package. It is read-only after Start returns and safe to use
// from several goroutines. Everything it started is stopped by the cleanup of the test passed to
// Start.
type Env struct {
	Host string // always 127.0.0.1
	Port int    // a free port chosen by Start
	Addr string // Host:Port

	User     string // TestUser
	Password string // TestPassword

	// Dir is the temporary directory holding the configuration, keys, logs and sockets.
	// It is removed by the cleanup.
	Dir string

	// KnownHostsFile lists the host keys of this sshd, one "[127.0.0.1]:PORT type base64" line
	// per key type (ed25519, ecdsa, rsa).
	KnownHostsFile string

	// HostKeyFiles maps "ed25519", "ecdsa" and "rsa" to the private host key files of this sshd.
	HostKeyFiles map[string]string

	// Keys holds client keys made by ssh-keygen, all authorized for User: "ed25519", "ecdsa"
	// and "rsa" without a passphrase, and "ed25519-enc" encrypted with KeyPassphrase.
	Keys map[string]Key

	// AgentSock is the socket of a running ssh-agent that holds the "ed25519" and "rsa" keys.
	// It is empty with Options.NoAgent.
	AgentSock string

	SSHBin       string // the OpenSSH ssh client
	SSHKeygenBin string // ssh-keygen
	SSHAddBin    string // ssh-add

	sshAgentBin string
	uid, gid    int // TestUser's, for the authorized keys file
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

// Required reports whether interop tests must run rather than skip: LIBSSH_INTEROP=1, as CI sets.
func Required() bool {
	return os.Getenv("LIBSSH_INTEROP") == "1"
}

// Start runs sshd (and ssh-agent unless opts.NoAgent) for the test t and returns once sshd
// accepts connections. Cleanups registered on t stop every process started (sshd with its
// connection and session children) and remove Env.Dir; if t failed, the sshd log is written
// with t.Log first.
//
// When sshd, the OpenSSH client tools, root privileges or TestUser are missing, Start skips t,
// or fails it if Required reports true.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	e := &Env{Host: "127.0.0.1", User: TestUser, Password: TestPassword}
	if err := e.findTools(); err != nil {
		if Required() {
			t.Fatalf("interop: %v (LIBSSH_INTEROP=1 requires a working sshd; .ci/run sets it up)", err)
		}
		t.Skipf("interop: no sshd (set LIBSSH_INTEROP=1 in CI to require it): %v", err)
	}
	e.Dir = makeDir(t)
	e.makeKeys(t)
	e.startSSHD(t, opts)
	e.writeKnownHosts(t)
	if !opts.NoAgent {
		e.startAgent(t)
	}
	return e
}

// findTools checks everything Start needs from the machine and fills in the tool paths.
func (e *Env) findTools() error {
	if runtime.GOOS != "linux" {
		return errors.New("interop tests run only on Linux")
	}
	if os.Geteuid() != 0 {
		return errors.New("not running as root, which sshd needs for PAM and to log in as " + TestUser)
	}
	if _, err := os.Stat(sshdPath); err != nil {
		return fmt.Errorf("sshd: %w", err)
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
	u, err := user.Lookup(TestUser)
	if err != nil {
		return fmt.Errorf("test user: %w", err)
	}
	if fi, err := os.Stat(u.HomeDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("test user %s has no home directory %q", TestUser, u.HomeDir)
	}
	var err1, err2 error
	e.uid, err1 = strconv.Atoi(u.Uid)
	e.gid, err2 = strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("test user %s has uid %q and gid %q, not numbers", TestUser, u.Uid, u.Gid)
	}
	// sshd's privilege-separation directory; sshd exits at once without it.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return err
	}
	return nil
}

// makeDir creates Env.Dir. It is not t.TempDir: that path grows with the test name and would
// overflow the 108-byte limit of the agent's socket path, and its 0700 parents would keep sshd,
// acting as TestUser, from reading the authorized keys file.
func makeDir(t testing.TB) string {
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
