package ssh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
)

// ExecResult is what a remote command produced (Session.Exec).
type ExecResult struct {
	Stdout, Stderr []byte
	ExitStatus     int         // -1 when the server sent none (see Signal)
	Signal         *ExitSignal // the signal that ended the command, if any
}

// Exec runs command on a new session channel with stdin (nil: empty), waits
// for it to finish or ctx, and returns its output and exit status. A
// non-zero exit status is not an error here; an error means the command
// could not be run or did not end with a status (an *ExitError matching
// ErrNoExitStatus, returned together with the result). When the connection
// ends before the server ended the command's output, the error matches
// ErrDisconnected (ErrServerNotResponding after unanswered keepalives) and
// the result holds the output that arrived.
//
// When ctx ends first, Exec closes the channel and returns ctx's error at
// once, whatever the server does with its window or its socket: the
// channel's Close ends the copy of stdin (see Channel.Close for a
// connection so stuck that it is disconnected). A Read of stdin in
// progress at that moment is not waited for: it finishes on its own
// goroutine and what it read is dropped. Run, Output and CombinedOutput
// wait the same way.
func (s *Session) Exec(ctx context.Context, command string, stdin io.Reader) (*ExecResult, error) {
	var out, errOut bytes.Buffer
	status, err := s.run(ctx, command, stdin, &out, &errOut)
	res := &ExecResult{Stdout: out.Bytes(), Stderr: errOut.Bytes(), ExitStatus: status}
	if ee, ok := err.(*ExitError); ok {
		res.Signal = ee.Signal
	}
	return res, err
}

// Run runs command like os/exec's Cmd.Run: nil when it exits with status 0,
// an *ExitError otherwise (a non-zero status, or a signal). Output is
// discarded.
func (s *Session) Run(ctx context.Context, command string) error {
	return asExitError(s.run(ctx, command, nil, io.Discard, io.Discard))
}

// Output runs command and returns its stdout, like os/exec's Cmd.Output:
// on a non-zero status the error is an *ExitError holding stderr.
func (s *Session) Output(ctx context.Context, command string) ([]byte, error) {
	var out, errOut bytes.Buffer
	err := asExitError(s.run(ctx, command, nil, &out, &errOut))
	if ee, ok := err.(*ExitError); ok {
		ee.Stderr = errOut.Bytes()
	}
	return out.Bytes(), err
}

// CombinedOutput runs command and returns stdout and stderr interleaved in
// the order they were read, like os/exec's Cmd.CombinedOutput.
func (s *Session) CombinedOutput(ctx context.Context, command string) ([]byte, error) {
	var buf lockedBuffer
	err := asExitError(s.run(ctx, command, nil, &buf, &buf))
	return buf.Bytes(), err
}

func asExitError(status int, err error) error {
	if err == nil && status != 0 {
		return &ExitError{Status: status, HasStatus: true}
	}
	return err
}

// run executes command on a fresh channel, copying stdin to it and its
// streams to the writers, and returns the exit status.
func (s *Session) run(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	ch, err := s.NewChannel()
	if err != nil {
		return -1, err
	}
	defer ch.Close()
	if err := ch.OpenSession(ctx); err != nil {
		return -1, err
	}
	if err := ch.sendConfiguredEnv(ctx); err != nil {
		return -1, err
	}
	if err := ch.RequestExec(ctx, command); err != nil {
		return -1, err
	}
	// Close the channel if ctx ends, which ends every copy below.
	stop := context.AfterFunc(ctx, func() { _ = ch.Close() })
	defer stop()

	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Add(2)
	go func() { defer wg.Done(); _, errs[0] = io.Copy(stdout, ch.Stdout()) }()
	go func() { defer wg.Done(); _, errs[1] = io.Copy(stderr, ch.Stderr()) }()
	stdinDone := make(chan struct{})
	go func() {
		// Not a goroutine of the connection: Disconnect must not wait for
		// a Read of the caller's stdin.
		defer close(stdinDone)
		errs[2] = copyStdin(ch, stdin)
	}()
	wg.Wait()
	// The stdin copy ends by itself once the channel is closed, except in
	// a Read of stdin; that one is not waited for past ctx.
	select {
	case <-stdinDone:
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if errs[0] == nil && errs[1] == nil && (errors.Is(errs[2], ErrDisconnected) || errors.Is(errs[2], ErrChannelClosed)) {
		// Both outputs ended as the server ended them (a cut one is an
		// error above), so the channel closing or the connection ending
		// under the stdin copy or its EOF came after the command was done,
		// as with a server that closes TCP right after the channel: the
		// exit status tells the truth about the command.
		errs[2] = nil
	}
	for _, e := range errs {
		if e != nil {
			return -1, e
		}
	}
	return ch.ExitStatus(ctx)
}

// copyStdin copies stdin (nil: nothing) to the channel and sends EOF.
func copyStdin(ch *Channel, stdin io.Reader) error {
	if stdin != nil {
		// A command may exit without reading all its input; like os/exec
		// with a closed pipe, that is not the caller's error.
		if _, err := io.Copy(ch, stdin); err != nil && !errors.Is(err, ErrChannelClosed) {
			return err
		}
	}
	return ch.SendEOF()
}

// lockedBuffer is a bytes.Buffer that two copying goroutines can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}

// sendConfiguredEnv sends the SetEnv pairs and the local variables that
// SendEnv's patterns select, as ssh(1) does for a session. Refusals
// (outside the server's AcceptEnv) are ignored, as OpenSSH ignores them.
func (ch *Channel) sendConfiguredEnv(ctx context.Context) error {
	opts := ch.c.opts
	send := func(name, value string) error {
		if err := ch.RequestEnv(ctx, name, value); err != nil && !errors.Is(err, ErrRequestDenied) {
			return err
		}
		return nil
	}
	for _, kv := range opts.SetEnv {
		name, value, _ := strings.Cut(kv, "=")
		if err := send(name, value); err != nil {
			return err
		}
	}
	if len(opts.SendEnv) == 0 {
		return nil
	}
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if slices.ContainsFunc(opts.SendEnv, func(p string) bool { return matchGlob(p, name) }) {
			if err := send(name, value); err != nil {
				return err
			}
		}
	}
	return nil
}
