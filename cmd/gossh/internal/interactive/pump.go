package interactive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/libssh-go/libssh/cmd/gossh/internal/vis"
	"github.com/libssh-go/libssh/ssh"
)

// errQuitSignal ends a session on SIGINT, SIGTERM, SIGHUP or SIGQUIT, as
// OpenSSH's client loop ends ("Killed by signal N.", shown only with -v).
var errQuitSignal = errors.New("killed by signal")

// pumpSession streams stdio between the channel and the local streams
// until the remote side has closed stdout and stderr (then it returns the
// exit code), the user typed "~.", a quit signal arrived, or ctx ended.
// Before returning it closes the channel and waits for the output pumps,
// so nothing is written to Stdout or Stderr after it; the stdin pump may
// still be blocked in a Read of Stdin and drops what that read returns.
func pumpSession(ctx context.Context, ch *ssh.Channel, o Options, tty *terminal, stderr io.Writer, quit <-chan os.Signal) (int, error) {
	var outputs sync.WaitGroup
	outputs.Add(2)
	go func() {
		defer outputs.Done()
		defer tty.restoreOnPanic()
		// WriteTo hands the channel's buffers to Stdout without a copy:
		// the fast path for "gossh host cat <big".
		if _, err := ch.WriteTo(o.Stdout); err != nil {
			o.Log.Debug("stdout", "err", err)
		}
	}()
	go func() {
		defer outputs.Done()
		defer tty.restoreOnPanic()
		if _, err := io.Copy(stderr, ch.Stderr()); err != nil {
			o.Log.Debug("stderr", "err", err)
		}
	}()
	outputsDone := make(chan struct{})
	go func() {
		outputs.Wait()
		close(outputsDone)
	}()
	defer func() {
		ch.Close()
		<-outputsDone
	}()

	stopWinch := make(chan struct{})
	winchDone := watchWindowSize(tty, func(cols, rows int) {
		if err := ch.ChangePtySize(cols, rows); err != nil {
			o.Log.Debug("window-change", "err", err)
		}
	}, stopWinch)
	defer func() {
		close(stopWinch)
		<-winchDone
	}()

	finished := make(chan struct{})
	defer close(finished)
	disconnect := make(chan struct{})
	// Escapes work only with a pty, as in ssh (ssh.c passes EscapeChar
	// to the client loop only with a tty).
	if o.PTY && o.EscapeChar >= 0 {
		e := &escapeRunner{ch: ch, o: o, tty: tty, stderr: stderr}
		go e.pumpStdin(newEscapeFilter(o.EscapeChar), finished, disconnect)
	} else {
		go pumpStdinPlain(ch, o)
	}

	select {
	case <-outputsDone:
		return exitStatus(ctx, ch, o)
	case <-disconnect:
		return exitFailure, nil
	case sig := <-quit:
		return exitFailure, fmt.Errorf("%w %v", errQuitSignal, sig)
	case <-ctx.Done():
		return exitFailure, ctx.Err()
	}
}

// pumpStdinPlain copies Stdin to the channel through its ReadFrom, which
// hands big blocks to the connection without another copy, and sends EOF
// at Stdin's end. A read error counts as the end, as in ssh
// (chan_read_failed).
func pumpStdinPlain(ch *ssh.Channel, o Options) {
	if _, err := ch.ReadFrom(o.Stdin); err != nil {
		o.Log.Debug("stdin", "err", err)
		if errors.Is(err, ssh.ErrChannelClosed) || errors.Is(err, ssh.ErrDisconnected) {
			return
		}
	}
	if err := ch.SendEOF(); err != nil {
		o.Log.Debug("send EOF", "err", err)
	}
}

// exitStatus turns the end of the remote command into ssh's exit code: its
// exit status, or 255 when there is none (a signal killed it, or the
// server closed the channel without one; OpenSSH 9.2 prints nothing then).
// A lost connection is an error.
func exitStatus(ctx context.Context, ch *ssh.Channel, o Options) (int, error) {
	status, err := ch.ExitStatus(ctx)
	if err == nil {
		return status, nil
	}
	if ee, ok := errors.AsType[*ssh.ExitError](err); ok {
		if ee.Signal != nil {
			// The server's text is made visible before it is shown anywhere.
			o.Log.Debug("remote command killed by signal", "signal", vis.String(ee.Signal.Signal),
				"core_dumped", ee.Signal.CoreDumped, "message", vis.String(ee.Signal.Message))
		} else {
			o.Log.Debug("remote command ended without an exit status")
		}
		return exitFailure, nil
	}
	return exitFailure, err
}
