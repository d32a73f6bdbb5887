package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Channel is one SSH channel of a Session (libssh's ssh_channel): a session
// channel running a command, shell or subsystem, or a forwarded stream.
// Create it with Session.NewChannel and open it with OpenSession (or
// OpenForward). A Channel is safe for concurrent use: stdout, stderr and
// stdin may each be used from its own goroutine.
//
// Channel is an io.ReadWriteCloser: Read reads stdout, Write writes stdin.
//
// Buffering: each of stdout and stderr holds up to 8 MiB of data the
// application has not read yet, so an unread stderr never stalls stdout
// (and the other way round) until that much is waiting. Beyond it the
// channel's flow-control window closes and the server pauses both.
//
// Ends: a read returns io.EOF only after the server's EOF (or CLOSE). When
// the connection ends first (a reset, a closed socket, a corrupted packet,
// keepalives unanswered, Disconnect), every read returns the data that did
// arrive and then an error matching ErrDisconnected (ErrServerNotResponding
// after unanswered keepalives), which also matches io.ErrUnexpectedEOF and
// the socket's own error where there was one. Telling the two apart costs
// one round trip to the server at the end of a stream.
type Channel struct {
	sess *Session
	c    *conn

	mu       sync.Mutex
	ch       gossh.Channel // nil until opened
	closed   bool          // Close was called
	closedCh chan struct{} // closed by Close: wakes blocked reads
	stdout   *streamBuffer
	stderr   *streamBuffer
	remote   chan struct{} // closed when the server's requests end, i.e. the channel is gone
	fwd      *forwardConn  // forward_conn.go: the channel as a net.Conn (NetConn); nil until needed
	sendq    *sendQueue    // stdin accepted in non-blocking mode, not yet written
	snd      sender        // channel_write.go: orders data and EOF handed to x/crypto
	ops      map[string]*pendingOp

	exitDone   chan struct{} // closed when exit-status or exit-signal arrived or the channel closed
	exitOnce   sync.Once
	exitStatus *int
	exitSignal *ExitSignal

	end channelEnd // channel_end.go: whether the server or the connection's end ended it
}

// NewChannel returns an unopened channel on the session. It fails with
// ErrNotConnected when the session is not connected, and with
// ErrNotAuthenticated before authentication succeeded.
func (s *Session) NewChannel() (*Channel, error) {
	c, err := s.live()
	if err != nil {
		return nil, err
	}
	if _, err := c.authenticatedClient(); err != nil {
		return nil, err
	}
	ch := &Channel{sess: s, c: c, exitDone: make(chan struct{}), closedCh: make(chan struct{}),
		remote: make(chan struct{}), sendq: newSendQueue(), ops: map[string]*pendingOp{}}
	ch.snd.init()
	c.track(ch)
	return ch, nil
}

// OpenChannelError reports a channel the server refused to open, with its
// RFC 4254 §5.1 reason code (for example ResourceShortage for sshd's
// MaxSessions, Prohibited for a forwarding it does not allow) and message.
type OpenChannelError struct {
	Reason  gossh.RejectionReason
	Message string
}

// Error gives the server's message and reason.
func (e *OpenChannelError) Error() string {
	return fmt.Sprintf("ssh: channel open refused: %s (%s)", e.Message, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRequestDenied) true: the session is fine.
func (e *OpenChannelError) Unwrap() error { return ErrRequestDenied }

// OpenSession opens a "session" channel, for RequestExec, RequestShell or
// RequestSubsystem. It waits for the server's answer until ctx or the
// Timeout option ends, Close (ErrChannelClosed) or the connection's end
// (ErrDisconnected); a refusal is an *OpenChannelError. An open given up on
// leaves the channel usable: the next OpenSession collects the answer.
func (ch *Channel) OpenSession(ctx context.Context) error {
	return ch.open(ctx, "session", nil)
}

func (ch *Channel) open(ctx context.Context, kind string, payload []byte) error {
	ch.mu.Lock()
	_, pending := ch.ops["open"]
	if !pending && (ch.ch != nil || ch.closed) {
		ch.mu.Unlock()
		return fmt.Errorf("ssh: channel already opened or closed")
	}
	c := ch.c
	ch.mu.Unlock()
	client, err := c.authenticatedClient()
	if err != nil {
		return err
	}
	ctx, cancel := ch.sess.withTimeout(ctx)
	defer cancel()
	_, err = ch.op(ctx, "open", func() (any, error) {
		xch, reqs, err := client.OpenChannel(kind, payload)
		if err != nil {
			var oce *gossh.OpenChannelError
			if errors.As(err, &oce) {
				return nil, &OpenChannelError{Reason: oce.Reason, Message: oce.Message}
			}
			// Anything but a refusal means the connection is gone: the
			// open could not be sent, or x/crypto dropped its channels
			// because its read loop ended (it then answers "unexpected
			// packet in response to channel open: <nil>"). That is also
			// what a confirmation with a maximum packet size below 9 or
			// over 2^31 does: x/crypto ends the whole connection on it,
			// before this code sees the channel.
			return nil, c.connLost("open "+kind+" channel", err)
		}
		ch.attach(xch, reqs)
		return nil, nil
	})
	return err
}

// attach makes an opened x/crypto channel this Channel's, and starts the
// goroutines that serve it. If the Channel was closed meanwhile (its opener
// gave up), the x/crypto channel is closed too.
func (ch *Channel) attach(xch gossh.Channel, reqs <-chan *gossh.Request) {
	c := ch.c
	ch.mu.Lock()
	ch.ch = xch
	ch.stdout, ch.stderr = newStreamBuffer(c.events.signal), newStreamBuffer(c.events.signal)
	closed := ch.closed
	ch.mu.Unlock()
	c.armDeathHold()
	c.wg.Add(3)
	go ch.serveRequests(reqs)
	go func() { defer c.wg.Done(); ch.stdout.pump(xch, ch.streamEnded) }()
	go func() { defer c.wg.Done(); ch.stderr.pump(xch.Stderr(), ch.streamEnded) }()
	if closed {
		ch.stdout.close()
		ch.stderr.close()
		_ = xch.Close()
	}
}

// pendingOp is an operation that waits on the server (open, a request
// with a reply). It runs on its own goroutine; a call that stops waiting
// (ctx, non-blocking mode) leaves it running, and the next call with the
// same key collects its result, as libssh's SSH_AGAIN protocol requires.
type pendingOp struct {
	done chan struct{}
	val  any
	err  error
}

// op starts fn under key unless it is already running, and waits for it:
// not at all in non-blocking mode (ErrAgain), else until ctx ends, the
// channel is closed (ErrChannelClosed) or the connection ends
// (ErrDisconnected).
func (ch *Channel) op(ctx context.Context, key string, fn func() (any, error)) (any, error) {
	ch.mu.Lock()
	op := ch.ops[key]
	if op == nil {
		op = &pendingOp{done: make(chan struct{})}
		ch.ops[key] = op
		ch.c.wg.Add(1)
		go func() {
			defer ch.c.wg.Done()
			op.val, op.err = fn()
			close(op.done)
			ch.c.events.signal()
		}()
	}
	ch.mu.Unlock()
	select {
	case <-op.done:
	default:
		if !ch.sess.IsBlocking() {
			return nil, ErrAgain
		}
		if err := ch.await(op.done, limit{ctx: ctx}); err != nil && !ch.settlesAfterLoss(ctx, op.done) {
			return nil, err
		}
	}
	ch.mu.Lock()
	if ch.ops[key] == op {
		delete(ch.ops, key)
	}
	ch.mu.Unlock()
	return op.val, op.err
}

// opSettle bounds how long an operation may still take to return once the connection is
// lost. x/crypto ends every pending call when its connection ends, so this is a margin.
const opSettle = time.Second

// settlesAfterLoss reports whether done closes after the connection was lost. A server may
// answer a request and close the connection right away (its reply, data, CLOSE, FIN): the
// connection's end can then be seen before the goroutine that got the reply returns, and the
// answer, not the loss, is the truth. It waits up to opSettle, or until ctx ends.
func (ch *Channel) settlesAfterLoss(ctx context.Context, done <-chan struct{}) bool {
	select {
	case <-ch.c.done:
	default:
		return false // another reason: ctx, Close
	}
	t := time.NewTimer(opSettle)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// serveRequests handles the channel requests the server sends: exit-status
// and exit-signal are recorded; anything else is refused, as OpenSSH does.
// A malformed one is ignored: a bad server gets no status, never a panic.
func (ch *Channel) serveRequests(reqs <-chan *gossh.Request) {
	defer ch.c.wg.Done()
	for r := range reqs {
		switch r.Type {
		case "exit-status":
			if status, ok := parseExitStatus(r.Payload); ok {
				ch.mu.Lock()
				ch.exitStatus = &status
				ch.mu.Unlock()
				ch.markExited()
			}
		case "exit-signal":
			if sig, ok := parseExitSignal(r.Payload); ok {
				ch.mu.Lock()
				ch.exitSignal = &sig
				ch.mu.Unlock()
				ch.markExited()
			}
		}
		if r.WantReply {
			_ = r.Reply(false, nil)
		}
	}
	// The channel is gone: no status can come any more.
	ch.remoteEnded()
	ch.markExited()
}

// parseExitStatus reads RFC 4254 §6.10 exit-status: uint32 exit_status,
// and nothing after it.
func parseExitStatus(payload []byte) (int, bool) {
	var msg struct{ Status uint32 }
	if gossh.Unmarshal(payload, &msg) != nil {
		return 0, false
	}
	return int(msg.Status), true
}

// parseExitSignal reads RFC 4254 §6.10 exit-signal: signal name (without
// "SIG"), core dumped, error message, language tag. Only the name is
// required; servers that stop after it still report the signal.
func parseExitSignal(payload []byte) (ExitSignal, bool) {
	var sig ExitSignal
	name, rest, ok := parseSSHString(payload)
	if !ok || name == "" {
		return sig, false
	}
	sig.Signal = name
	if len(rest) == 0 {
		return sig, true
	}
	sig.CoreDumped, rest = rest[0] != 0, rest[1:]
	if sig.Message, rest, ok = parseSSHString(rest); ok {
		sig.Language, _, _ = parseSSHString(rest)
	}
	return sig, true
}

// parseSSHString reads one RFC 4251 string.
func parseSSHString(b []byte) (string, []byte, bool) {
	if len(b) < 4 {
		return "", b, false
	}
	n := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	if n > uint64(len(b)-4) {
		return "", b, false
	}
	return string(b[4 : 4+n]), b[4+n:], true
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

func (ch *Channel) stream(isStderr bool) (*streamBuffer, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.closed {
		return nil, ErrChannelClosed
	}
	if ch.stdout == nil {
		return nil, fmt.Errorf("%w: channel not opened", ErrChannelClosed)
	}
	if isStderr {
		return ch.stderr, nil
	}
	return ch.stdout, nil
}

// Stdout returns the reader of the channel's data stream. Reading after the
// server's EOF returns io.EOF; after the connection's end without one, an
// error matching ErrDisconnected; after Close, ErrChannelClosed.
func (ch *Channel) Stdout() io.Reader { return channelReader{ch, false} }

// Stderr returns the reader of the channel's extended data (stderr),
// independent of Stdout.
func (ch *Channel) Stderr() io.Reader { return channelReader{ch, true} }

// Stdin returns the writer of the channel's data stream: its Write is
// Write, and its Close sends EOF (SendEOF); the channel stays open for
// reading.
func (ch *Channel) Stdin() io.WriteCloser { return channelWriter{ch} }

type channelReader struct {
	ch     *Channel
	stderr bool
}

func (r channelReader) Read(p []byte) (int, error) {
	return r.ch.readStream(p, r.stderr, time.Time{})
}

// WriteTo lets io.Copy take the buffered chunks without a second copy.
func (r channelReader) WriteTo(w io.Writer) (int64, error) {
	b, err := r.ch.stream(r.stderr)
	if err != nil {
		return 0, err
	}
	if !r.ch.sess.IsBlocking() {
		// Non-blocking: copy what is there, then ErrAgain or the end.
		return io.CopyBuffer(w, struct{ io.Reader }{r}, make([]byte, 32<<10))
	}
	return b.writeTo(w, r.ch.closedCh)
}

type channelWriter struct{ ch *Channel }

func (w channelWriter) Write(p []byte) (int, error) { return w.ch.Write(p) }
func (w channelWriter) Close() error                { return w.ch.SendEOF() }

// Read reads the channel's stdout (io.Reader).
func (ch *Channel) Read(p []byte) (int, error) { return ch.readStream(p, false, time.Time{}) }

// WriteTo copies stdout to w until EOF (io.WriterTo), handing w the
// buffered chunks directly: io.Copy(dst, ch) makes no intermediate copy.
func (ch *Channel) WriteTo(w io.Writer) (int64, error) { return channelReader{ch, false}.WriteTo(w) }

// ReadFrom copies r to stdin until r's EOF (io.ReaderFrom), in blocks large
// enough that x/crypto sends several packets per call, handed over without
// a second copy. Its waits end as Write's do: Close wakes it with
// ErrChannelClosed, the connection's end with ErrDisconnected.
func (ch *Channel) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 128<<10)
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			var m int
			var err error
			if ch.sess.IsBlocking() {
				m, err = ch.send(buf[:n], limit{}, true)
			} else {
				m, err = ch.writeAll(buf[:n])
			}
			total += int64(m)
			if err != nil {
				// x/crypto may still hold buf: it is not reused.
				return total, err
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// writeAll writes all of p. io.Copy cannot hand back data it already read,
// so in non-blocking mode it waits for the send queue instead of returning
// ErrAgain with bytes lost.
func (ch *Channel) writeAll(p []byte) (int, error) {
	total := 0
	for {
		n, err := ch.Write(p[total:])
		total += n
		if !errors.Is(err, ErrAgain) {
			return total, err
		}
		if err := ch.waitQueue(limit{}); err != nil {
			return total, err
		}
	}
}

// Write writes p to the channel's stdin, waiting for the server's window as
// needed (io.Writer). Calls from several goroutines take turns: each
// call's data goes out whole, never interleaved with another's.
//
// Its waits end with Close (ErrChannelClosed) and with the connection's
// end (ErrDisconnected), whatever the server does. Write has no deadline
// of its own: for one, use NetConn's SetWriteDeadline, or Close the
// channel when a ctx ends, as Exec does. A piece that x/crypto already
// holds when Close wakes Write is not counted in n; it goes out before the
// channel's CLOSE if the connection still moves, and is dropped otherwise.
// Writing after Close or SendEOF returns ErrChannelClosed, and after the
// server closed the channel too.
//
// In non-blocking mode it queues what fits in a 1 MiB send queue and
// returns a short count with ErrAgain when the queue is full; PollState and
// BlockingFlush report and drain the queue.
func (ch *Channel) Write(p []byte) (int, error) {
	if _, err := ch.channel(); err != nil {
		return 0, err
	}
	if !ch.sess.IsBlocking() {
		return ch.writeNonBlocking(p)
	}
	return ch.send(p, limit{}, false)
}

// readStream reads one stream. In non-blocking mode it never waits and
// returns ErrAgain when nothing is buffered.
func (ch *Channel) readStream(p []byte, isStderr bool, deadline time.Time) (int, error) {
	b, err := ch.stream(isStderr)
	if err != nil {
		return 0, err
	}
	if !ch.sess.IsBlocking() {
		n, err := b.read(p, time.Unix(1, 0), ch.closedCh)
		if errors.Is(err, errWouldWait) {
			return 0, ErrAgain
		}
		return n, err
	}
	return b.read(p, deadline, ch.closedCh)
}

// ReadTimeout reads stdout (or stderr) into buf, waiting at most timeout for
// data (libssh ssh_channel_read_timeout). It returns (0, nil) when the
// timeout passed with nothing to read, io.EOF after the server's EOF, and
// an error matching ErrDisconnected when the connection ended without one.
// A negative timeout waits without limit.
func (ch *Channel) ReadTimeout(buf []byte, isStderr bool, timeout time.Duration) (int, error) {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	n, err := ch.readStream(buf, isStderr, deadline)
	if errors.Is(err, errWouldWait) {
		return 0, nil
	}
	return n, err
}

// PollTimeout waits at most timeout for data on stdout (or stderr) and
// returns how many bytes can be read without waiting (libssh
// ssh_channel_poll_timeout): 0 when the timeout passed, (0, io.EOF) once the
// server's EOF was read up to. A negative timeout waits without limit.
func (ch *Channel) PollTimeout(isStderr bool, timeout time.Duration) (int, error) {
	b, err := ch.stream(isStderr)
	if err != nil {
		return 0, err
	}
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	b.mu.Lock()
	err = b.wait(deadline, ch.closedCh)
	b.mu.Unlock()
	if err != nil && !errors.Is(err, errWouldWait) {
		return 0, err
	}
	return b.available()
}

// SendEOF tells the server that no more data will be written, after all
// data written before (RFC 4254 §5.3). After the server closed the channel
// there is nobody to tell, and it returns nil. It waits for the connection
// to take the EOF until Close (ErrChannelClosed) or the connection's end
// (ErrDisconnected). Calling it again does nothing.
//
// In non-blocking mode it never waits: the EOF is queued after the queued
// stdin and sent by the queue's flusher.
func (ch *Channel) SendEOF() error {
	if _, err := ch.channel(); err != nil {
		return err
	}
	if !ch.sess.IsBlocking() {
		return ch.sendEOFNonBlocking()
	}
	return ch.sendEOF(limit{})
}

// Close closes the channel and returns at once: unread data is dropped,
// and every call blocked on the channel (Read, Write, ReadFrom, SendEOF,
// requests, OpenSession) returns ErrChannelClosed, as do later calls. It
// does not wait for the server, nor for the connection to take the CLOSE
// message: that goes out from a goroutine of the session, after a data
// piece x/crypto may still hold. If the connection has not taken it after
// the Timeout option (30 s without one), the connection is stuck (the
// server stopped reading its socket, or never finished a key exchange) and
// the session is disconnected with an error matching ErrDisconnected. It
// is idempotent.
func (ch *Channel) Close() error {
	ch.mu.Lock()
	xch, already := ch.ch, ch.closed
	ch.closed = true
	out, errs := ch.stdout, ch.stderr
	ch.mu.Unlock()
	if already {
		return nil
	}
	close(ch.closedCh)
	ch.c.untrack(ch)
	if xch == nil {
		return nil
	}
	out.close()
	errs.close()
	ch.sendClose(xch)
	return nil
}

// IsClosed reports whether Close was called.
func (ch *Channel) IsClosed() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.closed
}

// IsOpen reports whether the channel was opened and neither side closed it.
func (ch *Channel) IsOpen() bool {
	ch.mu.Lock()
	opened, closed := ch.ch != nil, ch.closed
	ch.mu.Unlock()
	if !opened || closed {
		return false
	}
	select {
	case <-ch.remote:
		return false
	default:
		return true
	}
}

// IsEOF reports whether the server sent EOF on the channel (or the channel
// ended): no more data will arrive, though buffered data may remain.
func (ch *Channel) IsEOF() bool {
	ch.mu.Lock()
	out := ch.stdout
	ch.mu.Unlock()
	return out != nil && out.ended()
}
