package interop

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestOpenSSHClientLogsIn(t *testing.T) {
	e := Start(t, Options{})

	out, err := e.SSH(t, "whoami").CombinedOutput()
	if err != nil {
		t.Fatalf("ssh whoami: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != e.User {
		t.Errorf("ssh whoami = %q, want %q", got, e.User)
	}

	list := exec.Command(e.SSHAddBin, "-l")
	list.Env = append(os.Environ(), "SSH_AUTH_SOCK="+e.AgentSock)
	out, err = list.CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-add -l: %v\n%s", err, out)
	}
	if n := len(strings.Split(strings.TrimSpace(string(out)), "\n")); n != 2 {
		t.Errorf("ssh-add -l lists %d keys, want 2:\n%s", n, out)
	}
}

// TestEnvCredentials checks every credential Env hands out against the sshd, and every host
// key against KnownHostsFile, with x/crypto as the client.
func TestEnvCredentials(t *testing.T) {
	e := Start(t, Options{})

	signer := func(name string) ssh.AuthMethod {
		k := e.Keys[name]
		pem, err := os.ReadFile(k.Private)
		if err != nil {
			t.Fatal(err)
		}
		var s ssh.Signer
		if k.Passphrase != "" {
			if _, err := ssh.ParsePrivateKey(pem); err == nil {
				t.Errorf("key %s parses without its passphrase", name)
			}
			s, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(k.Passphrase))
		} else {
			s, err = ssh.ParsePrivateKey(pem)
		}
		if err != nil {
			t.Fatalf("key %s: %v", name, err)
		}
		if got := s.PublicKey().Type(); got != k.Type {
			t.Errorf("key %s has type %q, Key.Type is %q", name, got, k.Type)
		}
		return ssh.PublicKeys(s)
	}
	agentConn, err := net.Dial("unix", e.AgentSock)
	if err != nil {
		t.Fatal(err)
	}
	defer agentConn.Close()
	agentClient := agent.NewClient(agentConn)

	auths := map[string]ssh.AuthMethod{
		"password": ssh.Password(e.Password),
		"keyboard-interactive": ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i := range answers {
				answers[i] = e.Password
			}
			return answers, nil
		}),
		"agent": ssh.PublicKeysCallback(agentClient.Signers),
	}
	for name := range e.Keys {
		auths["key "+name] = signer(name)
	}
	for name, auth := range auths {
		t.Run(name, func(t *testing.T) {
			if name == "password" || name == "keyboard-interactive" {
				e.SkipWithoutPassword(t)
			}
			if got := whoami(t, e, nil, auth); got != e.User {
				t.Errorf("whoami = %q, want %q", got, e.User)
			}
		})
	}
	for _, alg := range []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA512} {
		t.Run("hostkey "+alg, func(t *testing.T) {
			whoami(t, e, []string{alg}, auths["key ed25519"])
		})
	}
}

