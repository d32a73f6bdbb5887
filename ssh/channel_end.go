package ssh

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Telling the server's end of a channel from the end of its connection.
//
// x/crypto's channel Read returns io.EOF both when the server sent
// CHANNEL_EOF or CHANNEL_CLOSE and when its connection loop stopped: on any
// error (socket, MAC, bad packet) mux.loop closes every channel with the
// very call CLOSE uses (chanList.dropAll, then channel.close), then closes
// the transport and lets Wait return. Nothing says which. A truncated
// download must not read as a complete one (DESIGN.md, Reliability rules),
// so a stream's io.EOF, and ExitStatus's "closed without a status", are
// reported only once proven to be the server's; otherwise the read fails
// with an error matching ErrDisconnected (or ErrServerNotResponding).
//
// The proofs:
//
//   - A liveness round trip (ping): a request the server must answer, sent
//     after the EOF was seen. x/crypto handles packets in order on one
//     goroutine and drops the channels only when that goroutine stops, so
//     an answer proves it was still running after the EOF: the EOF was the
//     server's. Concurrent waiters share round trips (confirmAlive, ping).
//   - When the connection ended instead, the order of events. The
//     transport marks the read error it hands x/crypto before handing it
//     over (deathWatch), and shutdown sets c.err before it closes the
//     transport, so when the loop stopped because of that read error (its
//     Wait returns it) both marks came before dropAll, and an EOF or CLOSE
//     seen while neither mark was set was the server's. A MAC failure, a
//     bad packet or the server's DISCONNECT leave no mark before dropAll:
//     then nothing proves the EOF, and the read fails. That errs on the
//     side of an error: a server that sends CLOSE and then DISCONNECT at
//     once reads as a broken connection unless the round trip was answered
//     first.
//   - x/crypto's reader runs up to 16 packets ahead of the loop, and the
//     transport reads ahead too, so a server that sends EOF, exit-status and
//     CLOSE and closes TCP at once usually has its FIN read before the loop
//     handled the CLOSE. So the transport holds a peer's read error back
//     until every open channel's requests have ended or deathHold passed:
//     meanwhile the loop handles the packets already read, and their EOFs
//     and CLOSEs are seen before the mark. The hold ends at once when the
//     connection is closed locally.
//
// A CLOSE seen while the connection was alive also proves the channel's
// streams complete: every data packet came before it.

// deathHold bounds how long the transport holds a read error back while
// channels are open: ample for x/crypto's loop to handle the packets read
// before the error, short beside keepalive timeouts.
const deathHold = 500 * time.Millisecond

// deathWatch is the transport's record of how its reads ended.
type deathWatch struct {
	death   atomic.Pointer[readDeath]                     // set just before a read error goes to x/crypto
	closing atomic.Bool                                   // Close was called: read errors from now on are ours
	settle  atomic.Pointer[func(closing <-chan struct{})] // holds a peer's read error back; nil: no hold

	once      sync.Once
	closed    chan struct{} // closed by Close; wakes a hold
	closeOnce sync.Once
}

// readDeath is the read error handed to x/crypto.
type readDeath struct {
	err   error
	local bool // it came after our own Close
}

func (d *deathWatch) closedChan() chan struct{} {
	d.once.Do(func() { d.closed = make(chan struct{}) })
	return d.closed
}

// died is what Read returns for a read error: it holds a peer's error back
// while channels may still be handling what arrived before it, then marks
// the end and hands the error over.
func (t *transport) died(err error) error {
	if !t.dw.closing.Load() {
		if f := t.dw.settle.Load(); f != nil {
			(*f)(t.dw.closedChan())
		}
	}
	t.dw.death.CompareAndSwap(nil, &readDeath{err: err, local: t.dw.closing.Load()})
	return err
}

// armDeathHold makes the transport hold read errors back until the
// channels settled; attach calls it when the first channel opens.
func (c *conn) armDeathHold() {
	if c.version == nil || c.version.dw.settle.Load() != nil {
		return
	}
	f := c.settleChannels
	c.version.dw.settle.CompareAndSwap(nil, &f)
}

// settleChannels waits until the requests of every open channel ended (for
// a channel the server closed: its CLOSE was handled), deathHold passed, or
// closing is closed.
func (c *conn) settleChannels(closing <-chan struct{}) {
	timer := time.NewTimer(deathHold)
	defer timer.Stop()
	for {
		c.mu.Lock()
		changed := c.changed
		open := make([]*Channel, 0, len(c.channels))
		for ch := range c.channels {
			open = append(open, ch)
		}
		c.mu.Unlock()
		settled := true
		for _, ch := range open {
			ch.mu.Lock()
			attached := ch.ch != nil
			ch.mu.Unlock()
			if !attached {
				continue
			}
			select {
			case <-ch.remote:
			default:
				settled = false
			}
		}
		if settled {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			return
		case <-closing:
			return
		}
	}
}

