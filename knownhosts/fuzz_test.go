package knownhosts

import (
	"strings"
	"testing"

	"github.com/libssh-go/libssh/internal/pattern"
	"golang.org/x/crypto/ssh"
)

// FuzzParseLine feeds arbitrary lines and names to the parser and the
// matcher. A line that parses must print back to a line that parses to the
// same entry; matching must never panic, and must agree with the reference
// matcher on patterns short enough for it. A DB of the line must agree
// with ParseLine.
func FuzzParseLine(f *testing.F) {
	ed := khLine("", khSigner(f, "ssh-ed25519").PublicKey())[1:]
	hashed := HashHostName("example.com")
	for _, seed := range []struct{ line, name string }{
		{"example.com " + ed, "example.com"},
		{"[example.com]:2222,10.0.0.1 " + ed + " comment", "[example.com]:2222"},
		{"*.example.com,!bad.example.com " + ed, "bad.example.com"},
		{"@cert-authority *.example.com " + ed, "a.example.com"},
		{"@revoked * " + ed, "x"},
		{hashed + " " + ed, "example.com"},
		{hashed + " " + ed, "EXAMPLE.com"},
		{"|1|bad|hash " + ed, "example.com"},
		{"host ssh-rsa AAAA", "host"},
		{"# comment", ""},
		{"@bogus h " + ed, "h"},
		{strings.Repeat("*a", 30) + "*b " + ed, strings.Repeat("a", 200)},
		{"h " + ed + "\r\nh2 " + ed, "h2"},
	} {
		f.Add(seed.line, seed.name)
	}
	f.Fuzz(func(t *testing.T, line, name string) {
		e, err := ParseLine(line)
		if err == nil {
			if e.Key == nil || len(e.Hosts) == 0 {
				t.Fatalf("parsed %q to an entry without key or hosts: %+v", line, e)
			}
			printed := e.String()
			again, err := ParseLine(printed)
			if err != nil {
				t.Fatalf("%q printed as %q, which does not parse: %v", line, printed, err)
			}
			if again.String() != printed || !sameKey(again.Key, e.Key) || again.Marker != e.Marker {
				t.Fatalf("%q printed as %q, read back as %q", line, printed, again.String())
			}
			if e.Match(name) != again.Match(name) {
				t.Fatalf("%q and its reprint disagree on %q", line, name)
			}
		}
		// The host field alone, as a pattern list, against the name.
		field, _, _ := strings.Cut(strings.TrimLeft(line, " \t"), " ")
		_ = Entry{Hosts: strings.Split(field, ",")}.Match(name)
		if len(field) <= 12 && len(name) <= 12 && strings.Count(field, "*") <= 6 {
			if pattern.Match(field, name) != khGlobRef(field, name) {
				t.Fatalf("pattern.Match(%q, %q) = %v, reference disagrees", field, name, pattern.Match(field, name))
			}
		}
		// The same text as a file: never a panic, every entry as ParseLine
		// reads its line, and lookups agree with Match.
		db, err := Read(strings.NewReader(line), "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(line, "\n")
		for e, err := range db.All() {
			if e.File != "fuzz" || e.Line < 1 || e.Line > len(lines) {
				t.Fatalf("entry at %s:%d of %d lines", e.File, e.Line, len(lines))
			}
			if len(strings.TrimSuffix(lines[e.Line-1], "\r")) > MaxLineLength {
				if err == nil {
					t.Fatalf("line %d is too long but was read", e.Line)
				}
				continue
			}
			want, werr := ParseLine(lines[e.Line-1])
			if (err == nil) != (werr == nil) || err == nil && want.String() != e.String() {
				t.Fatalf("line %d: DB says %v, %v; ParseLine %v, %v", e.Line, e, err, want, werr)
			}
		}
		if _, isCert := e.Key.(*ssh.Certificate); e.Key != nil && !isCert && !strings.ContainsAny(line, "\n") {
			res, _ := db.Check(Query{Name: name}, e.Key)
			if e.Match(name) && e.Marker == MarkerNone && res.State != OK {
				t.Fatalf("%q matches %q but the lookup says %v", line, name, res.State)
			}
			if !e.Match(name) && res.State != Unknown {
				t.Fatalf("%q does not match %q but the lookup says %v", line, name, res.State)
			}
		}
	})
}

// khGlobRef is the obvious recursive matcher, exponential but clearly right,
// to check pattern.Match against.
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
