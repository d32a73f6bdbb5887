package sshtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every wait in these tests, so a bug fails a test
// instead of hanging the run.
const testTimeout = 20 * time.Second

// faultDeadline is the client deadline in tests where the server is
// expected never to answer.
const faultDeadline = 300 * time.Millisecond

func hostKeyCallback(s *Server) ssh.HostKeyCallback {
	keys := s.HostKeys()
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		for _, k := range keys {
			if bytes.Equal(k.Marshal(), key.Marshal()) {
				return nil
			}
		}
		return errors.New("unknown host key")
	}
}

func clientConfig(s *Server, user string, auth ...ssh.AuthMethod) *ssh.ClientConfig {
	return &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: hostKeyCallback(s)}
}

// dial connects and authenticates with a deadline covering the handshake.
func dial(t *testing.T, s *Server, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(testTimeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, s.Addr(), cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func connect(t *testing.T, s *Server, cfg *ssh.ClientConfig) *ssh.Client {
	t.Helper()
	c, err := dial(t, s, cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run runs cmd with the given stdin and returns stdout, stderr and the error
// of Session.Run.
func run(t *testing.T, c *ssh.Client, cmd, stdin string) (string, string, error) {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdin = strings.NewReader(stdin)
	sess.Stdout, sess.Stderr = &stdout, &stderr
	err = sess.Run(cmd)
	return stdout.String(), stderr.String(), err
}

func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitStatus()
	}
	t.Fatalf("unexpected error: %v", err)
	return -1
}

func newSigner(t *testing.T, keyType string) ssh.Signer {
	t.Helper()
	s, err := GenerateSigner(keyType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// passwordServer has one user, "alice", with password "secret" and none
// auth disabled.
func passwordServer(t *testing.T) *Server {
	return New(t, Config{Users: map[string]User{"alice": {Password: "secret"}}})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestZeroConfigRejectsEveryone(t *testing.T) {
	s := New(t, Config{})
	if got := len(s.HostKeys()); got != 3 {
		t.Fatalf("HostKeys: got %d keys, want 3", got)
	}
	if s.Host() != "127.0.0.1" || s.Port() == 0 || s.Addr() != net.JoinHostPort(s.Host(), strconv.Itoa(s.Port())) {
		t.Fatalf("address: Host %q Port %d Addr %q", s.Host(), s.Port(), s.Addr())
	}
	_, err := dial(t, s, clientConfig(s, "nobody", ssh.Password("x")))
	if err == nil {
		t.Fatal("login succeeded on a server without users")
	}
	if n := len(s.Negotiated()); n != 1 {
		t.Fatalf("Negotiated: got %d records, want 1", n)
	}
}

func TestPasswordAuth(t *testing.T) {
	s := passwordServer(t)
	if _, err := dial(t, s, clientConfig(s, "alice", ssh.Password("wrong"))); err == nil {
		t.Fatal("wrong password accepted")
	}
	c := connect(t, s, clientConfig(s, "alice", ssh.Password("secret")))
	out, _, err := run(t, c, "whoami", "")
	if err != nil || out != "alice\n" {
		t.Fatalf("whoami: %q, %v", out, err)
	}

	want := []AuthAttempt{
		{User: "alice", Method: "none"},
		{User: "alice", Method: "password", Password: "wrong"},
		{User: "alice", Method: "none"},
		{User: "alice", Method: "password", Password: "secret", Success: true},
	}
	if got := s.AuthLog(); !slices.EqualFunc(got, want, equalAttempt) {
		t.Fatalf("AuthLog:\n got %+v\nwant %+v", got, want)
	}
}

func equalAttempt(a, b AuthAttempt) bool {
	return a.User == b.User && a.Method == b.Method && a.Password == b.Password &&
		a.KeyType == b.KeyType && a.Success == b.Success && a.Partial == b.Partial &&
		slices.Equal(a.Responses, b.Responses)
}

func TestPublicKeyAuth(t *testing.T) {
	good := newSigner(t, ssh.KeyAlgoED25519)
	bad := newSigner(t, ssh.KeyAlgoECDSA256)
	s := New(t, Config{Users: map[string]User{
		"bob": {AuthorizedKeys: []ssh.PublicKey{good.PublicKey()}, Password: "pw"},
	}})

	if _, err := dial(t, s, clientConfig(s, "bob", ssh.PublicKeys(bad))); err == nil {
		t.Fatal("unauthorized key accepted")
	}
	connect(t, s, clientConfig(s, "bob", ssh.PublicKeys(bad, good)))

	var keyAttempts []AuthAttempt
	for _, a := range s.AuthLog() {
		if a.Method == "password" {
			t.Fatalf("a password was sent: %+v", a)
		}
		if a.Method == "publickey" {
			keyAttempts = append(keyAttempts, a)
		}
	}
	want := []AuthAttempt{
		{User: "bob", Method: "publickey", KeyType: ssh.KeyAlgoECDSA256},
		{User: "bob", Method: "publickey", KeyType: ssh.KeyAlgoECDSA256},
		{User: "bob", Method: "publickey", KeyType: ssh.KeyAlgoED25519, Success: true},
	}
	if !slices.EqualFunc(keyAttempts, want, equalAttempt) {
		t.Fatalf("publickey attempts:\n got %+v\nwant %+v", keyAttempts, want)
	}
	if fp := keyAttempts[2].KeyFingerprint; fp != ssh.FingerprintSHA256(good.PublicKey()) {
		t.Fatalf("fingerprint %q", fp)
	}
}

func TestCertificateAuth(t *testing.T) {
	ca := newSigner(t, ssh.KeyAlgoED25519)
	userKey := newSigner(t, ssh.KeyAlgoED25519)
	cert := &ssh.Certificate{
		Key:             userKey.PublicKey(),
		CertType:        ssh.UserCert,
		KeyId:           "carol-cert",
		ValidPrincipals: []string{"carol"},
		ValidBefore:     ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	certSigner, err := ssh.NewCertSigner(cert, userKey)
	if err != nil {
		t.Fatal(err)
	}
	s := New(t, Config{Users: map[string]User{
		"carol": {CertAuthorities: []ssh.PublicKey{ca.PublicKey()}},
		"dave":  {CertAuthorities: []ssh.PublicKey{ca.PublicKey()}},
	}})
	connect(t, s, clientConfig(s, "carol", ssh.PublicKeys(certSigner)))
	if _, err := dial(t, s, clientConfig(s, "dave", ssh.PublicKeys(certSigner))); err == nil {
		t.Fatal("certificate accepted for a user it does not name")
	}
	if _, err := dial(t, s, clientConfig(s, "carol", ssh.PublicKeys(userKey))); err == nil {
		t.Fatal("plain key of a certificate accepted")
	}
}

func TestKeyboardInteractive(t *testing.T) {
	rounds := []Round{
		{Name: "pam", Instruction: "welcome"}, // zero prompts, as OpenSSH with PAM sends
		{Name: "otp", Prompts: []string{"Password: ", "Code: "}, Echos: []bool{false, true}, Want: []string{"pw", "123"}},
	}
	s := New(t, Config{Users: map[string]User{"erin": {KeyboardInteractive: rounds}}})

	type call struct {
		name, instruction string
		questions         []string
		echos             []bool
	}
	var calls []call
	answer := func(code string) ssh.KeyboardInteractiveChallenge {
		return func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			calls = append(calls, call{name, instruction, questions, echos})
			if len(questions) == 0 {
				return nil, nil
			}
			return []string{"pw", code}, nil
		}
	}

	connect(t, s, clientConfig(s, "erin", ssh.KeyboardInteractive(answer("123"))))
	if len(calls) != 2 {
		t.Fatalf("got %d rounds, want 2: %+v", len(calls), calls)
	}
	if c := calls[0]; c.name != "pam" || c.instruction != "welcome" || len(c.questions) != 0 {
		t.Fatalf("round 1: %+v", c)
	}
	if c := calls[1]; !slices.Equal(c.questions, rounds[1].Prompts) || !slices.Equal(c.echos, []bool{false, true}) {
		t.Fatalf("round 2: %+v", c)
	}

	if _, err := dial(t, s, clientConfig(s, "erin", ssh.KeyboardInteractive(answer("999")))); err == nil {
		t.Fatal("wrong code accepted")
	}
	log := s.AuthLog()
	last := log[len(log)-1]
	if last.Method != "keyboard-interactive" || last.Success || !slices.Equal(last.Responses, []string{"pw", "999"}) {
		t.Fatalf("last attempt: %+v", last)
	}
}

func TestNoneAuth(t *testing.T) {
	s := New(t, Config{Users: map[string]User{"guest": {NoneAuth: true}, "alice": {Password: "pw"}}})
	connect(t, s, clientConfig(s, "guest"))
	if _, err := dial(t, s, clientConfig(s, "alice")); err == nil {
		t.Fatal("none accepted for a user without NoneAuth")
	}
	if log := s.AuthLog(); len(log) < 1 || !equalAttempt(log[0], AuthAttempt{User: "guest", Method: "none", Success: true}) {
		t.Fatalf("AuthLog: %+v", log)
	}
}

func TestAuthSequence(t *testing.T) {
	key := newSigner(t, ssh.KeyAlgoED25519)
	s := New(t, Config{
		AuthSequence: []string{"publickey", "keyboard-interactive"},
		Users: map[string]User{"frank": {
			NoneAuth:            true, // ignored with a sequence
			Password:            "pw",
			AuthorizedKeys:      []ssh.PublicKey{key.PublicKey()},
			KeyboardInteractive: []Round{{Prompts: []string{"Code: "}, Want: []string{"42"}}},
		}},
	})
	ki := ssh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) {
		return []string{"42"}, nil
	})

	// One factor is not enough, and methods out of sequence are not offered.
	if _, err := dial(t, s, clientConfig(s, "frank", ssh.PublicKeys(key))); err == nil {
		t.Fatal("publickey alone accepted")
	}
	if _, err := dial(t, s, clientConfig(s, "frank", ssh.Password("pw"), ki)); err == nil {
		t.Fatal("login without the first factor accepted")
	}
	for _, a := range s.AuthLog() {
		if a.Method == "password" || a.Method == "keyboard-interactive" {
			t.Fatalf("method out of sequence reached the server: %+v", a)
		}
	}

	before := len(s.AuthLog())
	connect(t, s, clientConfig(s, "frank", ssh.PublicKeys(key), ki))
	got := s.AuthLog()[before:]
	want := []AuthAttempt{
		{User: "frank", Method: "none"},
		{User: "frank", Method: "publickey", KeyType: ssh.KeyAlgoED25519, Partial: true},
		{User: "frank", Method: "keyboard-interactive", Responses: []string{"42"}, Success: true},
	}
	if !slices.EqualFunc(got, want, equalAttempt) {
		t.Fatalf("AuthLog:\n got %+v\nwant %+v", got, want)
	}
}

func TestBanner(t *testing.T) {
	s := New(t, Config{Banner: "Authorized use only\n", Users: map[string]User{"alice": {Password: "pw"}}})
	var banners []string
	cfg := clientConfig(s, "alice", ssh.Password("pw"))
	cfg.BannerCallback = func(msg string) error {
		banners = append(banners, msg)
		return nil
	}
	connect(t, s, cfg)
	if !slices.Equal(banners, []string{"Authorized use only\n"}) {
		t.Fatalf("banners: %q", banners)
	}
}

func TestBannerRepeat(t *testing.T) {
	s := New(t, Config{Banner: "hello\n", BannerRepeat: 5, Users: map[string]User{"alice": {Password: "pw"}}})
	var banners []string
	cfg := clientConfig(s, "alice", ssh.Password("pw"))
	cfg.BannerCallback = func(msg string) error {
		banners = append(banners, msg)
		return nil
	}
	connect(t, s, cfg)
	if len(banners) != 5 || banners[4] != "hello\n" {
		t.Fatalf("banners: %q", banners)
	}
}

// An endless banner stream never answers "none"; it ends when the client
// gives up, and Close (the cleanup) still returns.
func TestBannerRepeatForever(t *testing.T) {
	s := New(t, Config{Banner: strings.Repeat("x", 64<<10), BannerRepeat: -1, Users: map[string]User{"alice": {Password: "pw"}}})
	n := 0
	errEnough := errors.New("enough banners")
	cfg := clientConfig(s, "alice", ssh.Password("pw"))
	cfg.BannerCallback = func(msg string) error {
		if n++; n == 200 {
			return errEnough
		}
		return nil
	}
	if _, err := dial(t, s, cfg); err == nil {
		t.Fatal("login succeeded past an endless banner")
	}
	if n != 200 {
		t.Fatalf("%d banners, want 200", n)
	}
}

func TestVersionAndAlgorithms(t *testing.T) {
	s := New(t, Config{
		ServerVersion:     "SSH-2.0-Custom_1.0",
		KeyExchanges:      []string{ssh.KeyExchangeCurve25519},
		Ciphers:           []string{ssh.CipherAES128CTR},
		MACs:              []string{ssh.HMACSHA256},
		HostKeyAlgorithms: []string{ssh.KeyAlgoRSASHA512},
		Users:             map[string]User{"alice": {Password: "pw"}},
	})
	if keys := s.HostKeys(); len(keys) != 1 || keys[0].Type() != ssh.KeyAlgoRSA {
		t.Fatalf("HostKeys: %v", keys)
	}
	c := connect(t, s, clientConfig(s, "alice", ssh.Password("pw")))
	if v := string(c.ServerVersion()); v != "SSH-2.0-Custom_1.0" {
		t.Fatalf("server version %q", v)
	}
	neg := s.Negotiated()
	if len(neg) != 1 {
		t.Fatalf("Negotiated: %+v", neg)
	}
	n := neg[0]
	if n.KeyExchange != ssh.KeyExchangeCurve25519 || n.HostKey != ssh.KeyAlgoRSASHA512 ||
		n.Read.Cipher != ssh.CipherAES128CTR || n.Write.Cipher != ssh.CipherAES128CTR ||
		n.Read.MAC != ssh.HMACSHA256 || n.Write.MAC != ssh.HMACSHA256 {
		t.Fatalf("Negotiated: %+v", n)
	}
	if cv := s.ClientVersions(); len(cv) != 1 || cv[0] != string(c.ClientVersion()) {
		t.Fatalf("ClientVersions %q, client sent %q", cv, c.ClientVersion())
	}

	def := New(t, Config{})
	conn, err := net.Dial("tcp", def.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testTimeout))
	line := make([]byte, len(defaultServerVersion)+2)
	if _, err := io.ReadFull(conn, line); err != nil || string(line) != defaultServerVersion+"\r\n" {
		t.Fatalf("default version line %q, %v", line, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"bad method":       {AuthSequence: []string{"hostbased"}},
		"bad want":         {Users: map[string]User{"u": {KeyboardInteractive: []Round{{Prompts: []string{"a"}, Want: []string{}}}}}},
		"no host key left": {HostKeyAlgorithms: []string{"ssh-dss"}},
		"bad fault":        {Fault: Fault(99)},
	} {
		if s, err := Start(cfg); err == nil {
			s.Close()
			t.Errorf("%s: Start succeeded", name)
		}
	}
}

func TestFaultSilentAndPartialVersion(t *testing.T) {
	for _, f := range []Fault{FaultSilent, FaultPartialVersion} {
		t.Run(f.String(), func(t *testing.T) {
			s := New(t, Config{Fault: f})
			conn, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(faultDeadline))
			_, _, _, err = ssh.NewClientConn(conn, s.Addr(), clientConfig(s, "x"))
			if !isTimeout(err) {
				t.Fatalf("got %v, want a timeout", err)
			}
		})
	}

	// The partial version line arrives, without its line end.
	s := New(t, Config{Fault: FaultPartialVersion})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testTimeout))
	got := make([]byte, len("SSH-2.0-partial"))
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != "SSH-2.0-partial" {
		t.Fatalf("read %q, %v", got, err)
	}
}

