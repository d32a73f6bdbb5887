package ssh

import (
	"context"
	"crypto/dsa"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libssh-go/libssh/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// ---- helpers ----

// khLine returns a plain known_hosts line.
func khLine(hosts string, key gossh.PublicKey) string {
	return hosts + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key)))
}

// writeKH writes lines to a new file in dir and returns its path.
func writeKH(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, []byte(strings.Join(lines, "\n")+"\n"))
	return path
}

// khLogRecorder is a slog handler that keeps what it is given.
type khLogRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *khLogRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *khLogRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	r.msgs = append(r.msgs, b.String())
	r.mu.Unlock()
	return nil
}
func (r *khLogRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *khLogRecorder) WithGroup(string) slog.Handler      { return r }

func (r *khLogRecorder) warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		if strings.HasPrefix(m, "WARN") {
			out = append(out, m)
		}
	}
	return out
}

// khSigner returns a new key of the given type, failing the test on error.
func khSigner(t testing.TB, typ string) gossh.Signer {
	t.Helper()
	s, err := sshtest.GenerateSigner(typ)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// khDSAKey returns a DSA public key with parameters of the sizes x/crypto
// accepts; it is only ever parsed and compared, never used to verify.
func khDSAKey(t *testing.T) gossh.PublicKey {
	t.Helper()
	one := big.NewInt(1)
	p := new(big.Int).Lsh(one, 1023)
	p.Add(p, big.NewInt(12345))
	q := new(big.Int).Lsh(one, 159)
	q.Add(q, big.NewInt(777))
	pub, err := gossh.NewPublicKey(&dsa.PublicKey{
		Parameters: dsa.Parameters{P: p, Q: q, G: big.NewInt(2)},
		Y:          big.NewInt(99999),
	})
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// khHostCert returns a certificate for host's key signed by ca, and a
// signer that presents it.
func khHostCert(t *testing.T, ca, host gossh.Signer, certType uint32, principals []string, after, before time.Time) (*gossh.Certificate, gossh.Signer) {
	t.Helper()
	cert := &gossh.Certificate{
		Key:             host.PublicKey(),
		CertType:        certType,
		KeyId:           "test host",
		ValidPrincipals: principals,
		ValidAfter:      uint64(after.Unix()),
		ValidBefore:     uint64(before.Unix()),
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewCertSigner(cert, host)
	if err != nil {
		t.Fatal(err)
	}
	return cert, s
}

// khOptions are Options for looking up files in a test, never the machine's.
func khOptions(host string, port int, user ...string) Options {
	return Options{Host: host, Port: port, KnownHosts: user, GlobalKnownHosts: nil}
}

func khDiscardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// ---- parsing ----

func TestKnownHostsParseLine(t *testing.T) {
	ed := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	edText := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(ed)))
	_, edB64, _ := strings.Cut(edText, " ")
	hashed := HashKnownHostsHostname("example.com")

	good := []struct {
		line    string
		marker  KnownHostsMarker
		hosts   []string
		comment string
	}{
		{"example.com " + edText, MarkerNone, []string{"example.com"}, ""},
		{"  a,[b]:2222,!c,*.d\t" + edText + "  a comment  here \r\n", MarkerNone, []string{"a", "[b]:2222", "!c", "*.d"}, "a comment  here"},
		{"@cert-authority *.example.com " + edText, MarkerCertAuthority, []string{"*.example.com"}, ""},
		{"@revoked * " + edText + " old", MarkerRevoked, []string{"*"}, "old"},
		{hashed + " " + edText, MarkerNone, []string{hashed}, ""},
		{"h ssh-ed25519 " + strings.TrimRight(edB64, "="), MarkerNone, []string{"h"}, ""}, // unpadded base64
	}
	for _, g := range good {
		e, err := ParseKnownHostsLine(g.line)
		if err != nil {
			t.Errorf("ParseKnownHostsLine(%q): %v", g.line, err)
			continue
		}
		if e.Marker != g.marker || !slices.Equal(e.Hosts, g.hosts) || e.Comment != g.comment || !e.Key.Equal(NewKey(ed)) {
			t.Errorf("ParseKnownHostsLine(%q) = %+v", g.line, e)
		}
		again, err := ParseKnownHostsLine(e.String())
		if err != nil || again.String() != e.String() || !again.Key.Equal(e.Key) {
			t.Errorf("round trip of %q: %q, %v", e.String(), again.String(), err)
		}
	}
	if e, _ := ParseKnownHostsLine(hashed + " " + edText); !e.Hashed() || !e.MatchHostname("EXAMPLE.com") || e.MatchHostname("example.org") {
		t.Errorf("hashed entry: Hashed=%v", e.Hashed())
	}

	rsaText := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(khSigner(t, gossh.KeyAlgoECDSA256).PublicKey())))
	_, ecB64, _ := strings.Cut(rsaText, " ")
	bad := []string{
		"",
		"   ",
		"# comment " + edText,
		"@marker host " + edText,
		"@revoked",
		"host",
		"host ssh-ed25519",
		"host ssh-ed25519 !!!notbase64!!!",
		"host ssh-ed25519 " + ecB64, // the key is ecdsa: type mismatch
		"host 1024 35 1234567890",   // SSH-1 RSA
		"|1|c2FsdA==|aGFzaA== " + edText,
		"|2|abc|def " + edText,
		"host\nother " + edText,
		"ho\x00st " + edText,
		"@cert-authority * " + khCertLine(t),
	}
	for _, line := range bad {
		if e, err := ParseKnownHostsLine(line); !errors.Is(err, ErrInvalidKnownHosts) {
			t.Errorf("ParseKnownHostsLine(%q) = %+v, %v; want ErrInvalidKnownHosts", line, e, err)
		}
	}
}

