package ssh

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// hostileServer is a bare x/crypto server (no authentication) that hands
// each connection's channel opens and global requests to the test's
// handlers; the handlers may close the connection (sc.Close) to play a
// server that dies mid-request. Nil handlers refuse.
type hostileServer struct {
	onChannel func(sc *gossh.ServerConn, nc gossh.NewChannel)
	onRequest func(sc *gossh.ServerConn, r *gossh.Request)
	config    func(cfg *gossh.ServerConfig)
}

func (h hostileServer) start(t *testing.T) *net.TCPAddr {
	t.Helper()
	cfg := &gossh.ServerConfig{NoClientAuth: true}
	if h.config != nil {
		h.config(cfg)
	} else {
		cfg.AddHostKey(newEd25519(t))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveConns(t, ln, func(c net.Conn) {
		sc, chans, reqs, err := gossh.NewServerConn(c, cfg)
		if err != nil {
			return
		}
		defer sc.Close()
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range reqs {
				if h.onRequest != nil {
					h.onRequest(sc, r)
				} else if r.WantReply {
					_ = r.Reply(false, nil)
				}
			}
		}()
		for nc := range chans {
			if h.onChannel != nil {
				h.onChannel(sc, nc)
			} else {
				_ = nc.Reject(gossh.Prohibited, "no")
			}
		}
	})
	return ln.Addr().(*net.TCPAddr)
}

// session returns a Session authenticated (by "none") on the server.
func (h hostileServer) session(t *testing.T, opts ...Option) *Session {
	t.Helper()
	addr := h.start(t)
	s := NewSession()
	base := []Option{ProcessConfig(false), Hostname("127.0.0.1"), Port(addr.Port), User("u"), SSHDir(t.TempDir())}
	if err := s.SetOption(append(base, opts...)...); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess {
		t.Fatalf("none: %v %v", st, err)
	}
	return s
}

// closedPort returns a port of 127.0.0.1 on which nothing listens.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// Connect's failures match ErrConnect and still let errors.As find the
// network error, and the message names host:port (issue 14, point 5).
func TestConnectErrorsMatch(t *testing.T) {
	silent := sshtest.New(t, sshtest.Config{Fault: sshtest.FaultSilent})
	port := closedPort(t)
	cases := []struct {
		name  string
		opts  []Option
		ctx   time.Duration
		addr  string
		check func(t *testing.T, err error)
	}{
		{"refused", []Option{Hostname("127.0.0.1"), Port(port)}, 10 * time.Second, "127.0.0.1:" + strconv.Itoa(port),
			func(t *testing.T, err error) {
				var op *net.OpError
				if !errors.Is(err, ErrConnect) || !errors.As(err, &op) || !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("got %v; want ErrConnect, *net.OpError, ECONNREFUSED", err)
				}
			}},
		{"dns", []Option{Hostname("no-such-host.invalid"), Port(2222)}, 10 * time.Second, "no-such-host.invalid:2222",
			func(t *testing.T, err error) {
				var dns *net.DNSError
				if !errors.Is(err, ErrConnect) || !errors.As(err, &dns) {
					t.Fatalf("got %v; want ErrConnect and *net.DNSError", err)
				}
			}},
		{"timeout", []Option{Hostname(silent.Host()), Port(silent.Port())}, 300 * time.Millisecond, silent.Addr(),
			func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("got %v; want context.DeadlineExceeded", err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSession()
			if err := s.SetOption(append([]Option{ProcessConfig(false), SSHDir(t.TempDir())}, tc.opts...)...); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctx)
			defer cancel()
			err := s.Connect(ctx)
			defer s.Disconnect()
			t.Logf("%v", err)
			tc.check(t, err)
			if !strings.HasPrefix(err.Error(), "ssh: ") || !strings.Contains(err.Error(), tc.addr) {
				t.Fatalf("error %q does not start with \"ssh: \" or lacks %s", err, tc.addr)
			}
		})
	}
}