// whoami logs in with auth, offering only hostKeyAlgs if not empty, and returns the output
// of whoami.
func whoami(t *testing.T, e *Env, hostKeyAlgs []string, auth ssh.AuthMethod) string {
	t.Helper()
	client, err := dial(e, hostKeyAlgs, auth)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.CombinedOutput("whoami")
	if err != nil {
		t.Fatalf("whoami: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// keyAuth returns public-key authentication with the unencrypted client key name.
func keyAuth(t *testing.T, e *Env, name string) ssh.AuthMethod {
	t.Helper()
	return ssh.PublicKeys(signer(t, e, name))
}

// signer parses the unencrypted client key name.
func signer(t *testing.T, e *Env, name string) ssh.Signer {
	t.Helper()
	pem, err := os.ReadFile(e.Keys[name].Private)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dial(e *Env, hostKeyAlgs []string, auths ...ssh.AuthMethod) (*ssh.Client, error) {
	hostKeys, err := knownhosts.New(e.KnownHostsFile)
	if err != nil {
		return nil, err
	}
	return ssh.Dial("tcp", e.Addr, &ssh.ClientConfig{
		User:              e.User,
		Auth:              auths,
		HostKeyCallback:   hostKeys,
		HostKeyAlgorithms: hostKeyAlgs,
		Timeout:           10 * time.Second,
	})
}

func TestOptions(t *testing.T) {
	// Two public keys as two factors: AuthenticationMethods without a password, so that
	// the test runs without root too.
	e := Start(t, Options{
		AuthenticationMethods: "publickey,publickey",
		ExtraConfig:           []string{"Banner " + os.DevNull, "Match User nobody", "  PasswordAuthentication no"},
		NoAgent:               true,
	})
	if e.AgentSock != "" {
		t.Errorf("AgentSock = %q with NoAgent", e.AgentSock)
	}
	cfg, err := os.ReadFile(e.Dir + "/sshd_config")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(cfg), "Match User nobody\n  PasswordAuthentication no\n") {
		t.Errorf("Match block is not at the end of sshd_config:\n%s", cfg)
	}

	if _, err := dial(e, nil, keyAuth(t, e, "ecdsa")); err == nil {
		t.Error("one key logged in with AuthenticationMethods publickey,publickey")
	}
	// One method with both keys: x/crypto tries the next signer after a partial success,
	// while a second PublicKeys method would start again from the first key.
	client, err := dial(e, nil, ssh.PublicKeys(signer(t, e, "ecdsa"), signer(t, e, "ed25519")))
	if err != nil {
		t.Fatalf("two keys: %v", err)
	}
	client.Close()
}

// In ModeNonRoot a server cannot check passwords, so Start skips a test whose
// AuthenticationMethods needs one instead of letting it fail or pass.
func TestPasswordMethodsSkipWithoutRoot(t *testing.T) {
	if mode, _ := CurrentMode(); mode != ModeNonRoot {
		t.Skip("checks LIBSSH_INTEROP=nonroot only")
	}
	for _, methods := range []string{"publickey,keyboard-interactive", "password", "publickey,password:pam publickey"} {
		var skipped bool
		t.Run(methods, func(t *testing.T) {
			defer func() { skipped = t.Skipped() }()
			e := Start(t, Options{AuthenticationMethods: methods, NoAgent: true})
			if e.PasswordAuth {
				t.Errorf("PasswordAuth is true as %s", e.User)
			}
		})
		if !skipped {
			t.Errorf("Start did not skip AuthenticationMethods %q without root", methods)
		}
	}
}

func TestCurrentMode(t *testing.T) {
	for _, c := range []struct {
		value string
		want  Mode
		err   bool
	}{
		{"", ModeAuto, false},
		{"1", ModeRoot, false},
		{"nonroot", ModeNonRoot, false},
		{"yes", ModeAuto, true},
		{"0", ModeAuto, true},
	} {
		t.Setenv("LIBSSH_INTEROP", c.value)
		got, err := CurrentMode()
		if got != c.want || (err != nil) != c.err {
			t.Errorf("LIBSSH_INTEROP=%q: %v, %v", c.value, got, err)
		}
		if err == nil && got.String() != c.value {
			t.Errorf("Mode %d String() = %q, want %q", got, got.String(), c.value)
		}
		if Required() != (c.value == "1") {
			t.Errorf("LIBSSH_INTEROP=%q: Required() = %v", c.value, Required())
		}
	}
}

func TestNeedsPassword(t *testing.T) {
	for methods, want := range map[string]bool{
		"":                                   false,
		"publickey":                          false,
		"publickey,publickey any":            false,
		"password":                           true,
		"publickey,keyboard-interactive":     true,
		"publickey keyboard-interactive:pam": true,
	} {
		if got := needsPassword(methods); got != want {
			t.Errorf("needsPassword(%q) = %v", methods, got)
		}
	}
}

// TestCleanupKillsSessions checks that the cleanup ends sshd's connection and session
// children, which sshd puts in sessions of their own.
func TestCleanupKillsSessions(t *testing.T) {
	var pid int
	var client *ssh.Client
	t.Run("env", func(t *testing.T) {
		e := Start(t, Options{NoAgent: true})
		var err error
		client, err = dial(e, nil, keyAuth(t, e, "ed25519"))
		if err != nil {
			t.Fatal(err)
		}
		sess, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := sess.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.Start("echo $$; exec sleep 600"); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if pid, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
			t.Fatal(err)
		}
	})
	if client == nil {
		return
	}
	defer client.Close()
	// SIGKILL is delivered asynchronously; give the process a moment to die.
	for deadline := time.Now().Add(5 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("session process %d still runs after cleanup", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid is a process that has not exited (a zombie counts as exited).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// ./test.sh creates the test user that ModeRoot logs in; its name and password must be the
// ones this package uses.
func TestScriptTestUser(t *testing.T) {
	script, err := os.ReadFile("../../test.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"readonly test_user=" + TestUser + "\n",
		"readonly test_password=" + TestPassword + "\n",
	} {
		if !strings.Contains(string(script), want) {
			t.Errorf("test.sh lacks %q", want)
		}
	}
}
