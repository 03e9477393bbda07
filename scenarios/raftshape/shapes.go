package raftshape

import (
	"fmt"
	"strings"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Shape is one implementation-neutral fault shape: the network outside
// faults, and either generated faults (swarm over every kind, or fixed
// fault options) or a script that reshuffles partitions during the fault
// phase. A host registers it under its own system's name with its own
// workload and checkers (see Start, Kinds, Faults).
type Shape struct {
	// Name is the shape's name ("halves"); hosts register "system/Name".
	Name string
	// Desc says what the shape does, for `dsim list`.
	Desc string
	// MinServers is the fewest peers the shape makes sense for.
	MinServers int
	// Net is the network outside scripted faults.
	Net sim.NetOptions

	swarm  bool
	faults func(p Promises) sim.Faults
	script func(r *run)
}

// Kinds returns the fault kinds a swarm shape draws from (crash points
// after p's promises), or nil for any other shape.
func (s Shape) Kinds(p Promises) *sim.Kinds {
	if !s.swarm {
		return nil
	}
	k := sim.AllKinds()
	k.PointMsgs = p.String()
	return &k
}

// Faults returns the fixed fault options of a generated shape (crash points
// after p's promises) as scenarios.Scenario.Faults takes them, or nil for
// a scripted or swarm shape.
func (s Shape) Faults(p Promises) func(scenarios.Variant) sim.Faults {
	if s.faults == nil {
		return nil
	}
	return func(scenarios.Variant) sim.Faults { return s.faults(p) }
}

// Scripted reports whether the shape schedules its own faults (Start).
func (s Shape) Scripted() bool { return s.script != nil }

// Start schedules a scripted shape's faults on h in c's fault phase and
// records what it drew as the "shape-faults.txt" artifact at the end of the
// run (see TimelineArtifact); it does nothing for a generated shape. Call it
// from Setup after the host's workload has started, as the draws share the
// workload stream.
func (s Shape) Start(c *scenarios.Cluster, h Host) {
	if s.script == nil {
		return
	}
	r := &run{c: c, h: h, w: c.W, ids: h.Peers()}
	c.Cleanup(func() {
		if len(r.lines) > 0 {
			c.Artifact(TimelineArtifact, []byte(strings.Join(r.lines, "\n")+"\n"))
		}
	})
	s.script(r)
}

// TimelineArtifact is the name of the artifact in which a scripted shape
// records the faults it drew, one line per step: times, sides and cuts by
// peer index, leader-targeted steps as "leader" (the draws, not their
// resolution). Two implementations' runs of one shape and seed record the
// same timeline: that is the point of sharing the shapes.
const TimelineArtifact = "shape-faults.txt"

// run is one scripted shape at work in one world.
type run struct {
	c     *scenarios.Cluster
	h     Host
	w     *sim.World
	ids   []sim.NodeID
	lines []string
}

// note records one step of the timeline.
func (r *run) note(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf("@%v ", r.w.Now())+fmt.Sprintf(format, args...))
}

// split cuts every link between sides a and b, both ways.
func (r *run) split(a, b []int) {
	for _, x := range a {
		for _, y := range b {
			r.w.Cut(r.ids[x], r.ids[y])
			r.w.Cut(r.ids[y], r.ids[x])
		}
	}
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

// Networks of the shapes.
var (
	// Calm is the network outside scripted faults: 1-5 ms, nothing lost.
	Calm = sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond}
	// Lossy drops 1 in 20 messages and reorders 1 in 4, up to 20 ms.
	Lossy = sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 20 * sim.Millisecond, Loss: sim.R(1, 20), Reorder: sim.R(1, 4)}
	// Unreliable is the lab's unreliable network plus a long tail: 10%
	// loss, up to 27 ms, 1 in 20 messages up to 500 ms late, reordering.
	Unreliable = sim.NetOptions{DelayMax: 27 * sim.Millisecond, Loss: sim.R(1, 10), Reorder: sim.R(1, 2),
		Tail: sim.R(1, 20), TailMax: 500 * sim.Millisecond}
)

