package etcdsim

import (
	"fmt"
	"strconv"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Variant keys every etcd scenario accepts.
const (
	kServers     = "etcd.servers"
	kTick        = "etcd.tick_ms"
	kElection    = "etcd.election_ticks"
	kHeartbeat   = "etcd.heartbeat_ticks"
	kPreVote     = "etcd.prevote"
	kCheckQuorum = "etcd.checkquorum"
	kSnapEvery   = "etcd.snap_every"
	kAudit       = "etcd.whitebox"
	kUnsafe      = "etcd.unsafe_host"
)

// Params returns the etcd.* variant keys with servers as the default
// cluster size; over replaces defaults by key.
func Params(servers int, over map[string]string) []scenarios.Param {
	ps := []scenarios.Param{
		{Key: kServers, Default: strconv.Itoa(servers), Doc: "number of etcd raft peers", Range: scenarios.Span(1, 15)},
		{Key: kTick, Default: "50", Doc: "virtual ms between RawNode.Tick calls", Range: scenarios.Span(1, 10_000)},
		{Key: kElection, Default: "6", Doc: "etcd ElectionTick (timeouts are randomized in [ticks, 2*ticks))", Range: scenarios.Span(2, 1000)},
		{Key: kHeartbeat, Default: "2", Doc: "etcd HeartbeatTick (below election_ticks)", Range: scenarios.Span(1, 1000), BelowKey: kElection},
		{Key: kPreVote, Default: "true", Doc: "etcd PreVote"},
		{Key: kCheckQuorum, Default: "true", Doc: "etcd CheckQuorum"},
		{Key: kSnapEvery, Default: "20", Doc: "snapshot and compact after this many applied entries (0: never)", Range: scenarios.Span(0, 1_000_000)},
		{Key: kAudit, Default: "true", Doc: "white-box checks: raw logs, votes and acknowledgements against the disk"},
		{Key: kUnsafe, Default: UnsafeNone, Doc: "UNSAFE hosts that break etcd's Ready contract: send-before-persist (messages before entries and HardState are durable), vote-before-persist (HardState synced after the messages)",
			Enum: []string{UnsafeNone, UnsafeSendBeforePersist, UnsafeVoteBeforePersist}},
	}
	for i := range ps {
		if v, ok := over[ps[i].Key]; ok {
			ps[i].Default = v
		}
	}
	return ps
}

// harness is one etcd raft cluster in a world: the peers, dsim's Raft
// checker fed through their observer, and the work-under-faults counts.
type harness struct {
	c   *scenarios.Cluster
	w   *sim.World
	n   int
	ids []sim.NodeID
	chk *raftcheck.Checker
	// digests[i] is the state machine digest after index i, as first seen.
	digests   []uint64
	committed uint64
	commitsUF int
	proposals int
}

// hooks is the peers' observer: it forwards to the checker (Observer and
// Auditor calls alike) and counts work under faults.
type hooks struct {
	*raftcheck.Checker
	h *harness
}

// Committed forwards to the checker and counts commands first committed
// while a fault is active.
func (o hooks) Committed(server int, index, term uint64, cmd []byte) {
	o.Checker.Committed(server, index, term, cmd)
	h := o.h
	if index <= h.committed {
		return
	}
	h.committed = index
	if len(cmd) == 0 || !h.w.FaultActive() {
		return
	}
	h.commitsUF++
	h.c.Metric("commits_under_faults", float64(h.commitsUF))
	h.c.Metric(scenarios.WorkUnderFaults, float64(h.commitsUF))
}

// StateDigest is the checker name for state machines that disagree.
const StateDigest = "etcd.state-digest"

// State checks that every peer's state machine has the same digest after
// index (snapshots sent, installed and reloaded included).
func (o hooks) State(server int, index, digest uint64) {
	h := o.h
	for uint64(len(h.digests)) <= index {
		h.digests = append(h.digests, 0)
	}
	switch d := h.digests[index]; {
	case d == 0:
		h.digests[index] = digest | 1
	case d != digest|1:
		h.w.Fail(StateDigest, "server %d's state machine after index %d has digest %x, another peer's has %x", server, index, digest|1, d)
	}
}

// newHarness builds n etcd raft peers on net and declares them as the fault
// targets.
func newHarness(c *scenarios.Cluster, net sim.NetOptions) (*harness, error) {
	n := c.Int(kServers)
	h := &harness{c: c, w: c.W, n: n, chk: raftcheck.New(c.W.Fail)}
	c.W.SetNet(net)
	first := sim.NodeID(c.W.NumNodes())
	for i := 0; i < n; i++ {
		h.ids = append(h.ids, first+sim.NodeID(i))
	}
	obs := hooks{Checker: h.chk, h: h}
	for i := 0; i < n; i++ {
		cfg := Config{
			Me: i, Peers: h.ids,
			Tick:           sim.Duration(c.Int(kTick)) * sim.Millisecond,
			ElectionTicks:  c.Int(kElection),
			HeartbeatTicks: c.Int(kHeartbeat),
			PreVote:        c.Bool(kPreVote),
			CheckQuorum:    c.Bool(kCheckQuorum),
			SnapEvery:      uint64(c.Int(kSnapEvery)),
			Observer:       obs,
			Audit:          c.Bool(kAudit),
			Unsafe:         c.String(kUnsafe),
		}
		id := c.W.AddNode(fmt.Sprintf("e%d", i), func() sim.Node {
			h.chk.Restarted(i)
			return New(cfg)
		})
		if id != h.ids[i] {
			return nil, fmt.Errorf("etcd: node ids not contiguous")
		}
		// Every peer starts from the boot snapshot at index 1.
		h.chk.Snapshotted(i, 1)
	}
	c.Servers(h.ids...)
	c.Metric("commits_under_faults", 0)
	c.Metric(scenarios.WorkUnderFaults, 0)
	return h, nil
}

// node returns peer i if it runs and is not paused.
func (h *harness) node(i int) *Node {
	if !h.w.Up(h.ids[i]) || h.w.Paused(h.ids[i]) {
		return nil
	}
	n, _ := h.w.Node(h.ids[i]).(*Node)
	return n
}

// client proposes a fresh command every ~every of virtual time through the
// peer that claims leadership in the highest term, or (none claiming it) a
// random running peer, which forwards it if it knows a leader.
func (h *harness) client(every sim.Duration) {
	seq := 0
	var tick func()
	tick = func() {
		if h.w.Failure() != nil {
			return
		}
		seq++
		cmd := []byte("c" + strconv.Itoa(seq))
		r := h.c.Workload
		best, bestTerm := -1, uint64(0)
		for i := 0; i < h.n; i++ {
			if nd := h.node(i); nd != nil {
				if t, lead := nd.Role(); lead && (best < 0 || t > bestTerm) {
					best, bestTerm = i, t
				}
			}
		}
		if best < 0 {
			best = r.Intn(h.n)
		}
		if nd := h.node(best); nd != nil && nd.Propose(cmd) {
			h.proposals++
		}
		h.w.After(every/2+sim.Duration(r.Intn(int(every))), tick)
	}
	h.w.After(every, tick)
}

// liveness registers the liveness phase: after healing, one leader, a new
// commit, and every peer caught up with what was committed when it began.
func (h *harness) liveness() {
	var newCommit func() error
	var mark uint64
	h.c.OnHeal(func() {
		newCommit = h.chk.NewCommit()
		mark = h.chk.Stats().MaxCommitted
	})
	h.c.Progress("etcd.leader", func() error {
		_, _, err := raftcheck.Leader(h.w, h.ids)
		return err
	})
	h.c.Progress("etcd.new-commit", func() error { return newCommit() })
	h.c.Progress("etcd.catch-up", func() error {
		for i := 0; i < h.n; i++ {
			if got := h.chk.LastApplied(i); got < mark {
				return fmt.Errorf("server %d applied up to %d, behind index %d committed before healing", i, got, mark)
			}
		}
		return nil
	})
	h.c.Check("etcd.metrics", func() error {
		s := h.chk.Stats()
		h.c.Metric("max_term", float64(s.MaxTerm))
		h.c.Metric("max_committed", float64(s.MaxCommitted))
		h.c.Metric("proposals", float64(h.proposals))
		return nil
	})
}
