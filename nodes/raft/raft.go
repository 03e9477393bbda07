// Package raft is the Raft consensus protocol (Ongaro & Ousterhout, with the
// thesis's PreVote and CheckQuorum, ReadIndex and lease reads) written as a
// pure state machine on sim.Env, in the spirit of etcd-io/raft: no
// goroutines, no clocks, no I/O. Time enters through env.After timers on the
// node's own (drifting) clock, messages through Step, randomness from
// env.Rand(), and everything durable lives on env.Disk() in checksummed
// records that are Synced before any reply that depends on them.
//
// A host service embeds a *Raft (New) and routes messages to Step; Node is a
// ready-made host, the lab's tester service, for Raft-only scenarios.
//
// Like every package under nodes/, it may import only sim and the
// deterministic parts of the standard library.
package raft

import (
	"fmt"

	"github.com/smilingraft/dsim/sim"
)

// ApplyMsg is what Raft delivers to its service, in log order: a committed
// command, or a snapshot installed from the leader.
type ApplyMsg struct {
	CommandValid bool
	Command      []byte
	Index, Term  uint64
	// Noop is set (with CommandValid false) for an entry Raft appended
	// itself so that a new leader could answer ReadIndex; the service skips
	// it (its index is still consumed).
	Noop bool

	SnapshotValid bool
	Snapshot      []byte
	SnapshotIndex uint64
	SnapshotTerm  uint64
}

// Observer is told what checkers need to know. It uses basic types only, so
// checkers implement it without importing raft. Calls are synchronous and
// must not call back into Raft. An Observer that also implements Auditor
// gets white-box reports of the peer's own state too.
type Observer interface {
	// BecameLeader: server won the election of term.
	BecameLeader(server int, term uint64)
	// Applied: each entry delivered to the service, in order (a no-op entry
	// reports a nil cmd).
	Applied(server int, index, term uint64, cmd []byte)
	// SnapshotInstalled: a snapshot from the leader was delivered to the
	// service through ApplyMsg.
	SnapshotInstalled(server int, index, term uint64)
	// Committed: the leader advanced its commitIndex over this entry.
	Committed(server int, index, term uint64, cmd []byte)
}

// Auditor is an optional Observer extension for white-box checkers
// (checkers/raftcheck): an Observer that also implements it is told of
// every change to the raw log and of every message that promises durable
// state, so that invariants over the nodes' state (Log Matching with the
// snapshot boundary, Leader Completeness, a leader's matchIndex, sync
// before promise) can be checked incrementally, as they happen. It uses
// basic and sim types only, so checkers implement it without importing
// raft. Calls are synchronous and must not call back into Raft.
type Auditor interface {
	// LogAppended: server's log now holds at index the entry of term with
	// cmd (noop: one of Raft's own no-op entries), right after an entry of
	// prevTerm (the snapshot's term at the log's base), and nothing after
	// it (a conflicting suffix was dropped first). A restarted peer
	// reports every entry it loaded from disk, after LogBase.
	LogAppended(server int, index, term, prevTerm uint64, cmd []byte, noop bool)
	// LogBase: server's log now begins right after (index, term), the
	// entry its snapshot covers (taken by the service, installed from the
	// leader, loaded at restart), and ends at last: the entries in
	// (index, last] are those it held before the call.
	LogBase(server int, index, term, last uint64)
	// MatchAdvanced: the leader of term now believes peer's log matches
	// its own through match (its matchIndex for peer rose to match).
	MatchAdvanced(leader int, term uint64, peer int, match uint64)
	// VoteGranted: server is sending a granted vote for candidate in term.
	// diskTerm and diskVote are what its state file on disk says, and
	// unsynced lists the writes to Raft's files a crash would now lose
	// (both must show the vote durable already).
	VoteGranted(server int, term uint64, candidate int, diskTerm uint64, diskVote int, unsynced []sim.DiskOp)
	// Acknowledged: server, in term, is telling the leader that its log
	// matches the leader's through match (a successful AppendEntries or
	// an InstallSnapshot reply); unsynced lists the writes to Raft's files
	// a crash would now lose (there must be none).
	Acknowledged(server int, term, match uint64, unsynced []sim.DiskOp)
}

// snapshotter is an optional Observer extension: told when the service took
// a snapshot through index (a restarted incarnation may resume after it).
type snapshotter interface {
	Snapshotted(server int, index uint64)
}

// CommitAuditor is an optional Auditor extension: it is told, each time a
// leader advances its commit index, how far the leader's own log is synced,
// so a checker can verify that a quorum held the entry durably (the
// followers' acknowledgements it saw, plus the leader only through durable):
// a leader that counts its own unsynced entries toward a majority commits an
// entry that a crash can take from the majority.
type CommitAuditor interface {
	// LeaderCommitted: leader, in term, now counts index committed; its log
	// is synced through durable; a quorum is quorum servers.
	LeaderCommitted(leader int, term, index, durable uint64, quorum int)
	// FollowerCommitted: server, a follower in term, now counts commit
	// committed on an AppendEntries whose entries it matched against the
	// leader's log through verified (Figure 2's "index of last new entry"):
	// committing beyond it commits entries never checked against the leader.
	FollowerCommitted(server int, term, commit, verified uint64)
}

type role uint8

const (
	follower role = iota
	preCandidate
	candidate
	leader
)

func (r role) String() string {
	return [...]string{"follower", "pre-candidate", "candidate", "leader"}[r]
}

type pendingRead struct {
	seq   uint64 // heartbeat round that confirms leadership
	index uint64 // read point; 0 until the leader committed in its term
	lease bool   // confirmed by the lease at registration
	cb    func(index uint64, ok bool)
}

