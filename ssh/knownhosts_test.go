package ssh

import (
	"bufio"
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

// khGlobRef is the obvious recursive matcher, exponential but clearly right,
// to check matchGlob against.
func khGlobRef(p, s string) bool {
	if p == "" {
		return s == ""
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if khGlobRef(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && khGlobRef(p[1:], s[1:])
	}
	return s != "" && s[0] == p[0] && khGlobRef(p[1:], s[1:])
}

func TestKnownHostsGlob(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"", "", true}, {"", "a", false}, {"*", "", true}, {"*", "anything", true},
		{"?", "", false}, {"?", "a", true}, {"a*b", "ab", true}, {"a*b", "axxb", true},
		{"a*b", "axxbx", false}, {"*.example.com", "www.example.com", true},
		{"*.example.com", "example.com", false}, {"[*]:2222", "[h]:2222", true},
		{"[*]:2222", "[h]:22", false}, {"10.0.0.?", "10.0.0.5", true}, {"10.0.0.?", "10.0.0.55", false},
		{"*a*b*c", "xaxbxcx", false}, {"*a*b*c*", "xaxbxcx", true}, {"**", "x", true},
	}
	for _, c := range cases {
		if got := matchGlob(c.p, c.s); got != c.want || khGlobRef(c.p, c.s) != c.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
	// Every pattern over {a, b, *, ?} up to 5 bytes against every name over
	// {a, b} up to 5 bytes.
	var pats, names []string
	var gen func(prefix, alphabet string, n int, out *[]string)
	gen = func(prefix, alphabet string, n int, out *[]string) {
		*out = append(*out, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+string(c), alphabet, n-1, out)
		}
	}
	gen("", "ab*?", 5, &pats)
	gen("", "ab", 5, &names)
	for _, p := range pats {
		for _, s := range names {
			if matchGlob(p, s) != khGlobRef(p, s) {
				t.Fatalf("matchGlob(%q, %q) = %v, reference says %v", p, s, matchGlob(p, s), khGlobRef(p, s))
			}
		}
	}
}

func TestKnownHostsMatchHostname(t *testing.T) {
	ed := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	cases := []struct {
		hosts string
		host  string
		port  int
		want  bool
	}{
		{"example.com", "example.com", 22, true},
		{"example.com", "Example.COM", 22, true},
		{"EXAMPLE.com", "example.com", 22, true},
		{"example.com", "example.com", 2222, false},
		{"[example.com]:2222", "example.com", 2222, true},
		{"[example.com]:2222", "example.com", 22, false},
		{"[example.com]:22", "example.com", 22, false}, // OpenSSH writes port 22 bare
		{"*.example.com", "a.example.com", 22, true},
		{"*.example.com", "a.example.com", 2222, false},
		{"[*.example.com]:*", "a.example.com", 2222, true},
		{"*.example.com,!bad.example.com", "bad.example.com", 22, false},
		{"!bad.example.com,*.example.com", "bad.example.com", 22, false},
		{"*.example.com,!bad.example.com", "good.example.com", 22, true},
		{"!bad.example.com", "good.example.com", 22, false}, // a negation alone matches nothing
		{"other,example.com", "example.com", 22, true},
		{"10.0.0.?", "10.0.0.7", 22, true},
		{"::1", "::1", 22, true},
		{"[::1]:2222", "::1", 2222, true},
		{HashKnownHostsHostname("[example.com]:2222"), "example.com", 2222, true},
		{HashKnownHostsHostname("[example.com]:2222"), "example.com", 22, false},
		{HashKnownHostsHostname("Example.com"), "example.COM", 22, true},
	}
	for _, c := range cases {
		e, err := ParseKnownHostsLine(khLine(c.hosts, ed))
		if err != nil {
			t.Fatal(err)
		}
		if got := e.MatchHostname(KnownHostsHostname(c.host, c.port)); got != c.want {
			t.Errorf("%q matching %s port %d = %v, want %v", c.hosts, c.host, c.port, got, c.want)
		}
	}
}

