// Package tmuxtest runs a command in a terminal of a private tmux server,
// for tests that drive a program as a person would: type keys, read the
// screen, resize the window.
package tmuxtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/interop"
)

// Timeout bounds every wait for the screen.
const Timeout = 30 * time.Second

// Session is one command running in the only pane of a private tmux server
// (its own socket and configuration in a temporary directory).
type Session struct {
	t    testing.TB
	bin  string
	sock string
	conf string
}

// Start runs command (a line for sh) in a new tmux server with a window of
// cols x rows. The pane stays after the command exits, so its last screen
// can be read; the cleanup ends the server. It skips t when tmux is not
// installed, or fails it when interop tests are required (LIBSSH_INTEROP=1).
func Start(t testing.TB, cols, rows int, command string) *Session {
	t.Helper()
	bin, err := exec.LookPath("tmux")
	if err != nil {
		if interop.Required() {
			t.Fatalf("tmux is missing (LIBSSH_INTEROP requires it): %v", err)
		}
		t.Skipf("tmux not installed: %v", err)
	}
	dir := t.TempDir()
	s := &Session{t: t, bin: bin, sock: filepath.Join(dir, "tmux.sock"), conf: filepath.Join(dir, "tmux.conf")}
	conf := "set -g remain-on-exit on\nset -g history-limit 5000\n"
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := s.tmux("new-session", "-d", "-s", "t", "-x", itoa(cols), "-y", itoa(rows), command); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = s.tmux("kill-server") })
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

func (s *Session) tmux(args ...string) (string, error) {
	cmd := exec.Command(s.bin, append([]string{"-S", s.sock, "-f", s.conf}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Screen returns what the pane shows, with its scrollback, wrapped lines
// joined.
func (s *Session) Screen() string {
	s.t.Helper()
	out, err := s.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "t")
	if err != nil {
		s.t.Fatalf("tmux capture-pane: %v: %s", err, out)
	}
	return out
}

// WaitFor polls the screen until ok says yes, for at most Timeout, and
// returns that screen; it fails the test with the last screen and what
// was awaited otherwise.
func (s *Session) WaitFor(what string, ok func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(Timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		scr := s.Screen()
		if ok(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %s:\n%s", what, scr)
		}
		<-tick.C
	}
}

// WaitForText is WaitFor until the screen holds text.
func (s *Session) WaitForText(text string) string {
	s.t.Helper()
	return s.WaitFor(`"`+text+`"`, func(scr string) bool { return strings.Contains(scr, text) })
}

// WaitForCount is WaitFor until text appears at least n times.
func (s *Session) WaitForCount(text string, n int) string {
	s.t.Helper()
	return s.WaitFor(itoa(n)+` times "`+text+`"`, func(scr string) bool { return strings.Count(scr, text) >= n })
}

// Type types text literally (no key names), without Enter.
func (s *Session) Type(text string) {
	s.t.Helper()
	if out, err := s.tmux("send-keys", "-t", "t", "-l", text); err != nil {
		s.t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
}

// Keys sends tmux key names, such as "Enter" or "C-z".
func (s *Session) Keys(keys ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys", "-t", "t"}, keys...)...); err != nil {
		s.t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
}

// TypeLine types text and Enter.
func (s *Session) TypeLine(text string) {
	s.t.Helper()
	s.Type(text)
	s.Keys("Enter")
}

// Resize sets the window's size, which sends SIGWINCH to the program.
func (s *Session) Resize(cols, rows int) {
	s.t.Helper()
	if out, err := s.tmux("resize-window", "-t", "t", "-x", itoa(cols), "-y", itoa(rows)); err != nil {
		s.t.Fatalf("tmux resize-window: %v: %s", err, out)
	}
}

// ShellQuote quotes s for sh.
func ShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
