// Package shardkv registers the sharded key/value scenarios (shardkv/...):
// a counterpart of every test of the MIT 6.5840 lab 5 (LABS.md §2.6),
// shapes no lab has (a leased controller paused past its lease with
// drifting clocks, partial partitions, a group crash in the middle of a
// migration, disk loss, a swarm of changes and faults), the adversarial
// shapes of the two unsafe variants, and those variants themselves.
//
// A deployment is the controller's kvsrv server (nodes/kv.Server, which
// never crashes, as in the lab), replica groups of raft.servers
// nodes/shard.Server each (gid 1 first, joiners 2, 3, ...), controller
// nodes hosting nodes/shard.Ctrl values (a "new controller" is a new Ctrl
// on one of them), a tester node with its clerks, and worker clients that
// run the lab's OnePut loop over their own keys through every fault and
// migration. The fault targets are the group servers.
//
// Every scenario checks: per-key linearizability of the clerks' history
// with porcupine (the controllers' kvsrv operations left out; the picture
// of a violation is attached), single ownership online
// (checkers/shardcheck.Ownership watching every server's shard status),
// durability of acknowledged Puts in the final owners' stores,
// deleted-means-deleted against the final configuration, Raft's invariants
// per group (checkers/raftcheck), and liveness: after the fault phase a
// fresh controller runs InitController, every controller call made during
// the run returns, every shard is served by the group the final
// configuration names, and every key the run wrote can be read. Each run
// reports ops_during_migration (client operations that completed while a
// configuration change was in progress) and work_under_faults.
//
// Where dsim differs from the lab tester: lab scripts are shortened in
// virtual time (clients run seconds, not 20-60 s; partition recovery runs
// 2 rounds, not 3-5) so that a 100-seed campaign of every scenario fits in
// minutes; checkShutdownSharding waits 1 s without a completion, not 2 s;
// clerks time an attempt out after shardkv.timeout_ms; a configuration
// with no groups is refused by the controller (nodes/shard), so the last
// group never leaves.
//
// It may import sim, scenarios, scenarios/script, scenarios/kvsrv and
// scenarios/raft (their exported helpers), checkers and nodes/....
package shardkv

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smilingraft/dsim/checkers/kvcheck"
	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/checkers/shardcheck"
	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/nodes/rsm"
	"github.com/smilingraft/dsim/nodes/shard"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/scenarios/kvsrv"
	raftscen "github.com/smilingraft/dsim/scenarios/raft"
	"github.com/smilingraft/dsim/scenarios/script"
	"github.com/smilingraft/dsim/sim"
)

// Variant keys of shardkv scenarios (besides raft.*).
const (
	kServers       = "raft.servers"
	kShards        = "shardkv.shards"
	kClients       = "shardkv.clients"
	kTimeout       = "shardkv.timeout_ms"
	kMaxRaftState  = "shardkv.maxraftstate"
	kLease         = "shardkv.lease_ms"
	kUnsafeStale   = "shardkv.unsafe_accept_stale"
	kUnsafeNoFence = "shardkv.unsafe_no_fencing"
	kUnsafeFrozen  = "shardkv.unsafe_serve_frozen"
)

// Checker names of failures the scenarios report themselves (besides
// shardcheck's, kvsrv.Linearizability and raftcheck's).
const (
	// CheckScript: a scripted step saw an answer the lab forbids, or the
	// script did not finish within the scenario's time.
	CheckScript = "script"
	// CheckSize: the delete test's bound on the groups' snapshots.
	CheckSize = "shardkv.snapshot-size"
)