// khCertLine returns "type base64" of a host certificate.
func khCertLine(t *testing.T) string {
	ca := khSigner(t, gossh.KeyAlgoED25519)
	cert, _ := khHostCert(t, ca, khSigner(t, gossh.KeyAlgoED25519), gossh.HostCert, []string{"h"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(cert)))
}

func TestKnownHostsParseAuthorizedKeysLine(t *testing.T) {
	ed := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	edText := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(ed)))
	line := `command="echo a, b",no-pty,from="10.0.0.0/8" ` + edText + " me@host\n"
	e, err := ParseAuthorizedKeysLine(line)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`command="echo a, b"`, "no-pty", `from="10.0.0.0/8"`}
	if !slices.Equal(e.Options, want) || e.Comment != "me@host" || !e.Key.Equal(NewKey(ed)) {
		t.Fatalf("got %+v", e)
	}
	if got := e.String(); got != strings.TrimSuffix(line, "\n") {
		t.Fatalf("String = %q", got)
	}
	plain, err := ParseAuthorizedKeysLine(edText)
	if err != nil || plain.Options != nil || plain.Comment != "" || plain.String() != edText {
		t.Fatalf("plain line: %+v, %v", plain, err)
	}
	for _, l := range []string{"", "# x", "no-pty", edText + "\n" + edText, "ssh-ed25519 AAAA"} {
		if _, err := ParseAuthorizedKeysLine(l); !errors.Is(err, ErrInvalidKnownHosts) || !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParseAuthorizedKeysLine(%q): %v", l, err)
		}
	}
}

func TestKnownHostsFingerprints(t *testing.T) {
	pub := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	k := NewKey(pub)
	if got, want := k.Fingerprint(), gossh.FingerprintSHA256(pub); got != want {
		t.Errorf("Fingerprint = %q, want %q", got, want)
	}
	if got, want := k.FingerprintMD5(), "MD5:"+gossh.FingerprintLegacyMD5(pub); got != want {
		t.Errorf("FingerprintMD5 = %q, want %q", got, want)
	}
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("no ssh-keygen to compare with")
	}
	path := filepath.Join(t.TempDir(), "k.pub")
	writeFile(t, path, gossh.MarshalAuthorizedKey(pub))
	for _, c := range []struct{ hash, want string }{{"sha256", k.Fingerprint()}, {"md5", k.FingerprintMD5()}} {
		out, err := exec.Command(keygen, "-l", "-E", c.hash, "-f", path).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen -l: %v\n%s", err, out)
		}
		if f := strings.Fields(string(out)); len(f) < 2 || f[1] != c.want {
			t.Errorf("ssh-keygen -l -E %s says %q, we say %q", c.hash, out, c.want)
		}
	}
}

// ---- matching ----

// ---- algorithm ordering ----