// TestKnownHostsPatternLinearTime: a hostile pattern of 30 stars against a
// 1 KiB name that almost matches. A backtracking matcher tries
// C(1024, 30) splits; this one needs at most 1024*61 steps.
func TestKnownHostsPatternLinearTime(t *testing.T) {
	pattern := strings.Repeat("*a", 30) + "*b"
	name := strings.Repeat("a", 1024)
	ed := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	e, err := ParseKnownHostsLine(khLine(pattern+",x", ed))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	matched := e.MatchHostname(name)
	elapsed := time.Since(start)
	if matched {
		t.Fatal("pattern matched a name without b")
	}
	if !e.MatchHostname(name + "b") {
		t.Fatal("pattern did not match a name ending in b")
	}
	t.Logf("30-star pattern against a 1 KiB name: %v", elapsed)
	if elapsed > 100*time.Millisecond {
		t.Fatalf("matching took %v; the matcher is not linear", elapsed)
	}
}

// ---- lookup states ----

func TestKnownHostsStates(t *testing.T) {
	ed := khSigner(t, gossh.KeyAlgoED25519)
	ed2 := khSigner(t, gossh.KeyAlgoED25519)
	ec := khSigner(t, gossh.KeyAlgoECDSA256)
	ec384 := khSigner(t, gossh.KeyAlgoECDSA384)
	edPub, ed2Pub, ecPub := ed.PublicKey(), ed2.PublicKey(), ec.PublicKey()
	dsaPub := khDSAKey(t)
	const host = "server.example"

	cases := []struct {
		name    string
		user    []string // lines of the user file; nil = no file
		global  []string // lines of the global file; nil = no file
		port    int
		alias   string
		key     gossh.PublicKey
		want    KnownHostsState
		file    string // "user" or "global" of the deciding entry; "" = none
		line    int
		wantErr error
	}{
		{name: "no file", key: edPub, want: KnownHostsNotFound},
		{name: "empty file", user: []string{}, key: edPub, want: KnownHostsUnknown},
		{name: "other host", user: []string{khLine("other.example", edPub)}, key: edPub, want: KnownHostsUnknown},
		{name: "only global, other host", global: []string{khLine("other.example", edPub)}, key: edPub, want: KnownHostsUnknown},
		{name: "ok", user: []string{khLine(host, edPub)}, key: edPub, want: KnownHostsOK, file: "user", line: 1},
		{name: "ok in global", global: []string{khLine(host, edPub)}, key: edPub, want: KnownHostsOK, file: "global", line: 1},
		{name: "changed", user: []string{khLine(host, ed2Pub)}, key: edPub, want: KnownHostsChanged, file: "user", line: 1},
		{name: "other", user: []string{khLine(host, ecPub)}, key: edPub, want: KnownHostsOther, file: "user", line: 1},
		{name: "ecdsa curves are types", user: []string{khLine(host, ec384.PublicKey())}, key: ecPub, want: KnownHostsOther, file: "user", line: 1},
		{name: "changed wins over other", user: []string{khLine(host, ecPub), khLine(host, ed2Pub)}, key: edPub, want: KnownHostsChanged, file: "user", line: 2},
		{name: "ok wins over changed", user: []string{khLine(host, ed2Pub), "# c", khLine(host, edPub)}, key: edPub, want: KnownHostsOK, file: "user", line: 3},
		{name: "ok in global wins over changed in user", user: []string{khLine(host, ed2Pub)}, global: []string{khLine(host, edPub)}, key: edPub, want: KnownHostsOK, file: "global", line: 1},
		{name: "duplicates", user: []string{khLine(host, edPub), khLine(host, edPub), khLine(host, edPub)}, key: edPub, want: KnownHostsOK, file: "user", line: 1},
		{name: "port", port: 2222, user: []string{khLine(host, ed2Pub), khLine("["+host+"]:2222", edPub)}, key: edPub, want: KnownHostsOK, file: "user", line: 2},
		{name: "bare entry is for port 22 only", port: 2222, user: []string{khLine(host, edPub)}, key: edPub, want: KnownHostsUnknown},
		{name: "wildcard", user: []string{khLine("*.example", edPub)}, key: edPub, want: KnownHostsOK, file: "user", line: 1},
		{name: "negation vetoes", user: []string{khLine("*.example,!server.*", edPub)}, key: edPub, want: KnownHostsUnknown},
		{name: "negation vetoes a changed key too", user: []string{khLine("*.example,!server.*", ed2Pub)}, key: edPub, want: KnownHostsUnknown},
		{name: "hashed", user: []string{HashKnownHostsHostname("other") + " x", khLine(HashKnownHostsHostname(host), edPub)}, key: edPub, want: KnownHostsOK, file: "user", line: 2},
		{name: "hashed with port", port: 2200, user: []string{khLine(HashKnownHostsHostname("["+host+"]:2200"), edPub)}, key: edPub, want: KnownHostsOK, file: "user", line: 1},
		{name: "hashed changed", user: []string{khLine(HashKnownHostsHostname(host), ed2Pub)}, key: edPub, want: KnownHostsChanged, file: "user", line: 1},
		{name: "alias", alias: "alias.example", port: 2222, user: []string{khLine("["+host+"]:2222", ed2Pub), khLine("alias.example", edPub)}, key: edPub, want: KnownHostsOK, file: "user", line: 2},
		{name: "alias ignores the host's entry", alias: "alias.example", user: []string{khLine(host, edPub)}, key: edPub, want: KnownHostsUnknown},
		{name: "bad line next to a good one", user: []string{host + " ssh-ed25519 AAAA-garbage", khLine(host, edPub)}, key: edPub, want: KnownHostsOK, file: "user", line: 2},
		{name: "bad line never matches", user: []string{host + " ssh-ed25519 AAAA-garbage"}, key: edPub, want: KnownHostsUnknown},
		{name: "type mismatch line skipped", user: []string{host + " ssh-ed25519 " + strings.Fields(khLine(host, ecPub))[2]}, key: ecPub, want: KnownHostsUnknown},
		{name: "unknown marker skipped", user: []string{"@trusted " + khLine(host, edPub)}, key: edPub, want: KnownHostsUnknown},
		{name: "dsa line", user: []string{khLine(host, dsaPub)}, key: edPub, want: KnownHostsOther, file: "user", line: 1},
		{name: "dsa and ok", user: []string{khLine(host, dsaPub), khLine(host, edPub)}, key: edPub, want: KnownHostsOK, file: "user", line: 2},
		{name: "revoked", user: []string{khLine(host, edPub), "@revoked * " + khLine("", edPub)[1:]}, key: edPub, want: KnownHostsChanged, file: "user", line: 2, wantErr: ErrHostKeyRevoked},
		{name: "revoked in global", user: []string{khLine(host, edPub)}, global: []string{"@revoked " + khLine(host, edPub)}, key: edPub, want: KnownHostsChanged, file: "global", line: 1, wantErr: ErrHostKeyRevoked},
		{name: "revoked for another host only", user: []string{khLine(host, edPub), "@revoked " + khLine("other", edPub)}, key: edPub, want: KnownHostsOK, file: "user", line: 1},
		{name: "cert-authority is not a plain key", user: []string{"@cert-authority " + khLine(host, edPub)}, key: edPub, want: KnownHostsUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			port := c.port
			if port == 0 {
				port = 22
			}
			opts := khOptions(host, port, filepath.Join(dir, "user"))
			opts.GlobalKnownHosts = []string{filepath.Join(dir, "global")}
			opts.HostKeyAlias = c.alias
			if c.user != nil {
				writeKH(t, dir, "user", c.user...)
			}
			if c.global != nil {
				writeKH(t, dir, "global", c.global...)
			}
			rec := &khLogRecorder{}
			res, err := checkKnownHosts(opts, nil, c.key, slog.New(rec))
			if err != nil {
				t.Fatal(err)
			}
			if res.state != c.want || !errors.Is(res.err, c.wantErr) || (res.err != nil) != (c.wantErr != nil) {
				t.Fatalf("state %v, err %v; want %v, %v", res.state, res.err, c.want, c.wantErr)
			}
			var file string
			var line int
			if res.entry != nil {
				file, line = filepath.Base(res.entry.file), res.entry.line
			}
			if file != c.file || line != c.line {
				t.Fatalf("entry %s:%d, want %s:%d", file, line, c.file, c.line)
			}
			if strings.Contains(c.name, "bad line") || strings.Contains(c.name, "skipped") {
				if len(rec.warnings()) == 0 {
					t.Fatal("malformed line not logged")
				}
			}
		})
	}
}

