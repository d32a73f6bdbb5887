// Package faultrelay is a TCP relay for tests that breaks a connection on purpose: after a
// given number of bytes in one direction it freezes that direction, closes or resets both
// sockets, or corrupts one byte. Tests put it between the client and a server (the in-process
// test server or a real sshd) to check what every read and write path reports when the
// connection dies mid-transfer.
//
// Faults are counted per relayed connection and per direction, so a fault "after 1 MiB from the
// server" fires on each connection that reaches 1 MiB. Everything the relay started ends at the
// test's cleanup.
package faultrelay

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Direction is which way bytes travel through the relay.
type Direction int

const (
	// ServerToClient is the direction of the server's replies and channel data.
	ServerToClient Direction = iota
	// ClientToServer is the direction of the client's requests and uploads.
	ClientToServer
)

func (d Direction) String() string {
	if d == ClientToServer {
		return "client->server"
	}
	return "server->client"
}

// Action is what a fault does when its byte count is reached.
type Action int

const (
	// Freeze stops relaying the direction and stops reading its source, keeping both sockets
	// open: the peer sees silence, and TCP flow control eventually stops the sender.
	Freeze Action = iota
	// Close closes both sockets of the connection (an orderly FIN to each side).
	Close
	// Reset closes both sockets with SO_LINGER 0, so each side gets a TCP reset.
	Reset
	// Corrupt flips every bit of the byte at offset After of the direction and keeps relaying.
	Corrupt
)

func (a Action) String() string {
	switch a {
	case Freeze:
		return "freeze"
	case Close:
		return "close"
	case Reset:
		return "reset"
	case Corrupt:
		return "corrupt"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Fault is one planned failure: Action, once After bytes have gone through in direction Dir.
// For Corrupt, After is the offset of the byte that is flipped.
type Fault struct {
	Dir    Direction
	After  int64
	Action Action
}

// Relay accepts connections on 127.0.0.1 and relays each to its target, applying its faults.
// Its methods are safe for concurrent use.
type Relay struct {
	target string
	ln     net.Listener

	mu        sync.Mutex
	faults    []Fault
	conns     map[net.Conn]struct{}
	closed    bool
	triggered chan struct{}
	trigOnce  sync.Once
	done      chan struct{} // closed by stop
	accepted  int

	wg sync.WaitGroup
}

// New starts a relay to target (host:port) and stops it at t's cleanup. It fails the test if it
// cannot listen.
func New(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultrelay: listen: %v", err)
	}
	r := &Relay{target: target, ln: ln, conns: map[net.Conn]struct{}{}, triggered: make(chan struct{}), done: make(chan struct{})}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.stop)
	return r
}

// Addr is the relay's address, to dial instead of the target.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Port is the relay's port on 127.0.0.1.
func (r *Relay) Port() int { return r.ln.Addr().(*net.TCPAddr).Port }

// Set replaces the planned faults. It applies to connections accepted afterwards and to running
// connections whose byte count in the fault's direction has not yet reached the fault's After.
func (r *Relay) Set(faults ...Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append([]Fault(nil), faults...)
}

// Triggered is closed the first time any fault fires on any connection.
func (r *Relay) Triggered() <-chan struct{} { return r.triggered }

// Accepted reports how many connections the relay has accepted so far.
func (r *Relay) Accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted
}

func (r *Relay) stop() {
	r.mu.Lock()
	r.closed = true
	close(r.done)
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	_ = r.ln.Close()
	r.wg.Wait()
}

// register remembers c for stop; it reports false (and closes c) if the relay is stopping.
func (r *Relay) register(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		_ = c.Close()
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) unregister(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
}

// next returns the first fault for dir that has not been passed at offset done, if any.
func (r *Relay) next(dir Direction, done int64) (Fault, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	best, found := Fault{}, false
	for _, f := range r.faults {
		if f.Dir != dir || f.After < done {
			continue
		}
		if !found || f.After < best.After {
			best, found = f, true
		}
	}
	return best, found
}

func (r *Relay) fire() { r.trigOnce.Do(func() { close(r.triggered) }) }

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		client, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.accepted++
		r.mu.Unlock()
		if !r.register(client) {
			continue
		}
		r.wg.Add(1)
		go r.serve(client)
	}
}

// pair is one relayed connection: its two sockets and how it ends.
type pair struct {
	r              *Relay
	client, server net.Conn
	once           sync.Once
	closed         chan struct{} // closed by end
}

// end closes both sockets, with a reset when rst is set.
func (p *pair) end(rst bool) {
	p.once.Do(func() {
		if rst {
			for _, c := range []net.Conn{p.client, p.server} {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
			}
		}
		_ = p.client.Close()
		_ = p.server.Close()
		close(p.closed)
	})
}

func (r *Relay) serve(client net.Conn) {
	defer r.wg.Done()
	defer r.unregister(client)
	server, err := net.Dial("tcp", r.target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !r.register(server) {
		_ = client.Close()
		return
	}
	defer r.unregister(server)
	p := &pair{r: r, client: client, server: server, closed: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(ClientToServer, client, server) }()
	go func() { defer wg.Done(); p.pipe(ServerToClient, server, client) }()
	wg.Wait()
	p.end(false)
}

// pipe copies src to dst for one direction, applying that direction's faults. A frozen
// direction waits until the connection ends otherwise (the other direction, or stop).
func (p *pair) pipe(dir Direction, src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	var done int64
	for {
		limit := int64(len(buf))
		f, planned := p.r.next(dir, done)
		if planned {
			limit = min(limit, f.After-done)
			if f.Action == Corrupt {
				limit = min(int64(len(buf)), f.After-done+1)
			}
		}
		if planned && limit == 0 && f.Action != Corrupt {
			p.r.fire()
			switch f.Action {
			case Freeze:
				p.freeze()
				p.end(false)
				return
			case Close:
				p.end(false)
				return
			case Reset:
				p.end(true)
				return
			}
		}
		n, err := src.Read(buf[:limit])
		if n > 0 {
			if planned && f.Action == Corrupt && done+int64(n) > f.After {
				buf[f.After-done] ^= 0xff
				p.r.fire()
			}
			done += int64(n)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				p.end(false)
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Pass the half-close on, as a plain TCP path would.
				if cw, ok := dst.(*net.TCPConn); ok {
					_ = cw.CloseWrite()
					return
				}
			}
			p.end(false)
			return
		}
	}
}

// freeze stops reading src until the connection ends (the other direction fails or Close and
// Reset faults end it) or the relay stops.
func (p *pair) freeze() {
	select {
	case <-p.closed:
	case <-p.r.done:
	}
}
