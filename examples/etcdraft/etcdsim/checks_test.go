package etcdsim

import (
	"fmt"
	"io"
	"log"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/sim"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// failures records what a checker reported.
type failures struct{ got []string }

func (f *failures) fail(checker, format string, args ...any) {
	f.got = append(f.got, checker+": "+fmt.Sprintf(format, args...))
}

// expect asserts exactly one failure of checker was reported (and resets).
func (f *failures) expect(t *testing.T, checker, what string) {
	t.Helper()
	if len(f.got) != 1 || !strings.HasPrefix(f.got[0], checker+": ") {
		t.Fatalf("%s: want one %s failure, got %q", what, checker, f.got)
	}
	t.Logf("%s: %s", what, f.got[0])
	f.got = nil
}

// none asserts nothing was reported.
func (f *failures) none(t *testing.T, what string) {
	t.Helper()
	if len(f.got) != 0 {
		t.Fatalf("%s: false alarm %q", what, f.got)
	}
}

func conf(voters, learners, outgoing, next []uint64, auto bool) *pb.ConfState {
	cs := &pb.ConfState{Voters: voters, Learners: learners, VotersOutgoing: outgoing, LearnersNext: next}
	pbSetBool(&cs.AutoLeave, auto)
	return cs
}

func ids(x ...uint64) []uint64 { return x }

func TestConfAgree(t *testing.T) {
	var f failures
	m := NewMemberCheck(f.fail)
	m.ConfApplied(0, 5, 2, conf(ids(1, 2, 3), ids(4), nil, nil, false))
	m.ConfApplied(1, 5, 2, conf(ids(3, 1, 2), ids(4), nil, nil, false)) // same sets, other order
	m.NormalApplied(1, 6, 2)
	m.NormalApplied(2, 6, 2)
	f.none(t, "same configuration")

	m.ConfApplied(2, 5, 2, conf(ids(1, 2, 3, 4), nil, nil, nil, false))
	f.expect(t, CheckConfAgree, "different ConfState at one index")
	m.ConfApplied(2, 5, 2, conf(ids(1, 2, 3), ids(4), ids(1, 2, 3), nil, false))
	f.expect(t, CheckConfAgree, "joint on one server only")
	m.ConfApplied(0, 7, 2, conf(ids(1, 2), nil, ids(1, 2, 3), nil, true))
	m.ConfApplied(1, 7, 2, conf(ids(1, 2), nil, ids(1, 2, 3), nil, false))
	f.expect(t, CheckConfAgree, "auto-leave differs")

	m.NormalApplied(2, 5, 2)
	f.expect(t, CheckConfAgree, "normal entry where another applied a conf change")
	m.ConfApplied(0, 6, 2, conf(ids(1, 2, 3), nil, nil, nil, false))
	f.expect(t, CheckConfAgree, "conf change where another applied a normal entry")

	m.ConfApplied(0, 9, 3, conf(ids(1, 2), ids(2), nil, nil, false))
	f.expect(t, CheckConfValid, "learner and voter")
	m.ConfApplied(0, 9, 3, conf(ids(1, 2), nil, nil, ids(3), false))
	f.expect(t, CheckConfValid, "learners next outside joint")

	// Snapshots carry the configuration of the last conf change below them.
	m.SnapshotConf(3, 6, conf(ids(1, 2, 3), ids(4), nil, nil, false))
	m.SnapshotConf(3, 4, conf(ids(1), nil, nil, nil, false)) // before any known conf change
	f.none(t, "snapshot configurations")
	m.SnapshotConf(3, 6, conf(ids(1, 2, 3), nil, nil, nil, false))
	f.expect(t, CheckConfAgree, "snapshot with a stale configuration")
}

func TestOneConfChange(t *testing.T) {
	var f failures
	m := NewMemberCheck(f.fail)
	// Good: 12 appended once 10 was applied.
	m.LeaderAppendedConf(0, 2, 10, 8)
	m.LeaderAppendedConf(0, 2, 12, 10)
	m.ConfCommitted(10, 2)
	m.ConfCommitted(12, 2)
	m.ConfCommitted(12, 2) // reported again
	// A refused one never committed as a conf change does not count.
	m.LeaderAppendedConf(1, 3, 20, 12)
	m.ConfCommitted(20, 3)
	f.none(t, "one at a time")

	// Bad: 32 appended while 30 was unapplied.
	m.LeaderAppendedConf(1, 4, 30, 25)
	m.LeaderAppendedConf(1, 4, 32, 29)
	m.ConfCommitted(30, 4)
	m.ConfCommitted(32, 4)
	f.expect(t, CheckOneConfChange, "second conf change appended before the first applied")

	// Bad, commits reported out of order.
	m = NewMemberCheck(f.fail)
	m.LeaderAppendedConf(1, 4, 30, 25)
	m.LeaderAppendedConf(2, 5, 32, 29)
	m.ConfCommitted(32, 5)
	f.none(t, "only the later one known committed yet")
	m.ConfCommitted(30, 4)
	f.expect(t, CheckOneConfChange, "earlier conf change committed later")
}

func TestQuorum(t *testing.T) {
	var f failures
	m := NewMemberCheck(f.fail)
	three := conf(ids(1, 2, 3), nil, nil, nil, false)
	m.LeaderCommit(0, 2, 10, map[uint64]uint64{1: 10, 2: 10, 3: 5}, three)
	m.LeaderCommit(0, 2, 10, map[uint64]uint64{1: 12, 2: 3, 3: 10}, three)
	f.none(t, "majority matched")
	m.LeaderCommit(0, 2, 11, map[uint64]uint64{1: 12, 2: 10, 3: 5}, three)
	f.expect(t, CheckQuorum, "commit above the majority")

	// A learner never counts: only counting 4 would reach 10.
	withLearner := conf(ids(1, 2, 3), ids(4), nil, nil, false)
	m.LeaderCommit(0, 2, 10, map[uint64]uint64{1: 10, 2: 5, 3: 5, 4: 10}, withLearner)
	f.expect(t, CheckQuorum, "learner counted")
	m.LeaderCommit(0, 2, 5, map[uint64]uint64{1: 10, 2: 5, 3: 5, 4: 10}, withLearner)
	f.none(t, "learner present, not counted")

	// A removed peer never counts: 4 was removed, only its old Match
	// would reach 10; if the leader still tracks it, that alone is wrong.
	m.LeaderCommit(0, 3, 10, map[uint64]uint64{1: 10, 2: 5, 3: 5}, three)
	f.expect(t, CheckQuorum, "removed peer counted")
	m.LeaderCommit(0, 3, 5, map[uint64]uint64{1: 10, 2: 5, 3: 5, 4: 10}, three)
	f.expect(t, CheckQuorum, "removed peer still tracked")

	// Joint: both halves need a majority.
	joint := conf(ids(1, 2, 3), nil, ids(1, 4, 5), nil, false)
	ms := map[uint64]uint64{1: 10, 2: 10, 3: 10, 4: 2, 5: 2}
	m.LeaderCommit(0, 4, 2, ms, joint)
	f.none(t, "joint, both halves")
	m.LeaderCommit(0, 4, 10, ms, joint)
	f.expect(t, CheckQuorum, "joint, outgoing half lacks a quorum")
	ms = map[uint64]uint64{1: 10, 2: 2, 3: 2, 4: 10, 5: 10}
	m.LeaderCommit(0, 4, 10, ms, joint)
	f.expect(t, CheckQuorum, "joint, incoming half lacks a quorum")
	// Demotion in a joint config: 3 is a next learner, still an outgoing voter.
	demote := conf(ids(1, 2), nil, ids(1, 2, 3), ids(3), false)
	m.LeaderCommit(0, 4, 10, map[uint64]uint64{1: 10, 2: 10, 3: 0}, demote)
	f.none(t, "next learner tracked")
}

func TestProgressCheck(t *testing.T) {
	var f failures
	p := NewProgressCheck(f.fail)
	p.Observe(0, 2, 10, map[uint64]Progress{1: {10, 11, "StateReplicate"}, 2: {8, 11, "StateReplicate"}, 3: {0, 5, "StateProbe"}})
	p.Observe(0, 2, 12, map[uint64]Progress{1: {12, 13, "StateReplicate"}, 2: {9, 13, "StateReplicate"}})
	// 3 dropped and added back starts fresh; 2 again at 9.
	p.Observe(0, 2, 12, map[uint64]Progress{1: {12, 13, "StateReplicate"}, 2: {9, 10, "StateProbe"}, 3: {0, 1, "StateProbe"}})
	// A new term starts fresh.
	p.Observe(0, 3, 12, map[uint64]Progress{1: {12, 13, "StateReplicate"}, 2: {0, 13, "StateProbe"}})
	p.Observe(0, 3, 0, map[uint64]Progress{1: {13, 14, "StateReplicate"}, 2: {0, 13, "StateProbe"}}) // last index unknown
	f.none(t, "good progress")

	p.Observe(0, 3, 13, map[uint64]Progress{1: {13, 14, "StateReplicate"}, 2: {0, 0, "StateProbe"}})
	f.expect(t, CheckProgress, "Next <= Match")
	p.Observe(0, 3, 13, map[uint64]Progress{1: {13, 14, "StateReplicate"}, 2: {6, 7, "StateReplicate"}})
	p.Observe(0, 3, 13, map[uint64]Progress{1: {13, 14, "StateReplicate"}, 2: {5, 7, "StateReplicate"}})
	f.expect(t, CheckProgress, "Match backwards")
	p.Observe(0, 3, 14, map[uint64]Progress{1: {13, 14, "StateReplicate"}, 2: {5, 7, "StateReplicate"}})
	f.expect(t, CheckProgress, "leader's own Match behind its log")
	p.Observe(0, 3, 14, map[uint64]Progress{1: {14, 15, "StateReplicate"}, 2: {15, 16, "StateReplicate"}})
	f.expect(t, CheckProgress, "Match beyond the leader's log")
	// The smallest offending ID is named whatever the map order.
	p.Observe(1, 5, 0, map[uint64]Progress{1: {3, 3, ""}, 2: {4, 4, ""}, 3: {5, 5, ""}, 4: {6, 6, ""}})
	if len(f.got) != 1 || !strings.Contains(f.got[0], "peer 1 ") {
		t.Fatalf("want peer 1 named, got %q", f.got)
	}
	f.got = nil
}

func TestAnomalies(t *testing.T) {
	var f failures
	ms := sim.Time(sim.Millisecond)
	b := DefaultAnomalyBounds(3)
	if b.ElectionsAfterHeal != 2 || b.TermGrowthAfterHeal != 4 {
		t.Fatalf("default bounds for 3: %+v", b)
	}

	a := NewAnomalies(f.fail, b)
	for term := uint64(1); term < 30; term++ { // churn in the fault phase
		a.Elected(int(term%3), term, sim.Time(term)*ms)
	}
	a.Term(2, 33, 40*ms) // a stale higher term from the fault phase
	a.Healed(50*ms, true)
	a.Elected(0, 31, 60*ms)
	a.Elected(0, 31, 61*ms) // the same election reported twice
	a.Elected(1, 34, 80*ms) // deposed by the stale term
	a.Finish(1000 * ms)
	f.none(t, "one disruption after the heal")
	if e, g := a.Stats(); e != 1 || g != 1 {
		t.Fatalf("stats %d %d", e, g)
	}

	a = NewAnomalies(f.fail, b)
	a.Healed(0, true)
	for i := 0; i < 4; i++ {
		a.Elected(i%3, uint64(5+i), sim.Time(i+1)*ms)
	}
	a.Finish(100 * ms)
	f.expect(t, CheckStableElections, "three elections after the first")

	a = NewAnomalies(f.fail, b)
	a.Healed(0, true)
	a.Elected(0, 5, ms)
	a.Term(1, 10, 2*ms)
	a.Finish(100 * ms)
	f.expect(t, CheckStableElections, "term inflation")

	a = NewAnomalies(f.fail, b)
	a.Healed(0, false) // PreVote off somewhere: not enforced
	for i := 0; i < 10; i++ {
		a.Elected(i%3, uint64(5+i), sim.Time(i+1)*ms)
	}
	a.Finish(100 * ms)
	f.none(t, "unstable configuration")
}

// BenchmarkChecks measures the per-Ready cost of the hot calls.
func BenchmarkChecks(b *testing.B) {
	var f failures
	m := NewMemberCheck(f.fail)
	p := NewProgressCheck(f.fail)
	cs := conf(ids(1, 2, 3, 4, 5), ids(6), nil, nil, false)
	ms := map[uint64]uint64{1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0}
	pr := map[uint64]Progress{}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c := uint64(i + 1)
		for id := uint64(1); id <= 6; id++ {
			ms[id] = c
			pr[id] = Progress{Match: c, Next: c + 1, State: "StateReplicate"}
		}
		m.NormalApplied(0, c, 1)
		m.LeaderCommit(0, 1, c, ms, cs)
		p.Observe(0, 1, c, pr)
	}
	if len(f.got) > 0 {
		b.Fatal(f.got)
	}
}

