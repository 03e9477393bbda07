package raft

import (
	"fmt"
	"strconv"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// workload is a world-level client: every few milliseconds it submits a
// fresh command to whichever running server accepts it as leader, and asks a
// random server for a linearizable read, checked by the stale-read checker.
type workload struct {
	h       *harness
	seq     int
	every   sim.Duration
	reads   bool
	stopped bool
}

func (wl *workload) start() {
	h := wl.h
	var tick func()
	tick = func() {
		if h.stopped() || wl.stopped {
			return
		}
		r := h.c.Workload
		wl.seq++
		cmd := strconv.AppendInt([]byte{'w'}, int64(wl.seq), 10) // "w<seq>", without fmt

		off := r.Intn(h.n)
		for j := 0; j < h.n; j++ {
			i := (off + j) % h.n
			if h.w.Up(h.ids[i]) && !h.w.Paused(h.ids[i]) {
				if _, _, ok := h.start(i, cmd); ok {
					break
				}
			}
		}
		if wl.reads {
			i := r.Intn(h.n)
			if rf := h.rf(i); rf != nil && !h.w.Paused(h.ids[i]) {
				st := h.chk.BeginRead()
				rf.ReadIndex(func(index uint64, ok bool) {
					if ok {
						h.endRead(i, st, index)
					}
				})
			}
		}
		h.w.After(wl.every/2+sim.Duration(r.Intn(int(wl.every))), tick)
	}
	h.w.After(wl.every, tick)
}

// liveness registers the liveness phase of a generated-fault scenario:
// after healing, a single leader, a new commit, and every server caught up
// with what was committed when the phase began.
func (h *harness) liveness() {
	var newCommit func() error
	var mark uint64
	h.c.OnHeal(func() {
		newCommit = h.chk.NewCommit()
		mark = h.chk.Stats().MaxCommitted
	})
	h.c.Progress("raft.leader", func() error {
		_, _, err := raftcheck.Leader(h.w, h.ids)
		return err
	})
	h.c.Progress("raft.new-commit", func() error { return newCommit() })
	h.c.Progress("raft.catch-up", func() error {
		for i := 0; i < h.n; i++ {
			if got := h.chk.LastApplied(i); got < mark {
				return fmt.Errorf("server %d applied up to %d, behind index %d committed before healing", i, got, mark)
			}
		}
		return nil
	})
	h.c.Check("raft.metrics", func() error {
		s := h.chk.Stats()
		h.c.Metric("max_term", float64(s.MaxTerm))
		h.c.Metric("max_committed", float64(s.MaxCommitted))
		return nil
	})
}

// shape is a scenario with a workload, faults (generated from Kinds or
// Faults, or scripted by faults), and the liveness phase.
type shape struct {
	name, desc string
	servers    int
	minServers int // the fewest servers the shape makes sense for
	duration   sim.Duration
	kinds      *sim.Kinds
	faults     func(scenarios.Variant) sim.Faults
	net        sim.NetOptions
	snapEvery  int
	unsafe     bool
	over       map[string]string
	// script, if set, schedules the scenario's own faults in the fault phase.
	script func(h *harness)
}

// shapeParams returns a shape's variant keys: raft.servers starts at the
// fewest servers the shape makes sense for.
func shapeParams(s shape) []scenarios.Param {
	ps := params(s.servers, s.over)
	if s.minServers > 1 {
		ps[0].Range = scenarios.Span(int64(s.minServers), ps[0].Range.Max)
	}
	return ps
}

func registerShape(s shape) {
	register(&scenarios.Scenario{
		Name: "raft/" + s.name, Description: s.desc, Params: shapeParams(s),
		Duration: s.duration, Liveness: 10 * sim.Second, Kinds: s.kinds, Faults: s.faults, Unsafe: s.unsafe,
		Setup: func(c *scenarios.Cluster) error {
			if n := c.Int(kServers); n < s.minServers {
				return fmt.Errorf("raft/%s needs at least %d servers, got %d", s.name, s.minServers, n)
			}
			h, err := newHarness(c, c.Int(kServers), s.net, s.snapEvery)
			if err != nil {
				return err
			}
			(&workload{h: h, every: 30 * sim.Millisecond, reads: true}).start()
			h.liveness()
			if s.script != nil {
				s.script(h)
			}
			return nil
		},
	})
}

// heal restores every link among the servers.
func (h *harness) healLinks() {
	for i := 0; i < h.n; i++ {
		h.connect(i)
	}
}

func init() {
	all := sim.AllKinds()
	all.PointMsgs = raft.PromiseMessages
	calm := sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond}
	lossy := sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 20 * sim.Millisecond, Loss: sim.R(1, 20), Reorder: sim.R(1, 4)}

	registerShape(shape{name: "swarm", servers: 5, duration: 10 * sim.Second, kinds: &all, net: calm, snapEvery: 10,
		desc: "swarm testing: a random subset of every fault kind per seed (network, process, disk, clock), snapshots on; then liveness"})

	registerShape(shape{name: "bridge", servers: 5, minServers: 3, duration: 10 * sim.Second, net: calm,
		desc: "bridge partitions: two sides and one node that sees both, reshuffled every 0.5-2s",
		script: func(h *harness) {
			h.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				h.healLinks()
				r := h.c.Workload
				perm := r.Perm(h.n)
				rest := perm[1:]
				k := 1 + r.Intn(len(rest)-1)
				for _, a := range rest[:k] {
					for _, b := range rest[k:] {
						h.w.Cut(h.ids[a], h.ids[b])
						h.w.Cut(h.ids[b], h.ids[a])
					}
				}
			})
		}})

	registerShape(shape{name: "ring", servers: 5, minServers: 3, duration: 10 * sim.Second, net: calm,
		desc: "majorities ring: every node sees only its ring neighbours (each a majority with them), reshuffled",
		script: func(h *harness) {
			h.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				h.healLinks()
				for _, c := range sim.RingCuts(h.c.Workload.Perm(h.n)) {
					h.w.Cut(h.ids[c[0]], h.ids[c[1]])
				}
			})
		}})

	registerShape(shape{name: "one-way", servers: 5, minServers: 2, duration: 10 * sim.Second, net: calm,
		desc: "asymmetric cuts: one side cannot hear the other (leaders that can talk but not listen)",
		script: func(h *harness) {
			h.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				h.healLinks()
				r := h.c.Workload
				perm := r.Perm(h.n)
				if r.Intn(2) == 0 {
					if l, _, err := raftcheck.Leader(h.w, h.ids); err == nil {
						for i, id := range h.ids {
							if id == l {
								perm = append([]int{i}, without(perm, i)...)
							}
						}
					}
				}
				k := 1 + r.Intn(h.n-1)
				for _, a := range perm[:k] {
					for _, b := range perm[k:] {
						h.w.Cut(h.ids[b], h.ids[a]) // a cannot hear b
					}
				}
			})
		}})

	registerShape(shape{name: "flaky", servers: 5, duration: 10 * sim.Second, net: calm,
		desc: "flaky links: single links lose 20-90% of messages, changing every 0.3-1s",
		faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Step: 100 * sim.Millisecond, Network: sim.NetworkFaults{Base: calm, Flaky: sim.R(1, 2), PartitionStability: 300 * sim.Millisecond}}
		}})

	registerShape(shape{name: "leader-isolation-loop", servers: 5, minServers: 2, duration: 10 * sim.Second, net: calm,
		desc: "the current leader is isolated, again and again, for 0.3-1.5s each time",
		script: func(h *harness) {
			var isolate func()
			isolate = func() {
				if h.w.Now() >= sim.Time(h.c.Scenario.Duration-2*sim.Second) {
					return
				}
				if l, _, err := raftcheck.Leader(h.w, h.ids); err == nil {
					h.w.Isolate(l, h.ids)
				}
				h.w.After(h.c.Workload.Between(300*sim.Millisecond, 1500*sim.Millisecond), func() {
					h.healLinks()
					h.w.After(h.c.Workload.Between(100*sim.Millisecond, 800*sim.Millisecond), isolate)
				})
			}
			h.w.After(sim.Second, isolate)
		}})

	// leader-churn is the shape of the per-event benchmark: the same
	// workload examples/etcdraft runs with etcd raft on dsim and on a bare
	// heap (etcdsim's side-by-side benchmark), with dsim's Raft and every
	// checker: 10% loss, delays up to 27 ms with a long tail (1 in 20
	// messages up to 500 ms later), half the messages free to reorder, the
	// leader cut off for 500 ms at every virtual second, PreVote and
	// CheckQuorum as etcd runs them.
	longTail := sim.NetOptions{DelayMax: 27 * sim.Millisecond, Loss: sim.R(1, 10), Reorder: sim.R(1, 2),
		Tail: sim.R(1, 20), TailMax: 500 * sim.Millisecond}
	registerShape(shape{name: "leader-churn", servers: 5, minServers: 2, duration: 10 * sim.Second, net: longTail,
		over: map[string]string{kPreVote: "true", kCheckQuorum: "true"},
		desc: "per-event benchmark shape: 10% loss, long-tail delays, the leader isolated for 0.5s at every virtual second (PreVote, CheckQuorum)",
		script: func(h *harness) {
			var change func()
			change = func() {
				if l, _, err := raftcheck.Leader(h.w, h.ids); err == nil {
					for i, id := range h.ids {
						if id == l {
							h.disconnect(i)
						}
					}
					h.w.After(500*sim.Millisecond, h.healLinks)
				}
				if h.w.Now()+sim.Time(sim.Second) < sim.Time(h.c.Scenario.Duration) {
					h.w.After(sim.Second, change)
				}
			}
			h.w.After(sim.Second, change)
		}})

	registerShape(shape{name: "pause", servers: 5, duration: 10 * sim.Second, net: calm, snapEvery: 10,
		desc: "process pauses (GC stalls), often of the leader: stale leaders wake up and must step down",
		faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Step: 100 * sim.Millisecond, Network: sim.NetworkFaults{Base: calm},
				Process: sim.ProcessFaults{Pause: sim.R(1, 5), CrashLeader: sim.R(1, 2), CrashStability: 300 * sim.Millisecond}}
		}})

	registerShape(shape{name: "clock-drift", servers: 5, duration: 10 * sim.Second, net: calm,
		desc: "clocks drift up to 20% and jump up to 1s, with partitions: timers and leases on bad clocks",
		faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Step: 100 * sim.Millisecond,
				Network: sim.NetworkFaults{Base: calm, Partition: sim.R(1, 10), PartitionStability: 500 * sim.Millisecond},
				Clock:   sim.ClockFaults{Drift: sim.R(1, 10), DriftMaxPPM: 200_000, Jump: sim.R(1, 20), JumpMax: sim.Second}}
		}})

	registerShape(shape{name: "torn-writes", servers: 5, duration: 10 * sim.Second, net: calm, snapEvery: 10,
		desc: "crashes that keep a torn prefix of unsynced writes; Raft's checksums must reject the torn tail",
		faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Step: 50 * sim.Millisecond, Network: sim.NetworkFaults{Base: lossy},
				Process: sim.ProcessFaults{Crash: sim.R(1, 5), CrashLeader: sim.R(1, 2), CrashStability: 200 * sim.Millisecond,
					CrashPoint: sim.R(1, 5), PointMsgs: raft.PromiseMessages, ShortDown: sim.R(1, 2)},
				Disk: sim.DiskFaults{Torn: sim.R(1, 1)}}
		}})
}

func without(xs []int, x int) []int {
	out := make([]int, 0, len(xs))
	for _, y := range xs {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}
