package ssh

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libssh-go/libssh/internal/interop"
)

// worldDir is a temporary directory sshd, acting as the test user, can
// use: Unix sockets the server connects to or creates live there.
func worldDir(t *testing.T) string {
	t.Helper()
	dir := fwdTempDir(t)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// OpenSSH's defaults allow TCP, agent and Unix-socket forwarding.
func TestInteropForwarding(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	s := interopLoggedIn(t, env)
	ctx := testCtx(t)

	t.Run("remote forward 64 MiB and cancel", func(t *testing.T) {
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
		go fwdEchoHandler(ch.NetConn(), nil)
		if err := fwdExchange(t, tc, 64<<20); err != nil {
			t.Fatal(err)
		}
		if err := s.CancelForward(ctx, "127.0.0.1", port); err != nil {
			t.Fatal(err)
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Fatal("sshd still listens after CancelForward")
		}
	})

	t.Run("direct-tcpip to a local echo server", func(t *testing.T) {
		addr := fwdEchoServer(t, "tcp")
		host, port := splitPort(t, addr)
		ch, err := s.NewChannel()
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		if err := ch.OpenForward(ctx, host, port, "127.0.0.1", 40000); err != nil {
			t.Fatal(err)
		}
		if err := fwdExchange(t, ch.NetConn(), 8<<20); err != nil {
			t.Fatal(err)
		}
		dead := fwdListen(t, "tcp", "127.0.0.1:0")
		_, deadPort := splitPort(t, dead.Addr().String())
		dead.Close()
		bad, _ := s.NewChannel()
		var oce *OpenChannelError
		if err := bad.OpenForward(ctx, "127.0.0.1", deadPort, "", 0); !errors.As(err, &oce) || !errors.Is(err, ErrRequestDenied) {
			t.Fatalf("sshd connecting to a closed port: %v", err)
		}
	})

	t.Run("direct-streamlocal to a unix socket", func(t *testing.T) {
		sock := filepath.Join(worldDir(t), "echo.sock")
		fwdServe(t, fwdListen(t, "unix", sock), fwdEchoHandler)
		if err := os.Chmod(sock, 0o777); err != nil {
			t.Fatal(err)
		}
		ch, err := s.NewChannel()
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		if err := ch.OpenForwardUnix(ctx, sock, "", 0); err != nil {
			t.Fatal(err)
		}
		if err := fwdExchange(t, ch.NetConn(), 1<<20); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("remote streamlocal forward", func(t *testing.T) {
		sock := filepath.Join(worldDir(t), "remote.sock")
		if err := s.ListenForwardUnix(ctx, sock); err != nil {
			t.Fatal(err)
		}
		uc, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer uc.Close()
		path, ch, err := s.AcceptForwardUnix(ctx)
		if err != nil || path != sock {
			t.Fatalf("AcceptForwardUnix: %q, %v", path, err)
		}
		defer ch.Close()
		go fwdEchoHandler(ch.NetConn(), nil)
		if err := fwdExchange(t, uc, 1<<20); err != nil {
			t.Fatal(err)
		}
		if err := s.CancelForwardUnix(ctx, sock); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("-L -R -D carry HTTP", func(t *testing.T) {
		web := fwdHTTPServer(t)
		host, port := splitPort(t, web)
		local, err := s.LocalForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: port})
		if err != nil {
			t.Fatal(err)
		}
		defer local.Close()
		if body := fwdHTTPGet(t, nil, "http://"+local.Addr().String()+"/L"); body != "hello from /L" {
			t.Fatalf("-L: %q", body)
		}
		remote, err := s.RemoteForward(ctx, Forward{ListenHost: "127.0.0.1", ConnectHost: host, ConnectPort: port})
		if err != nil {
			t.Fatal(err)
		}
		defer remote.Close()
		if body := fwdHTTPGet(t, nil, "http://"+remote.Addr().String()+"/R"); body != "hello from /R" {
			t.Fatalf("-R: %q", body)
		}
		dynamic, err := s.DynamicForward(ctx, Forward{ListenHost: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		defer dynamic.Close()
		proxy := &url.URL{Scheme: "socks5", Host: dynamic.Addr().String()}
		if body := fwdHTTPGet(t, &http.Transport{Proxy: http.ProxyURL(proxy)}, "http://"+web+"/D"); body != "hello from /D" {
			t.Fatalf("-D: %q", body)
		}
		// And DialContext as net/http's dialer.
		if body := fwdHTTPGet(t, &http.Transport{DialContext: s.DialContext}, "http://"+web+"/dial"); body != "hello from /dial" {
			t.Fatalf("DialContext: %q", body)
		}
	})
}

// `ssh-add -l` on the server lists the keys of the local agent.
func TestInteropAgentForwarding(t *testing.T) {
	env := interop.Start(t, interop.Options{})
	local := exec.Command(env.SSHAddBin, "-l")
	local.Env = append(os.Environ(), "SSH_AUTH_SOCK="+env.AgentSock)
	want, err := local.Output()
	if err != nil {
		t.Fatalf("local ssh-add -l: %v", err)
	}

	run := func(t *testing.T, s *Session) string {
		t.Helper()
		ctx := testCtx(t)
		ch := openSession(t, s)
		if err := ch.RequestAuthAgent(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ch.RequestExec(ctx, "ssh-add -l"); err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(ch)
		if st, err := ch.ExitStatus(ctx); st != 0 || err != nil {
			t.Fatalf("remote ssh-add -l: exit %d, %v: %q", st, err, out)
		}
		return string(out)
	}

	t.Run("ForwardAgent", func(t *testing.T) {
		s := interopSession(t, env, ForwardAgent(true), IdentityAgent(env.AgentSock))
		if st, err := s.UserauthAgent(testCtx(t), ""); st != AuthSuccess {
			t.Fatalf("login: %v, %v", st, err)
		}
		if got := run(t, s); got != string(want) {
			t.Fatalf("remote ssh-add -l:\n%s\nlocal:\n%s", got, want)
		}
	})

	t.Run("without forwarding", func(t *testing.T) {
		s := interopLoggedIn(t, env)
		ctx := testCtx(t)
		// No auth-agent-req: sshd sets no SSH_AUTH_SOCK.
		out, err := s.CombinedOutput(ctx, "ssh-add -l")
		if err == nil || !strings.Contains(string(out), "agent") {
			t.Fatalf("ssh-add without forwarding: %q, %v", out, err)
		}
	})

	t.Run("AcceptAgentForward", func(t *testing.T) {
		s := interopLoggedIn(t, env)
		s.EnableAcceptAgentForward(true)
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		// The application relays accepted agent channels to the agent
		// itself.
		relayed := make(chan struct{})
		go func() {
			defer close(relayed)
			events := s.Events()
			for {
				if ch := s.AcceptAgentForward(); ch != nil {
					relayAgent(ch, env.AgentSock)
					continue
				}
				select {
				case <-events:
				case <-ctx.Done():
					return
				}
			}
		}()
		got := run(t, s)
		cancel()
		<-relayed
		if got != string(want) {
			t.Fatalf("remote ssh-add -l:\n%s\nlocal:\n%s", got, want)
		}
	})
}

// relayAgent copies an accepted agent channel to and from the agent at
// sock until the server's side ends, with the public API only.
func relayAgent(ch *Channel, sock string) {
	defer ch.Close()
	c, err := net.Dial("unix", sock)
	if err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(c, ch) // until the server's EOF
		_ = c.Close()
	}()
	_, _ = io.Copy(ch, c) // until the agent connection is closed
	<-done
}

// sshd forwards an X11 client's connection to AcceptX11. sshd needs xauth
// to store the (fake) cookie; without it x11-req is refused.
func TestInteropX11Forwarding(t *testing.T) {
	if _, err := exec.LookPath("xauth"); err != nil {
		t.Skip("xauth is not installed; sshd refuses X11 forwarding without it")
	}
	env := interop.Start(t, interop.Options{NoAgent: true, ExtraConfig: []string{"X11Forwarding yes", "X11UseLocalhost yes"}})
	s := interopLoggedIn(t, env)
	ctx := testCtx(t)
	ch := openSession(t, s)
	if err := ch.RequestX11(ctx, true, "", "", 0); err != nil {
		t.Fatal(err)
	}
	// An "X client" on the server: connect to the display sshd set up,
	// send a greeting, print the answer.
	script := `d=${DISPLAY#*:}; d=${d%.*}; exec 3<>/dev/tcp/127.0.0.1/$((6000+d)) && printf 'x11-hello' >&3 && head -c 8 <&3`
	if err := ch.RequestExec(ctx, "bash -c '"+script+"'"); err != nil {
		t.Fatal(err)
	}
	x, err := ch.AcceptX11(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	hello := make([]byte, len("x11-hello"))
	if _, err := io.ReadFull(x, hello); err != nil || string(hello) != "x11-hello" {
		t.Fatalf("X client sent %q, %v", hello, err)
	}
	if _, err := io.WriteString(x, "x-server"); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(ch)
	if string(out) != "x-server" {
		t.Fatalf("X client received %q", out)
	}
}