// Raft is one peer. It is driven by Step (messages) and its own timers; all
// methods must be called from the node's event handlers (single-threaded).
type Raft struct {
	env   *sim.Env
	cfg   Config
	apply func(ApplyMsg)
	obs   Observer
	aud   Auditor // obs as an Auditor, or nil
	caud  CommitAuditor
	me, n int

	corrupt bool // disk failed its checksums: inert forever

	// Persistent (mirrored on disk).
	term      uint64
	votedFor  int
	log       []Entry                  // log[0] is a sentinel holding the snapshot's term
	cmds      sim.Slab                 // the log's command bytes (one allocation per many)
	aes       sim.Batch[AppendEntries] // AppendEntries to send (one allocation per many)
	snapIndex uint64
	snapshot  []byte

	// Volatile.
	role        role
	leader      int // server believed leader, -1 if none
	commitIndex uint64
	lastApplied uint64
	votes       []bool
	lastHeard   sim.Time // local clock, last message from the leader
	applying    bool
	dirty       bool   // unsynced raft writes
	durable     uint64 // last log index known synced
	flushing    bool
	elecTimer   sim.Timer
	hbTimer     sim.Timer
	cqTimer     sim.Timer

	// Leader only.
	next, match []uint64
	probing     []bool
	active      []bool
	ackSeq      []uint64
	ackSent     []sim.Time
	seq         uint64
	reads       []pendingRead
	leaseUntil  sim.Time

	buf, scratch []byte
	sorted       []uint64
	stats        Stats

	// files are the file names; the *Fn are the timer callbacks, bound
	// once (a method value passed to env.After allocates at each call).
	files                                             fileNames
	onElectionFn, heartbeatFn, checkQuorumFn, flushFn func()
	// lastAE is the latest AppendEntries sent: messages are immutable once
	// sent, so an identical one (the other peers of a broadcast, usually)
	// goes out as the same value.
	lastAE *AppendEntries
}

// Stats counts protocol events of one incarnation (for metrics).
type Stats struct {
	Elections, PreVotes, LeaderTerms, SnapshotsSent, SnapshotsInstalled uint64
}

// New builds a peer from cfg and restores it from env.Disk() alone, then
// starts its election timer. It returns an error only for a bad Config. A
// disk whose checksums fail makes the peer inert (Corrupt reports it): it
// never votes, leads or answers, rather than serve wrong state.
func New(env *sim.Env, cfg Config, apply func(ApplyMsg)) (*Raft, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if apply == nil {
		apply = func(ApplyMsg) {}
	}
	r := &Raft{env: env, cfg: cfg, apply: apply, obs: cfg.Observer, me: cfg.Me, n: len(cfg.Peers), leader: -1}
	r.files = newFileNames(cfg.Prefix)
	r.onElectionFn, r.heartbeatFn, r.checkQuorumFn, r.flushFn = r.onElectionTimeout, r.heartbeat, r.checkQuorum, r.flushTimer
	r.aud, _ = cfg.Observer.(Auditor)
	r.caud, _ = cfg.Observer.(CommitAuditor)
	if err := r.load(); err != nil {
		r.corrupt = true
		r.term, r.votedFor, r.snapIndex, r.snapshot, r.log = 0, -1, 0, nil, []Entry{{}}
		env.Sometimes("raft: corrupt disk detected")
		env.Logf("raft: refusing to run: %v", err)
		if r.aud != nil {
			r.aud.LogBase(r.me, 0, 0, 0)
		}
		return r, nil
	}
	if r.aud != nil {
		r.aud.LogBase(r.me, r.snapIndex, r.log[0].Term, r.snapIndex)
		for i := r.snapIndex + 1; i <= r.lastIndex(); i++ {
			r.auditAppended(i)
		}
	}
	r.durable = r.lastIndex()
	r.commitIndex = r.snapIndex
	r.lastApplied = r.snapIndex
	r.votes = make([]bool, r.n)
	r.resetElectionTimer()
	return r, nil
}

// ---- log helpers ----

func (r *Raft) lastIndex() uint64 { return r.snapIndex + uint64(len(r.log)) - 1 }
func (r *Raft) lastTerm() uint64  { return r.log[len(r.log)-1].Term }

// entry returns the entry at index i (snapIndex < i <= lastIndex).
func (r *Raft) entry(i uint64) *Entry { return &r.log[i-r.snapIndex] }

// termAt returns the term at index i, or 0 if i is outside the log.
func (r *Raft) termAt(i uint64) uint64 {
	if i < r.snapIndex || i > r.lastIndex() {
		return 0
	}
	return r.log[i-r.snapIndex].Term
}

func (r *Raft) quorum() int { return r.n/2 + 1 }

func (r *Raft) peerIndex(id sim.NodeID) int {
	for i, p := range r.cfg.Peers {
		if p == id {
			return i
		}
	}
	return -1
}

func (r *Raft) send(p int, m sim.Message) { r.env.Send(r.cfg.Peers[p], m) }

// ---- white-box reports (Auditor) ----

// auditAppended reports the entry at index i (just placed) to the Auditor.
func (r *Raft) auditAppended(i uint64) {
	e := r.entry(i)
	r.aud.LogAppended(r.me, i, e.Term, r.termAt(i-1), e.Cmd, e.Noop)
}

// auditAck reports an acknowledgement through match about to be sent. A
// dead incarnation (crashed at a crash point inside this very handler)
// sends nothing, so it promises nothing.
func (r *Raft) auditAck(match uint64) {
	if r.aud != nil && r.env.Alive() {
		r.aud.Acknowledged(r.me, r.term, match, r.unsyncedOwn())
	}
}

