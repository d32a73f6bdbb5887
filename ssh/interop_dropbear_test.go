package ssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/faultrelay"
	"github.com/libssh-go/libssh/internal/interop"
)

// The same cases as against sshd (interop_*_test.go), against Dropbear
// 2022.83, the second most deployed server: auth, exec, transfer and
// forwarding, each on its own Dropbear (interop.StartDropbear).

// dropbearSession connects to env, checks that it is Dropbear, and accepts
// the host key after checking it against the harness's known_hosts file.
func dropbearSession(t *testing.T, env *interop.Env, opts ...Option) *Session {
	t.Helper()
	s := NewSession()
	base := []Option{ProcessConfig(false), Hostname(env.Host), Port(env.Port), User(env.User), SSHDir(t.TempDir()), IdentityAgent("none")}
	if err := s.SetOption(append(base, opts...)...); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	banner, err := s.ServerBanner()
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-dropbear_") {
		t.Fatalf("ServerBanner = %q, %v", banner, err)
	}
	key, err := s.ServerPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	known, err := os.ReadFile(env.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(known), key.AuthorizedKey()) {
		t.Fatalf("server key %s is not in the harness's known_hosts", key.Fingerprint())
	}
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	return s
}

// dropbearLoggedIn is dropbearSession logged in with the ed25519 key.
func dropbearLoggedIn(t *testing.T, env *interop.Env, opts ...Option) *Session {
	t.Helper()
	s := dropbearSession(t, env, opts...)
	key, err := ParsePrivateKeyFile(env.Keys["ed25519"].Private, "")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthPublicKey(testCtx(t), "", key); st != AuthSuccess || err != nil {
		t.Fatalf("login: %v, %v", st, err)
	}
	return s
}

func TestDropbearAuth(t *testing.T) {
	env := interop.StartDropbear(t, interop.DropbearOptions{})

	t.Run("methods: no keyboard-interactive", func(t *testing.T) {
		s := dropbearSession(t, env)
		if st, err := s.UserauthNone(testCtx(t), ""); st != AuthDenied || err != nil {
			t.Fatalf("none: %v, %v", st, err)
		}
		m, err := s.UserauthList("")
		if err != nil || !m.Has(AuthMethodPublicKey) || !m.Has(AuthMethodPassword) || m.Has(AuthMethodInteractive) {
			t.Fatalf("methods %v, %v; Dropbear offers publickey and password only", m, err)
		}
		// Asked anyway, Dropbear refuses it like any unknown method, and the
		// session goes on to another method.
		if st, err := s.UserauthKeyboardInteractive(testCtx(t), "", ""); st != AuthDenied || err != nil {
			t.Fatalf("keyboard-interactive: %v, %v", st, err)
		}
		key, err := ParsePrivateKeyFile(env.Keys["ed25519"].Private, "")
		if err != nil {
			t.Fatal(err)
		}
		if st, err := s.UserauthPublicKey(testCtx(t), "", key); st != AuthSuccess || err != nil {
			t.Fatalf("publickey after keyboard-interactive: %v, %v", st, err)
		}
		if who := interopWhoami(t, s); who != env.User {
			t.Fatalf("whoami = %q", who)
		}
	})

	t.Run("password", func(t *testing.T) {
		env.SkipWithoutPassword(t)
		s := dropbearSession(t, env)
		if st, err := s.UserauthPassword(testCtx(t), "", "wrong-"+env.Password); st != AuthDenied || err != nil {
			t.Fatalf("wrong password: %v, %v", st, err)
		}
		if st, err := s.UserauthPassword(testCtx(t), "", env.Password); st != AuthSuccess || err != nil {
			t.Fatalf("password: %v, %v", st, err)
		}
		if who := interopWhoami(t, s); who != env.User {
			t.Fatalf("whoami = %q", who)
		}
	})

	// Every key type Dropbear 2022.83 accepts. Its server-sig-algs lists
	// rsa-sha2-256 but not rsa-sha2-512, so the RSA key must sign with
	// SHA-256.
	for _, name := range []string{"ed25519", "ecdsa", "ecdsa384", "ecdsa521", "rsa"} {
		t.Run("publickey "+name, func(t *testing.T) {
			key, err := ParsePrivateKeyFile(env.Keys[name].Private, "")
			if err != nil {
				t.Fatal(err)
			}
			s := dropbearSession(t, env)
			if st, err := s.UserauthTryPublicKey(testCtx(t), "", NewKey(key.PublicKey())); st != AuthSuccess || err != nil {
				t.Fatalf("try: %v, %v", st, err)
			}
			if st, err := s.UserauthPublicKey(testCtx(t), "", key); st != AuthSuccess || err != nil {
				t.Fatalf("publickey: %v, %v", st, err)
			}
			if who := interopWhoami(t, s); who != env.User {
				t.Fatalf("whoami = %q", who)
			}
		})
	}

	t.Run("a key Dropbear does not know", func(t *testing.T) {
		s := dropbearSession(t, env)
		if st, err := s.UserauthTryPublicKey(testCtx(t), "", NewKey(newEd25519(t).PublicKey())); st != AuthDenied || err != nil {
			t.Fatalf("try: %v, %v", st, err)
		}
	})

	t.Run("encrypted via auto and callback", func(t *testing.T) {
		k := env.Keys["ed25519-enc"]
		s := dropbearSession(t, env, AddIdentity(k.Private))
		var prompts int
		s.SetAuthCallback(func(prompt string, echo, verify bool, identity string) (string, error) {
			prompts++
			if identity != k.Private || echo {
				t.Errorf("callback got identity %q echo %v", identity, echo)
			}
			return k.Passphrase, nil
		})
		if st, err := s.UserauthPublicKeyAuto(testCtx(t), "", ""); st != AuthSuccess || err != nil {
			t.Fatalf("auto: %v, %v", st, err)
		}
		if prompts != 1 {
			t.Fatalf("asked %d times for the passphrase", prompts)
		}
	})

	t.Run("agent", func(t *testing.T) {
		s := dropbearSession(t, env, IdentityAgent(env.AgentSock))
		if st, err := s.UserauthAgent(testCtx(t), ""); st != AuthSuccess || err != nil {
			t.Fatalf("agent: %v, %v", st, err)
		}
		if who := interopWhoami(t, s); who != env.User {
			t.Fatalf("whoami = %q", who)
		}
	})
}

