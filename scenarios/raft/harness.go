// Package raft registers dsim's Raft scenarios (raft/...): one per test of
// the MIT 6.5840 Raft lab tester (LABS.md §2.3), scripted in virtual time
// with the same bounds, and shapes no lab has (swarm faults, bridges, rings,
// one-way cuts, pauses, clock drift, torn writes), plus unsafe variants that
// dsim must catch; each unsafe variant's adversarial schedule also runs as a
// safe scenario of the default campaign (unsafe.go).
//
// Every server reports to raftcheck's Checker, white-box reports included
// (raft.Auditor: raw logs, matchIndex, votes and acknowledgements with the
// disk's unsynced writes), so Log Matching, Leader Completeness, matchIndex
// and sync-before-promise are checked online in every scenario, with or
// without Raft's own assertions (raft.assertions).
//
// Lab scenarios run their script from time zero and stop the run when it
// ends; a script still running at the scenario's Duration fails
// "raft.script". Where dsim differs from the lab tester:
//   - message budgets (Count3B) are twice the lab's RPC budgets: a
//     message-passing Raft sends a request and a reply per RPC;
//   - long reordering (Figure8Unreliable3C) holds two thirds of the replies
//     200 ms to 2.2 s at the receiving host, as the lab delays replies only;
//   - nCommitted counts running servers only, and a server that resumed
//     from a snapshot counts as having applied everything it covers;
//   - the hosted service's snapshot encodes its index only.
//
// The shapes every hosted Raft shares (swarm, halves, bridge, ring,
// one-way, leader isolation, crash-restart, churn), their client, the
// liveness phase and the metrics come from scenarios/raftshape, which the
// harness serves as a raftshape.Host (shapehost.go): examples/etcdraft runs
// the same ones over etcd raft, with the same plan from the same seed.
//
// It may import sim, scenarios (raftshape included), checkers and
// nodes/raft.
package raft

import (
	"fmt"
	"strconv"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/scenarios/raftshape"
	"github.com/smilingraft/dsim/sim"
)

// Variant keys every raft scenario accepts.
const (
	kServers     = "raft.servers"
	kElectionMin = "raft.election_min_ms"
	kElectionMax = "raft.election_max_ms"
	kHeartbeat   = "raft.heartbeat_ms"
	kPreVote     = "raft.prevote"
	kCheckQuorum = "raft.checkquorum"
	kFastBackup  = "raft.fast_backup"
	kMaxEntries  = "raft.max_entries"
	kRead        = "raft.read"
	kUnsafeFig8  = "raft.unsafe_commit_prior_term"
	kUnsafeLease = "raft.unsafe_lease"
	kUnsafeRead  = "raft.unsafe_read_before_term_commit"
	kAssertions  = "raft.assertions"
)

// params returns the variant keys of a raft scenario; servers > 0 adds
// raft.servers with that default. over replaces defaults by key.
func params(servers int, over map[string]string) []scenarios.Param {
	ps := []scenarios.Param{
		{Key: kElectionMin, Default: "300", Doc: "minimum election timeout, ms", Range: scenarios.Span(1, 60_000)},
		{Key: kElectionMax, Default: "600", Doc: "maximum election timeout, ms", Range: scenarios.Span(1, 60_000),
			AtLeastKey: kElectionMin},
		{Key: kHeartbeat, Default: "100", Doc: "heartbeat interval, ms (below the minimum election timeout)",
			Range: scenarios.Span(1, 60_000), BelowKey: kElectionMin},
		{Key: kPreVote, Default: "false", Doc: "PreVote phase before elections"},
		{Key: kCheckQuorum, Default: "false", Doc: "leaders step down without a quorum of recent acks"},
		{Key: kFastBackup, Default: "true", Doc: "per-term nextIndex backtracking"},
		{Key: kMaxEntries, Default: "64", Doc: "entries per AppendEntries (0: 64)", Range: scenarios.Span(0, 1_000_000)},
		{Key: kRead, Default: "log", Doc: "read path: log | readindex | lease", Enum: []string{"log", "readindex", "lease"}},
		{Key: kUnsafeFig8, Default: "false", Doc: "UNSAFE: commit prior-term entries by counting replicas (Figure 8 bug)"},
		{Key: kUnsafeLease, Default: "false", Doc: "UNSAFE: lease reads trust the local (drifting) clock"},
		{Key: kUnsafeRead, Default: "false", Doc: "UNSAFE: a new leader answers ReadIndex before an entry of its term commits"},
		{Key: kAssertions, Default: "true", Doc: "Raft's internal invariant assertions; false leaves bugs to dsim's checkers alone"},
	}
	if servers > 0 {
		ps = append([]scenarios.Param{{Key: kServers, Default: strconv.Itoa(servers), Doc: "number of Raft servers",
			Range: scenarios.Span(1, 15)}}, ps...)
	}
	for i := range ps {
		if v, ok := over[ps[i].Key]; ok {
			ps[i].Default = v
		}
	}
	return ps
}

