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
		in, ok := o.Input.(kv.OpInput)
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
		if out, ok := o.Output.(kv.OpOutput); ok {
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
