package shardkv

import (
	"fmt"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/checkers/shardcheck"
	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/nodes/shard"
	"github.com/smilingraft/dsim/scenarios/script"
	"github.com/smilingraft/dsim/sim"
)

// Facts nodes/shard records (sim.Env.Sometimes) that scenarios declare.
const (
	factHalfDone    = "shard ctrl: InitController finishes a half-done change"
	factUnsafeLease = "shard ctrl: UNSAFE controller acts after its lease ran out"
	factMaybe       = "shard clerk: ErrMaybe"
)

// ---- churn: configuration changes drawn per seed ----

// move returns cur with two shards of different groups swapped (Num+1):
// a change that keeps the balance and moves two shards.
func move(cur shard.Config, r *sim.Rand) (shard.Config, bool) {
	gs := cur.GIDs()
	if len(gs) < 2 {
		return cur, false
	}
	a := gs[r.Intn(len(gs))]
	b := a
	for b == a {
		b = gs[r.Intn(len(gs))]
	}
	var sa, sb []int
	for s, g := range cur.Shards {
		switch g {
		case a:
			sa = append(sa, s)
		case b:
			sb = append(sb, s)
		}
	}
	if len(sa) == 0 || len(sb) == 0 {
		return cur, false
	}
	next := cur.Copy()
	next.Num++
	x, y := sa[r.Intn(len(sa))], sb[r.Intn(len(sb))]
	next.Shards[x], next.Shards[y] = b, a
	return next, true
}

// churn makes configuration changes through controller node 0 until
// virtual time until: each a join of a group not in the configuration, a
// leave of one that is (never the last), or a move of two shards, drawn
// from the workload stream; every change must return OK.
func (d *sys) churn(sc *script.S, until sim.Time, pause sim.Duration) {
	ctl := d.ctrl(0)
	r := d.c.Workload
	for d.w.Now() < until {
		cur := d.query(sc, ctl)
		var in, out []shard.GID
		for _, g := range d.groups {
			if _, ok := cur.Groups[g.gid]; ok {
				in = append(in, g.gid)
			} else {
				out = append(out, g.gid)
			}
		}
		var next shard.Config
		var err error
		what := ""
		switch k := r.Intn(3); {
		case k == 0 && len(out) > 0:
			g := out[r.Intn(len(out))]
			next, err = cur.Join(map[shard.GID][]sim.NodeID{g: d.byGID[g].ids})
			what = fmt.Sprintf("join %d", g)
		case k == 1 && len(in) > 1:
			g := in[r.Intn(len(in))]
			next, err = cur.Leave(g)
			what = fmt.Sprintf("leave %d", g)
		default:
			var ok bool
			if next, ok = move(cur, r); !ok {
				g := out[0]
				next, err = cur.Join(map[shard.GID][]sim.NodeID{g: d.byGID[g].ids})
				what = fmt.Sprintf("join %d", g)
			} else {
				what = "move two shards"
			}
		}
		if err != nil {
			sc.Failf("%s: %v", what, err)
		}
		sc.Label("churn: %s", what)
		e := d.call(sc, what, true, func(cb func(kv.Err)) { ctl.ChangeConfigTo(next, cb) })
		if e != kv.OK && !(e == shard.ErrStale && d.c.Healed()) {
			// After the heal, the liveness phase's controller may finish
			// a change the faults held up: then ours is stale, rightly.
			sc.Failf("%s: %s", what, e)
		}
		sc.Sleep(pause)
	}
}

// every runs fn every [lo, hi) of virtual time until the script's
// workers stop or until.
func (d *sys) every(lo, hi sim.Duration, until sim.Time, fn func()) {
	var tick func()
	tick = func() {
		if d.stopWorkers || d.w.Now() >= until || d.w.Failure() != nil {
			return
		}
		fn()
		d.w.After(d.c.Workload.Between(lo, hi), tick)
	}
	d.w.After(d.c.Workload.Between(lo, hi), tick)
}

// groupServers returns every group server.
func (d *sys) groupServers() []sim.NodeID {
	var out []sim.NodeID
	for _, g := range d.groups {
		out = append(out, g.ids...)
	}
	return out
}