func TestKnownHostsOrderAlgorithms(t *testing.T) {
	rsa := khSigner(t, gossh.KeyAlgoRSA).PublicKey()
	ed := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	ec := khSigner(t, gossh.KeyAlgoECDSA256).PublicKey()
	def := defaultAlgorithms(kindHostKey)
	dir := t.TempDir()
	cases := []struct {
		name  string
		lines []string
		list  []string
		want  []string // the first algorithms
	}{
		{"unknown host", []string{khLine("other", rsa)}, def, def[:1]},
		{"rsa known", []string{khLine("h", rsa)}, def, []string{"rsa-sha2-512", "rsa-sha2-256", "ssh-ed25519-cert-v01@openssh.com"}},
		{"rsa known, ssh-rsa enabled", []string{khLine("h", rsa)}, []string{"ssh-ed25519", "ssh-rsa", "rsa-sha2-512"}, []string{"ssh-rsa", "rsa-sha2-512", "ssh-ed25519"}},
		{"rsa known, only sha2-512 enabled", []string{khLine("h", rsa)}, []string{"ssh-ed25519", "rsa-sha2-512"}, []string{"rsa-sha2-512", "ssh-ed25519"}},
		{"ed25519 and ecdsa known", []string{khLine("h", ed), khLine("h", ec)}, def, []string{"ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-ed25519-cert-v01@openssh.com"}},
		{"CA known", []string{"@cert-authority h " + khLine("", ed)[1:], khLine("h", ec)}, []string{"ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-ed25519-cert-v01@openssh.com", "rsa-sha2-256"},
			[]string{"ssh-ed25519-cert-v01@openssh.com", "ecdsa-sha2-nistp256", "ssh-ed25519", "rsa-sha2-256"}},
		{"revoked is not known", []string{"@revoked h " + khLine("", ed)[1:]}, []string{"rsa-sha2-256", "ssh-ed25519"}, []string{"rsa-sha2-256", "ssh-ed25519"}},
		{"dsa known but not enabled", []string{khLine("h", khDSAKey(t))}, def, def[:1]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := khOptions("h", 22, writeKH(t, dir, "kh", c.lines...))
			opts.HostKeyAlgorithms = slices.Clone(c.list)
			got := orderHostKeyAlgorithms(opts, "h", 22, khDiscardLog())
			if !slices.Equal(got[:len(c.want)], c.want) {
				t.Fatalf("got %v, want it to start with %v", got, c.want)
			}
			a, b := slices.Clone(got), slices.Clone(c.list)
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Fatalf("ordering changed the set: %v from %v", got, c.list)
			}
		})
	}
}

// ---- end to end through the gate ----

// khServer is a testserver with the default host keys (ed25519, ecdsa,
// rsa), unless restricted to algs, where user "u" logs in with none.
func khServer(t *testing.T, algs ...string) *sshtest.Server {
	return sshtest.New(t, sshtest.Config{
		HostKeyAlgorithms: algs,
		Users:             map[string]sshtest.User{"u": {NoneAuth: true}},
	})
}

// khServerKey returns srv's host key of the given type.
func khServerKey(t *testing.T, srv *sshtest.Server, typ string) gossh.PublicKey {
	t.Helper()
	for _, k := range srv.HostKeys() {
		if k.Type() == typ {
			return k
		}
	}
	t.Fatalf("server has no %s key", typ)
	return nil
}

// khSession connects to srv with the user file kh and a global file that
// does not exist, unless opts say otherwise. ssh_config is not read: the
// machine's (Debian sets HashKnownHosts yes) must not change the results.
func khSession(t *testing.T, srv *sshtest.Server, kh string, opts ...Option) *Session {
	t.Helper()
	base := []Option{ProcessConfig(false), KnownHosts(kh), GlobalKnownHosts(filepath.Join(t.TempDir(), "global"))}
	return dialSession(t, srv, "u", append(base, opts...)...)
}

func khSrvName(srv *sshtest.Server) string { return KnownHostsHostname(srv.Host(), srv.Port()) }

func TestKnownHostsOrderingPicksTheKnownKey(t *testing.T) {
	srv := khServer(t)
	for _, typ := range []string{gossh.KeyAlgoRSA, gossh.KeyAlgoECDSA256, gossh.KeyAlgoED25519} {
		t.Run(typ, func(t *testing.T) {
			kh := writeKH(t, t.TempDir(), "known_hosts", khLine(khSrvName(srv), khServerKey(t, srv, typ)))
			s := khSession(t, srv, kh)
			st, err := s.IsKnownServer()
			if st != KnownHostsOK || err != nil {
				t.Fatalf("IsKnownServer = %v, %v", st, err)
			}
			if k, _ := s.ServerPublicKey(); k.Type() != typ {
				t.Fatalf("server showed %s", k.Type())
			}
			// OK accepted the key: authentication goes on without AcceptHostKey.
			if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess || err != nil {
				t.Fatalf("UserauthNone = %v, %v", st, err)
			}
		})
	}
}

