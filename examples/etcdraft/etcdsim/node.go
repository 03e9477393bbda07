package etcdsim

import (
	"fmt"
	"maps"
	"slices"

	"github.com/smilingraft/dsim/sim"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Observer receives the facts dsim's Raft checkers need from a hosted
// peer; *raftcheck.Checker implements it. Servers are numbered from 0 (etcd
// raft IDs are server+1).
type Observer interface {
	// BecameLeader: the peer's SoftState turned leader in term.
	BecameLeader(server int, term uint64)
	// Committed: a leader's HardState.Commit passed index, holding the
	// entry (term, cmd).
	Committed(server int, index, term uint64, cmd []byte)
	// Applied: the peer applied the committed entry at index.
	Applied(server int, index, term uint64, cmd []byte)
	// SnapshotInstalled: the peer's state machine now starts from a
	// snapshot through index (received from a leader, or loaded at boot).
	SnapshotInstalled(server int, index, term uint64)
	// Snapshotted: the peer persisted its own snapshot through index.
	Snapshotted(server int, index uint64)
}

// Auditor is the optional white-box half of an Observer (the calls of
// raftcheck's Auditor checks): the peer's raw log as it persists it, and
// every vote and acknowledgement with the disk writes still unsynced when
// it leaves.
type Auditor interface {
	LogAppended(server int, index, term, prevTerm uint64, cmd []byte, noop bool)
	LogBase(server int, index, term, last uint64)
	VoteGranted(server int, term uint64, candidate int, diskTerm uint64, diskVote int, unsynced []sim.DiskOp)
	Acknowledged(server int, term, match uint64, unsynced []sim.DiskOp)
}

// StateObserver is an optional Observer extension: the state machine's
// digest after applying index, which must be the same on every peer
// (snapshots included).
type StateObserver interface {
	State(server int, index, digest uint64)
}

// MemberObserver is an optional Observer extension for membership and the
// leader's bookkeeping: conf changes as peers apply them, conf changes as
// leaders append and commit them, and the leader's progress whenever its
// commit index advances (read white-box from RawNode.Status). A ConfState
// passed in is never modified afterwards (a new one is made at each change)
// and must not be modified by the observer.
type MemberObserver interface {
	// ConfApplied: the peer applied the conf change at (index, term);
	// ApplyConfChange returned cs.
	ConfApplied(server int, index, term uint64, cs *pb.ConfState)
	// LeaderAppendedConf: the leader of term appended a conf change at
	// index while its applied index was applied.
	LeaderAppendedConf(server int, term, index, applied uint64)
	// ConfCommitted: a leader saw the conf change at (index, term) commit.
	ConfCommitted(index, term uint64)
	// LeaderStatus: the leader's commit index advanced to commit; st is
	// its RawNode.Status() (progress of every peer) and cs the
	// configuration it has applied.
	LeaderStatus(server int, term, commit, lastIndex uint64, st *raft.Status, cs *pb.ConfState)
	// NormalApplied: the peer applied the normal entry at (index, term).
	NormalApplied(server int, index, term uint64)
	// SnapshotConf: the peer's state now starts from a snapshot through
	// index holding configuration cs.
	SnapshotConf(server int, index uint64, cs *pb.ConfState)
	// TermSeen: the peer's HardState term is now term.
	TermSeen(server int, term uint64)
}

// Config configures one hosted peer.
type Config struct {
	// Me is this peer's index in Peers (etcd raft ID Me+1).
	Me int
	// Peers are the sim node ids of every peer that may ever be a member,
	// in ID order: the first Voters of them form the initial cluster.
	Peers []sim.NodeID
	// Voters is the size of the initial cluster (0: every peer).
	Voters int
	// Tick is the virtual time between RawNode.Tick calls (local clock).
	Tick sim.Duration
	// ElectionTicks and HeartbeatTicks are etcd's ElectionTick and
	// HeartbeatTick.
	ElectionTicks, HeartbeatTicks int
	// PreVote and CheckQuorum are etcd's options of the same names.
	PreVote, CheckQuorum bool
	// SnapEvery makes the state machine snapshot (and compact the log)
	// after every SnapEvery applied entries; 0 never.
	SnapEvery uint64
	// MaxSizePerMsg and MaxInflight are etcd's flow control (0: 1 MiB, 256).
	MaxSizePerMsg uint64
	MaxInflight   int
	// MaxInflightBytes, MaxCommittedSizePerReady and
	// MaxUncommittedEntriesSize are etcd's options (0: etcd's defaults).
	MaxInflightBytes, MaxCommittedSizePerReady, MaxUncommittedEntriesSize uint64
	// DisableProposalForwarding and StepDownOnRemoval are etcd's options.
	DisableProposalForwarding, StepDownOnRemoval bool
	// ReadMode is how Gets are served: ReadSafe (default), ReadLease, or
	// the unsafe ReadSerializable.
	ReadMode string
	// ReadRetryNewID resends a read round's ReadIndex under a fresh request
	// id (etcd's fix for etcd-io/etcd#20418) instead of the same one (the
	// etcd v3.6.0 server).
	ReadRetryNewID bool
	// ReqTimeout bounds how long a client request waits on this peer
	// (etcd's ReqTimeout; 0: 1s plus two election timeouts).
	ReqTimeout sim.Duration
	// Async turns on etcd's AsyncStorageWrites: appends and applies run
	// on the peer's append and apply "threads", each a FIFO of completions
	// AsyncDelay (at most) after they were handed over.
	Async      bool
	AsyncDelay sim.Duration
	// Reachable, if set, tells whether the transport can reach a peer now;
	// a message to an unreachable peer is not sent and the RawNode is told
	// (ReportUnreachable), as etcd's transport does when a send fails.
	Reachable func(to sim.NodeID) bool
	// Observer receives the checkers' facts (nil: none). If it also
	// implements Auditor and Audit is set, it gets the white-box reports.
	Observer Observer
	Audit    bool
	// Unsafe breaks etcd's contract on purpose (UnsafeNone: keep it); dsim
	// must catch every such host.
	Unsafe string
}

// Broken hosts (Config.Unsafe).
const (
	// UnsafeNone follows etcd's Ready contract.
	UnsafeNone = "none"
	// UnsafeSendBeforePersist sends a Ready's messages before its entries
	// and HardState are written and synced.
	UnsafeSendBeforePersist = "send-before-persist"
	// UnsafeVoteBeforePersist persists entries first but writes and syncs
	// the HardState (term, vote) only after the messages left: a granted
	// vote is not durable when the candidate counts it.
	UnsafeVoteBeforePersist = "vote-before-persist"
	// UnsafeAsyncRespondEarly (async storage) delivers a MsgStorageAppend's
	// responses before its writes are durable.
	UnsafeAsyncRespondEarly = "async-respond-early"
	// UnsafeConfOnAppend has a leader apply a conf change to its RawNode
	// as soon as it appends it, instead of once it is committed and
	// applied (the later apply is skipped): the classic "membership takes
	// effect early" mistake.
	UnsafeConfOnAppend = "conf-on-append"
	// UnsafeReadNoWait answers a ReadIndex read as soon as its ReadState
	// arrives, without waiting for the applied index to reach it.
	UnsafeReadNoWait = "read-no-wait"
	// UnsafeLeaderLocalReads answers a Get from the local store whenever
	// the peer's SoftState says leader, skipping ReadIndex: a leader that
	// handed its leadership away (or was deposed without knowing) serves
	// stale reads.
	UnsafeLeaderLocalReads = "leader-local-reads"
	// UnsafeApplyToCommit takes a Ready's CommittedEntries to reach
	// HardState.Commit and marks everything up to it applied: with
	// MaxCommittedSizePerReady paginating them, the rest is never applied.
	UnsafeApplyToCommit = "apply-to-commit"
)

// Node hosts one etcd raft RawNode as a dsim node.
type Node struct {
	cfg Config
	env *sim.Env
	rn  *raft.RawNode
	st  *store
	rng streamReader
	aud Auditor
	sob StateObserver
	mob MemberObserver
	cs  *pb.ConfState // the applied configuration (replaced, never modified)
	sm  *machine
	srv *server

	term       uint64 // current term, from the last HardState
	leader     bool   // SoftState says leader
	lead       uint64 // SoftState's leader id
	leadTerm   uint64 // term in which leader was last reported
	commit     uint64 // last HardState.Commit
	applied    uint64
	snapIndex  uint64
	dead       string          // why the node refuses to run (corrupt disk)
	removed    bool            // a conf change removed this peer: it stopped
	removing   bool            // it applied its own removal and stops soon
	inRaft     bool            // inside do: calls into the RawNode run without a drain
	snapHanded uint64          // async: the highest snapshot handed to the append thread
	lazyCommit bool            // a commit-only HardState was written without sync
	early      map[uint64]bool // conf changes the conf-on-append host applied early

	// shadow is the raft log past reported, as the Readies handed it
	// out (Entries, in both storage modes): leaders report its committed
	// entries to the Observer from here, since with asynchronous writes
	// a leader may count an entry committed before its own storage has it.
	shadow   []shadowEntry
	reported uint64
	// memTerms[i] is the term of index memBase+i of the RawNode's log as
	// the Readies handed it out: with asynchronous writes the white-box
	// auditor is told of entries when they enter the log (a leader sends
	// them while its own append is in flight), not when they are durable.
	memTerms []uint64
	memBase  uint64

	// Asynchronous storage: the append and apply "threads".
	appendQ, applyQ         []*pb.Message
	appendSpare, applySpare []*pb.Message // the threads swap these with their queues
	appendBusy, applyBusy   bool
	appendFn, applyFn       func()

	tickFn func()
	stepFn func()
	stepM  *pb.Message
	// rd and ard hold the Ready being handled by drain and by the append
	// thread (in the node, so that the pointers into them that persisting
	// takes do not move a stack Ready to the heap at every call).
	rd, ard raft.Ready
	// snapsSent are the peers a MsgSnap went to in this Ready: reported
	// to the RawNode (ReportSnapshot) after Advance, as etcd's transport
	// does once a snapshot is streamed; without it a lost MsgSnap would
	// leave the peer's progress paused for ever. unreachable are the
	// peers a send failed to, reported likewise.
	snapsSent   []uint64
	snapsFailed []uint64
	unreachable []uint64
}

// shadowEntry is an entry of Node.shadow: what the Observer is told of it.
type shadowEntry struct {
	index, term uint64
	conf        bool // not a normal entry
	data        []byte
}

// appendShadow appends ents to s as shadow entries.
func appendShadow[E pbEntryT](s []shadowEntry, ents []E) []shadowEntry {
	s = slices.Grow(s, len(ents))
	for i := range ents {
		e := pbEntryAt(ents, i)
		s = append(s, shadowEntry{index: pbU64(e.Index), term: pbU64(e.Term), conf: pbEntryType(e.Type) != pb.EntryNormal, data: e.Data})
	}
	return s
}

// noConf is the configuration of a node not yet started (shared: a
// node's ConfState is replaced, never modified).
var noConf = new(pb.ConfState)

// removalDelay is how long a peer that applied its own removal keeps
// running Raft before it stops (etcd v3.6's stopWithDelay).
const removalDelay = sim.Second

// New returns a node for cfg (a sim.Factory builds one per incarnation).
func New(cfg Config) *Node {
	n := &Node{cfg: cfg, cs: noConf}
	if cfg.Audit {
		n.aud, _ = cfg.Observer.(Auditor)
	}
	n.sob, _ = cfg.Observer.(StateObserver)
	n.mob, _ = cfg.Observer.(MemberObserver)
	if n.cfg.Voters <= 0 || n.cfg.Voters > len(cfg.Peers) {
		n.cfg.Voters = len(cfg.Peers)
	}
	if n.cfg.ReadMode == "" {
		n.cfg.ReadMode = ReadSafe
	}
	if n.cfg.ReqTimeout <= 0 {
		n.cfg.ReqTimeout = sim.Second + 2*sim.Duration(cfg.ElectionTicks)*cfg.Tick
	}
	return n
}

// spare reports whether this peer starts outside the cluster.
func (n *Node) spare() bool { return n.cfg.Me >= n.cfg.Voters }

// bootSnapshot is the snapshot every peer of a fresh cluster starts from:
// membership (the initial voters) at index 1, term 1. It is the same on
// every peer and recomputed at each boot, so it needs no disk. A spare
// peer starts from nothing and is sent a snapshot once it is added.
func (n *Node) bootSnapshot() *pb.Snapshot {
	if n.spare() {
		return new(pb.Snapshot)
	}
	cs := new(pb.ConfState)
	for i := 0; i < n.cfg.Voters; i++ {
		cs.Voters = append(cs.Voters, uint64(i+1))
	}
	return pbNewSnapshot(1, 1, cs, encodeState(1, 0))
}

// snapConf returns a copy of the configuration a snapshot holds (empty if
// none).
func snapConf(s *pb.Snapshot) *pb.ConfState {
	if m := pbMeta(s); m != nil {
		return pbCloneConf(pbConfState(&m.ConfState))
	}
	return pbCloneConf(nil)
}

// encodeState is the snapshot data of an empty KV state machine after
// index with the given digest.
func encodeState(index, digest uint64) []byte {
	m := newMachine()
	m.index, m.digest = index, digest
	return m.encode()
}

// isMember reports whether id belongs to cs in any role.
func isMember(cs *pb.ConfState, id uint64) bool {
	for _, l := range [][]uint64{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		for _, v := range l {
			if v == id {
				return true
			}
		}
	}
	return false
}

// Start loads the peer's storage from its disk and builds its RawNode; a
// disk whose synced data fails its checksums makes the node refuse to run.
func (n *Node) Start(env *sim.Env) {
	n.env = env
	n.rng = streamReader{env.Rand()}
	n.tickFn = n.tick
	n.stepFn = n.step
	n.appendFn = n.appendNext
	n.applyFn = n.applyNext
	n.srv = newServer(n)
	st, snap, kept, err := load(env.Disk(), n.bootSnapshot())
	if err != nil {
		n.dead = err.Error()
		env.Logf("refusing to run: %v", err)
		env.Sometimes("etcd: a peer refused a corrupt disk")
		return
	}
	n.st = st
	// Rewrite the log cleanly: it then starts with its base record (on a
	// first boot too) and no torn tail lies where the next append goes.
	st.rewriteLog()
	st.disk.Sync()
	if !env.Alive() {
		return
	}
	si, stm := snapIndexTerm(snap)
	n.sm = newMachine()
	if si > 0 || len(snap.Data) > 0 {
		m, err := decodeMachine(snap.Data)
		if err != nil || m.index != si {
			n.dead = fmt.Sprintf("snapshot %d holds a bad state (%v)", si, err)
			env.Fail("etcd.snapshot", "server %d: %s", n.cfg.Me, n.dead)
			return
		}
		n.sm = m
	}
	n.cs = snapConf(snap)
	n.applied, n.snapIndex = si, si
	hs, _, _ := st.ms.InitialState()
	n.term, n.commit = pbU64(hs.Term), pbU64(hs.Commit)
	n.reported = n.commit
	n.memBase, n.memTerms = si, append(n.memTerms[:0], stm)
	for i := range kept {
		n.memTerms = append(n.memTerms, pbU64(kept[i].Term))
	}
	for i := range kept {
		if pbU64(kept[i].Index) > n.reported {
			n.shadow = appendShadow(n.shadow, kept[i:i+1])
		}
	}
	if len(n.cs.Voters) > 0 && !isMember(n.cs, uint64(n.cfg.Me+1)) {
		// Restarted after applying its own removal: stay stopped.
		n.removed = true
	}
	if o := n.cfg.Observer; o != nil {
		if n.aud != nil {
			n.aud.LogBase(n.cfg.Me, si, stm, si)
			prev := stm
			for _, e := range kept {
				t := pbU64(e.Term)
				n.aud.LogAppended(n.cfg.Me, pbU64(e.Index), t, prev, e.Data, len(e.Data) == 0)
				prev = t
			}
		}
		o.SnapshotInstalled(n.cfg.Me, si, stm)
	}
	if n.removed {
		return
	}
	rc := &raft.Config{
		ID:                        uint64(n.cfg.Me + 1),
		ElectionTick:              n.cfg.ElectionTicks,
		HeartbeatTick:             n.cfg.HeartbeatTicks,
		Storage:                   st.ms,
		Applied:                   si,
		MaxSizePerMsg:             n.cfg.MaxSizePerMsg,
		MaxInflightMsgs:           n.cfg.MaxInflight,
		MaxInflightBytes:          n.cfg.MaxInflightBytes,
		MaxCommittedSizePerReady:  n.cfg.MaxCommittedSizePerReady,
		MaxUncommittedEntriesSize: n.cfg.MaxUncommittedEntriesSize,
		CheckQuorum:               n.cfg.CheckQuorum,
		PreVote:                   n.cfg.PreVote,
		DisableProposalForwarding: n.cfg.DisableProposalForwarding,
		StepDownOnRemoval:         n.cfg.StepDownOnRemoval,
		AsyncStorageWrites:        n.cfg.Async,
		Logger:                    logger{env},
	}
	if n.cfg.ReadMode == ReadLease {
		rc.ReadOnlyOption = raft.ReadOnlyLeaseBased
	}
	if rc.MaxSizePerMsg == 0 {
		rc.MaxSizePerMsg = 1 << 20
	}
	if rc.MaxInflightMsgs == 0 {
		rc.MaxInflightMsgs = 256
	}
	if rc.MaxInflightBytes != 0 && rc.MaxInflightBytes < rc.MaxSizePerMsg {
		rc.MaxInflightBytes = rc.MaxSizePerMsg
	}
	withEntropy(n.rng, func() { n.rn, err = raft.NewRawNode(rc) })
	if err != nil {
		n.rn = nil
		env.Fail("setup", "server %d: raft.NewRawNode: %v", n.cfg.Me, err)
		return
	}
	if env.Incarnation() > 0 && n.cfg.Async {
		env.Sometimes("etcd: an async peer restarted")
	}
	env.After(n.cfg.Tick, n.tickFn)
}

// do runs fn (a call into the RawNode) and then drains the Ready loop, all
// with the node's entropy in crypto/rand.Reader. Called from inside a
// drain (a reply handler that proposes or reads), it only runs fn: the
// outer drain picks up what fn produced.
func (n *Node) do(fn func()) {
	if n.rn == nil {
		return
	}
	if n.inRaft {
		fn()
		return
	}
	withEntropy(n.rng, func() {
		n.inRaft = true
		defer func() { n.inRaft = false }()
		fn()
		n.drain()
	})
}

func (n *Node) tick() {
	if n.removed {
		return
	}
	n.do(n.rn.Tick)
	n.env.After(n.cfg.Tick, n.tickFn)
}

func (n *Node) step() { _ = pbStep(n.rn, n.stepM) }

// Receive steps a delivered etcd raft message into the RawNode and serves
// clients' requests.
func (n *Node) Receive(from sim.NodeID, msg sim.Message) {
	if req, ok := msg.(*sim.Request); ok {
		if n.srv != nil {
			n.srv.request(from, req)
		}
		return
	}
	m := unwire(msg)
	if m == nil || n.rn == nil || n.removed {
		return
	}
	n.stepM = pbOwnMsg(m)
	n.do(n.stepFn)
	n.stepM = nil
}

// Propose hands a client command to the RawNode (a follower forwards it to
// its leader); false if etcd raft dropped it at once (no known leader).
func (n *Node) Propose(cmd []byte) bool {
	if n.rn == nil || n.env == nil || !n.env.Alive() || n.removed {
		return false
	}
	var err error
	n.do(func() { err = n.rn.Propose(cmd) })
	return err == nil
}

// ProposeConfChange proposes a membership change (ConfChange or
// ConfChangeV2); false if etcd raft refused it at once.
func (n *Node) ProposeConfChange(cc pb.ConfChangeI) bool {
	if n.rn == nil || n.env == nil || !n.env.Alive() || n.removed {
		return false
	}
	var err error
	n.do(func() { err = n.rn.ProposeConfChange(cc) })
	return err == nil
}

// TransferLeader asks this peer (if it leads) to hand leadership to the
// peer with the given index.
func (n *Node) TransferLeader(to int) {
	if n.rn == nil || n.env == nil || !n.env.Alive() || n.removed {
		return
	}
	n.do(func() { n.rn.TransferLeader(uint64(to + 1)) })
}

// Campaign forces this peer to start an election (etcd's Campaign).
func (n *Node) Campaign() {
	if n.rn == nil || n.env == nil || !n.env.Alive() || n.removed {
		return
	}
	n.do(func() { _ = n.rn.Campaign() })
}

// ReadIndex asks the RawNode for a read index under ctx (the ReadState
// comes back in a later Ready); the KV server's read loop uses the same
// call.
func (n *Node) ReadIndex(ctx []byte) {
	if n.rn == nil || n.env == nil || !n.env.Alive() || n.removed {
		return
	}
	n.do(func() { n.rn.ReadIndex(ctx) })
}

// Role reports the peer's term and whether it is leader (sim.Roler), from
// its last Ready.
func (n *Node) Role() (uint64, bool) { return n.term, n.leader && n.rn != nil && !n.removed }

// ConfState returns the configuration the peer has applied (not to be
// modified).
func (n *Node) ConfState() *pb.ConfState { return n.cs }

// Inspect shows the RawNode's status when a run stops at an event.
func (n *Node) Inspect() any {
	if n.rn == nil {
		return "not running: " + n.dead
	}
	s := n.rn.BasicStatus()
	out := fmt.Sprintf("id=%d %v term=%d vote=%d commit=%d applied=%d lead=%d removed=%v conf=%v", s.ID, s.RaftState, pbU64(s.Term), pbU64(s.Vote), pbU64(s.Commit), s.Applied, s.Lead, n.removed, n.cs.String())
	if n.cfg.Async {
		out += fmt.Sprintf(" async[append %d busy=%v, apply %d busy=%v]", len(n.appendQ), n.appendBusy, len(n.applyQ), n.applyBusy)
	}
	if s.RaftState == raft.StateLeader {
		st := n.rn.Status()
		for _, id := range slices.Sorted(maps.Keys(st.Progress)) {
			pr := st.Progress[id]
			out += fmt.Sprintf(" | %d: %v", id, pr.String())
		}
	}
	return out
}

// drain handles every Ready the RawNode has: with synchronous storage in
// etcd's order (persist, send, apply, Advance), with asynchronous storage
// by handing the local messages to the append and apply threads. A crash
// point that kills the node mid-way ends it: the rest of the handler never
// ran.
func (n *Node) drain() {
	for n.env.Alive() && !n.removed && n.rn.HasReady() {
		n.rd = n.rn.Ready()
		rd := &n.rd
		if n.cfg.Async {
			n.handleAsync(rd)
		} else {
			n.handle(rd)
		}
		if !n.env.Alive() {
			return
		}
		if !n.cfg.Async {
			n.rn.Advance(*rd)
		}
		for _, to := range n.snapsSent {
			n.rn.ReportSnapshot(to, raft.SnapshotFinish)
		}
		n.snapsSent = n.snapsSent[:0]
		for _, to := range n.snapsFailed {
			n.rn.ReportSnapshot(to, raft.SnapshotFailure)
		}
		n.snapsFailed = n.snapsFailed[:0]
		for _, to := range n.unreachable {
			n.rn.ReportUnreachable(to)
		}
		n.unreachable = n.unreachable[:0]
	}
}

// stop ends a removed peer: waiting clients are told to go elsewhere, and
// it neither ticks nor steps again (etcd's server stops itself when it
// applies its own removal).
func (n *Node) stop() {
	n.env.Sometimes("etcd: a removed peer stopped")
	n.srv.stop()
	n.leader = false
}

// soft takes the Ready's SoftState and HardState: leadership, term, and a
// leader change, which fails a read round waiting for its ReadState.
func (n *Node) soft(rd *raft.Ready) {
	if hs := pbHardState(&rd.HardState); !pbIsEmptyHardState(hs) {
		t := pbU64(hs.Term)
		if t != n.term && n.mob != nil {
			n.mob.TermSeen(n.cfg.Me, t)
		}
		n.term = t
	}
	if rd.SoftState != nil {
		n.leader = rd.SoftState.RaftState == raft.StateLeader
		if l := rd.SoftState.Lead; l != raft.None && l != n.lead {
			n.lead = l
			n.srv.leaderChanged()
		} else if l == raft.None {
			n.lead = raft.None
		}
	}
	if n.leader && n.leadTerm != n.term {
		n.leadTerm = n.term
		n.env.Sometimes("etcd: a leader was elected")
		if obs := n.cfg.Observer; obs != nil {
			obs.BecameLeader(n.cfg.Me, n.term)
		}
	}
	if n.cfg.Async {
		if snap := pbSnapshot(&rd.Snapshot); !pbIsEmptySnap(snap) {
			mi, mt := snapIndexTerm(snap)
			// The RawNode restored the snapshot's configuration when it
			// took the snapshot; applies still queued for entries it
			// covers must not reach ApplyConfChange (applyEntries).
			n.snapHanded = max(n.snapHanded, mi)
			if n.aud != nil {
				n.memBase, n.memTerms = mi, append(n.memTerms[:0], mt)
				n.aud.LogBase(n.cfg.Me, mi, mt, mi)
			}
		}
	}
	// The log as the Ready hands it out (shadow), and conf changes a
	// leader appends.
	if len(rd.Entries) > 0 {
		if n.cfg.Async && n.aud != nil {
			auditHandOff(n, rd.Entries)
		}
		ents := rd.Entries
		first := pbU64(ents[0].Index)
		switch {
		case first <= n.reported:
			k := 0
			for k < len(ents) && pbU64(ents[k].Index) <= n.reported {
				k++
			}
			n.shadow = appendShadow(n.shadow[:0], ents[k:])
		default:
			keep := int(first - n.reported - 1)
			if keep > len(n.shadow) {
				keep = len(n.shadow)
			}
			n.shadow = appendShadow(n.shadow[:keep], ents)
		}
		if n.leader && n.mob != nil {
			for i := range rd.Entries {
				if e := pbEntryAt(rd.Entries, i); pbEntryType(e.Type) != pb.EntryNormal {
					n.mob.LeaderAppendedConf(n.cfg.Me, n.term, pbU64(e.Index), n.applied)
				}
			}
		}
		if n.cfg.Unsafe == UnsafeConfOnAppend && n.leader {
			for i := range rd.Entries {
				if e := pbEntryAt(rd.Entries, i); pbEntryType(e.Type) != pb.EntryNormal {
					n.applyConf(e, true)
				}
			}
		}
	}
	if len(rd.ReadStates) > 0 {
		n.srv.readState(rd.ReadStates[len(rd.ReadStates)-1])
	}
}

// auditHandOff reports entries to the auditor as they enter the RawNode's
// log (asynchronous writes).
func auditHandOff[E pbEntryT](n *Node, ents []E) {
	for len(ents) > 0 && pbU64(pbEntryAt(ents, 0).Index) <= n.memBase {
		ents = ents[1:]
	}
	if len(ents) == 0 {
		return
	}
	first := pbU64(pbEntryAt(ents, 0).Index)
	k := first - n.memBase
	if k > uint64(len(n.memTerms)) {
		n.env.Fail("etcd.host", "server %d: entries from %d after a log ending at %d", n.cfg.Me, first, n.memBase+uint64(len(n.memTerms))-1)
		return
	}
	prev := n.memTerms[k-1]
	n.memTerms = n.memTerms[:k]
	for i := range ents {
		e := pbEntryAt(ents, i)
		t := pbU64(e.Term)
		n.aud.LogAppended(n.cfg.Me, pbU64(e.Index), t, prev, e.Data, len(e.Data) == 0)
		n.memTerms = append(n.memTerms, t)
		prev = t
	}
}

// commitSeen takes a HardState's commit index: a leader reports the
// entries newly committed (from the shadow log) to the Observer and its
// progress to the MemberObserver.
func (n *Node) commitSeen(hs *pb.HardState) {
	if pbIsEmptyHardState(hs) {
		return
	}
	obs := n.cfg.Observer
	commit := pbU64(hs.Commit)
	if commit > n.reported {
		k := 0
		for k < len(n.shadow) && n.shadow[k].index <= commit {
			e := &n.shadow[k]
			if n.leader && obs != nil && e.index > n.reported {
				obs.Committed(n.cfg.Me, e.index, e.term, e.data)
				if e.conf && n.mob != nil {
					n.mob.ConfCommitted(e.index, e.term)
				}
			}
			k++
		}
		n.shadow = append(n.shadow[:0], n.shadow[k:]...)
		n.reported = commit
	}
	if n.leader && n.mob != nil && commit > n.commit {
		// The leader's own Match trails its log here (its append
		// response is stepped at Advance, or by the append thread), and
		// with async writes followers may be ahead of it: no last index
		// is claimed.
		st := n.rn.Status()
		n.mob.LeaderStatus(n.cfg.Me, n.term, commit, 0, &st, n.cs)
	}
	n.commit = commit
}

func (n *Node) handle(rd *raft.Ready) {
	n.soft(rd)
	switch n.cfg.Unsafe {
	case UnsafeSendBeforePersist:
		sendAll(n, rd.Messages)
		n.persist(rd, true)
	case UnsafeVoteBeforePersist:
		n.persist(rd, false)
		if !n.env.Alive() {
			return
		}
		sendAll(n, rd.Messages)
		n.persistHard(rd)
	default:
		n.persist(rd, true)
	}
	if !n.env.Alive() {
		return
	}
	n.commitSeen(pbHardState(&rd.HardState))
	if n.cfg.Unsafe != UnsafeSendBeforePersist && n.cfg.Unsafe != UnsafeVoteBeforePersist {
		sendAll(n, rd.Messages)
	}
	applyEntries(n, rd.CommittedEntries)
}

// handleAsync hands a Ready to the storage threads (etcd's
// AsyncStorageWrites): MsgStorageAppend to the append thread,
// MsgStorageApply to the apply thread, everything else to the network.
func (n *Node) handleAsync(rd *raft.Ready) {
	n.soft(rd)
	n.commitSeen(pbHardState(&rd.HardState))
	for i := range rd.Messages {
		m := pbMsgAt(rd.Messages, i)
		switch pbU64(m.To) {
		case raft.LocalAppendThread:
			n.appendQ = append(n.appendQ, m)
			if !n.appendBusy {
				n.appendBusy = true
				n.env.After(n.asyncDelay(), n.appendFn)
			}
		case raft.LocalApplyThread:
			n.applyQ = append(n.applyQ, m)
			if !n.applyBusy {
				n.applyBusy = true
				n.env.After(n.asyncDelay(), n.applyFn)
			}
		default:
			n.sendMsg(m)
		}
	}
}

func (n *Node) asyncDelay() sim.Duration {
	if n.cfg.AsyncDelay <= 0 {
		return 0
	}
	return n.env.Rand().Between(0, n.cfg.AsyncDelay)
}

// appendNext completes every MsgStorageAppend queued on the append thread:
// their snapshots, entries and HardStates written, then their responses
// delivered (to this peer's RawNode, or over the network). A queued
// message is the Ready's own (etcd raft never writes a Ready's messages
// after handing them out).
func (n *Node) appendNext() {
	if !n.env.Alive() || n.removed || len(n.appendQ) == 0 {
		n.appendBusy = false
		return
	}
	// The append thread takes every MsgStorageAppend queued since it last
	// ran and makes them durable with one Sync, as real asynchronous
	// writers batch (that is their point: one message at a time, a
	// leader's queue grew without bound at etcd.async_delay_ms=40), then
	// delivers their responses in order. A message without responses needs
	// no durability (etcd's contract); one with responses must be durable
	// before they go.
	batch := n.appendQ
	n.appendQ = n.appendSpare[:0]
	sync := n.cfg.Unsafe == UnsafeAsyncRespondEarly || slices.ContainsFunc(batch, func(m *pb.Message) bool { return len(m.Responses) > 0 })
	if n.cfg.Unsafe == UnsafeAsyncRespondEarly && !n.respondAll(batch) {
		return
	}
	rd := &n.ard
	withEntropy(n.rng, func() {
		n.inRaft = true
		defer func() { n.inRaft = false }()
		for _, m := range batch {
			*rd = raft.Ready{Entries: m.Entries}
			pbSetHardStateField(&rd.HardState, pbU64(m.Term), pbU64(m.Vote), pbU64(m.Commit))
			if m.Snapshot != nil {
				pbSetSnapshotField(&rd.Snapshot, m.Snapshot)
			}
			n.persist(rd, true)
			if !n.env.Alive() {
				return
			}
		}
		if sync {
			n.st.disk.Sync()
			n.lazyCommit = false
		}
	})
	if !n.env.Alive() {
		return
	}
	if len(batch) > 1 {
		n.env.Sometimes("etcd: the append thread wrote a batch of appends with one sync")
	}
	if n.env.Incarnation() > 0 {
		n.env.Sometimes("etcd: an async append completed after a restart")
	}
	if n.cfg.Unsafe != UnsafeAsyncRespondEarly && !n.respondAll(batch) {
		return
	}
	clear(batch)
	n.appendSpare = batch[:0]
	n.next(&n.appendQ, &n.appendBusy, n.appendFn)
}

// applyNext completes every MsgStorageApply queued on the apply thread:
// their entries applied in order, then their responses delivered.
func (n *Node) applyNext() {
	if !n.env.Alive() || n.removed || len(n.applyQ) == 0 {
		n.applyBusy = false
		return
	}
	batch := n.applyQ
	n.applyQ = n.applySpare[:0]
	withEntropy(n.rng, func() {
		n.inRaft = true
		defer func() { n.inRaft = false }()
		for _, m := range batch {
			applyEntries(n, m.Entries)
			if !n.env.Alive() {
				return
			}
		}
	})
	if !n.env.Alive() || !n.respondAll(batch) {
		return
	}
	clear(batch)
	n.applySpare = batch[:0]
	n.next(&n.applyQ, &n.applyBusy, n.applyFn)
}

func (n *Node) next(q *[]*pb.Message, busy *bool, fn func()) {
	if !n.env.Alive() {
		return
	}
	if len(*q) == 0 {
		*busy = false
		return
	}
	n.env.After(n.asyncDelay(), fn)
}

// respondAll delivers the responses of every storage message in batch, in
// order; false if the node died doing it (the rest are then dropped).
func (n *Node) respondAll(batch []*pb.Message) bool {
	for _, m := range batch {
		respond(n, m.Responses)
		if !n.env.Alive() {
			return false
		}
	}
	return true
}

// respond delivers a storage message's responses: those to this peer are
// stepped into its RawNode (then the Ready loop drained), the others sent.
func respond[M pbMsgT](n *Node, resps []M) {
	me := uint64(n.cfg.Me + 1)
	for i := range resps {
		r := pbMsgAt(resps, i)
		if pbU64(r.To) == me {
			n.do(func() { _ = pbStep(n.rn, r) })
		} else {
			n.sendMsg(r)
			n.reportSends()
		}
		if !n.env.Alive() || n.removed {
			return
		}
	}
}

// reportSends tells the RawNode what the transport learned outside a Ready
// loop (the async threads' sends): snapshots sent or failed, peers
// unreachable.
func (n *Node) reportSends() {
	for _, to := range n.snapsSent {
		n.do(func() { n.rn.ReportSnapshot(to, raft.SnapshotFinish) })
	}
	n.snapsSent = n.snapsSent[:0]
	for _, to := range n.snapsFailed {
		n.do(func() { n.rn.ReportSnapshot(to, raft.SnapshotFailure) })
	}
	n.snapsFailed = n.snapsFailed[:0]
	for _, to := range n.unreachable {
		n.do(func() { n.rn.ReportUnreachable(to) })
	}
	n.unreachable = n.unreachable[:0]
}

// persist makes the Ready's snapshot, entries and HardState durable: written
// to the disk in the order snap, log, hardstate, then one Sync; the
// MemoryStorage takes them too. hard=false leaves the HardState out (the
// vote-before-persist broken host writes it later).
func (n *Node) persist(rd *raft.Ready, hard bool) {
	st, me := n.st, n.cfg.Me
	rs := pbSnapshot(&rd.Snapshot)
	snap := !pbIsEmptySnap(rs)
	if snap {
		st.writeSnap(rs)
		if err := pbCallSnapshot(st.ms.ApplySnapshot, rs); err != nil {
			si, _ := snapIndexTerm(rs)
			n.env.Fail("etcd.host", "server %d: apply snapshot %d: %v", me, si, err)
			return
		}
		st.rewriteLog()
	}
	var prevTerm uint64
	ents := rd.Entries
	if len(ents) > 0 {
		if first, _ := st.ms.FirstIndex(); pbU64(ents[0].Index) < first {
			// Entries a snapshot covers are never persisted.
			k := 0
			for k < len(ents) && pbU64(ents[k].Index) < first {
				k++
			}
			ents = ents[k:]
		}
	}
	audit := n.aud != nil && !n.cfg.Async
	if len(ents) > 0 {
		first := pbU64(ents[0].Index)
		if audit {
			t, err := st.ms.Term(first - 1)
			if err != nil {
				n.env.Fail("etcd.host", "server %d: term at %d: %v", me, first-1, err)
				return
			}
			prevTerm = t
		}
		if err := st.ms.Append(ents); err != nil {
			n.env.Fail("etcd.host", "server %d: append entries from %d: %v", me, first, err)
			return
		}
		appendEntries(st, ents)
	}
	if hard {
		n.persistHard(rd)
	}
	if rd.MustSync || snap {
		st.disk.Sync()
		n.lazyCommit = false
	} else if !pbIsEmptyHardState(pbHardState(&rd.HardState)) {
		// Ready.MustSync is false: only the commit index changed, which
		// etcd's WAL writes without an fsync (it may be lost and is
		// recomputed); promises never rest on it.
		n.lazyCommit = true
		n.env.Sometimes("etcd: a HardState written without sync (MustSync false)")
	}
	if !n.env.Alive() {
		return
	}
	if snap {
		mi, mt := snapIndexTerm(rs)
		sm, err := decodeMachine(rs.Data)
		if err != nil || sm.index != mi {
			n.env.Fail("etcd.snapshot", "server %d received snapshot %d holding a bad state (%v)", me, mi, err)
			return
		}
		n.sm = sm
		n.cs = snapConf(rs)
		n.applied, n.snapIndex = mi, mi
		if mi > n.reported {
			n.reported = mi
			k := 0
			for k < len(n.shadow) && n.shadow[k].index <= mi {
				k++
			}
			n.shadow = append(n.shadow[:0], n.shadow[k:]...)
		}
		n.env.Sometimes("etcd: a follower installed a snapshot")
		if n.spare() {
			n.env.Sometimes("etcd: a new member caught up by snapshot")
		}
		if audit {
			n.aud.LogBase(me, mi, mt, mi)
		}
		if obs := n.cfg.Observer; obs != nil {
			obs.SnapshotInstalled(me, mi, mt)
		}
		if n.mob != nil {
			n.mob.SnapshotConf(me, mi, n.cs)
		}
		if n.sob != nil {
			n.sob.State(me, mi, n.sm.digest)
		}
		n.srv.appliedTo(n.applied)
	}
	if audit {
		for i := range ents {
			e := pbEntryAt(ents, i)
			t := pbU64(e.Term)
			n.aud.LogAppended(me, pbU64(e.Index), t, prevTerm, e.Data, len(e.Data) == 0)
			prevTerm = t
		}
	}
}

// persistHard writes the Ready's HardState (if any) and syncs.
func (n *Node) persistHard(rd *raft.Ready) {
	hs := pbHardState(&rd.HardState)
	if pbIsEmptyHardState(hs) {
		return
	}
	n.st.writeHard(hs)
	if err := pbSetStorageHardState(n.st.ms, hs); err != nil {
		n.env.Fail("etcd.host", "server %d: set hardstate: %v", n.cfg.Me, err)
		return
	}
	if rd.MustSync {
		n.st.disk.Sync()
	}
}

// unsynced returns the disk's unsynced writes that a promise may rest on:
// a HardState rewritten without sync because only its commit index changed
// (MustSync false) is left out, since term and vote there equal the synced
// ones.
func (n *Node) unsynced() []sim.DiskOp {
	ops := n.st.disk.Unsynced()
	if !n.lazyCommit || len(ops) == 0 {
		return ops
	}
	out := ops[:0:0]
	for _, op := range ops {
		if op.Name == fileHardTmp || op.Name == fileHard {
			continue
		}
		out = append(out, op)
	}
	return out
}

// sendAll puts messages on the network (sendMsg), stopping at the first
// that fails the run.
func sendAll[M pbMsgT](n *Node, msgs []M) {
	for i := range msgs {
		if !n.sendMsg(pbMsgAt(msgs, i)) {
			return
		}
	}
}

// sendMsg puts a message on the network, reporting votes and
// acknowledgements to the auditor with the disk's unsynced writes. A
// message to a peer the transport cannot reach is not sent and the peer is
// noted unreachable. False if the message names no peer (the run failed).
func (n *Node) sendMsg(m *pb.Message) bool {
	typ, to := pbMsgType(m.Type), pbU64(m.To)
	if n.aud != nil && !pbBool(m.Reject) {
		switch typ {
		case pb.MsgVoteResp:
			dt, dv := n.st.diskHardState()
			n.aud.VoteGranted(n.cfg.Me, pbU64(m.Term), int(to)-1, dt, int(dv)-1, n.unsynced())
		case pb.MsgAppResp:
			unsynced := n.unsynced()
			if n.cfg.Async && pbU64(m.Term) < n.term && len(unsynced) == 0 {
				// An append thread's late response: the entries it
				// acknowledges are durable, but the peer's log moved
				// on (a higher term's leader truncated it) after they
				// were handed over, so its log now cannot judge the
				// match (etcd/async seed 1008: term 9 replaced index
				// 286 onward while the term-8 ack of 298 was in the
				// thread). A voter never acked past a log it voted
				// against, so this is safe; only the durability half
				// of the check applies.
				break
			}
			n.aud.Acknowledged(n.cfg.Me, pbU64(m.Term), pbU64(m.Index), unsynced)
		}
	}
	if to < 1 || to > uint64(len(n.cfg.Peers)) {
		n.env.Fail("etcd.host", "server %d: message %v to unknown peer %d", n.cfg.Me, typ, to)
		return false
	}
	peer := n.cfg.Peers[to-1]
	if n.cfg.Reachable != nil && !n.cfg.Reachable(peer) {
		if len(n.unreachable) == 0 || n.unreachable[len(n.unreachable)-1] != to {
			n.unreachable = append(n.unreachable, to)
		}
		if typ == pb.MsgSnap {
			// etcd's snapshot sender reports a failed stream, or the
			// follower's progress would stay paused for ever.
			n.snapsFailed = append(n.snapsFailed, to)
		}
		n.env.Sometimes("etcd: a send failed and the peer was reported unreachable")
		return true
	}
	n.env.Send(peer, wire(m))
	if typ == pb.MsgSnap {
		n.snapsSent = append(n.snapsSent, to)
	}
	return true
}

// applyEntries applies committed entries to the state machine, reporting
// each, then snapshots every SnapEvery entries. A KV Put answers the
// clients waiting for it on this peer; a conf change goes to the RawNode;
// the first entry of a term resends a read round's ReadIndex (as etcd
// does).
func applyEntries[E pbEntryT](n *Node, ents []E) {
	me, obs := n.cfg.Me, n.cfg.Observer
	if len(ents) > 0 && pbU64(pbEntryAt(ents, len(ents)-1).Index) < n.commit && !n.cfg.Async {
		n.env.Sometimes("etcd: a paginated Ready (committed entries held back by MaxCommittedSizePerReady)")
	}
	for i := range ents {
		e := pbEntryAt(ents, i)
		index := pbU64(e.Index)
		if index <= n.applied {
			continue
		}
		if index <= n.snapHanded {
			// Asynchronous writes: a snapshot through snapHanded was
			// handed to the append thread after these entries were handed
			// to the apply thread. The snapshot replaces them; applying a
			// conf change among them now would change the configuration
			// the RawNode restored from the snapshot (etcd/features seed
			// 9184 at etcd.async_delay_ms=40: two peers entered different
			// joint configurations at index 88).
			n.env.Sometimes("etcd: the apply thread skipped entries a received snapshot covers")
			continue
		}
		if index != n.applied+1 {
			n.env.Fail("etcd.host", "server %d: committed entry %d after applying %d", me, index, n.applied)
			return
		}
		sm := n.sm
		sm.digest = mix(sm.digest, index, e.Data)
		sm.index = index
		n.applied = index
		normal := pbEntryType(e.Type) == pb.EntryNormal
		switch {
		case !normal:
			n.applyConf(e, false)
		case len(e.Data) == 0:
			n.srv.firstCommitInTerm()
		case e.Data[0] == tagKV:
			client, seq, op, err := decodeKV(e.Data)
			if err != nil {
				n.env.Fail("etcd.host", "server %d: entry %d: %v", me, index, err)
				return
			}
			res, stale := sm.applyKV(client, seq, op)
			if !stale {
				n.srv.applied(client, seq, res)
			}
		}
		if obs != nil || n.mob != nil {
			term := pbU64(e.Term)
			if obs != nil {
				obs.Applied(me, index, term, e.Data)
			}
			if n.mob != nil && normal {
				n.mob.NormalApplied(me, index, term)
			}
		}
		if n.sob != nil {
			n.sob.State(me, index, sm.digest)
		}
	}
	if n.cfg.Unsafe == UnsafeApplyToCommit && len(ents) > 0 && n.applied < n.commit {
		// The broken host takes a Ready's committed entries for all of
		// them up to HardState.Commit: pagination's rest is never applied.
		n.applied = n.commit
	}
	if len(ents) > 0 {
		n.srv.appliedTo(n.applied)
	}
	if n.cfg.SnapEvery > 0 && n.applied >= n.snapIndex+n.cfg.SnapEvery {
		n.snapshot()
	}
}

// applyConf applies a committed conf-change entry: the RawNode switches
// configuration, the observer is told, and a peer the change removed stops.
// early marks the broken conf-on-append host's premature apply.
func (n *Node) applyConf(e *pb.Entry, early bool) {
	var cc pb.ConfChangeI
	index := pbU64(e.Index)
	switch pbEntryType(e.Type) {
	case pb.EntryConfChange:
		c := new(pb.ConfChange)
		if err := pbUnmarshal(e.Data, c); err != nil {
			n.env.Fail("etcd.host", "server %d: conf change %d: %v", n.cfg.Me, index, err)
			return
		}
		cc = c
	case pb.EntryConfChangeV2:
		c := new(pb.ConfChangeV2)
		if err := pbUnmarshal(e.Data, c); err != nil {
			n.env.Fail("etcd.host", "server %d: conf change %d: %v", n.cfg.Me, index, err)
			return
		}
		cc = c
	default:
		return
	}
	if n.early[index] {
		// The broken host applied it already when it appended it.
		delete(n.early, index)
		return
	}
	if early {
		if n.early == nil {
			n.early = map[uint64]bool{}
		}
		n.early[index] = true
	}
	was := isMember(n.cs, uint64(n.cfg.Me+1))
	n.cs = n.rn.ApplyConfChange(cc)
	if early {
		return
	}
	v2 := cc.AsV2()
	switch {
	case len(n.cs.VotersOutgoing) > 0:
		n.env.Sometimes("etcd: a joint configuration was entered")
		if !pbBool(n.cs.AutoLeave) {
			n.env.Sometimes("etcd: a joint configuration entered for an explicit leave")
		}
	case v2.LeaveJoint():
		n.env.Sometimes("etcd: a joint configuration was left")
	}
	for _, c := range v2.Changes {
		switch pbConfChangeType(c.Type) {
		case pb.ConfChangeAddLearnerNode:
			n.env.Sometimes("etcd: a learner was added")
		case pb.ConfChangeRemoveNode:
			n.env.Sometimes("etcd: a member was removed")
		case pb.ConfChangeAddNode:
			n.env.Sometimes("etcd: a voter was added or a learner promoted")
		}
	}
	if n.mob != nil {
		n.mob.ConfApplied(n.cfg.Me, index, pbU64(e.Term), n.cs)
	}
	if was && !isMember(n.cs, uint64(n.cfg.Me+1)) && !n.removing {
		// etcd's server stops a removed member one second later
		// (stopWithDelay), serving Raft meanwhile so that the others
		// learn the change committed.
		n.removing = true
		n.env.After(removalDelay, func() {
			n.removed = true
			n.stop()
		})
	}
}

// snapshot persists the state machine at the applied index and compacts
// the log, keeping SnapEvery/2 entries behind it for slow followers.
func (n *Node) snapshot() {
	st, me := n.st, n.cfg.Me
	data := n.sm.encode()
	if _, err := st.ms.CreateSnapshot(n.applied, n.cs, data); err != nil {
		n.env.Fail("etcd.host", "server %d: snapshot at %d: %v", me, n.applied, err)
		return
	}
	term, err := st.ms.Term(n.applied)
	if err != nil {
		n.env.Fail("etcd.host", "server %d: term of snapshot %d: %v", me, n.applied, err)
		return
	}
	st.writeOwnSnap(n.applied, term, n.cs, data)
	compact := n.applied - n.cfg.SnapEvery/2
	if first, _ := st.ms.FirstIndex(); compact >= first {
		if last, _ := st.ms.LastIndex(); compact > last {
			compact = last
		}
		if err := st.ms.Compact(compact); err != nil {
			n.env.Fail("etcd.host", "server %d: compact %d: %v", me, compact, err)
			return
		}
	}
	st.rewriteLog()
	st.disk.Sync()
	if !n.env.Alive() {
		return
	}
	n.snapIndex = n.applied
	n.env.Sometimes("etcd: a peer snapshotted and compacted its log")
	if obs := n.cfg.Observer; obs != nil {
		obs.Snapshotted(me, n.applied)
	}
	if n.aud != nil {
		first, _ := st.ms.FirstIndex()
		last, _ := st.ms.LastIndex()
		t, _ := st.ms.Term(first - 1)
		if n.cfg.Async {
			// The auditor knows the in-memory log, which may run past
			// the storage's, or start after it: a snapshot handed to the
			// append thread but not yet stored moved its base already
			// (etcd/async seeds 5 and 20 at etcd.async_delay_ms=40).
			if first-1 < n.memBase {
				return
			}
			last = n.memBase + uint64(len(n.memTerms)) - 1
			if k := first - 1; k > n.memBase && k-n.memBase < uint64(len(n.memTerms)) {
				n.memTerms = append(n.memTerms[:0], n.memTerms[k-n.memBase:]...)
				n.memBase = k
			}
		}
		n.aud.LogBase(me, first-1, t, last)
	}
}

// logger sends etcd raft's log lines to the trace (only when one is
// recorded); Panic and Fatal panic, which dsim reports as a failure of the
// seed.
type logger struct{ env *sim.Env }

func (l logger) logf(level, format string, args ...any) {
	if l.env.Tracing() {
		l.env.Logf("etcd %s: %s", level, fmt.Sprintf(format, args...))
	}
}

func (l logger) Debug(v ...any)                 {}
func (l logger) Debugf(format string, v ...any) {}
func (l logger) Error(v ...any)                 { l.logf("ERROR", "%s", fmt.Sprint(v...)) }
func (l logger) Errorf(format string, v ...any) { l.logf("ERROR", format, v...) }
func (l logger) Info(v ...any)                  { l.logf("INFO", "%s", fmt.Sprint(v...)) }
func (l logger) Infof(format string, v ...any)  { l.logf("INFO", format, v...) }
func (l logger) Warning(v ...any)               { l.logf("WARN", "%s", fmt.Sprint(v...)) }
func (l logger) Warningf(format string, v ...any) {
	l.logf("WARN", format, v...)
}
func (l logger) Fatal(v ...any) { panic("etcd raft fatal: " + fmt.Sprint(v...)) }
func (l logger) Fatalf(format string, v ...any) {
	panic("etcd raft fatal: " + fmt.Sprintf(format, v...))
}
func (l logger) Panic(v ...any)                 { panic("etcd raft: " + fmt.Sprint(v...)) }
func (l logger) Panicf(format string, v ...any) { panic("etcd raft: " + fmt.Sprintf(format, v...)) }
