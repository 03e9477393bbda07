package kv

import (
	"fmt"
	"strconv"

	kvnode "github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// labLimit is the lab's limit on every test: it must finish within 120 s.
const labLimit = 120 * sim.Second

// generic is one GenericTest of the lab (LABS.md §2.5): its parameters.
type generic struct {
	name, desc   string
	clients      int
	servers      int
	unreliable   bool
	crash        bool
	partitions   bool
	maxRaftState int
	randomKeys   bool
	// keys spreads the clients over this many keys without random keys
	// (0: the lab's one key "k").
	keys int
}

// The lab's GenericTest constants.
const (
	iterations    = 3
	clientPhase   = sim.Second     // clients run the OnePut loop this long
	partitionRun  = 2 * sim.Second // ... and this much longer with partitions
	followerCrash = 600 * sim.Millisecond
)

func registerGeneric(t generic) {
	s := &scenarios.Scenario{
		Name: "kv/" + t.name, Description: t.desc,
		Params:   params(t.servers, t.clients, t.maxRaftState, nil),
		Duration: labLimit,
		Setup:    func(c *scenarios.Cluster) error { return setupGeneric(c, t) },
	}
	if t.unreliable {
		s.Faults = func(scenarios.Variant) sim.Faults { return sim.Faults{Network: sim.NetworkFaults{Base: unreliable}} }
	}
	register(s)
}

// genericRun is the state of one GenericTest run.
type genericRun struct {
	t    generic
	g    *group
	wl   *putLoop
	ck   *client // the tester's own clerk (CheckPutConcurrent, the final Get)
	part bool    // the random partitioner is on
	done bool
}

func setupGeneric(c *scenarios.Cluster, t generic) error {
	g, err := newGroup(c, c.Int(kServers), reliable)
	if err != nil {
		return err
	}
	if err := g.addClients(c.Int(kClients)); err != nil {
		return err
	}
	r := &genericRun{t: t, g: g}
	nkeys := 1
	switch {
	case t.randomKeys:
		nkeys = 100
	case t.keys > 1:
		nkeys = t.keys
	}
	r.wl = &putLoop{g: g, cls: g.clients, keys: keysFor(nkeys), random: t.randomKeys}
	r.ck = g.addClient(g.ids)
	g.scripted(&r.done)
	c.Check("kv.counts", func() error {
		c.Metric("nok", float64(r.wl.nok))
		c.Metric("nmaybe", float64(r.wl.nmaybe))
		return nil
	})
	c.W.At(sim.Time(sim.Millisecond), func() { r.iteration(0) })
	return nil
}

// iteration runs GenericTest's iteration i: clients, then the checks, the
// heal and the restart, then the next iteration.
func (r *genericRun) iteration(i int) {
	g := r.g
	if i == iterations {
		// A last Get through the log, so that the last leader has applied
		// every acknowledged Put before the durability check.
		r.ck.ck.Get(r.wl.keys[0], func(string, uint64, kvnode.Err) {
			g.h.Done()
			r.done = true
		})
		return
	}
	g.w.Note("iteration %d: clients start", i)
	r.wl.run()
	run := clientPhase
	if r.t.partitions {
		run += partitionRun
		g.after(sim.Second, r.startPartitioner)
	}
	if r.t.crash {
		g.after(200*sim.Millisecond, r.crashFollower)
	}
	g.after(run, func() {
		r.wl.stop = true
		g.waitUntil("clients stop", 60*sim.Second, func() bool { return !r.wl.running() }, func() {
			r.checkPutConcurrent(func() { r.heal(func() { r.crashRestart(func() { r.iteration(i + 1) }) }) })
		})
	})
}

// crashFollower crashes a server that is not the leader for followerCrash
// while the clients run (dsim's addition: operations complete under a crash).
func (r *genericRun) crashFollower() {
	g := r.g
	l := g.leader()
	victim := (l + 1 + g.c.Workload.Intn(g.n-1)) % g.n
	if l < 0 {
		victim = g.c.Workload.Intn(g.n)
	}
	if g.n == 1 {
		return
	}
	id := g.ids[victim]
	g.crash(id)
	g.after(followerCrash, func() { g.w.Restart(id) })
}

// crash is the lab's ShutdownServer: Kill (pending ops return
// ErrWrongLeader), then crash.
func (g *group) crash(id sim.NodeID) {
	if s, _ := g.w.Node(id).(*kvnode.RaftServer); s != nil && g.w.Up(id) && s.RSM() != nil {
		s.RSM().Kill()
	}
	g.w.Crash(id)
}

// startPartitioner is the lab's random partitioner: every 1000+U[0,200) ms
// each server goes to side 0 or 1 with probability 1/2 (a side may be empty).
func (r *genericRun) startPartitioner() {
	g := r.g
	r.part = true
	var draw func()
	draw = func() {
		if !r.part || g.stopped() {
			return
		}
		var a, b []sim.NodeID
		for _, id := range g.ids {
			if g.c.Workload.Intn(2) == 0 {
				a = append(a, id)
			} else {
				b = append(b, id)
			}
		}
		g.w.Partition([][]sim.NodeID{a, b})
		g.w.After(sim.Second+g.c.Workload.Between(0, 200*sim.Millisecond), draw)
	}
	draw()
}

// checkPutConcurrent is the lab's CheckPutConcurrent on each shared key (not
// with random keys): a key's version equals its OK Puts on a reliable
// network without crashes or partitions, and is at most its OK + ErrMaybe
// Puts otherwise.
func (r *genericRun) checkPutConcurrent(then func()) {
	if r.t.randomKeys {
		then()
		return
	}
	g := r.g
	var check func(i int)
	check = func(i int) {
		if i == len(r.wl.keys) {
			then()
			return
		}
		key := r.wl.keys[i]
		r.ck.ck.Get(key, func(_ string, ver uint64, err kvnode.Err) {
			g.h.Done()
			nok, nmaybe := uint64(r.wl.okBy[key]), uint64(r.wl.maybeBy[key])
			exact := !r.t.unreliable && !r.t.crash && !r.t.partitions
			switch {
			case err != kvnode.OK:
				g.w.Fail(CheckPutConcurrent, "get(%s) = %s", key, err)
			case exact && ver != nok:
				g.w.Fail(CheckPutConcurrent, "version of %s is %d, want its %d OK puts exactly (%d ErrMaybe) on a reliable network", key, ver, nok, nmaybe)
			case ver > nok+nmaybe:
				g.w.Fail(CheckPutConcurrent, "version of %s is %d > %d OK + %d ErrMaybe puts", key, ver, nok, nmaybe)
			default:
				check(i + 1)
			}
		})
	}
	check(0)
}

// heal stops the partitioner, reconnects everything and sleeps 1 s.
func (r *genericRun) heal(then func()) {
	if !r.t.partitions {
		then()
		return
	}
	r.part = false
	r.g.w.Heal()
	r.g.after(sim.Second, then)
}

// crashRestart shuts every server down, sleeps 1 s and restarts them, then
// checks the Raft state bound (also without crashes).
func (r *genericRun) crashRestart(then func()) {
	g := r.g
	if !r.t.crash {
		if g.checkState("after the iteration") {
			then()
		}
		return
	}
	g.crashAll()
	g.after(sim.Second, func() {
		g.restartAll()
		if g.checkState("right after restarting every server") {
			then()
		}
	})
}

// ---- GenericTestSpeed ----

// speedOps is the speed tests' number of sequential Puts; speedBound their
// time bound: 1000 x (100 ms / 3).
const (
	speedOps   = 1000
	speedBound = speedOps * 100 * sim.Millisecond / 3
)

func setupSpeed(c *scenarios.Cluster) error {
	g, err := newGroup(c, c.Int(kServers), reliable)
	if err != nil {
		return err
	}
	cl := g.addClient(g.ids)
	done := false
	g.scripted(&done)
	c.W.At(sim.Time(sim.Millisecond), func() {
		cl.ck.Get("x", func(string, uint64, kvnode.Err) {
			g.h.Done()
			start := g.w.Now()
			var put func(i int)
			put = func(i int) {
				if i == speedOps {
					took := g.w.Now().Sub(start)
					c.Metric("speed_ns_per_op", float64(took)/speedOps)
					if took > speedBound {
						g.w.Fail(CheckSpeed, "%d Puts took %v > %v", speedOps, took, speedBound)
						return
					}
					g.checkGet(cl, "x", "x", speedOps, func() {
						if g.checkState("after the speed test") {
							done = true
						}
					})
					return
				}
				cl.ck.Put("x", "x", uint64(i), func(err kvnode.Err) {
					g.h.Done()
					if err != kvnode.OK {
						g.w.Fail(CheckSpeed, "put %d = %s, want OK", i, err)
						return
					}
					put(i + 1)
				})
			}
			put(0)
		})
	})
	return nil
}

// ---- OnePartition4B ----

// setupOnePartition: the leader goes into a 2-server minority with two
// clerks that may only reach it; their Put and Get must not finish within
// 1 s while the majority's clerk makes progress, and the Put must finish
// within 3 s after the heal.
func setupOnePartition(c *scenarios.Cluster) error {
	g, err := newGroup(c, c.Int(kServers), reliable)
	if err != nil {
		return err
	}
	if g.n < 3 {
		return fmt.Errorf("kv/one-partition needs at least 3 servers")
	}
	ck := g.addClient(g.ids)
	ckp1 := g.addClient(g.ids) // limited to the majority once it is known
	ckp2a, ckp2b := g.addClient(g.ids), g.addClient(g.ids)
	done := false
	g.scripted(&done)
	var p1, p2 []sim.NodeID
	var ver1 uint64
	putDone, getDone := false, false
	var putVer uint64

	final := func() {
		g.w.Heal()
		g.after(sim.Second, func() {
			g.waitUntil("the minority's Put after the heal", 3*sim.Second, func() bool { return putDone }, func() {
				g.checkGet(ck, "1", "15", putVer+1, func() { done = true })
			})
		})
	}
	minority := func() {
		// Two clerks that reach only the minority: cut their links to p1.
		for _, cl := range []*client{ckp2a, ckp2b} {
			for _, s := range p1 {
				g.w.Cut(cl.id, s)
				g.w.Cut(s, cl.id)
			}
		}
		g.putAtLeastOnce(ckp2a, "1", "15", ver1+1, func(v uint64) { putDone, putVer = true, v })
		ckp2b.ck.Get("1", func(string, uint64, kvnode.Err) { g.h.Done(); getDone = true })
		g.after(sim.Second, func() {
			if putDone || getDone {
				g.w.Fail(CheckMinority, "in the minority: put finished %v, get finished %v within 1s", putDone, getDone)
				return
			}
			g.checkGet(ckp1, "1", "14", ver1+1, func() {
				g.putAtLeastOnce(ckp1, "1", "16", ver1+1, func(ver2 uint64) {
					g.checkGet(ckp1, "1", "16", ver2+1, final)
				})
			})
		})
	}
	c.W.At(sim.Time(sim.Millisecond), func() {
		g.putAtLeastOnce(ck, "1", "13", 0, func(ver0 uint64) {
			g.waitUntil("a leader", 5*sim.Second, func() bool { return g.leader() >= 0 }, func() {
				l := g.leader()
				p2 = []sim.NodeID{g.ids[l]}
				for i := 1; i <= g.n/2; i++ {
					if len(p2) < g.n/2 {
						p2 = append(p2, g.ids[(l+i)%g.n])
					}
				}
				for _, id := range g.ids {
					if !contains(p2, id) {
						p1 = append(p1, id)
					}
				}
				g.w.Partition([][]sim.NodeID{p1, p2})
				ckp1.ck = kvnode.NewClerk(ckp1.env, p1, g.ckCfg)
				g.putAtLeastOnce(ckp1, "1", "14", ver0+1, func(v uint64) {
					ver1 = v
					g.checkGet(ckp1, "1", "14", ver1+1, minority)
				})
			})
		})
	})
	return nil
}

func contains(ids []sim.NodeID, id sim.NodeID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// ---- SnapshotRPC4C ----

// setupSnapshotRPC: a clerk limited to {0,1} writes 50 keys while server 2
// is cut off, so that server 2 must catch up through InstallSnapshot once
// {0,2} is the majority.
func setupSnapshotRPC(c *scenarios.Cluster) error {
	g, err := newGroup(c, 3, reliable)
	if err != nil {
		return err
	}
	ck := g.addClient(g.ids)
	ck01 := g.addClient([]sim.NodeID{g.ids[0], g.ids[1]})
	ck02 := g.addClient([]sim.NodeID{g.ids[0], g.ids[2]})
	done := false
	g.scripted(&done)
	ids := g.ids
	var puts func(i int, then func())
	puts = func(i int, then func()) {
		if i == 50 {
			then()
			return
		}
		g.putAtLeastOnce(ck01, strconv.Itoa(i), strconv.Itoa(i), 0, func(uint64) { puts(i+1, then) })
	}
	c.W.At(sim.Time(sim.Millisecond), func() {
		g.putAtLeastOnce(ck, "a", "A", 0, func(uint64) {
			g.w.Partition([][]sim.NodeID{{ids[0], ids[1]}, {ids[2]}})
			puts(0, func() {
				g.after(sim.Second, func() {
					g.putAtLeastOnce(ck01, "b", "B", 0, func(uint64) {
						if !g.checkState("after 50 puts") {
							return
						}
						g.w.Partition([][]sim.NodeID{{ids[0], ids[2]}, {ids[1]}})
						g.putAtLeastOnce(ck02, "c", "C", 0, func(uint64) {
							g.putAtLeastOnce(ck02, "d", "D", 0, func(uint64) {
								g.checkGet(ck02, "a", "A", 1, func() {
									g.checkGet(ck02, "b", "B", 1, func() {
										g.checkGet(ck02, "1", "1", 1, func() {
											g.checkGet(ck02, "49", "49", 1, func() {
												g.w.Heal()
												g.putAtLeastOnce(ck, "e", "E", 0, func(uint64) {
													g.checkGet(ck, "c", "C", 1, func() {
														g.checkGet(ck, "e", "E", 1, func() {
															g.checkGet(ck, "1", "1", 1, func() { done = g.checkState("at the end") })
														})
													})
												})
											})
										})
									})
								})
							})
						})
					})
				})
			})
		})
	})
	return nil
}

// ---- SnapshotSize4C ----

// snapshotBound is SnapshotSize4C's bound on a snapshot of one key.
const snapshotBound = 500

// setupSnapshotSize: 200 x (Put x "0", Get, Put x "1", Get); then Raft's
// state is at most 8 x maxraftstate and the snapshot at most 500 B.
func setupSnapshotSize(c *scenarios.Cluster) error {
	g, err := newGroup(c, 3, reliable)
	if err != nil {
		return err
	}
	ck := g.addClient(g.ids)
	done := false
	g.scripted(&done)
	var round func(i int, ver uint64)
	round = func(i int, ver uint64) {
		if i == 200 {
			if !g.checkState("after 200 rounds") {
				return
			}
			if g.maxSnap > snapshotBound {
				g.w.Fail(CheckStateSize, "a snapshot of one key is %d B > %d B", g.maxSnap, snapshotBound)
				return
			}
			done = true
			return
		}
		val := []string{"0", "1"}
		put := func(j int, next func()) {
			g.putAtLeastOnce(ck, "x", val[j], ver+uint64(j), func(uint64) {
				g.checkGet(ck, "x", val[j], ver+uint64(j)+1, next)
			})
		}
		put(0, func() { put(1, func() { round(i+1, ver+2) }) })
	}
	c.W.At(sim.Time(sim.Millisecond), func() { round(0, 0) })
	return nil
}

func init() {
	for _, t := range []generic{
		{name: "basic", clients: 1, servers: 5, maxRaftState: -1, desc: "lab Basic4B: one client's OnePut loop, 3 iterations"},
		{name: "concurrent", clients: 5, servers: 5, maxRaftState: -1, desc: "lab Concurrent4B: 5 clients on one key; final version == OK puts"},
		{name: "unreliable", clients: 5, servers: 5, unreliable: true, maxRaftState: -1, desc: "lab Unreliable4B: 5 clients, 10% loss and reordering"},
		{name: "many-partitions-one-client", clients: 1, servers: 5, partitions: true, maxRaftState: -1,
			desc: "lab ManyPartitionsOneClient4B: the random partitioner while one client works"},
		{name: "many-partitions-many-clients", clients: 5, servers: 5, partitions: true, maxRaftState: -1,
			desc: "lab ManyPartitionsManyClients4B: the random partitioner while 5 clients work"},
		{name: "persist-one-client", clients: 1, servers: 5, crash: true, maxRaftState: -1,
			desc: "lab PersistOneClient4B: every server crashes and restarts between iterations"},
		{name: "persist-concurrent", clients: 5, servers: 5, crash: true, maxRaftState: -1,
			desc: "lab PersistConcurrent4B: 5 clients, crash and restart of every server"},
		{name: "persist-concurrent-unreliable", clients: 5, servers: 5, unreliable: true, crash: true, maxRaftState: -1,
			desc: "lab PersistConcurrentUnreliable4B: crashes on a lossy network"},
		{name: "persist-partition", clients: 5, servers: 5, crash: true, partitions: true, maxRaftState: -1,
			desc: "lab PersistPartition4B: crashes and the random partitioner"},
		{name: "persist-partition-unreliable", clients: 5, servers: 5, unreliable: true, crash: true, partitions: true, maxRaftState: -1,
			desc: "lab PersistPartitionUnreliable4B: crashes, partitions, lossy network"},
		{name: "persist-partition-unreliable-linearizable", clients: 15, servers: 7, unreliable: true, crash: true, partitions: true,
			maxRaftState: -1, randomKeys: true,
			desc: "lab PersistPartitionUnreliableLinearizable4B: 15 clients on 100 random keys, 7 servers, crashes, partitions, loss"},
		{name: "snapshot-recover", clients: 1, servers: 5, crash: true, maxRaftState: 1000,
			desc: "lab SnapshotRecover4C: maxraftstate 1000, crash and restart of every server"},
		{name: "snapshot-recover-many-clients", clients: 20, servers: 5, crash: true, maxRaftState: 1000, keys: 4,
			desc: "lab SnapshotRecoverManyClients4C: 20 clients (5 per key on 4 keys), snapshots, crashes"},
		{name: "snapshot-unreliable", clients: 5, servers: 5, unreliable: true, maxRaftState: 1000,
			desc: "lab SnapshotUnreliable4C: snapshots on a lossy network"},
		{name: "snapshot-unreliable-recover", clients: 5, servers: 5, unreliable: true, crash: true, maxRaftState: 1000,
			desc: "lab SnapshotUnreliableRecover4C: snapshots, crashes, lossy network"},
		{name: "snapshot-unreliable-recover-partition", clients: 5, servers: 5, unreliable: true, crash: true, partitions: true,
			maxRaftState: 1000, desc: "lab SnapshotUnreliableRecoverConcurrentPartition4C: snapshots, crashes, partitions, loss"},
		{name: "snapshot-unreliable-recover-partition-linearizable", clients: 15, servers: 7, unreliable: true, crash: true,
			partitions: true, maxRaftState: 1000, randomKeys: true,
			desc: "lab SnapshotUnreliableRecoverConcurrentPartitionLinearizable4C: 15 clients, 100 random keys, 7 servers, everything"},
	} {
		registerGeneric(t)
	}

	register(&scenarios.Scenario{Name: "kv/speed", Params: params(3, -1, -1, nil), Duration: labLimit,
		Description: "lab Speed4B: 1000 sequential Puts by one clerk within 33.3 s", Setup: setupSpeed})
	register(&scenarios.Scenario{Name: "kv/speed-snapshot", Params: params(3, -1, 1000, nil), Duration: labLimit,
		Description: "lab Speed4C: 1000 sequential Puts within 33.3 s with maxraftstate 1000", Setup: setupSpeed})
	register(&scenarios.Scenario{Name: "kv/one-partition", Params: params(5, -1, -1, nil), Duration: labLimit,
		Faults:      func(scenarios.Variant) sim.Faults { return sim.Faults{Network: sim.NetworkFaults{Base: unreliable}} },
		Description: "lab OnePartition4B: no progress in a minority holding the old leader; completion after the heal", Setup: setupOnePartition})
	register(&scenarios.Scenario{Name: "kv/snapshot-rpc", Params: params(0, -1, 1000, nil), Duration: labLimit,
		Description: "lab SnapshotRPC4C: a server cut off during 50 puts catches up through InstallSnapshot", Setup: setupSnapshotRPC})
	register(&scenarios.Scenario{Name: "kv/snapshot-size", Params: params(0, -1, 1000, nil), Duration: labLimit,
		Description: "lab SnapshotSize4C: 200 rounds on one key; Raft state <= 8000 B, snapshot <= 500 B", Setup: setupSnapshotSize})
}