// harness is the lab tester's world: n Raft servers hosted by host,
// a connectivity map the script changes, the checker, and what every
// current incarnation applied.
type harness struct {
	c    *scenarios.Cluster
	w    *sim.World
	n    int
	ids  []sim.NodeID
	chk  *raftcheck.Checker
	conn []bool
	// applied[i] is what server i's current incarnation applied; base[i] is
	// the snapshot index it resumed from (everything <= base is applied).
	applied []appliedCmds
	base    []uint64
	maxIdx  []uint64
	// snapEvery makes the hosted service snapshot like the 3D tester.
	snapEvery int
	done      bool
	maxState  int // largest raft state seen (bytes)
	// longReorder turns on the lab's long reordering: two thirds of the
	// replies reach Raft 200 ms to 2.2 s late (drawn from reorderRand).
	longReorder bool
	reorderRand *sim.Rand
	at          string // the step the script is in, for a stuck script
	// committed is the highest index any leader committed; commitsUF
	// counts the commands first committed, readsUF the linearizable reads
	// served, while a fault was active: together, the work under faults.
	committed          uint64
	commitsUF, readsUF int
	// m observes availability and latency for the run's metrics.
	m *raftshape.Recorder
}

// appliedCmds is what one incarnation applied, by index: a dense slice
// from the first index it applied (a server applies in index order, so a
// map would only cost hashing and rehashing).
type appliedCmds struct {
	n    int    // indices recorded
	from uint64 // the index of cmds[0]
	cmds [][]byte
	have []bool
}

// put records cmd as applied at index.
func (a *appliedCmds) put(index uint64, cmd []byte) {
	if a.n == 0 {
		a.from, a.cmds, a.have = index, a.cmds[:0], a.have[:0]
	}
	if index < a.from {
		// Before the first index seen (not in index order): shift.
		k := int(a.from - index)
		a.cmds = append(make([][]byte, k, k+len(a.cmds)), a.cmds...)
		a.have = append(make([]bool, k, k+len(a.have)), a.have...)
		a.from = index
	}
	k := int(index - a.from)
	for len(a.cmds) <= k {
		a.cmds = append(a.cmds, nil)
		a.have = append(a.have, false)
	}
	if !a.have[k] {
		a.n++
	}
	a.cmds[k], a.have[k] = cmd, true
}

// get returns the command applied at index, if any.
func (a *appliedCmds) get(index uint64) ([]byte, bool) {
	if a.n == 0 || index < a.from || index-a.from >= uint64(len(a.cmds)) {
		return nil, false
	}
	k := index - a.from
	return a.cmds[k], a.have[k]
}

// hooks forwards a server's observer calls to the checker and records the
// applied commands for nCommitted.
type hooks struct {
	h *harness
	i int
}

func (o hooks) BecameLeader(server int, term uint64) {
	o.h.chk.BecameLeader(server, term)
	o.h.m.BecameLeader()
	o.h.w.Note("s%d became leader in term %d", server, term)
}