func TestFaultGarbage(t *testing.T) {
	s := New(t, Config{Fault: FaultGarbage})
	_, err := dial(t, s, clientConfig(s, "x"))
	if err == nil || isTimeout(err) {
		t.Fatalf("got %v, want a protocol error", err)
	}
}

func TestFaultDropAfterBytes(t *testing.T) {
	s := New(t, Config{Fault: FaultDropAfterBytes, DropAfter: 10})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testTimeout))
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != defaultServerVersion[:10] {
		t.Fatalf("read %q, %v; want exactly 10 bytes", got, err)
	}

	// Dropped during the key exchange.
	s = New(t, Config{Fault: FaultDropAfterBytes, DropAfter: 100})
	if _, err := dial(t, s, clientConfig(s, "x")); err == nil || isTimeout(err) {
		t.Fatalf("got %v, want a connection error", err)
	}

	// Dropped in the middle of a command's output.
	s = New(t, Config{Fault: FaultDropAfterBytes, DropAfter: 64 << 10, Users: map[string]User{"u": {NoneAuth: true}}})
	c := connect(t, s, clientConfig(s, "u"))
	out, _, err := run(t, c, "yes 1000000", "")
	if err == nil || len(out) >= 1000000 {
		t.Fatalf("got %d bytes, %v; want a truncated transfer", len(out), err)
	}
}

