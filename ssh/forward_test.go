package ssh

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

func TestListenForwardAcceptAndCancel(t *testing.T) {
	s, srv := loggedIn(t)
	ctx := testCtx(t)

	port, err := s.ListenForward(ctx, "127.0.0.1", 0)
	if err != nil || port == 0 {
		t.Fatalf("ListenForward: %d, %v", port, err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	tc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	dest, ch, err := s.AcceptForward(ctx)
	if err != nil || dest != port {
		t.Fatalf("AcceptForward: %d, %v", dest, err)
	}
	defer ch.Close()
	nc := ch.NetConn()
	if got := nc.LocalAddr().String(); got != addr {
		t.Errorf("LocalAddr %s, want the listening address %s", got, addr)
	}
	if got := nc.RemoteAddr().String(); got != tc.LocalAddr().String() {
		t.Errorf("RemoteAddr %s, want the TCP client %s", got, tc.LocalAddr())
	}
	go fwdEchoHandler(nc, nil)
	if err := fwdExchange(t, tc, 1<<20); err != nil {
		t.Fatal(err)
	}

	if err := s.CancelForward(ctx, "127.0.0.1", port); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("the server still listens after CancelForward")
	}
	if err := s.CancelForward(ctx, "127.0.0.1", port); !errors.Is(err, ErrRequestDenied) {
		t.Fatalf("second cancel: %v", err)
	}

	// A fixed port, and a port the server cannot bind.
	busy := fwdListen(t, "tcp", "127.0.0.1:0")
	busyPort := busy.Addr().(*net.TCPAddr).Port
	if _, err := s.ListenForward(ctx, "127.0.0.1", busyPort); !errors.Is(err, ErrRequestDenied) {
		t.Fatalf("ListenForward on a busy port: %v", err)
	}
	busy.Close()
	if got, err := s.ListenForward(ctx, "localhost", busyPort); err != nil || got != busyPort {
		t.Fatalf("ListenForward on a fixed port: %d, %v", got, err)
	}
	if _, err := s.ListenForward(ctx, "", 70000); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("port 70000: %v", err)
	}
	if n := len(srv.ForwardRecords()); n != 5 {
		t.Fatalf("server saw %d forwarding requests, want 5", n)
	}
}

func TestForwardCallsNeedALogin(t *testing.T) {
	ctx := testCtx(t)
	s := NewSession()
	if _, err := s.ListenForward(ctx, "", 0); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("ListenForward unconnected: %v", err)
	}
	if _, _, err := s.AcceptForward(ctx); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("AcceptForward unconnected: %v", err)
	}
	if _, err := s.DialContext(ctx, "tcp", "127.0.0.1:1"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("DialContext unconnected: %v", err)
	}
	if s.AcceptAgentForward() != nil {
		t.Fatal("AcceptAgentForward unconnected")
	}
	_, srv := loggedIn(t)
	s = acceptedSession(t, srv, "alice")
	if err := s.ListenForwardUnix(ctx, "/tmp/x"); !errors.Is(err, ErrNotAuthenticated) {
		t.Fatalf("ListenForwardUnix before login: %v", err)
	}
}

