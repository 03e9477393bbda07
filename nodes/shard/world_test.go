package shard

import (
	"fmt"
	"testing"

	"github.com/smilingraft/dsim/checkers/kvcheck"
	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/nodes/rsm"
	"github.com/smilingraft/dsim/sim"
)

// prog is a node that runs a program once started.
type prog struct{ start func(env *sim.Env) }

func (p *prog) Start(env *sim.Env)              { env.After(sim.Millisecond, func() { p.start(env) }) }
func (p *prog) Receive(sim.NodeID, sim.Message) {}

// rig is a small deployment: the kvsrv server and groups of 3 servers.
type rig struct {
	w      *sim.World
	kvsrv  sim.NodeID
	groups map[GID][]sim.NodeID
}

func newRig(seed uint64, net sim.NetOptions) *rig {
	w := sim.NewWorld(seed, sim.Options{Net: net})
	r := &rig{w: w, groups: map[GID][]sim.NodeID{}}
	r.kvsrv = w.AddNode("kvsrv", func() sim.Node { return kv.NewServer() })
	return r
}

// addGroup adds gid's three servers.
func (r *rig) addGroup(gid GID, maxRaftState int, opts GroupOptions) []sim.NodeID {
	base := sim.NodeID(r.w.NumNodes())
	ids := []sim.NodeID{base, base + 1, base + 2}
	for i := range ids {
		cfg := GroupConfig{GID: gid, Options: opts,
			RSM: rsm.Config{MaxRaftState: maxRaftState, Raft: raft.Config{Me: i, Peers: ids, ReadMode: raft.ReadLog}}}
		r.w.AddNode(fmt.Sprintf("g%d-%d", gid, i), func() sim.Node { return NewServer(cfg) })
	}
	r.groups[gid] = ids
	return ids
}

func (r *rig) server(id sim.NodeID) *Server { return r.w.Node(id).(*Server) }

// holders returns, per shard, the groups whose leader-agnostic majority
// (server 0's state) holds it serving.
func (r *rig) serving(gid GID) []int {
	var out []int
	sm := r.server(r.groups[gid][0]).SM()
	for s := 0; s < sm.NShards(); s++ {
		if st, _ := sm.Status(s); st == Serving {
			out = append(out, s)
		}
	}
	return out
}

// history converts the clerks' operations (not the controllers') for
// kvcheck.
func history(w *sim.World) []kvcheck.Op {
	clients := map[uint64]int{}
	var out []kvcheck.Op
	for _, o := range w.History() {
		in, ok := kv.InputOf(o.Input)
		if !ok || len(in.Tag) >= 9 && in.Tag[:9] == "shardctrl" {
			continue
		}
		c, seen := clients[in.Client]
		if !seen {
			c = len(clients)
			clients[in.Client] = c
		}
		op := kvcheck.Op{Client: c, Put: in.Kind == kv.KindPut, Key: in.Key, Value: in.Value, Version: in.Version,
			Call: int64(o.Call), Return: int64(o.Return), Pending: o.Pending()}
		if out, ok := kv.OutputOf(o.Output); ok {
			op.Err = string(out.Err)
			if !op.Put {
				op.Value, op.Version = out.Value, out.Version
			}
		}
		out = append(out, op)
	}
	return out
}

