package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/libssh-go/libssh/internal/interop"
	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// ncEnv makes the test binary act as a tiny `nc host:port` when it is run
// as a ProxyCommand: init runs before the test framework, so the process
// relays stdin/stdout to the address and exits.
const ncEnv = "LIBSSH_TEST_NC"

func init() {
	if addr := os.Getenv(ncEnv); addr != "" {
		os.Exit(runNC(addr))
	}
}

func runNC(addr string) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nc:", err)
		return 1
	}
	go func() {
		_, _ = io.Copy(c, os.Stdin)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(os.Stdout, c)
	return 0
}

// ncCommand is a ProxyCommand that reaches %h:%p through the helper above.
func ncCommand(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return "env " + ncEnv + "=%h:%p " + exe
}

// runEcho opens a session channel on s, runs "echo <word>" and returns the
// output.
func runEcho(t *testing.T, s *Session, word string) string {
	t.Helper()
	ch, err := s.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.OpenSession(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := ch.RequestExec(testCtx(t), "echo "+word); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(ch.Stdout())
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestProxyCommandCarriesTheSession(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {NoneAuth: true}}})
	s := NewSession()
	if err := s.SetOption(Hostname(srv.Host()), Port(srv.Port()), User("u"), SSHDir(t.TempDir()),
		ProcessConfig(false), ProxyCommand(ncCommand(t))); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	pc, ok := s.current().version.Conn.(*commandConn)
	if !ok {
		t.Fatalf("transport is %T, want the ProxyCommand", s.current().version.Conn)
	}
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess {
		t.Fatalf("auth: %v %v", st, err)
	}
	if got := runEcho(t, s, "via-proxy"); got != "via-proxy\n" {
		t.Fatalf("echo = %q", got)
	}
	pid := pc.pid()
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	// Reaped: the pid is gone, not a zombie waiting for us.
	if !processGone(pid) {
		t.Fatalf("ProxyCommand pid %d still exists after Disconnect ", pid)
	}
	if pc.cmd.ProcessState == nil {
		t.Fatal("ProxyCommand was not waited for")
	}
}

func TestProxyCommandThatExitsFailsConnect(t *testing.T) {
	s := NewSession()
	_ = s.SetOption(Hostname("h.invalid"), ProcessConfig(false), ProxyCommand("echo not-ssh; exit 3"))
	if err := s.Connect(testCtx(t)); err == nil {
		t.Fatal("Connect through a command that exits succeeded")
	}
	if s.IsConnected() {
		t.Fatal("connected")
	}
}

func TestProxyCommandRefusesShellMetacharacters(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"host", []Option{Hostname("a;touch${IFS}" + marker)}},
		{"host with $()", []Option{Hostname("$(touch${IFS}" + marker + ")")}},
		{"user", []Option{Hostname("h.invalid"), User("u`touch${IFS}" + marker + "`")}},
		{"leading dash", []Option{Hostname("-oProxyCommand=x")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSession()
			opts := append(tc.opts, ProcessConfig(false), ProxyCommand("nc %h %p %r"))
			if err := s.SetOption(opts...); err != nil {
				t.Skipf("SetOption already refuses it: %v", err)
			}
			err := s.Connect(testCtx(t))
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("Connect = %v, want ErrInvalidOption", err)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the command ran")
			}
		})
	}
}

func TestProxyCommandAndJumpTogetherRefused(t *testing.T) {
	s := NewSession()
	_ = s.SetOption(Hostname("h.invalid"), ProcessConfig(false), ProxyCommand("true"), ProxyJump("j.invalid"))
	if err := s.Connect(testCtx(t)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Connect = %v", err)
	}
}

