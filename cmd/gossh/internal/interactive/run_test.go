package interactive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libssh-go/libssh/ssh"
	"github.com/libssh-go/libssh/sshtest"
	"github.com/libssh-go/libssh/sshtest/sshclient"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// connect starts a server with cfg and returns a logged-in session of
// user "alice".
func connect(t *testing.T, cfg sshtest.Config) (*sshtest.Server, *ssh.Session) {
	t.Helper()
	cfg.AddPasswordUser("alice", "pw")
	srv := sshtest.New(t, cfg)
	return srv, sshclient.Connect(t, srv, "alice")
}

// blockedStdin is a Stdin nobody types on: its Read blocks until the
// test ends, as a terminal's does.
func blockedStdin(t *testing.T) io.Reader {
	r, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	return r
}

func runFor(t *testing.T, s *ssh.Session, o Options) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	return Run(ctx, s, o)
}

func TestRunExitStatusAndStreams(t *testing.T) {
	_, s := connect(t, sshtest.Config{})
	for _, tc := range []struct {
		command        string
		code           int
		stdout, stderr string
	}{
		{"both OUT ERR", 0, "OUT\n", "ERR\n"},
		{"exit 7", 7, "", ""},
		{"false", 1, "", ""},
		{"nosuchcommand", 127, "", "nosuchcommand: command not found\n"},
		// A remote signal: ssh prints nothing and returns 255 (checked
		// against OpenSSH 9.2 with "kill -9 $$").
		{"kill KILL", 255, "", ""},
	} {
		t.Run(tc.command, func(t *testing.T) {
			var stdout, stderr syncBuffer
			code, err := runFor(t, s, Options{Command: tc.command, EscapeChar: '~', StdinFd: -1,
				Stdin: blockedStdin(t), Stdout: &stdout, Stderr: &stderr})
			if err != nil || code != tc.code {
				t.Fatalf("Run = %d, %v; want %d, nil", code, err, tc.code)
			}
			if stdout.String() != tc.stdout || stderr.String() != tc.stderr {
				t.Fatalf("stdout %q, stderr %q; want %q, %q", stdout.String(), stderr.String(), tc.stdout, tc.stderr)
			}
		})
	}
}

// Without a pty, stdin is streamed as is (escapes are off, as in ssh) to
// its end, and the end reaches the server as EOF.
func TestRunStdinStreamsToEOF(t *testing.T) {
	_, s := connect(t, sshtest.Config{})
	input := bytes.Repeat([]byte("~.\r\n~~ any bytes \x00\xff\n"), 64<<10) // 1.4 MB
	sum := sha256.Sum256(input)
	var stdout syncBuffer
	code, err := runFor(t, s, Options{Command: "sha256", EscapeChar: '~', StdinFd: -1,
		Stdin: bytes.NewReader(input), Stdout: &stdout})
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if got, want := strings.TrimSpace(stdout.String()), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("the server's hash of stdin is %s, want %s", got, want)
	}
}

// The requests go out in ssh's order: agent, pty, environment (sorted, so
// the order does not depend on map iteration), then the command.
func TestRunRequestsInOrder(t *testing.T) {
	srv, s := connect(t, sshtest.Config{})
	var stdout, stderr syncBuffer
	code, err := runFor(t, s, Options{Command: "pty", PTY: true, Term: "vt220", EscapeChar: '~', StdinFd: -1,
		Env: map[string]string{"LC_B": "2", "LC_A": "1"}, ForwardAgent: true,
		Stdin: blockedStdin(t), Stdout: &stdout, Stderr: &stderr, Host: "example.net"})
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v (stderr %q)", code, err, stderr.String())
	}
	// No terminal: the size is unknown and sent as 0x0, as ssh does.
	if got := stdout.String(); got != "vt220 0 0\n" {
		t.Fatalf("the remote pty is %q", got)
	}
	if got := stderr.String(); got != "Connection to example.net closed.\r\n" {
		t.Fatalf("stderr %q, want ssh's closing line", got)
	}
	var types []string
	for _, r := range srv.Requests() {
		types = append(types, r.Type+" "+r.Name+r.Value)
	}
	want := []string{"auth-agent-req@openssh.com ", "pty-req ", "env LC_A1", "env LC_B2", "exec "}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("requests %q, want %q", types, want)
	}
}

func TestRunQuietHasNoClosingLine(t *testing.T) {
	_, s := connect(t, sshtest.Config{})
	var stderr syncBuffer
	code, err := runFor(t, s, Options{Command: "true", PTY: true, EscapeChar: '~', StdinFd: -1, Quiet: true,
		Stdin: blockedStdin(t), Stderr: &stderr, Host: "h"})
	if err != nil || code != 0 || stderr.String() != "" {
		t.Fatalf("Run = %d, %v, stderr %q", code, err, stderr.String())
	}
}