// tnode is one RawNode of the in-memory test cluster.
type tnode struct {
	rn     *raft.RawNode
	st     *raft.MemoryStorage
	cs     *pb.ConfState
	leader bool
	commit uint64
}

// tcluster drives real etcd raft RawNodes and feeds the checkers the way
// a host does. It reaches raftpb only through the pbcompat helpers, so it
// builds against etcd raft v3.6 and v3.7 (go.v37.mod) alike. Tests run it
// under withEntropy, so etcd's election jitter comes from a seeded stream
// and every run takes the same path.
type tcluster struct {
	t     *testing.T
	nodes []*tnode
	queue []*pb.Message
	cut   map[uint64]bool
	now   sim.Time
	// brokenFollowers makes followers treat conf changes as normal
	// entries (a broken host that only applies them on the leader).
	brokenFollowers bool
	// stepped, if set, sees every message after its receiver handled it.
	stepped func(m *pb.Message)

	f       failures
	member  *MemberCheck
	prog    *ProgressCheck
	anom    *Anomalies
	matches map[uint64]uint64
	pr      map[uint64]Progress
	counts  map[string]int
}

func newTCluster(t *testing.T, n, voters int) *tcluster {
	c := &tcluster{t: t, cut: map[uint64]bool{}, matches: map[uint64]uint64{}, pr: map[uint64]Progress{}, counts: map[string]int{}}
	c.member = NewMemberCheck(c.f.fail)
	c.prog = NewProgressCheck(c.f.fail)
	c.anom = NewAnomalies(c.f.fail, DefaultAnomalyBounds(n))
	var vs []uint64
	for id := 1; id <= voters; id++ {
		vs = append(vs, uint64(id))
	}
	logger := &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}
	for id := uint64(1); id <= uint64(n); id++ {
		st := raft.NewMemoryStorage()
		nd := &tnode{st: st, cs: &pb.ConfState{}}
		if int(id) <= voters {
			nd.cs = &pb.ConfState{Voters: vs}
			if err := pbCallSnapshot(st.ApplySnapshot, pbNewSnapshot(1, 1, nd.cs, nil)); err != nil {
				t.Fatal(err)
			}
			c.member.SnapshotConf(int(id-1), 1, nd.cs)
		}
		rn, err := raft.NewRawNode(&raft.Config{
			ID: id, ElectionTick: 10, HeartbeatTick: 1, Storage: st,
			MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 64,
			PreVote: true, CheckQuorum: true, Logger: logger,
		})
		if err != nil {
			t.Fatal(err)
		}
		nd.rn = rn
		c.nodes = append(c.nodes, nd)
	}
	return c
}