func TestFaultStallAfterBytes(t *testing.T) {
	s := New(t, Config{Fault: FaultStallAfterBytes, StallAfter: 10})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testTimeout))
	got := make([]byte, 10)
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != defaultServerVersion[:10] {
		t.Fatalf("read %q, %v; want the first 10 bytes", got, err)
	}
	// Then nothing, and no end either: the connection stays open.
	conn.SetDeadline(time.Now().Add(faultDeadline))
	if n, err := conn.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("read %d bytes, %v after the budget; want a timeout", n, err)
	}
	// The server still reads: a client version and key exchange go in,
	// and the server's answers are swallowed.
	conn.SetDeadline(time.Now().Add(testTimeout))
	if _, err := io.WriteString(conn, "SSH-2.0-client\r\n"); err != nil {
		t.Fatal(err)
	}
	// Close ends the stall: the connection is closed.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read %d bytes, %v after Close; want the connection closed", n, err)
	}
	if got := FaultStallAfterBytes.String(); got != "FaultStallAfterBytes" {
		t.Errorf("String = %q", got)
	}
}

func TestFaultDisconnectInAuth(t *testing.T) {
	s := New(t, Config{Fault: FaultDisconnectInAuth, Users: map[string]User{"alice": {Password: "pw"}}})
	if _, err := dial(t, s, clientConfig(s, "alice", ssh.Password("pw"))); err == nil || isTimeout(err) {
		t.Fatalf("got %v, want a connection error", err)
	}
	s.Close()
	log := s.AuthLog()
	if len(log) != 2 || log[0].Method != "none" || log[1].Method != "password" || log[1].Success {
		t.Fatalf("AuthLog: %+v", log)
	}
}