func TestKnownHostsIsKnownServerStates(t *testing.T) {
	full := khServer(t)
	edOnly := khServer(t, gossh.KeyAlgoED25519)
	other := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	cases := []struct {
		name  string
		srv   *sshtest.Server
		lines func(name string) []string // nil: no file
		want  KnownHostsState
		line  int
	}{
		{"not found", full, nil, KnownHostsNotFound, 0},
		{"unknown", full, func(string) []string { return []string{khLine("elsewhere", other)} }, KnownHostsUnknown, 0},
		{"changed", edOnly, func(n string) []string { return []string{"# x", khLine(n, other)} }, KnownHostsChanged, 2},
		{"other", edOnly, func(n string) []string { return []string{khLine(n, khServerKey(t, full, gossh.KeyAlgoRSA))} }, KnownHostsOther, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if c.lines != nil {
				kh = writeKH(t, filepath.Dir(kh), "known_hosts", c.lines(khSrvName(c.srv))...)
			}
			s := khSession(t, c.srv, kh)
			st, err := s.IsKnownServer()
			if st != c.want || err != nil {
				t.Fatalf("IsKnownServer = %v, %v; want %v", st, err, c.want)
			}
			// The place of the deciding entry, which a UI prints as
			// OpenSSH does ("Offending ED25519 key in FILE:LINE"), without
			// attempting authentication to get it.
			m, err := s.KnownHostsMatch()
			if err != nil || m.State != c.want || m.Line != c.line || (c.line != 0) != (m.File == kh) || (c.line != 0) != (m.Entry.Key != nil) {
				t.Fatalf("KnownHostsMatch = %+v, %v; want state %v line %d in %s", m, err, c.want, c.line, kh)
			}
			if c.want == KnownHostsChanged && m.Entry.Key.Type() != gossh.KeyAlgoED25519 {
				t.Fatalf("the offending entry holds a %s key", m.Entry.Key.Type())
			}
			// Not OK: nothing accepted; the default policy refuses.
			_, err = s.UserauthNone(testCtx(t), "")
			var hk *HostKeyError
			if !errors.As(err, &hk) || hk.State != c.want || hk.Line != c.line || (c.line != 0) != (hk.File == kh) {
				t.Fatalf("UserauthNone: %v (%+v)", err, hk)
			}
			if hk.Key == nil || hk.Fingerprint != hk.Key.Fingerprint() {
				t.Fatalf("HostKeyError without key: %+v", hk)
			}
			wantErr := ErrHostKeyNotVerified
			if c.want == KnownHostsChanged {
				wantErr = ErrHostKeyChanged
			}
			if !errors.Is(err, wantErr) {
				t.Fatalf("UserauthNone: %v, want %v", err, wantErr)
			}
			for _, a := range c.srv.AuthLog() {
				t.Fatalf("server saw %q before the host key was accepted", a.Method)
			}
		})
	}
}