func TestParseJumpList(t *testing.T) {
	good := map[string]string{
		"h":                    "h",
		"u@h":                  "u@h",
		"u@h:2222":             "u@h:2222",
		"[::1]:22":             "[::1]:22",
		"u@[fe80::1]":          "u@[fe80::1]",
		"ssh://u@h:2200":       "u@h:2200",
		"ssh://h/":             "h",
		"a,u@b:2,[::1]":        "[::1]",
		"user@domain@host:222": "user@domain@host:222",
	}
	for in, last := range good {
		hops, err := parseJumpList(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := hops[len(hops)-1].String(); got != last {
			t.Errorf("%q: last hop %q, want %q", in, got, last)
		}
	}
	for _, in := range []string{"", ",", "a,,b", "@h", "u@", "h:0", "h:70000", "h:x", "[::1", "[::1]x",
		"ssh://h/path", "::1", "a b", "h\n"} {
		if _, err := parseJumpList(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestProxyJumpMalformedIsAnError(t *testing.T) {
	s := NewSession()
	if err := s.SetOption(Hostname("h.invalid"), ProcessConfig(false), ProxyJump("a,,b")); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Connect = %v, want ErrInvalidOption", err)
	}
}

// jumpServer is a minimal SSH server for ProxyJump tests: it accepts user
// "hop" with password "pw" (or with any public key in keys) and forwards
// direct-tcpip channels. sshtest refuses direct-tcpip.
type jumpServer struct {
	ln      net.Listener
	key     gossh.Signer
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
	opened  []string // direct-tcpip destinations
	authLog []string
}

func newJumpServer(t *testing.T, pubkeys ...gossh.PublicKey) *jumpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	j := &jumpServer{ln: ln, key: newEd25519(t)}
	cfg := &gossh.ServerConfig{
		PasswordCallback: func(m gossh.ConnMetadata, pw []byte) (*gossh.Permissions, error) {
			j.log("password:" + m.User())
			if m.User() == "hop" && string(pw) == "pw" {
				return nil, nil
			}
			return nil, errors.New("denied")
		},
		PublicKeyCallback: func(m gossh.ConnMetadata, k gossh.PublicKey) (*gossh.Permissions, error) {
			for _, pk := range pubkeys {
				if string(pk.Marshal()) == string(k.Marshal()) {
					return nil, nil
				}
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(j.key)
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			j.mu.Lock()
			j.conns = append(j.conns, c)
			j.mu.Unlock()
			j.wg.Add(1)
			go j.serve(c, cfg)
		}
	}()
	t.Cleanup(j.close)
	return j
}

func (j *jumpServer) log(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.authLog = append(j.authLog, s)
}

func (j *jumpServer) close() {
	_ = j.ln.Close()
	j.mu.Lock()
	for _, c := range j.conns {
		_ = c.Close()
	}
	j.mu.Unlock()
	j.wg.Wait()
}

func (j *jumpServer) port() int { return j.ln.Addr().(*net.TCPAddr).Port }

func (j *jumpServer) serve(c net.Conn, cfg *gossh.ServerConfig) {
	defer j.wg.Done()
	defer c.Close()
	sc, chans, reqs, err := gossh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	j.wg.Add(1)
	go func() { defer j.wg.Done(); gossh.DiscardRequests(reqs) }()
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			_ = nc.Reject(gossh.UnknownChannelType, "no")
			continue
		}
		var req struct {
			Host       string
			Port       uint32
			OriginAddr string
			OriginPort uint32
		}
		if err := gossh.Unmarshal(nc.ExtraData(), &req); err != nil {
			_ = nc.Reject(gossh.ConnectionFailed, "bad request")
			continue
		}
		addr := net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port)))
		j.mu.Lock()
		j.opened = append(j.opened, addr)
		j.mu.Unlock()
		dst, err := net.Dial("tcp", addr)
		if err != nil {
			_ = nc.Reject(gossh.ConnectionFailed, err.Error())
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			_ = dst.Close()
			continue
		}
		j.wg.Add(3)
		go func() { defer j.wg.Done(); gossh.DiscardRequests(creqs) }()
		go func() { defer j.wg.Done(); _, _ = io.Copy(dst, ch); _ = dst.(*net.TCPConn).CloseWrite() }()
		go func() { defer j.wg.Done(); _, _ = io.Copy(ch, dst); _ = ch.Close(); _ = dst.Close() }()
	}
}

// knownHostsLine is a known_hosts entry for a server on 127.0.0.1.
func knownHostsLine(port int, key gossh.PublicKey) string {
	return fmt.Sprintf("[127.0.0.1]:%d %s", port, gossh.MarshalAuthorizedKey(key))
}

