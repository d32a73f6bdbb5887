package sshtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrServerClosed is returned by Server methods that wait, such as
// WaitRequest, when the server is closed while they wait.
var ErrServerClosed = errors.New("sshtest: server closed")

// Server is a running in-process SSH server listening on 127.0.0.1. Its
// methods are safe for concurrent use.
type Server struct {
	cfg      Config       // resolved; read-only after Start
	hostKeys []ssh.Signer // read-only after Start
	ln       net.Listener

	// ctx is cancelled by Close; every connection, channel and program
	// context derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	// wg counts every goroutine the server starts. Goroutines are only
	// ever added by Start or by a goroutine already counted, so Add never
	// races with the Wait in Close.
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	channels atomic.Int64 // last session channel number handed out

	mu              sync.Mutex
	closed          bool
	conns           map[net.Conn]struct{}
	authLog         []AuthAttempt
	negotiated      []ssh.NegotiatedAlgorithms
	clientVersions  []string
	requests        []RequestRecord
	requestsChanged chan struct{} // closed and replaced on every new record
	globalRequests  []RequestRecord
	refusedChannels []string

	fwd fwdRegistry // forward.go: live connections and forwarding records
}

// New starts a Server for a test: it calls t.Fatal if the server cannot
// start and registers Close with t.Cleanup.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sshtest: Close: %v", err)
		}
	})
	return s
}

// Start listens on a free port of 127.0.0.1 and serves cfg until Close is
// called; it returns once the listener is open, without waiting for a
// client. It is New for code that has no testing.TB, such as a demo. It
// fails when cfg is invalid (an unknown Fault, an AuthSequence method it
// does not serve, a keyboard-interactive Round whose Want and Prompts
// differ in length, no host key left by HostKeyAlgorithms) or when it
// cannot listen. On error nothing is left open.
func Start(cfg Config) (*Server, error) {
	rc, keys, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sshtest: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:             rc,
		hostKeys:        keys,
		ln:              ln,
		ctx:             ctx,
		cancel:          cancel,
		conns:           make(map[net.Conn]struct{}),
		requestsChanged: make(chan struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr returns the listening address as "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host returns the listening IP address, "127.0.0.1".
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port returns the listening TCP port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// HostKeys returns the public host keys the server uses, in the order they
// are offered.
func (s *Server) HostKeys() []ssh.PublicKey {
	out := make([]ssh.PublicKey, len(s.hostKeys))
	for i, k := range s.hostKeys {
		out[i] = k.PublicKey()
	}
	return out
}

// KnownHostsLine returns what a client's known_hosts file needs to trust
// this server, in OpenSSH format: one line per host key in use (see
// HostKeys), each ending in "\n", naming the host as "[127.0.0.1]:port"
// as OpenSSH does for a port other than 22. A host key that is a
// certificate is trusted through its CA instead, with a
// "@cert-authority [127.0.0.1]:port" line, since known_hosts cannot hold a
// certificate. Writing the result to a file and pointing the client's
// known_hosts option at it makes the client's host key check real.
func (s *Server) KnownHostsLine() string {
	host := []string{s.Addr()}
	var b strings.Builder
	seen := make(map[string]bool)
	for _, k := range s.HostKeys() {
		line := knownhosts.Line(host, k)
		if cert, ok := k.(*ssh.Certificate); ok {
			line = "@cert-authority " + knownhosts.Line(host, cert.SignatureKey)
		}
		if !seen[line] {
			seen[line] = true
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// User returns a copy of the credentials configured for name and whether
// the name is configured at all. A client helper uses it to log in as a
// test would expect (package sshtest/sshclient does).
func (s *Server) User(name string) (User, bool) {
	u, ok := s.cfg.Users[name]
	if !ok {
		return User{}, false
	}
	u, _ = u.clone() // validated by Start; clone cannot fail
	return u, true
}

// Close stops the server: it closes the listener and every connection,
// interrupts running commands, and returns once every goroutine the server
// started has ended. It is idempotent and safe to call concurrently; every
// call waits, and every call returns the same error (a failure to close the
// listener, which does not happen in practice).
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]net.Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()

		s.cancel()
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = fmt.Errorf("sshtest: closing listener: %w", err)
		}
		// Closing the TCP connections ends x/crypto's read loops, which
		// closes every channel and so unblocks every reader and writer.
		for _, c := range conns {
			c.Close()
		}
	})
	s.wg.Wait()
	return s.closeErr
}

// acceptLoop accepts connections until the listener is closed.
func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			// net.ErrClosed after Close. Any other error (such as
			// running out of file descriptors) also ends serving: a
			// test server has no one to report it to, and retrying
			// would spin.
			return
		}
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

// track registers c so that Close can close it; it reports false if the
// server is already closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}