// aliveNow reports whether neither end mark is set yet: no read error was
// handed to x/crypto and shutdown has not begun.
func (c *conn) aliveNow() bool {
	if c.closedErr() != nil {
		return false
	}
	return c.version == nil || c.version.dw.death.Load() == nil
}

// loopEnd waits until the connection has ended, or abort, and reports
// whether x/crypto's loop stopped because of the read error the transport
// marked (then the marks came before its dropAll), with the loop's error.
func (c *conn) loopEnd(abort <-chan struct{}) (inOrder bool, loopErr error, aborted bool) {
	select {
	case <-c.done:
	case <-abort:
		return false, nil, true
	}
	c.mu.Lock()
	client := c.client
	c.mu.Unlock()
	if client == nil || c.version == nil {
		return false, nil, false
	}
	loopErr = client.Wait() // soon: shutdown closes the connection
	d := c.version.dw.death.Load()
	if d == nil {
		return false, loopErr, false
	}
	// x/crypto's packet reader turns an EOF inside a packet into
	// io.ErrUnexpectedEOF; it passes every other read error on as it is.
	inOrder = errors.Is(loopErr, d.err) || d.err == io.EOF && errors.Is(loopErr, io.ErrUnexpectedEOF)
	if d.local {
		loopErr = nil // "use of closed network connection": our own doing, said by c.err
	}
	return inOrder, loopErr, false
}

// errAborted ends a wait given up by its caller.
var errAborted = errors.New("ssh: wait abandoned")

// confirmAlive waits for a ping sent after the call began (ping.go shares
// round trips between concurrent callers): nil when the server answered, an
// error matching ErrDisconnected when the connection ended first, errAborted
// when abort (may be nil) closed first.
func (c *conn) confirmAlive(abort <-chan struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if abort != nil {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-abort:
				cancel()
			case <-stop:
			}
		}()
	}
	err := c.ping(ctx)
	if err != nil && ctx.Err() != nil {
		return errAborted
	}
	return err
}

// channelEnd is what a Channel learnt about how it ended.
type channelEnd struct {
	mu         sync.Mutex
	eofDone    chan struct{} // closed when eofErr is decided; nil until a pump saw x/crypto's EOF
	eofErr     error         // io.EOF, or what the streams report instead
	remoteLive bool          // the server's requests ended while the connection was alive
	closeDone  chan struct{} // closed when closeErr is decided; nil until ExitStatus asked
	closeErr   error         // nil: the server closed the channel; else the error ExitStatus reports
}

// remoteEnded records the end of the server's requests (its CLOSE, or the
// connection's end), with whether the connection was alive then, and wakes
// a transport holding a read error back. serveRequests calls it.
func (ch *Channel) remoteEnded() {
	live := ch.c.aliveNow()
	ch.end.mu.Lock()
	ch.end.remoteLive = live
	ch.end.mu.Unlock()
	close(ch.remote)
	ch.c.mu.Lock()
	ch.c.notifyLocked()
	ch.c.mu.Unlock()
}