func TestKnownHostsStrictHostKeyChecking(t *testing.T) {
	srv := khServer(t, gossh.KeyAlgoED25519)
	key := khServerKey(t, srv, gossh.KeyAlgoED25519)
	otherEd := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	rsa := khSigner(t, gossh.KeyAlgoRSA).PublicKey()
	type outcome int
	const (
		accepted outcome = iota
		refusedForNow
		refusedForGood
	)
	files := map[string]func(n string) []string{
		"ok":       func(n string) []string { return []string{khLine(n, key)} },
		"notfound": nil,
		"unknown":  func(string) []string { return []string{khLine("elsewhere", key)} },
		"changed":  func(n string) []string { return []string{khLine(n, otherEd)} },
		"other":    func(n string) []string { return []string{khLine(n, rsa)} },
		"revoked":  func(n string) []string { return []string{khLine(n, key), "@revoked " + khLine(n, key)} },
	}
	want := map[string]map[string]outcome{
		"ask":        {"ok": accepted, "notfound": refusedForNow, "unknown": refusedForNow, "changed": refusedForGood, "other": refusedForNow, "revoked": refusedForGood},
		"yes":        {"ok": accepted, "notfound": refusedForNow, "unknown": refusedForNow, "changed": refusedForGood, "other": refusedForNow, "revoked": refusedForGood},
		"accept-new": {"ok": accepted, "notfound": accepted, "unknown": accepted, "changed": refusedForGood, "other": refusedForNow, "revoked": refusedForGood},
		"no":         {"ok": accepted, "notfound": accepted, "unknown": accepted, "changed": refusedForGood, "other": refusedForNow, "revoked": refusedForGood},
		"off":        {"ok": accepted, "notfound": accepted, "unknown": accepted, "changed": refusedForGood, "other": refusedForNow, "revoked": refusedForGood},
	}
	for _, policy := range []string{"ask", "yes", "accept-new", "no", "off"} {
		for _, state := range []string{"ok", "notfound", "unknown", "changed", "other", "revoked"} {
			t.Run(policy+"/"+state, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "sub")
				kh := filepath.Join(dir, "known_hosts")
				var before []byte
				if f := files[state]; f != nil {
					if err := os.Mkdir(dir, 0o700); err != nil {
						t.Fatal(err)
					}
					kh = writeKH(t, dir, "known_hosts", f(khSrvName(srv))...)
					before, _ = os.ReadFile(kh)
				}
				s := khSession(t, srv, kh, StrictHostKeyChecking(policy))
				st, err := s.UserauthNone(testCtx(t), "")
				after, _ := os.ReadFile(kh)
				recorded := string(after) != string(before)
				switch want[policy][state] {
				case accepted:
					if st != AuthSuccess || err != nil {
						t.Fatalf("UserauthNone = %v, %v; want success", st, err)
					}
					wantRecord := state == "notfound" || state == "unknown"
					if recorded != wantRecord {
						t.Fatalf("file changed: %v, want %v:\n%s", recorded, wantRecord, after)
					}
					if recorded {
						if !strings.HasPrefix(string(after), string(before)) || !strings.HasSuffix(string(after), khLine(khSrvName(srv), key)+"\n") {
							t.Fatalf("recorded:\n%s", after)
						}
						// The next connection finds it.
						s2 := khSession(t, srv, kh)
						if st, err := s2.IsKnownServer(); st != KnownHostsOK || err != nil {
							t.Fatalf("after recording: %v, %v", st, err)
						}
					}
				case refusedForNow, refusedForGood:
					var hk *HostKeyError
					if !errors.As(err, &hk) {
						t.Fatalf("UserauthNone = %v, %v; want a *HostKeyError", st, err)
					}
					if recorded {
						t.Fatalf("refused key recorded:\n%s", after)
					}
					switch state {
					case "changed":
						if !errors.Is(err, ErrHostKeyChanged) || hk.File != kh || hk.Line != 1 {
							t.Fatalf("changed: %v", err)
						}
					case "revoked":
						if !errors.Is(err, ErrHostKeyRevoked) || hk.File != kh || hk.Line != 2 {
							t.Fatalf("revoked: %v", err)
						}
					default:
						if !errors.Is(err, ErrHostKeyNotVerified) {
							t.Fatalf("%s: %v", state, err)
						}
					}
					// For good: the connection is over and the
					// application cannot accept any more. For now: it can.
					err = s.AcceptHostKey()
					if want[policy][state] == refusedForGood {
						if err == nil {
							t.Fatal("AcceptHostKey succeeded after a final refusal")
						}
					} else {
						if err != nil {
							t.Fatalf("AcceptHostKey: %v", err)
						}
						if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess || err != nil {
							t.Fatalf("after AcceptHostKey: %v, %v", st, err)
						}
					}
				}
			})
		}
	}
	// accept-new into a file that cannot be used: the lookup already fails
	// closed.
	t.Run("accept-new/unusable", func(t *testing.T) {
		s := khSession(t, srv, t.TempDir(), StrictHostKeyChecking("accept-new"))
		if _, err := s.UserauthNone(testCtx(t), ""); !errors.Is(err, ErrKnownHostsFile) || !errors.Is(err, ErrHostKeyNotVerified) {
			t.Fatalf("UserauthNone: %v", err)
		}
	})
}

