package raft

import (
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// staleLeaseRead isolates a lease-holding leader whose clock runs 40% slow,
// lets the majority elect a new leader and commit a write, and keeps asking
// the old leader for reads: it reports whether the old leader confirmed a
// read point below that write after the write committed.
func staleLeaseRead(t *testing.T, seed uint64, unsafe bool) bool {
	c := newCluster(t, 3, seed, reliable(), func(cfg *Config) {
		cfg.ReadMode = ReadLease
		cfg.UnsafeLeaseTrustsClock = unsafe
	}, 0)
	c.one("a", 3)
	l := c.oneLeader()
	c.w.SetDrift(c.ids[l], -400_000)
	c.one("b", 3)
	c.run(50 * sim.Millisecond)
	c.isolate(l)
	var written uint64
	stale := false
	var poll func()
	poll = func() {
		if n := c.node(l); n != nil {
			n.Raft().ReadIndex(func(idx uint64, ok bool) {
				if ok && written > 0 && idx < written {
					stale = true
				}
			})
		}
		c.w.After(2*sim.Millisecond, poll)
	}
	c.w.After(0, poll)
	for i := range c.ids {
		if i == l {
			continue
		}
		// Write through the new majority as soon as it has a leader.
		i := i
		var try func()
		try = func() {
			if written > 0 {
				return
			}
			if idx, _, ok := c.node(i).Submit([]byte("w")); ok {
				var wait func()
				wait = func() {
					if c.node(i) != nil && c.node(i).Raft().CommitIndex() >= idx {
						if written == 0 {
							written = idx
						}
						return
					}
					c.w.After(sim.Millisecond, wait)
				}
				wait()
				return
			}
			c.w.After(sim.Millisecond, try)
		}
		c.w.After(0, try)
	}
	c.run(2 * sim.Second)
	if written == 0 {
		t.Fatalf("seed %d: the majority never committed", seed)
	}
	return stale
}

func TestLeaseReads(t *testing.T) {
	unsafeStale := 0
	for seed := uint64(1); seed <= 10; seed++ {
		if staleLeaseRead(t, seed, false) {
			t.Fatalf("seed %d: safe lease served a stale read", seed)
		}
		if staleLeaseRead(t, seed, true) {
			unsafeStale++
		}
	}
	t.Logf("UnsafeLeaseTrustsClock: stale reads in %d/10 seeds", unsafeStale)
	if unsafeStale == 0 {
		t.Fatal("UnsafeLeaseTrustsClock never served a stale read under 40% clock drift")
	}
}