func TestRunSubsystem(t *testing.T) {
	_, s := connect(t, sshtest.Config{})
	var stdout syncBuffer
	code, err := runFor(t, s, Options{Command: "echo-subsystem", Subsystem: true, StdinFd: -1,
		Stdin: strings.NewReader("ping"), Stdout: &stdout})
	if err != nil || code != 0 || stdout.String() != "ping" {
		t.Fatalf("Run = %d, %v, stdout %q", code, err, stdout.String())
	}
}

func TestRunRefusedRequests(t *testing.T) {
	_, s := connect(t, sshtest.Config{})
	code, err := runFor(t, s, Options{Command: "no-such-subsystem", Subsystem: true, StdinFd: -1, Stdin: blockedStdin(t)})
	if code != 255 || err == nil || err.Error() != "subsystem request failed on channel 0" {
		t.Fatalf("Run = %d, %v; want 255 and ssh's message", code, err)
	}
}

// escapeShell is a shell with a pty that keeps what it reads, until the
// channel ends; started is closed when it runs.
type escapeShell struct {
	started chan struct{}
	done    chan string // what it read
}

func newEscapeShell() *escapeShell {
	return &escapeShell{started: make(chan struct{}), done: make(chan string, 1)}
}

func (e *escapeShell) serve(ctx sshtest.ExecContext) int {
	close(e.started)
	got, _ := io.ReadAll(ctx.Stdin)
	e.done <- string(got)
	return 0
}

func (e *escapeShell) input(t *testing.T) string {
	t.Helper()
	select {
	case got := <-e.done:
		return got
	case <-time.After(time.Minute):
		t.Fatal("the shell did not end")
		return ""
	}
}

func TestRunEscapes(t *testing.T) {
	sh := newEscapeShell()
	srv, s := connect(t, sshtest.Config{Shell: sh.serve})
	stdinR, stdinW := io.Pipe()
	t.Cleanup(func() { stdinW.Close() })
	var stderr syncBuffer
	type result struct {
		code int
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, err := Run(t.Context(), s, Options{PTY: true, EscapeChar: '~', StdinFd: -1,
			Stdin: stdinR, Stderr: &stderr, Host: "example.net",
			ListForwards: func() string { return "The following connections are open:\n  #0 test\n" }})
		res <- result{code, err}
	}()
	<-sh.started
	for _, typed := range []string{"ls\r", "~~x\r", "a~.\r", "~B", "~#", "~?", "~R", "~x\r", "~."} {
		if _, err := stdinW.Write([]byte(typed)); err != nil {
			t.Fatal(err)
		}
	}
	var r result
	select {
	case r = <-res:
	case <-time.After(time.Minute):
		t.Fatal("~. did not end the session")
	}
	// ~. ends the session with 255 as ssh does, and ssh's last line.
	if r.code != 255 || r.err != nil {
		t.Fatalf("Run = %d, %v; want 255, nil", r.code, r.err)
	}
	if got, want := sh.input(t), "ls\r~x\ra~.\r~x\r"; got != want {
		t.Fatalf("the server read %q, want %q", got, want)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if b, err := srv.WaitRequest(ctx, func(r sshtest.RequestRecord) bool { return r.Type == "break" }); err != nil || b.BreakLength != 1000 {
		t.Fatalf("break request %+v, %v; want 1000 ms", b, err)
	}
	out := stderr.String()
	for _, want := range []string{
		"~B\r\n",
		"~#\r\nThe following connections are open:\r\n  #0 test\r\n",
		escapeHelpText('~'),
		"~R\r\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(out, "Connection to example.net closed.\r\n") {
		t.Errorf("stderr does not end with ssh's closing line:\n%q", out)
	}
}

func TestRunEscapeNone(t *testing.T) {
	sh := newEscapeShell()
	_, s := connect(t, sshtest.Config{Shell: sh.serve})
	code, err := runFor(t, s, Options{PTY: true, EscapeChar: -1, StdinFd: -1, Stdin: strings.NewReader("~.\r~?\r")})
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if got := sh.input(t); got != "~.\r~?\r" {
		t.Fatalf("the server read %q", got)
	}
}

func TestRunContextEnds(t *testing.T) {
	sh := newEscapeShell()
	_, s := connect(t, sshtest.Config{Shell: sh.serve})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-sh.started
		cancel()
	}()
	code, err := Run(ctx, s, Options{StdinFd: -1, Stdin: blockedStdin(t)})
	if code != 255 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %d, %v; want 255, context.Canceled", code, err)
	}
	sh.input(t)
}

func TestRunConnectionLost(t *testing.T) {
	sh := newEscapeShell()
	srv, s := connect(t, sshtest.Config{Shell: sh.serve})
	go func() {
		<-sh.started
		srv.Close()
	}()
	code, err := runFor(t, s, Options{StdinFd: -1, Stdin: blockedStdin(t)})
	if code != 255 || !errors.Is(err, ssh.ErrDisconnected) {
		t.Fatalf("Run = %d, %v; want 255, ErrDisconnected", code, err)
	}
}
