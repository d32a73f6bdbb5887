//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
)

// home makes an empty home directory for gossh (HOME), so that the
// machine's ~/.ssh takes no part, and returns its known_hosts path.
func home(t *testing.T) string {
	t.Helper()
	h := t.TempDir()
	if err := os.Mkdir(filepath.Join(h, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", h)
	return filepath.Join(h, ".ssh", "known_hosts")
}

// srvArgs are the arguments that reach srv as user with no config file.
func srvArgs(srv *sshtest.Server, user string, extra ...string) []string {
	return append([]string{"-F", "/dev/null", "-p", strconv.Itoa(srv.Port()), "-l", user,
		"-o", "GlobalKnownHostsFile=/dev/null", srv.Host()}, extra...)
}

func passwordServer(t *testing.T, cfg sshtest.Config) *sshtest.Server {
	cfg.AddPasswordUser("alice", "alice-pw")
	return sshtest.New(t, cfg)
}

func TestHostKeyQuestion(t *testing.T) {
	srv := passwordServer(t, sshtest.Config{})
	lookup := "[127.0.0.1]:" + strconv.Itoa(srv.Port())

	t.Run("no", func(t *testing.T) {
		kh := home(t)
		r := runGossh(t, "no\n", srvArgs(srv, "alice", "echo", "hi")...)
		if r.code != 255 {
			t.Fatalf("exit %d, want 255; stderr %q", r.code, r.stderr)
		}
		for _, want := range []string{
			"The authenticity of host '" + lookup + " (" + lookup + ")' can't be established.\n",
			" key fingerprint is SHA256:",
			"Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
			"Host key verification failed.\r\n",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr %q lacks %q", r.stderr, want)
			}
		}
		if _, err := os.Stat(kh); err == nil {
			t.Errorf("known_hosts written after no")
		}
	})
	t.Run("other answer re-asks, then yes", func(t *testing.T) {
		kh := home(t)
		r := runGossh(t, "maybe\nyes\nalice-pw\n", srvArgs(srv, "alice", "echo", "hi")...)
		if r.code != 0 || r.stdout != "hi\n" {
			t.Fatalf("exit %d stdout %q, want 0 and hi; stderr %q", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "Please type 'yes', 'no' or the fingerprint: ") {
			t.Errorf("no re-ask in %q", r.stderr)
		}
		if !strings.Contains(r.stderr, "Warning: Permanently added '"+lookup+"' (") {
			t.Errorf("no 'Permanently added' in %q", r.stderr)
		}
		if !strings.Contains(r.stderr, "alice@127.0.0.1's password: ") {
			t.Errorf("no password prompt in %q", r.stderr)
		}
		data, err := os.ReadFile(kh)
		if err != nil || !strings.HasPrefix(string(data), lookup+" ") {
			t.Fatalf("known_hosts %q, %v", data, err)
		}
		// Now known: no question.
		r = runGossh(t, "alice-pw\n", srvArgs(srv, "alice", "echo", "again")...)
		if r.code != 0 || r.stdout != "again\n" || strings.Contains(r.stderr, "authenticity") {
			t.Fatalf("second run: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("typing the fingerprint accepts", func(t *testing.T) {
		home(t)
		first := runGossh(t, "no\n", srvArgs(srv, "alice", "true")...)
		_, after, _ := strings.Cut(first.stderr, "key fingerprint is ")
		fp, _, _ := strings.Cut(after, ".\n")
		if !strings.HasPrefix(fp, "SHA256:") {
			t.Fatalf("no fingerprint in %q", first.stderr)
		}
		r := runGossh(t, fp+"\nalice-pw\n", srvArgs(srv, "alice", "echo", "ok")...)
		if r.code != 0 || r.stdout != "ok\n" {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("StrictHostKeyChecking=yes refuses", func(t *testing.T) {
		kh := home(t)
		r := runGossh(t, "", srvArgs(srv, "alice", "-o", "StrictHostKeyChecking=yes", "true")...)
		if r.code != 255 || !strings.Contains(r.stderr, "host key is known for "+lookup+" and you have requested strict checking.") {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
		if _, err := os.Stat(kh); err == nil {
			t.Errorf("known_hosts written")
		}
	})
	t.Run("accept-new records, HashKnownHosts hashes, UserKnownHostsFile is used", func(t *testing.T) {
		home(t)
		kh := filepath.Join(t.TempDir(), "kh")
		r := runGossh(t, "alice-pw\n", srvArgs(srv, "alice", "-o", "StrictHostKeyChecking=accept-new",
			"-o", "HashKnownHosts=yes", "-o", "UserKnownHostsFile="+kh, "true")...)
		if r.code != 0 {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
		data, _ := os.ReadFile(kh)
		if !strings.HasPrefix(string(data), "|1|") {
			t.Errorf("known_hosts %q is not hashed", data)
		}
	})
	t.Run("BatchMode never asks", func(t *testing.T) {
		home(t)
		r := runGossh(t, "yes\n", srvArgs(srv, "alice", "-o", "BatchMode=yes", "true")...)
		if r.code != 255 || strings.Contains(r.stderr, "Are you sure") || !strings.Contains(r.stderr, "Host key verification failed.") {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
	})
}

func TestHostKeyChanged(t *testing.T) {
	srv := passwordServer(t, sshtest.Config{})
	kh := home(t)
	// A known_hosts line with another ed25519 key for this host.
	lookup := "[127.0.0.1]:" + strconv.Itoa(srv.Port())
	line := lookup + " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
	if err := os.WriteFile(kh, []byte("# comment\n"+line), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runGossh(t, "yes\nalice-pw\n", srvArgs(srv, "alice", "-o", "HostKeyAlgorithms=ssh-ed25519", "true")...)
	if r.code != 255 {
		t.Fatalf("exit %d, want 255; stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n",
		"The fingerprint for the ED25519 key sent by the remote host is\nSHA256:",
		"Add correct host key in " + kh + " to get rid of this message.\r\n",
		"Offending ED25519 key in " + kh + ":2\r\n",
		"Host key for " + lookup + " has changed and you have requested strict checking.\r\n",
		"Host key verification failed.\r\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if data, _ := os.ReadFile(kh); string(data) != "# comment\n"+line {
		t.Errorf("known_hosts changed: %q", data)
	}
}

// TestHostileServerText checks that what a server sends to be shown (the
// banner, keyboard-interactive name, instruction and prompts) reaches the
// terminal with its control characters made visible.
func TestHostileServerText(t *testing.T) {
	kh := home(t)
	cfg := sshtest.Config{Banner: "Welcome \x1b[2J\x1b]0;owned\x07\n"}
	cfg.Users = map[string]sshtest.User{"bob": {KeyboardInteractive: []sshtest.Round{{
		Name: "name\x1b[31m", Instruction: "instr\x1b[5m\n", Prompts: []string{"Code\x1b[8m: "}, Echos: []bool{true}, Want: []string{"42"},
	}}}}
	srv := sshtest.New(t, cfg)
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runGossh(t, "42\n", srvArgs(srv, "bob", "echo", "in")...)
	if r.code != 0 || r.stdout != "in\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if strings.ContainsAny(r.stderr, "\x1b\x07") {
		t.Errorf("raw control characters reached stderr: %q", r.stderr)
	}
	for _, want := range []string{`Welcome \033[2J\033]0;owned\007` + "\n", `name\033[31m` + "\n", `instr\033[5m` + "\n", `Code\033[8m: `} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}

	t.Run("quiet hides the banner", func(t *testing.T) {
		r := runGossh(t, "42\n", srvArgs(srv, "bob", "-q", "true")...)
		if r.code != 0 || strings.Contains(r.stderr, "Welcome") {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
	})
}

func TestPasswordPrompts(t *testing.T) {
	kh := home(t)
	srv := passwordServer(t, sshtest.Config{})
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("retry then success", func(t *testing.T) {
		r := runGossh(t, "wrong\nalice-pw\n", srvArgs(srv, "alice", "-o", "PreferredAuthentications=password", "echo", "x")...)
		if r.code != 0 || r.stdout != "x\n" {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		if strings.Count(r.stderr, "alice@127.0.0.1's password: ") != 2 || !strings.Contains(r.stderr, "Permission denied, please try again.\r\n") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("NumberOfPasswordPrompts", func(t *testing.T) {
		r := runGossh(t, "a\nb\nc\n", srvArgs(srv, "alice", "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=2", "true")...)
		if r.code != 255 {
			t.Fatalf("exit %d, want 255; stderr %q", r.code, r.stderr)
		}
		if n := strings.Count(r.stderr, "password: "); n != 2 {
			t.Errorf("%d prompts, want 2: %q", n, r.stderr)
		}
		if !strings.HasSuffix(r.stderr, "alice@127.0.0.1: Permission denied (publickey,password,keyboard-interactive).\r\n") &&
			!strings.Contains(r.stderr, "alice@127.0.0.1: Permission denied (") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("BatchMode fails without asking", func(t *testing.T) {
		r := runGossh(t, "alice-pw\n", srvArgs(srv, "alice", "-o", "BatchMode=yes", "true")...)
		if r.code != 255 || strings.Contains(r.stderr, "password: ") || !strings.Contains(r.stderr, "Permission denied (") {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("exit status and stderr", func(t *testing.T) {
		r := runGossh(t, "alice-pw\n", srvArgs(srv, "alice", "exit", "7")...)
		if r.code != 7 {
			t.Fatalf("exit %d, want 7; stderr %q", r.code, r.stderr)
		}
	})
}

// TestBadInput: a bad flag, a missing -F file and an unreadable identity
// each give one line, status 255, and leave known_hosts alone.
func TestBadInput(t *testing.T) {
	srv := passwordServer(t, sshtest.Config{})
	for name, args := range map[string][]string{
		"bad flag":         {"-Z", "h"},
		"unsupported flag": {"-X", "h"},
		"missing -F":       {"-F", "/nonexistent/config", "h"},
		"missing -i":       append([]string{"-i", "/nonexistent/key"}, srvArgs(srv, "alice", "true")...),
		"bad -o":           {"-o", "NoSuchKeyword=1", "h"},
		"bad port":         {"-p", "x", "h"},
	} {
		t.Run(name, func(t *testing.T) {
			kh := home(t)
			r := runGossh(t, "yes\n", args...)
			if r.code != 255 {
				t.Fatalf("exit %d, want 255; stderr %q", r.code, r.stderr)
			}
			first, _, _ := strings.Cut(r.stderr, "\n")
			if first == "" || strings.Contains(first, "panic") {
				t.Errorf("stderr %q", r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "gossh: ") {
				t.Errorf("stderr %q does not start with gossh:", r.stderr)
			}
			if name != "bad flag" && strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("want one line, got %q", r.stderr)
			}
			if _, err := os.Stat(kh); err == nil {
				t.Errorf("known_hosts written")
			}
		})
	}
}
