package sim

import (
	"fmt"
	"strings"
	"testing"
)

type entryT struct {
	Term uint64
	Cmd  []byte
}

type appendT struct {
	Term    uint64
	Entries []entryT
	Blob    []byte
	Key     [4]byte
	Tags    map[string]int
	next    *appendT
}

// Trace text is for people: bytes that are text print as text, binary as a
// quoted Go string, never as a list of decimal numbers; everything else
// prints as fmt's %+v does.
func TestDescribePrintsBytesAsText(t *testing.T) {
	m := &appendT{Term: 3, Entries: []entryT{{1, []byte("put k v")}, {2, []byte("\xc1\x01inc 1")}},
		Blob: []byte{0, 1, 2, 255}, Key: [4]byte{'a', 'b', 'c', 'd'}, Tags: map[string]int{"b": 2, "a": 1}}
	got := describe(m)
	for _, want := range []string{`Cmd:"put k v"`, `Cmd:"\xc1\x01inc 1"`, `Blob:"\x00\x01\x02\xff"`, `Key:"abcd"`, "Tags:map[a:1 b:2]", "Term:3", "*sim.appendT &{"} {
		if !strings.Contains(got, want) {
			t.Errorf("describe = %s\nwant it to contain %s", got, want)
		}
	}
	if strings.Contains(got, "[112 117") {
		t.Errorf("bytes printed as numbers: %s", got)
	}
	// Without bytes, the text is fmt's.
	type plain struct {
		A int
		B string
		C []int
		D *int
	}
	p := plain{A: 1, B: "x y", C: []int{1, 2}}
	if got, want := describe(p), fmt.Sprintf("%T %+v", p, p); got != want {
		t.Errorf("describe = %q, fmt = %q", got, want)
	}
}
