package interactive

import (
	"bytes"
	"slices"
	"testing"
)

// render writes steps as one string: data as is, commands as <name>.
func render(steps []escapeStep) string {
	var b bytes.Buffer
	for _, s := range steps {
		if s.Command == 0 {
			b.Write(s.Data)
			continue
		}
		b.WriteString(map[escapeCommand]string{
			escapeDisconnect: "<quit>", escapeSuspend: "<suspend>", escapeBreak: "<break>",
			escapeRekey: "<rekey>", escapeListForwards: "<list>", escapeHelp: "<help>",
		}[s.Command])
	}
	return b.String()
}

func TestEscapeFilter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		char   int
		chunks []string // fed one call each
		want   string
	}{
		{"plain", '~', []string{"ls -l\r"}, "ls -l\r"},
		{"disconnect at start", '~', []string{"~."}, "<quit>"},
		{"disconnect after CR", '~', []string{"ls\r~."}, "ls\r<quit>"},
		{"disconnect after LF", '~', []string{"ls\n~."}, "ls\n<quit>"},
		{"nothing after disconnect", '~', []string{"a\r~.rm -rf\r", "more"}, "a\r<quit>"},
		{"not after a normal character", '~', []string{"a~."}, "a~."},
		{"tilde mid line twice", '~', []string{"a~~b"}, "a~~b"},
		{"double tilde sends one", '~', []string{"~~"}, "~"},
		{"double tilde is not a new escape", '~', []string{"~~."}, "~."},
		{"unknown passes both", '~', []string{"~x"}, "~x"},
		{"escape then CR sends both and starts a line", '~', []string{"~\r~."}, "~\r<quit>"},
		{"suspend", '~', []string{"\r~\x1a"}, "\r<suspend>"},
		{"break", '~', []string{"~B"}, "<break>"},
		{"lower b is not break", '~', []string{"~b"}, "~b"},
		{"rekey", '~', []string{"~R"}, "<rekey>"},
		{"list", '~', []string{"~#"}, "<list>"},
		{"help", '~', []string{"~?"}, "<help>"},
		{"still a line start after a command", '~', []string{"~?~#~."}, "<help><list><quit>"},
		{"split across reads", '~', []string{"ls\r", "~", "."}, "ls\r<quit>"},
		{"split unknown", '~', []string{"~", "x"}, "~x"},
		{"other escape char", '%', []string{"~.\r%."}, "~.\r<quit>"},
		{"control escape char", 0x1d, []string{"\x1d?"}, "<help>"},
		{"none disables", -1, []string{"~.\r~?"}, "~.\r~?"},
		{"binary passes", '~', []string{"\x00\xff\x03"}, "\x00\xff\x03"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newEscapeFilter(tc.char)
			var got []escapeStep
			for _, c := range tc.chunks {
				in := []byte(c)
				got = append(got, f.feed(in)...)
				// The steps must not alias the input buffer, which the
				// pump reuses for the next read.
				for i := range in {
					in[i] = 'X'
				}
			}
			if r := render(got); r != tc.want {
				t.Fatalf("feed(%q) = %q, want %q", tc.chunks, r, tc.want)
			}
		})
	}
}

func TestEscapeHelpText(t *testing.T) {
	got := escapeHelpText('~')
	// Lines as OpenSSH 9.2 prints them (checked in tmux against ssh).
	for _, want := range []string{
		"~?\r\nSupported escape sequences:\r\n",
		" ~.   - terminate connection (and any multiplexed sessions)\r\n",
		" ~B   - send a BREAK to the remote system\r\n",
		" ~#   - list forwarded connections\r\n",
		" ~?   - this message\r\n",
		" ~~   - send the escape character by typing it twice\r\n",
		"(Note that escapes are only recognized immediately after newline.)\r\n",
	} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("help text lacks %q:\n%s", want, got)
		}
	}
	if suspendSupported != bytes.Contains([]byte(got), []byte(" ~^Z  - suspend ssh\r\n")) {
		t.Errorf("help text and suspend support disagree:\n%s", got)
	}
	if slices.Contains([]byte(got), '\n') && bytes.Count([]byte(got), []byte("\n")) != bytes.Count([]byte(got), []byte("\r\n")) {
		t.Errorf("a line does not end in CR LF:\n%q", got)
	}
}
