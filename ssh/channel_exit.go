package ssh

import (
	"context"
	"fmt"
)

// ExitSignal describes the signal that ended the remote process (RFC 4254
// §6.10 exit-signal).
type ExitSignal struct {
	Signal     string // without the "SIG" prefix, e.g. "TERM"
	CoreDumped bool
	Message    string
	Language   string
}

// ExitError reports how a remote command ended when that was not a zero
// exit status: a non-zero status (from Run, Output and CombinedOutput),
// a signal, or a channel that closed with neither. Without a status it
// matches ErrNoExitStatus; ExitStatus never makes one up.
type ExitError struct {
	Status    int         // the exit status; -1 when there is none
	HasStatus bool        // whether the server sent an exit status
	Signal    *ExitSignal // the signal that ended the process, if any
	Stderr    []byte      // what the command wrote to stderr, for Output
}

// Error says how the command ended.
func (e *ExitError) Error() string {
	switch {
	case e.HasStatus:
		return fmt.Sprintf("ssh: remote command exited with status %d", e.Status)
	case e.Signal != nil:
		msg := "ssh: remote process killed by signal " + e.Signal.Signal
		if e.Signal.CoreDumped {
			msg += " (core dumped)"
		}
		if e.Signal.Message != "" {
			msg += ": " + e.Signal.Message
		}
		return msg
	default:
		return "ssh: channel closed without an exit status"
	}
}

// Unwrap makes errors.Is(err, ErrNoExitStatus) true when there is no status.
func (e *ExitError) Unwrap() error {
	if e.HasStatus {
		return nil
	}
	return ErrNoExitStatus
}

// ExitStatus waits for the remote process's exit status, the channel's
// close, or ctx. A process that died of a signal, or a channel the server
// closed without a status, gives an *ExitError matching ErrNoExitStatus,
// never a made-up status. A channel that ended with its connection instead
// (the server never closed it) gives an error matching ErrDisconnected, or
// ErrServerNotResponding when keepalives found the server gone. Telling
// the two apart may take a round trip to the server (see channel_end.go).
// In non-blocking mode it returns ErrAgain at once while the answer is not
// in.
func (ch *Channel) ExitStatus(ctx context.Context) (int, error) {
	ch.mu.Lock()
	opened := ch.ch != nil
	ch.mu.Unlock()
	if !opened {
		return -1, fmt.Errorf("%w: channel not opened", ErrChannelClosed)
	}
	select {
	case <-ch.exitDone:
	default:
		if !ch.sess.IsBlocking() {
			return -1, ErrAgain
		}
		select {
		case <-ch.exitDone:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
	ch.mu.Lock()
	status, sig := ch.exitStatus, ch.exitSignal
	ch.mu.Unlock()
	if status != nil {
		return *status, nil
	}
	if sig == nil {
		// Neither came, and the channel is gone: closed by the server, or
		// dropped by x/crypto when the connection ended.
		if err := ch.closeEnded(ctx); err != nil {
			return -1, err
		}
	}
	return -1, &ExitError{Status: -1, Signal: sig}
}

// ExitSignal returns the signal that ended the remote process, if one did.
func (ch *Channel) ExitSignal() (ExitSignal, bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.exitSignal == nil {
		return ExitSignal{}, false
	}
	return *ch.exitSignal, true
}
