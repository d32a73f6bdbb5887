package ssh

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// transport is the net.Conn x/crypto runs the protocol over. It does three
// things x/crypto does not:
//
//   - it records the server's identification line as it passes, because
//     x/crypto keeps it private until authentication is over while libssh
//     programs print it right after connecting, and for the same reason
//     the first KEXINIT of each direction;
//   - it remembers the first read or write error, and shows whether
//     x/crypto's reader is alive (waiting in a socket read) or gone (the
//     transport failed or x/crypto closed it), so the auth engine can tell
//     a dead connection from a refused method;
//   - it reads ahead in large blocks: x/crypto's 4 KiB bufio.Reader makes
//     about two socket reads per 32 KiB packet, where one read here serves
//     several packets.
type transport struct {
	net.Conn
	failed   atomic.Pointer[error] // the first read or write error: the transport is dead
	lastRead atomic.Int64          // when data last arrived (UnixNano), for keepalives
	dw       deathWatch            // channel_end.go: how reads ended, for telling EOFs apart

	// Read-ahead. Only x/crypto's reader goroutine calls Read. rbuf is
	// small, the transport's own, while the connection is quiet, and a
	// pooled readAhead block while data streams in (see Read): an idle
	// connection's reader waits in Conn.Read, so whatever buffer it waits
	// with stays held for as long as the connection is idle.
	rbuf    []byte
	big     *[]byte // the pooled block rbuf points into, or nil
	small   [smallReadAhead]byte
	r, w    int
	pending error // a read error that came with data, reported after it

	// Reader liveness (awaitReader). x/crypto stops reading for good when a
	// packet fails to decrypt or announces an impossible length, with the
	// socket intact; it then closes the transport.
	live    sync.Mutex
	reading bool          // the reader is waiting in Conn.Read
	closed  bool          // Close was called
	wake    chan struct{} // closed when reading or closed changes; nil without a waiter

	// The identification line.
	versionDone atomic.Bool // set once the line is complete; checked without the lock
	mu          sync.Mutex
	prelude     []byte
	version     string

	// The first KEXINIT each way, for Algorithms before authentication
	// (algorithms_kexinit.go).
	kexIn, kexOut kexInitSniffer
}

// readAhead is the read-ahead block: large enough for several maximum-size
// packets per socket read, small enough to stay in cache.
const readAhead = 128 << 10

// maxVersionPrelude bounds what is kept while looking for the version line
// (RFC 4253 §4.2 allows other lines before it).
const maxVersionPrelude = 64 << 10

// smallReadAhead is the read-ahead of a quiet connection: a few small
// packets (keepalives, window adjusts, exit statuses) per socket read.
const smallReadAhead = 4 << 10

// readAheadPool holds the readAhead blocks of the connections that are not
// streaming at the moment.
var readAheadPool = sync.Pool{New: func() any { b := make([]byte, readAhead); return &b }}

func newTransport(c net.Conn) *transport {
	t := &transport{Conn: c}
	t.rbuf = t.small[:]
	return t
}

// sizeReadAhead picks the buffer of the next socket read, when all read
// ahead has been handed out. A read that filled the buffer means more is
// queued: the next one gets the large block. A read on the large block that
// brought less than the small buffer holds means the stream has stopped:
// the block goes back to the pool before the reader waits for more, which
// may be for hours.
func (t *transport) sizeReadAhead(lastN int) {
	switch {
	case t.big == nil && lastN == len(t.rbuf):
		t.big = readAheadPool.Get().(*[]byte)
		t.rbuf = *t.big
	case t.big != nil && lastN < smallReadAhead:
		readAheadPool.Put(t.big)
		t.big = nil
		t.rbuf = t.small[:]
	}
}

func (t *transport) Read(p []byte) (int, error) {
	if t.r == t.w {
		if t.pending != nil {
			return 0, t.died(t.pending)
		}
		t.sizeReadAhead(t.w)
		t.setReading(true)
		n, err := t.Conn.Read(t.rbuf)
		if err != nil {
			t.failed.CompareAndSwap(nil, &err) // before setReading wakes awaitReader
		}
		t.setReading(false)
		if err != nil {
			if n == 0 {
				return 0, t.died(err)
			}
			t.pending = err
		}
		if !t.versionDone.Load() {
			t.mu.Lock()
			t.scan(t.rbuf[:n])
			t.mu.Unlock()
		}
		t.kexIn.feed(t.rbuf[:n])
		t.r, t.w = 0, n
		t.lastRead.Store(time.Now().UnixNano())
	}
	n := copy(p, t.rbuf[t.r:t.w])
	t.r += n
	return n, nil
}

func (t *transport) scan(data []byte) {
	for len(data) > 0 && !t.versionDone.Load() {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			t.prelude = append(t.prelude, data...)
			if len(t.prelude) > maxVersionPrelude {
				t.prelude = nil
				t.versionDone.Store(true)
			}
			return
		}
		line := append(t.prelude, data[:i]...)
		data = data[i+1:]
		t.prelude = nil
		if bytes.HasPrefix(line, []byte("SSH-")) {
			t.version = string(bytes.TrimRight(line, "\r"))
			t.versionDone.Store(true)
		}
	}
}

func (t *transport) Write(p []byte) (int, error) {
	n, err := t.Conn.Write(p)
	t.kexOut.feed(p[:n])
	if err != nil {
		t.failed.CompareAndSwap(nil, &err)
	}
	return n, err
}

// Close closes the connection. It notes first that read errors from now on
// are the consequence of this close (for the truncation proof, see died),
// and tells a waiting awaitReader.
func (t *transport) Close() error {
	t.dw.closing.Store(true)
	ch := t.dw.closedChan()
	t.dw.closeOnce.Do(func() { close(ch) })
	t.live.Lock()
	t.closed = true
	t.wakeLocked()
	t.live.Unlock()
	return t.Conn.Close()
}

func (t *transport) setReading(r bool) {
	t.live.Lock()
	t.reading = r
	t.wakeLocked()
	t.live.Unlock()
}

func (t *transport) wakeLocked() {
	if t.wake != nil {
		close(t.wake)
		t.wake = nil
	}
}

// errTransportClosed: x/crypto closed the transport, which it does when its
// reader stopped on a packet it could not decode (a MAC failure, a packet
// length beyond its 256 KiB limit).
var errTransportClosed = errors.New("the connection was closed while authenticating")

// awaitReader waits until x/crypto's reader shows whether it is alive, and
// returns nil when it is (waiting in a socket read, so every packet that
// arrived was decoded), or why it is not: the socket error, or
// errTransportClosed. x/crypto's reader never reads again after it failed,
// and its key-exchange goroutine then closes the transport, so one of the
// two always happens. done (the connection's end) also ends the wait.
//
// Only a call made after a reply was decoded may use it: a read that was
// under way before proves nothing about that reply.
func (t *transport) awaitReader(done <-chan struct{}) error {
	for {
		if err := t.err(); err != nil {
			return err
		}
		t.live.Lock()
		if t.closed {
			t.live.Unlock()
			return errTransportClosed
		}
		if t.reading {
			t.live.Unlock()
			return nil
		}
		if t.wake == nil {
			t.wake = make(chan struct{})
		}
		wake := t.wake
		t.live.Unlock()
		select {
		case <-wake:
		case <-done:
			return ErrDisconnected
		}
	}
}

// err returns the error that killed the transport, or nil.
func (t *transport) err() error {
	if e := t.failed.Load(); e != nil {
		return *e
	}
	return nil
}

// line returns the server's identification line, "" until it arrived.
func (t *transport) line() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.version
}