func (o hooks) Applied(server int, index, term uint64, cmd []byte) {
	o.h.chk.Applied(server, index, term, cmd)
	h := o.h
	if h.applied[server].n == 0 && h.base[server] == 0 && index > 1 {
		// Resumed from a snapshot loaded at restart.
		h.base[server] = index - 1
	}
	h.applied[server].put(index, cmd)
	if index > h.maxIdx[server] {
		h.maxIdx[server] = index
	}
}

func (o hooks) SnapshotInstalled(server int, index, term uint64) {
	o.h.chk.SnapshotInstalled(server, index, term)
	h := o.h
	if r := h.rf(server); r != nil {
		h.m.Snapshot(len(r.SnapshotData()))
	}
	if index > h.base[server] {
		h.base[server] = index
	}
	if index > h.maxIdx[server] {
		h.maxIdx[server] = index
	}
}

// Snapshotted: the service took a snapshot through index (Raft's optional
// observer extension).
func (o hooks) Snapshotted(server int, index uint64) {
	o.h.chk.Snapshotted(server, index)
	if r := o.h.rf(server); r != nil {
		o.h.m.Snapshot(len(r.SnapshotData()))
	}
}

func (o hooks) Committed(server int, index, term uint64, cmd []byte) {
	o.h.chk.Committed(server, index, term, cmd)
	o.h.noteCommit(index, term, cmd)
}

// noteCommit counts the work done under faults: a command (no-ops aside)
// committed for the first time, cluster-wide, while a fault is active. A
// new leader that learns of older commits reports them again; those are
// not counted twice.
func (h *harness) noteCommit(index, term uint64, cmd []byte) {
	if index <= h.committed {
		return
	}
	h.committed = index
	h.m.Committed(index, term, cmd)
	if len(cmd) == 0 || !h.w.FaultActive() {
		return
	}
	h.commitsUF++
	h.c.Metric("commits_under_faults", float64(h.commitsUF))
	h.c.Metric(scenarios.WorkUnderFaults, float64(h.commitsUF+h.readsUF))
}

// endRead reports a served read to the checker (raftcheck's EndRead) and
// counts it as work under faults when a fault is active: in read scenarios
// the reads are the work.
func (h *harness) endRead(server int, st raftcheck.ReadStart, index uint64) {
	h.chk.EndRead(server, st, index)
	if !h.w.FaultActive() {
		return
	}
	h.readsUF++
	h.c.Metric("reads_under_faults", float64(h.readsUF))
	h.c.Metric(scenarios.WorkUnderFaults, float64(h.commitsUF+h.readsUF))
}

// The raft.Auditor extension: white-box reports of the servers' own state,
// checked by the same checker (which implements it itself, so other hosts
// may embed a *raftcheck.Checker in their observer).
var (
	_ raft.Auditor       = hooks{}
	_ raft.Auditor       = (*raftcheck.Checker)(nil)
	_ raft.CommitAuditor = hooks{}
	_ raft.CommitAuditor = (*raftcheck.Checker)(nil)
)

// LogAppended forwards to the checker (raft.Auditor).
func (o hooks) LogAppended(server int, index, term, prevTerm uint64, cmd []byte, noop bool) {
	o.h.chk.LogAppended(server, index, term, prevTerm, cmd, noop)
	if t, lead := o.h.state(server); lead && t == term && !noop && len(cmd) > 0 && index > o.h.committed {
		o.h.m.Started(index, term, cmd)
	}
}

// LogBase forwards to the checker (raft.Auditor).
func (o hooks) LogBase(server int, index, term, last uint64) {
	o.h.chk.LogBase(server, index, term, last)
}

// MatchAdvanced forwards to the checker (raft.Auditor).
func (o hooks) MatchAdvanced(leader int, term uint64, peer int, match uint64) {
	o.h.chk.MatchAdvanced(leader, term, peer, match)
}

// VoteGranted forwards to the checker (raft.Auditor).
func (o hooks) VoteGranted(server int, term uint64, candidate int, diskTerm uint64, diskVote int, unsynced []sim.DiskOp) {
	o.h.chk.VoteGranted(server, term, candidate, diskTerm, diskVote, unsynced)
}

