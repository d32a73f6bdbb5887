package ssh

import (
	"strings"
	"testing"
)

// FuzzKnownHostsLine feeds arbitrary lines and names to the wrappers over
// package knownhosts (whose FuzzParseLine fuzzes the parser and matcher
// themselves) and to ParseAuthorizedKeysLine: a line that parses must
// print back to a line that parses to the same entry, and no input may
// panic.
func FuzzKnownHostsLine(f *testing.F) {
	ed := khLine("", khSigner(f, "ssh-ed25519").PublicKey())[1:]
	for _, seed := range []struct{ line, name string }{
		{"example.com " + ed, "example.com"},
		{"@revoked * " + ed, "x"},
		{HashKnownHostsHostname("example.com") + " " + ed, "EXAMPLE.com"},
		{`command="a b",no-pty ` + ed + " c", ""},
		{"# comment", ""},
	} {
		f.Add(seed.line, seed.name)
	}
	f.Fuzz(func(t *testing.T, line, name string) {
		if e, err := ParseKnownHostsLine(line); err == nil {
			printed := e.String()
			again, err := ParseKnownHostsLine(printed)
			if err != nil || again.String() != printed || !again.Key.Equal(e.Key) || e.MatchHostname(name) != again.MatchHostname(name) {
				t.Fatalf("%q printed as %q, read back as %q, %v", line, printed, again.String(), err)
			}
		}
		_ = KnownHostsEntry{Hosts: strings.Split(name, ",")}.MatchHostname(line)
		if e, err := ParseAuthorizedKeysLine(line); err == nil {
			if again, err := ParseAuthorizedKeysLine(e.String()); err != nil || !again.Key.Equal(e.Key) {
				t.Fatalf("%q printed as %q: %v", line, e.String(), err)
			}
		}
	})
}
