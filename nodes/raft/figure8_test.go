package raft

import (
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// waitLeader runs until one of cands leads, and returns it.
func (c *cluster) waitLeader(cands ...int) int {
	c.t.Helper()
	for k := 0; k < 100; k++ {
		c.run(50 * sim.Millisecond)
		for _, i := range cands {
			if n := c.node(i); n != nil {
				if _, l := n.Role(); l {
					return i
				}
			}
		}
	}
	c.t.Fatalf("none of %v became leader", cands)
	return -1
}

func fast(cfg *Config) {
	cfg.ElectionMin, cfg.ElectionMax, cfg.Heartbeat = 40*sim.Millisecond, 50*sim.Millisecond, 10*sim.Millisecond
}

// figure8 scripts the scenario of the Raft paper's Figure 8 on 5 servers and
// returns the run's failure (nil if none):
//
//  1. S0 leads and replicates "b" (index 2) to S1 only, then crashes.
//  2. X, one of S2..S4, is elected and appends "c" at index 2 locally, then
//     crashes.
//  3. S0 returns and S0 or S1 is elected; it replicates "b" to the others,
//     so a majority holds it. Only an unsafe leader commits it now, since
//     it is of an earlier term. That leader and S1/S0 then crash.
//  4. X returns and, with the two others, is elected (its last term is
//     newer): it overwrites index 2 with "c".
func figure8(t *testing.T, unsafe bool) (*cluster, *sim.Failure) {
	c := newCluster(t, 5, 21, reliable(), func(cfg *Config) { cfg.UnsafeCommitPriorTerm = unsafe }, 0)
	fast(&c.cfg[0])
	c.crash(0)
	c.restart(0)
	if l := c.waitLeader(0, 1, 2, 3, 4); l != 0 {
		t.Fatalf("script: S%d won the first election, want S0", l)
	}
	c.one("a", 5)

	ids := c.ids
	c.w.Partition([][]sim.NodeID{{ids[0], ids[1]}, {ids[2], ids[3], ids[4]}})
	if idx, _, ok := c.node(0).Submit([]byte("b")); !ok || idx != 2 {
		t.Fatalf("script: Submit b = %d, %v", idx, ok)
	}
	c.run(20 * sim.Millisecond)
	c.crash(0)
	c.w.Partition([][]sim.NodeID{{ids[1]}, {ids[2], ids[3], ids[4]}})

	x := c.waitLeader(2, 3, 4)
	c.isolate(x)
	if idx, _, ok := c.node(x).Submit([]byte("c")); !ok || idx != 2 {
		t.Fatalf("script: Submit c = %d, %v", idx, ok)
	}
	c.run(20 * sim.Millisecond)
	c.crash(x)

	c.w.Heal()
	c.restart(0)
	l := c.waitLeader(0, 1)
	c.run(300 * sim.Millisecond)
	commit := c.node(l).Raft().CommitIndex()
	if unsafe != (commit >= 2) {
		t.Fatalf("script: leader S%d (unsafe=%v) has commit index %d", l, unsafe, commit)
	}
	c.crash(0)
	c.crash(1)

	fast(&c.cfg[x])
	c.restart(x)
	c.w.RunFor(2 * sim.Second)
	return c, c.w.Failure()
}

func TestFigure8UnsafeCommitLosesCommittedEntry(t *testing.T) {
	c, f := figure8(t, true)
	t.Logf("caught: %v", f)
	if f == nil || f.Checker != "committed-lost" {
		t.Fatalf("UnsafeCommitPriorTerm did not lose a committed entry (failure: %v)", f)
	}
	if c.w.Coverage()["raft: UNSAFE committed an entry of an earlier term by counting"] == 0 {
		t.Fatal("coverage fact missing")
	}
}

func TestFigure8SafeCommitKeepsCommittedEntries(t *testing.T) {
	c, f := figure8(t, false)
	if f != nil {
		t.Fatalf("safe Raft failed Figure 8: %v", f)
	}
	c.restart(0)
	c.restart(1)
	idx := c.one("z", 5)
	if idx != 3 {
		t.Fatalf("z at index %d, want 3 (after c at 2)", idx)
	}
	if n := c.nApplied(2, "c"); n != 5 {
		t.Fatalf("c applied at index 2 on %d servers", n)
	}
}
