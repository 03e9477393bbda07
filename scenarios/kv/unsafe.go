package kv

import (
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// UnsafeCase is an unsafe scenario with the variant that makes it safe, the
// checker that must catch it, and the seed budget within which it must.
type UnsafeCase struct {
	Name    string
	Safe    scenarios.Variant
	Checker string
	// Seeds is the budget: some seed in 1..Seeds fails with Checker, and
	// the Safe variant passes every one of them.
	Seeds uint64
}

// UnsafeCases lists the kv scenarios that exist to show a bug dsim catches.
var UnsafeCases = []UnsafeCase{
	{Name: "kv/unsafe-lease", Safe: scenarios.Variant{kUnsafeLease: "false"}, Checker: "linearizability", Seeds: 10},
	{Name: "kv/unsafe-readindex", Safe: scenarios.Variant{kUnsafeReadIndex: "false"}, Checker: "linearizability", Seeds: 10},
}

// leaseAdversary: rounds of slowing the leader's clock by 40% (the most the
// safe lease, ElectionMin/2 from the heartbeat's send time, tolerates),
// jumping it forward a little, and cutting it off from the other servers for
// 1.5 s while clients keep working; a reader client stays with the old
// leader as long as it answers. A lease that trusts the slow clock
// (raft.unsafe_lease) outlives the followers' vote stickiness: the old
// leader answers Gets after the new one acknowledged Puts.
func leaseAdversary(g *group) {
	var round func()
	round = func() {
		if g.w.Now() >= sim.Time(g.c.Scenario.Duration-3*sim.Second) {
			return
		}
		l := g.leader()
		if l < 0 {
			g.after(100*sim.Millisecond, round)
			return
		}
		id := g.ids[l]
		g.w.SetDrift(id, -400_000)
		g.w.Jump(id, g.c.Workload.Between(0, 50*sim.Millisecond))
		g.w.Isolate(id, g.ids)
		g.w.Note("lease adversary: s%d slowed 40%% and cut off", l)
		g.after(1500*sim.Millisecond, func() {
			g.w.SetDrift(id, 0)
			g.healServers()
			g.after(g.c.Workload.Between(500*sim.Millisecond, sim.Second), round)
		})
	}
	g.after(sim.Second, round)
}

// handoffAdversary: rounds of cutting the leader off from the other servers
// in the very event in which it commits a new entry (it has applied it and
// answered its clerk, but no follower has learnt the new commit index),
// while clients keep working and a reader follows the leadership. The next
// leader holds the entry without knowing it committed: a ReadIndex answered
// before an entry of its own term commits (kv.unsafe_read_before_term_commit)
// serves a read below the acknowledged Put.
func handoffAdversary(g *group) {
	armed := -1
	var mark uint64
	var round func()
	g.w.AfterEvent(func() {
		if armed < 0 {
			return
		}
		s := g.server(armed)
		if s == nil {
			armed = -1
			g.after(100*sim.Millisecond, round)
			return
		}
		if s.RSM().Raft().CommitIndex() <= mark {
			return
		}
		l := armed
		armed = -1
		id := g.ids[l]
		g.w.Isolate(id, g.ids)
		g.w.Note("handoff adversary: s%d cut off right after committing index %d", l, s.RSM().Raft().CommitIndex())
		g.after(1500*sim.Millisecond, func() {
			g.healServers()
			g.after(g.c.Workload.Between(500*sim.Millisecond, sim.Second), round)
		})
	})
	round = func() {
		if g.w.Now() >= sim.Time(g.c.Scenario.Duration-3*sim.Second) {
			return
		}
		l := g.leader()
		if l < 0 {
			g.after(100*sim.Millisecond, round)
			return
		}
		armed, mark = l, g.server(l).RSM().Raft().CommitIndex()
	}
	g.after(sim.Second, round)
}

func init() {
	leaseOver := func(unsafe string) map[string]string {
		return map[string]string{kRead: "lease", kUnsafeLease: unsafe, kElectionMax: "400"}
	}
	registerShape(shape{name: "lease-drift", servers: 5, clients: 2, keys: 1, duration: 20 * sim.Second, reader: true,
		over: leaseOver("false"), script: leaseAdversary,
		desc: "lease reads while the leader's clock runs 40% slow and it is cut off, again and again; a reader stays with the old leader (the shape of kv/unsafe-lease, safe)"})
	registerShape(shape{name: "unsafe-lease", servers: 5, clients: 2, keys: 1, duration: 20 * sim.Second, reader: true,
		over: leaseOver("true"), script: leaseAdversary, unsafe: true,
		desc: "UNSAFE raft.unsafe_lease: lease reads trust the slow clock of a leader that is cut off; it answers Gets after a new leader acknowledged Puts"})

	handoffOver := func(unsafe string) map[string]string {
		return map[string]string{kRead: "readindex", kUnsafeReadIndex: unsafe}
	}
	registerShape(shape{name: "leader-handoff-reads", servers: 3, clients: 2, keys: 1, duration: 20 * sim.Second, reader: true,
		over: handoffOver("false"), script: handoffAdversary,
		desc: "ReadIndex reads while the leader is cut off in the event it commits, again and again: the next leader must not read below that commit (the shape of kv/unsafe-readindex, safe)"})
	registerShape(shape{name: "unsafe-readindex", servers: 3, clients: 2, keys: 1, duration: 20 * sim.Second, reader: true,
		over: handoffOver("true"), script: handoffAdversary, unsafe: true,
		desc: "UNSAFE kv.unsafe_read_before_term_commit: a new leader answers ReadIndex before its term commits, below its predecessor's last acknowledged Put"})
}
