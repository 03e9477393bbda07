package raft

import (
	"fmt"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/scenarios/raftshape"
	"github.com/smilingraft/dsim/sim"
)

// workload is the shapes' client (raftshape.Client) over dsim's Raft: a
// fresh command every few milliseconds to whichever running server accepts
// it as leader, and (with reads) a linearizable read at a random server,
// checked by the stale-read checker.
type workload struct {
	h     *harness
	every sim.Duration
	reads bool
}

func (wl *workload) start() {
	h := wl.h
	cl := &raftshape.Client{Every: wl.every, Reads: wl.reads,
		Propose: func(i int, cmd []byte) bool {
			_, _, ok := h.start(i, cmd)
			return ok
		},
		Read: func(i int) {
			if rf := h.rf(i); rf != nil && !h.w.Paused(h.ids[i]) {
				st, start := h.chk.BeginRead(), h.w.Now()
				rf.ReadIndex(func(index uint64, ok bool) {
					if ok {
						h.endRead(i, st, index)
						h.m.ReadDone(start)
					}
				})
			}
		}}
	cl.Start(h.c, h)
}

// liveness registers the shared heal-then-progress phase
// (raftshape.Liveness: a single leader, a new commit, and every server
// caught up with what was committed when the phase began) and the
// checker's counters as metrics.
func (h *harness) liveness() {
	raftshape.Liveness(h.c, h, "raft")
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

// registerShared registers a shared shape (raftshape) under raft/name,
// with snapshots every snapEvery indices (0: none).
func registerShared(sh raftshape.Shape, name string, snapEvery int) {
	s := shape{name: name, desc: sh.Desc, servers: 5, minServers: sh.MinServers, duration: 10 * sim.Second,
		kinds: sh.Kinds(promises), faults: sh.Faults(promises), net: sh.Net, snapEvery: snapEvery}
	if sh.Scripted() {
		s.script = func(h *harness) { sh.Start(h.c, h) }
	}
	registerShape(s)
}

func init() {
	calm := raftshape.Calm
	lossy := raftshape.Lossy

	// The shapes every hosted Raft runs (etcd raft runs them as etcd/...):
	// the same plan from the same seed. leader-isolation-loop is
	// raftshape.IsolateLeader (etcd/isolate-leader).
	registerShared(raftshape.Swarm, "swarm", 10)
	registerShared(raftshape.Halves, "halves", 0)
	registerShared(raftshape.Bridge, "bridge", 0)
	registerShared(raftshape.Ring, "ring", 0)
	registerShared(raftshape.OneWay, "one-way", 0)
	registerShared(raftshape.IsolateLeader, "leader-isolation-loop", 0)
	registerShared(raftshape.CrashRestart, "crash-restart", 10)
	registerShared(raftshape.Churn, "churn", 0)

	registerShape(shape{name: "flaky", servers: 5, duration: 10 * sim.Second, net: calm,
		desc: "flaky links: single links lose 20-90% of messages, changing every 0.3-1s",
		faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Step: 100 * sim.Millisecond, Network: sim.NetworkFaults{Base: calm, Flaky: sim.R(1, 2), PartitionStability: 300 * sim.Millisecond}}
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