// handle drains node i's Ready loop, feeding the checkers.
func (c *tcluster) handle(i int) {
	nd := c.nodes[i]
	for nd.rn.HasReady() {
		rd := nd.rn.Ready()
		bs := nd.rn.BasicStatus()
		term := pbU64(pbHardState(&bs.HardState).Term)
		if rd.SoftState != nil {
			lead := rd.SoftState.RaftState == raft.StateLeader
			if lead && !nd.leader {
				c.anom.Elected(i, term, c.now)
				c.counts["elected"]++
			}
			nd.leader = lead
		}
		hs := pbHardState(&rd.HardState)
		if !pbIsEmptyHardState(hs) {
			c.anom.Term(i, pbU64(hs.Term), c.now)
			if commit := pbU64(hs.Commit); nd.leader && commit > nd.commit {
				// Before this Ready's entries are applied: the tracker
				// counted with the ConfState of the last ApplyConfChange.
				ReadMatches(nd.rn, c.matches)
				c.member.LeaderCommit(i, term, commit, c.matches, nd.cs)
				c.counts["commit"]++
			}
			nd.commit = max(nd.commit, pbU64(hs.Commit))
		}
		if nd.leader {
			for k := range rd.Entries {
				if e := pbEntryAt(rd.Entries, k); pbEntryType(e.Type) != pb.EntryNormal {
					c.member.LeaderAppendedConf(i, pbU64(e.Term), pbU64(e.Index), bs.Applied)
					c.counts["appended-conf"]++
				}
			}
		}
		if snap := pbSnapshot(&rd.Snapshot); !pbIsEmptySnap(snap) {
			if err := pbCallSnapshot(nd.st.ApplySnapshot, snap); err != nil {
				c.t.Fatal(err)
			}
			m := pbMeta(snap)
			nd.cs = pbConfState(&m.ConfState)
			c.member.SnapshotConf(i, pbU64(m.Index), nd.cs)
			c.counts["snapshot"]++
		}
		if err := nd.st.Append(rd.Entries); err != nil {
			c.t.Fatal(err)
		}
		if !pbIsEmptyHardState(hs) {
			if err := pbSetStorageHardState(nd.st, hs); err != nil {
				c.t.Fatal(err)
			}
		}
		for k := range rd.Messages {
			c.queue = append(c.queue, pbMsgAt(rd.Messages, k))
		}
		confs := false
		for k := range rd.CommittedEntries {
			e := pbEntryAt(rd.CommittedEntries, k)
			index, eterm := pbU64(e.Index), pbU64(e.Term)
			var cc pb.ConfChangeI
			switch pbEntryType(e.Type) {
			case pb.EntryConfChange:
				x := new(pb.ConfChange)
				if err := pbUnmarshal(e.Data, x); err != nil {
					c.t.Fatal(err)
				}
				cc = x
			case pb.EntryConfChangeV2:
				x := new(pb.ConfChangeV2)
				if err := pbUnmarshal(e.Data, x); err != nil {
					c.t.Fatal(err)
				}
				cc = x
			}
			if cc == nil || (c.brokenFollowers && !nd.leader) {
				c.member.NormalApplied(i, index, eterm)
				continue
			}
			nd.cs = nd.rn.ApplyConfChange(cc)
			confs = true
			c.member.ConfCommitted(index, eterm)
			c.member.ConfApplied(i, index, eterm, nd.cs)
			c.counts["conf-applied"]++
			if len(nd.cs.VotersOutgoing) > 0 {
				c.counts["joint"]++
			}
		}
		// Snapshot and compact every few entries and after every conf
		// change (a snapshot sent to a new peer must hold that peer in its
		// configuration, or etcd refuses it).
		if k := len(rd.CommittedEntries); k > 0 {
			at := pbU64(pbEntryAt(rd.CommittedEntries, k-1).Index)
			snap, _ := nd.st.Snapshot()
			if at >= pbU64(pbMeta(pbSnapshot(&snap)).Index)+3 || confs {
				if _, err := nd.st.CreateSnapshot(at, nd.cs, nil); err != nil {
					c.t.Fatal(err)
				}
				if err := nd.st.Compact(at); err != nil {
					c.t.Fatal(err)
				}
			}
		}
		nd.rn.Advance(rd)
		if nd.rn.BasicStatus().RaftState == raft.StateLeader {
			last, err := nd.st.LastIndex()
			if err != nil {
				c.t.Fatal(err)
			}
			ReadProgress(nd.rn, c.pr)
			c.prog.Observe(i, term, last, c.pr)
			c.counts["progress"]++
		}
	}
}

