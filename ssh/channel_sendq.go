package ssh

import (
	"context"
	"errors"
	"io"
	"sync"
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

// waitIdle blocks until the queue is empty and its flusher done, or ctx.
func (q *sendQueue) waitIdle(ctx context.Context) error {
	for {
		q.mu.Lock()
		if q.idleLocked() {
			err := q.err
			q.mu.Unlock()
			return err
		}
		ch := q.drained
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
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
	if q.eof {
		return 0, ErrChannelClosed
	}
	room := maxSendQueue - len(q.buf)
	if room <= 0 {
		return 0, ErrAgain
	}
	n := min(room, len(p))
	q.buf = append(q.buf, p[:n]...)
	ch.startFlusherLocked()
	if n < len(p) {
		return n, ErrAgain
	}
	return n, nil
}

// sendEOFNonBlocking sends EOF after the queued data.
func (ch *Channel) sendEOFNonBlocking() error {
	q := ch.sendq
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.idleLocked() {
		return nil // nothing queued: the caller sends EOF itself
	}
	q.eof = true
	return errEOFQueued
}

var errEOFQueued = errors.New("ssh: EOF queued")

func (ch *Channel) startFlusherLocked() {
	q := ch.sendq
	if q.flushing {
		return
	}
	q.flushing = true
	ch.c.wg.Add(1)
	go ch.flush()
}

// flush writes the queue to x/crypto until it is empty, then ends.
func (ch *Channel) flush() {
	defer ch.c.wg.Done()
	q := ch.sendq
	for {
		q.mu.Lock()
		data := q.buf
		q.buf = nil
		if len(data) == 0 {
			eof := q.eof
			q.flushing = false
			close(q.drained)
			q.drained = make(chan struct{})
			q.mu.Unlock()
			if eof {
				if xch, err := ch.channel(); err == nil {
					_ = xch.CloseWrite()
				}
			}
			ch.c.events.signal()
			return
		}
		q.mu.Unlock()
		ch.c.events.signal() // the queue has room again
		xch, err := ch.channel()
		if err == nil {
			_, err = xch.Write(data)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = ErrChannelClosed
			}
			q.mu.Lock()
			q.err, q.buf, q.eof = err, nil, false
			q.mu.Unlock()
		}
	}
}
