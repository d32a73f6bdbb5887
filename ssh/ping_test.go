package ssh

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
)

// holdProxy forwards TCP to target; while held, what the server sends is
// kept back (in order) until release.
type holdProxy struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	cond *sync.Cond
	held bool
	cons []net.Conn
}

func newHoldProxy(t *testing.T, target string) *holdProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdProxy{ln: ln}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.cons = append(p.cons, c, up)
			p.mu.Unlock()
			p.wg.Add(2)
			go p.pipe(up, c, false)
			go p.pipe(c, up, true)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.cons {
			c.Close()
		}
		p.held = false
		p.cond.Broadcast()
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *holdProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *holdProxy) hold(on bool) {
	p.mu.Lock()
	p.held = on
	p.cond.Broadcast()
	p.mu.Unlock()
}

// pipe copies src to dst; a pipe from the server waits while held.
func (p *holdProxy) pipe(dst, src net.Conn, fromServer bool) {
	defer p.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if fromServer {
			p.mu.Lock()
			for p.held {
				p.cond.Wait()
			}
			p.mu.Unlock()
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// loginThroughHold logs in to srv through a holdProxy.
func loginThroughHold(t *testing.T, srv *sshtest.Server) (*Session, *holdProxy) {
	t.Helper()
	proxy := newHoldProxy(t, srv.Addr())
	s := NewSession()
	if err := s.SetOption(ProcessConfig(false), Hostname("127.0.0.1"), Port(proxy.port()), User("alice"), SSHDir(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatalf("login: %v, %v", st, err)
	}
	return s, proxy
}

func isKeepalive(r sshtest.RequestRecord) bool { return r.Type == pingGlobalRequest && r.WantReply }

func TestPingUsesKeepaliveRequest(t *testing.T) {
	s, srv := loggedIn(t)
	if err := s.current().ping(testCtx(t)); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if got := srv.GlobalRequests(); len(got) != 1 || !isKeepalive(got[0]) {
		t.Fatalf("server saw %+v", got)
	}
}

func TestPingWithoutGlobalRequests(t *testing.T) {
	srv := tinysshLike(t)
	s := loginTo(t, srv)
	for range 3 {
		if err := s.current().ping(testCtx(t)); err != nil {
			t.Fatalf("ping: %v", err)
		}
	}
	if got := srv.RefusedChannels(); len(got) != 3 || got[0] != pingChannelType {
		t.Fatalf("refused channels %q", got)
	}
	if got := srv.GlobalRequests(); len(got) != 0 {
		t.Fatalf("global requests reached the server: %+v", got)
	}
	if !s.IsConnected() {
		t.Fatal("session ended")
	}
}

// Callers share a round trip only if it was sent after they called: those
// who come while one is in flight get the next one, together.
func TestPingSharesOnlyLaterRoundTrips(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	s, proxy := loginThroughHold(t, srv)
	c := s.current()
	client, err := c.authenticatedClient()
	if err != nil {
		t.Fatal(err)
	}

	proxy.hold(true)
	first := make(chan error, 1)
	go func() { first <- c.ping(testCtx(t)) }()
	// The first round is on the wire: the server got it, its answer is held.
	if _, err := srv.WaitGlobalRequest(testCtx(t), isKeepalive); err != nil {
		t.Fatal(err)
	}
	later := []*pingRound{c.joinPing(client), c.joinPing(client), c.joinPing(client)}
	if later[0] != later[1] || later[1] != later[2] {
		t.Fatal("callers during one round trip do not share the next one")
	}
	select {
	case <-later[0].done:
		t.Fatal("a later caller got the answer to a round trip sent before it called")
	default:
	}
	proxy.hold(false)
	if err := <-first; err != nil {
		t.Fatalf("first ping: %v", err)
	}
	select {
	case <-later[0].done:
	case <-testCtx(t).Done():
		t.Fatal("the shared round trip never ended")
	}
	if later[0].err != nil {
		t.Fatalf("shared ping: %v", later[0].err)
	}
	n := 0
	for _, r := range srv.GlobalRequests() {
		if isKeepalive(r) {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d keepalive requests, want 2 (one in flight, one shared by the later callers)", n)
	}
}

func TestPingEndsWithCtxAndWithConnection(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	s, proxy := loginThroughHold(t, srv)
	c := s.current()
	proxy.hold(true)

	ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer cancel()
	if err := c.ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ping with an unanswering server and a short ctx: %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- c.ping(testCtx(t)) }()
	if _, err := srv.WaitGlobalRequest(testCtx(t), isKeepalive); err != nil {
		t.Fatal(err)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrDisconnected) {
		t.Fatalf("ping when the connection ended: %v", err)
	}
	if err := c.ping(testCtx(t)); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("ping after the end: %v", err)
	}
}

func TestPingBeforeAuthentication(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	s := acceptedSession(t, srv, "alice")
	if err := s.current().ping(testCtx(t)); !errors.Is(err, ErrNotAuthenticated) {
		t.Fatalf("ping before auth: %v", err)
	}
}

// Concurrent callers under -race: every one gets an answer.
func TestPingConcurrent(t *testing.T) {
	s, srv := loggedIn(t)
	c := s.current()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- c.ping(testCtx(t)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.GlobalRequests()); n < 1 || n > 16 {
		t.Fatalf("%d round trips for 16 callers", n)
	}
}