func TestFaultStallInAuth(t *testing.T) {
	s := New(t, Config{Fault: FaultStallInAuth, Users: map[string]User{"alice": {Password: "pw"}}})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testTimeout))
	// The short deadline starts only once the key exchange is done, when
	// the client is about to send the password.
	auth := ssh.PasswordCallback(func() (string, error) {
		conn.SetDeadline(time.Now().Add(faultDeadline))
		return "pw", nil
	})
	_, _, _, err = ssh.NewClientConn(conn, s.Addr(), clientConfig(s, "alice", auth))
	if !isTimeout(err) {
		t.Fatalf("got %v, want a timeout", err)
	}
	// Close must end the stalled handshake.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestExecBuiltins(t *testing.T) {
	s := New(t, Config{Users: map[string]User{"alice": {NoneAuth: true}}})
	c := connect(t, s, clientConfig(s, "alice"))
	sum := sha256.Sum256([]byte("hello\n"))
	for _, tc := range []struct {
		cmd, stdin     string
		stdout, stderr string
		status         int
	}{
		{cmd: "whoami", stdout: "alice\n"},
		{cmd: "echo a  b c", stdout: "a b c\n"},
		{cmd: "echo", stdout: "\n"},
		{cmd: "true"},
		{cmd: "false", status: 1},
		{cmd: "exit 42", status: 42},
		{cmd: "cat", stdin: "some\ninput", stdout: "some\ninput"},
		{cmd: "stderr oh no", stderr: "oh no\n"},
		{cmd: "both out err", stdout: "out\n", stderr: "err\n"},
		{cmd: "printenv NOPE", status: 1},
		{cmd: "sleep 0"},
		{cmd: "yes 5", stdout: "yyyyy"},
		{cmd: "sha256", stdin: "hello\n", stdout: hex.EncodeToString(sum[:]) + "\n"},
		{cmd: "pty", stderr: "pty: no pty requested\n", status: 1},
		{cmd: "nope x", stderr: "nope: command not found\n", status: 127},
		{cmd: "yes", stderr: "usage: yes N\n", status: 2},
	} {
		stdout, stderr, err := run(t, c, tc.cmd, tc.stdin)
		if status := exitStatus(t, err); stdout != tc.stdout || stderr != tc.stderr || status != tc.status {
			t.Errorf("%q: got (%q, %q, %d), want (%q, %q, %d)",
				tc.cmd, stdout, stderr, status, tc.stdout, tc.stderr, tc.status)
		}
	}

	// Large transfers in both directions exercise flow control.
	big := strings.Repeat("0123456789abcdef", 1<<16)
	out, _, err := run(t, c, "cat", big)
	if err != nil || out != big {
		t.Fatalf("cat of %d bytes: got %d bytes, %v", len(big), len(out), err)
	}
	out, _, err = run(t, c, "yes 1000000", "")
	if err != nil || len(out) != 1000000 || strings.Trim(out, "y") != "" {
		t.Fatalf("yes 1000000: got %d bytes, %v", len(out), err)
	}
}

