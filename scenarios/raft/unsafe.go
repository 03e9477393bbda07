package raft

import (
	"fmt"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Unsafe scenarios exist to show a bug dsim catches; each has a safe
// variant (the same scenario with the unsafe key turned off) that must pass.
// unsafeCases lists them with that variant and the checker that must fire.
var unsafeCases = []struct {
	Name    string
	Safe    scenarios.Variant
	Checker []string
}{
	{"raft/unsafe-figure8", scenarios.Variant{kUnsafeFig8: "false"},
		[]string{raftcheck.CommittedNeverLost, raftcheck.StateMachineSafety}},
	{"raft/unsafe-lease", scenarios.Variant{kUnsafeLease: "false"}, []string{raftcheck.StaleRead}},
	{"raft/unsafe-prevote-no-checkquorum", scenarios.Variant{kCheckQuorum: "true"}, []string{raftcheck.Liveness}},
}

func init() {
	scenarios.Register(&scenarios.Scenario{
		Name:        "raft/unsafe-figure8",
		Description: "UNSAFE: leaders commit prior-term entries by counting replicas, under the partitions of the paper's Figure 8; a committed entry gets overwritten",
		Params:      params(0, map[string]string{kUnsafeFig8: "true"}),
		Duration:    240 * sim.Second, Unsafe: true,
		Setup: func(c *scenarios.Cluster) error {
			h, err := newHarness(c, 5, reliable, 0)
			if err != nil {
				return err
			}
			h.script(loop(3, func(int) step { return figure8Adversary(h) }))
			return nil
		},
	})

	scenarios.Register(&scenarios.Scenario{
		Name:        "raft/unsafe-lease",
		Description: "UNSAFE: lease reads trust a slow-running clock on a leader that gets cut off; it serves stale reads",
		Params:      params(0, map[string]string{kRead: "lease", kUnsafeLease: "true"}),
		Duration:    30 * sim.Second, Unsafe: true,
		Setup: func(c *scenarios.Cluster) error {
			h, err := newHarness(c, 5, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond}, 0)
			if err != nil {
				return err
			}
			(&workload{h: h, every: 20 * sim.Millisecond}).start()
			h.script(leaseRounds(h))
			return nil
		},
	})

	scenarios.Register(&scenarios.Scenario{
		Name:        "raft/unsafe-prevote-no-checkquorum",
		Description: "UNSAFE: PreVote without CheckQuorum; a leader that can send but not hear keeps followers quiet forever (no commits)",
		Params:      params(0, map[string]string{kPreVote: "true", kCheckQuorum: "false"}),
		Duration:    30 * sim.Second, Unsafe: true,
		Setup: func(c *scenarios.Cluster) error {
			h, err := newHarness(c, 3, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond}, 0)
			if err != nil {
				return err
			}
			wl := &workload{h: h, every: 20 * sim.Millisecond}
			wl.start()
			h.script(deafLeader(h))
			return nil
		},
	})
}

// leaseRounds: five rounds of slowing the leader's clock, cutting it off
// from everyone, and reading from it on its lease while the majority elects
// a new leader and commits; then heal.
func leaseRounds(h *harness) step {
	return loop(5, func(int) step {
		var l int
		return seq(h.checkOneLeader(&l), h.sleep(200*sim.Millisecond),
			do(func() {
				h.w.SetDrift(h.ids[l], -int64(100_000+h.c.Workload.Intn(300_000)))
				h.disconnect(l)
			}),
			func(k func()) {
				// Read from the old leader every 5 ms for 2 s.
				end := h.w.Now().Add(2 * sim.Second)
				var read func()
				read = func() {
					if h.w.Now() >= end {
						k()
						return
					}
					if rf := h.rf(l); rf != nil {
						st := h.chk.BeginRead()
						rf.ReadIndex(func(index uint64, ok bool) {
							if ok {
								h.chk.EndRead(l, st, index)
							}
						})
					}
					h.wait(5*sim.Millisecond, read)
				}
				read()
			},
			do(func() {
				h.w.SetDrift(h.ids[l], 0)
				h.connect(l)
			}))
	})
}

// deafLeader: once a leader is elected, cut every link into it (it can
// still send): with CheckQuorum it steps down and the rest elect a leader
// and commit; without it, its heartbeats keep the followers from ever
// starting an election.
func deafLeader(h *harness) step {
	var l int
	return seq(h.checkOneLeader(&l), h.sleep(200*sim.Millisecond),
		func(k func()) {
			for i := 0; i < h.n; i++ {
				if i != l {
					h.w.Cut(h.ids[i], h.ids[l])
				}
			}
			commit := h.chk.NewCommit()
			raftcheck.Within(h.w, raftcheck.Liveness, 5*sim.Second, 10*sim.Millisecond, func() error {
				if err := commit(); err != nil {
					return fmt.Errorf("leader %d cannot hear its followers: %v", l, err)
				}
				return nil
			}, k)
		},
		h.connectAll())
}

// figure8Adversary steers a 5-server group through the paper's Figure 8:
// (a) leader L replicates x at index k to one follower only; (b) the other
// three elect M, which takes y at k and is cut off at once; (c) L's side
// (everyone but M) elects P, which holds x from an earlier term and
// replicates it to a majority: a leader that commits by counting (the bug)
// commits x now; (d) P is cut off and M, whose last term is the highest,
// wins, overwrites x with y and commits its own entry on top: two commits
// at index k. With the rule of §5.4.2, x is never committed in (c).
func figure8Adversary(h *harness) step {
	r := h.c.Workload
	var l, f1, m, p int
	x, y := h.rnd(), h.rnd()
	isolateAll := func() {
		for i := 0; i < h.n; i++ {
			h.disconnect(i)
		}
	}
	return seq(h.connectAll(), h.checkOneLeader(&l),
		dyn(func() step { return h.one(h.rnd(), h.n, true, nil) }),
		// (a) L and one follower only; x reaches the follower.
		do(func() {
			f1 = (l + 1 + r.Intn(h.n-1)) % h.n
			isolateAll()
			h.connect(l)
			h.connect(f1)
			h.start(l, x)
		}),
		h.sleep(100*sim.Millisecond),
		// (b) the other three elect M; y stays on M alone.
		do(func() {
			isolateAll()
			for i := 0; i < h.n; i++ {
				if i != l && i != f1 {
					h.connect(i)
				}
			}
		}),
		h.checkOneLeader(&m),
		do(func() {
			h.start(m, y)
			h.disconnect(m)
			h.connect(l)
			h.connect(f1)
		}),
		// (c) everyone but M: a holder of x wins and replicates it.
		h.checkOneLeader(&p),
		h.sleep(sim.Duration(300+r.Intn(700))*sim.Millisecond),
		// (d) P out, M back: M wins and commits on top of y.
		do(func() {
			h.disconnect(p)
			h.connect(m)
		}),
		dyn(func() step { return h.one(h.rnd(), h.n-1, true, nil) }),
		h.connectAll(),
		dyn(func() step { return h.one(h.rnd(), h.n, true, nil) }))
}
