package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/interop"
	"github.com/libssh-go/libssh/sshtest"
	"go.uber.org/goleak"
	gossh "golang.org/x/crypto/ssh"
)

// runDemoEnv makes the test binary run the command instead of the tests,
// so that the tests can start it as a process (with a pipe or a terminal
// on its standard input) without building it.
const runDemoEnv = "WHOAMI_TEST_RUN_DEMO"

func TestMain(m *testing.M) {
	if os.Getenv(runDemoEnv) == "1" {
		os.Exit(whoamiMain(os.Args[1:], os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

const (
	alice         = "alice"
	alicePassword = "alice-pw"
)

// aliceServer is an in-process server where alice logs in as with
// OpenSSH's PAM: a "Password: " round, then a round that asks nothing.
func aliceServer(t *testing.T, cfg sshtest.Config) *sshtest.Server {
	cfg.Users = map[string]sshtest.User{alice: {KeyboardInteractive: []sshtest.Round{
		{Prompts: []string{"Password: "}, Want: []string{alicePassword}}, {},
	}}}
	return sshtest.New(t, cfg)
}

// demoHome makes an empty home directory for the command and points HOME
// at it, without an agent or a password, so neither the machine's keys and
// known_hosts nor its agent take part. It returns the known_hosts path.
func demoHome(t *testing.T) string {
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv(passwordEnv, "")
	return filepath.Join(home, ".ssh", "known_hosts")
}

// demo runs the command in this process.
func demo(args ...string) (status int, stdout, stderr string) {
	var out, errb bytes.Buffer
	status = whoamiMain(args, &out, &errb)
	return status, out.String(), errb.String()
}

// TestDemoAgainstInProcessServer runs the README's first command.
func TestDemoAgainstInProcessServer(t *testing.T) {
	status, out, errOut := demo()
	if status != 0 {
		t.Fatalf("demo exited %d: %s\n%s", status, errOut, out)
	}
	for _, want := range []string{"host key ", "SHA256:", "kex ", "authenticated", "whoami: demo\n", "exit status: 0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestDemoFlags: -h prints the usage and exits 0 without dialling (it used
// to dial a host named "-h"); a bad flag or argument exits 2 with the
// usage; a target that looks like an option is refused.
func TestDemoFlags(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"-h"}, 0, "usage: whoami"},
		{[]string{"-help"}, 0, "-accept-new"},
		{[]string{"-nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"a@b", "c@d"}, 2, "usage: whoami"},
		{[]string{"--", "-h"}, 1, "does not start with '-'"},
	} {
		status, out, errOut := demo(tc.args...)
		if status != tc.status || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("whoami %q: exit %d, stderr %q; want exit %d and %q", tc.args, status, errOut, tc.status, tc.stderr)
		}
		if out != "" {
			t.Errorf("whoami %q did something: %q", tc.args, out)
		}
	}
}

// TestDemoBatch runs the command with -batch against an in-process server
// as a real target, through the host-key states a script meets.
func TestDemoBatch(t *testing.T) {
	kh := demoHome(t)
	srv := aliceServer(t, sshtest.Config{})
	target := fmt.Sprintf("%s@%s", alice, srv.Addr())

	// Unknown host, no -accept-new: refused without asking.
	status, _, errOut := demo("-batch", target)
	if status != 1 || !strings.Contains(errOut, "-batch does not ask") {
		t.Fatalf("unknown host: exit %d, %q", status, errOut)
	}
	// The password is needed: without it -batch fails instead of asking.
	status, _, errOut = demo("-batch", "-accept-new", target)
	if status != 1 || !strings.Contains(errOut, "-batch: no answer for \"Password: \"") {
		t.Fatalf("no password: exit %d, %q", status, errOut)
	}
	t.Setenv(passwordEnv, alicePassword)
	if data, _ := os.ReadFile(kh); len(data) == 0 {
		t.Fatal("-accept-new recorded nothing")
	}
	status, out, errOut := demo("-batch", target)
	if status != 0 || !strings.Contains(out, "the host key is known") || !strings.Contains(out, "whoami: alice\n") {
		t.Fatalf("known host: exit %d, %q\n%s", status, errOut, out)
	}
}

// TestDemoNamesTheOffendingEntry: for a changed key, or one of a type not
// recorded, the command names the known_hosts file and line, as OpenSSH
// does, instead of printing %!w(<nil>).
func TestDemoNamesTheOffendingEntry(t *testing.T) {
	kh := demoHome(t)
	t.Setenv(passwordEnv, alicePassword)
	srv := aliceServer(t, sshtest.Config{HostKeyAlgorithms: []string{gossh.KeyAlgoED25519}})
	target := fmt.Sprintf("%s@%s", alice, srv.Addr())
	name := fmt.Sprintf("[%s]:%d", srv.Host(), srv.Port())

	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	impostor, _ := gossh.NewPublicKey(pub)
	writeKH := func(lines ...string) {
		if err := os.WriteFile(kh, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	khLine := func(k gossh.PublicKey) string {
		return name + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
	}
	writeKH("# an old entry follows", khLine(impostor))
	status, _, errOut := demo("-batch", target)
	if want := fmt.Sprintf("Offending ED25519 key in %s:2", kh); status != 1 || !strings.Contains(errOut, want) || strings.Contains(errOut, "%!") {
		t.Errorf("changed key: exit %d, %q; want %q", status, errOut, want)
	}

	var rsaKey gossh.PublicKey
	for _, k := range aliceServer(t, sshtest.Config{}).HostKeys() {
		if k.Type() == gossh.KeyAlgoRSA {
			rsaKey = k
		}
	}
	writeKH(khLine(rsaKey))
	status, _, errOut = demo("-batch", target)
	if want := fmt.Sprintf("a RSA key is recorded for it in %s:1", kh); status != 1 || !strings.Contains(errOut, want) || strings.Contains(errOut, "%!") {
		t.Errorf("other key type: exit %d, %q; want %q", status, errOut, want)
	}
}

// demoProcess starts the command as a process of its own (this test
// binary, see TestMain) with HOME and no agent, password or other
// environment.
func demoProcess(ctx context.Context, t *testing.T, home string, args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = []string{runDemoEnv + "=1", "HOME=" + home, "PATH=" + os.Getenv("PATH")}
	return cmd
}

// TestDemoReadsAnswersFromAPipe: without a terminal and without -batch,
// the answers are the lines of standard input, in the order the questions
// come.
func TestDemoReadsAnswersFromAPipe(t *testing.T) {
	home := t.TempDir()
	srv := aliceServer(t, sshtest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := demoProcess(ctx, t, home, fmt.Sprintf("%s@%s", alice, srv.Addr()))
	cmd.Stdin = strings.NewReader("yes\n" + alicePassword + "\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s\n%s", err, errb.String(), out.String())
	}
	if !strings.Contains(out.String(), "whoami: alice\n") || !strings.Contains(errb.String(), "Trust it and record its key?") {
		t.Fatalf("stdout %q, stderr %q", out.String(), errb.String())
	}
}

// TestDemoAgainstSSHD runs the command with -batch against a real OpenSSH
// sshd (PAM keyboard-interactive), first recording the key, then with it
// known.
func TestDemoAgainstSSHD(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	env.SkipWithoutPassword(t)
	kh := demoHome(t)
	t.Setenv(passwordEnv, env.Password)
	target := fmt.Sprintf("%s@%s", env.User, env.Addr)
	for i, args := range [][]string{{"-batch", "-accept-new", target}, {"-batch", target}} {
		status, out, errOut := demo(args...)
		if status != 0 || !strings.Contains(out, "whoami: "+env.User+"\n") || !strings.Contains(out, "exit status: 0\n") {
			t.Fatalf("run %d (%q): exit %d, %q\n%s", i, args, status, errOut, out)
		}
		if i == 1 && !strings.Contains(out, "the host key is known") {
			t.Fatalf("the key recorded by -accept-new was not found:\n%s", out)
		}
	}
	if data, _ := os.ReadFile(kh); len(data) == 0 {
		t.Fatal("nothing recorded")
	}
	// What OpenSSH thinks of the file the command wrote.
	out, err := exec.Command(env.SSHKeygenBin, "-F", fmt.Sprintf("[%s]:%d", env.Host, env.Port), "-f", kh).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "found") {
		t.Fatalf("ssh-keygen -F: %v\n%s", err, out)
	}
}
