package shardkv

import (
	"fmt"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/checkers/shardcheck"
	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/nodes/shard"
	"github.com/smilingraft/dsim/scenarios/script"
	"github.com/smilingraft/dsim/sim"
)

// nkeys is the lab's NKEYS.
const nkeys = 60

// gids returns from..to.
func gids(from, to int) []shard.GID {
	var out []shard.GID
	for g := from; g <= to; g++ {
		out = append(out, shard.GID(g))
	}
	return out
}

// snapshotBytes is group g's largest snapshot among its running servers.
func (d *sys) snapshotBytes(g *grp) int {
	n := 0
	for i := range g.ids {
		if s := d.server(g, i); s != nil {
			if sz := len(s.RSM().Raft().SnapshotData()); sz > n {
				n = sz
			}
		}
	}
	return n
}

// tryGets starts a Get of every key from a fresh clerk each and waits
// `within`; it checks the ones that finish and returns how many did.
func (d *sys) tryGets(sc *script.S, keys []string, within sim.Duration) int {
	n := 0
	for _, k := range keys {
		k := k
		ck := shard.NewClerk(d.tester.env, d.ckCfg)
		ck.Get(k, func(v string, ver uint64, err kv.Err) {
			d.done()
			n++
			if w, ok := d.want[k]; ok && (err != kv.OK || v != w.Value || ver != w.Version) {
				d.w.Fail(CheckScript, "get(%s) = %q@v%d %s, want %q@v%d", k, short(v), ver, err, short(w.Value), w.Version)
			}
		})
	}
	sc.Sleep(within)
	return n
}

// snapIndex is the smallest snapshot index among g's running servers.
func (d *sys) snapIndex(g *grp) uint64 {
	min := ^uint64(0)
	for i := range g.ids {
		if s := d.server(g, i); s != nil && s.RSM().Raft().SnapshotIndex() < min {
			min = s.RSM().Raft().SnapshotIndex()
		}
	}
	return min
}

// ---- partitionCtrler (5B/5C) ----

// ctrlLoop is the lab's background controller sck: repeatedly join a gid
// and, if it became a member, make it leave, until told to stop; its calls
// are callbacks on its own node, so a partition leaves them hanging.
type ctrlLoop struct {
	d       *sys
	ctl     *shard.Ctrl
	gid     shard.GID
	stop    bool
	joined  bool // the join of gid is in progress or done and not yet left
	running bool
}

func (l *ctrlLoop) join() {
	d := l.d
	if l.stop {
		l.running = false
		return
	}
	l.running = true
	done := d.calls.Start(fmt.Sprintf("background join %d", l.gid), int64(d.w.Now()))
	d.moving++
	l.ctl.Query(func(cur shard.Config, err kv.Err) {
		next, jerr := cur.Join(map[shard.GID][]sim.NodeID{l.gid: d.byGID[l.gid].ids})
		if err != kv.OK || jerr != nil {
			d.moving--
			done()
			l.running = false
			return
		}
		l.joined = true
		l.ctl.ChangeConfigTo(next, func(err kv.Err) {
			d.moving--
			done()
			if err != kv.OK || l.stop {
				l.running = false // deposed
				return
			}
			d.w.After(200*sim.Millisecond, l.leave)
		})
	})
}

func (l *ctrlLoop) leave() {
	d := l.d
	if l.stop {
		l.running = false
		return
	}
	done := d.calls.Start(fmt.Sprintf("background leave %d", l.gid), int64(d.w.Now()))
	d.moving++
	l.ctl.Query(func(cur shard.Config, err kv.Err) {
		next, lerr := cur.Leave(l.gid)
		if err != kv.OK || lerr != nil {
			d.moving--
			done()
			l.running = false
			return
		}
		l.ctl.ChangeConfigTo(next, func(err kv.Err) {
			d.moving--
			done()
			if err != kv.OK || l.stop {
				l.running = false
				return
			}
			l.joined = false
			d.w.After(200*sim.Millisecond, l.join)
		})
	})
}

