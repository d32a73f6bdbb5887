//go:build unix

package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/interop"
)

// sideBySide runs the same arguments through OpenSSH's ssh and gossh,
// both reaching env's sshd as its user with the ed25519 key and the
// server's known_hosts, as interop.Env.SSH does.
func baseArgs(e *interop.Env) []string {
	return []string{
		"-F", "/dev/null",
		"-p", strconv.Itoa(e.Port),
		"-l", e.User,
		"-i", e.Keys["ed25519"].Private,
		"-o", "UserKnownHostsFile=" + e.KnownHostsFile,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
	}
}

func interopGossh(t *testing.T, e *interop.Env, args ...string) *exec.Cmd {
	t.Helper()
	return gosshCmd(t, append(append(baseArgs(e), e.Host), args...)...)
}

// sameAsSSH runs command both ways and requires the same exit status,
// stdout and stderr (stderr with "ssh: " and "gossh: " prefixes equal).
func sameAsSSH(t *testing.T, e *interop.Env, stdin string, args ...string) result {
	t.Helper()
	want := run(t, e.SSH(t, args...), stdin)
	got := run(t, interopGossh(t, e, args...), stdin)
	if got.code != want.code {
		t.Errorf("%q: gossh exit %d, ssh exit %d (gossh stderr %q, ssh stderr %q)", args, got.code, want.code, got.stderr, want.stderr)
	}
	if got.stdout != want.stdout {
		t.Errorf("%q: gossh stdout %q, ssh stdout %q", args, got.stdout, want.stdout)
	}
	if strings.ReplaceAll(got.stderr, "gossh: ", "ssh: ") != want.stderr {
		t.Errorf("%q: gossh stderr %q, ssh stderr %q", args, got.stderr, want.stderr)
	}
	return got
}

func TestInteropSideBySide(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	for _, c := range [][]string{
		{"true"},
		{"false"},
		{"exit 42"},
		{"echo out; echo err >&2; exit 3"},
		{"kill -9 $$"},
		{"kill -TERM $$"},
		{"cat; echo done"},
		{"echo", "two", "args"},
	} {
		sameAsSSH(t, e, "input line\n", c...)
	}
}

// TestInteropStream pipes 64 MiB of random bytes through a remote cat and
// compares the digests (GOSSH_STREAM_MIB sets another size, e.g. 1024).
func TestInteropStream(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	mib := 64
	if v, err := strconv.Atoi(os.Getenv("GOSSH_STREAM_MIB")); err == nil && v > 0 {
		mib = v
	}
	cmd := interopGossh(t, e, "cat")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	in := sha256.New()
	go func() {
		defer stdin.Close()
		_, _ = io.CopyN(io.MultiWriter(stdin, in), rand.Reader, int64(mib)<<20)
	}()
	out := sha256.New()
	n, err := io.Copy(out, stdout)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gossh: %v; stderr %q", err, stderr.String())
	}
	elapsed := time.Since(start)
	if n != int64(mib)<<20 || !bytes.Equal(in.Sum(nil), out.Sum(nil)) {
		t.Fatalf("got %d bytes, want %d; digests equal: %v", n, int64(mib)<<20, bytes.Equal(in.Sum(nil), out.Sum(nil)))
	}
	t.Logf("%d MiB through `gossh host cat` in %v (%.0f MiB/s)", mib, elapsed.Round(time.Millisecond), float64(mib)/elapsed.Seconds())
}

func TestInteropConnectionRefused(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := []string{"-F", "/dev/null", "-p", strconv.Itoa(port), "-o", "BatchMode=yes", "127.0.0.1", "true"}
	want := run(t, exec.Command(e.SSHBin, args...), "")
	got := runGossh(t, "", args...)
	if got.code != 255 || want.code != 255 {
		t.Fatalf("exit gossh %d ssh %d, want 255", got.code, want.code)
	}
	if strings.Replace(got.stderr, "gossh: ", "ssh: ", 1) != want.stderr {
		t.Errorf("gossh %q, ssh %q", got.stderr, want.stderr)
	}
}

