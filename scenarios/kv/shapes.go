package kv

import (
	"fmt"

	kvnode "github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// shape is a scenario beyond the lab: clients run the OnePut loop over a few
// keys (with a Get of a random key between rounds) through the whole fault
// phase, under generated faults (kinds or faults) or a scripted adversary;
// then the liveness phase: every client completes operations after the heal.
type shape struct {
	name, desc string
	servers    int
	minServers int
	clients    int
	keys       int
	duration   sim.Duration
	kinds      *sim.Kinds
	faults     func(scenarios.Variant) sim.Faults
	over       map[string]string
	unsafe     bool
	// script, if set, schedules the scenario's own faults.
	script func(g *group)
	// reader adds a client that only reads the first key, in a tight loop,
	// staying with whichever server answers (the stale-read adversaries).
	reader bool
}

// readPaths are the values of raft.read, each a scenario of the shapes that
// stress the read path.
var readPaths = []string{"log", "readindex", "lease"}

func registerShape(s shape) {
	ps := params(s.servers, s.clients, 2000, s.over)
	if s.minServers > 1 {
		ps[0].Range = scenarios.Span(int64(s.minServers), ps[0].Range.Max)
	}
	dur := s.duration
	if dur == 0 {
		dur = 10 * sim.Second
	}
	register(&scenarios.Scenario{
		Name: "kv/" + s.name, Description: s.desc, Params: ps, Unsafe: s.unsafe,
		Duration: dur, Liveness: 10 * sim.Second, Kinds: s.kinds, Faults: s.faults,
		Setup: func(c *scenarios.Cluster) error { return setupShape(c, s) },
	})
}

// registerPerRead registers s once per read path: kv/NAME with raft.read=log,
// kv/NAME-readindex and kv/NAME-lease.
func registerPerRead(s shape, descFor func(read string) string) {
	for _, read := range readPaths {
		t := s
		t.over = map[string]string{kRead: read}
		for k, v := range s.over {
			t.over[k] = v
		}
		if read != "log" {
			t.name += "-" + read
		}
		t.desc = descFor(read)
		registerShape(t)
	}
}

func setupShape(c *scenarios.Cluster, s shape) error {
	g, err := newGroup(c, c.Int(kServers), calm)
	if err != nil {
		return err
	}
	if g.n < s.minServers {
		return fmt.Errorf("kv/%s needs at least %d servers, got %d", s.name, s.minServers, g.n)
	}
	if err := g.addClients(c.Int(kClients)); err != nil {
		return err
	}
	nkeys := s.keys
	if nkeys == 0 {
		nkeys = 3
	}
	wl := &putLoop{g: g, cls: append([]*client(nil), g.clients...), keys: keysFor(nkeys), random: nkeys > 1}
	// One Get between a client's rounds at a time: its callbacks are
	// bound once per client and run the round's next.
	type betweenState struct {
		next       func()
		got        func(string, uint64, kvnode.Err)
		afterPause func()
	}
	betweens := map[*client]*betweenState{}
	wl.between = func(cl *client, next func()) {
		b := betweens[cl]
		if b == nil {
			b = &betweenState{}
			b.got = func(string, uint64, kvnode.Err) {
				g.h.Done()
				cl.done++
				g.w.After(cl.env.Rand().Between(0, 10*sim.Millisecond), b.afterPause)
			}
			b.afterPause = func() { // what g.after does
				if !g.stopped() {
					b.next()
				}
			}
			betweens[cl] = b
		}
		b.next = next
		key := wl.keys[cl.env.Rand().Intn(len(wl.keys))]
		cl.ck.Get(key, b.got)
	}
	workers := append([]*client(nil), g.clients...)
	if s.reader {
		r := g.addClient(g.ids)
		workers = append(workers, r)
		// The reader's callbacks are made once, not per read.
		var read, again func()
		got := func(string, uint64, kvnode.Err) {
			g.h.Done()
			r.done++
			g.w.After(r.env.Rand().Between(sim.Millisecond, 5*sim.Millisecond), again)
		}
		again = func() { // what g.after does
			if !g.stopped() {
				read()
			}
		}
		read = func() { r.ck.Get(wl.keys[0], got) }
		c.W.At(sim.Time(sim.Millisecond), read)
	}
	c.W.At(sim.Time(sim.Millisecond), wl.run)
	if s.script != nil {
		s.script(g)
	}
	atHeal := make([]int, len(workers))
	c.OnHeal(func() {
		for i, cl := range workers {
			atHeal[i] = cl.done
		}
	})
	c.Progress("kv.clients", func() error {
		for i, cl := range workers {
			if cl.done < atHeal[i]+3 {
				return fmt.Errorf("%s completed %d operations since healing", cl.name, cl.done-atHeal[i])
			}
		}
		return nil
	})
	c.Check(CheckStateSize, func() error {
		if !g.checkState("after the liveness phase") {
			return fmt.Errorf("%s", g.w.Failure().Message)
		}
		return nil
	})
	return nil
}

// healServers restores every link among the servers (client links are
// never cut by these shapes).
func (g *group) healServers() {
	for _, a := range g.ids {
		for _, b := range g.ids {
			if a != b {
				g.w.Connect(a, b)
			}
		}
	}
}

// cutBoth cuts the links between sides a and b both ways.
func (g *group) cutBoth(a, b []int) {
	for _, x := range a {
		for _, y := range b {
			g.w.Cut(g.ids[x], g.ids[y])
			g.w.Cut(g.ids[y], g.ids[x])
		}
	}
}

// bridge: two sides and one server that sees both.
func (g *group) bridge() {
	perm := g.c.Workload.Perm(g.n)
	rest := perm[1:]
	k := 1 + g.c.Workload.Intn(len(rest)-1)
	g.cutBoth(rest[:k], rest[k:])
}

// ring: every server sees only its ring neighbours (a majority with them).
func (g *group) ring() {
	for _, c := range sim.RingCuts(g.c.Workload.Perm(g.n)) {
		g.w.Cut(g.ids[c[0]], g.ids[c[1]])
	}
}

// oneWay: one side cannot hear the other; half the time the leader is on
// the deaf side (a leader that can talk but not listen).
func (g *group) oneWay() {
	r := g.c.Workload
	perm := r.Perm(g.n)
	if l := g.leader(); l >= 0 && r.Intn(2) == 0 {
		rest := []int{l}
		for _, x := range perm {
			if x != l {
				rest = append(rest, x)
			}
		}
		perm = rest
	}
	k := 1 + r.Intn(g.n-1)
	for _, a := range perm[:k] {
		for _, b := range perm[k:] {
			g.w.Cut(g.ids[b], g.ids[a]) // a cannot hear b
		}
	}
}

// diskScript is kv/disk's adversary: crashes (half of them of the leader)
// whose torn writes Raft's checksums must reject, then one wipe of a
// follower at a quiet moment (every server up, caught up, one leader: its
// votes and log were never needed elsewhere), then one bit flip on a
// follower's disk, which makes it inert.
func diskScript(g *group) {
	r := g.c.Workload
	var crashes func(left int)
	crashes = func(left int) {
		if left == 0 {
			g.after(500*sim.Millisecond, wipe(g))
			return
		}
		victim := r.Intn(g.n)
		if l := g.leader(); l >= 0 && r.Intn(2) == 0 {
			victim = l
		}
		id := g.ids[victim]
		g.crash(id)
		g.after(r.Between(200*sim.Millisecond, 500*sim.Millisecond), func() {
			g.w.Restart(id)
			g.after(r.Between(300*sim.Millisecond, 700*sim.Millisecond), func() { crashes(left - 1) })
		})
	}
	g.after(500*sim.Millisecond, func() { crashes(6) })
}

// wipe waits for a quiet moment, wipes a follower's disk, restarts it after
// 500 ms, then corrupts another follower's disk 1 s later.
func wipe(g *group) func() {
	return func() {
		quiet := func() bool {
			l := g.leader()
			if l < 0 {
				return false
			}
			applied := g.server(l).RSM().Applied()
			for i := 0; i < g.n; i++ {
				s := g.server(i)
				if s == nil || g.w.Paused(g.ids[i]) || s.RSM().Applied() != applied || s.RSM().Raft().CommitIndex() != g.server(l).RSM().Raft().CommitIndex() {
					return false
				}
			}
			return true
		}
		g.waitUntil("a quiet moment to wipe a follower", 5*sim.Second, quiet, func() {
			l := g.leader()
			victim := (l + 1 + g.c.Workload.Intn(g.n-1)) % g.n
			id := g.ids[victim]
			g.w.Wipe(id)
			g.w.Note("wiped s%d's disk", victim)
			g.after(500*sim.Millisecond, func() {
				g.w.Restart(id)
				g.after(sim.Second, func() {
					l := g.leader()
					if l < 0 {
						l = victim
					}
					other := (l + 1 + g.c.Workload.Intn(g.n-1)) % g.n
					oid := g.ids[other]
					g.crash(oid)
					g.w.Corrupt(oid)
					g.w.Note("corrupted s%d's disk", other)
					g.after(300*sim.Millisecond, func() { g.w.Restart(oid) })
				})
			})
		})
	}
}

func init() {
	all := sim.AllKinds()
	all.PointMsgs = raft.PromiseMessages
	registerShape(shape{name: "swarm", servers: 5, clients: 3, kinds: &all,
		desc: "swarm testing: a random subset of every fault kind per seed (network, process, torn disks, clocks) while 3 clients work; then liveness"})

	registerPerRead(shape{name: "partial-partitions", servers: 5, minServers: 3, clients: 3,
		script: func(g *group) {
			g.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				g.healServers()
				if g.c.Workload.Intn(2) == 0 {
					g.bridge()
				} else {
					g.ring()
				}
			})
		}}, func(read string) string {
		return "partial partitions (a bridge server that sees both sides, or a majorities ring), reshuffled every 0.5-2s; reads by " + read
	})

	registerPerRead(shape{name: "one-way", servers: 5, minServers: 2, clients: 3,
		script: func(g *group) {
			g.c.Every(500*sim.Millisecond, 2*sim.Second, func() {
				g.healServers()
				g.oneWay()
			})
		}}, func(read string) string {
		return "one-way cuts among servers (often a leader that can talk but not listen), reshuffled every 0.5-2s; reads by " + read
	})

	registerPerRead(shape{name: "pause", servers: 5, clients: 3,
		faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Step: 100 * sim.Millisecond, Network: sim.NetworkFaults{Base: calm},
				Process: sim.ProcessFaults{Pause: sim.R(1, 5), CrashLeader: sim.R(1, 2), CrashStability: 300 * sim.Millisecond}}
		}}, func(read string) string {
		return "process pauses (GC stalls), often of the leader, while clients work: woken leaders must not answer stale; reads by " + read
	})

	// Lease reads assume bounded drift and no clock jumps (nodes/raft's
	// lease): the lease variant drifts clocks up to 20% only.
	for _, read := range readPaths {
		read := read
		jump := read != "lease"
		name := "clock-drift"
		if read != "log" {
			name += "-" + read
		}
		desc := "clocks drift up to 20% and jump up to 1s, with partitions, while clients work; reads by " + read
		if !jump {
			desc = "clocks drift up to 20% (no jumps: leases assume none), with partitions, while clients work; reads by lease"
		}
		registerShape(shape{name: name, servers: 5, clients: 3, over: map[string]string{kRead: read}, desc: desc,
			faults: func(scenarios.Variant) sim.Faults {
				f := sim.Faults{Step: 100 * sim.Millisecond,
					Network: sim.NetworkFaults{Base: calm, Partition: sim.R(1, 10), PartitionStability: 500 * sim.Millisecond},
					Clock:   sim.ClockFaults{Drift: sim.R(1, 10), DriftMaxPPM: 200_000}}
				if jump {
					f.Clock.Jump, f.Clock.JumpMax = sim.R(1, 20), sim.Second
				}
				return f
			}})
	}

	registerShape(shape{name: "disk", servers: 5, clients: 3, duration: 12 * sim.Second, script: diskScript,
		over: map[string]string{kMaxRaftState: "1000"},
		faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Network: sim.NetworkFaults{Base: calm}, Disk: sim.DiskFaults{Torn: sim.R(1, 1)}}
		},
		desc: "disk faults while clients work: crashes keeping torn unsynced writes, one follower's disk wiped at a quiet moment, one bit flip (the node goes inert)"})
}