func TestExitSignal(t *testing.T) {
	s := New(t, Config{Users: map[string]User{"alice": {NoneAuth: true}}})
	c := connect(t, s, clientConfig(s, "alice"))
	_, _, err := run(t, c, "kill TERM", "")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.Signal() != "TERM" || ee.Msg() != "killed" {
		t.Fatalf("got %v, want exit-signal TERM", err)
	}
}

func TestSleepInterruptedBySignal(t *testing.T) {
	s := New(t, Config{Users: map[string]User{"alice": {NoneAuth: true}}})
	c := connect(t, s, clientConfig(s, "alice"))
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Start("sleep 3600"); err != nil {
		t.Fatal(err)
	}
	if err := sess.Signal(ssh.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	err = sess.Wait()
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.Signal() != "USR1" {
		t.Fatalf("got %v, want exit-signal USR1", err)
	}
	recs := s.Requests()
	if last := recs[len(recs)-1]; last.Type != "signal" || last.Signal != "USR1" {
		t.Fatalf("last request %+v", last)
	}
}

func TestEnv(t *testing.T) {
	s := New(t, Config{Users: map[string]User{"alice": {NoneAuth: true}}})
	c := connect(t, s, clientConfig(s, "alice"))
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Setenv("LANG", "C.UTF-8"); err != nil {
		t.Fatalf("Setenv LANG: %v", err)
	}
	if err := sess.Setenv("DENY_THIS", "x"); err == nil {
		t.Fatal("Setenv DENY_THIS succeeded")
	}
	out, err := sess.Output("printenv")
	if err != nil || string(out) != "LANG=C.UTF-8\n" {
		t.Fatalf("printenv: %q, %v", out, err)
	}

	var env []RequestRecord
	for _, r := range s.Requests() {
		if r.Type == "env" {
			env = append(env, r)
		}
	}
	if len(env) != 2 ||
		env[0].Name != "LANG" || env[0].Value != "C.UTF-8" || !env[0].OK ||
		env[1].Name != "DENY_THIS" || env[1].OK {
		t.Fatalf("env records: %+v", env)
	}
}

func TestExecWithPty(t *testing.T) {
	s := New(t, Config{Users: map[string]User{"alice": {NoneAuth: true}}})
	c := connect(t, s, clientConfig(s, "alice"))
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("vt100", 24, 80, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("pty")
	if err != nil || string(out) != "vt100 80 24\n" {
		t.Fatalf("pty: %q, %v", out, err)
	}
	r := s.Requests()[0]
	if r.Type != "pty-req" || r.Term != "vt100" || r.Cols != 80 || r.Rows != 24 || !r.OK || len(r.Modes) == 0 {
		t.Fatalf("pty-req record %+v", r)
	}
}

// expect reads exactly len(want) bytes and compares them.
func expect(t *testing.T, r io.Reader, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
}

func TestShell(t *testing.T) {
	s := New(t, Config{Users: map[string]User{"alice": {NoneAuth: true}}})
	c := connect(t, s, clientConfig(s, "alice"))

	t.Run("plain", func(t *testing.T) {
		stdout, stderr, err := runShell(t, c, "echo hi\nstderr oops\n\nfalse\nexit 3\necho never\n")
		if exitStatus(t, err) != 3 || stdout != "hi\n" || stderr != "oops\n" {
			t.Fatalf("got (%q, %q, %v)", stdout, stderr, err)
		}
		_, _, err = runShell(t, c, "false\n")
		if exitStatus(t, err) != 1 {
			t.Fatalf("shell at EOF after false: %v", err)
		}
		_, _, err = runShell(t, c, "kill HUP\necho never\n")
		var ee *ssh.ExitError
		if !errors.As(err, &ee) || ee.Signal() != "HUP" {
			t.Fatalf("kill in shell: %v", err)
		}
	})

	t.Run("pty", func(t *testing.T) {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		stdin, _ := sess.StdinPipe()
		stdout, _ := sess.StdoutPipe()
		if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
			t.Fatal(err)
		}
		if err := sess.Shell(); err != nil {
			t.Fatal(err)
		}
		io.WriteString(stdin, "echo hi\r")
		expect(t, stdout, "echo hi\r\nhi\r\n")
		io.WriteString(stdin, "stderr merged\n")
		expect(t, stdout, "stderr merged\r\nmerged\r\n")

		if err := sess.WindowChange(50, 132); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if _, err := s.WaitRequest(ctx, func(r RequestRecord) bool { return r.Type == "window-change" }); err != nil {
			t.Fatal(err)
		}
		io.WriteString(stdin, "pty\r")
		expect(t, stdout, "pty\r\nxterm 132 50\r\n")

		io.WriteString(stdin, "exit 7\r")
		expect(t, stdout, "exit 7\r\n")
		if err := sess.Wait(); exitStatus(t, err) != 7 {
			t.Fatalf("Wait: %v", err)
		}
	})

	t.Run("pty EOF", func(t *testing.T) {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		sess.Stdout = &out
		sess.Stdin = strings.NewReader("false\r\x04ignored\r")
		if err := sess.Shell(); err != nil {
			t.Fatal(err)
		}
		if err := sess.Wait(); exitStatus(t, err) != 1 || out.String() != "false\r\n" {
			t.Fatalf("got %q, %v", out.String(), err)
		}
	})
}

// runShell runs a shell session fed with input.
func runShell(t *testing.T, c *ssh.Client, input string) (string, string, error) {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdin = strings.NewReader(input)
	sess.Stdout, sess.Stderr = &stdout, &stderr
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	err = sess.Wait()
	return stdout.String(), stderr.String(), err
}

func TestSubsystem(t *testing.T) {
	s := New(t, Config{Users: map[string]User{"alice": {NoneAuth: true}}})
	c := connect(t, s, clientConfig(s, "alice"))

	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	// Session.RequestSubsystem does not start the session's copying
	// goroutines, so use the pipes.
	stdin, _ := sess.StdinPipe()
	stdout, _ := sess.StdoutPipe()
	if err := sess.RequestSubsystem("echo-subsystem"); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "ping")
	expect(t, stdout, "ping")
	stdin.Close()
	if rest, err := io.ReadAll(stdout); err != nil || len(rest) != 0 {
		t.Fatalf("after EOF: %q, %v", rest, err)
	}

	other, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.RequestSubsystem("sftp"); err == nil {
		t.Fatal("unknown subsystem accepted")
	}
}