// auditVote reports a granted vote about to be sent, with what the state
// file on disk holds.
func (r *Raft) auditVote(p int) {
	if r.aud == nil || !r.env.Alive() {
		return
	}
	term, vote := uint64(0), -1
	if b, ok := r.env.Disk().Read(r.name(fileState)); ok {
		if pl, err := readOne(b); err == nil && len(pl) == 16 {
			term, vote = le.Uint64(pl[0:]), int(int64(le.Uint64(pl[8:])))
		}
	}
	r.aud.VoteGranted(r.me, r.term, p, term, vote, r.unsyncedOwn())
}

// unsyncedOwn returns the unsynced disk writes that touch Raft's own files
// (nil, without allocating, when there are none).
func (r *Raft) unsyncedOwn() []sim.DiskOp {
	var own []sim.DiskOp
	for _, op := range r.env.Disk().Unsynced() {
		if r.ownsFile(op.Name) || r.ownsFile(op.To) {
			own = append(own, op)
		}
	}
	return own
}

// ownsFile reports whether name is one of Raft's files (or their temporary
// twins) under Config.Prefix.
func (r *Raft) ownsFile(name string) bool {
	if len(name) < len(r.cfg.Prefix) || name[:len(r.cfg.Prefix)] != r.cfg.Prefix {
		return false
	}
	switch name[len(r.cfg.Prefix):] {
	case fileState, fileState + tmpSuffix, fileLog, fileLog + tmpSuffix, fileSnap, fileSnap + tmpSuffix:
		return true
	}
	return false
}

// ---- durability ----

// sync makes every raft write durable.
func (r *Raft) sync() {
	r.env.Disk().Sync()
	r.dirty = false
	r.durable = r.lastIndex()
}

// syncIfDirty syncs before a reply that depends on raft's writes.
func (r *Raft) syncIfDirty() {
	if r.dirty {
		r.sync()
	}
}

// scheduleFlush arranges for lazily written entries (leader appends,
// compactions) to be synced soon; a leader counts itself only then.
func (r *Raft) scheduleFlush() {
	if r.cfg.SyncDelay < 0 {
		r.flush()
		return
	}
	if r.flushing {
		return
	}
	r.flushing = true
	r.env.After(r.cfg.SyncDelay, r.flushFn)
}

// flushTimer is scheduleFlush's timer.
func (r *Raft) flushTimer() {
	r.flushing = false
	r.flush()
}

func (r *Raft) flush() {
	r.syncIfDirty()
	if r.role == leader {
		r.maybeCommit()
	}
}

// ---- timers and roles ----

func (r *Raft) resetElectionTimer() {
	r.env.Cancel(r.elecTimer)
	d := r.env.Rand().Between(r.cfg.ElectionMin, r.cfg.ElectionMax)
	r.elecTimer = r.env.After(d, r.onElectionFn)
}

func (r *Raft) onElectionTimeout() {
	r.elecTimer = sim.Timer{}
	if r.role == leader || r.corrupt {
		return
	}
	if r.cfg.PreVote {
		r.startPreVote()
	} else {
		r.startElection()
	}
}

// stickiness reports whether vote requests should be ignored because a
// leader was heard from recently (CheckQuorum, and always for lease reads).
func (r *Raft) stickiness() bool { return r.cfg.CheckQuorum || r.cfg.ReadMode == ReadLease }

// recentLeader reports whether this peer leads or heard from a leader within
// ElectionMin on its local clock.
func (r *Raft) recentLeader() bool {
	if r.role == leader {
		return true
	}
	return r.leader >= 0 && r.env.Now().Sub(r.lastHeard) < r.cfg.ElectionMin
}

func (r *Raft) voteRequest(pre bool, term uint64) *RequestVote {
	return &RequestVote{Term: term, Candidate: r.me, LastLogIndex: r.lastIndex(), LastLogTerm: r.lastTerm(), PreVote: pre}
}

func (r *Raft) startPreVote() {
	r.stats.PreVotes++
	r.role = preCandidate
	r.leader = -1
	r.clearVotes()
	r.resetElectionTimer()
	if r.tally() {
		r.startElection()
		return
	}
	m := r.voteRequest(true, r.term+1)
	for p := 0; p < r.n; p++ {
		if p != r.me {
			r.send(p, m)
		}
	}
}

func (r *Raft) startElection() {
	r.stats.Elections++
	r.term++
	r.votedFor = r.me
	r.role = candidate
	r.leader = -1
	r.persistState()
	r.sync()
	r.clearVotes()
	r.resetElectionTimer()
	if r.tally() {
		r.becomeLeader()
		return
	}
	m := r.voteRequest(false, r.term)
	for p := 0; p < r.n; p++ {
		if p != r.me {
			r.send(p, m)
		}
	}
}

func (r *Raft) clearVotes() {
	for i := range r.votes {
		r.votes[i] = false
	}
	r.votes[r.me] = true
}

func (r *Raft) tally() bool {
	c := 0
	for _, v := range r.votes {
		if v {
			c++
		}
	}
	return c >= r.quorum()
}

// setTerm moves to a newer term, forgetting the vote (unsynced).
func (r *Raft) setTerm(t uint64) {
	if t <= r.term && !r.cfg.NoAssertions {
		panic(fmt.Sprintf("raft: setTerm %d not above %d", t, r.term))
	}
	r.term = t
	r.votedFor = -1
	r.persistState()
}