// worker runs a clerk that cycles over keys, Put at the version it last
// saw then Get, until stop() is true; it counts completed rounds and
// reports unexpected answers.
func worker(r *rig, keys []string, rounds *int, problems *[]string, stop func() bool) sim.Factory {
	return func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			ck := NewClerk(env, ClerkConfig{KVServer: r.kvsrv, Timeout: 50 * sim.Millisecond})
			ver := map[string]uint64{}
			var step func(i int)
			step = func(i int) {
				if stop() {
					return
				}
				k := keys[i%len(keys)]
				ck.Put(k, fmt.Sprintf("%s.%d", k, ver[k]), ver[k], func(err kv.Err) {
					if err != kv.OK && err != kv.ErrMaybe {
						*problems = append(*problems, fmt.Sprintf("put %s@%d: %s", k, ver[k], err))
					}
					ck.Get(k, func(v string, got uint64, err kv.Err) {
						if err != kv.OK || got != ver[k]+1 || v != fmt.Sprintf("%s.%d", k, ver[k]) {
							*problems = append(*problems, fmt.Sprintf("get %s after put @%d: %q@%d %s", k, ver[k], v, got, err))
						}
						ver[k] = got
						*rounds++
						step(i + 1)
					})
				})
			}
			step(0)
		}}
	}
}

// Joins and leaves under client load: every change returns OK, the groups
// hold exactly the shards the final configuration gives them (moved shards
// deleted), clients keep completing operations during the moves, and the
// history is linearizable.
func TestJoinLeaveUnderLoad(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := newRig(seed, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 3 * sim.Millisecond})
			for g := GID(1); g <= 3; g++ {
				r.addGroup(g, -1, GroupOptions{})
			}
			var results []kv.Err
			var final Config
			finished := false
			var moving bool
			r.w.AddNode("ctl", func() sim.Node {
				return &prog{start: func(env *sim.Env) {
					c := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv})
					cfg, _ := Initial(0).Join(map[GID][]sim.NodeID{1: r.groups[1]})
					steps := []func(Config) (Config, error){
						func(c Config) (Config, error) { return c.Join(map[GID][]sim.NodeID{2: r.groups[2]}) },
						func(c Config) (Config, error) { return c.Join(map[GID][]sim.NodeID{3: r.groups[3]}) },
						func(c Config) (Config, error) { return c.Leave(1) },
						func(c Config) (Config, error) { return c.Join(map[GID][]sim.NodeID{1: r.groups[1]}) },
					}
					var next func(i int, cur Config)
					next = func(i int, cur Config) {
						if i == len(steps) {
							final, finished = cur, true
							return
						}
						env.After(500*sim.Millisecond, func() {
							n, err := steps[i](cur)
							if err != nil {
								t.Error(err)
								return
							}
							moving = true
							c.ChangeConfigTo(n, func(err kv.Err) {
								moving = false
								results = append(results, err)
								next(i+1, n)
							})
						})
					}
					c.InitConfig(cfg, func(err kv.Err) {
						results = append(results, err)
						next(0, cfg)
					})
				}}
			})
			rounds, during := 0, 0
			var problems []string
			keys := make([][]string, 3)
			for i := 0; i < 36; i++ {
				keys[i%3] = append(keys[i%3], fmt.Sprintf("k%d", i))
			}
			for i := range keys {
				r.w.AddNode(fmt.Sprintf("c%d", i), worker(r, keys[i], &rounds, &problems, func() bool { return finished }))
			}
			prev := 0
			r.w.AfterEvent(func() {
				if moving && rounds > prev {
					during += rounds - prev
				}
				prev = rounds
			})
			r.w.RunFor(30 * sim.Second)
			if f := r.w.Failure(); f != nil {
				t.Fatal(f)
			}
			if !finished {
				t.Fatalf("changes did not finish: %v", results)
			}
			for i, e := range results {
				if e != kv.OK {
					t.Errorf("change %d: %s", i, e)
				}
			}
			if len(problems) > 0 {
				t.Errorf("clerk problems: %v", problems)
			}
			if final.Num != 5 {
				t.Errorf("final config %v", final)
			}
			for _, g := range []GID{1, 2, 3} {
				var want []int
				for s, o := range final.Shards {
					if o == g {
						want = append(want, s)
					}
				}
				r.w.RunFor(100 * sim.Millisecond) // let followers apply
				if got := r.serving(g); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("gid %d serves %v, final config gives it %v", g, got, want)
				}
				if held := r.server(r.groups[g][0]).SM().Held(); len(held) != len(want) {
					t.Errorf("gid %d still holds %v (moved shards not deleted)", g, held)
				}
			}
			if during == 0 {
				t.Error("no client operation completed during a migration")
			}
			res := kvcheck.Check(history(r.w), kvcheck.Options{NoPicture: true})
			if res.Err() != nil {
				t.Fatal(res.Err())
			}
			t.Logf("seed %d: %d rounds, %d during migrations, %d ops checked", seed, rounds, during, res.Ops)
		})
	}
}