// The shapes. Every host registers the ones it runs (dsim's Raft under
// raft/..., etcd raft under etcd/...).
var (
	// Swarm: a random subset of every fault kind per seed.
	Swarm = Shape{Name: "swarm", MinServers: 1, Net: Calm, swarm: true,
		Desc: "swarm testing: a random subset of every fault kind per seed (network, process, disk, clock); then liveness"}

	// Halves: random two-sided partitions.
	Halves = Shape{Name: "halves", MinServers: 2, Net: Calm,
		Desc: "random two-sided partitions, reshuffled every 0.5-2s",
		script: func(r *run) {
			r.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				r.h.HealLinks()
				rnd := r.c.Workload
				perm := rnd.Perm(len(r.ids))
				k := 1 + rnd.Intn(len(r.ids)-1)
				r.split(perm[:k], perm[k:])
				r.note("halves %v | %v", perm[:k], perm[k:])
			})
		}}

	// Bridge: two sides and one peer that sees both.
	Bridge = Shape{Name: "bridge", MinServers: 3, Net: Calm,
		Desc: "bridge partitions: two sides and one node that sees both, reshuffled every 0.5-2s",
		script: func(r *run) {
			r.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				r.h.HealLinks()
				rnd := r.c.Workload
				perm := rnd.Perm(len(r.ids))
				rest := perm[1:]
				k := 1 + rnd.Intn(len(rest)-1)
				r.split(rest[:k], rest[k:])
				r.note("bridge %d: %v | %v", perm[0], rest[:k], rest[k:])
			})
		}}

	// Ring: every peer sees only its ring neighbours.
	Ring = Shape{Name: "ring", MinServers: 3, Net: Calm,
		Desc: "majorities ring: every node sees only its ring neighbours (each a majority with them), reshuffled",
		script: func(r *run) {
			r.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				r.h.HealLinks()
				perm := r.c.Workload.Perm(len(r.ids))
				for _, c := range sim.RingCuts(perm) {
					r.w.Cut(r.ids[c[0]], r.ids[c[1]])
				}
				r.note("ring %v", perm)
			})
		}}

	// OneWay: one side cannot hear the other, often the leader's side.
	OneWay = Shape{Name: "one-way", MinServers: 2, Net: Calm,
		Desc: "asymmetric cuts: one side cannot hear the other (leaders that can talk but not listen)",
		script: func(r *run) {
			r.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				r.h.HealLinks()
				rnd := r.c.Workload
				n := len(r.ids)
				perm := rnd.Perm(n)
				leaderFirst := rnd.Intn(2) == 0
				drawn := perm
				if leaderFirst {
					if l, err := r.h.Leader(); err == nil {
						perm = append([]int{l}, without(perm, l)...)
					}
				}
				k := 1 + rnd.Intn(n-1)
				for _, a := range perm[:k] {
					for _, b := range perm[k:] {
						r.w.Cut(r.ids[b], r.ids[a]) // a cannot hear b
					}
				}
				r.note("one-way perm %v leader-first %v, %d deaf", drawn, leaderFirst, k)
			})
		}}

	// IsolateLeader: the current leader is cut off again and again.
	IsolateLeader = Shape{Name: "isolate-leader", MinServers: 2, Net: Calm,
		Desc: "the current leader is isolated, again and again, for 0.3-1.5s each time",
		script: func(r *run) {
			var isolate func()
			isolate = func() {
				if r.w.Now() >= sim.Time(r.c.Scenario.Duration-2*sim.Second) {
					return
				}
				if l, err := r.h.Leader(); err == nil {
					r.w.Isolate(r.ids[l], r.ids)
				}
				d := r.c.Workload.Between(300*sim.Millisecond, 1500*sim.Millisecond)
				r.note("isolate leader for %v", d)
				r.w.After(d, func() {
					r.h.HealLinks()
					r.w.After(r.c.Workload.Between(100*sim.Millisecond, 800*sim.Millisecond), isolate)
				})
			}
			r.w.After(sim.Second, isolate)
		}}

	// CrashRestart: crashes (often of the leader), crash points right
	// after promises and around disk operations, quick restarts, torn
	// unsynced writes.
	CrashRestart = Shape{Name: "crash-restart", MinServers: 1, Net: Lossy,
		Desc: "crashes (often the leader), crash points right after votes and acknowledgements and around disk writes, quick restarts and torn unsynced writes",
		faults: func(p Promises) sim.Faults {
			return sim.Faults{Step: 50 * sim.Millisecond, Network: sim.NetworkFaults{Base: Lossy},
				Process: sim.ProcessFaults{Crash: sim.R(1, 5), CrashLeader: sim.R(1, 2), CrashStability: 200 * sim.Millisecond,
					CrashPoint: sim.R(1, 3), PointMsgs: p.String(), ShortDown: sim.R(1, 2)},
				Disk: sim.DiskFaults{Torn: sim.R(1, 1)}}
		}}

	// Churn: an unreliable network with partitions, crashes and restarts.
	Churn = Shape{Name: "churn", MinServers: 1, Net: Unreliable,
		Desc: "an unreliable network (10% loss, long-tail delays, reordering) with partitions, crashes and restarts",
		faults: func(Promises) sim.Faults {
			return sim.Faults{Step: 100 * sim.Millisecond,
				Network: sim.NetworkFaults{Base: Unreliable, Partition: sim.R(1, 8), OneWay: true, PartitionStability: 300 * sim.Millisecond},
				Process: sim.ProcessFaults{Crash: sim.R(1, 8), CrashLeader: sim.R(1, 2), CrashStability: 200 * sim.Millisecond, ShortDown: sim.R(1, 4)},
				Disk:    sim.DiskFaults{Torn: sim.R(1, 2)}}
		}}
)

// Shapes returns every shape, in a fixed order.
func Shapes() []Shape {
	return []Shape{Swarm, Halves, Bridge, Ring, OneWay, IsolateLeader, CrashRestart, Churn}
}