// deliver steps queued messages until the network is quiet.
func (c *tcluster) deliver() {
	for steps := 0; len(c.queue) > 0; steps++ {
		if steps > 100000 {
			c.t.Fatal("messages never quiesce")
		}
		m := c.queue[0]
		c.queue = c.queue[1:]
		from, to := pbU64(m.From), pbU64(m.To)
		if c.cut[from] || c.cut[to] || to == 0 || int(to) > len(c.nodes) {
			continue
		}
		_ = pbStep(c.nodes[to-1].rn, m)
		c.handle(int(to - 1))
		if c.stepped != nil {
			c.stepped(m)
		}
		if pbMsgType(m.Type) == pb.MsgSnap {
			c.nodes[from-1].rn.ReportSnapshot(to, raft.SnapshotFinish)
			c.handle(int(from - 1))
		}
	}
}

// tick advances every node one tick and delivers.
func (c *tcluster) tick() {
	c.now = c.now.Add(10 * sim.Millisecond)
	for i, nd := range c.nodes {
		nd.rn.Tick()
		c.handle(i)
	}
	c.deliver()
}

func (c *tcluster) leader() int {
	best, bestTerm := -1, uint64(0)
	for i, nd := range c.nodes {
		bs := nd.rn.BasicStatus()
		if t := pbU64(pbHardState(&bs.HardState).Term); bs.RaftState == raft.StateLeader && !c.cut[uint64(i+1)] && t >= bestTerm {
			best, bestTerm = i, t
		}
	}
	return best
}

