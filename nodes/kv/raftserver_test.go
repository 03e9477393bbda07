package kv

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/nodes/rsm"
	"github.com/smilingraft/dsim/sim"
)

// raftGroup adds n RaftServers (ids 0..n-1) with read mode mode.
func raftGroup(w *sim.World, n int, mode string, maxRaftState int) []sim.NodeID {
	ids := make([]sim.NodeID, n)
	for i := range ids {
		ids[i] = sim.NodeID(i)
	}
	for i := 0; i < n; i++ {
		cfg := rsm.Config{MaxRaftState: maxRaftState, Raft: raft.Config{Me: i, Peers: ids, ReadMode: mode}}
		if got := w.AddNode(fmt.Sprintf("s%d", i), func() sim.Node { return NewRaftServer(cfg) }); got != ids[i] {
			panic("ids not contiguous")
		}
	}
	return ids
}

// leaderOf returns the server that believes it leads in the highest term.
func leaderOf(w *sim.World, ids []sim.NodeID) (sim.NodeID, bool) {
	best, found, term := sim.NodeID(0), false, uint64(0)
	for _, id := range ids {
		if !w.Up(id) {
			continue
		}
		if t, lead := w.Node(id).(sim.Roler).Role(); lead && t >= term {
			best, found, term = id, true, t
		}
	}
	return best, found
}

// Every read path serves a clerk's sequential Puts and Gets, across a crash
// of the leader, with every answer the versioned API promises; the servers'
// stores agree at the end.
func TestRaftServerReadPaths(t *testing.T) {
	for _, mode := range []string{raft.ReadLog, raft.ReadReadIndex, raft.ReadLease} {
		t.Run(mode, func(t *testing.T) {
			w := sim.NewWorld(7, sim.Options{Net: sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 3 * sim.Millisecond}})
			ids := raftGroup(w, 3, mode, 300)
			rounds := 0
			var problems []string
			w.AddNode("c", func() sim.Node {
				return &prog{servers: ids, run: func(env *sim.Env, ck *Clerk) {
					var round func(ver uint64)
					round = func(ver uint64) {
						if ver == 60 {
							return
						}
						val := fmt.Sprintf("v%d", ver)
						ck.Put("k", val, ver, func(err Err) {
							if err != OK {
								problems = append(problems, fmt.Sprintf("put v%d = %s", ver, err))
							}
							ck.Get("k", func(got string, v uint64, err Err) {
								if err != OK || v != ver+1 || got != val {
									problems = append(problems, fmt.Sprintf("get after put v%d = %q@v%d %s", ver, got, v, err))
								}
								rounds++
								round(v)
							})
						})
					}
					round(0)
				}}
			})
			w.RunFor(2 * sim.Second)
			if l, ok := leaderOf(w, ids); ok {
				w.Crash(l)
				w.After(500*sim.Millisecond, func() { w.Restart(l) })
			} else {
				t.Fatal("no leader after 2s")
			}
			w.RunFor(20 * sim.Second)
			if f := w.Failure(); f != nil {
				t.Fatal(f)
			}
			if rounds != 60 || len(problems) > 0 {
				t.Fatalf("%d of 60 rounds; problems: %v", rounds, problems)
			}
			want := w.Node(ids[0]).(*RaftServer).Store().Entries()
			for _, id := range ids[1:] {
				if d := cmp.Diff(want, w.Node(id).(*RaftServer).Store().Entries()); d != "" {
					t.Errorf("%s differs from s0 (-s0 +%s)\n%s", w.Name(id), w.Name(id), d)
				}
			}
			if s := w.Node(ids[0]).(*RaftServer).RSM().Stats(); mode == raft.ReadLog && s.Applied < 100 {
				t.Errorf("log reads: only %d ops applied on s0", s.Applied)
			}
		})
	}
}

// A retried Put (same client and seq) whose first copy applied is answered
// OK from the duplicate table, not ErrVersion, and applied once.
func TestRaftServerDuplicatePut(t *testing.T) {
	w := sim.NewWorld(3, sim.Options{Net: sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 2 * sim.Millisecond}})
	ids := raftGroup(w, 3, raft.ReadLog, -1)
	var got []Err
	w.AddNode("c", func() sim.Node {
		return &prog{servers: ids, run: func(env *sim.Env, ck *Clerk) {
			env.After(2*sim.Second, func() {
				l, ok := leaderOf(w, ids)
				if !ok {
					return
				}
				args := &PutArgs{Key: "k", Value: "x", Version: 0, Client: 99, Seq: 1}
				send := func(next func()) {
					env.Call(l, args, sim.Second, func(r sim.Message, ok bool) {
						if rep, isPut := r.(*PutReply); ok && isPut {
							got = append(got, rep.Err)
						}
						next()
					})
				}
				send(func() { send(func() {}) })
			})
		}}
	})
	w.RunFor(5 * sim.Second)
	if d := cmp.Diff([]Err{OK, OK}, got); d != "" {
		t.Fatalf("replies to a Put and its retry (-want +got)\n%s", d)
	}
	if e := w.Node(ids[0]).(*RaftServer).Store().Get("k"); e.Version != 1 {
		t.Fatalf("key at version %d after one Put and its retry, want 1", e.Version)
	}
}

