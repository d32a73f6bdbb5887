package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Writing to a channel so that no wait outlives Close, a ctx, a deadline or
// the connection.
//
// What can block inside x/crypto v0.58 when we write (channel.go, mux.go,
// handshake.go), and what wakes it:
//
//   - channel.WriteExtended waits in remoteWin.reserve for the server's
//     window, holding no lock. Only a WINDOW_ADJUST, the server's CLOSE or
//     the end of the connection wake it; our own CLOSE does not
//     (channel.Close only sends the message), and sshd does not answer a
//     CLOSE while the command still runs.
//   - channel.writePacket holds the channel's writeMu around
//     handshakeTransport.writePacket, which holds the transport's mu while
//     it writes the packet to the socket: when the server stops reading,
//     the kernel's buffers fill, the socket write blocks and every packet
//     of the connection (other channels, requests, the mux's own replies)
//     queues behind that lock.
//   - While a key exchange runs, handshakeTransport.writePacket queues up
//     to 64 packets (maxPendingPackets) and then waits on writeCond, still
//     under the channel's writeMu, until the exchange ends. A server that
//     never answers our KEXINIT blocks every writer for good.
//   - SendRequest with a reply waits on the channel's message queue, fed
//     only by the reply or the channel's end; CloseWrite and Close each
//     send one packet and wait for writeMu and the transport like data.
//
// None of these waits can be interrupted but by closing the connection. So
// every x/crypto call that may block runs on a goroutine of the connection
// (tracked, so Disconnect waits for it), and the caller waits for it, for
// the channel's Close, for the connection's end, or for its ctx or
// deadline, whichever comes first. A call given up on keeps running inside
// x/crypto; what it leaves behind is described per call: a data piece
// stays committed and goes out before anything written later, a request
// may still be sent and answered. Close itself never waits: its CLOSE goes
// out from a goroutine, and a connection that does not take that one
// packet for a long time is stuck (see stuckAfter) and is ended.

// defaultStuckAfter is how long a channel's CLOSE may wait for the
// connection, without the Timeout option, before the connection counts as
// stuck and is ended. Only a connection that takes no packet at all for
// that long gets there: a slow one still moves a packet in well under a
// second per 32 KiB at 50 KB/s.
const defaultStuckAfter = 30 * time.Second

// writePiece is the most one deadline-bound or copying write hands to
// x/crypto at once, and so the most a write that was given up on leaves in
// flight.
const writePiece = 64 << 10

var piecePool = sync.Pool{New: func() any { b := make([]byte, writePiece); return &b }}

// sender orders what is handed to x/crypto for a channel's data stream:
// data, then the EOF. x/crypto's WriteExtended must not run twice at once
// on one channel (its packet buffer is shared), and a call that was given
// up on keeps running: whoever writes next waits for it first.
type sender struct {
	slot     chan struct{} // holds one token: taking it allows handing data or EOF to x/crypto
	inflight *piece        // the last call handed over, until collected; owned by the token's holder
	eofSent  atomic.Bool   // CloseWrite was handed over: no more data
}

func (s *sender) init() {
	s.slot = make(chan struct{}, 1)
	s.slot <- struct{}{}
}

// piece is one x/crypto call running on a goroutine of the connection.
type piece struct {
	done chan struct{} // closed when the call returned
	n    int           // for data, the bytes x/crypto sent; read after done
	err  error         // its error, read after done
}

// limit is what ends a wait besides the channel's Close and the
// connection's end: a ctx, a net.Conn deadline, both or neither.
type limit struct {
	ctx context.Context // nil: none
	dl  *connDeadline   // nil: none
}

// passed reports the limit's error if it has already passed.
func (l limit) passed() error {
	if l.ctx != nil && l.ctx.Err() != nil {
		return l.ctx.Err()
	}
	if l.dl != nil {
		if t, _ := l.dl.get(); !t.IsZero() && !time.Now().Before(t) {
			return os.ErrDeadlineExceeded
		}
	}
	return nil
}

// await waits until a receive from ready succeeds (a closed channel, or a
// token) and returns nil, or returns why it stopped first: ErrChannelClosed
// after Close, an error matching ErrDisconnected once the connection ended,
// ctx's error, or os.ErrDeadlineExceeded. A ready receive wins over the
// others when both are possible.
func (ch *Channel) await(ready <-chan struct{}, lim limit) error {
	select {
	case <-ready:
		return nil
	default:
	}
	var ctxDone <-chan struct{}
	if lim.ctx != nil {
		ctxDone = lim.ctx.Done()
	}
	for {
		var changed <-chan struct{}
		var expired <-chan time.Time
		var timer *time.Timer
		if lim.dl != nil {
			var t time.Time
			t, changed = lim.dl.get()
			if !t.IsZero() {
				d := time.Until(t)
				if d <= 0 {
					return os.ErrDeadlineExceeded
				}
				timer = time.NewTimer(d)
				expired = timer.C
			}
		}
		var err error
		select {
		case <-ready:
		case <-ch.closedCh:
			err = ErrChannelClosed
		case <-ch.c.done:
			err = ch.c.lostErr(nil)
		case <-ctxDone:
			err = lim.ctx.Err()
		case <-expired:
			err = os.ErrDeadlineExceeded
		case <-changed:
			if timer != nil {
				timer.Stop()
			}
			continue // a new deadline: wait again under it
		}
		if timer != nil {
			timer.Stop()
		}
		return err
	}
}

