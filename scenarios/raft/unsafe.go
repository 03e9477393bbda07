package raft

import (
	"fmt"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// An adversary is one adversarial schedule registered twice: as an unsafe
// scenario with a bug switched on, which dsim must catch, and as a safe
// scenario of the default campaign with the same schedule and the correct
// rule, which must pass every seed (so that a change breaking the rule in
// the safe protocol is found by the schedule built to expose it).
type adversary struct {
	unsafeName, unsafeDesc string
	safeName, safeDesc     string
	// over sets variant defaults of both; bug those of the unsafe one
	// only; safe is what turns the unsafe one safe (the safe scenario's
	// defaults, and what the tests run the unsafe one with).
	over, bug map[string]string
	safe      scenarios.Variant
	// checkers are the ones that may catch the unsafe scenario.
	checkers []string
	duration sim.Duration
	setup    func(c *scenarios.Cluster) error
}

var adversaries = []adversary{
	{
		unsafeName: "raft/unsafe-figure8",
		unsafeDesc: "UNSAFE: leaders commit prior-term entries by counting replicas, under the partitions of the paper's Figure 8; a committed entry gets overwritten",
		safeName:   "raft/figure8-adversary",
		safeDesc:   "the paper's Figure 8 partitions, steered three times: a leader must not commit a prior-term entry by counting replicas",
		bug:        map[string]string{kUnsafeFig8: "true"},
		safe:       scenarios.Variant{kUnsafeFig8: "false"},
		checkers: []string{raftcheck.LeaderCompleteness, raftcheck.CommittedNeverLost, raftcheck.StateMachineSafety,
			raftcheck.LogMatching},
		duration: 240 * sim.Second,
		setup: func(c *scenarios.Cluster) error {
			h, err := newHarness(c, 5, reliable, 0)
			if err != nil {
				return err
			}
			h.drive(func(d *drv) {
				for i := 0; i < 3; i++ {
					figure8Adversary(d)
				}
			})
			return nil
		},
	},
	{
		unsafeName: "raft/unsafe-lease",
		unsafeDesc: "UNSAFE: lease reads trust a slow-running clock on a leader that gets cut off; it serves stale reads",
		safeName:   "raft/lease-adversary",
		safeDesc:   "lease reads from a leader whose clock runs slow and that gets cut off, five times: the lease must end before a new leader can commit",
		over:       map[string]string{kRead: "lease"},
		bug:        map[string]string{kUnsafeLease: "true"},
		safe:       scenarios.Variant{kUnsafeLease: "false"},
		checkers:   []string{raftcheck.StaleRead},
		duration:   30 * sim.Second,
		setup: func(c *scenarios.Cluster) error {
			h, err := newHarness(c, 5, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond}, 0)
			if err != nil {
				return err
			}
			(&workload{h: h, every: 20 * sim.Millisecond}).start()
			h.drive(leaseRounds)
			return nil
		},
	},
	{
		unsafeName: "raft/unsafe-prevote-no-checkquorum",
		unsafeDesc: "UNSAFE: PreVote without CheckQuorum; a leader that can send but not hear keeps followers quiet forever (no commits)",
		safeName:   "raft/deaf-leader",
		safeDesc:   "PreVote with CheckQuorum: a leader that can send but not hear steps down, and the rest elect a leader and commit within 5s",
		over:       map[string]string{kPreVote: "true"},
		bug:        map[string]string{kCheckQuorum: "false"},
		safe:       scenarios.Variant{kCheckQuorum: "true"},
		checkers:   []string{raftcheck.Liveness},
		duration:   30 * sim.Second,
		setup: func(c *scenarios.Cluster) error {
			h, err := newHarness(c, 3, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond}, 0)
			if err != nil {
				return err
			}
			wl := &workload{h: h, every: 20 * sim.Millisecond}
			wl.start()
			h.drive(deafLeader)
			return nil
		},
	},
	{
		unsafeName: "raft/unsafe-read-before-term-commit",
		unsafeDesc: "UNSAFE: a new leader answers ReadIndex from its commitIndex before an entry of its term commits; its predecessor's last commit is missed (stale read)",
		safeName:   "raft/new-leader-read",
		safeDesc:   "a leader is cut off the moment it commits, and the next leader is asked for a read at once: it must first commit an entry of its term",
		over:       map[string]string{kRead: "readindex"},
		bug:        map[string]string{kUnsafeRead: "true"},
		safe:       scenarios.Variant{kUnsafeRead: "false"},
		checkers:   []string{raftcheck.StaleRead},
		duration:   60 * sim.Second,
		setup: func(c *scenarios.Cluster) error {
			h, err := newHarness(c, 3, reliable, 0)
			if err != nil {
				return err
			}
			h.drive(func(d *drv) {
				for i := 0; i < 5; i++ {
					newLeaderRead(d)
				}
			})
			return nil
		},
	},
}