// partitionCtrler is the lab's: a new controller sck on controller node 1
// runs InitController and joins and leaves gid in the background; after
// 1000+U[0,400) ms gid 1 is shut down, after 1000 ms more sck is cut off;
// [5C: 1 s later]; sck runs on controller node at gid 1 restarts, a new controller sck0 runs
// InitController: the configuration number must have grown, and gid is
// made to leave if it is a member. With reconnect (5C), sck comes back and
// its calls in progress must return without harm.
func (d *sys) partitionCtrler(sc *script.S, at int, gid shard.GID, reconnect bool) {
	sc.Label("partitionCtrler(%d)", gid)
	sck := d.ctrl(at)
	if err := d.call(sc, "InitController (sck)", true, func(cb func(kv.Err)) { sck.InitController(cb) }); err != kv.OK {
		sc.Failf("sck.InitController: %s", err)
	}
	num := d.query(sc, sck).Num
	l := &ctrlLoop{d: d, ctl: sck, gid: gid}
	l.join()
	sc.Sleep(sim.Second + d.c.Workload.Between(0, 400*sim.Millisecond))
	d.shutdown(1)
	sc.Sleep(sim.Second)
	node := d.ctls[at].id
	all := make([]sim.NodeID, 0, d.w.NumNodes())
	for id := 0; id < d.w.NumNodes(); id++ {
		all = append(all, sim.NodeID(id))
	}
	d.w.Isolate(node, all)
	l.stop = true
	d.w.Note("controller sck cut off")
	// Keys on the running groups stay readable meanwhile (the Gets of keys
	// on gid 1 finish after its restart).
	d.tryGets(sc, d.keys, 300*sim.Millisecond)
	if reconnect {
		sc.Sleep(sim.Second)
	}
	d.restart(1)
	sck0 := d.ctrl(0)
	sc.Label("sck0.InitController")
	if err := d.call(sc, "InitController (sck0)", true, func(cb func(kv.Err)) { sck0.InitController(cb) }); err != kv.OK {
		sc.Failf("sck0.InitController: %s", err)
	}
	cur := d.query(sc, sck0)
	if cur.Num <= num {
		sc.Failf("configuration %d after recovery, not past %d", cur.Num, num)
	}
	if cur.IsMember(gid) {
		sc.Label("sck0 leave %d", gid)
		if err, _ := d.leave(sc, sck0, gid); err != kv.OK {
			sc.Failf("sck0 leave %d: %s", gid, err)
		}
	}
	if reconnect {
		for _, id := range all {
			if id != node {
				d.w.Connect(node, id)
				d.w.Connect(id, node)
			}
		}
		d.w.Note("controller sck reconnected")
		sc.Label("sck's calls return")
		if !sc.WaitFor(func() bool { return !l.running }, 10*sim.Millisecond, 5*sim.Second) {
			d.w.Fail(shardcheck.Liveness, "reconnected old controller's call did not return within 5s")
			sc.End()
		}
		sc.Sleep(100 * sim.Millisecond)
	}
}