// Each of Dropbear's host keys verifies against the known_hosts file the
// harness wrote, asked for by algorithm.
func TestDropbearHostKeys(t *testing.T) {
	env := interop.StartDropbear(t, interop.DropbearOptions{NoAgent: true})
	for _, c := range []struct{ alg, keyType string }{
		{"ssh-ed25519", "ssh-ed25519"},
		{"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"},
		{"rsa-sha2-256", "ssh-rsa"},
	} {
		t.Run(c.alg, func(t *testing.T) {
			s := khInteropSession(t, env, env.KnownHostsFile, HostKeys(c.alg))
			if st, err := s.IsKnownServer(); st != KnownHostsOK || err != nil {
				t.Fatalf("IsKnownServer = %v, %v", st, err)
			}
			key, err := s.ServerPublicKey()
			if err != nil || key.Type() != c.keyType {
				t.Fatalf("server key %v, %v; want type %s", key, err, c.keyType)
			}
			if st, err := khInteropLogin(t, env, s); st != AuthSuccess || err != nil {
				t.Fatalf("login = %v, %v", st, err)
			}
			alg, err := s.Algorithms()
			if err != nil || alg.HostKey != c.alg {
				t.Fatalf("Algorithms = %+v, %v; want host key %s", alg, err, c.alg)
			}
		})
	}
}