func TestKnownHostsUpdateFile(t *testing.T) {
	srv := khServer(t, gossh.KeyAlgoECDSA256)
	key := khServerKey(t, srv, gossh.KeyAlgoECDSA256)
	keygen, _ := exec.LookPath("ssh-keygen")
	for _, hash := range []bool{false, true} {
		t.Run("hash="+strconv.FormatBool(hash), func(t *testing.T) {
			home := t.TempDir()
			kh := filepath.Join(home, "a", "b", "known_hosts")
			global := writeKH(t, home, "global", "# global")
			s := dialSession(t, srv, "u", ProcessConfig(false), KnownHosts(kh), GlobalKnownHosts(global), HashKnownHosts(hash))
			if st, _ := s.IsKnownServer(); st != KnownHostsUnknown {
				t.Fatalf("before: %v", st)
			}
			if err := s.UpdateKnownHostsFile(); err != nil {
				t.Fatal(err)
			}
			// Accepted: authentication goes on.
			if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess || err != nil {
				t.Fatalf("UserauthNone = %v, %v", st, err)
			}
			for path, mode := range map[string]os.FileMode{filepath.Join(home, "a"): 0o700, filepath.Join(home, "a", "b"): 0o700, kh: 0o600} {
				if fi, err := os.Stat(path); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != mode {
					t.Fatalf("%s: %v %v, want %v", path, fi.Mode(), err, mode)
				}
			}
			data, _ := os.ReadFile(kh)
			e, err := ParseKnownHostsLine(string(data))
			if err != nil || strings.Count(string(data), "\n") != 1 || !e.Key.Equal(NewKey(key)) || e.Hashed() != hash || !e.MatchHostname(khSrvName(srv)) {
				t.Fatalf("written %q: %+v, %v", data, e, err)
			}
			if !hash && e.String() != khLine("[127.0.0.1]:"+strconv.Itoa(srv.Port()), key) {
				t.Fatalf("written %q", data)
			}
			if g, _ := os.ReadFile(global); string(g) != "# global\n" {
				t.Fatalf("global file changed: %q", g)
			}
			s2 := khSession(t, srv, kh)
			if st, err := s2.IsKnownServer(); st != KnownHostsOK || err != nil {
				t.Fatalf("next connection: %v, %v", st, err)
			}
			if keygen != "" {
				out, err := exec.Command(keygen, "-F", khSrvName(srv), "-f", kh).CombinedOutput()
				if err != nil || !strings.Contains(string(out), e.Key.AuthorizedKey()) {
					t.Fatalf("ssh-keygen -F %s: %v\n%s", khSrvName(srv), err, out)
				}
				out, err = exec.Command(keygen, "-F", "[127.0.0.1]:1", "-f", kh).CombinedOutput()
				if err == nil || strings.Contains(string(out), e.Key.AuthorizedKey()) {
					t.Fatalf("ssh-keygen -F finds another port:\n%s", out)
				}
			}
		})
	}
	t.Run("no final newline", func(t *testing.T) {
		dir := t.TempDir()
		kh := filepath.Join(dir, "known_hosts")
		writeFile(t, kh, []byte("# last line without newline"))
		s := khSession(t, srv, kh)
		if err := s.UpdateKnownHostsFile(); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(kh)
		if want := "# last line without newline\n" + khLine(khSrvName(srv), key) + "\n"; string(data) != want {
			t.Fatalf("got %q", data)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		kh := writeKH(t, t.TempDir(), "known_hosts", "@revoked * "+khLine("", key)[1:])
		s := khSession(t, srv, kh)
		if err := s.UpdateKnownHostsFile(); !errors.Is(err, ErrHostKeyRevoked) {
			t.Fatalf("UpdateKnownHostsFile: %v", err)
		}
		if data, _ := os.ReadFile(kh); strings.Count(string(data), "\n") != 1 {
			t.Fatalf("revoked key written:\n%s", data)
		}
	})
	t.Run("alias", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		s := khSession(t, srv, kh, HostKeyAlias("alias.example"))
		if err := s.UpdateKnownHostsFile(); err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(kh); string(data) != khLine("alias.example", key)+"\n" {
			t.Fatalf("got %q", data)
		}
	})
	t.Run("unconnected", func(t *testing.T) {
		if err := NewSession().UpdateKnownHostsFile(); !errors.Is(err, ErrNotConnected) {
			t.Fatal(err)
		}
		if _, err := NewSession().IsKnownServer(); !errors.Is(err, ErrNotConnected) {
			t.Fatal(err)
		}
	})
}