// staleRun: controller A starts moving shards to gid 2 and is paused right
// after its first freeze; controller B runs InitController (finishing A's
// change) and then moves every shard back to gid 1 (leave 2); a clerk
// writes meanwhile; then A resumes. It returns A's outcome, the groups
// serving each shard at the end, and the final values' check.
func staleRun(t *testing.T, unsafe bool) (aErr kv.Err, doubly []int, r *rig) {
	r = newRig(11, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 3 * sim.Millisecond})
	r.addGroup(1, -1, GroupOptions{})
	r.addGroup(2, -1, GroupOptions{})
	c1, _ := Initial(0).Join(map[GID][]sim.NodeID{1: r.groups[1]})
	c2, _ := c1.Join(map[GID][]sim.NodeID{2: r.groups[2]})
	c3, _ := c2.Leave(2)
	aErr = "pending"
	var bErrs []kv.Err
	a := r.w.AddNode("ctlA", func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			c := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv, UnsafeNoFencing: unsafe})
			c.InitConfig(c1, func(err kv.Err) {
				if err != kv.OK {
					t.Errorf("InitConfig: %s", err)
				}
				env.After(300*sim.Millisecond, func() { c.ChangeConfigTo(c2, func(err kv.Err) { aErr = err }) })
			})
		}}
	})
	paused := false
	r.w.AfterEvent(func() {
		if paused {
			return
		}
		for _, id := range r.groups[1] {
			for s := 0; s < DefaultNShards; s++ {
				if st, _ := r.server(id).SM().Status(s); st == Frozen {
					paused = true
					r.w.Pause(a)
					return
				}
			}
		}
	})
	r.w.AddNode("ctlB", func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			env.After(sim.Second, func() {
				c := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv})
				c.InitController(func(err kv.Err) {
					bErrs = append(bErrs, err)
					c.ChangeConfigTo(c3, func(err kv.Err) { bErrs = append(bErrs, err) })
				})
			})
		}}
	})
	rounds := 0
	var problems []string
	var keys []string
	for i := 0; i < 24; i++ {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	r.w.AddNode("c", worker(r, keys, &rounds, &problems, func() bool { return r.w.Now() > sim.Time(4*sim.Second) }))
	r.w.After(2500*sim.Millisecond, func() { r.w.Resume(a) })
	r.w.RunFor(6 * sim.Second)
	if f := r.w.Failure(); f != nil {
		t.Fatal(f)
	}
	if !paused {
		t.Fatal("controller A never froze a shard")
	}
	if fmt.Sprint(bErrs) != "[OK OK]" {
		t.Fatalf("controller B: %v", bErrs)
	}
	if len(problems) > 0 && !unsafe {
		t.Errorf("clerk problems: %v", problems)
	}
	s1, s2 := r.serving(1), r.serving(2)
	in1 := map[int]bool{}
	for _, s := range s1 {
		in1[s] = true
	}
	for _, s := range s2 {
		if in1[s] {
			doubly = append(doubly, s)
		}
	}
	return aErr, doubly, r
}

