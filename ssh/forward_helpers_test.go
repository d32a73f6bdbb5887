package ssh

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libssh-go/libssh/sshtest"
)

func splitPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	return host, port
}

func TestLocalForwardCarriesHTTP(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	host, port := splitPort(t, fwdHTTPServer(t))
	fw, err := s.LocalForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: port})
	if err != nil {
		t.Fatal(err)
	}
	if body := fwdHTTPGet(t, nil, "http://"+fw.Addr().String()+"/L"); body != "hello from /L" {
		t.Fatalf("GET through -L: %q", body)
	}
	// A destination the server cannot reach: the local connection is
	// closed, the forward goes on.
	bad, err := s.LocalForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: "127.0.0.1", ConnectPort: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", bad.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a refused forward")
	}
	c.Close()
	if err := bad.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bad.Wait(); err != nil {
		t.Fatalf("Wait after Close: %v", err)
	}

	// A Unix socket on either side.
	sock := filepath.Join(fwdTempDir(t), "l.sock")
	ufw, err := s.LocalForward(ctx, Forward{ListenPath: sock, ConnectPath: fwdEchoServer(t, "unix")})
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := fwdExchange(t, uc, 512<<10); err != nil {
		t.Fatal(err)
	}
	uc.Close()
	_ = ufw.Close()

	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", fw.Addr().String()); err == nil {
		c.Close()
		t.Fatal("still listening after Close")
	}
	if _, err := s.LocalForward(ctx, Forward{ListenPort: 0}); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("forward without destination: %v", err)
	}
}

func TestRemoteForwardCarriesHTTP(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	host, port := splitPort(t, fwdHTTPServer(t))
	fw, err := s.RemoteForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: port})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	_, bound := splitPort(t, fw.Addr().String())
	if bound == 0 {
		t.Fatalf("Addr %s", fw.Addr())
	}
	// The test server listens on 127.0.0.1 of this machine.
	if body := fwdHTTPGet(t, nil, "http://127.0.0.1:"+strconv.Itoa(bound)+"/R"); body != "hello from /R" {
		t.Fatalf("GET through -R: %q", body)
	}
	// Connections of a RemoteForward never reach AcceptForward.
	s.SetBlocking(false)
	if _, _, err := s.AcceptForward(ctx); !errors.Is(err, ErrAgain) {
		t.Fatalf("AcceptForward saw a RemoteForward connection: %v", err)
	}
	s.SetBlocking(true)

	// A local target that refuses: the server's channel is refused and
	// its TCP client sees the connection end.
	dead := fwdListen(t, "tcp", "127.0.0.1:0")
	_, deadPort := splitPort(t, dead.Addr().String())
	dead.Close()
	rfw, err := s.RemoteForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: "127.0.0.1", ConnectPort: deadPort})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", rfw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read from a refused remote forward: %v", err)
	}
	c.Close()
	_ = rfw.Close()
	// Close cancelled the server's listener without waiting; the server
	// answers requests in order, so a second cancel finds nothing.
	_, rport := splitPort(t, rfw.Addr().String())
	if err := s.CancelForward(ctx, "127.0.0.1", rport); !errors.Is(err, ErrRequestDenied) {
		t.Fatalf("listener still there after Close: %v", err)
	}

	if _, err := s.RemoteForward(ctx, Forward{ListenPort: 0}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("dynamic remote forward: %v", err)
	}
}

