package raftcheck

import "testing"

func TestTableKeepsCopiesAndFarIndices(t *testing.T) {
	var tb table
	cmd := []byte("put x 1")
	tb.put(1, entry{term: 1, cmd: cmd, server: 2})
	copy(cmd, "XXXXXXX") // the node reuses its buffer: the checker's copy must not change
	tb.put(3, entry{term: 2, cmd: []byte("b")})
	tb.put(1<<40, entry{term: 9, cmd: []byte("far")}) // a broken server's index: no huge slice
	if len(tb.dense) > 4 {
		t.Fatalf("dense table grew to %d for index 1<<40", len(tb.dense))
	}
	for _, c := range []struct {
		i    uint64
		ok   bool
		cmd  string
		term uint64
	}{{1, true, "put x 1", 1}, {2, false, "", 0}, {3, true, "b", 2}, {4, false, "", 0}, {1 << 40, true, "far", 9}, {1<<40 + 1, false, "", 0}} {
		e, ok := tb.get(c.i)
		if ok != c.ok || (ok && (string(e.cmd) != c.cmd || e.term != c.term)) {
			t.Errorf("get(%d) = %+v, %v; want cmd %q term %d, %v", c.i, e, ok, c.cmd, c.term, c.ok)
		}
	}
	// Appending to a stored command must not overwrite its neighbour.
	e, _ := tb.get(1)
	_ = append(e.cmd, '!')
	if e3, _ := tb.get(3); string(e3.cmd) != "b" {
		t.Fatalf("appending to index 1's command changed index 3's to %q", e3.cmd)
	}
}

// An index first known far past the end stays known once the dense slice
// grows past it: the first command seen there is the one later reports are
// checked against.
func TestTableFarIndexSurvivesGrowth(t *testing.T) {
	var tb table
	far := uint64(farGap + 10)
	tb.put(far, entry{term: 7, cmd: []byte("first")})
	for i := uint64(1); i <= far+1; i++ {
		if _, ok := tb.get(i); !ok {
			tb.put(i, entry{term: 1, cmd: []byte("x")})
		}
	}
	if uint64(len(tb.dense)) <= far {
		t.Fatalf("dense table has %d slots, want past %d", len(tb.dense), far)
	}
	if e, ok := tb.get(far); !ok || e.term != 7 || string(e.cmd) != "first" {
		t.Fatalf("get(%d) = %+v, %v after growth; want the first entry (term 7)", far, e, ok)
	}
}