// A paused controller that resumes after a newer change cannot move a shard
// backwards: its late install is refused by the fence, its call returns
// ErrStale, and every shard is served by exactly one group.
func TestStaleControllerFenced(t *testing.T) {
	aErr, doubly, r := staleRun(t, false)
	if aErr != ErrStale {
		t.Errorf("stale controller's call = %s, want ErrStale", aErr)
	}
	if len(doubly) > 0 {
		t.Errorf("shards %v served by two groups", doubly)
	}
	if len(r.serving(1)) != DefaultNShards {
		t.Errorf("gid 1 serves %v, want every shard", r.serving(1))
	}
	if res := kvcheck.Check(history(r.w), kvcheck.Options{NoPicture: true}); res.Err() != nil {
		t.Error(res.Err())
	}
}

// The same run with the UNSAFE unfenced controller: its late install lands
// and a shard ends up served by two groups (what the single-ownership
// checker must catch).
func TestUnfencedControllerMovesBackwards(t *testing.T) {
	aErr, doubly, _ := staleRun(t, true)
	if len(doubly) == 0 {
		t.Fatalf("unfenced stale controller (%s) did no harm: no shard served twice", aErr)
	}
	t.Logf("unfenced stale controller returned %s; shards served by both groups: %v", aErr, doubly)
}

// Shard state survives a shutdown of every group (with snapshots), and a
// group that moved its shards away keeps none of their data in its
// snapshot (deleted means deleted).
func TestShutdownAllGroupsDurable(t *testing.T) {
	r := newRig(5, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 3 * sim.Millisecond})
	r.addGroup(1, 2000, GroupOptions{})
	r.addGroup(2, 2000, GroupOptions{})
	c1, _ := Initial(0).Join(map[GID][]sim.NodeID{1: r.groups[1]})
	c2, _ := c1.Join(map[GID][]sim.NodeID{2: r.groups[2]})
	c3, _ := c2.Leave(1)
	var errs []kv.Err
	big := string(make([]byte, 500))
	wrote, phase := 0, 0
	var got map[string]string
	r.w.AddNode("ctl", func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			c := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv})
			ck := NewClerk(env, ClerkConfig{KVServer: r.kvsrv})
			c.InitConfig(c1, func(err kv.Err) {
				errs = append(errs, err)
				var put func(i int)
				put = func(i int) {
					if i == 40 {
						c.ChangeConfigTo(c2, func(err kv.Err) {
							errs = append(errs, err)
							c.ChangeConfigTo(c3, func(err kv.Err) { errs = append(errs, err); phase = 1 })
						})
						return
					}
					ck.Put(fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)+big, 0, func(err kv.Err) {
						if err == kv.OK {
							wrote++
						}
						put(i + 1)
					})
				}
				put(0)
			})
		}}
	})
	r.w.RunFor(10 * sim.Second)
	if phase != 1 || wrote != 40 || fmt.Sprint(errs) != "[OK OK OK]" {
		t.Fatalf("phase %d, wrote %d, changes %v", phase, wrote, errs)
	}
	for _, g := range []GID{1, 2} {
		for _, id := range r.groups[g] {
			r.w.Crash(id)
		}
	}
	r.w.RunFor(sim.Second)
	for _, g := range []GID{1, 2} {
		for _, id := range r.groups[g] {
			r.w.Restart(id)
		}
	}
	r.w.AddNode("reader", func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			ck := NewClerk(env, ClerkConfig{KVServer: r.kvsrv})
			got = map[string]string{}
			var get func(i int)
			get = func(i int) {
				if i == 40 {
					return
				}
				k := fmt.Sprintf("k%d", i)
				ck.Get(k, func(v string, ver uint64, err kv.Err) {
					got[k] = fmt.Sprintf("%s@%d %s", v[:min(len(v), 3)], ver, err)
					get(i + 1)
				})
			}
			get(0)
		}}
	})
	r.w.RunFor(10 * sim.Second)
	if f := r.w.Failure(); f != nil {
		t.Fatal(f)
	}
	for i := 0; i < 40; i++ {
		k := fmt.Sprintf("k%d", i)
		if want := fmt.Sprintf("v%d", i)[:min(3, len(fmt.Sprintf("v%d", i)))]; got[k] != fmt.Sprintf("%s@1 OK", want) && got[k] != fmt.Sprintf("%s\x00@1 OK", want) {
			t.Errorf("%s after restarting every group: %q", k, got[k])
		}
	}
	// Raft commits the restarted group's tail only with an entry of the
	// new term: a request makes it apply the deletes, and it must refuse
	// every key.
	wrong := 0
	r.w.AddNode("probe", func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			var probe func(i, srv int)
			probe = func(i, srv int) {
				if i == 40 {
					return
				}
				env.Call(r.groups[1][srv], &kv.GetArgs{Key: fmt.Sprintf("k%d", i)}, 100*sim.Millisecond, func(m sim.Message, ok bool) {
					if rep, isGet := m.(*kv.GetReply); ok && isGet && rep.Err != kv.ErrWrongLeader {
						if rep.Err == ErrWrongGroup {
							wrong++
						}
						probe(i+1, srv)
						return
					}
					probe(i, (srv+1)%3)
				})
			}
			probe(0, 0)
		}}
	})
	r.w.RunFor(5 * sim.Second)
	if wrong != 40 {
		t.Errorf("gid 1, which left, answered ErrWrongGroup to %d of 40 keys", wrong)
	}
	g1 := r.server(r.groups[1][0])
	if n := len(g1.SM().Held()); n != 0 {
		t.Errorf("gid 1 left but holds %d shards", n)
	}
	g2 := r.server(r.groups[2][0])
	t.Logf("gid 1: raft state %d B, snapshot %d B; gid 2: raft state %d B, snapshot %d B",
		g1.RSM().Raft().PersistSize(), len(g1.RSM().Raft().SnapshotData()), g2.RSM().Raft().PersistSize(), len(g2.RSM().Raft().SnapshotData()))
}

