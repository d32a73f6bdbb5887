//go:build unix

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/libssh-go/libssh/internal/interop"
	"github.com/libssh-go/libssh/internal/tmuxtest"
)

// Real-terminal tests: gossh runs in a tmux pane, in front of an
// interactive sh, against the interop sshd; the test types as a person
// would and reads the screen.

// ttyGossh starts sh in tmux (80x24) and types a gossh command line with
// args into it; the line ends by echoing gossh's exit status as
// "[gossh exited N]".
func ttyGossh(t *testing.T, args ...string) *tmuxtest.Session {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s := tmuxtest.Start(t, 80, 24, "env -u SSH_AUTH_SOCK PS1='local$ ' sh")
	s.WaitForText("local$ ")
	line := []string{runMainEnv + "=1", tmuxtest.ShellQuote(exe)}
	for _, a := range args {
		line = append(line, tmuxtest.ShellQuote(a))
	}
	s.TypeLine(strings.Join(line, " ") + `; echo "[gossh exited "$?]`)
	return s
}

// ttyArgs are the options reaching e's sshd with the plain ed25519 key.
func ttyArgs(e *interop.Env) []string {
	return []string{"-F", "/dev/null", "-p", strconv.Itoa(e.Port), "-l", e.User,
		"-i", e.Keys["ed25519"].Private, "-o", "UserKnownHostsFile=" + e.KnownHostsFile,
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes"}
}

var gosshExited = regexp.MustCompile(`\[gossh exited (\d+)\]`)

// waitExit waits for gossh to end and returns its exit status.
func waitExit(t *testing.T, s *tmuxtest.Session) int {
	t.Helper()
	scr := s.WaitFor("gossh's exit status", gosshExited.MatchString)
	code, _ := strconv.Atoi(gosshExited.FindStringSubmatch(scr)[1])
	// Whatever comes next is typed only once sh reads again.
	s.WaitFor("sh's prompt", func(scr string) bool { return strings.HasSuffix(strings.TrimRight(scr, " \n"), "local$") })
	return code
}

// waitLine waits for a line of the screen that is exactly line (so the
// command typed, which the screen shows too, does not count).
func waitLine(s *tmuxtest.Session, line string) string {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `\s*$`)
	return s.WaitFor(strconv.Quote(line)+" on a line of its own", re.MatchString)
}

func checkLocalTerminalSane(t *testing.T, s *tmuxtest.Session) {
	t.Helper()
	s.TypeLine(`echo "[stty-"begin]; stty -a; echo "[stty-"end]`)
	scr := s.WaitForText("[stty-end]\n")
	m := regexp.MustCompile(`(?s)\[stty-begin\]\n(.*)\[stty-end\]`).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no stty output:\n%s", scr)
	}
	for _, flag := range []string{"echo", "icanon", "isig", "icrnl"} {
		if !regexp.MustCompile(`(^|\s)` + flag + `(\s|$)`).MatchString(m[1]) {
			t.Errorf("the local terminal is not sane after gossh: stty -a lacks %q:\n%s", flag, m[1])
		}
	}
}

// A login shell: its prompt appears, stty size follows the window, and
// "~." ends the session with 255 and leaves the terminal sane.
func TestTTYShellResizeAndEscape(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	e.SkipWithoutPTY(t)
	s := ttyGossh(t, append(ttyArgs(e), e.Host)...)
	s.WaitForText(e.User + "@")
	s.TypeLine("stty size")
	waitLine(s, "24 80")
	s.Resize(100, 30)
	s.TypeLine("stty size")
	waitLine(s, "30 100")
	// Ctrl-C reaches the remote shell (it shows ^C and a new prompt)
	// instead of killing gossh.
	s.Type("sleep 600")
	s.Keys("Enter")
	s.Keys("C-c")
	s.TypeLine("echo still-here")
	waitLine(s, "still-here")
	s.Keys("Enter")
	s.Type("~.")
	if code := waitExit(t, s); code != 255 {
		t.Fatalf("gossh exited %d after ~., want 255 as ssh:\n%s", code, s.Screen())
	}
	if scr := s.Screen(); !strings.Contains(scr, "Connection to 127.0.0.1 closed.") {
		t.Errorf("no closing line:\n%s", scr)
	}
	checkLocalTerminalSane(t, s)
}

// The unknown host key question is answered by typing "yes"; the key is
// then in the fresh UserKnownHostsFile.
func TestTTYHostKeyQuestion(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	known := filepath.Join(t.TempDir(), "known_hosts")
	args := ttyArgs(e)
	for i, a := range args {
		switch a {
		case "UserKnownHostsFile=" + e.KnownHostsFile:
			args[i] = "UserKnownHostsFile=" + known
		case "StrictHostKeyChecking=yes":
			args[i] = "StrictHostKeyChecking=ask"
		}
	}
	s := ttyGossh(t, append(args, e.Host, "echo remote-said-hi")...)
	s.WaitForText("Are you sure you want to continue connecting (yes/no/[fingerprint])? ")
	s.TypeLine("yes")
	waitLine(s, "remote-said-hi")
	if code := waitExit(t, s); code != 0 {
		t.Fatalf("gossh exited %d:\n%s", code, s.Screen())
	}
	data, err := os.ReadFile(known)
	if err != nil || !strings.HasPrefix(string(data), "[127.0.0.1]:"+strconv.Itoa(e.Port)+" ") {
		t.Fatalf("known_hosts after yes: %q, %v", data, err)
	}
}

// The passphrase of an encrypted key (ssh-keygen -N) is typed at gossh's
// prompt and never shown.
func TestTTYPassphraseNotEchoed(t *testing.T) {
	e := interop.Start(t, interop.Options{NoAgent: true})
	key := e.Keys["ed25519-enc"]
	args := ttyArgs(e)
	for i, a := range args {
		if a == e.Keys["ed25519"].Private {
			args[i] = key.Private
		}
	}
	s := ttyGossh(t, append(args, "-o", "IdentitiesOnly=yes", e.Host, "echo logged-in-with-key")...)
	s.WaitForText("Enter passphrase for key '" + key.Private + "': ")
	s.TypeLine(key.Passphrase)
	waitLine(s, "logged-in-with-key")
	if code := waitExit(t, s); code != 0 {
		t.Fatalf("gossh exited %d:\n%s", code, s.Screen())
	}
	if scr := s.Screen(); strings.Contains(scr, key.Passphrase) {
		t.Fatalf("the passphrase was echoed:\n%s", scr)
	}
}
