package raft

import "testing"

// appliedCmds answers like the map it replaced: in order, out of order
// before the first index, repeated indices counted once, misses.
func TestAppliedCmds(t *testing.T) {
	var a appliedCmds
	want := map[uint64]string{}
	for _, i := range []uint64{5, 6, 7, 9, 3, 7} {
		c := "c" + string(rune('0'+i))
		a.put(i, []byte(c))
		want[i] = c
	}
	if a.n != len(want) {
		t.Fatalf("n = %d, want %d", a.n, len(want))
	}
	for i := uint64(0); i < 12; i++ {
		got, ok := a.get(i)
		w, wok := want[i]
		if ok != wok || string(got) != w {
			t.Errorf("get(%d) = %q, %v; want %q, %v", i, got, ok, w, wok)
		}
	}
	a = appliedCmds{}
	if _, ok := a.get(5); ok || a.n != 0 {
		t.Fatal("a fresh incarnation remembers")
	}
}
