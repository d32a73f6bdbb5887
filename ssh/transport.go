package ssh

import (
	"bytes"
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
//     programs print it right after connecting;
//   - it remembers the first read or write error, so the auth engine can
//     tell a dead connection from a refused method;
//   - it reads ahead in large blocks: x/crypto's 4 KiB bufio.Reader makes
//     about two socket reads per 32 KiB packet, where one read here serves
//     several packets.
type transport struct {
	net.Conn
	failed   atomic.Pointer[error] // the first read or write error: the transport is dead
	lastRead atomic.Int64          // when data last arrived (UnixNano), for keepalives
	dw       deathWatch            // channel_end.go: how reads ended, for telling EOFs apart

	// Read-ahead. Only x/crypto's reader goroutine calls Read.
	rbuf    []byte
	r, w    int
	pending error // a read error that came with data, reported after it

	// The identification line.
	versionDone atomic.Bool // set once the line is complete; checked without the lock
	mu          sync.Mutex
	prelude     []byte
	version     string
}

// readAhead is the read-ahead block: large enough for several maximum-size
// packets per socket read, small enough to stay in cache.
const readAhead = 128 << 10

// maxVersionPrelude bounds what is kept while looking for the version line
// (RFC 4253 §4.2 allows other lines before it).
const maxVersionPrelude = 64 << 10

func newTransport(c net.Conn) *transport {
	return &transport{Conn: c, rbuf: make([]byte, readAhead)}
}

func (t *transport) Read(p []byte) (int, error) {
	if t.r == t.w {
		if t.pending != nil {
			return 0, t.died(t.pending)
		}
		n, err := t.Conn.Read(t.rbuf)
		if err != nil {
			t.failed.CompareAndSwap(nil, &err)
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
	if err != nil {
		t.failed.CompareAndSwap(nil, &err)
	}
	return n, err
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