// Acknowledged forwards to the checker (raft.Auditor).
func (o hooks) Acknowledged(server int, term, match uint64, unsynced []sim.DiskOp) {
	o.h.chk.Acknowledged(server, term, match, unsynced)
}

func (o hooks) LeaderCommitted(leader int, term, index, durable uint64, quorum int) {
	o.h.chk.LeaderCommitted(leader, term, index, durable, quorum)
}

func (o hooks) FollowerCommitted(server int, term, commit, verified uint64) {
	o.h.chk.FollowerCommitted(server, term, commit, verified)
}

// config returns server i's Raft configuration from the variant.
func (h *harness) config(i int) raft.Config { return Config(h.c, i, h.ids, hooks{h, i}) }

// Params returns the raft.* variant keys, for scenarios of systems built on
// Raft; servers > 0 adds raft.servers with that default, and over replaces
// defaults by key.
func Params(servers int, over map[string]string) []scenarios.Param { return params(servers, over) }

// Config returns the Raft configuration of server me among peers from the
// cluster's raft.* variant keys (declared with Params), reporting to obs.
// An obs that also implements raft.Auditor (forwarding to a
// raftcheck.Checker) gets the white-box checks too.
func Config(c *scenarios.Cluster, me int, peers []sim.NodeID, obs raft.Observer) raft.Config {
	peers = append([]sim.NodeID(nil), peers...)
	return raft.Config{
		Me:                         me,
		Peers:                      peers,
		ElectionMin:                sim.Duration(c.Int(kElectionMin)) * sim.Millisecond,
		ElectionMax:                sim.Duration(c.Int(kElectionMax)) * sim.Millisecond,
		Heartbeat:                  sim.Duration(c.Int(kHeartbeat)) * sim.Millisecond,
		PreVote:                    c.Bool(kPreVote),
		CheckQuorum:                c.Bool(kCheckQuorum),
		FastBackup:                 c.Bool(kFastBackup),
		MaxEntries:                 c.Int(kMaxEntries),
		ReadMode:                   c.String(kRead),
		Observer:                   obs,
		NoAssertions:               !c.Bool(kAssertions),
		UnsafeCommitPriorTerm:      c.Bool(kUnsafeFig8),
		UnsafeLeaseTrustsClock:     c.Bool(kUnsafeLease),
		UnsafeReadBeforeTermCommit: c.Bool(kUnsafeRead),
	}
}

// Network behaviours of the lab tester.
var (
	// reliable: no drops, short delays, FIFO links.
	reliable = sim.NetOptions{DelayMin: 100 * sim.Microsecond, DelayMax: 2 * sim.Millisecond}
	// unreliable: 10% of every message dropped, up to 27 ms delay, no FIFO.
	unreliable = sim.NetOptions{DelayMax: 27 * sim.Millisecond, Loss: sim.R(1, 10), Reorder: sim.R(1, 2)}
)