// start runs call on a goroutine of the connection. It returns nil when
// the connection has ended (then call does not run).
func (ch *Channel) start(call func() (int, error)) *piece {
	p := &piece{done: make(chan struct{})}
	if !ch.c.goTracked(func() {
		p.n, p.err = call()
		close(p.done)
	}) {
		return nil
	}
	return p
}

// noCount adapts a call that sends no data for start.
func noCount(call func() error) func() (int, error) {
	return func() (int, error) { return 0, call() }
}

// acquire takes the sender's token, waiting within lim.
func (ch *Channel) acquire(lim limit) error { return ch.await(ch.snd.slot, lim) }

func (ch *Channel) release() { ch.snd.slot <- struct{}{} }

// settle waits within lim for the call in flight, if any, and returns its
// error as the library reports it. The token must be held.
func (ch *Channel) settle(lim limit) error {
	p := ch.snd.inflight
	if p == nil {
		return nil
	}
	if err := ch.await(p.done, lim); err != nil {
		return err
	}
	ch.snd.inflight = nil
	return ch.writeErr(p.err)
}

// send writes p to the channel's data stream, blocking whatever the mode,
// after what non-blocking writes queued. It hands p to x/crypto in pieces
// and waits for each until x/crypto took it (the server's window allowed
// it and the transport took its packets), Close, the connection's end or
// lim.
//
// When lim ends the wait, the piece in flight is committed: it is counted
// as written, and goes out before anything written later, as data in a
// socket's send buffer does. When Close or the connection's end does, it
// is not counted. owned means p is the caller's to give away: it is handed
// over whole, without a copy, and must not be reused after an error.
func (ch *Channel) send(p []byte, lim limit, owned bool) (int, error) {
	xch, err := ch.channel()
	if err != nil {
		return 0, err
	}
	if err := ch.waitQueue(lim); err != nil {
		return 0, err
	}
	if err := ch.acquire(lim); err != nil {
		return 0, err
	}
	defer ch.release()
	if err := ch.settle(lim); err != nil {
		return 0, err
	}
	written := 0
	for written < len(p) {
		if ch.snd.eofSent.Load() {
			return written, errWriteAfterEOF
		}
		if err := lim.passed(); err != nil {
			return written, err
		}
		var data []byte
		var buf *[]byte
		if owned {
			data = p[written:]
		} else {
			buf = piecePool.Get().(*[]byte)
			data = (*buf)[:copy(*buf, p[written:])]
		}
		pc := ch.start(func() (int, error) {
			n, err := xch.Write(data)
			if buf != nil {
				piecePool.Put(buf)
			}
			return n, err
		})
		if pc == nil {
			if buf != nil {
				piecePool.Put(buf)
			}
			return written, ch.c.lostErr(nil)
		}
		ch.snd.inflight = pc
		if err := ch.settle(lim); err != nil {
			if ch.snd.inflight == nil {
				return written + pc.n, err // x/crypto failed part way
			}
			if lim.passed() != nil {
				return written + len(data), err // committed
			}
			return written, err
		}
		written += len(data)
	}
	return written, nil
}

var errWriteAfterEOF = fmt.Errorf("%w: the channel is closed for writing", ErrChannelClosed)

// sendEOF hands the channel's EOF to x/crypto after everything written
// before, and waits for it within lim. When lim ends the wait, the EOF is
// committed like a data piece: it goes out after the data, and later
// writes fail.
func (ch *Channel) sendEOF(lim limit) error {
	xch, err := ch.channel()
	if err != nil {
		return err
	}
	if err := ch.waitQueue(lim); err != nil {
		return err
	}
	if err := ch.acquire(lim); err != nil {
		return err
	}
	defer ch.release()
	if err := ch.settle(lim); err != nil && !errors.Is(err, ErrChannelClosed) {
		return err
	}
	if ch.snd.eofSent.Load() {
		return nil
	}
	if err := lim.passed(); err != nil {
		return err
	}
	ch.snd.eofSent.Store(true)
	pc := ch.start(noCount(xch.CloseWrite))
	if pc == nil {
		return ch.c.lostErr(nil)
	}
	ch.snd.inflight = pc
	return eofErr(ch.settle(lim))
}

