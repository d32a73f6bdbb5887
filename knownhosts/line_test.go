package knownhosts

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libssh-go/libssh/internal/pattern"
	"golang.org/x/crypto/ssh"
)

func TestKnownHostsParseLine(t *testing.T) {
	ed := khSigner(t, ssh.KeyAlgoED25519).PublicKey()
	edText := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ed)))
	_, edB64, _ := strings.Cut(edText, " ")
	hashed := HashHostName("example.com")

	good := []struct {
		line    string
		marker  Marker
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
		e, err := ParseLine(g.line)
		if err != nil {
			t.Errorf("ParseLine(%q): %v", g.line, err)
			continue
		}
		if e.Marker != g.marker || !slices.Equal(e.Hosts, g.hosts) || e.Comment != g.comment || !sameKey(e.Key, ed) {
			t.Errorf("ParseLine(%q) = %+v", g.line, e)
		}
		again, err := ParseLine(e.String())
		if err != nil || again.String() != e.String() || !sameKey(again.Key, e.Key) {
			t.Errorf("round trip of %q: %q, %v", e.String(), again.String(), err)
		}
	}
	if e, _ := ParseLine(hashed + " " + edText); !e.Hashed() || !e.Match("EXAMPLE.com") || e.Match("example.org") {
		t.Errorf("hashed entry: Hashed=%v", e.Hashed())
	}

	rsaText := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(khSigner(t, ssh.KeyAlgoECDSA256).PublicKey())))
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
		if e, err := ParseLine(line); !errors.Is(err, ErrInvalidLine) {
			t.Errorf("ParseLine(%q) = %+v, %v; want ErrInvalidLine", line, e, err)
		}
	}
}

func TestKnownHostsMatch(t *testing.T) {
	ed := khSigner(t, ssh.KeyAlgoED25519).PublicKey()
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
		{HashHostName("[example.com]:2222"), "example.com", 2222, true},
		{HashHostName("[example.com]:2222"), "example.com", 22, false},
		{HashHostName("Example.com"), "example.COM", 22, true},
	}
	for _, c := range cases {
		e, err := ParseLine(khLine(c.hosts, ed))
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Match(HostName(c.host, c.port)); got != c.want {
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
	ed := khSigner(t, ssh.KeyAlgoED25519).PublicKey()
	e, err := ParseLine(khLine(pattern+",x", ed))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	matched := e.Match(name)
	elapsed := time.Since(start)
	if matched {
		t.Fatal("pattern matched a name without b")
	}
	if !e.Match(name + "b") {
		t.Fatal("pattern did not match a name ending in b")
	}
	t.Logf("30-star pattern against a 1 KiB name: %v", elapsed)
	if elapsed > 100*time.Millisecond {
		t.Fatalf("matching took %v; the matcher is not linear", elapsed)
	}
}

func TestKnownHostsRefusesHostNameInjection(t *testing.T) {
	key := khSigner(t, ssh.KeyAlgoED25519).PublicKey()
	dir := t.TempDir()
	if _, err := Lines(nil, key, false); !errors.Is(err, ErrInvalidLine) {
		t.Errorf("Lines without hosts: %v", err)
	}
	if _, err := Lines([]string{"h"}, nil, false); !errors.Is(err, ErrInvalidLine) {
		t.Errorf("Lines without key: %v", err)
	}
	for _, name := range []string{"a b", "a,b", "a\x00b", "a\nb", "a\tb", "a\rb", "*", "h?", "!h", "#h", "@h", "|1|x", "", "[a b]:22", "[a,b]:2222"} {
		for _, hash := range []bool{false, true} {
			if text, err := Lines([]string{"ok.example", name}, key, hash); !errors.Is(err, ErrInvalidLine) {
				t.Errorf("Lines(%q, hash=%v) = %q, %v", name, hash, text, err)
			}
		}
		if err := CheckHostName(name); !errors.Is(err, ErrInvalidLine) {
			t.Errorf("CheckHostName(%q) = %v", name, err)
		}
		path := filepath.Join(dir, "kh")
		if err := Append(path, []string{name}, key, false); !errors.Is(err, ErrInvalidLine) {
			t.Errorf("Append(%q) = %v", name, err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("Append(%q) wrote a file", name)
		}
	}
	for _, name := range []string{"h", "[h]:2222", "::1", "[::1]:2222", "h.example.com", "xn--bcher-kva.example"} {
		text, err := Lines([]string{name}, key, false)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		e, err := ParseLine(text)
		if err != nil || !slices.Equal(e.Hosts, []string{name}) {
			t.Fatalf("%q written as %q", name, text)
		}
	}
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
		if got := pattern.Match(c.p, c.s); got != c.want || khGlobRef(c.p, c.s) != c.want {
			t.Errorf("pattern.Match(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
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
			if pattern.Match(p, s) != khGlobRef(p, s) {
				t.Fatalf("pattern.Match(%q, %q) = %v, reference says %v", p, s, pattern.Match(p, s), khGlobRef(p, s))
			}
		}
	}
}