// Malformed input gets an error reply and a log line, never a panic;
// followers answer ErrWrongLeader.
func TestRaftServerBadInput(t *testing.T) {
	var trace bytes.Buffer
	w := sim.NewWorld(1, sim.Options{Trace: &trace, Net: sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 2 * sim.Millisecond}})
	ids := raftGroup(w, 3, raft.ReadReadIndex, -1)
	var got []sim.Message
	var futureErr Err
	w.AddNode("c", func() sim.Node {
		return &prog{servers: ids, run: func(env *sim.Env, ck *Clerk) {
			env.After(2*sim.Second, func() {
				l, ok := leaderOf(w, ids)
				if !ok {
					return
				}
				follower := ids[(int(l)+1)%len(ids)]
				bodies := []sim.Message{"junk", &PutArgs{Key: strings.Repeat("k", MaxKeyBytes+1)},
					&GetArgs{Key: strings.Repeat("k", MaxKeyBytes+1)}}
				for _, body := range bodies {
					env.Call(l, body, sim.Second, func(r sim.Message, ok bool) { got = append(got, r) })
				}
				env.Send(l, 42) // not even a request: dropped and logged
				env.After(100*sim.Millisecond, func() {
					env.Call(follower, &GetArgs{Key: "k"}, sim.Second, func(r sim.Message, ok bool) { got = append(got, r) })
				})
				ck.Put("k", "v", 0, func(Err) {
					ck.Put("k", "w", 99, func(err Err) { futureErr = err })
				})
			})
		}}
	})
	w.RunFor(5 * sim.Second)
	if w.Failure() != nil {
		t.Fatal(w.Failure())
	}
	_ = w.FlushTrace()
	want := []sim.Message{&BadReply{Err: ErrBadRequest}, &PutReply{Err: ErrBadRequest}, &GetReply{Err: ErrBadRequest},
		&GetReply{Err: ErrWrongLeader}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("replies (-want +got)\n%s", d)
	}
	if futureErr != ErrVersion {
		t.Errorf("Put from the future = %s, want ErrVersion", futureErr)
	}
	for _, line := range []string{"bad request string", "bad Put", "bad Get", "from the future", "not a request"} {
		if !strings.Contains(trace.String(), line) {
			t.Errorf("server log lacks %q", line)
		}
	}
}

// With a small maxraftstate the servers snapshot, and a server restarted
// from its disk rebuilds the same store.
func TestRaftServerSnapshotRestart(t *testing.T) {
	w := sim.NewWorld(5, sim.Options{Net: sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 2 * sim.Millisecond}})
	ids := raftGroup(w, 3, raft.ReadLog, 500)
	done := 0
	w.AddNode("c", func() sim.Node {
		return &prog{servers: ids, run: func(env *sim.Env, ck *Clerk) {
			var put func(i int)
			put = func(i int) {
				if i == 100 {
					return
				}
				ck.Put(fmt.Sprintf("k%d", i%10), "x", uint64(i/10), func(err Err) {
					if err == OK {
						done++
					}
					put(i + 1)
				})
			}
			put(0)
		}}
	})
	w.RunFor(10 * sim.Second)
	if done != 100 {
		t.Fatalf("%d of 100 puts OK", done)
	}
	before := w.Node(ids[1]).(*RaftServer).Store().Entries()
	if w.Node(ids[1]).(*RaftServer).RSM().Stats().Snapshots == 0 {
		t.Fatal("no snapshot taken with maxraftstate 500")
	}
	w.Crash(ids[1])
	w.Restart(ids[1])
	w.RunFor(sim.Second)
	after := w.Node(ids[1]).(*RaftServer).Store().Entries()
	if d := cmp.Diff(before, after); d != "" {
		t.Fatalf("store after restart differs (-before +after)\n%s", d)
	}
	if sz := w.Node(ids[1]).(*RaftServer).RSM().Raft().PersistSize(); sz > 8*500 {
		t.Errorf("raft state %d B > 8 x maxraftstate", sz)
	}
}