func TestKnownHostsCertAuthority(t *testing.T) {
	ca := khSigner(t, gossh.KeyAlgoED25519)
	otherCA := khSigner(t, gossh.KeyAlgoED25519)
	hostKey := khSigner(t, gossh.KeyAlgoECDSA256)
	now := time.Now()
	valid := func(principals ...string) *gossh.Certificate {
		c, _ := khHostCert(t, ca, hostKey, gossh.HostCert, principals, now.Add(-time.Hour), now.Add(time.Hour))
		return c
	}
	caLine := "@cert-authority *.example " + khLine("", ca.PublicKey())[1:]
	expired, _ := khHostCert(t, ca, hostKey, gossh.HostCert, []string{"h.example"}, now.Add(-2*time.Hour), now.Add(-time.Hour))
	future, _ := khHostCert(t, ca, hostKey, gossh.HostCert, []string{"h.example"}, now.Add(time.Hour), now.Add(2*time.Hour))
	userCert, _ := khHostCert(t, ca, hostKey, gossh.UserCert, []string{"h.example"}, now.Add(-time.Hour), now.Add(time.Hour))
	foreign, _ := khHostCert(t, otherCA, hostKey, gossh.HostCert, []string{"h.example"}, now.Add(-time.Hour), now.Add(time.Hour))
	forever := valid("h.example")
	forever.ValidBefore = gossh.CertTimeInfinity
	if err := forever.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	withOptions := valid("h.example")
	withOptions.CriticalOptions = map[string]string{"force-command": "x"}
	if err := withOptions.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	tampered := *valid("h.example")
	tampered.ValidPrincipals = []string{"h.example", "evil.example"}

	cases := []struct {
		name    string
		lines   []string
		cert    *gossh.Certificate
		want    KnownHostsState
		wantErr error
	}{
		{"valid", []string{caLine}, valid("h.example"), KnownHostsOK, nil},
		{"principal case", []string{caLine}, valid("H.Example"), KnownHostsOK, nil},
		{"no expiry", []string{caLine}, forever, KnownHostsOK, nil},
		{"wrong principal", []string{caLine}, valid("other.example"), KnownHostsChanged, ErrHostCertificateInvalid},
		{"no principals", []string{caLine}, valid(), KnownHostsChanged, ErrHostCertificateInvalid},
		{"expired", []string{caLine}, expired, KnownHostsChanged, ErrHostCertificateInvalid},
		{"not yet valid", []string{caLine}, future, KnownHostsChanged, ErrHostCertificateInvalid},
		{"user certificate", []string{caLine}, userCert, KnownHostsChanged, ErrHostCertificateInvalid},
		{"critical options", []string{caLine}, withOptions, KnownHostsChanged, ErrHostCertificateInvalid},
		{"bad signature", []string{caLine}, &tampered, KnownHostsChanged, ErrHostCertificateInvalid},
		{"CA for other hosts", []string{"@cert-authority *.other " + khLine("", ca.PublicKey())[1:]}, valid("h.example"), KnownHostsUnknown, nil},
		{"unknown CA falls back to the plain key", []string{caLine, khLine("h.example", hostKey.PublicKey())}, foreign, KnownHostsOK, nil},
		{"unknown CA, plain key changed", []string{caLine, khLine("h.example", khSigner(t, gossh.KeyAlgoECDSA256).PublicKey())}, foreign, KnownHostsChanged, nil},
		{"revoked CA", []string{caLine, "@revoked * " + khLine("", ca.PublicKey())[1:]}, valid("h.example"), KnownHostsChanged, ErrHostKeyRevoked},
		{"revoked certified key", []string{caLine, "@revoked * " + khLine("", hostKey.PublicKey())[1:]}, valid("h.example"), KnownHostsChanged, ErrHostKeyRevoked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeKH(t, t.TempDir(), "kh", c.lines...)
			res, err := checkKnownHosts(khOptions("h.example", 22, path), nil, c.cert, khDiscardLog())
			if err != nil {
				t.Fatal(err)
			}
			if res.state != c.want || !errors.Is(res.err, c.wantErr) || (res.err != nil) != (c.wantErr != nil) {
				t.Fatalf("state %v, err %v; want %v, %v", res.state, res.err, c.want, c.wantErr)
			}
		})
	}
}

