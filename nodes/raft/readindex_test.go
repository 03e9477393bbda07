package raft

import (
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// staleNewLeaderRead commits an entry on a leader and isolates it before
// the followers learn the new commit index, then asks the new leader for a
// read point as soon as it is elected: it reports whether the new leader
// confirmed a read point below the entry its predecessor had committed.
func staleNewLeaderRead(t *testing.T, seed uint64, unsafe bool) bool {
	c := newCluster(t, 3, seed, reliable(), func(cfg *Config) {
		cfg.ReadMode = ReadReadIndex
		cfg.UnsafeReadBeforeTermCommit = unsafe
	}, 0)
	c.one("a", 3)
	l := c.oneLeader()
	idx, _, ok := c.node(l).Submit([]byte("b"))
	if !ok {
		t.Fatalf("seed %d: leader refused Start", seed)
	}
	// Isolate the leader the moment it counts "b" committed: the followers
	// hold "b" but learn its commit only from the next AppendEntries.
	isolated := false
	var watch func()
	watch = func() {
		if n := c.node(l); n != nil && n.Raft().CommitIndex() >= idx {
			c.isolate(l)
			isolated = true
			return
		}
		c.w.After(10*sim.Microsecond, watch)
	}
	c.w.After(0, watch)
	stale, served := false, false
	var poll func()
	poll = func() {
		for i := range c.ids {
			if i == l || c.node(i) == nil {
				continue
			}
			if _, lead := c.node(i).Raft().State(); lead {
				c.node(i).Raft().ReadIndex(func(got uint64, ok bool) {
					if ok {
						served = true
						if got < idx {
							stale = true
						}
					}
				})
			}
		}
		c.w.After(sim.Millisecond, poll)
	}
	c.w.After(0, poll)
	c.run(3 * sim.Second)
	if !isolated || !served {
		t.Fatalf("seed %d: isolated=%v, a new leader served a read=%v", seed, isolated, served)
	}
	return stale
}

func TestReadIndexWaitsForTermCommit(t *testing.T) {
	unsafeStale := 0
	for seed := uint64(1); seed <= 10; seed++ {
		if staleNewLeaderRead(t, seed, false) {
			t.Fatalf("seed %d: a new leader served a read point below a committed entry", seed)
		}
		if staleNewLeaderRead(t, seed, true) {
			unsafeStale++
		}
	}
	t.Logf("UnsafeReadBeforeTermCommit: stale read points in %d/10 seeds", unsafeStale)
	if unsafeStale == 0 {
		t.Fatal("UnsafeReadBeforeTermCommit never served a stale read point")
	}
}
