package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libssh-go/libssh/internal/interop"
	gossh "golang.org/x/crypto/ssh"
)

// These tests check known_hosts files against a real sshd both ways: files
// OpenSSH's tools write must verify here, and what UpdateKnownHostsFile
// writes must satisfy OpenSSH's ssh with StrictHostKeyChecking=yes. They
// skip without sshd, and must run with LIBSSH_INTEROP=1 (interop.Start).

// khOpenSSH runs OpenSSH's ssh against env with the user known_hosts file
// kh and the given -o options, running `true`. The agent and the user's
// config are kept out.
func khOpenSSH(t *testing.T, env *interop.Env, kh string, options ...string) *exec.Cmd {
	t.Helper()
	args := []string{
		"-F", "/dev/null",
		"-p", strconv.Itoa(env.Port),
		"-l", env.User,
		"-i", env.Keys["ed25519"].Private,
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "UserKnownHostsFile=" + kh,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes",
	}
	for _, o := range options {
		args = append(args, "-o", o)
	}
	args = append(args, env.Host, "true")
	cmd := exec.CommandContext(t.Context(), env.SSHBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// interopSession connects to env checking against the user file kh only.
func khInteropSession(t *testing.T, env *interop.Env, kh string, opts ...Option) *Session {
	t.Helper()
	s := NewSession()
	base := []Option{
		Hostname(env.Host), Port(env.Port), User(env.User), ProcessConfig(false),
		SSHDir(t.TempDir()), KnownHosts(kh), GlobalKnownHosts(filepath.Join(t.TempDir(), "none")),
	}
	if err := s.SetOption(append(base, opts...)...); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	return s
}

// interopLogin authenticates with the ed25519 client key.
func khInteropLogin(t *testing.T, env *interop.Env, s *Session) (AuthStatus, error) {
	t.Helper()
	key, err := ParsePrivateKeyFile(env.Keys["ed25519"].Private, "")
	if err != nil {
		t.Fatal(err)
	}
	return s.UserauthPublicKey(testCtx(t), "", key)
}

// khWantKnown checks that kh verifies the server: IsKnownServer says OK and
// the login goes on without any other decision.
func khWantKnown(t *testing.T, env *interop.Env, kh string, opts ...Option) {
	t.Helper()
	s := khInteropSession(t, env, kh, opts...)
	st, err := s.IsKnownServer()
	if st != KnownHostsOK || err != nil {
		data, _ := os.ReadFile(kh)
		t.Fatalf("IsKnownServer = %v, %v with:\n%s", st, err, data)
	}
	if st, err := khInteropLogin(t, env, s); st != AuthSuccess || err != nil {
		t.Fatalf("login = %v, %v", st, err)
	}
}

func TestKnownHostsInteropOpenSSHFiles(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})

	for _, hash := range []string{"no", "yes"} {
		t.Run("ssh accept-new, HashKnownHosts="+hash, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			out, err := khOpenSSH(t, env, kh, "StrictHostKeyChecking=accept-new", "HashKnownHosts="+hash, "UpdateHostKeys=no").CombinedOutput()
			if err != nil {
				t.Fatalf("ssh: %v\n%s", err, out)
			}
			data, _ := os.ReadFile(kh)
			e, err := ParseKnownHostsLine(strings.TrimSpace(string(data)))
			if err != nil || e.Hashed() != (hash == "yes") {
				t.Fatalf("ssh wrote %q: %+v, %v", data, e, err)
			}
			// OpenSSH prefers ed25519; x/crypto on its own would take RSA
			// and read Other: the ordering is what makes this pass.
			t.Logf("ssh recorded a %s key", e.Key.Type())
			khWantKnown(t, env, kh)
		})
	}

	keyscan, err := exec.LookPath("ssh-keyscan")
	if err != nil && interop.Required() {
		t.Fatal("no ssh-keyscan")
	}
	for _, c := range []struct{ name, types, hash string }{
		{"ssh-keyscan ecdsa", "ecdsa", ""},
		{"ssh-keyscan ed25519 hashed", "ed25519", "-H"},
		{"ssh-keyscan all hashed", "ed25519,ecdsa,rsa", "-H"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if keyscan == "" {
				t.Skip("no ssh-keyscan")
			}
			args := []string{"-p", strconv.Itoa(env.Port), "-t", c.types}
			if c.hash != "" {
				args = append(args, c.hash)
			}
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(t.Context(), keyscan, append(args, env.Host)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil || stdout.Len() == 0 {
				t.Fatalf("ssh-keyscan: %v\n%s", err, stderr.String())
			}
			kh := filepath.Join(t.TempDir(), "known_hosts")
			writeFile(t, kh, stdout.Bytes())
			khWantKnown(t, env, kh)
		})
	}

	t.Run("ssh-keygen -H", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		data, err := os.ReadFile(env.KnownHostsFile)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, kh, data)
		if out, err := exec.CommandContext(t.Context(), env.SSHKeygenBin, "-H", "-f", kh).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen -H: %v\n%s", err, out)
		}
		hashed, _ := os.ReadFile(kh)
		if bytes.Contains(hashed, []byte(env.Host)) || !bytes.Contains(hashed, []byte("|1|")) {
			t.Fatalf("not hashed:\n%s", hashed)
		}
		khWantKnown(t, env, kh)
	})

	// The other way round: OpenSSH accepts what UpdateKnownHostsFile wrote.
	for _, hash := range []bool{false, true} {
		t.Run("UpdateKnownHostsFile read by ssh, hash="+strconv.FormatBool(hash), func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			s := khInteropSession(t, env, kh, HashKnownHosts(hash))
			if err := s.UpdateKnownHostsFile(); err != nil {
				t.Fatal(err)
			}
			if out, err := khOpenSSH(t, env, kh, "StrictHostKeyChecking=yes").CombinedOutput(); err != nil {
				data, _ := os.ReadFile(kh)
				t.Fatalf("ssh with our file: %v\n%s\nfile:\n%s", err, out, data)
			}
			out, err := exec.CommandContext(t.Context(), env.SSHKeygenBin, "-F", KnownHostsHostname(env.Host, env.Port), "-f", kh).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "found") {
				t.Fatalf("ssh-keygen -F: %v\n%s", err, out)
			}
		})
	}
}