// params returns a scenario's variant keys; over replaces defaults.
func params(clients int, over map[string]string) []scenarios.Param {
	ps := raftscen.Params(3, nil)
	ps = append(ps,
		scenarios.Param{Key: kShards, Default: "12", Doc: "number of shards", Range: scenarios.Span(1, 64)},
		scenarios.Param{Key: kClients, Default: strconv.Itoa(clients), Doc: "worker clients running the OnePut loop during the script",
			Range: scenarios.Span(0, 32)},
		scenarios.Param{Key: kTimeout, Default: "100", Doc: "clerk and controller per-attempt timeout, ms", Range: scenarios.Span(1, 60_000)},
		scenarios.Param{Key: kMaxRaftState, Default: "-1", Doc: "group snapshot threshold, bytes of Raft state; -1 never",
			Range: scenarios.Span(-1, 1<<30)},
		scenarios.Param{Key: kLease, Default: "0", Doc: "controller lease, ms (0: no lease)", Range: scenarios.Span(0, 60_000)},
		scenarios.Param{Key: kUnsafeStale, Default: "false",
			Doc: "UNSAFE: groups apply Freeze/Install/Delete older than the shard's fence (configuration steps out of order)"},
		scenarios.Param{Key: kUnsafeFrozen, Default: "false",
			Doc: "UNSAFE: groups keep serving a frozen shard (writes after the freeze are lost; two groups accept writes)"},
		scenarios.Param{Key: kUnsafeNoFence, Default: "false",
			Doc: "UNSAFE: controllers send no fencing token and, leased, act on after their lease ran out"},
	)
	for i := range ps {
		if v, ok := over[ps[i].Key]; ok {
			ps[i].Default = v
		}
	}
	return ps
}

// Networks of the lab tester.
var (
	reliable   = sim.NetOptions{DelayMin: 100 * sim.Microsecond, DelayMax: 2 * sim.Millisecond}
	unreliable = sim.NetOptions{DelayMax: 27 * sim.Millisecond, Loss: sim.R(1, 10), Reorder: sim.R(1, 2)}
)

// grp is one instance of a replica group (a gid reused by a fresh group
// with wiped disks is a new instance with a new name).
type grp struct {
	gid  shard.GID
	name string
	gen  int
	ids  []sim.NodeID
	chk  *raftcheck.Checker
}

// host is a non-server node: its env (replaced on restart).
type host struct {
	name string
	id   sim.NodeID
	env  *sim.Env
}

// sys is one run's deployment and its checkers.
type sys struct {
	c       *scenarios.Cluster
	w       *sim.World
	h       *kvsrv.Harness
	nshards int
	size    int // servers per group
	kvsrv   sim.NodeID
	groups  []*grp
	byGID   map[shard.GID]*grp
	own     *shardcheck.Ownership
	calls   shardcheck.Calls
	ctlCfg  shard.CtrlConfig
	ckCfg   shard.ClerkConfig
	opts    shard.GroupOptions
	maxRaft int

	ctls    []*host
	tester  *host
	tck     *shard.Clerk
	workers []*worker

	moving, migOps int
	// want is the tester's expected state of its keys (SpreadPuts and
	// later Puts): checkGets compares with it.
	keys []string
	want map[string]kvcheck.State

	stopWorkers bool
	sc          *script.S
	finisher    bool // the liveness phase's InitController returned
	finalReads  int  // keys read back in the liveness phase
	finalWant   int
	// decoded caches stored's decodings of KeyCur and of KeyNext: the
	// progress conditions read them every 10 ms of the liveness
	// phase.
	decoded [2]storedConfig
	// hist is the checks' converted history (see sys.history).
	hist struct {
		ops    []kvcheck.Op
		events uint64
		n      int
		ok     bool
	}
}

// observer forwards one server's shard status changes to the ownership
// checker under its group instance's name.
type observer struct {
	d *sys
	g *grp
}

// ShardChanged implements shard.ShardObserver.
func (o observer) ShardChanged(_ shard.GID, _ int, index uint64, s int, st shard.Status, accepts bool) {
	o.d.own.Report(o.g.name, index, s, st != shard.Absent, accepts)
}