// becomeFollower leaves any other role (term already set by the caller).
func (r *Raft) becomeFollower() {
	if r.role == leader {
		r.stepDown()
	}
	if r.role != follower {
		r.role = follower
		r.resetElectionTimer()
	}
}

// stepDown clears leader-only state and fails pending reads.
func (r *Raft) stepDown() {
	r.env.Cancel(r.hbTimer)
	r.env.Cancel(r.cqTimer)
	r.hbTimer, r.cqTimer = sim.Timer{}, sim.Timer{}
	r.role = follower
	r.leader = -1
	r.leaseUntil = 0
	reads := r.reads
	r.reads = nil
	r.resetElectionTimer()
	for _, rd := range reads {
		rd.cb(0, false)
	}
}

func (r *Raft) becomeLeader() {
	r.role = leader
	r.leader = r.me
	r.env.Cancel(r.elecTimer)
	r.elecTimer = sim.Timer{}
	r.stats.LeaderTerms++
	if r.next == nil {
		r.next = make([]uint64, r.n)
		r.match = make([]uint64, r.n)
		r.probing = make([]bool, r.n)
		r.active = make([]bool, r.n)
		r.ackSeq = make([]uint64, r.n)
		r.ackSent = make([]sim.Time, r.n)
	}
	for p := 0; p < r.n; p++ {
		r.next[p] = r.lastIndex() + 1
		r.match[p] = 0
		r.probing[p] = true
		r.active[p] = false
		r.ackSeq[p] = 0
		r.ackSent[p] = 0
	}
	r.leaseUntil = 0
	r.env.Sometimes("raft: leader elected")
	if r.term > 1 {
		r.env.Sometimes("raft: leader elected in a later term")
	}
	if r.obs != nil {
		r.obs.BecameLeader(r.me, r.term)
	}
	if r.cfg.NoopOnElection && r.lastTerm() != r.term {
		r.env.Sometimes("raft: no-op appended on election")
		r.startEntry(Entry{Term: r.term, Noop: true})
	}
	r.heartbeat()
	if r.cfg.CheckQuorum {
		r.cqTimer = r.env.After(r.cfg.ElectionMax, r.checkQuorumFn)
	}
	if r.n == 1 {
		r.maybeCommit()
	}
}

func (r *Raft) heartbeat() {
	if r.role != leader {
		return
	}
	r.broadcast(true)
	r.hbTimer = r.env.After(r.cfg.Heartbeat, r.heartbeatFn)
}

// broadcast starts a new heartbeat round: every peer gets an AppendEntries
// (or InstallSnapshot). With retransmit, peers in pipeline mode are resent
// what they have not acknowledged.
func (r *Raft) broadcast(retransmit bool) {
	r.seq++
	for p := 0; p < r.n; p++ {
		if p == r.me {
			continue
		}
		if retransmit && !r.probing[p] && r.match[p] < r.next[p]-1 {
			r.next[p] = r.match[p] + 1
		}
		r.sendAppend(p)
	}
}

func (r *Raft) checkQuorum() {
	if r.role != leader {
		return
	}
	c := 1
	for p := 0; p < r.n; p++ {
		if p != r.me && r.active[p] {
			c++
		}
		r.active[p] = false
	}
	if c < r.quorum() {
		r.env.Sometimes("raft: leader stepped down (check quorum)")
		r.stepDown()
		return
	}
	r.cqTimer = r.env.After(r.cfg.ElectionMax, r.checkQuorumFn)
}

// ---- sending ----

func (r *Raft) sendAppend(p int) {
	if r.next[p] <= r.snapIndex {
		r.sendSnapshot(p)
		return
	}
	prev := r.next[p] - 1
	hi := r.lastIndex()
	if hi-prev > uint64(r.cfg.MaxEntries) {
		hi = prev + uint64(r.cfg.MaxEntries)
	}
	r.send(p, r.appendEntries(prev, hi))
	if !r.probing[p] && hi >= r.next[p] {
		r.next[p] = hi + 1 // pipeline
	}
}

// appendEntries returns the AppendEntries carrying entries (prev, hi]. A
// message is immutable once sent, so when the latest one sent is identical
// (same term, commit index, round and clock reading, and the very same
// entries of this log: the other peers of a broadcast, usually) it goes out
// again as the same value. A new one gets its size computed once and its
// Entries as a capped slice of the log: a receiver appending to it copies,
// and a leader only appends beyond it.
func (r *Raft) appendEntries(prev, hi uint64) *AppendEntries {
	lo, up := prev+1-r.snapIndex, hi+1-r.snapIndex
	now := r.env.Now()
	if m := r.lastAE; m != nil && m.Term == r.term && m.Leader == r.me && m.PrevLogIndex == prev &&
		m.LeaderCommit == r.commitIndex && m.Seq == r.seq && m.Sent == now && uint64(len(m.Entries)) == hi-prev &&
		(hi == prev || &m.Entries[0] == &r.log[lo]) && m.PrevLogTerm == r.termAt(prev) {
		return m
	}
	m := r.aes.New()
	*m = AppendEntries{
		Term: r.term, Leader: r.me, PrevLogIndex: prev, PrevLogTerm: r.termAt(prev),
		LeaderCommit: r.commitIndex, Seq: r.seq, Sent: now,
	}
	if hi > prev {
		m.Entries = r.log[lo:up:up]
	}
	m.size = m.encodedSize()
	r.lastAE = m
	return m
}