// A server that dies while a channel open or a global request waits for its
// answer: the error matches ErrDisconnected, and says why rather than
// x/crypto's "unexpected packet in response to channel open: <nil>" or a
// bare EOF.
func TestServerDiesDuringARequest(t *testing.T) {
	closeConn := func(sc *gossh.ServerConn) { _ = sc.Close() }
	cases := []struct {
		name string
		srv  hostileServer
		call func(s *Session) error
	}{
		{"channel open", hostileServer{onChannel: func(sc *gossh.ServerConn, _ gossh.NewChannel) { closeConn(sc) }},
			func(s *Session) error {
				ch, err := s.NewChannel()
				if err != nil {
					return err
				}
				return ch.OpenSession(testCtx(t))
			}},
		{"direct-tcpip open", hostileServer{onChannel: func(sc *gossh.ServerConn, _ gossh.NewChannel) { closeConn(sc) }},
			func(s *Session) error {
				ch, err := s.NewChannel()
				if err != nil {
					return err
				}
				return ch.OpenForward(testCtx(t), "127.0.0.1", 1, "127.0.0.1", 2)
			}},
		{"tcpip-forward", hostileServer{onRequest: func(sc *gossh.ServerConn, _ *gossh.Request) { closeConn(sc) }},
			func(s *Session) error {
				_, err := s.ListenForward(testCtx(t), "127.0.0.1", 0)
				return err
			}},
		{"streamlocal-forward", hostileServer{onRequest: func(sc *gossh.ServerConn, _ *gossh.Request) { closeConn(sc) }},
			func(s *Session) error { return s.ListenForwardUnix(testCtx(t), "/tmp/x.sock") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.srv.session(t)
			err := tc.call(s)
			t.Logf("%v", err)
			if !errors.Is(err, ErrDisconnected) {
				t.Fatalf("got %v; want ErrDisconnected", err)
			}
			if msg := err.Error(); strings.Contains(msg, "<nil>") || !strings.HasPrefix(msg, "ssh: ") || errors.Is(err, io.EOF) && !strings.Contains(msg, "disconnected") {
				t.Fatalf("message %q", msg)
			}
			if s.IsConnected() {
				t.Fatal("still connected")
			}
		})
	}
}

// switchSigner is a host key that can be swapped under a running server, to
// present another key at the next key exchange.
type switchSigner struct{ cur atomic.Pointer[gossh.Signer] }

func newSwitchSigner(s gossh.Signer) *switchSigner {
	w := &switchSigner{}
	w.cur.Store(&s)
	return w
}

func (w *switchSigner) PublicKey() gossh.PublicKey { return (*w.cur.Load()).PublicKey() }
func (w *switchSigner) Sign(r io.Reader, data []byte) (*gossh.Signature, error) {
	return (*w.cur.Load()).Sign(r, data)
}
func (w *switchSigner) swap(s gossh.Signer) { w.cur.Store(&s) }

// A re-key that presents another host key ends the connection, and every
// later call says so: the error is the *HostKeyError (ErrHostKeyChanged),
// and still matches ErrNotConnected and ErrDisconnected.
func TestRekeyWithAnotherHostKey(t *testing.T) {
	for _, by := range []string{"server", "client"} {
		t.Run(by, func(t *testing.T) {
			hostKey := newSwitchSigner(newEd25519(t))
			var dataSent sync.WaitGroup
			srv := hostileServer{
				config: func(cfg *gossh.ServerConfig) {
					cfg.AddHostKey(hostKey)
					if by == "server" {
						cfg.RekeyThreshold = 256 << 10
					}
				},
				onChannel: func(sc *gossh.ServerConn, nc gossh.NewChannel) {
					ch, reqs, err := nc.Accept()
					if err != nil {
						return
					}
					go gossh.DiscardRequests(reqs)
					dataSent.Add(1)
					go func() {
						defer dataSent.Done()
						// Enough traffic both ways for either side's re-key.
						go func() { _, _ = io.Copy(io.Discard, ch) }()
						for {
							if _, err := ch.Write(make([]byte, 32<<10)); err != nil {
								return
							}
						}
					}()
				},
			}
			opts := []Option{}
			if by == "client" {
				opts = append(opts, RekeyLimit(256<<10, 0))
			}
			s := srv.session(t, opts...)
			t.Cleanup(dataSent.Wait)
			hostKey.swap(newEd25519(t))
			ch := openSession(t, s)
			if by == "client" {
				go func() { _, _ = ch.Write(make([]byte, 4<<20)) }()
			}
			c := s.current()
			select {
			case <-c.done:
			case <-testCtx(t).Done():
				t.Fatal("the connection survived a changed host key")
			}
			if s.IsConnected() {
				t.Fatal("IsConnected after the host key changed")
			}
			later := map[string]func() error{
				"NewChannel": func() error { _, err := s.NewChannel(); return err },
				"UserauthNone": func() error {
					_, err := s.UserauthNone(testCtx(t), "")
					return err
				},
				"ListenForward": func() error { _, err := s.ListenForward(testCtx(t), "127.0.0.1", 0); return err },
				"OpenSession": func() error {
					return (&Channel{sess: s, c: c, ops: map[string]*pendingOp{}}).OpenSession(testCtx(t))
				},
				"AcceptHostKey": s.AcceptHostKey,
			}
			for name, call := range later {
				err := call()
				t.Logf("%s: %v", name, err)
				var hk *HostKeyError
				if !errors.As(err, &hk) || hk.State != KnownHostsChanged || !errors.Is(err, ErrHostKeyChanged) ||
					!errors.Is(err, ErrNotConnected) || !errors.Is(err, ErrDisconnected) {
					t.Errorf("%s: %v; want a *HostKeyError (changed) matching ErrHostKeyChanged, ErrNotConnected and ErrDisconnected", name, err)
				}
			}
		})
	}
}