// eofErr drops the error of an EOF sent to a channel the server already
// closed: there is nobody left to tell.
func eofErr(err error) error {
	if errors.Is(err, errClosedByServer) {
		return nil
	}
	return err
}

// sendRequest sends a channel request without a reply, waiting for
// x/crypto to take it until ctx, Close or the connection's end.
func (ch *Channel) sendRequest(ctx context.Context, xch gossh.Channel, name string, payload []byte) error {
	pc := ch.start(func() (int, error) {
		_, err := xch.SendRequest(name, false, payload)
		return 0, err
	})
	if pc == nil {
		return ch.c.lostErr(nil)
	}
	if err := ch.await(pc.done, limit{ctx: ctx}); err != nil {
		return err
	}
	return ch.writeErr(pc.err)
}

// errClosedByServer is what a write to a channel the server closed
// returns (x/crypto's io.EOF).
var errClosedByServer = fmt.Errorf("%w: closed by the server", ErrChannelClosed)

// writeErr turns what x/crypto returned for a write, request or EOF on
// this channel into the library's errors: ErrChannelClosed after the
// application's Close or the server's CLOSE (x/crypto's io.EOF), an error
// matching ErrDisconnected when the connection is gone (a broken pipe, a
// reset, x/crypto's io.EOF from a channel the connection dropped), with
// the original error kept reachable.
func (ch *Channel) writeErr(err error) error {
	if err == nil {
		return nil
	}
	select {
	case <-ch.closedCh:
		if errors.Is(err, io.EOF) {
			return ErrChannelClosed
		}
		return fmt.Errorf("%w: %w", ErrChannelClosed, err)
	default:
	}
	if ch.c.isClosed() || ch.c.transportErr() != nil {
		return ch.c.lostErr(err)
	}
	if errors.Is(err, io.EOF) {
		return errClosedByServer
	}
	// x/crypto's transport keeps its first write error for good, and a key
	// exchange that failed ends it: the connection is unusable.
	return ch.c.lostErr(err)
}

// transportErr is the error that killed the socket under x/crypto, if any.
func (c *conn) transportErr() error {
	if c.version == nil {
		return nil
	}
	return c.version.err()
}

// lostErr is the error of a call that failed because the connection is
// gone: it matches ErrDisconnected, the reason the connection ended (for
// example ErrServerNotResponding or a *HostKeyError) and raw, the error
// x/crypto returned, unless raw is its bare io.EOF.
func (c *conn) lostErr(raw error) error {
	cause := c.closedErr()
	// The socket's error says what happened, unless it is only our own
	// close of the socket.
	if t := c.transportErr(); t != nil && !errors.Is(t, net.ErrClosed) && !errors.Is(cause, t) {
		if cause == nil {
			cause = t
		} else {
			cause = fmt.Errorf("%w: %w", cause, t)
		}
	}
	if errors.Is(raw, io.EOF) && cause != nil {
		raw = nil
	}
	switch {
	case cause == nil && raw == nil:
		return ErrDisconnected
	case cause == nil:
		cause, raw = raw, nil
	}
	if raw != nil && !errors.Is(cause, raw) {
		cause = fmt.Errorf("%w: %w", cause, raw)
	}
	if errors.Is(cause, ErrDisconnected) {
		return cause
	}
	return fmt.Errorf("%w: %w", ErrDisconnected, cause)
}

// stuckAfter is how long a CLOSE may wait for the connection before it
// counts as stuck: the Timeout option the connection was made with, or
// defaultStuckAfter.
func (c *conn) stuckAfter() time.Duration {
	if c.opts.Timeout > 0 {
		return c.opts.Timeout
	}
	return defaultStuckAfter
}

// sendClose sends the channel's CLOSE from a goroutine of the connection,
// so Close never waits. The CLOSE waits only for the transport (and for a
// data piece of this channel inside it): if it has not been taken after
// stuckAfter, nothing moves on the connection (the server stopped reading,
// or a key exchange it never finishes), and the connection is ended with
// an error matching ErrDisconnected, which ends every call still waiting
// on it.
func (ch *Channel) sendClose(xch gossh.Channel) {
	c := ch.c
	after := c.stuckAfter()
	sent := make(chan struct{})
	watchdog := time.AfterFunc(after, func() {
		select {
		case <-sent:
			return
		default:
		}
		c.log.Warn("ssh: the connection took no packet for the channel's CLOSE; ending it", "waited", after)
		c.shutdown(fmt.Errorf("%w: the connection took no data for %v (the server stopped reading, or a key exchange stalled)", ErrDisconnected, after))
	})
	if !c.goTracked(func() {
		_ = xch.Close() // io.EOF: the server closed first; anything else: the connection ended
		close(sent)
		watchdog.Stop()
	}) {
		watchdog.Stop()
	}
}