func (r *Raft) sendSnapshot(p int) {
	r.probing[p] = true
	r.stats.SnapshotsSent++
	r.send(p, &InstallSnapshot{
		Term: r.term, Leader: r.me, LastIncludedIndex: r.snapIndex, LastIncludedTerm: r.log[0].Term,
		Data: r.snapshot, Seq: r.seq, Sent: r.env.Now(),
	})
}

// ---- Step ----

// Step handles a Raft message from node from. It returns false if msg is not
// one of Raft's, so that a host can route its own messages.
func (r *Raft) Step(from sim.NodeID, msg sim.Message) bool {
	switch msg.(type) {
	case *RequestVote, *RequestVoteReply, *AppendEntries, *AppendEntriesReply, *InstallSnapshot, *InstallSnapshotReply:
	default:
		return false
	}
	p := r.peerIndex(from)
	if r.corrupt || p < 0 || p == r.me {
		return true
	}
	switch m := msg.(type) {
	case *RequestVote:
		r.onRequestVote(p, m)
	case *RequestVoteReply:
		r.onRequestVoteReply(p, m)
	case *AppendEntries:
		r.onAppendEntries(p, m)
	case *AppendEntriesReply:
		r.onAppendEntriesReply(p, m)
		r.env.Recycle(m) // read once, kept nowhere: the next reply reuses it
	case *InstallSnapshot:
		r.onInstallSnapshot(p, m)
	case *InstallSnapshotReply:
		r.onInstallSnapshotReply(p, m)
	}
	return true
}

func (r *Raft) upToDate(m *RequestVote) bool {
	return m.LastLogTerm > r.lastTerm() || (m.LastLogTerm == r.lastTerm() && m.LastLogIndex >= r.lastIndex())
}

func (r *Raft) onRequestVote(p int, m *RequestVote) {
	if m.PreVote {
		grant := m.Term > r.term && r.upToDate(m) && !r.recentLeader()
		reply := &RequestVoteReply{Term: r.term, Granted: grant, PreVote: true}
		if grant {
			reply.Term = m.Term
		} else {
			r.env.Sometimes("raft: prevote rejected")
		}
		r.send(p, reply)
		return
	}
	if m.Term > r.term && r.stickiness() && r.recentLeader() {
		r.env.Sometimes("raft: vote request ignored (leader stickiness)")
		return
	}
	if m.Term > r.term {
		r.setTerm(m.Term)
		r.becomeFollower()
	}
	grant := m.Term == r.term && (r.votedFor == -1 || r.votedFor == p) && (r.upToDate(m) || r.cfg.bug&bugVoteIgnoresLog != 0)
	if grant && r.votedFor != p {
		r.votedFor = p
		r.persistState()
	}
	if grant {
		r.resetElectionTimer()
	}
	if r.cfg.bug&bugVoteNoSync == 0 {
		r.syncIfDirty()
	}
	if grant {
		r.auditVote(p)
	}
	r.send(p, &RequestVoteReply{Term: r.term, Granted: grant})
}

func (r *Raft) onRequestVoteReply(p int, m *RequestVoteReply) {
	if m.PreVote {
		if r.role != preCandidate {
			return
		}
		if m.Granted && m.Term == r.term+1 {
			r.votes[p] = true
			if r.tally() {
				r.startElection()
			}
		} else if !m.Granted && m.Term > r.term {
			r.setTerm(m.Term)
			r.becomeFollower()
			r.syncIfDirty()
		}
		return
	}
	if m.Term > r.term {
		r.setTerm(m.Term)
		r.becomeFollower()
		r.syncIfDirty()
		return
	}
	if r.role != candidate || m.Term != r.term || !m.Granted {
		return
	}
	r.votes[p] = true
	if r.tally() {
		r.becomeLeader()
	}
}

// heardFromLeader handles a message from the leader of term t >= r.term.
func (r *Raft) heardFromLeader(t uint64, ldr int) {
	if t > r.term {
		r.setTerm(t)
		if r.role == leader {
			r.stepDown()
		}
	}
	if r.role == leader {
		// Two leaders in one term is impossible unless a disk lied. (The
		// message is ignored either way.)
		if !r.cfg.NoAssertions {
			r.env.Fail("raft.internal", "server %d is leader of term %d and got AppendEntries from %d", r.me, t, ldr)
		}
		return
	}
	if r.role != follower {
		r.role = follower
	}
	r.leader = ldr
	r.lastHeard = r.env.Now()
	r.resetElectionTimer()
}

