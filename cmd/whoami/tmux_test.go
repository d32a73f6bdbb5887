package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/interop"
	"github.com/libssh-go/libssh/sshtest"
)

// tmuxSession is the command running in a terminal of a private tmux
// server (its own socket and configuration), driven as a person would:
// read the screen, type at the prompt.
type tmuxSession struct {
	t    *testing.T
	bin  string
	sock string
	conf string
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	out, err := exec.Command(s.bin, append([]string{"-S", s.sock, "-f", s.conf}, args...)...).CombinedOutput()
	return string(out), err
}

// startTmux runs command (a line for sh) in a new tmux server. The
// pane stays after the command exits, so its last screen can be read; the
// cleanup ends the server.
func startTmux(t *testing.T, command string) *tmuxSession {
	t.Helper()
	bin, err := exec.LookPath("tmux")
	if err != nil {
		if interop.Required() {
			t.Fatalf("tmux is missing: %v", err)
		}
		t.Skipf("tmux not installed: %v", err)
	}
	dir := t.TempDir()
	s := &tmuxSession{t: t, bin: bin, sock: filepath.Join(dir, "tmux.sock"), conf: filepath.Join(dir, "tmux.conf")}
	if err := os.WriteFile(s.conf, []byte("set -g remain-on-exit on\nset -g history-limit 1000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := s.tmux("new-session", "-d", "-s", "demo", "-x", "200", "-y", "50", command); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = s.tmux("kill-server") })
	return s
}

// screen returns what the pane shows, with its scrollback.
func (s *tmuxSession) screen() string {
	out, err := s.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "demo")
	if err != nil {
		s.t.Fatalf("tmux capture-pane: %v: %s", err, out)
	}
	return out
}

// waitFor polls the screen until it holds want, for at most 30 s.
func (s *tmuxSession) waitFor(want string) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		scr := s.screen()
		if strings.Contains(scr, want) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %q:\n%s", want, scr)
		}
		<-tick.C
	}
}

// typeLine types text and Enter, as keys (-l: literally, not key names).
func (s *tmuxSession) typeLine(text string) {
	s.t.Helper()
	if out, err := s.tmux("send-keys", "-t", "demo", "-l", text); err != nil {
		s.t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
	if out, err := s.tmux("send-keys", "-t", "demo", "Enter"); err != nil {
		s.t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestDemoInTmux runs the command on a real terminal and answers its real
// prompts by typing: "yes" to trust the unknown host key, then the
// password, which the terminal must not show. Against the in-process
// server and against sshd.
func TestDemoInTmux(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type target struct{ user, addr, password string }
	for name, get := range map[string]func(t *testing.T) target{
		"in-process server": func(t *testing.T) target {
			return target{alice, aliceServer(t, sshtest.Config{}).Addr(), alicePassword}
		},
		"sshd": func(t *testing.T) target {
			env := interop.Start(t, interop.Options{NoAgent: true})
			env.SkipWithoutPassword(t)
			return target{env.User, env.Addr, env.Password}
		},
	} {
		t.Run(name, func(t *testing.T) {
			tg := get(t)
			home := t.TempDir()
			// The shell line reports the exit status on the screen: tmux's
			// own #{pane_dead_status} sometimes stays empty (tmux 3.3a
			// leaves the child unreaped for a while).
			command := strings.Join([]string{"env", "-i", shellQuote("HOME=" + home), runDemoEnv + "=1",
				shellQuote(exe), shellQuote(tg.user+"@"+tg.addr) + `; echo "[whoami exited $?]"`}, " ")
			s := startTmux(t, command)

			s.waitFor("Trust it and record its key? (yes/no): ")
			s.typeLine("yes")
			s.waitFor("Password: ")
			s.typeLine(tg.password)
			scr := s.waitFor("[whoami exited ")
			if !strings.Contains(scr, "[whoami exited 0]") || !strings.Contains(scr, "exit status: 0") {
				t.Fatalf("the command failed:\n%s", scr)
			}
			if !strings.Contains(scr, "whoami: "+tg.user) {
				t.Fatalf("no whoami output:\n%s", scr)
			}
			if strings.Contains(scr, tg.password) {
				t.Fatalf("the password was echoed:\n%s", scr)
			}
			if data, err := os.ReadFile(filepath.Join(home, ".ssh", "known_hosts")); err != nil || len(data) == 0 {
				t.Fatalf("the trusted key was not recorded: %v", err)
			}
		})
	}
}