// newSys builds the kvsrv server, gids 1..ngroups (each raft.servers
// servers, all of them fault targets), nctl controller nodes, the tester
// node, and registers every checker. net is the network of the fault phase.
func newSys(c *scenarios.Cluster, ngroups, nctl int, net sim.NetOptions) (*sys, error) {
	d := &sys{c: c, w: c.W, h: kvsrv.NewHarness(c), nshards: c.Int(kShards), size: c.Int(kServers),
		byGID: map[shard.GID]*grp{}, want: map[string]kvcheck.State{}, maxRaft: c.Int(kMaxRaftState)}
	d.own = shardcheck.NewOwnership(c.W.Fail, func() int64 { return int64(c.W.Now()) })
	d.opts = shard.GroupOptions{UnsafeAcceptStale: c.Bool(kUnsafeStale), UnsafeServeFrozen: c.Bool(kUnsafeFrozen)}
	to := sim.Duration(c.Int(kTimeout)) * sim.Millisecond
	c.W.SetNet(net)
	d.kvsrv = c.W.AddNode("kvsrv", func() sim.Node { return kv.NewServer() })
	d.ctlCfg = shard.CtrlConfig{KVServer: d.kvsrv, NShards: d.nshards, Timeout: to,
		Lease: sim.Duration(c.Int(kLease)) * sim.Millisecond, UnsafeNoFencing: c.Bool(kUnsafeNoFence)}
	d.ckCfg = shard.ClerkConfig{KVServer: d.kvsrv, NShards: d.nshards, Timeout: to}
	var targets []sim.NodeID
	for gid := 1; gid <= ngroups; gid++ {
		g := d.addGroup(shard.GID(gid))
		targets = append(targets, g.ids...)
	}
	if f := c.W.Failure(); f != nil {
		return nil, fmt.Errorf("%s", f.Message)
	}
	c.Servers(targets...)
	for i := 0; i < nctl; i++ {
		d.ctls = append(d.ctls, d.addHost(fmt.Sprintf("ctl%d", i)))
	}
	d.tester = d.addHost("tester")
	d.register()
	return d, nil
}

// addHost adds a non-server node.
func (d *sys) addHost(name string) *host {
	h := &host{name: name}
	h.id = kvsrv.AddClient(d.c, name, func(env *sim.Env) { h.env = env })
	return h
}

// addGroup adds gid's servers.
func (d *sys) addGroup(gid shard.GID) *grp {
	g := &grp{gid: gid, name: fmt.Sprintf("g%d", gid), chk: raftcheck.New(d.w.Fail)}
	first := sim.NodeID(d.w.NumNodes())
	for i := 0; i < d.size; i++ {
		g.ids = append(g.ids, first+sim.NodeID(i))
	}
	for i := 0; i < d.size; i++ {
		i := i
		d.w.AddNode(fmt.Sprintf("g%d-%d", gid, i), func() sim.Node {
			g.chk.Restarted(i)
			return shard.NewServer(shard.GroupConfig{GID: gid, NShards: d.nshards, Options: d.opts,
				Observer: observer{d, g},
				RSM:      rsm.Config{MaxRaftState: d.maxRaft, Raft: raftscen.Config(d.c, i, g.ids, g.chk)}})
		})
	}
	d.groups = append(d.groups, g)
	d.byGID[gid] = g
	return g
}

// server returns group g's server i if it runs.
func (d *sys) server(g *grp, i int) *shard.Server {
	if !d.w.Up(g.ids[i]) {
		return nil
	}
	s, _ := d.w.Node(g.ids[i]).(*shard.Server)
	if s == nil || s.RSM() == nil {
		return nil
	}
	return s
}

// best returns g's running server that applied the most (nil if none).
func (d *sys) best(g *grp) *shard.Server {
	var b *shard.Server
	for i := range g.ids {
		s := d.server(g, i)
		if s == nil || s.RSM().Raft().Corrupt() {
			continue
		}
		if b == nil || s.RSM().Applied() > b.RSM().Applied() {
			b = s
		}
	}
	return b
}

// stored returns the configuration in the kvsrv server under key (shared
// with later calls that find the same bytes: callers only read it).
func (d *sys) stored(key string) (shard.Config, bool) {
	s, ok := d.w.Node(d.kvsrv).(*kv.Server)
	if !ok {
		return shard.Config{}, false
	}
	r := s.Store().Get(key)
	if r.Err != kv.OK {
		return shard.Config{}, false
	}
	c := &d.decoded[0]
	if key != shard.KeyCur {
		c = &d.decoded[1]
	}
	if !c.ok || c.raw != r.Value {
		cfg, err := shard.DecodeConfig([]byte(r.Value))
		*c = storedConfig{raw: r.Value, cfg: cfg, ok: true, valid: err == nil}
	}
	return c.cfg, c.valid
}

// storedConfig is the last decoding of one stored configuration key.
type storedConfig struct {
	raw       string
	cfg       shard.Config
	ok, valid bool
}

