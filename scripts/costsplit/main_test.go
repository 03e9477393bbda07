package main

import (
	"math"
	"testing"
)

const traces = `File: x.test
Duration: 1s, Total samples = 70ms (7%)
-----------+-------------------------------------------------------
      30ms   runtime.memmove
             runtime.growslice
             github.com/smilingraft/dsim/sim.Grow[go.shape.uint8] (inline)
             github.com/smilingraft/dsim/nodes/raft.(*Raft).Start
-----------+-------------------------------------------------------
      20ms   github.com/smilingraft/dsim/nodes/raft.(*Raft).Step
             github.com/smilingraft/dsim/sim.(*World).deliver
-----------+-------------------------------------------------------
      10ms   runtime.scanObject
             runtime.gcBgMarkWorker
-----------+-------------------------------------------------------
      10ms   github.com/anishathalye/porcupine.checkSingle
             github.com/smilingraft/dsim/checkers/kvcheck.Check
             github.com/smilingraft/dsim/scenarios/kv.check.func1
-----------+-------------------------------------------------------
`

// Each sample goes to the innermost dsim frame (generic instantiations and
// methods included), GC workers to GC, and allocator time is counted.
func TestSplit(t *testing.T) {
	total, by, alloc := split(traces)
	want := map[string]float64{"sim (the kernel)": 0.030, "nodes/raft": 0.020, "GC (background, assists, scavenger)": 0.010, "checkers/kvcheck": 0.010}
	if math.Abs(total-0.070) > 1e-9 || len(by) != len(want) {
		t.Fatalf("total %v, split %v; want 0.070 over %v", total, by, want)
	}
	for c, v := range want {
		if math.Abs(by[c]-v) > 1e-9 {
			t.Errorf("%s = %v, want %v (split %v)", c, by[c], v, by)
		}
	}
	if math.Abs(alloc["sim (the kernel)"]-0.030) > 1e-9 || alloc["nodes/raft"] != 0 {
		t.Errorf("allocator time %v, want 0.030 in the kernel only", alloc)
	}
}