// newHarness builds n servers on the given network and declares them as
// the fault targets. snapEvery > 0 makes the service snapshot after every
// index i with (i+1) % snapEvery == 0, like the 3D tester.
func newHarness(c *scenarios.Cluster, n int, net sim.NetOptions, snapEvery int) (*harness, error) {
	if n < 1 || n > 15 {
		return nil, fmt.Errorf("raft: servers must be 1..15, got %d", n)
	}
	if c.Int(kElectionMin) <= 0 || c.Int(kElectionMax) < c.Int(kElectionMin) || c.Int(kHeartbeat) <= 0 {
		return nil, fmt.Errorf("raft: want 0 < %s <= %s and %s > 0", kElectionMin, kElectionMax, kHeartbeat)
	}
	switch c.String(kRead) {
	case "log", "readindex", "lease":
	default:
		return nil, fmt.Errorf("raft: %s must be log, readindex or lease", kRead)
	}
	h := &harness{c: c, w: c.W, n: n, snapEvery: snapEvery,
		conn: make([]bool, n), applied: make([]appliedCmds, n),
		base: make([]uint64, n), maxIdx: make([]uint64, n)}
	h.chk = raftcheck.New(c.W.Fail)
	h.reorderRand = c.W.Rand("raft/long-reorder")
	c.W.SetNet(net)
	// Node ids are assigned in order, so the peers list is known up front.
	first := sim.NodeID(c.W.NumNodes())
	for i := 0; i < n; i++ {
		h.ids = append(h.ids, first+sim.NodeID(i))
	}
	for i := 0; i < n; i++ {
		i := i
		id := c.W.AddNode(fmt.Sprintf("s%d", i), func() sim.Node {
			h.chk.Restarted(i)
			h.applied[i] = appliedCmds{}
			h.base[i] = 0
			h.maxIdx[i] = 0
			return &host{cfg: h.config(i), snapEvery: snapEvery, hold: h.hold}
		})
		if id != h.ids[i] {
			return nil, fmt.Errorf("raft: node ids not contiguous")
		}
		h.conn[i] = true
	}
	c.Servers(h.ids...)
	c.Metric("commits_under_faults", 0)
	c.Metric("reads_under_faults", 0)
	c.Metric(scenarios.WorkUnderFaults, 0)
	h.observe()
	c.Check("raft.script", func() error {
		if !h.done && h.at != "" {
			return fmt.Errorf("script did not finish within %v; stuck at: %s", c.Scenario.Duration, h.at)
		}
		return nil
	})
	return h, nil
}

// hold draws how long a reply is held under long reordering: with chance
// 600/900, 200 + U[0, 1+U[0,2000)) ms, like the lab's network.
func (h *harness) hold() sim.Duration {
	if !h.longReorder {
		return 0
	}
	r := h.reorderRand
	if r.Intn(900) >= 600 {
		return 0
	}
	return sim.Duration(200+r.Intn(1+r.Intn(2000))) * sim.Millisecond
}

// rf returns server i's Raft, or nil while it is crashed.
func (h *harness) rf(i int) *raft.Raft {
	n, ok := h.w.Node(h.ids[i]).(*host)
	if !ok || n == nil {
		return nil
	}
	return n.r
}

// state returns server i's (term, isLeader); a crashed server is neither.
func (h *harness) state(i int) (uint64, bool) {
	r := h.rf(i)
	if r == nil {
		return 0, false
	}
	return r.State()
}

// up reports whether server i runs and is connected.
func (h *harness) up(i int) bool { return h.conn[i] && h.w.Up(h.ids[i]) }

// ---- connectivity, the lab tester's way ----

// disconnect cuts server i off from every other server, both ways.
func (h *harness) disconnect(i int) {
	h.conn[i] = false
	h.w.Isolate(h.ids[i], h.ids)
}

// connect restores server i's links to every connected server.
func (h *harness) connect(i int) {
	h.conn[i] = true
	for j := 0; j < h.n; j++ {
		if j != i && h.conn[j] {
			h.w.Connect(h.ids[i], h.ids[j])
			h.w.Connect(h.ids[j], h.ids[i])
		}
	}
}

// crash disconnects and kills server i (its disk survives).
func (h *harness) crash(i int) {
	h.disconnect(i)
	h.w.Crash(h.ids[i])
}

// restart boots a fresh incarnation of server i from its disk; like the
// lab's start1 it stays disconnected until connect.
func (h *harness) restart(i int) {
	h.crash(i)
	h.w.Restart(h.ids[i])
}

// fail stops the run with a named lab check.
func (h *harness) fail(checker, format string, args ...any) {
	h.w.Fail(checker, format, args...)
}

// nCommitted counts the servers whose current incarnation applied index,
// and returns the command there.
func (h *harness) nCommitted(index uint64) (int, []byte) {
	count := 0
	var cmd []byte
	for i := 0; i < h.n; i++ {
		if !h.w.Up(h.ids[i]) {
			continue
		}
		if c, ok := h.applied[i].get(index); ok {
			count++
			cmd = c
		} else if index <= h.base[i] {
			count++
			if c, ok := h.chk.CommandAt(index); ok {
				cmd = c
			}
		}
	}
	return count, cmd
}
