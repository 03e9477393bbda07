package etcdsim

import (
	"encoding/binary"
	"fmt"

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

// Config configures one hosted peer.
type Config struct {
	// Me is this peer's index in Peers (etcd raft ID Me+1).
	Me int
	// Peers are the sim node ids of every voter, in ID order.
	Peers []sim.NodeID
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
	// Observer receives the checkers' facts (nil: none). If it also
	// implements Auditor and Audit is set, it gets the white-box reports.
	Observer Observer
	Audit    bool
	// Unsafe breaks etcd's Ready contract on purpose (UnsafeNone: keep
	// it); dsim must catch every such host.
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
	cs  pb.ConfState

	term      uint64 // current term, from the last HardState
	leader    bool   // SoftState says leader
	leadTerm  uint64 // term in which leader was last reported
	commit    uint64 // last HardState.Commit
	applied   uint64
	snapIndex uint64
	digest    uint64 // the state machine: a digest of every applied entry
	dead      string // why the node refuses to run (corrupt disk)

	tickFn func()
	stepFn func()
	stepM  pb.Message
	// snapsSent are the peers a MsgSnap went to in this Ready: reported
	// to the RawNode (ReportSnapshot) after Advance, as etcd's transport
	// does once a snapshot is streamed; without it a lost MsgSnap would
	// leave the peer's progress paused for ever.
	snapsSent []uint64
}

// New returns a node for cfg (a sim.Factory builds one per incarnation).
func New(cfg Config) *Node {
	n := &Node{cfg: cfg}
	if cfg.Audit {
		n.aud, _ = cfg.Observer.(Auditor)
	}
	n.sob, _ = cfg.Observer.(StateObserver)
	for i := range cfg.Peers {
		n.cs.Voters = append(n.cs.Voters, uint64(i+1))
	}
	return n
}

// bootSnapshot is the snapshot every peer of a fresh cluster starts from:
// membership (every peer a voter) at index 1, term 1. It is the same on
// every peer and recomputed at each boot, so it needs no disk.
func (n *Node) bootSnapshot() pb.Snapshot {
	return pb.Snapshot{Data: encodeState(1, 0), Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: n.cs}}
}

func encodeState(index, digest uint64) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, index)
	binary.LittleEndian.PutUint64(b[8:], digest)
	return b
}

// mix folds one applied entry into the state machine's digest.
func mix(d, index uint64, data []byte) uint64 {
	const prime = 1099511628211
	d ^= index
	d *= prime
	for _, c := range data {
		d ^= uint64(c)
		d *= prime
	}
	return d
}

// Start loads the peer's storage from its disk and builds its RawNode; a
// disk whose synced data fails its checksums makes the node refuse to run.
func (n *Node) Start(env *sim.Env) {
	n.env = env
	n.rng = streamReader{env.Rand()}
	n.tickFn = n.tick
	n.stepFn = n.step
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
	si, stm := snap.Metadata.Index, snap.Metadata.Term
	if len(snap.Data) != 16 || binary.LittleEndian.Uint64(snap.Data) != si {
		n.dead = fmt.Sprintf("snapshot %d holds a state of %d bytes", si, len(snap.Data))
		env.Fail("etcd.snapshot", "server %d: %s", n.cfg.Me, n.dead)
		return
	}
	n.digest = binary.LittleEndian.Uint64(snap.Data[8:])
	n.applied, n.snapIndex = si, si
	hs, _, _ := st.ms.InitialState()
	n.term, n.commit = hs.Term, hs.Commit
	if o := n.cfg.Observer; o != nil {
		if n.aud != nil {
			n.aud.LogBase(n.cfg.Me, si, stm, si)
			prev := stm
			for i := range kept {
				e := &kept[i]
				n.aud.LogAppended(n.cfg.Me, e.Index, e.Term, prev, e.Data, len(e.Data) == 0)
				prev = e.Term
			}
		}
		o.SnapshotInstalled(n.cfg.Me, si, stm)
	}
	rc := &raft.Config{
		ID:              uint64(n.cfg.Me + 1),
		ElectionTick:    n.cfg.ElectionTicks,
		HeartbeatTick:   n.cfg.HeartbeatTicks,
		Storage:         st.ms,
		Applied:         si,
		MaxSizePerMsg:   n.cfg.MaxSizePerMsg,
		MaxInflightMsgs: n.cfg.MaxInflight,
		CheckQuorum:     n.cfg.CheckQuorum,
		PreVote:         n.cfg.PreVote,
		Logger:          logger{env},
	}
	if rc.MaxSizePerMsg == 0 {
		rc.MaxSizePerMsg = 1 << 20
	}
	if rc.MaxInflightMsgs == 0 {
		rc.MaxInflightMsgs = 256
	}
	withEntropy(n.rng, func() { n.rn, err = raft.NewRawNode(rc) })
	if err != nil {
		n.rn = nil
		env.Fail("setup", "server %d: raft.NewRawNode: %v", n.cfg.Me, err)
		return
	}
	env.After(n.cfg.Tick, n.tickFn)
}