func TestKnownHostsBadFiles(t *testing.T) {
	ed := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	dir := t.TempDir()
	good := writeKH(t, dir, "good", khLine("h", ed))

	sparse := filepath.Join(dir, "sparse")
	writeFile(t, sparse, []byte(khLine("h", ed)+"\n"))
	if err := os.Truncate(sparse, 2<<30); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(good, "known_hosts") // a path through a regular file

	type badFile struct{ name, path string }
	bad := []badFile{
		{"directory", dir},
		{"2 GB sparse file", sparse},
		{"path through a file", notDir},
	}
	if runtime.GOOS != "windows" {
		bad = append(bad, badFile{"/dev/zero", "/dev/zero"})
	}
	if mkfifo, err := exec.LookPath("mkfifo"); err == nil {
		fifo := filepath.Join(dir, "fifo")
		if out, err := exec.Command(mkfifo, fifo).CombinedOutput(); err != nil {
			t.Fatalf("mkfifo: %v %s", err, out)
		}
		bad = append(bad, badFile{"FIFO", fifo})
	}
	if os.Geteuid() > 0 {
		unreadable := writeKH(t, dir, "unreadable", khLine("h", ed))
		if err := os.Chmod(unreadable, 0); err != nil {
			t.Fatal(err)
		}
		bad = append(bad, badFile{"unreadable", unreadable})
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			// In either position, an unusable file fails the lookup
			// even when another file holds the key.
			for _, files := range [][]string{{b.path, good}, {good, b.path}} {
				opts := khOptions("h", 22, files[0])
				opts.GlobalKnownHosts = files[1:]
				done := make(chan struct{})
				var (
					res knownHostsResult
					err error
				)
				go func() {
					defer close(done)
					res, err = checkKnownHosts(opts, nil, ed, khDiscardLog())
				}()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("lookup hangs")
				}
				if !errors.Is(err, ErrKnownHostsFile) || res.state == KnownHostsOK {
					t.Fatalf("files %v: state %v, err %v; want an ErrKnownHostsFile error", files, res.state, err)
				}
			}
			// The ordering ignores such files rather than failing.
			o := khOptions("h", 22, b.path)
			o.HostKeyAlgorithms = []string{"ssh-ed25519"}
			if got := orderHostKeyAlgorithms(o, "h", 22, khDiscardLog()); !slices.Equal(got, o.HostKeyAlgorithms) {
				t.Fatalf("ordering = %v", got)
			}
			// And the writer refuses them without blocking.
			if err := appendKnownHosts(b.path, khLine("h", ed)+"\n"); !errors.Is(err, ErrKnownHostsFile) {
				t.Fatalf("append: %v", err)
			}
		})
	}

	// /dev/null is an existing, empty file: Unknown, and writes vanish.
	res, err := checkKnownHosts(khOptions("h", 22, os.DevNull), nil, ed, khDiscardLog())
	if err != nil || res.state != KnownHostsUnknown {
		t.Fatalf("/dev/null: %v, %v", res.state, err)
	}
	if err := appendKnownHosts(os.DevNull, "h x\n"); err != nil {
		t.Fatalf("append to /dev/null: %v", err)
	}
}