// TestKnownHostsRefusesHostNameInjection: a HostKeyAlias that could not be
// recorded as one literal host is refused when set (knownhosts.Lines
// refuses the same names; see its tests).
func TestKnownHostsRefusesHostNameInjection(t *testing.T) {
	for _, name := range []string{"a b", "a,b", "a\x00b", "a\nb", "a\tb", "a\rb", "*", "h?", "!h", "#h", "@h", "|1|x", "[a b]:22", "[a,b]:2222"} {
		err := NewSession().SetOption(HostKeyAlias(name))
		var oe *OptionError
		if !errors.As(err, &oe) || !errors.Is(err, ErrInvalidKnownHosts) {
			t.Errorf("HostKeyAlias(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", "none", "h", "[h]:2222", "::1", "h.example.com"} {
		if err := NewSession().SetOption(HostKeyAlias(name)); err != nil {
			t.Errorf("HostKeyAlias(%q): %v", name, err)
		}
	}
}

// TestKnownHostsOrderIgnoresBadFiles: the algorithm ordering leaves the
// list alone for a file that cannot be used (the lookup then fails).
func TestKnownHostsOrderIgnoresBadFiles(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{dir, filepath.Join(writeKH(t, dir, "f", "# x"), "sub")} {
		o := khOptions("h", 22, path)
		o.HostKeyAlgorithms = []string{"ssh-ed25519"}
		if got := orderHostKeyAlgorithms(o, "h", 22, khDiscardLog()); !slices.Equal(got, o.HostKeyAlgorithms) {
			t.Fatalf("ordering with %s = %v", path, got)
		}
		if _, err := checkKnownHosts(o, nil, khSigner(t, gossh.KeyAlgoED25519).PublicKey(), khDiscardLog()); !errors.Is(err, ErrKnownHostsFile) {
			t.Fatalf("lookup with %s: %v", path, err)
		}
	}
}

func TestKnownHostsCheckHostIP(t *testing.T) {
	srv := khServer(t, gossh.KeyAlgoED25519)
	key := khServerKey(t, srv, gossh.KeyAlgoED25519)
	other := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	port := srv.Port()
	hostName := KnownHostsHostname("localhost", port)
	ipName := KnownHostsHostname("127.0.0.1", port)
	dial := func(t *testing.T, kh string, opts ...Option) *Session {
		t.Helper()
		s := NewSession()
		base := []Option{ProcessConfig(false), Hostname("localhost"), Port(port), User("u"), KnownHosts(kh),
			GlobalKnownHosts(filepath.Join(t.TempDir(), "g"))}
		if err := s.SetOption(append(base, opts...)...); err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(testCtx(t)); err != nil {
			t.Skipf("cannot reach the server as localhost: %v", err)
		}
		t.Cleanup(func() { _ = s.Disconnect() })
		return s
	}
	t.Run("address changed", func(t *testing.T) {
		kh := writeKH(t, t.TempDir(), "kh", khLine(hostName, key), khLine(ipName, other))
		if st, err := dial(t, kh).IsKnownServer(); st != KnownHostsOK || err != nil {
			t.Fatalf("without CheckHostIP: %v, %v", st, err)
		}
		s := dial(t, kh, CheckHostIP(true))
		if st, err := s.IsKnownServer(); st != KnownHostsChanged || err != nil {
			t.Fatalf("with CheckHostIP: %v, %v", st, err)
		}
		var hk *HostKeyError
		if _, err := s.UserauthNone(testCtx(t), ""); !errors.As(err, &hk) || hk.Line != 2 || !errors.Is(err, ErrHostKeyChanged) {
			t.Fatalf("UserauthNone: %v", err)
		}
	})
	t.Run("address recorded", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "kh")
		if err := dial(t, kh, CheckHostIP(true)).UpdateKnownHostsFile(); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(kh)
		if want := khLine(hostName+","+ipName, key) + "\n"; string(data) != want {
			t.Fatalf("got %q, want %q", data, want)
		}
		if st, err := dial(t, kh, CheckHostIP(true)).IsKnownServer(); st != KnownHostsOK || err != nil {
			t.Fatalf("after recording: %v, %v", st, err)
		}
	})
	t.Run("address known, host new", func(t *testing.T) {
		kh := writeKH(t, t.TempDir(), "kh", khLine(ipName, key))
		s := dial(t, kh, CheckHostIP(true), HashKnownHosts(true))
		if st, err := s.IsKnownServer(); st != KnownHostsUnknown || err != nil {
			t.Fatalf("IsKnownServer: %v, %v", st, err)
		}
		if err := s.UpdateKnownHostsFile(); err != nil {
			t.Fatal(err)
		}
		// Only the host is added, hashed; the address was there already.
		data, _ := os.ReadFile(kh)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 2 {
			t.Fatalf("got %q", data)
		}
		if e, err := ParseKnownHostsLine(lines[1]); err != nil || !e.Hashed() || !e.MatchHostname(hostName) {
			t.Fatalf("added %q", lines[1])
		}
	})
}