// TestProxyJumpTwoHops runs a command on a target reached through two jump
// hosts, each resolved from the config file, verified against known_hosts
// and logged in to with a password from the AuthCallback (asked once per
// hop) or a key; Disconnect tears the chain down.
func TestProxyJumpTwoHops(t *testing.T) {
	target := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {NoneAuth: true}}})
	dir := t.TempDir()
	keyPath, pub := writeKeyFile(t, dir, "hopkey", "")
	hop1 := newJumpServer(t)
	hop2 := newJumpServer(t, pub)

	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, []byte(knownHostsLine(hop1.port(), hop1.key.PublicKey())+knownHostsLine(hop2.port(), hop2.key.PublicKey())))
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, []byte(fmt.Sprintf(`Host hop1
  HostName 127.0.0.1
  Port %d
  User hop
  PubkeyAuthentication no
Host hop2
  HostName 127.0.0.1
  Port %d
  User hop
  IdentityFile %s
  IdentityAgent none
Host target
  HostName 127.0.0.1
  Port %d
  User u
  ProxyJump hop1,hop2
Host *
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
`, hop1.port(), hop2.port(), keyPath, target.Port(), kh)))

	var prompts []string
	s := NewSession()
	s.SetAuthCallback(func(prompt string, echo, verify bool, identity string) (string, error) {
		prompts = append(prompts, prompt)
		return "pw", nil
	})
	if err := s.SetOption(Hostname("target"), SSHDir(dir)); err != nil {
		t.Fatal(err)
	}
	if err := s.OptionsParseConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	jc, ok := s.current().version.Conn.(*jumpConn)
	if !ok || len(jc.hops) != 2 {
		t.Fatalf("transport %T is not a two-hop chain", s.current().version.Conn)
	}
	if err := s.AcceptHostKey(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess {
		t.Fatalf("auth: %v %v", st, err)
	}
	if got := runEcho(t, s, "through-two-hops"); got != "through-two-hops\n" {
		t.Fatalf("echo = %q", got)
	}
	if len(prompts) != 1 || !strings.Contains(prompts[0], "hop@127.0.0.1") {
		t.Fatalf("prompts %q, want one password prompt for hop1", prompts)
	}
	hop2Addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(hop2.port()))
	targetAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(target.Port()))
	if hop1.opened[0] != hop2Addr || hop2.opened[0] != targetAddr {
		t.Fatalf("hop1 opened %v, hop2 opened %v", hop1.opened, hop2.opened)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	for i, h := range jc.hops {
		if h.IsConnected() {
			t.Fatalf("hop %d still connected after Disconnect", i)
		}
	}
}

func TestProxyJumpRefusesUnknownHopKey(t *testing.T) {
	target := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {NoneAuth: true}}})
	hop := newJumpServer(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "known_hosts"), nil)
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, []byte(fmt.Sprintf("Host *\n  UserKnownHostsFile %s/known_hosts\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n", dir)))
	asked := false
	s := NewSession()
	s.SetAuthCallback(func(string, bool, bool, string) (string, error) { asked = true; return "pw", nil })
	_ = s.SetOption(Hostname(target.Host()), Port(target.Port()), SSHDir(dir),
		ProxyJump(fmt.Sprintf("hop@127.0.0.1:%d", hop.port())))
	if err := s.OptionsParseConfig(cfg); err != nil {
		t.Fatal(err)
	}
	err := s.Connect(testCtx(t))
	var hk *HostKeyError
	if !errors.As(err, &hk) {
		t.Fatalf("Connect = %v, want a *HostKeyError", err)
	}
	if asked || len(hop.authLog) > 0 {
		t.Fatalf("credentials were asked for (%v) or sent (%v) before the hop key was verified", asked, hop.authLog)
	}
}

func TestProxyJumpToItselfIsALoop(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, []byte("Host *\n  ProxyJump %r@%h\n"))
	s := NewSession()
	_ = s.SetOption(Hostname("a.invalid"), SSHDir(dir))
	if err := s.OptionsParseConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "loop") {
		t.Fatalf("Connect = %v, want a jump host loop", err)
	}
}

func TestProxyJumpConfigLoopIsBounded(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	// Each jump host's own ProxyJump names the other: an endless chain.
	writeFile(t, cfg, []byte("Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n"))
	s := NewSession()
	_ = s.SetOption(Hostname("a"), SSHDir(dir))
	if err := s.OptionsParseConfig(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	if err := s.Connect(ctx); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "nested") {
		t.Fatalf("Connect = %v, want the nesting limit", err)
	}
}