// owners names, per shard, the group instance the configuration gives it.
func (d *sys) owners(cfg shard.Config) []string {
	out := make([]string, len(cfg.Shards))
	for s, gid := range cfg.Shards {
		if g := d.byGID[gid]; g != nil {
			out[s] = g.name
		} else {
			out[s] = fmt.Sprintf("gid%d", gid)
		}
	}
	return out
}

// final is the state the durability checker reads: for every shard, the
// store of its final owner's most advanced server.
func (d *sys) final() map[string]kvcheck.State {
	out := map[string]kvcheck.State{}
	cfg, ok := d.stored(shard.KeyCur)
	if !ok {
		return out
	}
	for s, gid := range cfg.Shards {
		g := d.byGID[gid]
		if g == nil {
			continue
		}
		b := d.best(g)
		if b == nil {
			continue
		}
		for k, e := range b.SM().Entries(s) {
			out[k] = kvcheck.State{Value: e.Value, Version: e.Version}
		}
	}
	return out
}

// history is the clerks' operations in kvcheck's form (the controllers'
// and the clerks' configuration reads, tagged "shardctrl...", left out).
func history(w *sim.World) []kvcheck.Op {
	return kvsrv.HistoryWhere(w, func(in kv.OpInput) bool { return !strings.HasPrefix(in.Tag, "shardctrl") })
}

// history is history(d.w), converted once for the checks that run back to
// back at the end (kvcheck.Check and Durable only read it; a copy each
// would cost more than the conversion): the conversion made while the
// world's event count and history length were what they are now.
func (d *sys) history() []kvcheck.Op {
	ev, n := d.w.Events(), len(d.w.History())
	if !d.hist.ok || d.hist.events != ev || d.hist.n != n {
		d.hist.ops, d.hist.events, d.hist.n, d.hist.ok = history(d.w), ev, n, true
	}
	return d.hist.ops
}

// register adds the checkers, liveness conditions and metrics.
func (d *sys) register() {
	c := d.c
	c.Check(kvsrv.Linearizability, func() error {
		d.h.Sample()
		res := kvcheck.Check(d.history(), kvcheck.Options{Timeout: 20 * time.Second, Annotations: d.h.Annotations})
		c.Metric("porcupine_wall_ns", float64(res.Elapsed.Nanoseconds()))
		switch res.Outcome {
		case kvcheck.Illegal:
			c.Artifact(kvsrv.Picture, res.HTML)
		case kvcheck.Unknown:
			return &scenarios.Undecided{Reason: res.Err().Error()}
		}
		return kvsrv.Located(c.W, res)
	})
	c.Check(shardcheck.Durability, func() error { return shardcheck.Durable(d.history(), d.final()) })
	c.Check(shardcheck.Deleted, func() error {
		cfg, ok := d.stored(shard.KeyCur)
		if !ok {
			return nil
		}
		return d.own.DeletedCheck(d.owners(cfg))
	})
	c.Check(CheckScript, func() error {
		if d.sc != nil && !d.sc.Done() {
			return fmt.Errorf("the script did not finish within %v (at %q)", c.Scenario.Duration, d.sc.Stuck())
		}
		return nil
	})
	c.Cleanup(func() {
		c.Metric("ops_during_migration", float64(d.migOps))
		c.Metric("controller_calls", float64(d.calls.Returned))
		if cfg, ok := d.stored(shard.KeyCur); ok {
			c.Metric("final_config_num", float64(cfg.Num))
		}
	})
	c.Metric("ops_during_migration", 0)
	c.OnHeal(d.heal)
	c.Progress("controller calls return", func() error {
		if n := d.calls.Pending(); n > 0 {
			return d.calls.Overdue(int64(d.w.Now()), 0)
		}
		return nil
	})
	c.Progress("the script finishes", func() error {
		if d.sc != nil && !d.sc.Done() {
			return fmt.Errorf("script still at %q", d.sc.Stuck())
		}
		return nil
	})
	c.Progress("a fresh controller's InitController", func() error {
		if !d.finisher {
			return fmt.Errorf("InitController has not returned")
		}
		return nil
	})
	c.Progress("every shard served by its owner", func() error {
		cur, ok := d.stored(shard.KeyCur)
		if !ok {
			return fmt.Errorf("no configuration stored")
		}
		if nxt, ok := d.stored(shard.KeyNext); !ok || nxt.Num != cur.Num {
			return fmt.Errorf("change to %d still half-done (current %d)", nxt.Num, cur.Num)
		}
		return d.own.Served(d.owners(cur))
	})
	c.Progress("every key readable", func() error {
		if d.finalReads < d.finalWant || !d.finisher {
			return fmt.Errorf("%d of %d keys read back", d.finalReads, d.finalWant)
		}
		return nil
	})
}

