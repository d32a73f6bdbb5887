package vis

import "testing"

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain banner\n", "plain banner\n"},
		{"tab\there", "tab\there"},
		{"\x1b[2J\x1b]0;pwned\x07", `\033[2J\033]0;pwned\007`},
		{"cr\rlf", `cr\015lf`},
		{"del\x7f", `del\177`},
		{"nul\x00", `nul\000`},
		{"héllo ✓", "héllo ✓"},
		{"c1 \u009b31m", `c1 \302\23331m`},
		{"bad \xff\xfe utf8", `bad \377\376 utf8`},
		{"truncated \xe2\x9c", `truncated \342\234`},
		{`back\slash`, `back\slash`},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add("\x1b[31mred\x1b[0m")
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		for i := 0; i < len(out); i++ {
			c := out[i]
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
				t.Fatalf("String(%q) = %q keeps control byte %#x", s, out, c)
			}
		}
	})
}