// ---- the stale controller adversary ----

// staleAdversary is the shape of both unsafe variants: controller A (node
// 0) starts a change and is paused in the very event its first Freeze is
// applied at the source group; controller B (node 1) runs InitController
// (finishing A's change; with leases it first waits A's lease out on its
// own clock) and changes the configuration back, moving the shard back;
// workers write at the shard's owner meanwhile; then A resumes. With
// leases, A's clock runs 20% slow and B's 10% fast during the round (the
// directions in which a lease trusted without fencing goes wrong). A's
// late Install must be refused (fence, or deposed by its lease) and its
// call must return; a group that accepts it serves a shard a second group
// serves: single ownership fails.
func (d *sys) staleAdversary(sc *script.S, rounds int) {
	aNode, bNode := d.ctls[0], d.ctls[1]
	leased := d.ctlCfg.Lease > 0
	armed := false
	var src *grp
	d.w.AfterEvent(func() {
		if !armed {
			return
		}
		for i := range src.ids {
			s := d.server(src, i)
			if s == nil {
				continue
			}
			for sh := 0; sh < d.nshards; sh++ {
				if st, _ := s.SM().Status(sh); st == shard.Frozen {
					armed = false
					d.w.Pause(aNode.id)
					d.w.Note("controller A paused right after freezing shard %d at %s", sh, src.name)
					return
				}
			}
		}
	})
	for r := 0; r < rounds; r++ {
		sc.Label("stale round %d", r)
		a := d.ctrl(0)
		if leased {
			if e := d.call(sc, "InitController (A)", true, func(cb func(kv.Err)) { a.InitController(cb) }); e != kv.OK {
				sc.Failf("A.InitController: %s", e)
			}
		}
		cur := d.query(sc, a)
		var next shard.Config
		if cur.IsMember(2) {
			next, _ = cur.Leave(2)
			src = d.byGID[2]
		} else {
			next, _ = cur.Join(map[shard.GID][]sim.NodeID{2: d.byGID[2].ids})
			src = d.byGID[1]
		}
		aDone := false
		var aErr kv.Err
		done := d.calls.Start("A's change (paused)", int64(d.w.Now()))
		d.moving++
		armed = true
		a.ChangeConfigTo(next, func(e kv.Err) { d.moving--; done(); aDone, aErr = true, e })
		if !sc.WaitFor(func() bool { return d.w.Paused(aNode.id) || aDone }, sim.Millisecond, 5*sim.Second) {
			sc.Failf("A's change neither froze a shard nor returned in 5s")
		}
		armed = false
		if aDone {
			continue
		}
		if leased {
			d.w.SetDrift(aNode.id, -200_000)
			d.w.SetDrift(bNode.id, 100_000)
		}
		sc.Label("B takes over")
		b := d.ctrl(1)
		if e := d.call(sc, "InitController (B)", true, func(cb func(kv.Err)) { b.InitController(cb) }); e != kv.OK {
			sc.Failf("B.InitController: %s", e)
		}
		back := func(c shard.Config) (shard.Config, error) {
			if c.IsMember(2) {
				return c.Leave(2)
			}
			return c.Join(map[shard.GID][]sim.NodeID{2: d.byGID[2].ids})
		}
		if e, _ := d.change(sc, b, "B moves the shards back", back); e != kv.OK {
			sc.Failf("B's change back: %s", e)
		}
		sc.Sleep(300 * sim.Millisecond)
		sc.Label("A resumes")
		d.w.Resume(aNode.id)
		if !sc.WaitFor(func() bool { return aDone }, 10*sim.Millisecond, 10*sim.Second) {
			d.w.Fail(shardcheck.Liveness, "resumed stale controller's call did not return within 10s")
			sc.End()
		}
		d.w.SetDrift(aNode.id, 0)
		d.w.SetDrift(bNode.id, 0)
		d.w.Note("stale controller A returned %s", aErr)
		if b.Deposed() {
			sc.Failf("B deposed")
		}
		sc.Sleep(300 * sim.Millisecond)
	}
}

