package sshtest

import (
	"errors"
	"io"
	"net"
	"sync"
)

// garbage is what FaultGarbage sends: an HTTP error, as a client gets when it
// reaches a web server by mistake, then binary bytes. It contains no line
// starting with "SSH-", so no client can find a version in it (RFC 4253
// §4.2 lets a server send other lines before its version).
const garbage = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n\x00\x01\x02\xfe\xff not ssh \x1b[0m"

var errDropped = errors.New("sshtest: fault: connection dropped after the byte limit")

// serveRawFault serves the faults that replace the SSH protocol altogether.
// It reports whether it did; if it did, the connection is finished with.
func (s *Server) serveRawFault(c net.Conn) bool {
	switch s.cfg.Fault {
	case FaultSilent:
		discardInput(c)
	case FaultPartialVersion:
		if _, err := io.WriteString(c, "SSH-2.0-partial"); err == nil {
			discardInput(c)
		}
	case FaultGarbage:
		if _, err := io.WriteString(c, garbage); err == nil {
			// Half-close rather than close: closing with the client's
			// version line still unread would send a TCP reset, which
			// can discard the garbage before the client reads it.
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			discardInput(c)
		}
	default:
		return false
	}
	return true
}

// discardInput reads and drops everything until the client closes the
// connection or Server.Close does.
func discardInput(c net.Conn) {
	io.Copy(io.Discard, c)
}

// dropConn closes its connection once a byte budget for writes is spent; it
// implements FaultDropAfterBytes.
type dropConn struct {
	net.Conn

	mu   sync.Mutex
	left int // bytes that may still be written
}

func newDropConn(c net.Conn, limit int) *dropConn {
	return &dropConn{Conn: c, left: max(limit, 0)}
}

// Write writes as much of p as the budget allows and closes the connection
// when the budget reaches zero.
func (c *dropConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left == 0 {
		c.Conn.Close()
		return 0, errDropped
	}
	chunk := p[:min(len(p), c.left)]
	n, err := c.Conn.Write(chunk)
	c.left -= n
	if err != nil {
		return n, err
	}
	if c.left == 0 {
		c.Conn.Close()
	}
	if n < len(p) {
		return n, errDropped
	}
	return n, nil
}

// stallConn stops sending once a byte budget for writes is spent; it
// implements FaultStallAfterBytes. Writes past the budget are dropped and
// reported as written, so the server's own goroutines never block on the
// stall and Close ends it at once: only the client sees a silent peer.
type stallConn struct {
	net.Conn

	mu   sync.Mutex
	left int // bytes that may still be written
}

func newStallConn(c net.Conn, limit int) *stallConn {
	return &stallConn{Conn: c, left: max(limit, 0)}
}

// Write sends the part of p within the budget and drops the rest.
func (c *stallConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	chunk := p[:min(len(p), c.left)]
	if len(chunk) > 0 {
		n, err := c.Conn.Write(chunk)
		c.left -= n
		if err != nil {
			return n, err
		}
	}
	return len(p), nil
}