// The application does not accept: 64 connections wait, the rest are
// refused at once, the session stays usable, and cancelling the listener
// refuses the waiting ones. Every TCP client of the server sees its
// connection end within the test's ctx.
func TestForwardQueueIsBoundedAndCancelRefusesPending(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	port, err := s.ListenForward(ctx, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	const clients = maxPendingOpens + 36
	ended := make(chan error, clients)
	var conns []net.Conn
	for range clients {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		go func() {
			_, err := c.Read(make([]byte, 1))
			ended <- err
		}()
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// A refusal happens only with the queue full, so after 36 refusals
	// exactly 64 connections wait.
	for range clients - maxPendingOpens {
		select {
		case err := <-ended:
			if err != io.EOF {
				t.Fatalf("refused connection: %v", err)
			}
		case <-ctx.Done():
			t.Fatal("excess connections were not refused")
		}
	}
	if n := s.current().existingForwarding().tcpQ.len(); n != maxPendingOpens {
		t.Fatalf("%d connections wait, want %d", n, maxPendingOpens)
	}
	if out, err := s.Output(ctx, "echo alive"); err != nil || string(out) != "alive\n" {
		t.Fatalf("session blocked by unaccepted forwards: %q, %v", out, err)
	}
	if err := s.CancelForward(ctx, "127.0.0.1", port); err != nil {
		t.Fatal(err)
	}
	for range maxPendingOpens {
		select {
		case <-ended:
		case <-ctx.Done():
			t.Fatal("pending connections were not refused after CancelForward")
		}
	}
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.AcceptForward(short); !errors.Is(err, context.Canceled) {
		t.Fatalf("AcceptForward after cancel: %v", err)
	}
}

func TestUnrequestedChannelsAreRefused(t *testing.T) {
	s, srv := loggedIn(t)
	ctx := testCtx(t)
	port, err := s.ListenForward(ctx, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ     string
		payload []byte
		reason  gossh.RejectionReason
	}{
		{"forwarded-tcpip", fwdPayload("127.0.0.1", port+1), gossh.Prohibited},
		{"forwarded-tcpip", []byte("garbage"), gossh.ConnectionFailed},
		{"forwarded-streamlocal@openssh.com", gossh.Marshal(struct{ Path, R string }{"/no/such", ""}), gossh.Prohibited},
		{"x11", gossh.Marshal(struct {
			A string
			P uint32
		}{"127.0.0.1", 1}), gossh.Prohibited},
		{"auth-agent@openssh.com", nil, gossh.Prohibited},
		{"session", nil, gossh.Prohibited},
	} {
		_, _, err := srv.OpenChannelToClient(ctx, "alice", tc.typ, tc.payload)
		if e := fwdOCE(err); e == nil || e.Reason != tc.reason {
			t.Errorf("%s: %v, want %v", tc.typ, err, tc.reason)
		}
	}
	// The requested port works, also with an address the server wrote
	// differently: the port decides.
	done := make(chan error, 1)
	go func() {
		ch, reqs, err := srv.OpenChannelToClient(ctx, "alice", "forwarded-tcpip", fwdPayload("0.0.0.0", port))
		if err == nil {
			go gossh.DiscardRequests(reqs)
			_, err = io.WriteString(ch, "x")
			ch.Close()
		}
		done <- err
	}()
	_, ch, err := s.AcceptForward(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := ch.NetConn().RemoteAddr().String(); got != "192.0.2.1:4242" {
		t.Fatalf("originator %s", got)
	}
}

func TestListenForwardUnix(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	path := filepath.Join(fwdTempDir(t), "remote.sock")
	if err := s.ListenForwardUnix(ctx, path); err != nil {
		t.Fatal(err)
	}
	uc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	got, ch, err := s.AcceptForwardUnix(ctx)
	if err != nil || got != path {
		t.Fatalf("AcceptForwardUnix: %q, %v", got, err)
	}
	defer ch.Close()
	go fwdEchoHandler(ch.NetConn(), nil)
	if err := fwdExchange(t, uc, 256<<10); err != nil {
		t.Fatal(err)
	}
	if err := s.CancelForwardUnix(ctx, path); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		t.Fatal("still listening after CancelForwardUnix")
	}
	if err := s.ListenForwardUnix(ctx, filepath.Join(fwdTempDir(t), "no", "dir.sock")); !errors.Is(err, ErrRequestDenied) {
		t.Fatalf("unbindable path: %v", err)
	}
}

func TestAcceptForwardNonBlockingAndDisconnect(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	if _, err := s.ListenForward(ctx, "127.0.0.1", 0); err != nil {
		t.Fatal(err)
	}
	s.SetBlocking(false)
	if _, _, err := s.AcceptForward(ctx); !errors.Is(err, ErrAgain) {
		t.Fatalf("non-blocking AcceptForward: %v", err)
	}
	if _, _, err := s.AcceptForwardUnix(ctx); !errors.Is(err, ErrAgain) {
		t.Fatalf("non-blocking AcceptForwardUnix: %v", err)
	}
	s.SetBlocking(true)
	errc := make(chan error, 1)
	go func() { _, _, err := s.AcceptForward(ctx); errc <- err }()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = s.Disconnect() }()
	// Woken while waiting, or too late to start: either way no hang.
	if err := <-errc; !errors.Is(err, ErrDisconnected) && !errors.Is(err, ErrNotConnected) {
		t.Fatalf("AcceptForward woken by Disconnect: %v", err)
	}
	wg.Wait()

	// The waiting itself, without the race of who comes first.
	c := &conn{done: make(chan struct{}), err: ErrDisconnected}
	q := newOpenQueue()
	go close(c.done)
	if _, err := q.pop(ctx, NewSession(), c); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("pop at the connection's end: %v", err)
	}
}

// fakeNewChannel records how an open was decided.
type fakeNewChannel struct {
	typ      string
	extra    []byte
	rejected chan gossh.RejectionReason
}

func (f *fakeNewChannel) Accept() (gossh.Channel, <-chan *gossh.Request, error) {
	return nil, nil, errors.New("fake")
}
func (f *fakeNewChannel) Reject(r gossh.RejectionReason, _ string) error {
	f.rejected <- r
	return nil
}
func (f *fakeNewChannel) ChannelType() string { return f.typ }
func (f *fakeNewChannel) ExtraData() []byte   { return f.extra }

// An open that overtakes the reply to its listen request waits for it.
func TestForwardOpenOvertakingTheListenReply(t *testing.T) {
	fw := &forwarding{c: &conn{log: slog.New(slog.DiscardHandler)}, ops: map[string]*fwdOp{}, tcpQ: newOpenQueue(), unixQ: newOpenQueue()}
	open := func(port int) *fakeNewChannel {
		return &fakeNewChannel{typ: typeForwardedTCPIP, extra: fwdPayload("127.0.0.1", port), rejected: make(chan gossh.RejectionReason, 1)}
	}
	fw.inflight = 2 // two listens in flight
	early, stray := open(2222), open(3333)
	fw.onForwardedTCPIP(early)
	fw.onForwardedTCPIP(stray)
	if len(fw.limbo) != 2 || fw.tcpQ.len() != 0 {
		t.Fatalf("limbo %d, queue %d", len(fw.limbo), fw.tcpQ.len())
	}
	fw.finish(true, &remoteListener{addr: "127.0.0.1", port: 2222}, nil)
	if fw.tcpQ.len() != 1 || len(fw.limbo) != 1 {
		t.Fatalf("after the first reply: queue %d, limbo %d", fw.tcpQ.len(), len(fw.limbo))
	}
	fw.finish(true, nil, ErrRequestDenied)
	if r := <-stray.rejected; r != gossh.Prohibited || len(fw.limbo) != 0 {
		t.Fatalf("stray open: %v, limbo %d", r, len(fw.limbo))
	}
	select {
	case r := <-early.rejected:
		t.Fatalf("early open refused: %v", r)
	default:
	}
}