// ---- quiet moments (disk loss) ----

// quiet reports whether g has one leader and every server up, unpaused,
// and applied as far as the leader committed: a follower's disk is then
// not needed for anything the others lack.
func (d *sys) quiet(g *grp) (leader int, ok bool) {
	id, _, err := raftcheck.Leader(d.w, g.ids)
	if err != nil {
		return -1, false
	}
	l := -1
	for i, sid := range g.ids {
		if sid == id {
			l = i
		}
	}
	ls := d.server(g, l)
	if ls == nil {
		return -1, false
	}
	for i := range g.ids {
		s := d.server(g, i)
		if s == nil || d.w.Paused(g.ids[i]) || s.RSM().Applied() != ls.RSM().Applied() ||
			s.RSM().Raft().CommitIndex() != ls.RSM().Raft().CommitIndex() {
			return -1, false
		}
	}
	return l, true
}

func init() {
	// The adversarial shapes of the unsafe variants, safe.
	register(spec{name: "stale-ctrler", groups: 2, ctls: 2, clients: 3, duration: 20 * sim.Second,
		expect: []string{factHalfDone},
		desc:   "a controller paused right after freezing a shard; a second one finishes its change and moves the shard back; the first resumes: its late install is refused by the fence (the shape of shardkv/unsafe-accept-stale, safe)",
		body:   func(d *sys, sc *script.S) { d.staleAdversary(sc, 3) }})
	register(spec{name: "lease-pause-drift", groups: 2, ctls: 2, clients: 3, duration: 30 * sim.Second,
		over:   map[string]string{kLease: "1000"},
		expect: []string{factHalfDone},
		desc:   "leased controllers: A is paused past its lease right after a freeze, its clock 20% slow, B's 10% fast; B waits the lease out, finishes A's change and reverses it; A resumes: deposed or fenced, never acting (the shape of shardkv/unsafe-no-fencing, safe)",
		body:   func(d *sys, sc *script.S) { d.staleAdversary(sc, 3) }})

	// The unsafe variants.
	register(spec{name: "unsafe-accept-stale", groups: 2, ctls: 2, clients: 3, duration: 20 * sim.Second, unsafe: true,
		over: map[string]string{kUnsafeStale: "true"},
		desc: "UNSAFE shardkv.unsafe_accept_stale: groups apply configuration steps out of order; a resumed stale controller installs an old shard copy at a group while another serves it",
		body: func(d *sys, sc *script.S) { d.staleAdversary(sc, 3) }})
	register(spec{name: "unsafe-no-fencing", groups: 2, ctls: 2, clients: 3, duration: 30 * sim.Second, unsafe: true,
		over:   map[string]string{kLease: "1000", kUnsafeNoFence: "true"},
		expect: []string{factUnsafeLease},
		desc:   "UNSAFE shardkv.unsafe_no_fencing: a leased controller paused past its lease (slow clock) acts on without renewing or fencing: it moves a shard back over newer writes",
		body:   func(d *sys, sc *script.S) { d.staleAdversary(sc, 3) }})

	register(spec{name: "partial-partitions", groups: 4, clients: 3, duration: 20 * sim.Second,
		desc: "joins, leaves and moves while random links are cut both ways: between servers of different groups, inside a group, and between a group server and the controller, redrawn every 0.5-1.5 s",
		body: func(d *sys, sc *script.S) {
			end := sim.Time(d.c.Scenario.Duration - 3*sim.Second)
			nodes := append(d.groupServers(), d.ctls[0].id)
			d.every(500*sim.Millisecond, 1500*sim.Millisecond, end, func() {
				d.w.Heal()
				r := d.c.Workload
				for k := 1 + r.Intn(4); k > 0; k-- {
					x, y := nodes[r.Intn(len(nodes))], nodes[r.Intn(len(nodes))]
					if x != y {
						d.w.Cut(x, y)
						d.w.Cut(y, x)
					}
				}
			})
			d.churn(sc, end, 200*sim.Millisecond)
			d.w.Heal()
		}})

	register(spec{name: "group-ctrl-partition", groups: 4, clients: 3, duration: 20 * sim.Second,
		desc: "joins, leaves and moves while the controller is cut off from one group's servers for 0.3-1.5 s at a time, often in the middle of a migration",
		body: func(d *sys, sc *script.S) {
			end := sim.Time(d.c.Scenario.Duration - 3*sim.Second)
			ctl := d.ctls[0].id
			d.every(300*sim.Millisecond, sim.Second, end, func() {
				d.w.Heal()
				g := d.groups[d.c.Workload.Intn(len(d.groups))]
				d.w.Isolate(ctl, g.ids)
				d.w.Note("controller cut off from %s", g.name)
				d.w.After(d.c.Workload.Between(300*sim.Millisecond, 1500*sim.Millisecond), func() { d.w.Heal() })
			})
			d.churn(sc, end, 200*sim.Millisecond)
			d.w.Heal()
		}})

	register(spec{name: "crash-mid-migration", groups: 4, clients: 3, duration: 25 * sim.Second, over: map[string]string{kMaxRaftState: "4000"},
		desc: "joins, leaves and moves; whenever a shard is frozen at a group (a move under way) that whole group may crash, to restart 0.3-1.5 s later: the move finishes from the durable log",
		body: func(d *sys, sc *script.S) {
			end := sim.Time(d.c.Scenario.Duration - 3*sim.Second)
			cool := sim.Time(0)
			d.w.AfterEvent(func() {
				if d.w.Now() < cool || d.w.Now() >= end || d.stopWorkers {
					return
				}
				for _, g := range d.groups {
					b := d.best(g)
					if b == nil {
						continue
					}
					for sh := 0; sh < d.nshards; sh++ {
						if st, _ := b.SM().Status(sh); st == shard.Frozen {
							cool = d.w.Now().Add(2 * sim.Second)
							if d.c.Workload.Intn(2) == 0 {
								return
							}
							gid := g.gid
							d.shutdown(gid)
							d.w.Note("%s crashed with shard %d frozen", g.name, sh)
							d.w.After(d.c.Workload.Between(300*sim.Millisecond, 1500*sim.Millisecond), func() { d.restart(gid) })
							return
						}
					}
				}
			})
			d.churn(sc, end, 200*sim.Millisecond)
		}})

	register(spec{name: "disk-loss", groups: 3, clients: 3, duration: 20 * sim.Second, over: map[string]string{kMaxRaftState: "4000"},
		desc: "joins, leaves and moves while one replica of each group loses its disk (at a quiet moment of its group: up to date, one leader) and rejoins empty: its group must rebuild it from the others",
		body: func(d *sys, sc *script.S) {
			end := sim.Time(d.c.Scenario.Duration - 3*sim.Second)
			sc.Par(func(s *script.S) { d.churn(s, end, 200*sim.Millisecond) }, func(s *script.S) {
				for _, g := range d.groups {
					s.Sleep(d.c.Workload.Between(500*sim.Millisecond, 2*sim.Second))
					var l int
					if !s.WaitFor(func() bool { var ok bool; l, ok = d.quiet(g); return ok }, 10*sim.Millisecond, 5*sim.Second) {
						continue
					}
					victim := (l + 1 + d.c.Workload.Intn(len(g.ids)-1)) % len(g.ids)
					d.w.Wipe(g.ids[victim])
					d.w.Note("wiped %s server %d's disk", g.name, victim)
					s.Sleep(500 * sim.Millisecond)
					d.w.Restart(g.ids[victim])
				}
			})
		}})

	all := sim.AllKinds()
	all.PointMsgs = raft.PromiseMessages
	register(spec{name: "swarm", groups: 4, clients: 3, duration: 20 * sim.Second, kinds: &all, over: map[string]string{kMaxRaftState: "4000"},
		desc: "swarm testing: a join/leave/move sequence drawn per seed while a random subset of every fault kind hits the group servers (network, crashes, pauses, torn disks, clocks, crash points)",
		body: func(d *sys, sc *script.S) {
			d.churn(sc, sim.Time(d.c.Scenario.Duration-2*sim.Second), d.c.Workload.Between(0, 500*sim.Millisecond))
		}})
}