// until ticks until cond holds (at most 500 ticks).
func (c *tcluster) until(what string, cond func() bool) {
	c.t.Helper()
	for k := 0; k < 500; k++ {
		if cond() {
			return
		}
		c.tick()
	}
	c.t.Fatalf("never: %s", what)
}

// settled: every member not cut applied what the leader committed.
func (c *tcluster) settled() bool {
	l := c.leader()
	if l < 0 {
		return false
	}
	bs := c.nodes[l].rn.BasicStatus()
	want := pbU64(pbHardState(&bs.HardState).Commit)
	for i, nd := range c.nodes {
		if c.cut[uint64(i+1)] || !inConf(c.nodes[l].cs, uint64(i+1)) {
			continue
		}
		if nd.rn.BasicStatus().Applied < want {
			return false
		}
	}
	return true
}

// change proposes cc at the leader and waits until every member applied it.
func (c *tcluster) change(cc pb.ConfChangeI, check func(*pb.ConfState) bool) {
	c.t.Helper()
	l := c.leader()
	if err := c.nodes[l].rn.ProposeConfChange(cc); err != nil {
		c.t.Fatal(err)
	}
	c.handle(l)
	c.deliver()
	c.until(fmt.Sprintf("conf change %s applied", pb.ConfChangesToString(cc.AsV2().Changes)), func() bool {
		l := c.leader()
		return l >= 0 && check(c.nodes[l].cs) && c.settled()
	})
}