// Leased controllers: A holds the lease and is cut off from the kvsrv; B's
// InitController waits A's lease out and takes over; once A is back, its
// call fails ErrDeposed (its renewal loses) while B's change goes through.
func TestLeasedControllerDeposed(t *testing.T) {
	r := newRig(3, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 3 * sim.Millisecond})
	r.addGroup(1, -1, GroupOptions{})
	r.addGroup(2, -1, GroupOptions{})
	c1, _ := Initial(0).Join(map[GID][]sim.NodeID{1: r.groups[1]})
	c2, _ := c1.Join(map[GID][]sim.NodeID{2: r.groups[2]})
	lease := 500 * sim.Millisecond
	var aErrs, bErrs []kv.Err
	var bAt sim.Time
	a := r.w.AddNode("ctlA", func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			c := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv, Lease: lease})
			c.InitController(func(err kv.Err) {
				aErrs = append(aErrs, err)
				c.InitConfig(c1, func(err kv.Err) {
					aErrs = append(aErrs, err)
					env.After(2*sim.Second, func() { // cut off meanwhile, then back
						c.ChangeConfigTo(c2, func(err kv.Err) { aErrs = append(aErrs, err) })
					})
				})
			})
		}}
	})
	r.w.After(sim.Second, func() { r.w.Cut(a, r.kvsrv); r.w.Cut(r.kvsrv, a) })
	r.w.After(2*sim.Second, func() { r.w.Connect(a, r.kvsrv); r.w.Connect(r.kvsrv, a) })
	r.w.AddNode("ctlB", func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			env.After(1100*sim.Millisecond, func() {
				c := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv, Lease: lease})
				c.InitController(func(err kv.Err) {
					bErrs = append(bErrs, err)
					bAt = env.Now()
					c.ChangeConfigTo(c2, func(err kv.Err) { bErrs = append(bErrs, err) })
				})
			})
		}}
	})
	r.w.RunFor(6 * sim.Second)
	if f := r.w.Failure(); f != nil {
		t.Fatal(f)
	}
	if fmt.Sprint(bErrs) != "[OK OK]" {
		t.Fatalf("controller B: %v", bErrs)
	}
	if bAt < sim.Time(1100*sim.Millisecond+lease) {
		t.Errorf("B took over at %v, before A's lease could run out", bAt)
	}
	if fmt.Sprint(aErrs) != "[OK OK ErrDeposed]" {
		t.Errorf("controller A: %v, want [OK OK ErrDeposed]", aErrs)
	}
}

