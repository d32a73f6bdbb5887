package ssh

import (
	"bytes"
	"encoding/binary"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// The channel requests a server sends about its command (RFC 4254 §6.10)
// are parsed by the library itself: whatever the payload, the parsers
// accept exactly the well-formed ones, keep nothing the payload did not
// hold, and agree with x/crypto's encoding of the same values.

// FuzzExitStatus: an exit-status payload is exactly one uint32; anything
// else is refused (the channel then reports no status, never a wrong one).
func FuzzExitStatus(f *testing.F) {
	for _, seed := range [][]byte{
		{0, 0, 0, 0}, {0, 0, 0, 1}, {0, 0, 0, 255}, {0xff, 0xff, 0xff, 0xff}, {0x80, 0, 0, 0},
		{}, {0, 0, 1}, {0, 0, 0, 1, 0}, gossh.Marshal(struct{ S string }{"0"}),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		status, ok := parseExitStatus(payload)
		if ok != (len(payload) == 4) {
			t.Fatalf("parseExitStatus(%x): ok = %v", payload, ok)
		}
		if !ok {
			if status != 0 {
				t.Fatalf("refused %x but returned status %d", payload, status)
			}
			return
		}
		if want := int64(binary.BigEndian.Uint32(payload)); int64(status) != want {
			t.Fatalf("parseExitStatus(%x) = %d, want %d", payload, status, want)
		}
		if again := gossh.Marshal(struct{ Status uint32 }{uint32(status)}); !bytes.Equal(again, payload) {
			t.Fatalf("status %d marshals to %x, not %x", status, again, payload)
		}
	})
}

// exitSignalMsg is the whole RFC 4254 §6.10 exit-signal payload.
type exitSignalMsg struct {
	Signal     string
	CoreDumped bool
	Message    string
	Language   string
}

// FuzzExitSignal: the signal name is required and non-empty; the rest is
// read as far as it is well formed. What is kept never exceeds the
// payload, a complete payload reads exactly as x/crypto reads it, and a
// parsed signal marshals to a payload that parses back to itself.
func FuzzExitSignal(f *testing.F) {
	for _, m := range []exitSignalMsg{
		{"TERM", false, "", ""},
		{"SEGV", true, "Segmentation fault", "en-US"},
		{"KILL", false, "killed by the OOM killer\n", ""},
		{"", true, "no name", ""},
	} {
		f.Add(gossh.Marshal(m))
	}
	name := gossh.Marshal(struct{ S string }{"HUP"})
	for _, seed := range [][]byte{
		name,                              // name only (some servers stop there)
		append(name, 1),                   // name and core-dumped
		append(name, 2, 0, 0, 0, 9, 'x'),  // message cut short
		append(name, 0, 0, 0, 0, 0, 0, 0), // message, language cut short
		append(gossh.Marshal(exitSignalMsg{"INT", false, "", ""}), "junk"...),
		{0, 0, 0, 5, 'A', 'B', 'R'},   // name cut short
		{0xff, 0xff, 0xff, 0xff, 'x'}, // name longer than the payload
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		sig, ok := parseExitSignal(payload)
		name, rest, nameOK := parseSSHString(payload)
		if ok != (nameOK && name != "") {
			t.Fatalf("parseExitSignal(%x): ok = %v, name %q (%v)", payload, ok, name, nameOK)
		}
		if !ok {
			if sig != (ExitSignal{}) {
				t.Fatalf("refused %x but returned %+v", payload, sig)
			}
			return
		}
		if sig.Signal != name {
			t.Fatalf("signal %q, payload names %q", sig.Signal, name)
		}
		// Each string costs its 4-byte length, and the flag one byte.
		if kept := len(sig.Signal) + len(sig.Message) + len(sig.Language); kept > len(payload)-4 {
			t.Fatalf("kept %d bytes from a %d-byte payload", kept, len(payload))
		}
		if len(rest) == 0 && (sig.CoreDumped || sig.Message != "" || sig.Language != "") {
			t.Fatalf("only a name in %x, but parsed %+v", payload, sig)
		}
		var whole exitSignalMsg
		if gossh.Unmarshal(payload, &whole) == nil {
			if got := (exitSignalMsg{sig.Signal, sig.CoreDumped, sig.Message, sig.Language}); got != whole {
				t.Fatalf("parsed %+v, x/crypto reads %+v", got, whole)
			}
		}
		again, ok := parseExitSignal(gossh.Marshal(exitSignalMsg{sig.Signal, sig.CoreDumped, sig.Message, sig.Language}))
		if !ok || again != sig {
			t.Fatalf("%+v marshals to a payload read as %+v, %v", sig, again, ok)
		}
	})
}
