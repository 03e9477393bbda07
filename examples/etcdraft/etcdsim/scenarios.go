package etcdsim

import (
	"fmt"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// shape is an etcd scenario: a network, faults (generated from kinds or
// faults, or scripted), a client, and the liveness phase.
type shape struct {
	name, desc string
	servers    int
	minServers int
	kinds      *sim.Kinds
	faults     func(scenarios.Variant) sim.Faults
	net        sim.NetOptions
	unsafe     bool
	over       map[string]string
	expect     []string
	script     func(h *harness)
}

// Duration is every etcd scenario's fault phase; Liveness bounds the phase
// after healing.
const (
	Duration = 10 * sim.Second
	Liveness = 10 * sim.Second
)

func registerShape(s shape) {
	ps := Params(s.servers, s.over)
	if s.minServers > 1 {
		ps[0].Range = scenarios.Span(int64(s.minServers), ps[0].Range.Max)
	}
	scenarios.Register(&scenarios.Scenario{
		Name: "etcd/" + s.name, Description: s.desc, Params: ps,
		Duration: Duration, Liveness: Liveness, Kinds: s.kinds, Faults: s.faults, Unsafe: s.unsafe,
		Expect: s.expect,
		Setup: func(c *scenarios.Cluster) error {
			if n := c.Int(kServers); n < s.minServers {
				return fmt.Errorf("etcd/%s needs at least %d servers, got %d", s.name, s.minServers, n)
			}
			h, err := newHarness(c, s.net)
			if err != nil {
				return err
			}
			h.client(30 * sim.Millisecond)
			h.liveness()
			if s.script != nil {
				s.script(h)
			}
			return nil
		},
	})
}

// healLinks restores every link among the peers.
func (h *harness) healLinks() {
	for _, a := range h.ids {
		for _, b := range h.ids {
			if a != b {
				h.w.Connect(a, b)
			}
		}
	}
}

// split cuts every link between sides a and b (both ways unless oneWay:
// then a cannot hear b).
func (h *harness) split(a, b []int, oneWay bool) {
	for _, x := range a {
		for _, y := range b {
			h.w.Cut(h.ids[y], h.ids[x])
			if !oneWay {
				h.w.Cut(h.ids[x], h.ids[y])
			}
		}
	}
}

// leaderIndex returns the peer claiming leadership, or -1.
func (h *harness) leaderIndex() int {
	l, _, err := raftcheck.Leader(h.w, h.ids)
	if err != nil {
		return -1
	}
	for i, id := range h.ids {
		if id == l {
			return i
		}
	}
	return -1
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

var (
	// calm is the network outside scripted faults.
	calm = sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond}
	// lossy drops 1 in 20 and reorders.
	lossy = sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 20 * sim.Millisecond, Loss: sim.R(1, 20), Reorder: sim.R(1, 4)}
	// unreliable is the lab's unreliable network plus a long tail: 10%
	// loss, up to 27 ms, 1 in 20 messages up to 500 ms late, reordering.
	unreliable = sim.NetOptions{DelayMax: 27 * sim.Millisecond, Loss: sim.R(1, 10), Reorder: sim.R(1, 2),
		Tail: sim.R(1, 20), TailMax: 500 * sim.Millisecond}
)

// crashFaults are the crash-restart shape's faults: crashes (often of the
// leader), crash points after promises and around disk operations, quick
// restarts, torn unsynced writes.
func crashFaults(scenarios.Variant) sim.Faults {
	return sim.Faults{Step: 50 * sim.Millisecond, Network: sim.NetworkFaults{Base: lossy},
		Process: sim.ProcessFaults{Crash: sim.R(1, 5), CrashLeader: sim.R(1, 2), CrashStability: 200 * sim.Millisecond,
			CrashPoint: sim.R(1, 3), PointMsgs: PromiseMessages, ShortDown: sim.R(1, 2)},
		Disk: sim.DiskFaults{Torn: sim.R(1, 1)}}
}

// voteFaults aim at votes: the leader crashes often (elections), and crash
// points fire right after granted votes, with quick restarts.
func voteFaults(scenarios.Variant) sim.Faults {
	return sim.Faults{Step: 50 * sim.Millisecond, Network: sim.NetworkFaults{Base: lossy},
		Process: sim.ProcessFaults{Crash: sim.R(1, 10), CrashLeader: sim.R(1, 1), CrashStability: 200 * sim.Millisecond,
			CrashPoint: sim.R(1, 2), PointMsgs: "etcdsim.MsgVoteResp", ShortDown: sim.R(1, 1)}}
}

