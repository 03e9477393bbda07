package raftshape_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	raftsc "github.com/smilingraft/dsim/scenarios/raft"
	"github.com/smilingraft/dsim/scenarios/raftshape"
	"github.com/smilingraft/dsim/sim"
)

// fakeNode is a peer whose role the test sets.
type fakeNode struct {
	term uint64
	lead bool
}

func (n *fakeNode) Start(*sim.Env)                  {}
func (n *fakeNode) Receive(sim.NodeID, sim.Message) {}
func (n *fakeNode) Role() (uint64, bool)            { return n.term, n.lead }

// fakeHost is a raftshape.Host over fake nodes, with commit and apply
// indices the test sets.
type fakeHost struct {
	w       *sim.World
	ids     []sim.NodeID
	nodes   []*fakeNode
	commit  uint64
	applied []uint64
}

func newFake(c *scenarios.Cluster, n int) *fakeHost {
	h := &fakeHost{w: c.W, applied: make([]uint64, n)}
	for i := 0; i < n; i++ {
		nd := &fakeNode{}
		h.nodes = append(h.nodes, nd)
		h.ids = append(h.ids, c.W.AddNode(fmt.Sprintf("f%d", i), func() sim.Node { return nd }))
	}
	c.Servers(h.ids...)
	return h
}