func TestKnownHostsLongLines(t *testing.T) {
	ed := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	dir := t.TempDir()
	long := strings.Repeat("x", 70<<10) + " " + khLine("", ed)[1:]
	nearLimit := strings.Repeat("y", 60<<10) + "," + khLine("h", ed) // under 64 KiB: read
	path := writeKH(t, dir, "kh", long, khLine("h", ed))
	rec := &khLogRecorder{}
	res, err := checkKnownHosts(khOptions("h", 22, path), nil, ed, slog.New(rec))
	if err != nil || res.state != KnownHostsOK || res.entry.line != 2 {
		t.Fatalf("state %v, err %v, entry %+v", res.state, err, res.entry)
	}
	if w := rec.warnings(); len(w) != 1 || !strings.Contains(w[0], "64 KiB") {
		t.Fatalf("warnings %q", w)
	}
	// A too-long line that names the host does not count at all.
	longMatch := strings.Repeat("h,", 40<<10) + khLine("h", ed)
	path = writeKH(t, dir, "kh2", longMatch)
	if res, err := checkKnownHosts(khOptions("h", 22, path), nil, ed, khDiscardLog()); err != nil || res.state != KnownHostsUnknown {
		t.Fatalf("long matching line: %v, %v", res.state, err)
	}
	path = writeKH(t, dir, "kh3", nearLimit)
	if res, err := checkKnownHosts(khOptions("h", 22, path), nil, ed, khDiscardLog()); err != nil || res.state != KnownHostsOK {
		t.Fatalf("line under the limit: %v, %v", res.state, err)
	}
	// No final newline, CRLF endings.
	path = filepath.Join(dir, "crlf")
	writeFile(t, path, []byte("# c\r\n\r\n"+khLine("h", ed)))
	if res, err := checkKnownHosts(khOptions("h", 22, path), nil, ed, khDiscardLog()); err != nil || res.state != KnownHostsOK || res.entry.line != 3 {
		t.Fatalf("CRLF file: %v, %v", res.state, err)
	}
}

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

