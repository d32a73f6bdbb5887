package pattern

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		s, p string
		want bool
	}{
		{"a", "a?", false}, {"ab", "a?", true}, {"abc", "a*c", true}, {"ac", "a*c", true},
		{"abd", "a*c", false}, {"", "*", true}, {"x", "", false}, {"a.b.c", "*.c", true},
		{strings.Repeat("a", 5000) + "b", strings.Repeat("*a", 50) + "*c", false},
	} {
		if got := Match(tc.p, tc.s); got != tc.want {
			t.Errorf("Match(%.20q, %.20q) = %v", tc.p, tc.s, got)
		}
	}
}
