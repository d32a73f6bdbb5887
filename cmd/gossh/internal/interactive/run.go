package interactive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"

	"github.com/libssh-go/libssh/ssh"
)

// exitFailure is what ssh returns when the session did not give an exit
// status: a connection or channel failure, a remote command killed by a
// signal, "~.", or ssh itself killed by a signal.
const exitFailure = 255

// Run opens a session channel on s (connected and authenticated), starts
// the command, shell or subsystem as o says, streams stdio until the remote
// side is done, and returns the exit code OpenSSH's ssh would return: the
// remote exit status, or 255 when there is none (a remote signal, "~.",
// SIGINT/SIGTERM/SIGHUP/SIGQUIT received here, a lost connection).
//
// err is non-nil when the session failed rather than ended: the channel
// could not be opened, the server refused the command, or the connection
// died; its text is what ssh prints ("exec request failed on channel 0").
// A refused pty is reported on Stderr as ssh does and the session goes on
// without one.
//
// With a pty and StdinFd a terminal, the terminal is raw while Run runs
// and restored before it returns, also when it panics. Run returns without
// waiting for a Read of Stdin that is still blocked (a person who has not
// typed anything); that read's bytes are then dropped. ctx ends the session
// (exit code 255 and ctx's error).
func Run(ctx context.Context, s *ssh.Session, o Options) (exitCode int, err error) {
	o = o.withDefaults()
	ch, err := s.NewChannel()
	if err != nil {
		return exitFailure, err
	}
	defer ch.Close()
	if err := ch.OpenSession(ctx); err != nil {
		return exitFailure, fmt.Errorf("channel 0: open failed: %w", err)
	}

	// Signals are watched before the terminal goes raw, so none arrives
	// in between with the default action (death with the terminal raw).
	quit := make(chan os.Signal, 1)
	signal.Notify(quit, quitSignals...)
	defer signal.Stop(quit)

	var tty *terminal
	if o.PTY {
		tty = newTerminal(o.StdinFd)
	}
	defer func() { _ = tty.restore() }()
	defer tty.restoreOnPanic()

	hasPty, err := startRemote(ctx, ch, o, tty)
	if err != nil {
		return exitFailure, err
	}
	if !hasPty {
		tty = nil
	}
	stderr := &lockedWriter{w: o.Stderr}
	if err := tty.makeRaw(); err != nil {
		o.Log.Debug("raw mode", "err", err)
		tty = nil
	}
	code, err := pumpSession(ctx, ch, o, tty, stderr, quit)
	// ssh prints this after leaving raw mode, as the session's last word,
	// also after "~." (clientloop.c, client_loop).
	_ = tty.restore()
	if hasPty && !o.Quiet && !errors.Is(err, errQuitSignal) {
		fmt.Fprintf(stderr, "Connection to %s closed.\r\n", o.Host)
	}
	if errors.Is(err, errQuitSignal) {
		o.Log.Debug(err.Error())
		err = nil
	}
	return code, err
}

// startRemote sends the requests ssh sends, in its order
// (ssh_session2_setup, client_session2_setup): agent forwarding, pty,
// environment, then the command. It reports whether a pty was granted.
func startRemote(ctx context.Context, ch *ssh.Channel, o Options, tty *terminal) (hasPty bool, err error) {
	if o.ForwardAgent {
		if err := ch.RequestAuthAgent(ctx); err != nil {
			o.Log.Debug("agent forwarding request refused", "err", err)
		}
	}
	if o.PTY {
		cols, rows := tty.size()
		switch err := ch.RequestPty(ctx, o.Term, cols, rows); {
		case err == nil:
			hasPty = true
		case errors.Is(err, ssh.ErrRequestDenied):
			fmt.Fprintf(o.Stderr, "PTY allocation request failed on channel 0\r\n")
		default:
			return false, err
		}
	}
	names := make([]string, 0, len(o.Env))
	for name := range o.Env {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := ch.RequestEnv(ctx, name, o.Env[name]); err != nil {
			o.Log.Debug("environment variable refused", "name", name, "err", err)
		}
	}
	var what string
	switch {
	case o.Subsystem:
		what, err = "subsystem", ch.RequestSubsystem(ctx, o.Command)
	case o.Command != "":
		what, err = "exec", ch.RequestExec(ctx, o.Command)
	default:
		what, err = "shell", ch.RequestShell(ctx)
	}
	if errors.Is(err, ssh.ErrRequestDenied) {
		return hasPty, fmt.Errorf("%s request failed on channel 0", what)
	}
	return hasPty, err
}

// lockedWriter serializes writes to the local stderr, which both the
// remote stderr and the escape commands' messages go to.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