// do runs fn (a call into the RawNode) and then drains the Ready loop, all
// with the node's entropy in crypto/rand.Reader.
func (n *Node) do(fn func()) {
	if n.rn == nil {
		return
	}
	withEntropy(n.rng, func() {
		fn()
		n.drain()
	})
}

func (n *Node) tick() {
	n.do(n.rn.Tick)
	n.env.After(n.cfg.Tick, n.tickFn)
}

func (n *Node) step() { _ = n.rn.Step(n.stepM) }

// Receive steps a delivered etcd raft message into the RawNode.
func (n *Node) Receive(from sim.NodeID, msg sim.Message) {
	m := unwire(msg)
	if m == nil || n.rn == nil {
		return
	}
	n.stepM = *m
	n.do(n.stepFn)
	n.stepM = pb.Message{}
}

// Propose hands a client command to the RawNode (a follower forwards it to
// its leader); false if etcd raft dropped it at once (no known leader).
func (n *Node) Propose(cmd []byte) bool {
	if n.rn == nil || n.env == nil || !n.env.Alive() {
		return false
	}
	var err error
	n.do(func() { err = n.rn.Propose(cmd) })
	return err == nil
}

// Role reports the peer's term and whether it is leader (sim.Roler), from
// its last Ready.
func (n *Node) Role() (uint64, bool) { return n.term, n.leader && n.rn != nil }

// Inspect shows the RawNode's status when a run stops at an event.
func (n *Node) Inspect() any {
	if n.rn == nil {
		return "not running: " + n.dead
	}
	s := n.rn.BasicStatus()
	return fmt.Sprintf("id=%d %v term=%d vote=%d commit=%d applied=%d lead=%d", s.ID, s.RaftState, s.Term, s.Vote, s.Commit, s.Applied, s.Lead)
}

// drain handles every Ready the RawNode has, in etcd's order for
// synchronous storage: persist, send, apply, Advance. A crash point that
// kills the node mid-way ends it: the rest of the handler never ran.
func (n *Node) drain() {
	for n.env.Alive() && n.rn.HasReady() {
		rd := n.rn.Ready()
		n.handle(&rd)
		if !n.env.Alive() {
			return
		}
		n.rn.Advance(rd)
		for _, to := range n.snapsSent {
			n.rn.ReportSnapshot(to, raft.SnapshotFinish)
		}
		n.snapsSent = n.snapsSent[:0]
	}
}

