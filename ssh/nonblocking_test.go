package ssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// waitNews blocks until the session reports news or the test's bound ends:
// non-blocking tests wait on Events, never by sleeping.
func waitNews(t *testing.T, s *Session, ctx context.Context) {
	t.Helper()
	select {
	case <-s.Events():
	case <-ctx.Done():
		t.Fatal("no news from the session before the test's deadline")
	}
}

// untilDone repeats a non-blocking call until it stops answering "again".
func untilDone[T any](t *testing.T, s *Session, call func() (T, error), again func(T, error) bool) (T, error) {
	t.Helper()
	ctx := testCtx(t)
	for {
		_, _ = s.PollState()
		v, err := call()
		if !again(v, err) {
			return v, err
		}
		waitNews(t, s, ctx)
	}
}

func authAgain(st AuthStatus, _ error) bool { return st == AuthAgain }
func errAgain[T any](_ T, err error) bool   { return errors.Is(err, ErrAgain) }

func TestNonBlockingAuthEveryMethod(t *testing.T) {
	dir := t.TempDir()
	encPath, encPub := writeKeyFile(t, dir, "enc_key", "pp")
	agentKey := newEd25519Raw(t)
	sock := startAgent(t, nil, agentKey)
	plain := newEd25519(t)
	cases := []struct {
		name string
		user sshtest.User
		run  func(s *Session) (AuthStatus, error)
	}{
		{"none", sshtest.User{NoneAuth: true}, func(s *Session) (AuthStatus, error) {
			return s.UserauthNone(context.Background(), "")
		}},
		{"password", sshtest.User{Password: "pw"}, func(s *Session) (AuthStatus, error) {
			return s.UserauthPassword(context.Background(), "", "pw")
		}},
		{"publickey", sshtest.User{AuthorizedKeys: []gossh.PublicKey{plain.PublicKey()}}, func(s *Session) (AuthStatus, error) {
			return s.UserauthPublicKey(context.Background(), "", NewKeyFromSigner(plain))
		}},
		{"try", sshtest.User{AuthorizedKeys: []gossh.PublicKey{plain.PublicKey()}}, func(s *Session) (AuthStatus, error) {
			return s.UserauthTryPublicKey(context.Background(), "", NewKey(plain.PublicKey()))
		}},
		{"agent", sshtest.User{AuthorizedKeys: []gossh.PublicKey{pubOf(t, agentKey)}}, func(s *Session) (AuthStatus, error) {
			return s.UserauthAgent(context.Background(), "")
		}},
		{"auto", sshtest.User{AuthorizedKeys: []gossh.PublicKey{encPub}}, func(s *Session) (AuthStatus, error) {
			return s.UserauthPublicKeyAuto(context.Background(), "", "pp")
		}},
	}
	// Every case holds the server's bytes back during the first call: its
	// answer cannot have arrived, so the call must return AuthAgain, and
	// return at once. On plain loopback a final answer would be legal too
	// (the server may answer before the call looks), which is why the
	// first call is not run against an unheld connection.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": tc.user}})
			// The hold comes before the host key is accepted: from then
			// on x/crypto sends its "none" probe by itself, and with
			// NoneAuth the server's success could arrive before a later
			// hold.
			s, held := heldDial(t, srv, "u", IdentityAgent(sock), AddIdentity(encPath), SSHDir(dir))
			held.hold()
			if err := s.AcceptHostKey(); err != nil {
				t.Fatalf("AcceptHostKey: %v", err)
			}
			s.SetBlocking(false)
			first, err := returnsAtOnce(t, "first call", func() (AuthStatus, error) { return tc.run(s) })
			if first != AuthAgain || err != nil {
				t.Fatalf("first non-blocking call: %v, %v; want AuthAgain with the answer held back", first, err)
			}
			held.release()
			st, err := untilDone(t, s, func() (AuthStatus, error) { return tc.run(s) }, authAgain)
			if st != AuthSuccess || err != nil {
				t.Fatalf("got %v, %v", st, err)
			}
		})
	}
	t.Run("keyboard-interactive", func(t *testing.T) {
		srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {
			KeyboardInteractive: []sshtest.Round{{Prompts: []string{"P: "}, Want: []string{"x"}}, {}}}}})
		s, held := heldSession(t, srv, "u")
		s.SetBlocking(false)
		kbd := func() (AuthStatus, error) { return s.UserauthKeyboardInteractive(context.Background(), "", "") }
		held.hold()
		if st, err := returnsAtOnce(t, "first call", kbd); st != AuthAgain || err != nil {
			t.Fatalf("first call with the round held back: %v, %v; want AuthAgain", st, err)
		}
		held.release()
		rounds := 0
		for {
			st, err := untilDone(t, s, kbd, authAgain)
			if err != nil {
				t.Fatal(err)
			}
			if st == AuthSuccess {
				break
			}
			if st != AuthInfo || rounds > 3 {
				t.Fatalf("status %v after %d rounds", st, rounds)
			}
			rounds++
			info, _ := s.UserauthKeyboardInteractiveInfo()
			ans := []string{}
			if len(info.Prompts) == 1 {
				ans = []string{"x"}
			}
			if err := s.UserauthKeyboardInteractiveSetAnswers(ans); err != nil {
				t.Fatal(err)
			}
		}
		if rounds != 2 {
			t.Fatalf("%d rounds, want 2", rounds)
		}
	})
}