func TestOtherChannelRequests(t *testing.T) {
	s := New(t, Config{Users: map[string]User{"alice": {NoneAuth: true}}})
	c := connect(t, s, clientConfig(s, "alice"))
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)

	for _, tc := range []struct {
		typ     string
		payload []byte
		ok      bool
	}{
		{"x11-req", ssh.Marshal(struct {
			Single        bool
			Proto, Cookie string
			Screen        uint32
		}{false, "MIT-MAGIC-COOKIE-1", "00", 0}), true},
		{"auth-agent-req@openssh.com", nil, true},
		{"break", ssh.Marshal(struct{ Length uint32 }{500}), true},
		{"exec", ssh.Marshal(struct{ Command string }{"sleep 3600"}), true},
		{"exec", ssh.Marshal(struct{ Command string }{"true"}), false}, // already started
		{"no-such-request", nil, false},
		{"pty-req", []byte{1, 2}, false}, // malformed
	} {
		ok, err := ch.SendRequest(tc.typ, true, tc.payload)
		if err != nil || ok != tc.ok {
			t.Errorf("%s: got %v, %v; want %v", tc.typ, ok, err, tc.ok)
		}
	}
	recs := s.Requests()
	if recs[2].Type != "break" || recs[2].BreakLength != 500 || recs[3].Command != "sleep 3600" {
		t.Fatalf("records: %+v", recs)
	}
}

