package ssh

import (
	"strings"
	"testing"
)

// FuzzKnownHostsLine feeds arbitrary lines and names to the parser and the
// matcher. A line that parses must print back to a line that parses to the
// same entry; matching must never panic, and must agree with the reference
// matcher on patterns short enough for it.
func FuzzKnownHostsLine(f *testing.F) {
	ed := khLine("", khSigner(f, "ssh-ed25519").PublicKey())[1:]
	hashed := HashKnownHostsHostname("example.com")
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
	} {
		f.Add(seed.line, seed.name)
	}
	f.Fuzz(func(t *testing.T, line, name string) {
		e, err := ParseKnownHostsLine(line)
		if err == nil {
			if e.Key == nil || len(e.Hosts) == 0 {
				t.Fatalf("parsed %q to an entry without key or hosts: %+v", line, e)
			}
			printed := e.String()
			again, err := ParseKnownHostsLine(printed)
			if err != nil {
				t.Fatalf("%q printed as %q, which does not parse: %v", line, printed, err)
			}
			if again.String() != printed || !again.Key.Equal(e.Key) || again.Marker != e.Marker {
				t.Fatalf("%q printed as %q, read back as %q", line, printed, again.String())
			}
			if e.MatchHostname(name) != again.MatchHostname(name) {
				t.Fatalf("%q and its reprint disagree on %q", line, name)
			}
		}
		// The host field alone, as a pattern list, against the name.
		field, _, _ := strings.Cut(strings.TrimLeft(line, " \t"), " ")
		_ = KnownHostsEntry{Hosts: strings.Split(field, ",")}.MatchHostname(name)
		if len(field) <= 12 && len(name) <= 12 && strings.Count(field, "*") <= 6 {
			if matchGlob(field, name) != khGlobRef(field, name) {
				t.Fatalf("matchGlob(%q, %q) = %v, reference disagrees", field, name, matchGlob(field, name))
			}
		}
		_, _ = ParseAuthorizedKeysLine(line)
	})
}