// heal is the liveness phase's start: workers stop, every paused or
// crashed node is back (HealAll did that), a fresh controller finishes any
// half-done change, then the tester reads every key the run used.
func (d *sys) heal() {
	d.stopWorkers = true
	for _, h := range d.ctls {
		d.w.Resume(h.id)
		d.w.SetDrift(h.id, 0)
	}
	fin := d.addHost("finisher")
	ctl := shard.NewCtrl(fin.env, d.ctlCfg)
	done := d.calls.Start("InitController (liveness)", int64(d.w.Now()))
	d.moving++
	ctl.InitController(func(err kv.Err) {
		d.moving--
		done()
		// ErrStale: another controller (the script's, resuming after the
		// heal) finished the half-done change first; the progress
		// conditions check that the configuration settled.
		if err != kv.OK && err != kv.ErrNoKey && err != shard.ErrStale {
			d.w.Fail(shardcheck.Liveness, "InitController after the heal: %s", err)
			return
		}
		d.finisher = true
		keys := append([]string(nil), d.keys...)
		for _, wk := range d.workers {
			keys = append(keys, wk.keys...)
		}
		sort.Strings(keys)
		d.finalWant = len(keys)
		ck := shard.NewClerk(fin.env, d.ckCfg)
		var read func(i int)
		read = func(i int) {
			if i == len(keys) {
				return
			}
			ck.Get(keys[i], func(string, uint64, kv.Err) {
				d.finalReads++
				read(i + 1)
			})
		}
		read(0)
	})
}

// ---- controller calls (blocking, from the script) ----

// ctrl returns a new controller on controller node i (a "new controller"
// of the lab: its own id and call queue).
func (d *sys) ctrl(i int) *shard.Ctrl { return shard.NewCtrl(d.ctls[i].env, d.ctlCfg) }

// call runs one controller call and waits for it (no timeout: a call that
// never returns leaves the script stuck, which the liveness and script
// checks report).
func (d *sys) call(sc *script.S, what string, migrates bool, start func(cb func(kv.Err))) kv.Err {
	var err kv.Err
	done := d.calls.Start(what, int64(d.w.Now()))
	if migrates {
		d.moving++
	}
	sc.Await(func(fin func()) {
		start(func(e kv.Err) {
			if migrates {
				d.moving--
			}
			done()
			err = e
			fin()
		})
	}, 0)
	return err
}

// query returns ctl's current configuration.
func (d *sys) query(sc *script.S, ctl *shard.Ctrl) shard.Config {
	var cfg shard.Config
	var err kv.Err
	sc.Await(func(fin func()) { ctl.Query(func(c shard.Config, e kv.Err) { cfg, err = c, e; fin() }) }, 0)
	if err != kv.OK {
		sc.Failf("Query: %s", err)
	}
	return cfg
}

// initConfig stores the first configuration: every shard on gid 1.
func (d *sys) initConfig(sc *script.S, ctl *shard.Ctrl) {
	first, err := shard.Initial(d.nshards).Join(map[shard.GID][]sim.NodeID{1: d.byGID[1].ids})
	if err != nil {
		sc.Failf("initial config: %v", err)
	}
	if e := d.call(sc, "InitConfig", true, func(cb func(kv.Err)) { ctl.InitConfig(first, cb) }); e != kv.OK && !(e == shard.ErrStale && d.c.Healed()) {
		sc.Failf("InitConfig: %s", e)
	}
}

// change computes the next configuration from ctl's Query with f and runs
// ChangeConfigTo; it returns the outcome and the configuration tried.
func (d *sys) change(sc *script.S, ctl *shard.Ctrl, what string, f func(shard.Config) (shard.Config, error)) (kv.Err, shard.Config) {
	cur := d.query(sc, ctl)
	next, err := f(cur)
	if err != nil {
		return kv.ErrBadRequest, cur
	}
	return d.call(sc, what, true, func(cb func(kv.Err)) { ctl.ChangeConfigTo(next, cb) }), next
}

