package ssh

import (
	"net"
	"sync"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
)

// heldConn is a client transport whose incoming bytes can be held back.
// While held, nothing the server sends reaches the session, so an answer
// to a request sent meanwhile cannot have arrived, however the goroutines
// are scheduled. Tests of non-blocking calls use it to make "the answer is
// not there yet" a fact rather than a race against loopback, and then
// release the bytes to collect the outcome.
type heldConn struct {
	net.Conn
	mu        sync.Mutex
	flowing   chan struct{} // closed while bytes flow; a fresh one while held
	closed    chan struct{}
	closeOnce sync.Once
}

func newHeldConn(c net.Conn) *heldConn {
	h := &heldConn{Conn: c, flowing: make(chan struct{}), closed: make(chan struct{})}
	close(h.flowing)
	return h
}

// hold stops incoming bytes: a Read in progress or to come keeps what it
// got until release.
func (h *heldConn) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.flowing:
		h.flowing = make(chan struct{})
	default:
	}
}

// release lets the held bytes and everything after them through.
func (h *heldConn) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.flowing:
	default:
		close(h.flowing)
	}
}

// Read reads first and holds afterwards, so bytes a Read already waits
// for when hold is called are held too.
func (h *heldConn) Read(p []byte) (int, error) {
	n, err := h.Conn.Read(p)
	h.mu.Lock()
	flowing := h.flowing
	h.mu.Unlock()
	select {
	case <-flowing:
		return n, err
	case <-h.closed:
		return 0, net.ErrClosed
	}
}

func (h *heldConn) Close() error {
	h.closeOnce.Do(func() { close(h.closed) })
	return h.Conn.Close()
}

// heldDial is dialSession over a heldConn to srv.
func heldDial(t *testing.T, srv *sshtest.Server, user string, opts ...Option) (*Session, *heldConn) {
	t.Helper()
	raw, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	h := newHeldConn(raw)
	t.Cleanup(func() { _ = h.Close() })
	return dialSession(t, srv, user, append(opts, Socket(h))...), h
}

// heldSession is acceptedSession over a heldConn to srv.
func heldSession(t *testing.T, srv *sshtest.Server, user string, opts ...Option) (*Session, *heldConn) {
	t.Helper()
	s, h := heldDial(t, srv, user, opts...)
	if err := s.AcceptHostKey(); err != nil {
		t.Fatalf("AcceptHostKey: %v", err)
	}
	return s, h
}

// returnsAtOnce runs a non-blocking call and fails the test if it has not
// returned by the test's deadline: with the answer held back, a call that
// waited for it would never return.
func returnsAtOnce[T any](t *testing.T, what string, call func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := call()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-testCtx(t).Done():
		t.Fatalf("%s blocked in non-blocking mode", what)
	}
	var zero T
	return zero, nil
}
