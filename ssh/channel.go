package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	gossh "golang.org/x/crypto/ssh"
)

// Channel is one SSH channel of a Session (libssh's ssh_channel): a session
// channel running a command or shell, or a forwarded stream. Create it with
// Session.NewChannel, then open it with OpenSession. A Channel is safe for
// concurrent use; Stdout and Stderr may be read from different goroutines.
type Channel struct {
	sess *Session

	mu     sync.Mutex
	c      *conn
	ch     gossh.Channel // nil until opened
	closed bool
	eof    bool // the remote side sent EOF (seen by a read)

	exitDone   chan struct{} // closed when exit-status or exit-signal arrived or the channel closed
	exitOnce   sync.Once
	exitStatus *int
	exitSignal *ExitSignal
}

// ExitSignal describes the signal that ended the remote process (RFC 4254
// §6.10 exit-signal).
type ExitSignal struct {
	Signal     string // without the "SIG" prefix, e.g. "TERM"
	CoreDumped bool
	Message    string
	Language   string
}

// ExitError is returned by ExitStatus when the remote process ended without
// an exit status: it died of a signal, or the channel closed without one.
// It wraps ErrNoExitStatus.
type ExitError struct {
	Signal *ExitSignal // nil when the channel closed without a status or signal
}

func (e *ExitError) Error() string {
	if e.Signal != nil {
		return fmt.Sprintf("ssh: remote process killed by signal %s", e.Signal.Signal)
	}
	return "ssh: channel closed without an exit status"
}

// Unwrap makes errors.Is(err, ErrNoExitStatus) true.
func (e *ExitError) Unwrap() error { return ErrNoExitStatus }

// NewChannel returns an unopened channel on the session. It fails with
// ErrNotConnected unless the session is connected and authenticated.
func (s *Session) NewChannel() (*Channel, error) {
	c, err := s.live()
	if err != nil {
		return nil, err
	}
	if _, err := c.authenticatedClient(); err != nil {
		return nil, err
	}
	return &Channel{sess: s, c: c, exitDone: make(chan struct{})}, nil
}

// OpenChannelError reports a channel the server refused to open, with its
// RFC 4254 §5.1 reason code and message.
type OpenChannelError struct {
	Reason  gossh.RejectionReason
	Message string
}

func (e *OpenChannelError) Error() string {
	return fmt.Sprintf("ssh: channel open refused: %s (%s)", e.Message, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRequestDenied) true: the session is fine.
func (e *OpenChannelError) Unwrap() error { return ErrRequestDenied }

// OpenSession opens a "session" channel, for RequestExec, RequestShell or
// RequestSubsystem. It waits for the server's answer or ctx; a refusal is an
// *OpenChannelError.
func (ch *Channel) OpenSession(ctx context.Context) error {
	return ch.open(ctx, "session", nil)
}

func (ch *Channel) open(ctx context.Context, kind string, payload []byte) error {
	ch.mu.Lock()
	if ch.ch != nil || ch.closed {
		ch.mu.Unlock()
		return fmt.Errorf("ssh: channel already opened")
	}
	c := ch.c
	ch.mu.Unlock()
	client, err := c.authenticatedClient()
	if err != nil {
		return err
	}
	type opened struct {
		ch   gossh.Channel
		reqs <-chan *gossh.Request
	}
	res, err := await(ctx, c, func() (opened, error) {
		xch, reqs, err := client.OpenChannel(kind, payload)
		return opened{xch, reqs}, err
	}, func(o opened) {
		_ = o.ch.Close()
		gossh.DiscardRequests(o.reqs) // ends when the close is answered or the connection ends
	})
	if err != nil {
		var oce *gossh.OpenChannelError
		if errors.As(err, &oce) {
			return &OpenChannelError{Reason: oce.Reason, Message: oce.Message}
		}
		return err
	}
	ch.mu.Lock()
	ch.ch = res.ch
	ch.mu.Unlock()
	c.wg.Add(1)
	go ch.serveRequests(res.reqs)
	return nil
}

// await runs fn, which waits on x/crypto without a ctx, on its own
// goroutine, and returns when it finished or ctx ended. If the caller gave
// up, undo releases what fn obtained. The goroutine belongs to the
// connection: Disconnect makes fn return and waits for it.
func await[T any](ctx context.Context, c *conn, fn func() (T, error), undo func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	out := make(chan result, 1)
	var mu sync.Mutex
	abandoned := false
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		v, err := fn()
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			if err == nil && undo != nil {
				undo(v)
			}
			return
		}
		out <- result{v, err}
	}()
	select {
	case r := <-out:
		return r.v, r.err
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		select {
		case r := <-out: // finished meanwhile: do not lose it
			return r.v, r.err
		default:
		}
		abandoned = true
		var zero T
		return zero, ctx.Err()
	}
}