func TestKnownHostsCertificateEndToEnd(t *testing.T) {
	ca := khSigner(t, gossh.KeyAlgoED25519)
	hostKey := khSigner(t, gossh.KeyAlgoECDSA256)
	plain := khSigner(t, gossh.KeyAlgoED25519)
	now := time.Now()
	for _, c := range []struct {
		name       string
		principals []string
		alias      string
		want       KnownHostsState
	}{
		{"valid", []string{"127.0.0.1"}, "", KnownHostsOK},
		{"alias", []string{"ca-host.example"}, "ca-host.example", KnownHostsOK},
		{"wrong principal", []string{"elsewhere.example"}, "", KnownHostsChanged},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, certSigner := khHostCert(t, ca, hostKey, gossh.HostCert, c.principals, now.Add(-time.Hour), now.Add(time.Hour))
			// The plain ed25519 key comes first in x/crypto's own order;
			// the ordering must ask for the certificate.
			srv := sshtest.New(t, sshtest.Config{
				HostKeys: []gossh.Signer{plain, certSigner},
				Users:    map[string]sshtest.User{"u": {NoneAuth: true}},
			})
			pattern := khSrvName(srv) // "[127.0.0.1]:port"; the principal has no port
			if c.alias != "" {
				pattern = c.alias
			}
			kh := writeKH(t, t.TempDir(), "kh", "@cert-authority "+khLine(pattern, ca.PublicKey()))
			var opts []Option
			if c.alias != "" {
				opts = append(opts, HostKeyAlias(c.alias))
			}
			s := khSession(t, srv, kh, append(opts, HostKeys("ssh-ed25519,ecdsa-sha2-nistp256-cert-v01@openssh.com"))...)
			k, _ := s.ServerPublicKey()
			if k.Certificate() == nil {
				t.Fatalf("server showed %s, not its certificate", k.Type())
			}
			st, err := s.IsKnownServer()
			if st != c.want {
				t.Fatalf("IsKnownServer = %v, %v", st, err)
			}
			if c.want == KnownHostsOK {
				if err != nil {
					t.Fatal(err)
				}
				if st, err := s.UserauthNone(testCtx(t), ""); st != AuthSuccess || err != nil {
					t.Fatalf("UserauthNone = %v, %v", st, err)
				}
				return
			}
			var hk *HostKeyError
			if !errors.As(err, &hk) || !errors.Is(err, ErrHostCertificateInvalid) || hk.Line != 1 {
				t.Fatalf("IsKnownServer error: %v", err)
			}
			if _, err := s.UserauthNone(testCtx(t), ""); !errors.Is(err, ErrHostCertificateInvalid) {
				t.Fatalf("UserauthNone: %v", err)
			}
		})
	}
}

// TestKnownHostsSocketTransport: without a TCP address, CheckHostIP has
// nothing to look up and lookups use the host name only.
func TestKnownHostsSocketTransport(t *testing.T) {
	srv := khServer(t, gossh.KeyAlgoED25519)
	key := khServerKey(t, srv, gossh.KeyAlgoED25519)
	a, b := net.Pipe()
	go func() {
		raw, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			b.Close()
			return
		}
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(raw, b); done <- struct{}{} }()
		go func() { _, _ = io.Copy(b, raw); done <- struct{}{} }()
		<-done
		raw.Close()
		b.Close()
		<-done
	}()
	kh := writeKH(t, t.TempDir(), "kh", khLine("pipe.example", key))
	s := NewSession()
	if err := s.SetOption(ProcessConfig(false), Socket(a), Hostname("pipe.example"), User("u"), KnownHosts(kh),
		GlobalKnownHosts(filepath.Join(t.TempDir(), "g")), CheckHostIP(true)); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	if st, err := s.IsKnownServer(); st != KnownHostsOK || err != nil {
		t.Fatalf("IsKnownServer = %v, %v", st, err)
	}
}

// ---- examples ----

func ExampleParseKnownHostsLine() {
	e, err := ParseKnownHostsLine("[git.example.com]:2222,!old.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICtpNxbjaQ8JxWv0A8Ddq5K1uk+WpQ/qWMrWF9rV9Uj9 deploy key")
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Hosts, e.Key.Type(), e.Comment)
	fmt.Println(e.Key.Fingerprint())
	fmt.Println(e.MatchHostname(KnownHostsHostname("git.example.com", 2222)))
	fmt.Println(e.MatchHostname(KnownHostsHostname("git.example.com", 22)))
	// Output:
	// [[git.example.com]:2222 !old.example.com] ssh-ed25519 deploy key
	// SHA256:LkLn4z9651Jn7vOdq4pBAQx2yieDB4gfbj/FU8Coi6k
	// true
	// false
}

// The libssh way to check a server: IsKnownServer, then the application
// decides what OpenSSH would ask the user.
func ExampleSession_IsKnownServer() {
	sess := NewSession()
	defer sess.Disconnect()
	ctx := context.Background()
	if err := sess.SetOption(Hostname("server.example.com")); err != nil {
		panic(err)
	}
	if err := sess.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	state, err := sess.IsKnownServer()
	var hk *HostKeyError
	switch {
	case errors.As(err, &hk):
		fmt.Printf("refusing %s: %v\n", hk.Fingerprint, err) // revoked, bad certificate, unreadable file
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	switch state {
	case KnownHostsOK:
		// Already accepted: authenticate.
	case KnownHostsChanged, KnownHostsOther:
		fmt.Println("WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!")
		return
	case KnownHostsUnknown, KnownHostsNotFound:
		key, _ := sess.ServerPublicKey()
		fmt.Printf("The authenticity of host can't be established.\n%s key fingerprint is %s.\n", key.Type(), key.Fingerprint())
		// Ask the user; on "yes":
		if err := sess.UpdateKnownHostsFile(); err != nil {
			fmt.Println(err)
			return
		}
	}
	_, _ = sess.UserauthPublicKeyAuto(ctx, "", "")
}