// merged returns a copy of a with b's entries added.
func merged(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func init() {
	for _, a := range adversaries {
		register(&scenarios.Scenario{
			Name: a.unsafeName, Description: a.unsafeDesc, Params: params(0, merged(a.over, a.bug)),
			Duration: a.duration, Unsafe: true, Setup: a.setup,
		})
		register(&scenarios.Scenario{
			Name: a.safeName, Description: a.safeDesc, Params: params(0, merged(a.over, a.safe)),
			Duration: a.duration, Setup: a.setup,
		})
	}
}

// newLeaderRead: a leader commits an entry and is cut off the moment it
// counts it committed, before its followers learn the new commit index;
// the first of them to win the next election is asked for read points at
// once, every millisecond, until it serves one. A read point below the
// entry the old leader committed is a stale read; a correct leader first
// commits an entry of its own term (a no-op) and so learns the entry is
// committed.
func newLeaderRead(d *drv) {
	d.connectAll()
	l := d.checkOneLeader()
	idx, _, ok := d.start(l, d.rnd())
	if !ok {
		return // leadership moved on: try again next round
	}
	if d.s.WaitFor(func() bool {
		rf := d.rf(l)
		return rf == nil || rf.CommitIndex() >= idx
	}, 10*sim.Microsecond, sim.Second) && d.rf(l) != nil {
		d.disconnect(l)
	}
	served := false
	d.s.WaitFor(func() bool {
		if served {
			return true
		}
		for i := 0; i < d.n; i++ {
			if i == l || !d.up(i) {
				continue
			}
			if _, lead := d.state(i); lead {
				i, st := i, d.chk.BeginRead()
				d.rf(i).ReadIndex(func(index uint64, ok bool) {
					if ok {
						served = true
						d.endRead(i, st, index)
					}
				})
			}
		}
		return false
	}, sim.Millisecond, 2*sim.Second)
}

// leaseRounds: five rounds of slowing the leader's clock, cutting it off
// from everyone, and reading from it on its lease while the majority elects
// a new leader and commits; then heal.
func leaseRounds(d *drv) {
	for round := 0; round < 5; round++ {
		l := d.checkOneLeader()
		d.sleep(200 * sim.Millisecond)
		d.w.SetDrift(d.ids[l], -int64(100_000+d.c.Workload.Intn(300_000)))
		d.disconnect(l)
		// Read from the old leader every 5 ms for 2 s.
		for end := d.w.Now().Add(2 * sim.Second); d.w.Now() < end; d.sleep(5 * sim.Millisecond) {
			if rf := d.rf(l); rf != nil {
				st := d.chk.BeginRead()
				rf.ReadIndex(func(index uint64, ok bool) {
					if ok {
						d.endRead(l, st, index)
					}
				})
			}
		}
		d.w.SetDrift(d.ids[l], 0)
		d.connect(l)
	}
}

// deafLeader: once a leader is elected, cut every link into it (it can
// still send): with CheckQuorum it steps down and the rest elect a leader
// and commit; without it, its heartbeats keep the followers from ever
// starting an election.
func deafLeader(d *drv) {
	l := d.checkOneLeader()
	d.sleep(200 * sim.Millisecond)
	for i := 0; i < d.n; i++ {
		if i != l {
			d.w.Cut(d.ids[i], d.ids[l])
		}
	}
	commit := d.chk.NewCommit()
	d.within(raftcheck.Liveness, 5*sim.Second, 10*sim.Millisecond, func() error {
		if err := commit(); err != nil {
			return fmt.Errorf("leader %d cannot hear its followers: %v", l, err)
		}
		return nil
	})
	d.connectAll()
}

// figure8Adversary steers a 5-server group through the paper's Figure 8:
// (a) leader L replicates x at index k to one follower only; (b) the other
// three elect M, which takes y at k and is cut off at once; (c) L's side
// (everyone but M) elects P, which holds x from an earlier term and
// replicates it to a majority: a leader that commits by counting (the bug)
// commits x now; (d) P is cut off and M, whose last term is the highest,
// wins, overwrites x with y and commits its own entry on top: two commits
// at index k. With the rule of §5.4.2, x is never committed in (c).
func figure8Adversary(d *drv) {
	r := d.c.Workload
	x, y := d.rnd(), d.rnd()
	hold := sim.Duration(300+r.Intn(700)) * sim.Millisecond // how long P replicates x
	isolateAll := func() {
		for i := 0; i < d.n; i++ {
			d.disconnect(i)
		}
	}
	d.connectAll()
	l := d.checkOneLeader()
	d.oneRnd(d.n)
	// (a) L and one follower only; x reaches the follower.
	f1 := (l + 1 + r.Intn(d.n-1)) % d.n
	isolateAll()
	d.connect(l)
	d.connect(f1)
	d.start(l, x)
	d.sleep(100 * sim.Millisecond)
	// (b) the other three elect M; y stays on M alone.
	isolateAll()
	for i := 0; i < d.n; i++ {
		if i != l && i != f1 {
			d.connect(i)
		}
	}
	m := d.checkOneLeader()
	d.start(m, y)
	d.disconnect(m)
	d.connect(l)
	d.connect(f1)
	// (c) everyone but M: a holder of x wins and replicates it.
	p := d.checkOneLeader()
	d.sleep(hold)
	// (d) P out, M back: M wins and commits on top of y.
	d.disconnect(p)
	d.connect(m)
	d.oneRnd(d.n - 1)
	d.connectAll()
	d.oneRnd(d.n)
}