func TestGlobalRequestsAndChannelTypes(t *testing.T) {
	s := New(t, Config{Users: map[string]User{"alice": {NoneAuth: true}}})
	c := connect(t, s, clientConfig(s, "alice"))
	if ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil || !ok {
		t.Fatalf("keepalive: %v, %v", ok, err)
	}
	// Forwarding works (forward_test.go); a malformed request is refused.
	if ok, _, err := c.SendRequest("tcpip-forward", true, []byte{1}); err != nil || ok {
		t.Fatalf("malformed tcpip-forward: %v, %v", ok, err)
	}
	if got := s.GlobalRequests(); len(got) != 2 || got[0].Type != "keepalive@openssh.com" || !got[0].OK || got[1].OK {
		t.Fatalf("GlobalRequests: %+v", got)
	}

	_, _, err := c.OpenChannel("direct-tcpip", nil)
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.ConnectionFailed {
		t.Fatalf("malformed direct-tcpip: %v", err)
	}
	_, _, err = c.OpenChannel("no-such-type", nil)
	if !errors.As(err, &oce) || oce.Reason != ssh.Prohibited {
		t.Fatalf("unknown channel type: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if got, err := s.WaitRefusedChannels(ctx, 1); err != nil || !slices.Equal(got, []string{"no-such-type"}) {
		t.Fatalf("WaitRefusedChannels: %q, %v", got, err)
	}
	if r, err := s.WaitGlobalRequest(ctx, func(r RequestRecord) bool { return r.Type == "tcpip-forward" }); err != nil || r.OK {
		t.Fatalf("WaitGlobalRequest: %+v, %v", r, err)
	}
}

func TestCustomExec(t *testing.T) {
	done := make(chan struct{})
	s := New(t, Config{
		Users: map[string]User{"alice": {NoneAuth: true}},
		Exec: func(ctx ExecContext) int {
			switch ctx.Command {
			case "custom":
				io.WriteString(ctx.Stdout, "custom output\n")
				return 5
			case "wait-for-close":
				<-ctx.Ctx.Done()
				close(done)
				return 0
			case "segv":
				ctx.SetExitSignal("SIGSEGV", true, "boom")
				return 0
			}
			return RunBuiltin(ctx)
		},
	})
	c := connect(t, s, clientConfig(s, "alice"))
	out, _, err := run(t, c, "custom", "")
	if exitStatus(t, err) != 5 || out != "custom output\n" {
		t.Fatalf("custom: %q, %v", out, err)
	}
	if out, _, err := run(t, c, "echo fallback", ""); err != nil || out != "fallback\n" {
		t.Fatalf("fallback: %q, %v", out, err)
	}
	_, _, err = run(t, c, "segv", "")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.Signal() != "SEGV" || ee.Msg() != "boom" {
		t.Fatalf("segv: %v", err)
	}

	// Closing the channel from the client cancels the command's context.
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("wait-for-close"); err != nil {
		t.Fatal(err)
	}
	sess.Close()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("context not cancelled after the channel closed")
	}
}