func (r *Raft) onAppendEntries(p int, m *AppendEntries) {
	reply := sim.Reuse[AppendEntriesReply](r.env)
	reply.PrevLogIndex, reply.Seq, reply.Sent = m.PrevLogIndex, m.Seq, m.Sent
	if m.Term < r.term {
		reply.Term = r.term
		r.send(p, reply)
		return
	}
	r.heardFromLeader(m.Term, m.Leader)
	if r.role == leader {
		return
	}
	reply.Term = r.term
	prev, ents := m.PrevLogIndex, m.Entries
	if prev < r.snapIndex {
		// Entries up to the snapshot are committed here and so match.
		skip := r.snapIndex - prev
		if uint64(len(ents)) <= skip {
			r.syncIfDirty()
			reply.Success, reply.Match = true, prev+uint64(len(ents))
			r.auditAck(reply.Match)
			r.send(p, reply)
			return
		}
		ents = ents[skip:]
		prev = r.snapIndex
	} else if prev > r.lastIndex() {
		r.syncIfDirty()
		reply.ConflictIndex = r.lastIndex() + 1
		r.send(p, reply)
		return
	} else if t := r.termAt(prev); t != m.PrevLogTerm && r.cfg.bug&bugNoPrevCheck == 0 {
		r.syncIfDirty()
		reply.ConflictTerm = t
		i := prev
		for i > r.snapIndex+1 && r.termAt(i-1) == t {
			i--
		}
		reply.ConflictIndex = i
		r.send(p, reply)
		return
	}
	// Append what is new, truncating at the first conflict.
	k := 0
	truncated := false
	for ; k < len(ents); k++ {
		idx := prev + 1 + uint64(k)
		if idx > r.lastIndex() {
			break
		}
		if r.termAt(idx) != ents[k].Term {
			if idx <= r.commitIndex && !r.cfg.UnsafeCommitPriorTerm && !r.cfg.NoAssertions {
				r.env.Fail("raft.internal", "server %d would truncate committed index %d (commit %d)", r.me, idx, r.commitIndex)
				return
			}
			r.log = append([]Entry(nil), r.log[:idx-r.snapIndex]...)
			if r.durable > r.lastIndex() {
				r.durable = r.lastIndex()
			}
			truncated = true
			r.env.Sometimes("raft: follower truncated a conflicting suffix")
			break
		}
	}
	if k < len(ents) {
		from := r.lastIndex() + 1
		r.log = append(sim.Grow(r.log, len(ents)-k), ents[k:]...)
		if truncated {
			r.persistLog()
		} else {
			r.persistAppend(from)
		}
		if r.aud != nil {
			for i := from; i <= r.lastIndex(); i++ {
				r.auditAppended(i)
			}
		}
	}
	match := prev + uint64(len(ents))
	if m.LeaderCommit > r.commitIndex {
		c := m.LeaderCommit
		if c > match {
			c = match
		}
		if c > r.commitIndex {
			r.commitIndex = c
			if r.caud != nil {
				r.caud.FollowerCommitted(r.me, r.term, c, match)
			}
		}
	}
	if r.cfg.bug&bugAckNoSync == 0 {
		r.syncIfDirty()
	}
	reply.Success, reply.Match = true, match
	r.auditAck(match)
	r.send(p, reply)
	r.applyCommitted()
}

// ack records that peer p answered a message of the current term.
func (r *Raft) ack(p int, seq uint64, sent sim.Time) {
	r.active[p] = true
	if seq > r.ackSeq[p] {
		r.ackSeq[p] = seq
	}
	if r.cfg.UnsafeLeaseTrustsClock {
		sent = r.env.Now()
	}
	if sent > r.ackSent[p] {
		r.ackSent[p] = sent
	}
	if r.cfg.ReadMode == ReadLease {
		r.updateLease()
	}
}

func (r *Raft) onAppendEntriesReply(p int, m *AppendEntriesReply) {
	if m.Term > r.term {
		r.setTerm(m.Term)
		r.becomeFollower()
		r.syncIfDirty()
		return
	}
	if r.role != leader || m.Term < r.term {
		return // stale
	}
	r.ack(p, m.Seq, m.Sent)
	if m.Success {
		match := m.Match
		if r.cfg.bug&bugMatchFromNext != 0 {
			match = r.next[p] - 1
		}
		if match > r.match[p] {
			r.match[p] = match
			if r.aud != nil {
				r.aud.MatchAdvanced(r.me, r.term, p, match)
			}
		}
		if r.next[p] < r.match[p]+1 {
			r.next[p] = r.match[p] + 1
		}
		r.probing[p] = false
		r.maybeCommit()
		if r.role == leader && r.next[p] <= r.lastIndex() {
			r.sendAppend(p)
		}
	} else if m.PrevLogIndex > r.match[p] && (!r.probing[p] || m.PrevLogIndex == r.next[p]-1) {
		nx := m.PrevLogIndex
		if r.cfg.FastBackup {
			nx = m.ConflictIndex
			if m.ConflictTerm != 0 {
				for i := m.PrevLogIndex; i > r.snapIndex; i-- {
					if t := r.termAt(i); t == m.ConflictTerm {
						nx = i + 1
						break
					} else if t < m.ConflictTerm {
						break
					}
				}
			}
			if nx+1 < m.PrevLogIndex {
				r.env.Sometimes("raft: fast backup skipped a term")
			}
		}
		if nx > m.PrevLogIndex {
			nx = m.PrevLogIndex
		}
		if nx < r.match[p]+1 {
			nx = r.match[p] + 1
		}
		r.next[p] = nx
		r.probing[p] = true
		r.sendAppend(p)
	}
	r.serveReads()
}

func (r *Raft) onInstallSnapshot(p int, m *InstallSnapshot) {
	reply := &InstallSnapshotReply{Seq: m.Seq, Sent: m.Sent}
	if m.Term < r.term {
		reply.Term = r.term
		r.send(p, reply)
		return
	}
	r.heardFromLeader(m.Term, m.Leader)
	if r.role == leader {
		return
	}
	reply.Term = r.term
	idx := m.LastIncludedIndex
	if idx <= r.commitIndex {
		// Everything through idx is committed here already: it matches.
		r.syncIfDirty()
		reply.Match = idx
		r.auditAck(idx)
		r.send(p, reply)
		return
	}
	if idx < r.lastIndex() && r.termAt(idx) == m.LastIncludedTerm {
		r.log = append([]Entry{{Term: m.LastIncludedTerm}}, r.log[idx-r.snapIndex+1:]...)
	} else {
		r.log = []Entry{{Term: m.LastIncludedTerm}}
	}
	r.snapIndex = idx
	r.snapshot = m.Data
	r.commitIndex = idx
	r.lastApplied = idx
	r.persistSnapshot()
	r.persistLog()
	r.sync()
	if r.aud != nil {
		r.aud.LogBase(r.me, idx, m.LastIncludedTerm, r.lastIndex())
	}
	reply.Match = idx
	r.auditAck(idx)
	r.send(p, reply)
	r.stats.SnapshotsInstalled++
	r.env.Sometimes("raft: snapshot installed on follower")
	r.apply(ApplyMsg{SnapshotValid: true, Snapshot: m.Data, SnapshotIndex: idx, SnapshotTerm: m.LastIncludedTerm})
	if r.obs != nil {
		r.obs.SnapshotInstalled(r.me, idx, m.LastIncludedTerm)
	}
	r.applyCommitted()
}

