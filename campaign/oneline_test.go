package campaign

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// OneLine cuts at a character boundary: a cut inside a multi-byte character
// printed invalid UTF-8.
func TestOneLineCutsAtACharacterBoundary(t *testing.T) {
	s := strings.Repeat("é", 10) // 20 bytes
	for max := 1; max < 20; max++ {
		got := OneLine(s, max)
		if !utf8.ValidString(got) || len(got) > max+len("…") {
			t.Fatalf("OneLine(%q, %d) = %q: invalid UTF-8 or too long", s, max, got)
		}
	}
	if got := OneLine("a\nb", 10); got != "a b" {
		t.Fatalf("OneLine kept a newline: %q", got)
	}
}
