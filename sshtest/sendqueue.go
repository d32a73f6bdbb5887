package sshtest

import (
	"net"
	"sync"
	"time"
)

// Why the server's writes go through a queue.
//
// x/crypto's connection goroutine writes from inside its read loop: it
// answers a channel close with a close. When that write blocks because the
// TCP send buffer is full, the loop stops reading. Two x/crypto peers
// moving data both ways over many channels then deadlock: each one's read
// loop waits to write, so neither reads, so neither's writes drain.
// OpenSSH's sshd never stops reading its socket (its output is buffered),
// so a client never meets this with a real server. The test server
// imitates that: writes are queued and a goroutine drains the queue, so
// the connection's read loop never waits for the network. The queue holds
// what the client has not read yet, which the client's channel windows
// bound.

// flushTimeout bounds how long Close waits for queued bytes to drain to a
// peer that does not read.
const flushTimeout = 2 * time.Second

// queuedConn is a net.Conn whose Write never waits for the network.
type queuedConn struct {
	net.Conn

	mu      sync.Mutex
	cond    *sync.Cond // signalled for the writer: data queued, or closing
	flushed *sync.Cond // broadcast when the writer finished a write or ended
	queue   []byte
	writing bool  // the writer is sending a swapped-out buffer
	err     error // the first write error; later writes return it
	closing bool
	done    chan struct{} // closed when the writer ended
}

// newQueuedConn starts the writer on a goroutine counted in s.wg; it ends
// when the connection is closed or fails.
func (s *Server) newQueuedConn(c net.Conn) *queuedConn {
	q := &queuedConn{Conn: c, done: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	q.flushed = sync.NewCond(&q.mu)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		q.writer()
	}()
	return q
}

// Write queues p for the writer and returns at once; after a write error
// or Close it fails.
func (q *queuedConn) Write(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return 0, q.err
	}
	if q.closing {
		return 0, net.ErrClosed
	}
	q.queue = append(q.queue, p...)
	q.cond.Signal()
	return len(p), nil
}

func (q *queuedConn) writer() {
	defer close(q.done)
	defer func() {
		q.mu.Lock()
		q.writing = false
		q.flushed.Broadcast()
		q.mu.Unlock()
	}()
	var out []byte
	for {
		q.mu.Lock()
		q.writing = false
		q.flushed.Broadcast()
		for len(q.queue) == 0 && !q.closing && q.err == nil {
			q.cond.Wait()
		}
		if len(q.queue) == 0 || q.err != nil {
			q.mu.Unlock()
			return
		}
		// Swap buffers: the writer sends one while Write fills the other.
		out, q.queue = q.queue, out[:0]
		q.writing = true
		q.mu.Unlock()
		if _, err := q.Conn.Write(out); err != nil {
			q.mu.Lock()
			q.err = err
			q.queue = nil
			q.mu.Unlock()
			return
		}
	}
}

// waitFlushed waits until the writer has handed everything queued so far to
// the network, which happens only as fast as the client reads. It is the
// back pressure for a sender that would otherwise queue without bound
// (Config.BannerRepeat). It fails once the connection failed or is closing.
func (q *queuedConn) waitFlushed() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for (len(q.queue) > 0 || q.writing) && q.err == nil && !q.closing {
		q.flushed.Wait()
	}
	switch {
	case q.err != nil:
		return q.err
	case q.closing:
		return net.ErrClosed
	}
	return nil
}

// Close sends what is queued (for at most flushTimeout, in case the peer
// does not read), then closes the connection.
func (q *queuedConn) Close() error {
	q.mu.Lock()
	q.closing = true
	q.cond.Broadcast()
	q.flushed.Broadcast()
	q.mu.Unlock()
	_ = q.Conn.SetWriteDeadline(time.Now().Add(flushTimeout))
	<-q.done
	return q.Conn.Close()
}