func (r *Raft) onInstallSnapshotReply(p int, m *InstallSnapshotReply) {
	if m.Term > r.term {
		r.setTerm(m.Term)
		r.becomeFollower()
		r.syncIfDirty()
		return
	}
	if r.role != leader || m.Term < r.term {
		return
	}
	r.ack(p, m.Seq, m.Sent)
	if m.Match > r.match[p] {
		r.match[p] = m.Match
		if r.aud != nil {
			r.aud.MatchAdvanced(r.me, r.term, p, m.Match)
		}
	}
	if r.next[p] < r.match[p]+1 {
		r.next[p] = r.match[p] + 1
		r.probing[p] = false
		r.maybeCommit()
		if r.role == leader && r.next[p] <= r.lastIndex() {
			r.sendAppend(p)
		}
	}
	r.serveReads()
}

// ---- commit and apply ----

// maybeCommit advances commitIndex to the highest index a majority holds
// (counting this leader only for entries it has synced), if that entry is of
// the current term (or any term, under UnsafeCommitPriorTerm).
func (r *Raft) maybeCommit() {
	if r.role != leader {
		return
	}
	s := r.sorted[:0]
	for p := 0; p < r.n; p++ {
		if p == r.me {
			s = append(s, r.durable)
		} else {
			s = append(s, r.match[p])
		}
	}
	sortDesc(s)
	r.sorted = s
	n := s[r.quorum()-1]
	if n <= r.commitIndex {
		return
	}
	if t := r.termAt(n); t != r.term {
		if !r.cfg.UnsafeCommitPriorTerm {
			return
		}
		r.env.Sometimes("raft: UNSAFE committed an entry of an earlier term by counting")
	}
	if r.caud != nil {
		r.caud.LeaderCommitted(r.me, r.term, n, r.durable, r.quorum())
	}
	for i := r.commitIndex + 1; i <= n; i++ {
		if r.obs != nil {
			e := r.entry(i)
			r.obs.Committed(r.me, i, e.Term, e.Cmd)
		}
	}
	r.commitIndex = n
	r.applyCommitted()
}

// applyCommitted delivers committed entries to the service in order. The
// service may call Start, Snapshot or ReadIndex from inside apply.
func (r *Raft) applyCommitted() {
	if r.applying {
		return
	}
	r.applying = true
	for r.lastApplied < r.commitIndex && r.env.Alive() {
		i := r.lastApplied + 1
		e := *r.entry(i)
		r.lastApplied = i
		if r.obs != nil {
			r.obs.Applied(r.me, i, e.Term, e.Cmd)
		}
		if e.Noop {
			r.apply(ApplyMsg{Noop: true, Index: i, Term: e.Term})
		} else {
			r.apply(ApplyMsg{CommandValid: true, Command: e.Cmd, Index: i, Term: e.Term})
		}
	}
	r.applying = false
	r.serveReads()
}

// ---- the service's API ----

// Start appends cmd to the log if this peer is the leader and starts
// replicating it at once (not at the next heartbeat). It returns the index
// the command will have if it is committed, the current term, and whether
// this peer believes it is the leader.
func (r *Raft) Start(cmd []byte) (index, term uint64, isLeader bool) {
	if r.corrupt || r.role != leader {
		return 0, r.term, false
	}
	e := Entry{Term: r.term}
	if len(cmd) > 0 {
		e.Cmd = r.cmds.Copy(cmd)
	}
	return r.startEntry(e), r.term, true
}

func (r *Raft) startEntry(e Entry) uint64 {
	r.log = append(sim.Grow(r.log, 1), e)
	i := r.lastIndex()
	if r.aud != nil {
		r.auditAppended(i)
	}
	r.persistAppend(i)
	r.scheduleFlush()
	for p := 0; p < r.n; p++ {
		if p != r.me && !r.probing[p] && r.role == leader {
			r.sendAppend(p)
		}
	}
	return i
}

// State returns the current term and whether this peer believes it leads.
func (r *Raft) State() (term uint64, isLeader bool) { return r.term, r.role == leader && !r.corrupt }

// Leader returns the server this peer believes leads, or -1.
func (r *Raft) Leader() int { return r.leader }

// CommitIndex returns the highest index known committed.
func (r *Raft) CommitIndex() uint64 { return r.commitIndex }

// LastApplied returns the highest index delivered to the service (or
// covered by the snapshot it loaded).
func (r *Raft) LastApplied() uint64 { return r.lastApplied }

// LastIndex returns the index of the last log entry.
func (r *Raft) LastIndex() uint64 { return r.lastIndex() }

// SnapshotIndex returns the index the current snapshot covers.
func (r *Raft) SnapshotIndex() uint64 { return r.snapIndex }

// Corrupt reports that the disk failed its checksums and the peer is inert.
func (r *Raft) Corrupt() bool { return r.corrupt }