// The same seed gives the same run, event for event (trace hash), with
// joins, leaves and clerks under a lossy network.
func TestDeterministicHash(t *testing.T) {
	run := func() (uint64, uint64) {
		r := newRig(8, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond, Loss: sim.R(1, 20)})
		r.addGroup(1, 3000, GroupOptions{})
		r.addGroup(2, 3000, GroupOptions{})
		c1, _ := Initial(0).Join(map[GID][]sim.NodeID{1: r.groups[1]})
		c2, _ := c1.Join(map[GID][]sim.NodeID{2: r.groups[2]})
		r.w.AddNode("ctl", func() sim.Node {
			return &prog{start: func(env *sim.Env) {
				c := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv})
				c.InitConfig(c1, func(kv.Err) { env.After(sim.Second, func() { c.ChangeConfigTo(c2, func(kv.Err) {}) }) })
			}}
		})
		rounds := 0
		var problems []string
		r.w.AddNode("c", worker(r, []string{"a", "b", "c", "d", "e"}, &rounds, &problems, func() bool { return false }))
		r.w.RunFor(4 * sim.Second)
		return r.w.Hash(), r.w.Events()
	}
	h1, e1 := run()
	h2, e2 := run()
	if h1 != h2 || e1 != e2 {
		t.Fatalf("same seed, different runs: %x/%d vs %x/%d", h1, e1, h2, e2)
	}
}

// A change to a configuration with no groups is refused (ErrBadConfig):
// otherwise every shard would stay frozen at the last group and a later
// join would install it empty. The data stays served by the last group,
// and a join afterwards carries it over.
func TestLeaveLastGroupRefused(t *testing.T) {
	r := newRig(4, sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 3 * sim.Millisecond})
	r.addGroup(1, -1, GroupOptions{})
	r.addGroup(2, -1, GroupOptions{})
	c1, _ := Initial(0).Join(map[GID][]sim.NodeID{1: r.groups[1]})
	empty, _ := c1.Leave(1)
	c2, _ := c1.Join(map[GID][]sim.NodeID{2: r.groups[2]})
	var errs []kv.Err
	got := ""
	r.w.AddNode("ctl", func() sim.Node {
		return &prog{start: func(env *sim.Env) {
			c := NewCtrl(env, CtrlConfig{KVServer: r.kvsrv})
			ck := NewClerk(env, ClerkConfig{KVServer: r.kvsrv})
			c.InitConfig(c1, func(err kv.Err) {
				errs = append(errs, err)
				ck.Put("a", "x", 0, func(err kv.Err) {
					errs = append(errs, err)
					c.ChangeConfigTo(empty, func(err kv.Err) {
						errs = append(errs, err)
						c.ChangeConfigTo(c2, func(err kv.Err) {
							errs = append(errs, err)
							ck.Get("a", func(v string, ver uint64, err kv.Err) { got = fmt.Sprintf("%s@%d %s", v, ver, err) })
						})
					})
				})
			})
		}}
	})
	r.w.RunFor(5 * sim.Second)
	if fmt.Sprint(errs) != "[OK OK ErrBadConfig OK]" {
		t.Fatalf("outcomes %v, want [OK OK ErrBadConfig OK]", errs)
	}
	if got != "x@1 OK" {
		t.Errorf("after refusing the empty configuration and joining gid 2: get(a) = %q, want x@1 OK", got)
	}
}