func TestNonBlockingChannelCalls(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"alice": {Password: "pw"}}})
	s, held := heldSession(t, srv, "alice")
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatalf("login: %v, %v", st, err)
	}
	s.SetBlocking(false)
	ch, err := s.NewChannel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ctx := context.Background()
	// With the server's bytes held back, the confirmation and the reply
	// cannot be there yet: each first call must return ErrAgain, at once.
	// (On plain loopback nil would be legal too.)
	held.hold()
	if _, err := returnsAtOnce(t, "OpenSession", func() (struct{}, error) { return struct{}{}, ch.OpenSession(ctx) }); !errors.Is(err, ErrAgain) {
		t.Fatalf("first OpenSession with the answer held back: %v, want ErrAgain", err)
	}
	held.release()
	if _, err := untilDone(t, s, func() (struct{}, error) { return struct{}{}, ch.OpenSession(ctx) }, errAgain); err != nil {
		t.Fatal(err)
	}
	held.hold()
	if _, err := returnsAtOnce(t, "RequestExec", func() (struct{}, error) { return struct{}{}, ch.RequestExec(ctx, "cat") }); !errors.Is(err, ErrAgain) {
		t.Fatalf("first RequestExec with the reply held back: %v, want ErrAgain", err)
	}
	held.release()
	if _, err := untilDone(t, s, func() (struct{}, error) { return struct{}{}, ch.RequestExec(ctx, "cat") }, errAgain); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := ch.Read(buf); n != 0 || !errors.Is(err, ErrAgain) {
		t.Fatalf("read with nothing buffered: %d, %v", n, err)
	}
	if _, err := ch.ExitStatus(ctx); !errors.Is(err, ErrAgain) {
		t.Fatalf("ExitStatus while running: %v", err)
	}
	if n, err := ch.Write([]byte("ping")); n != 4 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	n, err := untilDone(t, s, func() (int, error) { return ch.Read(buf) }, errAgain)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("read: %q, %v", buf[:n], err)
	}
	if err := ch.SendEOF(); err != nil {
		t.Fatal(err)
	}
	if _, err := untilDone(t, s, func() (int, error) { return ch.Read(buf) }, errAgain); err != io.EOF {
		t.Fatalf("after EOF: %v", err)
	}
	if !ch.IsEOF() {
		t.Fatal("IsEOF false")
	}
	if st, err := untilDone(t, s, func() (int, error) { return ch.ExitStatus(ctx) }, errAgain); st != 0 || err != nil {
		t.Fatalf("exit: %d, %v", st, err)
	}
}

