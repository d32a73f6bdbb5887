package ssh

import (
	"sync"

	gossh "golang.org/x/crypto/ssh"
)

// maxSendQueue is how much stdin a channel queues in non-blocking mode
// before Write returns a short count.
const maxSendQueue = 1 << 20

// sendQueue holds what a non-blocking Write accepted but x/crypto has not
// taken yet (it waits for the server's window). A flusher goroutine exists
// only while there is something to send, so blocking mode, which writes
// straight through, never has one.
type sendQueue struct {
	mu       sync.Mutex
	buf      []byte
	flushing bool
	eof      bool  // SendEOF is due once the queue is empty
	err      error // the flusher's write error, reported to the next Write
	drained  chan struct{}
}

func newSendQueue() *sendQueue { return &sendQueue{drained: make(chan struct{})} }

// idleLocked reports whether nothing is queued or being written.
func (q *sendQueue) idleLocked() bool { return len(q.buf) == 0 && !q.flushing }

// queued returns the bytes waiting to be written.
func (q *sendQueue) queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.buf)
	if q.flushing && n == 0 {
		n = 1 // a write is still in x/crypto's hands
	}
	return n
}

// waitQueue blocks until the send queue is empty and its flusher done, and
// returns the flusher's error, if any; or it returns early as await does:
// on Close, the connection's end or lim.
func (ch *Channel) waitQueue(lim limit) error {
	q := ch.sendq
	for {
		q.mu.Lock()
		if q.idleLocked() {
			err := q.err
			q.mu.Unlock()
			return err
		}
		drained := q.drained
		q.mu.Unlock()
		if err := ch.await(drained, lim); err != nil {
			return err
		}
	}
}

// writeNonBlocking queues what fits of p and starts the flusher.
func (ch *Channel) writeNonBlocking(p []byte) (int, error) {
	q := ch.sendq
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.err; err != nil {
		return 0, err
	}
	if q.eof || ch.snd.eofSent.Load() {
		return 0, errWriteAfterEOF
	}
	room := maxSendQueue - len(q.buf)
	if room <= 0 {
		return 0, ErrAgain
	}
	n := min(room, len(p))
	q.buf = append(q.buf, p[:n]...)
	ch.startFlusherLocked()
	if q.err != nil {
		return 0, q.err // the connection is gone
	}
	if n < len(p) {
		return n, ErrAgain
	}
	return n, nil
}

// sendEOFNonBlocking queues the EOF after the queued data; the flusher
// sends it, so the call never waits.
func (ch *Channel) sendEOFNonBlocking() error {
	q := ch.sendq
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return eofErr(q.err)
	}
	if q.eof || ch.snd.eofSent.Load() {
		return nil
	}
	q.eof = true
	ch.startFlusherLocked()
	return q.err
}

func (ch *Channel) startFlusherLocked() {
	q := ch.sendq
	if q.flushing {
		return
	}
	q.flushing = true
	if !ch.c.goTracked(ch.flush) {
		q.flushing = false
		q.err, q.buf, q.eof = ch.c.lostErr(nil), nil, false
	}
}

// flush writes the queue to x/crypto until it is empty, then the EOF if
// one is due, and ends. It takes the sender's turn like a blocking Write,
// so its data goes out after a piece a timed-out Write left in flight, and
// before anything written later. A write stuck inside x/crypto keeps the
// flusher until x/crypto returns (the server's window, its CLOSE, or the
// connection's end); nobody waits for it but BlockingFlush, which has a
// ctx, and blocking calls, which Close and the connection's end wake.
func (ch *Channel) flush() {
	q := ch.sendq
	err := ch.acquire(limit{})
	if err == nil {
		defer ch.release()
		err = ch.settle(limit{})
	}
	var xch gossh.Channel
	if err == nil {
		xch, err = ch.channel()
	}
	for {
		q.mu.Lock()
		if err != nil {
			q.err, q.buf, q.eof = err, nil, false
		}
		data := q.buf
		q.buf = nil
		if len(data) == 0 {
			eof := q.eof
			q.eof = false
			q.flushing = false
			close(q.drained)
			q.drained = make(chan struct{})
			q.mu.Unlock()
			if eof {
				ch.snd.eofSent.Store(true)
				_ = xch.CloseWrite()
			}
			ch.c.events.signal()
			return
		}
		q.mu.Unlock()
		ch.c.events.signal() // the queue has room again
		_, err = xch.Write(data)
		err = ch.writeErr(err)
	}
}