func (n *Node) handle(rd *raft.Ready) {
	me, obs := n.cfg.Me, n.cfg.Observer
	if !raft.IsEmptyHardState(rd.HardState) {
		n.term = rd.HardState.Term
	}
	if rd.SoftState != nil {
		n.leader = rd.SoftState.RaftState == raft.StateLeader
	}
	if n.leader && n.leadTerm != n.term {
		n.leadTerm = n.term
		n.env.Sometimes("etcd: a leader was elected")
		if obs != nil {
			obs.BecameLeader(me, n.term)
		}
	}
	switch n.cfg.Unsafe {
	case UnsafeSendBeforePersist:
		n.send(rd.Messages)
		n.persist(rd, true)
	case UnsafeVoteBeforePersist:
		n.persist(rd, false)
		if !n.env.Alive() {
			return
		}
		n.send(rd.Messages)
		n.persistHard(rd)
	default:
		n.persist(rd, true)
	}
	if !n.env.Alive() {
		return
	}
	if hs := rd.HardState; !raft.IsEmptyHardState(hs) {
		if n.leader && obs != nil && hs.Commit > n.commit {
			first, _ := n.st.ms.FirstIndex()
			from := max(n.commit+1, first)
			if from <= hs.Commit {
				ents, err := n.st.ms.Entries(from, hs.Commit+1, ^uint64(0))
				if err != nil {
					n.env.Fail("etcd.host", "server %d: committed entries [%d, %d]: %v", me, from, hs.Commit, err)
					return
				}
				for i := range ents {
					obs.Committed(me, ents[i].Index, ents[i].Term, ents[i].Data)
				}
			}
		}
		n.commit = hs.Commit
	}
	if n.cfg.Unsafe != UnsafeSendBeforePersist && n.cfg.Unsafe != UnsafeVoteBeforePersist {
		n.send(rd.Messages)
	}
	n.apply(rd.CommittedEntries)
}

// persist makes the Ready's snapshot, entries and HardState durable: written
// to the disk in the order snap, log, hardstate, then one Sync; the
// MemoryStorage takes them too. hard=false leaves the HardState out (the
// vote-before-persist broken host writes it later).
func (n *Node) persist(rd *raft.Ready, hard bool) {
	st, me := n.st, n.cfg.Me
	snap := !raft.IsEmptySnap(rd.Snapshot)
	if snap {
		st.writeSnap(&rd.Snapshot)
		if err := st.ms.ApplySnapshot(rd.Snapshot); err != nil {
			n.env.Fail("etcd.host", "server %d: apply snapshot %d: %v", me, rd.Snapshot.Metadata.Index, err)
			return
		}
		st.rewriteLog()
	}
	var prevTerm uint64
	ents := rd.Entries
	if len(ents) > 0 {
		if first, _ := st.ms.FirstIndex(); ents[0].Index < first {
			// Entries a snapshot covers are never persisted.
			k := 0
			for k < len(ents) && ents[k].Index < first {
				k++
			}
			ents = ents[k:]
		}
	}
	if len(ents) > 0 {
		if n.aud != nil {
			t, err := st.ms.Term(ents[0].Index - 1)
			if err != nil {
				n.env.Fail("etcd.host", "server %d: term at %d: %v", me, ents[0].Index-1, err)
				return
			}
			prevTerm = t
		}
		if err := st.ms.Append(ents); err != nil {
			n.env.Fail("etcd.host", "server %d: append entries from %d: %v", me, ents[0].Index, err)
			return
		}
		st.appendEntries(ents)
	}
	if hard {
		n.persistHard(rd)
	}
	st.disk.Sync()
	if !n.env.Alive() {
		return
	}
	if snap {
		m := rd.Snapshot.Metadata
		if len(rd.Snapshot.Data) != 16 || binary.LittleEndian.Uint64(rd.Snapshot.Data) != m.Index {
			n.env.Fail("etcd.snapshot", "server %d received snapshot %d holding a state of %d bytes", me, m.Index, len(rd.Snapshot.Data))
			return
		}
		n.digest = binary.LittleEndian.Uint64(rd.Snapshot.Data[8:])
		n.applied, n.snapIndex = m.Index, m.Index
		n.env.Sometimes("etcd: a follower installed a snapshot")
		if n.aud != nil {
			n.aud.LogBase(me, m.Index, m.Term, m.Index)
		}
		if obs := n.cfg.Observer; obs != nil {
			obs.SnapshotInstalled(me, m.Index, m.Term)
		}
		if n.sob != nil {
			n.sob.State(me, m.Index, n.digest)
		}
	}
	if n.aud != nil {
		for i := range ents {
			e := &ents[i]
			n.aud.LogAppended(me, e.Index, e.Term, prevTerm, e.Data, len(e.Data) == 0)
			prevTerm = e.Term
		}
	}
}