func TestNonBlockingSendQueueFull(t *testing.T) {
	// A command that never reads: the window (2 MiB) fills, then the queue.
	// Once more than the window was accepted, some of it cannot leave.
	s, stuck := stuckWindowChannel(t)
	ctx := testCtx(t)
	s.SetBlocking(false)
	chunk := make([]byte, 256<<10)
	var accepted int
	for {
		n, err := stuck.Write(chunk)
		accepted += n
		if errors.Is(err, ErrAgain) && accepted >= 3<<20 {
			break
		}
		if err != nil && !errors.Is(err, ErrAgain) {
			t.Fatal(err)
		}
		if accepted > 64<<20 {
			t.Fatal("the send queue never filled")
		}
		if n < len(chunk) {
			waitNews(t, s, ctx) // the flusher took a batch: room again
		}
	}
	if _, write := s.PollState(); !write {
		t.Fatal("PollState reports no pending write with a full queue")
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := s.BlockingFlush(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BlockingFlush on a stuck window: %v", err)
	}
	_ = stuck.Close()
	if err := s.BlockingFlush(ctx); err != nil {
		t.Fatalf("BlockingFlush after Close: %v", err)
	}
}

func TestNonBlockingModeSwitchLosesNothing(t *testing.T) {
	s, _ := loggedIn(t)
	ctx := testCtx(t)
	// Half the data in non-blocking mode, half in blocking mode: nothing
	// lost, nothing reordered.
	s.SetBlocking(true)
	ch := openSession(t, s)
	if err := ch.RequestExec(ctx, "sha256"); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	s.SetBlocking(false)
	sent := 0
	for sent < len(data)/2 {
		n, err := ch.Write(data[sent : len(data)/2])
		sent += n
		if err != nil && !errors.Is(err, ErrAgain) {
			t.Fatal(err)
		}
	}
	s.SetBlocking(true)
	if _, err := ch.Write(data[sent:]); err != nil {
		t.Fatal(err)
	}
	if err := ch.SendEOF(); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(ch)
	sum := sha256.Sum256(data)
	if string(bytes.TrimSpace(out)) != hexString(sum[:]) {
		t.Fatalf("server hashed something else: %q", out)
	}
	if _, write := s.PollState(); write {
		t.Fatal("write pending after everything was flushed")
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, len(b)*2)
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestSendIgnoreReachesServerAndWaitsForNothing(t *testing.T) {
	s, srv := loggedIn(t)
	if err := s.SendIgnore([]byte("padding")); err != nil {
		t.Fatal(err)
	}
	// A round trip after it proves the server has processed it.
	if _, err := s.Output(testCtx(t), "true"); err != nil {
		t.Fatal(err)
	}
	var seen bool
	for _, r := range srv.GlobalRequests() {
		if r.Type == "ignore@libssh-go" && !r.WantReply && string(r.Payload) == "padding" {
			seen = true
		}
	}
	if !seen {
		t.Fatalf("server saw %+v", srv.GlobalRequests())
	}
}

// blackholeProxy forwards TCP to target until drop is set; then it keeps
// both connections open but throws everything away, like a dead network.
type blackholeProxy struct {
	ln   net.Listener
	drop atomic.Bool
	wg   sync.WaitGroup
	mu   sync.Mutex
	cons []net.Conn
}

func newBlackholeProxy(t *testing.T, target string) *blackholeProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackholeProxy{ln: ln}
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
			go p.pipe(c, up)
			go p.pipe(up, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.cons {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *blackholeProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.drop.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestKeepaliveClosesDeadConnection(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	proxy := newBlackholeProxy(t, srv.Addr())
	s := NewSession()
	port := proxy.ln.Addr().(*net.TCPAddr).Port
	interval := 100 * time.Millisecond
	if err := s.SetOption(Hostname("127.0.0.1"), Port(port), User("u"), ServerAliveInterval(interval), ServerAliveCountMax(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	_ = s.AcceptHostKey()
	if st, err := s.UserauthPassword(testCtx(t), "", "pw"); st != AuthSuccess {
		t.Fatal(st, err)
	}
	ch := openSession(t, s)
	if err := ch.RequestExec(testCtx(t), "sleep 60"); err != nil {
		t.Fatal(err)
	}
	// Keepalives flow while the network is fine: the session survives
	// several intervals of silence from the command.
	if _, err := s.Output(testCtx(t), "true"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	proxy.drop.Store(true)
	_, err := ch.ExitStatus(testCtx(t))
	elapsed := time.Since(start)
	if !errors.Is(err, ErrServerNotResponding) || errors.Is(err, ErrNoExitStatus) {
		t.Fatalf("blocked ExitStatus woke with %v", err)
	}
	if s.IsConnected() {
		t.Fatal("still connected")
	}
	if _, err := s.NewChannel(); !errors.Is(err, ErrServerNotResponding) {
		t.Fatalf("after the keepalive timeout: %v", err)
	}
	// interval × (count+1) as OpenSSH counts, plus scheduling slack.
	if elapsed < 2*interval || elapsed > 20*interval {
		t.Fatalf("closed after %v, want about %v", elapsed, 3*interval)
	}
}

// io.Copy into a channel cannot hand back what it read, so in
// non-blocking mode ReadFrom waits for the queue rather than drop bytes.
func TestNonBlockingCopyIntoChannelLosesNothing(t *testing.T) {
	s, _ := loggedIn(t)
	ch := openSession(t, s)
	if err := ch.RequestExec(testCtx(t), "sha256"); err != nil {
		t.Fatal(err)
	}
	s.SetBlocking(false)
	want := sha256.New()
	n, err := io.Copy(ch, io.TeeReader(&patternReader{left: 5 << 20}, want))
	if err != nil || n != 5<<20 {
		t.Fatalf("copy: %d, %v", n, err)
	}
	s.SetBlocking(true)
	if err := ch.SendEOF(); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(ch)
	if string(bytes.TrimSpace(out)) != hexString(want.Sum(nil)) {
		t.Fatalf("server hashed something else: %q", out)
	}
}

func TestNonBlockingConnect(t *testing.T) {
	srv := sshtest.New(t, sshtest.Config{Users: map[string]sshtest.User{"u": {Password: "pw"}}})
	s := NewSession()
	if err := s.SetOption(Hostname(srv.Host()), Port(srv.Port()), User("u"), ProcessConfig(false)); err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	s.SetBlocking(false)
	if err := s.Connect(context.Background()); !errors.Is(err, ErrAgain) {
		t.Fatalf("first non-blocking Connect: %v, want ErrAgain", err)
	}
	// Going back to blocking mode, Connect collects the attempt under way.
	s.SetBlocking(true)
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("collecting Connect: %v", err)
	}
	if !s.IsConnected() {
		t.Fatal("not connected")
	}
	if err := s.Connect(testCtx(t)); !errors.Is(err, ErrAlreadyConnected) {
		t.Fatalf("third Connect: %v", err)
	}

	// Disconnect cancels an attempt that would otherwise wait for a silent
	// server forever (no Timeout set).
	silent := sshtest.New(t, sshtest.Config{Fault: sshtest.FaultSilent})
	s2 := NewSession()
	_ = s2.SetOption(Hostname(silent.Host()), Port(silent.Port()), ProcessConfig(false))
	s2.SetBlocking(false)
	if err := s2.Connect(context.Background()); !errors.Is(err, ErrAgain) {
		t.Fatalf("silent server: %v", err)
	}
	if err := s2.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if s2.IsConnected() {
		t.Fatal("connected after Disconnect")
	}
}
