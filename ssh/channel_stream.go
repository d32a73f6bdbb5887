package ssh

import (
	"errors"
	"io"
	"sync"
	"time"
)

// Why channel data goes through a buffer of our own.
//
// x/crypto gives a channel one flow-control window for stdout and stderr
// together, and reopens it only as the application reads. A program that
// reads stdout but not stderr (or the other way round) therefore stalls
// both streams once the unread one has eaten the window. So each stream has
// a pump goroutine that keeps reading from x/crypto into a buffer of its
// own, up to maxStreamBuffer unread bytes per stream. Reading in large
// chunks also makes x/crypto send one window adjustment per chunk instead
// of one per small Read, which is where a plain x/crypto reader spends a
// third of its CPU.

// maxStreamBuffer is how much unread data one stream (stdout or stderr)
// holds before its pump stops reading and the channel's window closes.
const maxStreamBuffer = 8 << 20

// Chunk sizes. A pump reads into a small chunk while data trickles in (an
// idle or interactive channel then holds 32 KiB per stream, not 256 KiB),
// and switches to large chunks once a read fills the one it had: bulk
// transfers get large reads and few window adjustments. A pump never reads
// into less than minChunkRead bytes, so a chunk is mostly full before the
// next one starts and small reads cannot pin many chunks.
//
// A quiet stream (nothing read yet, or the last read brought less than
// probeSize) reads into the stream's own probeSize buffer and copies what
// came into the tail chunk, or a fresh one; the reader gives the last chunk
// back once it drains a quiet stream. An idle channel, or one running a
// command that prints little, then holds no 32 KiB chunk per stream while
// it waits (issue 13).
const (
	smallChunk   = 32 << 10
	chunkSize    = 256 << 10
	minChunkRead = 32 << 10
	probeSize    = 2 << 10
)

var (
	chunkPool      = sync.Pool{New: func() any { return &chunk{buf: make([]byte, chunkSize)} }}
	smallChunkPool = sync.Pool{New: func() any { return &chunk{buf: make([]byte, smallChunk)} }}
)

func recycle(c *chunk) {
	if len(c.buf) == smallChunk {
		smallChunkPool.Put(c)
	} else {
		chunkPool.Put(c)
	}
}

type chunk struct {
	buf  []byte
	r, w int // unread data is buf[r:w]
}

// streamBuffer is one direction of channel data from the server.
type streamBuffer struct {
	readMu   sync.Mutex // one reader at a time, so writeTo's unlocked write cannot deliver data twice
	mu       sync.Mutex
	space    *sync.Cond    // signalled when the reader frees room; for the pump
	changed  chan struct{} // closed and replaced when data, EOF or close arrive
	chunks   []*chunk
	filling  *chunk          // the chunk the pump reads into right now, never recycled meanwhile
	discard  *chunk          // what the pump reads into after close
	bulk     bool            // the last read filled its chunk: use large chunks
	quiet    bool            // the last read brought less than probeSize: the stream trickles or idles
	probe    [probeSize]byte // what the pump reads into while the stream is quiet (pump only)
	size     int             // unread bytes
	err      error           // io.EOF, or why the stream ended without the server's EOF; reported once the data is read
	closed   bool            // the application closed the channel: discard
	received int64           // bytes received in all; for PollState-style accounting
	onData   func()
}

// newStreamBuffer returns an empty buffer; onData (may be nil) is called
// whenever data, EOF or an error arrive, to wake a poll loop.
func newStreamBuffer(onData func()) *streamBuffer {
	b := &streamBuffer{changed: make(chan struct{}), onData: onData, quiet: true}
	b.space = sync.NewCond(&b.mu)
	return b
}

