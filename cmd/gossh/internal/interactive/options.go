// Package interactive runs the session phase of gossh after authentication,
// as OpenSSH's client loop (clientloop.c) does: one session channel with
// agent forwarding, a pty, environment variables and the shell, command or
// subsystem; stdin, stdout and stderr streamed; with a pty, the local
// terminal in raw mode, window-size changes sent, and escape sequences
// ("~." and friends) read from what the user types; and the exit code ssh
// would return.
package interactive

import (
	"io"
	"log/slog"
)

// Options configure Run. The zero value runs a login shell without a pty,
// with no input (Stdin nil reads as empty), output discarded, escape
// character NUL: callers set EscapeChar to '~' (the default of ssh) or -1.
type Options struct {
	// Command is the command line to run; "" runs the login shell.
	Command string
	// Subsystem makes Command the name of a subsystem (ssh -s).
	Subsystem bool
	// PTY requests a pseudo-terminal. The caller decides it from -t, -tt,
	// -T, RequestTTY and whether stdin is a terminal, as ssh does. The
	// local terminal is put in raw mode only when StdinFd is a terminal.
	PTY bool
	// Term is the terminal type sent with the pty request ($TERM); ""
	// sends the library's default.
	Term string
	// EscapeChar is the escape character, active only with a pty, as in
	// ssh; -1 disables escapes (EscapeChar none, -e none).
	EscapeChar int
	// Env holds the variables to send with "env" requests (SendEnv and
	// SetEnv resolved). The server may refuse any of them; refusals are
	// logged, as ssh sends them without asking for an answer.
	Env map[string]string
	// ForwardAgent sends "auth-agent-req@openssh.com"; the session's
	// ForwardAgent option decides where the agent channels go.
	ForwardAgent bool

	// Stdin, Stdout and Stderr are the local streams; nil Stdin reads as
	// empty (ssh -n gives /dev/null), nil Stdout or Stderr discards.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// StdinFd is the file descriptor of Stdin, used for raw mode and the
	// window size; -1 when Stdin is not a terminal.
	StdinFd int

	// ListForwards returns the text "~#" shows (the open forwardings);
	// nil shows an empty list.
	ListForwards func() string
	// Log receives debug messages (refused requests, how the session
	// ended); nil discards them.
	Log *slog.Logger

	// Host names the server in "Connection to HOST closed.", which ssh
	// prints after a pty session; ssh uses the resolved HostName. Added
	// to the agreed interface.
	Host string
	// Quiet suppresses that message (LogLevel QUIET and below, ssh -q).
	// Added to the agreed interface.
	Quiet bool
}

// withDefaults returns o with the nil streams and logger replaced.
func (o Options) withDefaults() Options {
	if o.Stdin == nil {
		o.Stdin = eofReader{}
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