func TestKnownHostsRefusesHostNameInjection(t *testing.T) {
	key := khSigner(t, gossh.KeyAlgoED25519).PublicKey()
	for _, name := range []string{"a b", "a,b", "a\x00b", "a\nb", "a\tb", "a\rb", "*", "h?", "!h", "#h", "@h", "|1|x", "", "[a b]:22", "[a,b]:2222"} {
		if text, err := knownHostsLines([]string{name}, key, false); !errors.Is(err, ErrInvalidKnownHosts) {
			t.Errorf("knownHostsLines(%q) = %q, %v", name, text, err)
		}
		if err := NewSession().SetOption(HostKeyAlias(name)); name != "" && err == nil {
			t.Errorf("HostKeyAlias(%q) accepted", name)
		}
	}
	for _, name := range []string{"h", "[h]:2222", "::1", "[::1]:2222", "h.example.com", "xn--bcher-kva.example"} {
		text, err := knownHostsLines([]string{name}, key, false)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		e, err := ParseKnownHostsLine(text)
		if err != nil || !slices.Equal(e.Hosts, []string{name}) {
			t.Fatalf("%q written as %q", name, text)
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

// ---- concurrent appends ----

// khAppendLine returns a distinct, valid known_hosts line for writer w, line i.
func khAppendLine(key gossh.PublicKey, w, i int) string {
	return khLine(fmt.Sprintf("host-%d-%d.example", w, i), key)
}

// khCheckAppended checks that kh holds the prefix, then exactly the lines
// writers*perWriter lines khAppendLine makes, each once and whole.
func khCheckAppended(t *testing.T, kh, prefix string, key gossh.PublicKey, writers, perWriter int) {
	t.Helper()
	data, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(string(data), prefix+"\n")
	if !ok {
		t.Fatalf("file does not start with %q and one newline: %q", prefix, data[:min(len(data), 200)])
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(rest))
	for sc.Scan() {
		line := sc.Text()
		if _, err := ParseKnownHostsLine(line); err != nil {
			t.Fatalf("damaged line %q: %v", line, err)
		}
		if seen[line] {
			t.Fatalf("line written twice: %q", line)
		}
		seen[line] = true
	}
	for w := range writers {
		for i := range perWriter {
			if !seen[khAppendLine(key, w, i)] {
				t.Fatalf("line %d of writer %d lost", i, w)
			}
		}
	}
	if len(seen) != writers*perWriter || !strings.HasSuffix(rest, "\n") {
		t.Fatalf("%d lines, want %d", len(seen), writers*perWriter)
	}
	t.Logf("%d writers x %d lines: all %d lines whole, once each", writers, perWriter, len(seen))
}

func TestKnownHostsConcurrentAppend(t *testing.T) {
	key := khSigner(t, gossh.KeyAlgoRSA).PublicKey() // long lines: ~400 bytes
	kh := filepath.Join(t.TempDir(), "dir", "known_hosts")
	const prefix = "# written by hand, no final newline"
	if err := os.MkdirAll(filepath.Dir(kh), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, kh, []byte(prefix))
	const goroutines, lines = 64, 8
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*lines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				if err := appendKnownHosts(kh, khAppendLine(key, g, i)+"\n"); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	khCheckAppended(t, kh, prefix, key, goroutines, lines)
}

// khAppenderEnv makes the test binary an appender process for
// TestKnownHostsMultiProcessAppend: "path,writer,lines,keyfile".
const khAppenderEnv = "LIBSSH_TEST_KNOWNHOSTS_APPENDER"

func TestKnownHostsMultiProcessAppend(t *testing.T) {
	if spec := os.Getenv(khAppenderEnv); spec != "" {
		khRunAppender(t, spec)
		return
	}
	if runtime.GOOS == "js" || runtime.GOOS == "wasip1" || runtime.GOOS == "ios" || runtime.GOOS == "android" {
		t.Skip("cannot re-execute the test binary here")
	}
	dir := t.TempDir()
	key := khSigner(t, gossh.KeyAlgoRSA).PublicKey()
	keyFile := filepath.Join(dir, "key.pub")
	writeFile(t, keyFile, gossh.MarshalAuthorizedKey(key))
	kh := filepath.Join(dir, "known_hosts")
	const prefix = "# no final newline"
	writeFile(t, kh, []byte(prefix))
	const procs, goroutines, lines = 8, 8, 8
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmds := make([]*exec.Cmd, procs)
	outs := make([]strings.Builder, procs)
	for p := range procs {
		cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestKnownHostsMultiProcessAppend$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,%d,%d,%s", khAppenderEnv, kh, p, goroutines, lines, keyFile))
		cmd.Stdout, cmd.Stderr = &outs[p], &outs[p]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[p] = cmd
	}
	for p, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("appender %d: %v\n%s", p, err, outs[p].String())
		}
	}
	khCheckAppended(t, kh, prefix, key, procs*goroutines, lines)
}

// khRunAppender appends lines for writers proc*goroutines .. +goroutines-1,
// each from its own goroutine.
func khRunAppender(t *testing.T, spec string) {
	f := strings.Split(spec, ",")
	if len(f) != 5 {
		t.Fatalf("bad %s=%q", khAppenderEnv, spec)
	}
	proc, _ := strconv.Atoi(f[1])
	goroutines, _ := strconv.Atoi(f[2])
	lines, _ := strconv.Atoi(f[3])
	k, err := ParsePublicKeyFile(f[4])
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				if err := appendKnownHosts(f[0], khAppendLine(k.PublicKey(), proc*goroutines+g, i)+"\n"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
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