func (b *streamBuffer) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// pump copies src into the buffer until src ends. Where src (an x/crypto
// channel) says io.EOF, the buffer reports what end returns instead: io.EOF
// only when that EOF was the server's, not the connection's end
// (channel_end.go). end may block; data read before stays readable.
func (b *streamBuffer) pump(src io.Reader, end func(raw error, sawEOF bool) error) {
	var raw error // the socket error x/crypto reported with data, if any
	for {
		b.mu.Lock()
		for b.size >= maxStreamBuffer && !b.closed {
			b.space.Wait()
		}
		target := b.tailForFilling() // nil: read into b.probe
		b.filling = target
		b.mu.Unlock()

		var n int
		var err error
		if target == nil {
			n, err = src.Read(b.probe[:])
		} else {
			n, err = src.Read(target.buf[target.w:])
		}
		if err != nil && err != io.EOF {
			// x/crypto returns data together with the error of the
			// window adjustment it then failed to send (a raw socket
			// error, or why the connection ended). What arrived is
			// still buffered there and is delivered first; the
			// stream's end is judged where x/crypto's EOF comes.
			if raw == nil {
				raw = err
			}
			if n > 0 {
				err = nil
			}
		}

		b.mu.Lock()
		b.filling = nil
		if !b.closed && n > 0 {
			if target == nil {
				target = b.chunkForProbeLocked(n)
				copy(target.buf[target.w:], b.probe[:n])
				b.bulk = n == probeSize
			} else {
				b.bulk = target.w+n == len(target.buf)
			}
			b.quiet = n < probeSize
			target.w += n
			b.size += n
			b.received += int64(n)
		}
		discarding := b.closed
		if n > 0 {
			b.notifyLocked()
		}
		b.mu.Unlock()
		if n > 0 && b.onData != nil {
			b.onData()
		}
		if err == nil {
			continue
		}
		if end != nil && !discarding {
			err = end(raw, err == io.EOF)
		}
		b.mu.Lock()
		b.err = err
		b.notifyLocked()
		b.mu.Unlock()
		if b.onData != nil {
			b.onData()
		}
		return
	}
}

// tailForFilling returns the chunk to read into: nil while the stream is
// quiet (read into b.probe), else the last chunk while it has room for a
// large read, else a fresh one. b.mu must be held.
func (b *streamBuffer) tailForFilling() *chunk {
	if b.closed {
		// Discarding: one private scratch chunk, never queued or pooled.
		if b.discard == nil {
			b.discard = &chunk{buf: make([]byte, chunkSize)}
		}
		return b.discard
	}
	if b.quiet {
		return nil
	}
	if n := len(b.chunks); n > 0 {
		tail := b.chunks[n-1]
		if tail.r == tail.w && tail.r > 0 {
			tail.r, tail.w = 0, 0 // drained: reuse from the start
		}
		if free := len(tail.buf) - tail.w; free >= minChunkRead || free == len(tail.buf) {
			return tail
		}
	}
	return b.newChunkLocked()
}

// chunkForProbeLocked returns the queued chunk that takes the n bytes the
// pump just read into the probe: the tail when it has room (emptied first if
// the reader drained it meanwhile), else a fresh chunk. While the pump waited
// with the probe the reader may have drained the tail; queuing a new chunk
// behind it would leave a drained chunk at the head with data behind it.
// b.mu must be held.
func (b *streamBuffer) chunkForProbeLocked(n int) *chunk {
	if k := len(b.chunks); k > 0 {
		tail := b.chunks[k-1]
		if tail.r == tail.w {
			tail.r, tail.w = 0, 0
		}
		if len(tail.buf)-tail.w >= n {
			return tail
		}
	}
	return b.newChunkLocked()
}

// newChunkLocked queues an empty chunk, large after a read that filled its
// buffer. b.mu must be held.
func (b *streamBuffer) newChunkLocked() *chunk {
	pool := &smallChunkPool
	if b.bulk {
		pool = &chunkPool
	}
	c := pool.Get().(*chunk)
	c.r, c.w = 0, 0
	b.chunks = append(b.chunks, c)
	return c
}

