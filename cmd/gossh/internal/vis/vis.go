// Package vis makes untrusted text safe to print on a terminal, the way
// OpenSSH's utf8.c (fmprintf, built on vis(3) with VIS_OCTAL) does for a
// server's banner, prompts and error messages: printable text passes through,
// every control byte or invalid UTF-8 byte becomes a three-digit octal escape
// ("\033"), so a hostile server cannot move the cursor, retitle the window or
// rewrite the screen.
package vis

import (
	"strings"
	"unicode/utf8"
)

// String returns s with every byte that could act on a terminal written as a
// backslash and three octal digits. Newline and tab are kept, as OpenSSH keeps
// them, so multi-line banners still read as lines. Valid, printable UTF-8
// passes unchanged; C0 and C1 controls, DEL and bytes that are not valid UTF-8
// are escaped one byte at a time. A backslash itself is printable and is kept.
func String(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			writeOctal(&b, s[i])
			i++
			continue
		}
		if unsafe(r) {
			for j := 0; j < size; j++ {
				writeOctal(&b, s[i+j])
			}
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// isClean is the fast path: most banners and prompts are plain ASCII.
func isClean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// unsafe reports whether r would be interpreted by a terminal rather than
// shown: C0 controls other than newline and tab, DEL, and the C1 range, which
// some terminals treat as CSI/OSC introducers.
func unsafe(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20, r == 0x7f:
		return true
	case r >= 0x80 && r <= 0x9f:
		return true
	}
	return false
}

func writeOctal(b *strings.Builder, c byte) {
	b.WriteByte('\\')
	b.WriteByte('0' + c>>6)
	b.WriteByte('0' + (c>>3)&7)
	b.WriteByte('0' + c&7)
}