func init() {
	all := sim.AllKinds()
	all.PointMsgs = PromiseMessages

	registerShape(shape{name: "swarm", servers: 5, kinds: &all, net: calm,
		desc:   "etcd raft, swarm testing: a random subset of every fault kind per seed (network, process, disk, clock); then liveness",
		expect: []string{"etcd: a leader was elected", "etcd: a peer snapshotted and compacted its log"}})

	registerShape(shape{name: "halves", servers: 5, minServers: 2, net: calm,
		desc: "etcd raft under random two-sided partitions, reshuffled every 0.5-2s",
		script: func(h *harness) {
			h.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				h.healLinks()
				perm := h.c.Workload.Perm(h.n)
				k := 1 + h.c.Workload.Intn(h.n-1)
				h.split(perm[:k], perm[k:], false)
			})
		}})

	registerShape(shape{name: "bridge", servers: 5, minServers: 3, net: calm,
		desc: "etcd raft under bridge partitions: two sides and one peer that sees both, reshuffled every 0.5-2s",
		script: func(h *harness) {
			h.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				h.healLinks()
				rest := h.c.Workload.Perm(h.n)[1:]
				k := 1 + h.c.Workload.Intn(len(rest)-1)
				h.split(rest[:k], rest[k:], false)
			})
		}})

	registerShape(shape{name: "ring", servers: 5, minServers: 3, net: calm,
		desc: "etcd raft under a majorities ring: every peer sees only its ring neighbours, reshuffled",
		script: func(h *harness) {
			h.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				h.healLinks()
				for _, c := range sim.RingCuts(h.c.Workload.Perm(h.n)) {
					h.w.Cut(h.ids[c[0]], h.ids[c[1]])
				}
			})
		}})

	registerShape(shape{name: "one-way", servers: 5, minServers: 2, net: calm,
		desc: "etcd raft under asymmetric cuts: one side cannot hear the other (often the leader's side)",
		script: func(h *harness) {
			h.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				h.healLinks()
				r := h.c.Workload
				perm := r.Perm(h.n)
				if r.Intn(2) == 0 {
					if l := h.leaderIndex(); l >= 0 {
						perm = append([]int{l}, without(perm, l)...)
					}
				}
				k := 1 + r.Intn(h.n-1)
				h.split(perm[:k], perm[k:], true)
			})
		}})

	registerShape(shape{name: "isolate-leader", servers: 5, minServers: 2, net: calm,
		desc: "etcd raft with its current leader isolated again and again, for 0.3-1.5s each time",
		script: func(h *harness) {
			var isolate func()
			isolate = func() {
				if h.w.Now() >= sim.Time(h.c.Scenario.Duration-2*sim.Second) {
					return
				}
				if l := h.leaderIndex(); l >= 0 {
					h.w.Isolate(h.ids[l], h.ids)
				}
				h.w.After(h.c.Workload.Between(300*sim.Millisecond, 1500*sim.Millisecond), func() {
					h.healLinks()
					h.w.After(h.c.Workload.Between(100*sim.Millisecond, 800*sim.Millisecond), isolate)
				})
			}
			h.w.After(sim.Second, isolate)
		}})

	registerShape(shape{name: "crash-restart", servers: 5, net: lossy, faults: crashFaults,
		desc: "etcd raft with crashes (often the leader), crash points right after votes and acknowledgements and around disk writes, quick restarts and torn unsynced writes"})

	registerShape(shape{name: "churn", servers: 5, net: unreliable,
		desc: "etcd raft on an unreliable network (10% loss, long-tail delays, reordering) with partitions, crashes and restarts",
		faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Step: 100 * sim.Millisecond,
				Network: sim.NetworkFaults{Base: unreliable, Partition: sim.R(1, 8), OneWay: true, PartitionStability: 300 * sim.Millisecond},
				Process: sim.ProcessFaults{Crash: sim.R(1, 8), CrashLeader: sim.R(1, 2), CrashStability: 200 * sim.Millisecond, ShortDown: sim.R(1, 4)},
				Disk:    sim.DiskFaults{Torn: sim.R(1, 2)}}
		}})

	registerShape(shape{name: "unsafe-send-before-persist", servers: 5, net: lossy, faults: crashFaults, unsafe: true,
		over: map[string]string{kUnsafe: UnsafeSendBeforePersist},
		desc: "UNSAFE host: a Ready's messages leave before its entries and HardState are durable; crash points after votes and acknowledgements expose it (raft.sync-before-promise at once; with etcd.whitebox=false etcd's own commit-index assertion)"})

	registerShape(shape{name: "unsafe-vote-before-persist", servers: 5, net: lossy, faults: voteFaults, unsafe: true,
		over: map[string]string{kUnsafe: UnsafeVoteBeforePersist, kPreVote: "false", kCheckQuorum: "false"},
		desc: "UNSAFE host: entries are durable before sends, but the HardState (term, vote) is synced only after the messages left; raft.sync-before-promise must catch the undurable vote (a crash right after it and a quick restart can vote twice in a term)"})
}