// Stats returns this incarnation's protocol counters.
func (r *Raft) Stats() Stats { return r.stats }

// Snapshot tells Raft that the service has snapshotted its state through
// index (data is that snapshot): the log before it is discarded. Calls for
// an index at or below the current snapshot, or beyond what was applied,
// are ignored. It may be called from inside apply.
func (r *Raft) Snapshot(index uint64, data []byte) {
	if r.corrupt || index <= r.snapIndex || index > r.lastApplied {
		return
	}
	t := r.termAt(index)
	rest := r.log[index-r.snapIndex+1:]
	nl := make([]Entry, 1, 1+len(rest))
	nl[0] = Entry{Term: t}
	r.log = append(nl, rest...)
	r.snapIndex = index
	r.snapshot = append([]byte(nil), data...)
	r.persistSnapshot()
	r.persistLog()
	r.scheduleFlush()
	if r.aud != nil {
		r.aud.LogBase(r.me, index, t, r.lastIndex())
	}
	if s, ok := r.obs.(snapshotter); ok {
		s.Snapshotted(r.me, index)
	}
}

// SnapshotData returns the latest snapshot (nil if none): on restart the
// service loads it itself, and Raft resumes applying after its index.
func (r *Raft) SnapshotData() []byte { return r.snapshot }

// PersistSize returns the bytes of persisted Raft state (term, vote and log
// files; not the snapshot).
func (r *Raft) PersistSize() int {
	d := r.env.Disk()
	return d.Size(r.name(fileState)) + d.Size(r.name(fileLog))
}

// ReadIndex asks for a linearizable read point. cb runs once it is safe to
// read the service's state, with index = the read point and Raft having
// applied through it, or with ok=false if this peer is not (or stops being)
// the leader. Leadership is confirmed by a heartbeat round (ReadMode
// readindex or log) or by the leader's lease (lease). A leader that has not
// yet committed an entry of its term first appends a no-op entry (see
// ApplyMsg.Noop) and waits for it to commit.
func (r *Raft) ReadIndex(cb func(index uint64, ok bool)) {
	if r.corrupt || r.role != leader {
		cb(0, false)
		return
	}
	rd := pendingRead{cb: cb}
	if r.termAt(r.commitIndex) == r.term {
		rd.index = r.commitIndex
	} else if r.cfg.UnsafeReadBeforeTermCommit {
		rd.index = max(r.commitIndex, 1)
	} else if r.lastTerm() != r.term {
		r.env.Sometimes("raft: no-op appended for a read")
		r.startEntry(Entry{Term: r.term, Noop: true})
	}
	if r.cfg.ReadMode == ReadLease && r.env.Now() < r.leaseUntil {
		rd.lease = true
		r.env.Sometimes("raft: read served by lease")
	}
	if !rd.lease {
		r.broadcast(false)
		rd.seq = r.seq
	}
	r.reads = append(r.reads, rd)
	if r.n == 1 {
		r.maybeCommit()
	}
	r.serveReads()
}

// confirmed reports whether a majority acknowledged heartbeat round seq.
func (r *Raft) confirmed(seq uint64) bool {
	c := 1
	for p := 0; p < r.n; p++ {
		if p != r.me && r.ackSeq[p] >= seq {
			c++
		}
	}
	return c >= r.quorum()
}

// updateLease extends the lease from the send time of the heartbeat a
// majority acknowledged (leader's local clock), for ElectionMin/2: followers
// ignore vote requests for ElectionMin after hearing from the leader, and
// the halving is the margin for clock drift (safe while rates differ by less
// than ~1.5x; clock jumps are not covered).
func (r *Raft) updateLease() {
	s := r.sorted[:0]
	for p := 0; p < r.n; p++ {
		if p != r.me {
			s = append(s, uint64(r.ackSent[p]))
		}
	}
	sortDesc(s)
	r.sorted = s
	if r.quorum() < 2 {
		return
	}
	start := sim.Time(s[r.quorum()-2])
	if start == 0 {
		return
	}
	d := r.cfg.ElectionMin / 2
	if r.cfg.UnsafeLeaseTrustsClock {
		d = r.cfg.ElectionMin
	}
	if u := start.Add(d); u > r.leaseUntil {
		r.leaseUntil = u
	}
}

// serveReads answers pending reads that are confirmed and applied.
func (r *Raft) serveReads() {
	if len(r.reads) == 0 || r.role != leader || r.applying {
		return
	}
	var done []pendingRead
	keep := r.reads[:0]
	inTerm := r.termAt(r.commitIndex) == r.term
	for _, rd := range r.reads {
		if rd.index == 0 && inTerm {
			rd.index = r.commitIndex
		}
		if rd.index > 0 && (rd.lease || r.confirmed(rd.seq)) && r.lastApplied >= rd.index {
			done = append(done, rd)
		} else {
			keep = append(keep, rd)
		}
	}
	r.reads = keep
	for _, rd := range done {
		rd.cb(rd.index, true)
	}
}

// Inspect returns a printable summary of the peer's state.
func (r *Raft) Inspect() any {
	return map[string]any{
		"me": r.me, "term": r.term, "role": r.role.String(), "voted_for": r.votedFor, "leader": r.leader,
		"commit": r.commitIndex, "applied": r.lastApplied, "snap_index": r.snapIndex,
		"last_index": r.lastIndex(), "last_term": r.lastTerm(), "corrupt": r.corrupt,
		"persist_bytes": r.PersistSize(),
	}
}

// sortDesc sorts a few values in decreasing order (insertion sort: no
// allocation, and clusters are small).
func sortDesc(s []uint64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] > s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
