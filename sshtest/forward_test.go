package sshtest

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// echoListener serves echo on ln until the test ends.
func echoListener(t *testing.T, ln net.Listener) string {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func echoServer(t *testing.T, network, addr string) string {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return echoListener(t, ln)
}

func roundTrip(t *testing.T, c io.ReadWriter, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo: %q, %v", got, err)
	}
}

func forwardServer(t *testing.T) (*Server, *ssh.Client) {
	s := New(t, Config{Users: map[string]User{"alice": {NoneAuth: true}}})
	return s, connect(t, s, clientConfig(s, "alice"))
}

func TestServerRemoteForwardTCP(t *testing.T) {
	s, c := forwardServer(t)
	// x/crypto's Listen sends tcpip-forward with port 0 and reads the port
	// from the reply.
	ln, err := c.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if port == 0 {
		t.Fatal("no port bound")
	}
	echoListener(t, ln) // the client echoes what the server forwards
	tc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	roundTrip(t, tc, "through the forwarded port")

	ln.Close() // sends cancel-tcpip-forward and waits for the reply
	if c2, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
		c2.Close()
		t.Fatal("listener still open after cancel")
	}
	recs := s.ForwardRecords()
	if len(recs) != 2 || recs[0].Type != "tcpip-forward" || !recs[0].OK || recs[1].Type != "cancel-tcpip-forward" || !recs[1].OK || recs[1].Port != port {
		t.Fatalf("records: %+v", recs)
	}
}

func TestServerRemoteForwardUnix(t *testing.T) {
	_, c := forwardServer(t)
	path := filepath.Join(t.TempDir(), "fwd.sock")
	ln, err := c.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	echoListener(t, ln)
	uc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	roundTrip(t, uc, "over a unix socket")
}

func TestServerDirectTCPIPAndStreamlocal(t *testing.T) {
	s, c := forwardServer(t)
	addr := echoServer(t, "tcp", "127.0.0.1:0")
	conn, err := c.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, conn, "direct-tcpip")
	conn.Close()

	sock := echoServer(t, "unix", filepath.Join(t.TempDir(), "echo.sock"))
	conn, err = c.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, conn, "direct-streamlocal")
	conn.Close()

	// A destination that refuses is a refused channel.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	_, err = c.Dial("tcp", deadAddr)
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.ConnectionFailed {
		t.Fatalf("dial to a closed port: %v", err)
	}
	recs := s.ForwardRecords()
	if len(recs) != 3 || recs[0].Type != "direct-tcpip" || !recs[0].OK || recs[1].Path != sock || recs[2].OK {
		t.Fatalf("records: %+v", recs)
	}
}

func TestServerOpenChannelToClient(t *testing.T) {
	s, c := forwardServer(t)
	ctx := context.Background()
	x11 := c.HandleChannelOpen("x11")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc := <-x11
		ch, reqs, err := nc.Accept()
		if err != nil {
			return
		}
		go ssh.DiscardRequests(reqs)
		io.Copy(ch, ch)
		ch.Close()
	}()
	ch, reqs, err := s.OpenChannelToClient(ctx, "alice", "x11", ssh.Marshal(struct {
		Addr string
		Port uint32
	}{"127.0.0.1", 6010}))
	if err != nil {
		t.Fatal(err)
	}
	go ssh.DiscardRequests(reqs)
	roundTrip(t, ch, "x11 bytes")
	ch.CloseWrite()
	io.Copy(io.Discard, ch)
	ch.Close()
	wg.Wait()

	// x/crypto refuses types nobody handles.
	_, _, err = s.OpenChannelToClient(ctx, "", "auth-agent@openssh.com", nil)
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) {
		t.Fatalf("agent channel to a client that does not handle it: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := s.OpenChannelToClient(short, "bob", "x11", nil); !errors.Is(err, ErrNoClient) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestServerOpenChannelToClientGivesUp(t *testing.T) {
	s, c := forwardServer(t)
	pending := c.HandleChannelOpen("hold-me") // never answered
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := s.OpenChannelToClient(ctx, "alice", "hold-me", nil)
		done <- err
	}()
	nc := <-pending
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	// Accepted later, the abandoned channel is closed by the server.
	ch, reqs, err := nc.Accept()
	if err != nil {
		t.Fatal(err)
	}
	go ssh.DiscardRequests(reqs)
	if _, err := ch.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read on abandoned channel: %v", err)
	}
}
