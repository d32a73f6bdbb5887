package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	"github.com/libssh-go/libssh/ssh"
)

// sessionOptions is what the session phase needs from the command line and
// the configuration. It has the fields of interactive.Options (the package
// that runs interactive sessions with a pty), so that runSession and
// interactive.Run are interchangeable.
type sessionOptions struct {
	Command      string // "" = login shell
	Subsystem    bool   // -s: Command names a subsystem
	PTY          bool   // decided from -t/-tt/-T/RequestTTY and isatty(stdin)
	Term         string // $TERM
	EscapeChar   int    // -1 = none
	Env          map[string]string
	ForwardAgent bool
	Stdin        io.Reader
	Stdout       io.Writer
	Stderr       io.Writer
	StdinFd      int // -1 if stdin is not a terminal
	ListForwards func() string
	Log          *slog.Logger
}

// runSession is the non-interactive session: a session channel with the
// environment, exec/shell/subsystem, stdin, stdout and stderr streamed, and
// the remote exit status returned as ssh returns it (255 when the command
// ended without one, as after a signal). It does no pty; interactive.Run
// does.
func runSession(ctx context.Context, s *ssh.Session, o sessionOptions) (int, error) {
	ch, err := s.NewChannel()
	if err != nil {
		return 255, err
	}
	defer ch.Close()
	if err := ch.OpenSession(ctx); err != nil {
		return 255, err
	}
	for k, v := range o.Env {
		if err := ch.RequestEnv(ctx, k, v); err != nil && o.Log != nil {
			o.Log.Debug("environment variable refused", "name", k, "err", err)
		}
	}
	if o.ForwardAgent {
		if err := ch.RequestAuthAgent(ctx); err != nil && o.Log != nil {
			o.Log.Debug("agent forwarding refused", "err", err)
		}
	}
	switch {
	case o.Subsystem:
		err = ch.RequestSubsystem(ctx, o.Command)
	case o.Command != "":
		err = ch.RequestExec(ctx, o.Command)
	default:
		err = ch.RequestShell(ctx)
	}
	if err != nil {
		return 255, err
	}

	var wg sync.WaitGroup
	var outErr, errErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, outErr = io.Copy(o.Stdout, ch.Stdout())
	}()
	go func() {
		defer wg.Done()
		_, errErr = io.Copy(o.Stderr, ch.Stderr())
	}()
	// stdin is copied until its EOF, then EOF is sent. The copy may still
	// be blocked reading a terminal when the command ends; like ssh, we
	// do not wait for it (the process exits right after).
	stdinDone := make(chan struct{})
	go func() {
		defer close(stdinDone)
		if o.Stdin != nil {
			if _, err := ch.ReadFrom(o.Stdin); err != nil {
				return
			}
		}
		_ = ch.SendEOF()
	}()
	wg.Wait()
	status, err := ch.ExitStatus(ctx)
	if err != nil {
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			return 255, nil
		}
		return 255, err
	}
	if outErr != nil {
		return 255, outErr
	}
	_ = errErr
	return status, nil
}