func TestDynamicForwardSOCKS(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	web := fwdHTTPServer(t)
	fw, err := s.DynamicForward(ctx, Forward{ListenHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	proxy := &url.URL{Scheme: "socks5", Host: fw.Addr().String()}
	if body := fwdHTTPGet(t, &http.Transport{Proxy: http.ProxyURL(proxy)}, "http://"+web+"/D"); body != "hello from /D" {
		t.Fatalf("GET through -D: %q", body)
	}
	_, webPort := splitPort(t, web)
	echo := fwdEchoServer(t, "tcp")
	_, echoPort := splitPort(t, echo)
	portBytes := func(p int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(p)) }

	dial := func() net.Conn {
		c, err := net.Dial("tcp", fw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	expect := func(c net.Conn, want []byte) {
		t.Helper()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(want) {
			t.Fatalf("reply % x, want % x (%v)", got, want, err)
		}
	}

	// SOCKS4 with an IP address.
	c := dial()
	req := append([]byte{4, 1}, portBytes(echoPort)...)
	req = append(append(req, 127, 0, 0, 1), "user\x00"...)
	_, _ = c.Write(req)
	expect(c, []byte{0, 90, 0, 0, 0, 0, 0, 0})
	_, _ = io.WriteString(c, "socks4")
	expect(c, []byte("socks4"))

	// SOCKS4a with a name the server resolves.
	c = dial()
	req = append([]byte{4, 1}, portBytes(echoPort)...)
	req = append(append(req, 0, 0, 0, 1), "\x00localhost\x00"...)
	_, _ = c.Write(req)
	expect(c, []byte{0, 90, 0, 0, 0, 0, 0, 0})
	_, _ = io.WriteString(c, "socks4a")
	expect(c, []byte("socks4a"))

	// SOCKS5 with a domain name, then an HTTP request by hand.
	c = dial()
	_, _ = c.Write([]byte{5, 1, 0})
	expect(c, []byte{5, 0})
	req = append([]byte{5, 1, 0, 3, 9}, "localhost"...)
	_, _ = c.Write(append(req, portBytes(webPort)...))
	expect(c, []byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	_, _ = io.WriteString(c, "GET /5 HTTP/1.0\r\n\r\n")
	resp, _ := io.ReadAll(c)
	if !strings.Contains(string(resp), "hello from /5") {
		t.Fatalf("SOCKS5 by hand: %q", resp)
	}

	// Refusals: a closed port, BIND, a client wanting authentication,
	// a bad version.
	dead := fwdListen(t, "tcp", "127.0.0.1:0")
	_, deadPort := splitPort(t, dead.Addr().String())
	dead.Close()
	c = dial()
	_, _ = c.Write([]byte{5, 1, 0})
	expect(c, []byte{5, 0})
	_, _ = c.Write(append([]byte{5, 1, 0, 1, 127, 0, 0, 1}, portBytes(deadPort)...))
	expect(c, []byte{5, socks5ConnectionRefused, 0, 1, 0, 0, 0, 0, 0, 0})

	c = dial()
	_, _ = c.Write([]byte{5, 1, 0})
	expect(c, []byte{5, 0})
	_, _ = c.Write(append([]byte{5, 2, 0, 1, 127, 0, 0, 1}, portBytes(echoPort)...))
	expect(c, []byte{5, socks5CommandUnsupported, 0, 1, 0, 0, 0, 0, 0, 0})

	c = dial()
	_, _ = c.Write([]byte{5, 1, 2})
	expect(c, []byte{5, 0xff})

	c = dial()
	_, _ = c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a non-SOCKS client got an answer")
	}

	if _, err := s.DynamicForward(ctx, Forward{ConnectHost: "x", ConnectPort: 1}); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("DynamicForward with a destination: %v", err)
	}
}

// The helpers behave as in blocking mode when the session is not.
func TestForwardHelpersInNonBlockingMode(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	web := fwdHTTPServer(t)
	host, port := splitPort(t, web)
	s.SetBlocking(false)
	defer s.SetBlocking(true)
	local, err := s.LocalForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: port})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	remote, err := s.RemoteForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: port})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	for _, addr := range []string{local.Addr().String(), remote.Addr().String()} {
		if body := fwdHTTPGet(t, nil, "http://"+addr+"/nb"); body != "hello from /nb" {
			t.Fatalf("GET via %s: %q", addr, body)
		}
	}
	if _, err := s.ListenForward(ctx, "127.0.0.1", 0); !errors.Is(err, ErrAgain) {
		t.Fatalf("libssh-style ListenForward in non-blocking mode: %v", err)
	}
}

// Forwarders end with the connection, and Wait says so.
func TestForwardersStopAtDisconnect(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	host, port := splitPort(t, fwdHTTPServer(t))
	var fws []*Forwarder
	for _, start := range []func() (*Forwarder, error){
		func() (*Forwarder, error) {
			return s.LocalForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: port})
		},
		func() (*Forwarder, error) {
			return s.RemoteForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: port})
		},
		func() (*Forwarder, error) { return s.DynamicForward(ctx, Forward{ListenHost: "127.0.0.1"}) },
	} {
		fw, err := start()
		if err != nil {
			t.Fatal(err)
		}
		fws = append(fws, fw)
	}
	// A local connection that stays open across the Disconnect.
	hold, err := net.Dial("tcp", fws[0].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	if _, err := io.WriteString(hold, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	for _, fw := range fws {
		select {
		case <-fw.Done():
		default:
			t.Fatalf("%s forward still running after Disconnect", fw.kind)
		}
		if err := fw.Wait(); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("%s Wait: %v", fw.kind, err)
		}
		_ = fw.Close()
	}
}

func TestStartConfiguredForwards(t *testing.T) {
	host, port := splitPort(t, fwdHTTPServer(t))
	sock := filepath.Join(fwdTempDir(t), "cfg.sock")
	target := net.JoinHostPort(host, strconv.Itoa(port))
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	s := acceptedSession(t, srv, "alice",
		LocalForward(sock+" "+target),
		RemoteForward("127.0.0.1:0 "+target),
		RemoteForward("127.0.0.1:0"), // dynamic remote: not supported, reported
	)
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatalf("login: %v, %v", st, err)
	}
	fws, err := s.StartConfiguredForwards(testCtx(t))
	if len(fws) != 2 || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("started %d, %v", len(fws), err)
	}
	defer func() {
		for _, fw := range fws {
			_ = fw.Close()
		}
	}()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	if body := fwdHTTPGet(t, tr, "http://x/cfgL"); body != "hello from /cfgL" {
		t.Fatalf("configured -L: %q", body)
	}
	if body := fwdHTTPGet(t, nil, "http://"+fws[1].Addr().String()+"/cfgR"); body != "hello from /cfgR" {
		t.Fatalf("configured -R: %q", body)
	}
}