// consumeLocked moves up to max unread bytes out of the buffer, copying
// them into p unless p is nil, and returns how many.
func (b *streamBuffer) consumeLocked(p []byte, max int) int {
	n := 0
	for len(b.chunks) > 0 {
		head := b.chunks[0]
		if head.r == head.w {
			// Drained. It goes even when max is 0, so a drained head can
			// never hide the data queued behind it (writeTo would hand
			// out empty slices for ever).
			if head == b.filling || (len(b.chunks) == 1 && !b.quiet) {
				break // keep it: the pump writes into it, or will reuse it
			}
			b.chunks[0] = nil
			b.chunks = b.chunks[1:]
			recycle(head)
			continue
		}
		if n == max {
			break
		}
		m := min(max-n, head.w-head.r)
		if p != nil {
			copy(p[n:], head.buf[head.r:head.r+m])
		}
		head.r += m
		n += m
	}
	b.size -= n
	if n > 0 {
		b.space.Signal()
	}
	return n
}

// errWouldWait is returned by wait when the deadline passed with no data.
var errWouldWait = errors.New("ssh: no data yet")

// wait blocks until data, EOF or an error is there, until deadline (zero:
// forever) or until abort is closed. b.mu is held on entry and on return.
func (b *streamBuffer) wait(deadline time.Time, abort <-chan struct{}) error {
	var timer *time.Timer
	for b.size == 0 && b.err == nil && !b.closed {
		var expired <-chan time.Time
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return errWouldWait
			}
			if timer == nil {
				timer = time.NewTimer(d)
				defer timer.Stop()
			} else {
				timer.Reset(d)
			}
			expired = timer.C
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-expired:
		case <-abort:
			b.mu.Lock()
			return ErrChannelClosed
		}
		b.mu.Lock()
	}
	return nil
}

// read reads into p, waiting until deadline (zero: forever). It returns
// (0, errWouldWait) when the deadline passed first.
func (b *streamBuffer) read(p []byte, deadline time.Time, abort <-chan struct{}) (int, error) {
	b.readMu.Lock()
	defer b.readMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	if err := b.wait(deadline, abort); err != nil {
		return 0, err
	}
	if b.closed {
		return 0, ErrChannelClosed
	}
	if b.size == 0 {
		return 0, b.err
	}
	return b.consumeLocked(p, len(p)), nil
}

// writeTo hands whole chunks to w, without copying them into a caller's
// buffer first: io.Copy from a channel uses it.
func (b *streamBuffer) writeTo(w io.Writer, abort <-chan struct{}) (int64, error) {
	b.readMu.Lock()
	defer b.readMu.Unlock()
	var total int64
	for {
		b.mu.Lock()
		if err := b.wait(time.Time{}, abort); err != nil {
			b.mu.Unlock()
			return total, err
		}
		if b.closed {
			b.mu.Unlock()
			return total, ErrChannelClosed
		}
		if b.size == 0 {
			err := b.err
			b.mu.Unlock()
			if err == io.EOF {
				err = nil
			}
			return total, err
		}
		b.consumeLocked(nil, 0) // drop drained chunks: head has data
		head := b.chunks[0]
		data := head.buf[head.r:head.w]
		b.mu.Unlock()

		// The pump only writes past head.w, and the chunk is not recycled
		// before consumeLocked below, so data is stable while w runs.
		n, err := w.Write(data)
		total += int64(n)

		b.mu.Lock()
		if !b.closed {
			b.consumeLocked(nil, n)
		}
		b.mu.Unlock()
		if err != nil {
			return total, err
		}
		if n < len(data) {
			return total, io.ErrShortWrite
		}
	}
}

// available reports the unread bytes, and the stream's end once drained.
func (b *streamBuffer) available() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.size == 0 {
		return 0, b.err
	}
	return b.size, nil
}

// ended reports whether the stream's end (the server's EOF, or an error) was decided.
func (b *streamBuffer) ended() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err != nil
}

// close discards unread data and makes the pump discard what still comes,
// so x/crypto keeps the connection flowing.
func (b *streamBuffer) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	// The chunks are left to the garbage collector, not the pool: a
	// writeTo may still be writing from one.
	b.chunks, b.size = nil, 0
	b.space.Broadcast()
	b.notifyLocked()
}