// serveRequests handles the channel requests the server sends: exit-status
// and exit-signal are recorded; anything else is refused, as OpenSSH does.
func (ch *Channel) serveRequests(reqs <-chan *gossh.Request) {
	defer ch.c.wg.Done()
	for r := range reqs {
		switch r.Type {
		case "exit-status":
			// RFC 4254 §6.10: uint32 exit_status.
			var msg struct{ Status uint32 }
			if gossh.Unmarshal(r.Payload, &msg) == nil {
				status := int(msg.Status)
				ch.mu.Lock()
				ch.exitStatus = &status
				ch.mu.Unlock()
				ch.markExited()
			}
		case "exit-signal":
			// RFC 4254 §6.10: signal name (without "SIG"), core dumped,
			// error message, language tag.
			var msg struct {
				Signal     string
				CoreDumped bool
				Message    string
				Language   string
			}
			if gossh.Unmarshal(r.Payload, &msg) == nil {
				ch.mu.Lock()
				ch.exitSignal = &ExitSignal{msg.Signal, msg.CoreDumped, msg.Message, msg.Language}
				ch.mu.Unlock()
				ch.markExited()
			}
		}
		if r.WantReply {
			_ = r.Reply(false, nil)
		}
	}
	// The channel is closed: no status can come any more.
	ch.markExited()
}

func (ch *Channel) markExited() { ch.exitOnce.Do(func() { close(ch.exitDone) }) }

// channel returns the open x/crypto channel, or ErrChannelClosed.
func (ch *Channel) channel() (gossh.Channel, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.closed {
		return nil, ErrChannelClosed
	}
	if ch.ch == nil {
		return nil, fmt.Errorf("%w: channel not opened", ErrChannelClosed)
	}
	return ch.ch, nil
}

// request sends a channel request and, with wantReply, waits for the
// answer; a refusal is ErrRequestDenied.
func (ch *Channel) request(ctx context.Context, name string, wantReply bool, payload []byte) error {
	xch, err := ch.channel()
	if err != nil {
		return err
	}
	ok, err := await(ctx, ch.c, func() (bool, error) { return xch.SendRequest(name, wantReply, payload) }, nil)
	if err != nil {
		return fmt.Errorf("ssh: %s request: %w", name, err)
	}
	if wantReply && !ok {
		return fmt.Errorf("%w: %s", ErrRequestDenied, name)
	}
	return nil
}

// RequestExec runs command on the server (RFC 4254 §6.5 "exec"). A refusal
// is an error matching ErrRequestDenied.
func (ch *Channel) RequestExec(ctx context.Context, command string) error {
	return ch.request(ctx, "exec", true, gossh.Marshal(struct{ Command string }{command}))
}

// Stdout returns the reader of the channel's data stream. Reading after the
// remote EOF returns io.EOF.
func (ch *Channel) Stdout() io.Reader { return channelReader{ch, false} }

// Stderr returns the reader of the channel's extended data (stderr).
func (ch *Channel) Stderr() io.Reader { return channelReader{ch, true} }

type channelReader struct {
	ch     *Channel
	stderr bool
}

func (r channelReader) Read(p []byte) (int, error) {
	xch, err := r.ch.channel()
	if err != nil {
		return 0, err
	}
	var n int
	if r.stderr {
		n, err = xch.Stderr().Read(p)
	} else {
		n, err = xch.Read(p)
	}
	if err == io.EOF {
		r.ch.mu.Lock()
		r.ch.eof = true
		r.ch.mu.Unlock()
	}
	return n, err
}

// SendEOF tells the server that no more data will be written. After the
// server closed the channel there is nobody to tell, and it returns nil.
func (ch *Channel) SendEOF() error {
	xch, err := ch.channel()
	if err != nil {
		return err
	}
	if err := xch.CloseWrite(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Close closes the channel. It is idempotent.
func (ch *Channel) Close() error {
	ch.mu.Lock()
	xch := ch.ch
	already := ch.closed
	ch.closed = true
	ch.mu.Unlock()
	if already || xch == nil {
		return nil
	}
	if err := xch.Close(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// ExitStatus waits for the remote process's exit status, the channel's
// close, or ctx. A process that died of a signal, or a channel closed
// without a status, gives an *ExitError (matching ErrNoExitStatus), never a
// made-up status.
func (ch *Channel) ExitStatus(ctx context.Context) (int, error) {
	if _, err := ch.channel(); err != nil && !ch.IsClosed() {
		return -1, err
	}
	select {
	case <-ch.exitDone:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.exitStatus != nil {
		return *ch.exitStatus, nil
	}
	return -1, &ExitError{Signal: ch.exitSignal}
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

// IsClosed reports whether Close was called.
func (ch *Channel) IsClosed() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.closed
}