func (h *fakeHost) Peers() []sim.NodeID { return h.ids }
func (h *fakeHost) Leader() (int, error) {
	for i, n := range h.nodes {
		if n.lead && h.w.Up(h.ids[i]) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("no leader")
}
func (h *fakeHost) Role(i int) (uint64, bool) { return h.nodes[i].Role() }
func (h *fakeHost) HealLinks() {
	for _, a := range h.ids {
		for _, b := range h.ids {
			if a != b {
				h.w.Connect(a, b)
			}
		}
	}
}
func (h *fakeHost) MaxCommitted() uint64 { return h.commit }
func (h *fakeHost) Applied(i int) uint64 { return h.applied[i] }

func run(t *testing.T, s *scenarios.Scenario) *scenarios.Result {
	t.Helper()
	return scenarios.Run(s, nil, 1, scenarios.Config{})
}

// TestRecorderDefinitions drives a fake cluster through a known history and
// checks every metric against its definition: the first leader at 100 ms,
// a command appended at 150 ms and committed at 180 ms, the leader cut off
// from 200 ms to 500 ms (a leaderless window of 300 ms though it still
// believes it leads), a second leader at 700 ms after a second window
// opened at 600 ms, a retry of a pending command, two snapshots, and two
// reads (one reported live, one gathered by the host at the end).
func TestRecorderDefinitions(t *testing.T) {
	ms := sim.Millisecond
	s := &scenarios.Scenario{Name: "fake/metrics", Duration: sim.Second,
		Setup: func(c *scenarios.Cluster) error {
			h := newFake(c, 3)
			m := raftshape.Observe(c, h)
			w := c.W
			at := func(d sim.Duration, fn func()) { w.At(sim.Time(d), fn) }
			at(100*ms, func() { h.nodes[0].term, h.nodes[0].lead = 1, true; m.BecameLeader() })
			at(150*ms, func() { m.Started(2, 1, []byte("a")) })
			at(160*ms, func() { m.Started(3, 1, []byte("b")) })
			at(170*ms, func() { m.Started(4, 1, []byte("b")) }) // a retry of b
			at(180*ms, func() { m.Committed(1, 1, nil); m.Committed(2, 1, []byte("a")) })
			at(200*ms, func() { w.Isolate(h.ids[0], h.ids) })
			at(500*ms, h.HealLinks)
			at(550*ms, func() { m.Snapshot(40); m.Snapshot(10) })
			at(580*ms, func() { m.ReadDone(sim.Time(530 * ms)) })
			m.Reads = func() []float64 { return []float64{float64(20 * ms)} }
			at(600*ms, func() { h.nodes[0].lead = false })
			at(700*ms, func() { h.nodes[1].term, h.nodes[1].lead = 2, true; m.BecameLeader() })
			at(750*ms, func() { m.Committed(3, 2, []byte("b")) }) // index 3 of term 1 committed in term 2: no commit latency
			return nil
		}}
	res := run(t, s)
	if !res.Passed {
		t.Fatalf("%+v", res.Failure)
	}
	want := map[string]float64{
		raftshape.FirstLeader: float64(100 * ms), raftshape.LeaderChanges: 1,
		raftshape.NoLeaderTotal: float64(400 * ms), raftshape.NoLeaderMax: float64(300 * ms), raftshape.NoLeaderCount: 2,
		"commit_latency_count": 1, "commit_latency_p50_ns": float64(30 * ms),
		"op_latency_count": 2, "op_latency_max_ns": float64(590 * ms),
		raftshape.Retries: 1, raftshape.Commits: 2, raftshape.Snapshots: 2, raftshape.SnapshotMax: 40,
		"read_latency_count": 2, "read_latency_max_ns": float64(50 * ms),
	}
	for k, v := range want {
		if got, ok := res.Metrics[k]; !ok || got != v {
			t.Errorf("%s = %v (recorded %v), want %v", k, got, ok, v)
		}
	}
	if _, ok := res.Metrics[raftshape.MsgsPerCommit]; !ok {
		t.Errorf("no %s", raftshape.MsgsPerCommit)
	}
}

// TestRecorderObservesOnly: recording metrics changes no run (the same
// trace hash with and without a Recorder).
func TestRecorderObservesOnly(t *testing.T) {
	hash := func(observe bool) string {
		s := &scenarios.Scenario{Name: "fake/observe", Duration: sim.Second,
			Setup: func(c *scenarios.Cluster) error {
				h := newFake(c, 3)
				if observe {
					raftshape.Observe(c, h)
				}
				(&raftshape.Client{Every: 30 * sim.Millisecond, Reads: true, Propose: func(int, []byte) bool { return true }}).Start(c, h)
				raftshape.Halves.Start(c, h)
				return nil
			}}
		return run(t, s).TraceHash
	}
	if a, b := hash(false), hash(true); a != b {
		t.Fatalf("trace hash %s without the recorder, %s with it", a, b)
	}
}

// TestLivenessCatchesAStuckPeer: the shared liveness phase fails a cluster
// in which one peer never applies what was committed before the heal (and
// passes once it does), and one that never commits anything new.
func TestLivenessCatchesAStuckPeer(t *testing.T) {
	cases := []struct {
		name       string
		catchUp    bool
		newCommit  bool
		wantFailed string
	}{
		{"healthy", true, true, ""},
		{"stuck-peer", false, true, "etcd.catch-up: no progress"},
		{"no-new-commit", true, false, "etcd.new-commit: no progress"},
	}
	for _, tc := range cases {
		s := &scenarios.Scenario{Name: "fake/liveness", Duration: sim.Second, Liveness: sim.Second,
			Setup: func(c *scenarios.Cluster) error {
				h := newFake(c, 3)
				h.nodes[0].term, h.nodes[0].lead = 1, true
				h.commit = 5
				raftshape.Liveness(c, h, "etcd")
				c.OnHeal(func() {
					c.W.After(100*sim.Millisecond, func() {
						if tc.newCommit {
							h.commit = 6
						}
						for i := range h.applied {
							if i != 2 || tc.catchUp {
								h.applied[i] = 6
							}
						}
					})
				})
				return nil
			}}
		res := run(t, s)
		switch {
		case tc.wantFailed == "" && !res.Passed:
			t.Errorf("%s: %+v", tc.name, res.Failure)
		case tc.wantFailed != "" && (res.Failure == nil || !strings.Contains(res.Failure.Message, tc.wantFailed)):
			t.Errorf("%s: failure %+v, want %q", tc.name, res.Failure, tc.wantFailed)
		}
	}
}

// TestTimelineIndependentOfTheProtocol: a scripted shape draws the same
// timeline whatever the Raft under it does (here dsim's Raft with PreVote
// and CheckQuorum on or off and other election timeouts: different runs,
// the same faults).
func TestTimelineIndependentOfTheProtocol(t *testing.T) {
	for _, name := range []string{"raft/halves", "raft/one-way", "raft/leader-isolation-loop"} {
		s, err := scenarios.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		a := scenarios.Run(s, nil, 3, scenarios.Config{})
		b := scenarios.Run(s, scenarios.Variant{"raft.prevote": "true", "raft.checkquorum": "true", "raft.election_min_ms": "200"}, 3, scenarios.Config{})
		ta, tb := a.Artifacts[raftshape.TimelineArtifact], b.Artifacts[raftshape.TimelineArtifact]
		if a.TraceHash == b.TraceHash || len(ta) == 0 || !bytes.Equal(ta, tb) {
			t.Errorf("%s: hashes %s %s, timelines:\n%s\n%s", name, a.TraceHash, b.TraceHash, ta, tb)
		}
	}
}

// TestPromisesRoles: crash points compare by role, and dsim's Raft's roles
// are raft.PromiseMessages in order (so its swarm plans did not move).
func TestPromisesRoles(t *testing.T) {
	p := raftsc.Promises()
	plan := sim.Plan{{Kind: sim.ActCrashPoint, Msg: p.Vote}, {Kind: sim.ActCrashPoint, Msg: p.Snapshot}, {Kind: sim.ActCrash}}
	got := p.Neutral(plan)
	if got[0].Msg != "vote" || got[1].Msg != "ack" || got[2].Msg != "" || plan[0].Msg != p.Vote {
		t.Fatalf("neutral %+v (original %+v)", got, plan)
	}
	if p.Role("other.Msg") != "other.Msg" {
		t.Fatal("an unknown type must keep its name")
	}
}

// TestRecorderFirstLeaderCutOff: a first leader elected while cut off from
// the majority opens a leaderless window at its election (not at time
// zero), closed when it is reachable again.
func TestRecorderFirstLeaderCutOff(t *testing.T) {
	ms := sim.Millisecond
	s := &scenarios.Scenario{Name: "fake/first-cut-off", Duration: sim.Second,
		Setup: func(c *scenarios.Cluster) error {
			h := newFake(c, 3)
			m := raftshape.Observe(c, h)
			w := c.W
			w.At(sim.Time(50*ms), func() { w.Isolate(h.ids[0], h.ids) })
			w.At(sim.Time(100*ms), func() { h.nodes[0].term, h.nodes[0].lead = 1, true; m.BecameLeader() })
			w.At(sim.Time(250*ms), h.HealLinks)
			return nil
		}}
	res := run(t, s)
	if got := res.Metrics[raftshape.NoLeaderTotal]; got != float64(150*ms) || res.Metrics[raftshape.NoLeaderCount] != 1 {
		t.Fatalf("no_leader_total_ns %v, windows %v: want 150ms in 1", got, res.Metrics[raftshape.NoLeaderCount])
	}
}