// join joins gid through ctl (the lab's Join: Query, Copy, JoinBalance,
// ChangeConfigTo).
func (d *sys) join(sc *script.S, ctl *shard.Ctrl, gid shard.GID) (kv.Err, shard.Config) {
	return d.change(sc, ctl, fmt.Sprintf("join %d", gid), func(c shard.Config) (shard.Config, error) {
		return c.Join(map[shard.GID][]sim.NodeID{gid: d.byGID[gid].ids})
	})
}

// leave makes gid leave through ctl.
func (d *sys) leave(sc *script.S, ctl *shard.Ctrl, gid shard.GID) (kv.Err, shard.Config) {
	return d.change(sc, ctl, fmt.Sprintf("leave %d", gid), func(c shard.Config) (shard.Config, error) { return c.Leave(gid) })
}

// joinGroups is the lab's joinGroups: for each gid, join (OK), IsMember,
// sleep 200 ms.
func (d *sys) joinGroups(sc *script.S, ctl *shard.Ctrl, gids ...shard.GID) {
	for _, gid := range gids {
		sc.Label("join %d", gid)
		if err, next := d.join(sc, ctl, gid); err != kv.OK || !next.IsMember(gid) {
			sc.Failf("join %d: %s", gid, err)
		}
		sc.Sleep(200 * sim.Millisecond)
	}
}

// leaveGroups is the lab's leaveGroups without ExitGroup: for each gid,
// leave (OK), not a member, sleep 200 ms.
func (d *sys) leaveGroups(sc *script.S, ctl *shard.Ctrl, gids ...shard.GID) {
	for _, gid := range gids {
		sc.Label("leave %d", gid)
		if err, next := d.leave(sc, ctl, gid); err != kv.OK || next.IsMember(gid) {
			sc.Failf("leave %d: %s", gid, err)
		}
		sc.Sleep(200 * sim.Millisecond)
	}
}

// ---- groups down and up ----

// shutdown crashes every server of gid (the lab's ShutdownGroup).
func (d *sys) shutdown(gid shard.GID) {
	g := d.byGID[gid]
	for i, id := range g.ids {
		if s := d.server(g, i); s != nil {
			s.RSM().Kill()
		}
		d.w.Crash(id)
	}
	d.w.Note("group %d shut down", gid)
}

// restart restarts every server of gid.
func (d *sys) restart(gid shard.GID) {
	for _, id := range d.byGID[gid].ids {
		if !d.w.Up(id) {
			d.w.Restart(id)
		}
	}
	d.w.Note("group %d restarted", gid)
}

// fresh replaces gid's servers by a fresh group with the same names (the
// lab's new group reusing a gid): disks wiped, a new instance name.
func (d *sys) fresh(gid shard.GID) {
	g := d.byGID[gid]
	d.own.Forget(g.name)
	g.gen++
	g.name = fmt.Sprintf("g%d#%d", gid, g.gen)
	g.chk = raftcheck.New(d.w.Fail)
	for _, id := range g.ids {
		d.w.Wipe(id)
	}
	for _, id := range g.ids {
		d.w.Restart(id)
	}
}

// ---- the tester's operations ----

// tclerk returns the tester's clerk (made on first use).
func (d *sys) tclerk() *shard.Clerk {
	if d.tck == nil {
		d.tck = shard.NewClerk(d.tester.env, d.ckCfg)
	}
	return d.tck
}

// get reads key through ck.
func (d *sys) get(sc *script.S, ck *shard.Clerk, key string) (string, uint64, kv.Err) {
	var v string
	var ver uint64
	var err kv.Err
	sc.Await(func(fin func()) {
		ck.Get(key, func(val string, vv uint64, e kv.Err) { v, ver, err = val, vv, e; d.done(); fin() })
	}, 0)
	return v, ver, err
}

// put writes key through ck.
func (d *sys) put(sc *script.S, ck *shard.Clerk, key, val string, ver uint64) kv.Err {
	var err kv.Err
	sc.Await(func(fin func()) { ck.Put(key, val, ver, func(e kv.Err) { err = e; d.done(); fin() }) }, 0)
	return err
}

// done counts one completed client operation.
func (d *sys) done() {
	d.h.Done()
	if d.moving > 0 {
		d.migOps++
	}
}