// interopProxyConfig writes a config for the real sshd: hop1, hop2 and
// target all name it, with its known_hosts and the harness's key.
func interopProxyConfig(t *testing.T, env *interop.Env, extra string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "config")
	writeFile(t, path, []byte(fmt.Sprintf(`Host hop1 hop2 target
  HostName 127.0.0.1
  Port %d
  User %s
  IdentityFile %s
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
%s`, env.Port, env.User, env.Keys["ed25519"].Private, env.KnownHostsFile, extra)))
	return dir, path
}

// interopRun logs in to s with the configured key (the host key is decided
// by StrictHostKeyChecking against known_hosts) and runs whoami.
func interopRun(t *testing.T, s *Session) string {
	t.Helper()
	if st, err := s.UserauthPublicKeyAuto(testCtx(t), "", ""); st != AuthSuccess {
		t.Fatalf("UserauthPublicKeyAuto: %v %v", st, err)
	}
	return strings.TrimSpace(interopWhoami(t, s))
}

func TestInteropProxyCommandSSHW(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	k := env.Keys["ed25519"]
	dir, cfg := interopProxyConfig(t, env, fmt.Sprintf(
		"Host target\n  ProxyCommand %s -F /dev/null -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes -p %d -l %s -W %%h:%%p %s\n",
		env.SSHBin, k.Private, env.KnownHostsFile, env.Port, env.User, env.Host))
	s := NewSession()
	_ = s.SetOption(Hostname("target"), SSHDir(dir))
	if err := s.OptionsParseConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer s.Disconnect()
	pc, ok := s.current().version.Conn.(*commandConn)
	if !ok {
		t.Fatalf("transport %T", s.current().version.Conn)
	}
	if got := interopRun(t, s); got != env.User {
		t.Fatalf("whoami = %q", got)
	}
	pid := pc.pid()
	_ = s.Disconnect()
	if !processGone(pid) {
		t.Fatalf("ssh -W (pid %d) survived Disconnect", pid)
	}
}

func TestInteropProxyJumpTwoHops(t *testing.T) {
	env := interop.Start(t, interop.Options{NoAgent: true})
	dir, cfg := interopProxyConfig(t, env, "Host target\n  ProxyJump hop1,hop2\n")
	s := NewSession()
	_ = s.SetOption(Hostname("target"), SSHDir(dir))
	if err := s.OptionsParseConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer s.Disconnect()
	jc, ok := s.current().version.Conn.(*jumpConn)
	if !ok || len(jc.hops) != 2 {
		t.Fatalf("transport %T", s.current().version.Conn)
	}
	if got := interopRun(t, s); got != env.User {
		t.Fatalf("whoami = %q", got)
	}
	_ = s.Disconnect()
	for i, h := range jc.hops {
		if h.IsConnected() {
			t.Fatalf("hop %d still connected", i)
		}
	}
}

// A destination the jump host cannot reach is a connect failure, as a
// refused TCP connect is: the error matches ErrConnect, and the jump host's
// refusal (RFC 4254 §7.2 open failure) stays reachable.
func TestProxyJumpUnreachableDestinationIsErrConnect(t *testing.T) {
	hop := newJumpServer(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, []byte(knownHostsLine(hop.port(), hop.key.PublicKey())))
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, []byte(fmt.Sprintf(`Host hop
  HostName 127.0.0.1
  Port %d
  User hop
  PubkeyAuthentication no
Host *
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
`, hop.port(), kh)))
	s := NewSession()
	t.Cleanup(func() { s.Disconnect() })
	s.SetAuthCallback(func(string, bool, bool, string) (string, error) { return "pw", nil })
	if err := s.SetOption(Hostname("127.0.0.1"), Port(closedPort), User("u"), SSHDir(dir), ProxyJump("hop")); err != nil {
		t.Fatal(err)
	}
	if err := s.OptionsParseConfig(cfg); err != nil {
		t.Fatal(err)
	}
	err = s.Connect(testCtx(t))
	var oce *gossh.OpenChannelError
	if !errors.Is(err, ErrConnect) || !errors.As(err, &oce) || oce.Reason != gossh.ConnectionFailed {
		t.Fatalf("Connect = %v; want ErrConnect with the hop's connect-failed refusal", err)
	}
	if s.IsConnected() {
		t.Fatal("connected")
	}
}
