package ssh

import (
	"os"
	"sync"
	"sync/atomic"
)

// events lets a poll(2) loop wait for the session the way libssh programs
// wait on its socket. x/crypto owns the real socket and reads it on its own
// goroutine, so the socket's readability says nothing about what the
// application can do next. Instead the library keeps a pipe whose read end
// becomes readable whenever something happened: channel data or EOF
// arrived, an operation completed, a send queue drained, or the connection
// ended. PollState drains it.
//
// The pipe exists only once Fd or Events was called: blocking programs pay
// nothing for it.
type events struct {
	once    sync.Once
	r, w    *os.File
	err     error
	ready   atomic.Bool   // created
	pending atomic.Bool   // a byte sits in the pipe
	ch      chan struct{} // the portable twin of the pipe, for Events
	closed  atomic.Bool
}

func (e *events) init() {
	e.once.Do(func() {
		e.ch = make(chan struct{}, 1)
		e.r, e.w, e.err = os.Pipe()
		e.ready.Store(true)
		// What happened before anyone listened is not recorded: start
		// readable, so the first poll looks at the state.
		e.signal()
	})
}

// signal records that something happened. It never blocks.
func (e *events) signal() {
	if !e.ready.Load() || e.closed.Load() {
		return
	}
	select {
	case e.ch <- struct{}{}:
	default:
	}
	if e.err == nil && e.pending.CompareAndSwap(false, true) {
		if _, err := e.w.Write([]byte{1}); err != nil {
			e.pending.Store(false)
		}
	}
}

// drain makes the pipe unreadable until the next signal.
func (e *events) drain() {
	if !e.ready.Load() || e.err != nil || e.closed.Load() {
		return
	}
	if e.pending.Swap(false) {
		var b [1]byte
		_, _ = e.r.Read(b[:]) // exactly the one byte signal wrote
	}
}

func (e *events) close() {
	if e.ready.Load() && e.closed.CompareAndSwap(false, true) && e.err == nil {
		_ = e.w.Close()
		_ = e.r.Close()
	}
}