// randValue is n random letters from the workload stream.
func (d *sys) randValue(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + d.c.Workload.Intn(26))
	}
	return string(b)
}

// spreadPuts is the lab's SpreadPuts: keys k0..k(n-1), each put once at
// version 0 with a random value of size bytes (PutAtLeastOnce).
func (d *sys) spreadPuts(sc *script.S, n, size int) {
	sc.Label("spread puts")
	ck := d.tclerk()
	for i := 0; i < n; i++ {
		k := "k" + strconv.Itoa(i)
		v := d.randValue(size)
		ver := uint64(0)
		for {
			err := d.put(sc, ck, k, v, ver)
			if err == kv.OK {
				break
			}
			if err != kv.ErrVersion && err != kv.ErrMaybe {
				sc.Failf("put(%s) = %s", k, err)
			}
			if _, got, _ := d.get(sc, ck, k); got > ver {
				if cur, _, _ := d.get(sc, ck, k); cur == v {
					ver = got - 1
					break
				}
				ver = got
			}
		}
		d.keys = append(d.keys, k)
		d.want[k] = kvcheck.State{Value: v, Version: ver + 1}
	}
}

// checkGets is the lab's check of every key: value and version as written.
func (d *sys) checkGets(sc *script.S) {
	sc.Label("check gets")
	ck := d.tclerk()
	for _, k := range d.keys {
		v, ver, err := d.get(sc, ck, k)
		if w := d.want[k]; err != kv.OK || v != w.Value || ver != w.Version {
			sc.Failf("get(%s) = %q@v%d %s, want %q@v%d", k, short(v), ver, err, short(w.Value), w.Version)
		}
	}
}

func short(s string) string {
	if len(s) > 12 {
		return s[:9] + "..."
	}
	return s
}

// checkShutdownSharding is the lab's: shut gid down, start one Get per key
// from a fresh clerk each, collect completions until quiet passes without
// one; every completion must be right and some key must block (it lives
// on gid); then restart gid. The blocked Gets finish later.
func (d *sys) checkShutdownSharding(sc *script.S, gid shard.GID) {
	sc.Label("checkShutdownSharding(%d)", gid)
	d.shutdown(gid)
	n, bad := 0, ""
	for _, k := range d.keys {
		k := k
		ck := shard.NewClerk(d.tester.env, d.ckCfg)
		ck.Get(k, func(v string, ver uint64, err kv.Err) {
			d.done()
			n++
			if w := d.want[k]; (err != kv.OK || v != w.Value || ver != w.Version) && bad == "" {
				bad = fmt.Sprintf("get(%s) = %q@v%d %s, want %q@v%d", k, short(v), ver, err, short(w.Value), w.Version)
			}
		})
	}
	last := -1
	for last != n {
		last = n
		sc.Sleep(sim.Second)
	}
	if bad != "" {
		sc.Failf("%s", bad)
	}
	if n >= len(d.keys) {
		sc.Failf("all %d Gets finished with group %d down", n, gid)
	}
	d.restart(gid)
}

// ---- workers: the OnePut loop while the script runs ----

// worker is a client running the lab's OnePut loop over its keys.
type worker struct {
	d    *sys
	name string
	keys []string
	ck   *shard.Clerk
	ver  map[string]uint64
	n    int
	idle bool

	// The round in progress: its key and Put version, and the clerk's
	// callbacks, bound once (a closure per Put and Get allocated).
	key       string
	putVer    uint64
	val       []byte // scratch for the Put's value
	putDone   func(err kv.Err)
	getDone   func(value string, version uint64, err kv.Err)
	prefixLen int // len(name + "/") at the start of val
}

// addWorkers adds k workers; shared gives every worker the lab's one key
// "k0", else each has its own nkeys keys.
func (d *sys) addWorkers(k, nkeys int, shared bool) {
	for i := 0; i < k; i++ {
		wk := &worker{d: d, name: fmt.Sprintf("w%d", i), ver: map[string]uint64{}}
		wk.putDone, wk.getDone = wk.afterPut, wk.afterGet
		wk.val = append([]byte(wk.name), '/')
		wk.prefixLen = len(wk.val)
		if shared {
			wk.keys = []string{"k0"}
		} else {
			for j := 0; j < nkeys; j++ {
				wk.keys = append(wk.keys, fmt.Sprintf("%s.%d", wk.name, j))
			}
		}
		h := d.addHost(wk.name)
		d.workers = append(d.workers, wk)
		wk.idle = true
		_ = h
		// Start on the first event: the host's env exists by then.
		d.w.At(sim.Time(sim.Millisecond), func() {
			wk.ck = shard.NewClerk(h.env, d.ckCfg)
			wk.idle = false
			wk.round()
		})
	}
}