func TestCloseWithActiveClients(t *testing.T) {
	s := New(t, Config{Users: map[string]User{"alice": {NoneAuth: true}}})
	c := connect(t, s, clientConfig(s, "alice"))

	sleeper, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sleeper.Start("sleep 3600"); err != nil {
		t.Fatal(err)
	}
	catter, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catter.StdinPipe(); err != nil { // never closed: cat waits for input
		t.Fatal(err)
	}
	if err := catter.Start("cat"); err != nil {
		t.Fatal(err)
	}
	// A connection still in its handshake.
	raw, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := sleeper.Wait(); err == nil {
		t.Fatal("sleep ended cleanly after Close")
	}
	if err := catter.Wait(); err == nil {
		t.Fatal("cat ended cleanly after Close")
	}
	if _, err := net.Dial("tcp", s.Addr()); err == nil {
		t.Fatal("server still accepting after Close")
	}
}

func TestWaitRequestAfterClose(t *testing.T) {
	s := New(t, Config{})
	s.Close()
	_, err := s.WaitRequest(context.Background(), func(RequestRecord) bool { return false })
	if !errors.Is(err, ErrServerClosed) {
		t.Fatalf("got %v, want ErrServerClosed", err)
	}
}

func TestSubsystemHandler(t *testing.T) {
	srv := New(t, Config{
		Users: map[string]User{"u": {Password: "p"}},
		Subsystems: map[string]func(ExecContext) int{
			"upper": func(ctx ExecContext) int {
				b, err := io.ReadAll(ctx.Stdin)
				if err != nil {
					return 1
				}
				fmt.Fprintf(ctx.Stdout, "%s:%s", ctx.Command, strings.ToUpper(string(b)))
				return 3
			},
		},
	})
	c := connect(t, srv, clientConfig(srv, "u", ssh.Password("p")))
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestSubsystem("upper"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(in, "abc"); err != nil {
		t.Fatal(err)
	}
	in.Close()
	got, err := io.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "upper:ABC" {
		t.Fatalf("output %q", got)
	}
	sess2, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess2.Close()
	if err := sess2.RequestSubsystem("echo-subsystem"); err != nil {
		t.Fatalf("echo-subsystem refused beside Subsystems: %v", err)
	}
	sess3, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess3.Close()
	if err := sess3.RequestSubsystem("sftp"); err == nil {
		t.Fatal("unserved subsystem accepted")
	}
}