// persistHard writes the Ready's HardState (if any) and syncs.
func (n *Node) persistHard(rd *raft.Ready) {
	if raft.IsEmptyHardState(rd.HardState) {
		return
	}
	n.st.writeHard(&rd.HardState)
	if err := n.st.ms.SetHardState(rd.HardState); err != nil {
		n.env.Fail("etcd.host", "server %d: set hardstate: %v", n.cfg.Me, err)
		return
	}
	n.st.disk.Sync()
}

// send puts the Ready's messages on the network, reporting votes and
// acknowledgements to the auditor with the disk's unsynced writes.
func (n *Node) send(msgs []pb.Message) {
	for i := range msgs {
		m := &msgs[i]
		if n.aud != nil && !m.Reject {
			switch m.Type {
			case pb.MsgVoteResp:
				hs := n.st.diskHardState()
				n.aud.VoteGranted(n.cfg.Me, m.Term, int(m.To)-1, hs.Term, int(hs.Vote)-1, n.st.disk.Unsynced())
			case pb.MsgAppResp:
				n.aud.Acknowledged(n.cfg.Me, m.Term, m.Index, n.st.disk.Unsynced())
			}
		}
		if m.To < 1 || int(m.To) > len(n.cfg.Peers) {
			n.env.Fail("etcd.host", "server %d: message %v to unknown peer %d", n.cfg.Me, m.Type, m.To)
			return
		}
		n.env.Send(n.cfg.Peers[m.To-1], wire(m))
		if m.Type == pb.MsgSnap {
			n.snapsSent = append(n.snapsSent, m.To)
		}
	}
}

// apply applies committed entries to the state machine (a digest of every
// entry), reporting each, then snapshots every SnapEvery entries.
func (n *Node) apply(ents []pb.Entry) {
	me, obs := n.cfg.Me, n.cfg.Observer
	for i := range ents {
		e := &ents[i]
		if e.Index <= n.applied {
			continue
		}
		if e.Index != n.applied+1 {
			n.env.Fail("etcd.host", "server %d: committed entry %d after applying %d", me, e.Index, n.applied)
			return
		}
		n.digest = mix(n.digest, e.Index, e.Data)
		n.applied = e.Index
		if obs != nil {
			obs.Applied(me, e.Index, e.Term, e.Data)
		}
		if n.sob != nil {
			n.sob.State(me, e.Index, n.digest)
		}
	}
	if n.cfg.SnapEvery > 0 && n.applied >= n.snapIndex+n.cfg.SnapEvery {
		n.snapshot()
	}
}

// snapshot persists the state machine at the applied index and compacts
// the log, keeping SnapEvery/2 entries behind it for slow followers.
func (n *Node) snapshot() {
	st, me := n.st, n.cfg.Me
	snap, err := st.ms.CreateSnapshot(n.applied, &n.cs, encodeState(n.applied, n.digest))
	if err != nil {
		n.env.Fail("etcd.host", "server %d: snapshot at %d: %v", me, n.applied, err)
		return
	}
	st.writeSnap(&snap)
	compact := n.applied - n.cfg.SnapEvery/2
	if first, _ := st.ms.FirstIndex(); compact >= first {
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