func TestKnownHostsInteropChanged(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	impostor := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	kh := writeKH(t, t.TempDir(), "known_hosts", "# recorded long ago", khLine(KnownHostsHostname(env.Host, env.Port), impostor))

	// The oracle: OpenSSH refuses too.
	out, err := khOpenSSH(t, env, kh, "StrictHostKeyChecking=yes").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "REMOTE HOST IDENTIFICATION HAS CHANGED") {
		t.Fatalf("OpenSSH accepted the changed key: %v\n%s", err, out)
	}

	s := khInteropSession(t, env, kh, StrictHostKeyChecking("no"))
	if st, err := s.IsKnownServer(); st != KnownHostsChanged || err != nil {
		t.Fatalf("IsKnownServer = %v, %v", st, err)
	}
	// OpenSSH names the offending entry; KnownHostsMatch names the same one.
	m, err := s.KnownHostsMatch()
	if want := fmt.Sprintf("Offending ED25519 key in %s:%d", m.File, m.Line); err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("KnownHostsMatch = %+v, %v; OpenSSH said:\n%s", m, err, out)
	}
	st, err := khInteropLogin(t, env, s)
	var hk *HostKeyError
	if st == AuthSuccess || !errors.As(err, &hk) || !errors.Is(err, ErrHostKeyChanged) || hk.File != kh || hk.Line != 2 || hk.Key.Type() != gossh.KeyAlgoED25519 {
		t.Fatalf("login = %v, %v (%+v)", st, err, hk)
	}
}

func TestKnownHostsInteropOther(t *testing.T) {
	// sshd keeps its RSA key but offers only ed25519.
	env := interop.Start(t, interop.Options{NoAgent: true, ExtraConfig: []string{"HostKeyAlgorithms ssh-ed25519"}})
	all, err := os.ReadFile(env.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rsaLine string
	for line := range strings.Lines(string(all)) {
		if strings.Contains(line, " ssh-rsa ") {
			rsaLine = line
		}
	}
	if rsaLine == "" {
		t.Fatalf("no RSA key in %s:\n%s", env.KnownHostsFile, all)
	}
	kh := writeKH(t, t.TempDir(), "known_hosts", strings.TrimSpace(rsaLine))

	s := khInteropSession(t, env, kh)
	if st, err := s.IsKnownServer(); st != KnownHostsOther || err != nil {
		t.Fatalf("IsKnownServer = %v, %v", st, err)
	}
	var hk *HostKeyError
	if _, err := khInteropLogin(t, env, s); !errors.As(err, &hk) || hk.State != KnownHostsOther || hk.Line != 1 {
		t.Fatalf("login: %v", err)
	}
}
