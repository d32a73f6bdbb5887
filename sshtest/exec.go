package sshtest

import (
	"context"
	"io"
	"strings"
	"sync"
)

// ExecContext is what a command runs with: the command line and the
// session's state at the time it started. Config.Exec handlers receive one;
// RunBuiltin takes one.
type ExecContext struct {
	// Ctx is done when the channel closes, the connection ends or the
	// Server is closed. Nil is treated as context.Background.
	Ctx context.Context

	// User is the authenticated user name.
	User string

	// Command is the command line: the "exec" request's command, or one
	// line of the shell.
	Command string

	// Env holds the variables accepted from "env" requests before the
	// command started. It is the command's own copy, never nil when built
	// by the server.
	Env map[string]string

	// Stdin reads the channel's data until the client sends EOF or closes
	// the channel. Nil reads as empty.
	Stdin io.Reader

	// Stdout and Stderr write channel data and extended data (RFC 4254
	// §5.2). In a shell with a pty, both go to the terminal's output,
	// i.e. channel data. Nil discards.
	Stdout, Stderr io.Writer

	// Pty describes the pseudo-terminal the client requested, as it was
	// when the command started; nil if none was requested.
	Pty *PtyInfo

	// Signals delivers the names (without "SIG") of "signal" requests
	// (RFC 4254 §6.9). It is buffered, so a signal sent before the
	// command looks is not lost; signals beyond the buffer are dropped.
	// Nil never delivers.
	Signals <-chan string

	exit *exitState // nil: SetExitSignal does nothing
}

// PtyInfo is a pseudo-terminal request (RFC 4254 §6.2), updated by later
// window-change requests (§6.7).
type PtyInfo struct {
	// Term is the TERM value, e.g. "xterm".
	Term string
	// Cols and Rows are the size in characters; Width and Height in
	// pixels. Zero means unknown.
	Cols, Rows, Width, Height uint32
	// Modes are the encoded terminal modes (RFC 4254 §8).
	Modes []byte
}

// SetExitSignal makes the command end as if killed by a signal: when it
// returns, the server sends exit-signal (RFC 4254 §6.10) instead of
// exit-status, and its return value is ignored. signal is a name such as
// "TERM"; a leading "SIG" is removed. It is safe to call from any goroutine;
// the last call wins. On an ExecContext not built by the server it does
// nothing.
func (c ExecContext) SetExitSignal(signal string, coreDumped bool, message string) {
	if c.exit == nil {
		return
	}
	c.exit.set(strings.TrimPrefix(signal, "SIG"), coreDumped, message)
}

// exitState records an exit by signal; commands may set it from any
// goroutine.
type exitState struct {
	mu         sync.Mutex
	signaled   bool
	signal     string
	coreDumped bool
	message    string
}

func (e *exitState) set(signal string, coreDumped bool, message string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.signaled, e.signal, e.coreDumped, e.message = true, signal, coreDumped, message
}

// get returns the signal exit, if any.
func (e *exitState) get() (signal string, coreDumped bool, message string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.signal, e.coreDumped, e.message, e.signaled
}

// run runs one command line with the configured handler.
func (s *Server) run(ctx ExecContext) int {
	if s.cfg.Exec != nil {
		return s.cfg.Exec(ctx)
	}
	return RunBuiltin(ctx)
}

// withDefaults replaces the nil fields the documentation promises to
// tolerate, so a hand-built ExecContext cannot make a command panic.
func (c ExecContext) withDefaults() ExecContext {
	if c.Ctx == nil {
		c.Ctx = context.Background()
	}
	if c.Stdin == nil {
		c.Stdin = strings.NewReader("")
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	if c.Stderr == nil {
		c.Stderr = io.Discard
	}
	return c
}