// round is one OnePut round: Put(key, me/ver, ver), then Get; OK or
// ErrMaybe end it, ErrVersion repeats it.
func (wk *worker) round() {
	d := wk.d
	if d.stopWorkers || d.w.Failure() != nil {
		wk.idle = true
		return
	}
	wk.key = wk.keys[d.c.Workload.Intn(len(wk.keys))]
	wk.putVer = wk.ver[wk.key]
	wk.val = strconv.AppendUint(wk.val[:wk.prefixLen], wk.putVer, 10)
	wk.ck.Put(wk.key, string(wk.val), wk.putVer, wk.putDone)
}

// afterPut is the round's Put answer: on to the Get.
func (wk *worker) afterPut(err kv.Err) {
	d := wk.d
	d.done()
	wk.n++
	if err != kv.OK && err != kv.ErrMaybe && err != kv.ErrVersion {
		d.w.Fail(CheckScript, "%s: put(%q, v%d) = %s", wk.name, wk.key, wk.putVer, err)
		return
	}
	wk.ck.Get(wk.key, wk.getDone)
}

// afterGet is the round's Get answer: the key's version, then the next
// round.
func (wk *worker) afterGet(_ string, v uint64, err kv.Err) {
	d := wk.d
	d.done()
	wk.n++
	if err != kv.OK && err != kv.ErrNoKey {
		d.w.Fail(CheckScript, "%s: get(%q) = %s", wk.name, wk.key, err)
		return
	}
	wk.ver[wk.key] = v
	wk.round()
}

// ---- registration ----

// spec is one scenario: its script runs on a deployment of groups gids
// (1..groups), nctl controller nodes and clients workers.
type spec struct {
	name, desc string
	groups     int
	ctls       int
	clients    int
	keys       int  // keys per worker (0: 4)
	shared     bool // workers share "k0"
	net        sim.NetOptions
	unrel      bool // the lab's unreliable network for the whole fault phase
	kinds      *sim.Kinds
	faults     func(scenarios.Variant) sim.Faults
	duration   sim.Duration
	over       map[string]string
	unsafe     bool
	expect     []string
	// body is the script; it starts after InitConfig unless noInit.
	body   func(d *sys, sc *script.S)
	noInit bool
}

func register(sp spec) {
	dur := sp.duration
	if dur == 0 {
		dur = 20 * sim.Second
	}
	s := &scenarios.Scenario{
		Name: "shardkv/" + sp.name, Description: sp.desc,
		Params: params(sp.clients, sp.over), Duration: dur, Liveness: 15 * sim.Second,
		Kinds: sp.kinds, Faults: sp.faults, Unsafe: sp.unsafe, Expect: sp.expect,
		Setup: func(c *scenarios.Cluster) error { return setup(c, sp) },
	}
	if sp.unrel {
		s.Faults = func(scenarios.Variant) sim.Faults { return sim.Faults{Network: sim.NetworkFaults{Base: unreliable}} }
	}
	scenarios.Register(s)
}

func setup(c *scenarios.Cluster, sp spec) error {
	net := sp.net
	if net == (sim.NetOptions{}) {
		net = reliable
	}
	ctls := sp.ctls
	if ctls == 0 {
		ctls = 1
	}
	d, err := newSys(c, sp.groups, ctls, net)
	if err != nil {
		return err
	}
	keys := sp.keys
	if keys == 0 {
		keys = 4
	}
	d.addWorkers(c.Int(kClients), keys, sp.shared)
	d.sc = script.Run(c, func(sc *script.S) {
		sc.Sleep(sim.Millisecond)
		if !sp.noInit {
			sc.Label("InitConfig")
			d.initConfig(sc, d.ctrl(0))
		}
		sp.body(d, sc)
		sc.Label("workers stop")
		d.stopWorkers = true
		sc.Label("")
	}, script.Keep())
	return nil
}