func (c *tcluster) propose(k int) {
	for j := 0; j < k; j++ {
		l := c.leader()
		_ = c.nodes[l].rn.Propose([]byte(fmt.Sprintf("x%d", j)))
		c.handle(l)
		c.deliver()
	}
}

func mustCC(t *testing.T, tr pb.ConfChangeTransition, changes string) *pb.ConfChangeV2 {
	t.Helper()
	cc, err := pbConfChangeV2(tr, changes)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// TestChecksRealEtcd drives real etcd raft RawNodes through learners,
// promotion, joint configurations entered and left (explicitly and
// automatically), a refused concurrent conf change, snapshots to new peers
// and partitions with their heal, feeding every checker: no false alarm.
func TestChecksRealEtcd(t *testing.T) {
	withEntropy(streamReader{sim.NewRand(22)}, func() { testChecksRealEtcdBody(t) })
}

func testChecksRealEtcdBody(t *testing.T) {
	c := newTCluster(t, 5, 3)
	if err := c.nodes[0].rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	c.handle(0)
	c.deliver()
	c.until("a leader", func() bool { return c.leader() >= 0 })
	c.propose(5)

	auto := pb.ConfChangeTransitionAuto
	c.change(mustCC(t, auto, "l4"), func(cs *pb.ConfState) bool { return has(cs.Learners, 4) })
	c.propose(3)
	// Promote 4 through the old ConfChange (V1) API.
	v1, err := pbConfChangeV1(pb.ConfChangeAddNode, 4)
	if err != nil {
		t.Fatal(err)
	}
	c.change(v1, func(cs *pb.ConfState) bool { return has(cs.Voters, 4) })
	// Joint, explicit leave: add 5, demote 3 to a learner.
	c.change(mustCC(t, pb.ConfChangeTransitionJointExplicit, "v5 l3"), func(cs *pb.ConfState) bool { return len(cs.VotersOutgoing) > 0 })
	// A second change while in the joint config is refused (a normal entry).
	l := c.leader()
	if err := c.nodes[l].rn.ProposeConfChange(mustCC(t, auto, "r2")); err != nil {
		t.Fatal(err)
	}
	c.handle(l)
	c.propose(2)
	c.change(mustCC(t, auto, ""), func(cs *pb.ConfState) bool { return len(cs.VotersOutgoing) == 0 && has(cs.Learners, 3) })
	// Joint, automatic leave: promote 3, remove 2.
	c.change(mustCC(t, pb.ConfChangeTransitionJointImplicit, "v3 r2"), func(cs *pb.ConfState) bool {
		return len(cs.VotersOutgoing) == 0 && has(cs.Voters, 3) && !has(cs.Voters, 2)
	})
	c.propose(5)

	// Partition a follower, then the leader, then heal.
	l = c.leader()
	f := uint64((l+1)%4) + 1
	if f == 2 {
		f = 5
	}
	c.cut[f] = true
	c.propose(5)
	for k := 0; k < 40; k++ {
		c.tick()
	}
	c.cut[uint64(c.leader()+1)] = true
	for k := 0; k < 60; k++ {
		c.tick()
	}
	c.cut = map[uint64]bool{}
	c.anom.Healed(c.now, true)
	c.until("settled after heal", c.settled)
	c.propose(5)
	for k := 0; k < 100; k++ {
		c.tick()
	}
	c.anom.Finish(c.now)

	c.f.none(t, "real etcd raft")
	want := conf(ids(1, 3, 4, 5), nil, nil, nil, false)
	for i, nd := range c.nodes {
		if i != 1 && !sameConf(nd.cs, want) {
			t.Fatalf("server %d ends with %s", i, fmtConf(nd.cs))
		}
	}
	for _, k := range []string{"elected", "commit", "appended-conf", "conf-applied", "joint", "snapshot", "progress"} {
		if c.counts[k] == 0 {
			t.Fatalf("never exercised: %s (%v)", k, c.counts)
		}
	}
	e, g := c.anom.Stats()
	t.Logf("counts %v; after heal: %d further elections, term growth %d", c.counts, e, g)
}

// TestChecksRealEtcdBrokenHost: a host that applies conf changes on the
// leader only (followers take them for normal entries) is caught.
func TestChecksRealEtcdBrokenHost(t *testing.T) {
	withEntropy(streamReader{sim.NewRand(22)}, func() { testChecksRealEtcdBrokenHostBody(t) })
}

func testChecksRealEtcdBrokenHostBody(t *testing.T) {
	c := newTCluster(t, 4, 3)
	c.brokenFollowers = true
	if err := c.nodes[0].rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	c.handle(0)
	c.deliver()
	c.until("a leader", func() bool { return c.leader() >= 0 })
	l := c.leader()
	if err := c.nodes[l].rn.ProposeConfChange(mustCC(t, pb.ConfChangeTransitionAuto, "l4")); err != nil {
		t.Fatal(err)
	}
	c.handle(l)
	c.deliver()
	for k := 0; k < 20 && len(c.f.got) == 0; k++ {
		c.tick()
	}
	if len(c.f.got) == 0 || !strings.HasPrefix(c.f.got[0], CheckConfAgree) {
		t.Fatalf("broken host not caught: %q", c.f.got)
	}
	t.Logf("caught: %s", c.f.got[0])
}

// TestStaleTermDeposesLeader checks the claim DefaultAnomalyBounds rests
// on, against real etcd raft with PreVote and CheckQuorum: a peer left with
// a higher term by the fault phase (here a transfer target cut off right
// after it campaigned, skipping PreVote as transfers do) deposes the leader
// once healed, through its MsgAppResp at the higher term; the next leader
// is elected above that term and nothing more happens.
func TestStaleTermDeposesLeader(t *testing.T) {
	withEntropy(streamReader{sim.NewRand(22)}, func() { testStaleTermDeposesLeaderBody(t) })
}

func testStaleTermDeposesLeaderBody(t *testing.T) {
	c := newTCluster(t, 3, 3)
	if err := c.nodes[0].rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	c.handle(0)
	c.deliver()
	c.until("a leader", func() bool { return c.leader() == 0 })
	c.propose(3)
	term := func(i int) uint64 {
		bs := c.nodes[i].rn.BasicStatus()
		return pbU64(pbHardState(&bs.HardState).Term)
	}
	t0 := term(0)
	c.stepped = func(m *pb.Message) {
		if pbMsgType(m.Type) == pb.MsgTimeoutNow && pbU64(m.To) == 3 {
			c.cut[3] = true // its MsgVotes never leave
		}
	}
	c.nodes[0].rn.TransferLeader(3)
	c.handle(0)
	c.deliver()
	c.stepped = nil
	if !c.cut[3] || term(2) != t0+1 {
		t.Fatalf("transfer target did not campaign: cut %v, term %d (leader's %d)", c.cut[3], term(2), t0)
	}
	for k := 0; k < 60; k++ {
		c.tick()
	}
	if c.leader() != 0 || term(0) != t0 || term(2) != t0+1 {
		t.Fatalf("before the heal: leader %d, terms %d %d %d", c.leader(), term(0), term(1), term(2))
	}
	c.cut = map[uint64]bool{}
	c.anom.Healed(c.now, true)
	c.until("a leader above the stale term", func() bool { l := c.leader(); return l >= 0 && term(l) > t0+1 })
	for k := 0; k < 100; k++ {
		c.tick()
	}
	c.anom.Finish(c.now)
	c.f.none(t, "stale term")
	l := c.leader()
	if e, g := c.anom.Stats(); e != 0 || term(l) != t0+2 || g != 0 {
		t.Fatalf("after the heal: leader %d of term %d (stale %d), %d further elections, growth %d", l, term(l), t0+1, e, g)
	}
	t.Logf("leader of term %d deposed by the stale term %d; server %d leads term %d", t0, t0+1, l, term(l))
}

// etcd.applied-to-commit (adversarial membership's progress condition)
// holds only when every running member applied what it knows committed;
// removed, leaving, down and not-yet-started members do not count.
func TestAppliedBehind(t *testing.T) {
	rn, err := raft.NewRawNode(&raft.Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: raft.NewMemoryStorage(), MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 16})
	if err != nil {
		t.Fatal(err)
	}
	caughtUp := &Node{rn: rn, applied: 9, commit: 9}
	behind := &Node{rn: rn, applied: 7, commit: 9}
	if err := appliedBehind([]*Node{caughtUp, nil, {applied: 1, commit: 9}, {rn: rn, removed: true, commit: 9}, {rn: rn, removing: true, commit: 9}}); err != nil {
		t.Fatalf("caught-up, down, unstarted and removed members: %v", err)
	}
	err = appliedBehind([]*Node{caughtUp, behind})
	if err == nil || !strings.Contains(err.Error(), "server 1 applied up to 7 of the 9") {
		t.Fatalf("a member behind its commit index: got %v", err)
	}
}