func init() {
	register(spec{name: "init-query", groups: 1, clients: 0, duration: 2 * sim.Second, noInit: true,
		desc: "InitQuery5A: InitConfig with gid 1, then Query: Num 1, shard 0 on gid 1, balanced",
		body: func(d *sys, sc *script.S) {
			ctl := d.ctrl(0)
			d.initConfig(sc, ctl)
			cfg := d.query(sc, ctl)
			if cfg.Num != 1 || cfg.Shards[0] != 1 || cfg.Check() != nil {
				sc.Failf("Query after InitConfig: %v (check: %v)", cfg, cfg.Check())
			}
		}})

	register(spec{name: "static", groups: 1, clients: 2, duration: 10 * sim.Second,
		desc: "StaticOneShardGroup5A: 60 keys on gid 1, Gets, shut down gid 1's Raft leader, Gets again; workers write throughout",
		body: func(d *sys, sc *script.S) {
			d.spreadPuts(sc, nkeys, 20)
			d.checkGets(sc)
			g := d.byGID[1]
			if id, _, err := raftcheck.Leader(d.w, g.ids); err == nil {
				for i, sid := range g.ids {
					if sid == id {
						if s := d.server(g, i); s != nil {
							s.RSM().Kill()
						}
					}
				}
				d.w.Crash(id)
				d.w.Note("gid 1's leader shut down")
			}
			d.checkGets(sc)
		}})

	register(spec{name: "join-basic", groups: 2, clients: 2, duration: 15 * sim.Second,
		desc: "JoinBasic5A: 60 keys, join gid 2 (Num+1, member), checkShutdownSharding of each group with Gets after each",
		body: func(d *sys, sc *script.S) {
			d.spreadPuts(sc, nkeys, 20)
			old := d.query(sc, d.ctrl(0)).Num
			err, next := d.join(sc, d.ctrl(0), 2)
			if err != kv.OK || next.Num != old+1 || !next.IsMember(2) {
				sc.Failf("join 2: %s, config %v", err, next)
			}
			d.checkShutdownSharding(sc, 1)
			d.checkGets(sc)
			d.checkShutdownSharding(sc, 2)
			d.checkGets(sc)
		}})

	register(spec{name: "delete-basic", groups: 2, clients: 1, duration: 20 * sim.Second,
		over: map[string]string{kMaxRaftState: "10000"},
		desc: "DeleteBasic5A: 60 keys of 1000 B with maxraftstate 10000; join gid 2; 5 passes of Gets; the groups' snapshots together stay within gid 1's before the move + 10000 B (moved shards deleted)",
		body: func(d *sys, sc *script.S) {
			d.spreadPuts(sc, nkeys, 1000)
			g1, g2 := d.byGID[1], d.byGID[2]
			// Snapshots are taken at maxraftstate boundaries: read until
			// one covers every Put (more Gets, more log), then measure.
			sc.Label("a snapshot after the puts")
			mark := d.best(g1).RSM().Applied()
			for i := 0; i < 10 && d.snapIndex(g1) < mark; i++ {
				d.checkGets(sc)
			}
			sz := d.snapshotBytes(g1)
			if err, _ := d.join(sc, d.ctrl(0), 2); err != kv.OK {
				sc.Failf("join 2: %s", err)
			}
			for i := 0; i < 5; i++ {
				d.checkGets(sc)
			}
			// ... and snapshots after the deletes, likewise.
			sc.Label("snapshots after the deletes")
			m1, m2 := d.best(g1).RSM().Applied(), d.best(g2).RSM().Applied()
			for i := 0; i < 10 && (d.snapIndex(g1) < m1 || d.snapIndex(g2) < m2); i++ {
				d.checkGets(sc)
			}
			sizes := map[string]int{"g1": d.snapshotBytes(g1), "g2": d.snapshotBytes(g2)}
			d.c.Metric("snapshot_before_bytes", float64(sz))
			d.c.Metric("snapshots_after_bytes", float64(sizes["g1"]+sizes["g2"]))
			if err := shardcheck.SizeBound(sizes, sz, 10000); err != nil {
				d.w.Fail(CheckSize, "%v", err)
				sc.End()
			}
		}})

	register(spec{name: "join-leave-basic", groups: 2, clients: 2, duration: 20 * sim.Second,
		desc: "JoinLeaveBasic5A: join gid 2, checkShutdownSharding(1), gid 1 leaves and shuts down, Gets, gid 1 restarts and rejoins with the same servers, Gets, checkShutdownSharding(2)",
		body: func(d *sys, sc *script.S) {
			d.spreadPuts(sc, nkeys, 20)
			ctl := d.ctrl(0)
			d.joinGroups(sc, ctl, 2)
			d.checkShutdownSharding(sc, 1)
			d.checkGets(sc)
			d.leaveGroups(sc, ctl, 1)
			d.shutdown(1)
			d.checkGets(sc)
			d.restart(1)
			d.joinGroups(sc, ctl, 1)
			d.checkGets(sc)
			d.checkShutdownSharding(sc, 2)
			d.checkGets(sc)
		}})

	for _, unrel := range []bool{false, true} {
		name, what, dur := "many-join-leave-reliable", "Reliable", 30*sim.Second
		if unrel {
			name, what, dur = "many-join-leave-unreliable", "Unreliable", 80*sim.Second
		}
		register(spec{name: name, groups: 9, clients: 2, unrel: unrel, duration: dur,
			desc: "ManyJoinLeave" + what + "5A: 60 keys, gids 2-9 join one at a time, checkShutdownSharding(2), Gets, all 8 leave, Gets; workers write throughout",
			body: func(d *sys, sc *script.S) {
				d.spreadPuts(sc, nkeys, 20)
				ctl := d.ctrl(0)
				d.joinGroups(sc, ctl, gids(2, 9)...)
				d.checkShutdownSharding(sc, 2)
				d.checkGets(sc)
				d.leaveGroups(sc, ctl, gids(2, 9)...)
				d.checkGets(sc)
			}})
	}

	register(spec{name: "shutdown", groups: 3, clients: 2, duration: 20 * sim.Second, over: map[string]string{kMaxRaftState: "3000"},
		desc: "Shutdown5A: join gids 2 and 3, checkShutdownSharding(2), shut down gids 1-3 together and restart them: every key durable",
		body: func(d *sys, sc *script.S) {
			d.spreadPuts(sc, nkeys, 20)
			d.joinGroups(sc, d.ctrl(0), 2, 3)
			d.checkShutdownSharding(sc, 2)
			d.checkGets(sc)
			for _, g := range gids(1, 3) {
				d.shutdown(g)
			}
			sc.Sleep(500 * sim.Millisecond)
			for _, g := range gids(1, 3) {
				d.restart(g)
			}
			d.checkGets(sc)
		}})

	register(spec{name: "progress-shutdown", groups: 5, clients: 0, duration: 15 * sim.Second,
		desc: "ProgressShutdown5A: gids 2-5 join, the first two joined shut down; Gets of the keys on gids 4 and 5 all finish within 2 s",
		body: func(d *sys, sc *script.S) {
			d.spreadPuts(sc, nkeys, 20)
			d.joinGroups(sc, d.ctrl(0), gids(2, 5)...)
			cfg := d.query(sc, d.ctrl(0))
			d.shutdown(2)
			d.shutdown(3)
			sc.Label("progress with gids 2 and 3 down")
			t0 := d.w.Now()
			ck := shard.NewClerk(d.tester.env, d.ckCfg)
			for _, k := range d.keys {
				if g, _ := cfg.Owner(k); g == 4 || g == 5 {
					if v, ver, err := d.get(sc, ck, k); err != kv.OK || v != d.want[k].Value || ver != d.want[k].Version {
						sc.Failf("get(%s) = %q@v%d %s", k, short(v), ver, err)
					}
				}
			}
			if el := d.w.Now().Sub(t0); el > 2*sim.Second {
				sc.Failf("Gets on the running groups took %v > 2s", el)
			}
			d.restart(2)
			d.restart(3)
			d.checkGets(sc)
		}})

	register(spec{name: "progress-join", groups: 6, clients: 0, duration: 20 * sim.Second,
		desc: "ProgressJoin5A: gids 2-5 join; gid 6 joins and leaves again and again, a fresh group (wiped disks, same servers) each time, while a reader Gets keys on shards that do not move: >= 100 Gets in 4 s",
		body: func(d *sys, sc *script.S) {
			d.spreadPuts(sc, nkeys, 20)
			ctl := d.ctrl(0)
			d.joinGroups(sc, ctl, gids(2, 5)...)
			cur := d.query(sc, ctl)
			next, _ := cur.Join(map[shard.GID][]sim.NodeID{6: d.byGID[6].ids})
			var stable []string
			for _, k := range d.keys {
				if s := cur.Shard(k); cur.Shards[s] == next.Shards[s] {
					stable = append(stable, k)
				}
			}
			if len(stable) == 0 {
				sc.Failf("no key on a shard that stays")
			}
			stop, gets := false, 0
			sc.Par(func(s *script.S) {
				for !stop {
					d.fresh(6)
					if err, _ := d.join(s, ctl, 6); err != kv.OK {
						s.Failf("join 6: %s", err)
					}
					if err, _ := d.leave(s, ctl, 6); err != kv.OK {
						s.Failf("leave 6: %s", err)
					}
					// The exited group stays down a moment (the reader
					// keeps reading meanwhile).
					d.shutdown(6)
					s.Sleep(100 * sim.Millisecond)
				}
			}, func(s *script.S) {
				ck := shard.NewClerk(d.tester.env, d.ckCfg)
				t0 := d.w.Now()
				for d.w.Now().Sub(t0) < 4*sim.Second {
					k := stable[gets%len(stable)]
					if v, _, err := d.get(s, ck, k); err != kv.OK || v != d.want[k].Value {
						s.Failf("get(%s) = %q %s", k, short(v), err)
					}
					gets++
				}
				stop = true
			})
			d.c.Metric("progress_gets", float64(gets))
			if gets < 100 {
				sc.Failf("%d Gets in 4s on stable shards during moves, want >= 100", gets)
			}
			d.restart(6)
		}})

	for _, c := range []struct {
		name    string
		clients int
		unrel   bool
	}{{"one-concurrent-clerk-reliable", 1, false}, {"one-concurrent-clerk-unreliable", 1, true},
		{"many-concurrent-clerk-reliable", 10, false}, {"many-concurrent-clerk-unreliable", 10, true}} {
		register(spec{name: c.name, groups: 9, clients: c.clients, shared: true, unrel: c.unrel, duration: 40 * sim.Second,
			desc: fmt.Sprintf("%s: %d clients run the OnePut loop on k0 while gids 2-9 join and then leave one at a time (porcupine)", c.name, c.clients),
			body: func(d *sys, sc *script.S) {
				ctl := d.ctrl(0)
				d.joinGroups(sc, ctl, gids(2, 9)...)
				d.leaveGroups(sc, ctl, gids(2, 9)...)
			}})
	}

	register(spec{name: "join-leave-crash", groups: 2, clients: 2, duration: 20 * sim.Second,
		desc: "JoinLeave5B: gid 1 down while gid 2 joins (the join finishes within 2 s of gid 1's restart); gid 2 down while gid 1 leaves (not within 2 s, then within 2 s of gid 2's restart)",
		body: func(d *sys, sc *script.S) {
			d.spreadPuts(sc, nkeys, 20)
			ctl := d.ctrl(0)
			old := d.query(sc, ctl).Num
			d.shutdown(1)
			var joinAt, restartAt sim.Time
			var jerr kv.Err
			sc.Par(func(s *script.S) {
				jerr, _ = d.join(s, ctl, 2)
				joinAt = d.w.Now()
			}, func(s *script.S) {
				s.Sleep(sim.Second)
				if joinAt != 0 {
					s.Failf("join finished with gid 1 down")
				}
				d.restart(1)
				restartAt = d.w.Now()
			})
			if jerr != kv.OK || joinAt.Sub(restartAt) > 2*sim.Second {
				sc.Failf("join: %s, %v after gid 1's restart", jerr, joinAt.Sub(restartAt))
			}
			if n := d.query(sc, ctl).Num; n != old+1 {
				sc.Failf("Num %d after the join, want %d", n, old+1)
			}
			d.shutdown(2)
			var leaveAt sim.Time
			var lerr kv.Err
			sc.Par(func(s *script.S) {
				lerr, _ = d.leave(s, ctl, 1)
				leaveAt = d.w.Now()
			}, func(s *script.S) {
				// Shards not being moved keep serving while gid 2 is down.
				s.Sleep(500 * sim.Millisecond)
				d.tryGets(s, d.keys, 1500*sim.Millisecond)
				if leaveAt != 0 {
					s.Failf("leave finished with gid 2 down")
				}
				d.restart(2)
				restartAt = d.w.Now()
			})
			if lerr != kv.OK || leaveAt.Sub(restartAt) > 2*sim.Second {
				sc.Failf("leave: %s, %v after gid 2's restart", lerr, leaveAt.Sub(restartAt))
			}
			d.checkGets(sc)
		}})

	register(spec{name: "recover-ctrler", groups: 3, ctls: 3, clients: 2, duration: 25 * sim.Second,
		desc: "RecoverCtrler5B: partitionCtrler twice (the lab: 5 times): a controller joining and leaving in the background is cut off while gid 1 is down; a new one finishes its change; all keys correct",
		body: func(d *sys, sc *script.S) {
			d.spreadPuts(sc, nkeys, 20)
			for i := 0; i < 2; i++ {
				d.partitionCtrler(sc, 1+i, shard.GID(2+i), false)
			}
			d.checkGets(sc)
		}})

	for _, unrel := range []bool{false, true} {
		name, lab := "concurrent-ctrlers-reliable", "ConcurrentReliable5C"
		if unrel {
			name, lab = "concurrent-ctrlers-unreliable", "AcquireLockConcurrentUnreliable5C"
		}
		register(spec{name: name, groups: 5, ctls: 4, clients: 2, unrel: unrel, duration: 25 * sim.Second,
			desc: lab + ": 4 controllers for 2 s, each repeatedly a new controller, InitController, join its gid, leave it if a member; all keys correct",
			body: func(d *sys, sc *script.S) {
				d.spreadPuts(sc, nkeys, 20)
				t0 := d.w.Now()
				var bodies []func(*script.S)
				for i := 0; i < 4; i++ {
					i := i
					gid := shard.GID(2 + i)
					bodies = append(bodies, func(s *script.S) {
						for d.w.Now().Sub(t0) < 2*sim.Second {
							ctl := d.ctrl(i)
							if err := d.call(s, "InitController", true, func(cb func(kv.Err)) { ctl.InitController(cb) }); err != kv.OK {
								continue
							}
							d.join(s, ctl, gid)
							for d.query(s, ctl).IsMember(gid) {
								d.leave(s, ctl, gid)
							}
						}
					})
				}
				sc.Par(bodies...)
				d.checkGets(sc)
			}})
	}

	register(spec{name: "partition-ctrler-join", groups: 2, ctls: 2, clients: 2, duration: 20 * sim.Second,
		desc: "PartitionControllerJoin5C: a controller joins gid 2 while it is down and is cut off; gid 2 restarts; a new controller's InitController makes gid 2 a member; the old one, reconnected, returns without harm",
		body: func(d *sys, sc *script.S) {
			d.spreadPuts(sc, nkeys, 20)
			sck := d.ctrl(1)
			d.shutdown(2)
			cur := d.query(sc, sck)
			next, _ := cur.Join(map[shard.GID][]sim.NodeID{2: d.byGID[2].ids})
			returned := false
			done := d.calls.Start("join 2 (partitioned controller)", int64(d.w.Now()))
			d.moving++
			sck.ChangeConfigTo(next, func(kv.Err) { d.moving--; done(); returned = true })
			sc.Sleep(sim.Second)
			node := d.ctls[1].id
			var all []sim.NodeID
			for id := 0; id < d.w.NumNodes(); id++ {
				all = append(all, sim.NodeID(id))
			}
			d.w.Isolate(node, all)
			sc.Sleep(sim.Second)
			d.restart(2)
			sck0 := d.ctrl(0)
			if err := d.call(sc, "InitController (sck0)", true, func(cb func(kv.Err)) { sck0.InitController(cb) }); err != kv.OK {
				sc.Failf("sck0.InitController: %s", err)
			}
			if !d.query(sc, sck0).IsMember(2) {
				sc.Failf("gid 2 not a member after InitController")
			}
			for _, id := range all {
				if id != node {
					d.w.Connect(node, id)
					d.w.Connect(id, node)
				}
			}
			sc.Label("old controller returns")
			if !sc.WaitFor(func() bool { return returned }, 10*sim.Millisecond, 5*sim.Second) {
				d.w.Fail(shardcheck.Liveness, "reconnected controller's ChangeConfigTo did not return within 5s")
				sc.End()
			}
			sc.Sleep(sim.Second)
			d.checkGets(sc)
		}})

	for _, c := range []struct {
		name    string
		unrel   bool
		clients int
	}{{"partition-recovery-reliable-noclerk", false, 0}, {"partition-recovery-unreliable-noclerk", true, 0},
		{"partition-recovery-reliable-clerks", false, 5}, {"partition-recovery-unreliable-clerks", true, 5}} {
		dur := 30 * sim.Second
		if c.unrel {
			dur = 60 * sim.Second
		}
		register(spec{name: c.name, groups: 3, ctls: 3, clients: c.clients, shared: c.clients > 0, unrel: c.unrel, duration: dur,
			desc: fmt.Sprintf("PartitionRecovery5C (%s): partitionCtrler twice with the old controller reconnected (its calls must return), %d clients on k0", c.name, c.clients),
			body: func(d *sys, sc *script.S) {
				if len(d.workers) == 0 {
					d.spreadPuts(sc, nkeys, 20)
				}
				for i := 0; i < 2; i++ {
					d.partitionCtrler(sc, 1+i, shard.GID(2+i), true)
				}
				if len(d.workers) == 0 {
					d.checkGets(sc)
				}
			}})
	}
}
