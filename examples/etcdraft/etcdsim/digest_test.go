package etcdsim

import (
	"testing"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// TestStateDigestCatchesDivergence feeds the state-digest check two peers
// whose state machines differ after one index (as a snapshot carrying the
// wrong state would make them): it must fail the run, naming the check.
func TestStateDigestCatchesDivergence(t *testing.T) {
	w := sim.NewWorld(1, sim.Options{})
	h := &harness{w: w, c: &scenarios.Cluster{W: w}, chk: raftcheck.New(w.Fail)}
	o := hooks{Checker: h.chk, h: h}
	o.State(0, 7, 0xabc)
	o.State(1, 7, 0xabc)
	if f := w.Failure(); f != nil {
		t.Fatalf("equal digests failed: %+v", f)
	}
	o.State(2, 7, 0xdef)
	f := w.Failure()
	if f == nil || f.Checker != StateDigest {
		t.Fatalf("diverging digests: failure %+v, want %s", f, StateDigest)
	}
}