func TestDropbearExec(t *testing.T) {
	env := interop.StartDropbear(t, interop.DropbearOptions{NoAgent: true})
	s := dropbearLoggedIn(t, env)

	t.Run("exit codes and stderr", func(t *testing.T) {
		ctx := testCtx(t)
		res, err := s.Exec(ctx, "echo out; echo err >&2; exit 42", nil)
		if err != nil || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.ExitStatus != 42 {
			t.Fatalf("%+v, %v", res, err)
		}
		if res, err := s.Exec(ctx, "no-such-command-here", nil); err != nil || res.ExitStatus != 127 || !strings.Contains(string(res.Stderr), "not found") {
			t.Fatalf("missing command: %+v, %v", res, err)
		}
		var ee *ExitError
		if _, err := s.Output(ctx, "exit 3"); !errors.As(err, &ee) || ee.Status != 3 {
			t.Fatalf("Output of exit 3: %v", err)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		ctx := testCtx(t)
		res, err := s.Exec(ctx, "tr a-z A-Z", strings.NewReader("through dropbear\n"))
		if err != nil || string(res.Stdout) != "THROUGH DROPBEAR\n" || res.ExitStatus != 0 {
			t.Fatalf("%+v, %v", res, err)
		}
	})

	t.Run("signal", func(t *testing.T) {
		ctx := testCtx(t)
		ch := openSession(t, s)
		if err := ch.RequestExec(ctx, "echo started; exec sleep 100"); err != nil {
			t.Fatal(err)
		}
		// Once "started" arrives, the shell is about to exec sleep; a
		// TERM before the exec ends the shell, with the same outcome.
		line := make([]byte, len("started\n"))
		if _, err := io.ReadFull(ch, line); err != nil || string(line) != "started\n" {
			t.Fatalf("read %q, %v", line, err)
		}
		if err := ch.RequestSendSignal("TERM"); err != nil {
			t.Fatal(err)
		}
		_, err := ch.ExitStatus(ctx)
		sig, ok := ch.ExitSignal()
		if !errors.Is(err, ErrNoExitStatus) || !ok || sig.Signal != "TERM" {
			t.Fatalf("after TERM: %v, %+v", err, sig)
		}
	})

	t.Run("shell in a pty", func(t *testing.T) {
		ctx := testCtx(t)
		env.SkipWithoutPTY(t)
		ch := openSession(t, s)
		if err := ch.RequestPty(ctx, "xterm-256color", 100, 30); err != nil {
			t.Fatal(err)
		}
		if err := ch.RequestShell(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(ch, "echo TERM=$TERM; stty size; exit 3\n"); err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(ch)
		if !strings.Contains(string(out), "TERM=xterm-256color") || !strings.Contains(string(out), "30 100") {
			t.Fatalf("shell output %q", out)
		}
		if st, err := ch.ExitStatus(ctx); st != 3 || err != nil {
			t.Fatalf("exit %d, %v", st, err)
		}
	})

	t.Run("env is refused", func(t *testing.T) {
		ctx := testCtx(t)
		// Dropbear 2022.83 handles no "env" request (RFC 4254 §6.4 lets a
		// server refuse any), and the channel stays usable.
		ch := openSession(t, s)
		if err := ch.RequestEnv(ctx, "LIBSSH_TEST", "x"); !errors.Is(err, ErrRequestDenied) {
			t.Fatalf("env: %v", err)
		}
		if err := ch.RequestExec(ctx, "echo ${LIBSSH_TEST-unset}"); err != nil {
			t.Fatal(err)
		}
		if out, _ := io.ReadAll(ch); string(out) != "unset\n" {
			t.Fatalf("output %q", out)
		}
	})
}

// 64 MiB each way, hashed on both sides, through Dropbear's default
// 24 KiB receive window.
func TestDropbearTransfer64MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("large transfer")
	}
	env := interop.StartDropbear(t, interop.DropbearOptions{NoAgent: true})
	s := dropbearLoggedIn(t, env)
	const n = 64 << 20

	t.Run("upload", func(t *testing.T) {
		ctx := transferCtx(t)
		want := sha256.New()
		res, err := s.Exec(ctx, "sha256sum", io.TeeReader(&patternReader{left: n}, want))
		if err != nil || res.ExitStatus != 0 || !strings.HasPrefix(string(res.Stdout), hex.EncodeToString(want.Sum(nil))) {
			t.Fatalf("upload: %q, %v", res.Stdout, err)
		}
	})

	t.Run("download", func(t *testing.T) {
		ctx := transferCtx(t)
		ch := openSession(t, s)
		// The hash is taken by the shell itself, from a copy, before it
		// exits. Dropbear, unlike sshd, closes the channel once the command
		// has exited and stdout is drained, dropping what an orphan such as
		// tee >(sha256sum >&2) writes to stderr later; and /dev/fd/N cannot
		// be reopened in a session Dropbear started as root (EACCES: the
		// process is not dumpable after its change of user).
		cmd := fmt.Sprintf(`f=$(mktemp) && head -c %d /dev/urandom | tee "$f" && sha256sum <"$f" >&2; rm -f "$f"`, n)
		if err := ch.RequestExec(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		var remoteSum bytes.Buffer
		errDone := make(chan error, 1)
		go func() { _, err := io.Copy(&remoteSum, ch.Stderr()); errDone <- err }()
		got := sha256.New()
		counted, err := io.Copy(got, ch)
		if err != nil || counted != n {
			t.Fatalf("download: %d bytes, %v", counted, err)
		}
		if err := <-errDone; err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(remoteSum.String(), hex.EncodeToString(got.Sum(nil))) {
			t.Fatalf("download hash mismatch: remote %q", remoteSum.String())
		}
		if st, err := ch.ExitStatus(ctx); st != 0 || err != nil {
			t.Fatalf("exit %d, %v", st, err)
		}
	})
}

func TestDropbearForwarding(t *testing.T) {
	env := interop.StartDropbear(t, interop.DropbearOptions{NoAgent: true})
	s := dropbearLoggedIn(t, env)

	t.Run("direct-tcpip to a local echo server", func(t *testing.T) {
		ctx := testCtx(t)
		host, port := splitPort(t, fwdEchoServer(t, "tcp"))
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
	})

	t.Run("direct-tcpip to a closed port", func(t *testing.T) {
		ctx := testCtx(t)
		dead := fwdListen(t, "tcp", "127.0.0.1:0")
		_, deadPort := splitPort(t, dead.Addr().String())
		dead.Close()
		ch, err := s.NewChannel()
		if err != nil {
			t.Fatal(err)
		}
		var oce *OpenChannelError
		if err := ch.OpenForward(ctx, "127.0.0.1", deadPort, "", 0); !errors.As(err, &oce) || !errors.Is(err, ErrRequestDenied) {
			t.Fatalf("Dropbear connecting to a closed port: %v", err)
		}
		t.Logf("Dropbear refused with %v: %q", oce.Reason, oce.Message)
	})

	t.Run("remote forward 16 MiB; cancel is refused", func(t *testing.T) {
		ctx := transferCtx(t)
		port, err := s.ListenForward(ctx, "127.0.0.1", 0)
		if err != nil || port == 0 {
			t.Fatalf("ListenForward: %d, %v", port, err)
		}
		tc, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
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
		// 16 MiB: hundreds of rounds of Dropbear's 24 KiB window each way,
		// at a quarter of the time 64 MiB takes under -race.
		if err := fwdExchange(t, tc, 16<<20); err != nil {
			t.Fatal(err)
		}
		// Dropbear refuses cancel-tcpip-forward (DESIGN.md); the refusal is
		// an ErrRequestDenied and the session goes on.
		if err := s.CancelForward(ctx, "127.0.0.1", port); !errors.Is(err, ErrRequestDenied) {
			t.Fatalf("CancelForward: %v", err)
		}
		if out, err := s.Output(ctx, "echo alive"); err != nil || string(out) != "alive\n" {
			t.Fatalf("after the refused cancel: %q, %v", out, err)
		}
	})

	t.Run("-L, -R and DialContext carry HTTP", func(t *testing.T) {
		ctx := testCtx(t)
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
		if body := fwdHTTPGet(t, &http.Transport{DialContext: s.DialContext}, "http://"+web+"/dial"); body != "hello from /dial" {
			t.Fatalf("DialContext: %q", body)
		}
	})

	t.Run("direct-streamlocal is refused", func(t *testing.T) {
		ctx := testCtx(t)
		// Dropbear 2022.83 has no Unix-socket forwarding.
		sock := filepath.Join(worldDir(t), "echo.sock")
		fwdServe(t, fwdListen(t, "unix", sock), fwdEchoHandler)
		ch, err := s.NewChannel()
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.OpenForwardUnix(ctx, sock, "", 0); !errors.Is(err, ErrRequestDenied) {
			t.Fatalf("OpenForwardUnix: %v", err)
		}
	})
}

// `ssh-add -l` run through Dropbear lists the keys of the local agent.
func TestDropbearAgentForwarding(t *testing.T) {
	env := interop.StartDropbear(t, interop.DropbearOptions{})
	local := exec.Command(env.SSHAddBin, "-l")
	local.Env = append(os.Environ(), "SSH_AUTH_SOCK="+env.AgentSock)
	want, err := local.Output()
	if err != nil {
		t.Fatalf("local ssh-add -l: %v", err)
	}
	s := dropbearSession(t, env, ForwardAgent(true), IdentityAgent(env.AgentSock))
	ctx := testCtx(t)
	if st, err := s.UserauthAgent(ctx, ""); st != AuthSuccess || err != nil {
		t.Fatalf("agent: %v, %v", st, err)
	}
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
	if string(out) != string(want) {
		t.Fatalf("remote ssh-add -l:\n%s\nlocal:\n%s", out, want)
	}
}

// A connection that dies in the middle of a download is an error on every
// read path, never a clean end (DESIGN.md, Reliability rules): a relay
// between the client and Dropbear freezes (keepalives every 500 ms, 2
// unanswered end it) or closes the TCP connection once 1 MiB has come from
// the server, during a 64 MiB download.
func TestDropbearTruncatedDownload(t *testing.T) {
	env := interop.StartDropbear(t, interop.DropbearOptions{NoAgent: true})
	const n = 64 << 20
	download := fmt.Sprintf("head -c %d /dev/zero", n)
	reads := []struct {
		name string
		read func(t *testing.T, s *Session) (int64, error)
	}{
		{"Read", func(t *testing.T, s *Session) (int64, error) {
			ch := dropbearExecChannel(t, s, download)
			// Only Read: io.Copy would use WriteTo.
			return io.Copy(io.Discard, struct{ io.Reader }{ch})
		}},
		{"WriteTo", func(t *testing.T, s *Session) (int64, error) {
			return io.Copy(io.Discard, dropbearExecChannel(t, s, download))
		}},
		{"NetConn", func(t *testing.T, s *Session) (int64, error) {
			return io.Copy(io.Discard, struct{ io.Reader }{dropbearExecChannel(t, s, download).NetConn()})
		}},
		{"ExitStatus after the data", func(t *testing.T, s *Session) (int64, error) {
			ch := dropbearExecChannel(t, s, download)
			got, _ := io.Copy(io.Discard, ch)
			_, err := ch.ExitStatus(testCtx(t))
			return got, err
		}},
		{"Output", func(t *testing.T, s *Session) (int64, error) {
			out, err := s.Output(testCtx(t), download)
			return int64(len(out)), err
		}},
	}
	for _, action := range []faultrelay.Action{faultrelay.Freeze, faultrelay.Close} {
		relay := faultrelay.New(t, env.Addr)
		relay.Set(faultrelay.Fault{Dir: faultrelay.ServerToClient, After: 1 << 20, Action: action})
		for _, r := range reads {
			t.Run(action.String()+" "+r.name, func(t *testing.T) {
				s := dropbearLoggedIn(t, env, Port(relay.Port()), ServerAliveInterval(500*time.Millisecond), ServerAliveCountMax(2))
				got, err := r.read(t, s)
				if err == nil || errors.Is(err, io.EOF) || !errors.Is(err, ErrDisconnected) {
					t.Fatalf("after %d of %d bytes: %v; want an error matching ErrDisconnected", got, n, err)
				}
				if got >= n {
					t.Fatalf("all %d bytes arrived through a relay that stopped at 1 MiB", got)
				}
				select {
				case <-relay.Triggered():
				default:
					t.Fatal("the relay never applied its fault")
				}
				if s.IsConnected() {
					t.Error("IsConnected is true after the connection died")
				}
			})
		}
	}
}

// transferCtx bounds a test that moves tens of MiB through Dropbear's
// 24 KiB window: 10 s when the machine is idle, several times that on a
// loaded machine under -race, so testCtx's 30 s would flake.
func transferCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// dropbearExecChannel opens a session channel on s running command.
func dropbearExecChannel(t *testing.T, s *Session, command string) *Channel {
	t.Helper()
	ch := openSession(t, s)
	if err := ch.RequestExec(testCtx(t), command); err != nil {
		t.Fatal(err)
	}
	return ch
}