// streamEnded decides what a stream reports where x/crypto said io.EOF
// (sawEOF) or failed without data: io.EOF if the server ended the stream,
// else an error matching ErrDisconnected. raw is a socket error x/crypto
// reported on the way (a failed window adjustment), kept in the error. Both
// streams end by the same event (CHANNEL_EOF, CLOSE or the drop of every
// channel each set both EOFs), so the first to get here decides for both.
func (ch *Channel) streamEnded(raw error, sawEOF bool) error {
	if !sawEOF {
		return ch.c.lostError("channel data", true, raw)
	}
	e := &ch.end
	e.mu.Lock()
	if done := e.eofDone; done != nil {
		e.mu.Unlock()
		select {
		case <-done:
		case <-ch.closedCh:
			return ErrChannelClosed
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.eofErr
	}
	done := make(chan struct{})
	e.eofDone = done
	e.mu.Unlock()

	err := io.EOF
	switch ok, aborted := ch.proven(ch.c.aliveNow(), ch.closedCh); {
	case aborted:
		err = ErrChannelClosed // the application closed the channel: its reads say so
	case !ok:
		err = ch.c.lostErrorNow("channel data", true, raw, ch.closedCh)
	}
	e.mu.Lock()
	e.eofErr = err
	e.mu.Unlock()
	close(done)
	return err
}

// closeEnded is ExitStatus's verdict on a channel that closed without a
// status or signal: nil when the server closed it, else an error matching
// ErrDisconnected. It waits as ctx allows; in non-blocking mode it returns
// ErrAgain until the verdict is in.
func (ch *Channel) closeEnded(ctx context.Context) error {
	e := &ch.end
	e.mu.Lock()
	if e.closeDone == nil {
		done := make(chan struct{})
		e.closeDone = done
		live := e.remoteLive
		e.mu.Unlock()
		decide := func() {
			var err error
			if ok, _ := ch.proven(live, nil); !ok {
				err = ch.c.lostErrorNow("channel", false, nil, nil)
			}
			e.mu.Lock()
			e.closeErr = err
			e.mu.Unlock()
			close(done)
		}
		if !ch.c.goTracked(decide) {
			decide() // the connection is gone: nothing to wait for
		}
		e.mu.Lock()
	}
	done := e.closeDone
	e.mu.Unlock()
	select {
	case <-done:
	default:
		if !ch.sess.IsBlocking() {
			return ErrAgain
		}
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closeErr
}

// proven reports whether the end event seen before this call (an EOF, or
// the end of the requests) was the server's. alive says the connection had
// no end mark when the event was seen. abort (may be nil) gives up, and
// then aborted is true.
func (ch *Channel) proven(alive bool, abort <-chan struct{}) (ok, aborted bool) {
	c := ch.c
	if alive {
		switch err := c.confirmAlive(abort); {
		case err == nil:
			return true, false
		case errors.Is(err, errAborted):
			return false, true
		}
	}
	ch.end.mu.Lock()
	alive = alive || ch.end.remoteLive // a CLOSE while alive proves the data complete
	ch.end.mu.Unlock()
	if !alive {
		return false, false
	}
	inOrder, _, aborted := c.loopEnd(abort)
	return inOrder && !aborted, aborted
}

func (ch *Channel) isClosedLocally() bool {
	select {
	case <-ch.closedCh:
		return true
	default:
		return false
	}
}

// lostErrorNow is lostError once the connection has ended (callers know
// it is ending), so that the error carries why; abort (may be nil) stops
// the wait, and the error then says what is known.
func (c *conn) lostErrorNow(what string, stream bool, raw error, abort <-chan struct{}) error {
	_, loopErr, _ := c.loopEnd(abort)
	var sock error // the first socket error, say a reset a write met and x/crypto kept to itself
	if c.version != nil {
		if e := c.version.err(); !errors.Is(e, net.ErrClosed) {
			sock = e // not our own Close's "use of closed network connection"
		}
	}
	return c.lostError(what, stream, raw, loopErr, sock)
}

// lostError is the error of a stream (or channel) that its connection's end
// cut short: it matches the connection's cause (ErrServerNotResponding when
// keepalives found the server gone, else ErrDisconnected) and the details
// (a socket error, a MAC failure), never io.EOF; a stream's also matches
// io.ErrUnexpectedEOF, as a short HTTP body does.
func (c *conn) lostError(what string, stream bool, details ...error) error {
	cause := c.closedErr()
	switch {
	case cause == nil:
		cause = ErrDisconnected
	case !errors.Is(cause, ErrDisconnected):
		cause = &lostCause{cause}
	}
	e := &connLostError{what: what, cause: cause, stream: stream}
	for _, d := range details {
		if d == nil || errors.Is(d, io.EOF) || errors.Is(cause, d) {
			continue
		}
		e.details = append(e.details, d)
	}
	return e
}

// lostCause makes a connection's end that is not ErrDisconnected itself
// (say a handshake error) match it too.
type lostCause struct{ err error }

func (e *lostCause) Error() string   { return e.err.Error() }
func (e *lostCause) Unwrap() []error { return []error{ErrDisconnected, e.err} }

// connLostError reports channel data, or a channel, that the end of its
// connection cut short: the server never sent its EOF or CLOSE.
type connLostError struct {
	what    string
	cause   error
	details []error
	stream  bool
}

func (e *connLostError) Error() string {
	var b strings.Builder
	b.WriteString("ssh: connection lost before the server ended the ")
	b.WriteString(e.what)
	b.WriteString(": ")
	b.WriteString(e.cause.Error())
	for _, d := range e.details {
		if msg := d.Error(); !strings.Contains(b.String(), msg) {
			b.WriteString(" (" + msg + ")")
		}
	}
	return b.String()
}

func (e *connLostError) Unwrap() []error {
	out := append([]error{e.cause}, e.details...)
	if e.stream {
		out = append(out, io.ErrUnexpectedEOF)
	}
	return out
}