func TestInteropAuthFailure(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	// A key the server does not know.
	key := filepath.Join(t.TempDir(), "stranger")
	if out, err := exec.Command(e.SSHKeygenBin, "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	args := []string{"-F", "/dev/null", "-p", strconv.Itoa(e.Port), "-l", e.User, "-i", key,
		"-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + e.KnownHostsFile, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey", e.Host, "true"}
	want := run(t, exec.Command(e.SSHBin, args...), "")
	got := runGossh(t, "", args...)
	if got.code != 255 || want.code != 255 {
		t.Fatalf("exit gossh %d (%q) ssh %d (%q), want 255", got.code, got.stderr, want.code, want.stderr)
	}
	if got.stderr != want.stderr {
		t.Errorf("gossh %q, ssh %q", got.stderr, want.stderr)
	}
}

// freePort returns a port nothing listens on (there is a small race with
// other processes, as with any such helper).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// readBanner dials addr until it answers (the forward is up once gossh has
// logged in) and returns the first line it sends.
func readBanner(t *testing.T, addr string, exited <-chan struct{}) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				t.Fatalf("reading through the forward: %v", err)
			}
			return line
		}
		select {
		case <-exited:
			t.Fatal("gossh exited before the forward was up")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("forward %s never came up: %v", addr, err)
		}
		// Polling a listener another process sets up has no event to wait on.
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInteropLocalForward runs `gossh -N -L` and reads sshd's banner
// through the forward, as `ssh -N -L` would give it.
func TestInteropLocalForward(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	lport := freePort(t)
	cmd := interopGossh(t, e, "-N", "-L", fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", lport, e.Port))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() { _ = cmd.Process.Kill(); <-exited }()
	line := readBanner(t, fmt.Sprintf("127.0.0.1:%d", lport), exited)
	if !strings.HasPrefix(line, "SSH-2.0-OpenSSH") {
		t.Fatalf("through the forward: %q; stderr %q", line, stderr.String())
	}
}

// TestInteropExitOnForwardFailure: a -L on a port in use fails, and with
// ExitOnForwardFailure gossh exits 255 as ssh does.
func TestInteropExitOnForwardFailure(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	spec := fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", busy.Addr().(*net.TCPAddr).Port, e.Port)
	want := run(t, e.SSH(t, "-o", "ExitOnForwardFailure=yes", "-L", spec, "true"), "")
	got := run(t, interopGossh(t, e, "-o", "ExitOnForwardFailure=yes", "-L", spec, "true"), "")
	if got.code != 255 || want.code != 255 {
		t.Fatalf("exit gossh %d (%q), ssh %d (%q); want 255", got.code, got.stderr, want.code, want.stderr)
	}
}

// TestInteropStdioForward: -W joins stdin/stdout to the target; reading
// sshd's banner through it proves the stream.
func TestInteropStdioForward(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	cmd := interopGossh(t, e, "-W", fmt.Sprintf("127.0.0.1:%d", e.Port))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	stdin.Close()
	_ = cmd.Wait()
	if err != nil || !strings.HasPrefix(line, "SSH-2.0-OpenSSH") {
		t.Fatalf("through -W: %q, %v", line, err)
	}
}

// TestInteropProxyJump reaches a second sshd through the first with -J,
// the same way ssh does with the same config file.
func TestInteropProxyJump(t *testing.T) {
	jump := interop.Start(t, interop.Options{NoAgent: true})
	target := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	var khData []byte
	for _, f := range []string{jump.KnownHostsFile, target.KnownHostsFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		khData = append(khData, b...)
	}
	if err := os.WriteFile(kh, khData, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	conf := fmt.Sprintf("Host *\n  User %s\n  IdentityFile %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
		jump.User, jump.Keys["ed25519"].Private, target.Keys["ed25519"].Private, kh)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-F", cfg, "-J", fmt.Sprintf("%s:%d", jump.Host, jump.Port), "-p", strconv.Itoa(target.Port), target.Host,
		"echo via-jump; echo $SSH_CONNECTION | cut -d' ' -f4"}
	want := run(t, exec.Command(jump.SSHBin, args...), "")
	got := runGossh(t, "", args...)
	if got.code != 0 || got.stdout != want.stdout || want.code != 0 {
		t.Fatalf("gossh exit %d out %q err %q; ssh exit %d out %q err %q", got.code, got.stdout, got.stderr, want.code, want.stdout, want.stderr)
	}
	if !strings.HasPrefix(got.stdout, "via-jump\n") {
		t.Errorf("stdout %q", got.stdout)
	}
}

// TestInteropFork: -f returns once logged in; the command then runs in the
// background and its output still arrives.
func TestInteropFork(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := interopGossh(t, e, "-f", "echo from-background")
	cmd.Stdout = pw
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		pw.Close()
		t.Fatalf("gossh -f: %v; stderr %q", err, stderr.String())
	}
	pw.Close()
	// The foreground process has exited 0; the background one still holds
	// the pipe and writes the command's output, then exits.
	out, err := io.ReadAll(pr)
	if err != nil || string(out) != "from-background\n" {
		t.Fatalf("background output %q, %v", out, err)
	}
	t.Run("without a command", func(t *testing.T) {
		r := run(t, interopGossh(t, e, "-f"), "")
		if r.code != 255 || !strings.Contains(r.stderr, "Cannot fork into background without a command") {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
	})
}

// TestInteropLogFile: -E sends -v output to the file, not to stderr.
func TestInteropLogFile(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	log := filepath.Join(t.TempDir(), "log")
	r := run(t, interopGossh(t, e, "-vv", "-E", log, "echo", "hi"), "")
	if r.code != 0 || r.stdout != "hi\n" || r.stderr != "" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(log)
	if err != nil || !strings.Contains(string(data), "debug") {
		t.Fatalf("log %q, %v", data, err)
	}
}

// TestInteropControlMaster: with a running OpenSSH master on ControlPath,
// gossh runs the command over it, needing neither a key nor known_hosts.
func TestInteropControlMaster(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	sock := filepath.Join(t.TempDir(), "cm")
	e.StartControlMaster(t, sock)
	args := []string{"-F", "/dev/null", "-p", strconv.Itoa(e.Port), "-l", e.User, "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
		"-o", "ControlMaster=auto", "-S", sock, e.Host}
	r := runGossh(t, "", append(args, "echo over-mux; exit 5")...)
	if r.code != 5 || r.stdout != "over-mux\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// Without the master the same command line fails: no key, no known host.
	r = runGossh(t, "", append(args[:len(args)-3], e.Host, "true")...)
	if r.code != 255 {
		t.Fatalf("without ControlPath: exit %d, want 255", r.code)
	}
}

// TestInteropPasswordMethods logs in to sshd through PAM with the password
// typed on stdin (no terminal: ssh's readpassphrase fallback), by
// keyboard-interactive and by password.
func TestInteropPasswordMethods(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	e.SkipWithoutPassword(t)
	home(t)
	for _, method := range []string{"keyboard-interactive", "password"} {
		t.Run(method, func(t *testing.T) {
			args := []string{"-F", "/dev/null", "-p", strconv.Itoa(e.Port), "-l", e.User,
				"-o", "UserKnownHostsFile=" + e.KnownHostsFile, "-o", "GlobalKnownHostsFile=/dev/null",
				"-o", "PreferredAuthentications=" + method, "-o", "PubkeyAuthentication=no", e.Host, "echo", "in"}
			r := runGossh(t, "wrong\n"+e.Password+"\n", args...)
			if r.code != 0 || r.stdout != "in\n" {
				t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, "Permission denied, please try again.") {
				t.Errorf("no retry message in %q", r.stderr)
			}
		})
	}
}

// TestInteropAgent logs in with the agent's key only.
func TestInteropAgent(t *testing.T) {
	e := interop.Start(t, interop.Options{})
	home(t)
	cmd := gosshCmd(t, "-F", "/dev/null", "-p", strconv.Itoa(e.Port), "-l", e.User,
		"-o", "UserKnownHostsFile="+e.KnownHostsFile, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", e.Host, "echo", "agent")
	cmd.Env = append(cmd.Env, "SSH_AUTH_SOCK="+e.AgentSock)
	r := run(t, cmd, "")
	if r.code != 0 || r.stdout != "agent\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestInteropPassphrase: an encrypted -i key asks "Enter passphrase for
// key '...': " and logs in with the answer.
func TestInteropPassphrase(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	home(t)
	k := e.Keys["ed25519-enc"]
	r := runGossh(t, k.Passphrase+"\n", "-F", "/dev/null", "-p", strconv.Itoa(e.Port), "-l", e.User, "-i", k.Private,
		"-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile="+e.KnownHostsFile, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "PreferredAuthentications=publickey", e.Host, "echo", "unlocked")
	if r.code != 0 || r.stdout != "unlocked\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if want := "Enter passphrase for key '" + k.Private + "': "; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q lacks %q", r.stderr, want)
	}
}
