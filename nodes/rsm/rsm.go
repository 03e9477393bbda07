// Package rsm is a replicated state machine over nodes/raft, the layer of
// the MIT 6.5840 lab 4A/4C (kvraft1/rsm) written as a pure state machine on
// sim.Env: a service hands it a StateMachine, and every peer applies the same
// committed ops in log order. Submit runs an op through the log exactly once
// per (client, seq) and answers it once applied, or with ErrWrongLeader when
// this peer is not (or stops being) the leader or another entry lands at the
// op's index; Read answers read-only ops through the log, ReadIndex or the
// leader's lease (Config.Raft.ReadMode).
//
// Nothing here has a thread or a clock of its own: input arrives through
// Submit, Read and Step (Raft's messages, routed by the host node), output
// through the callbacks, time through one env.After timer that polls Raft's
// leadership while ops are pending (about every heartbeat). The per-client
// duplicate table is part of the replicated state and of every snapshot;
// snapshots are taken after an apply once Raft's persisted size reaches
// Config.MaxRaftState, and a restarted peer restores from Raft's snapshot.
// A malformed command or snapshot is a protocol bug reported through
// env.Fail, never a panic.
//
// Like every package under nodes/, it may import only sim, other nodes/
// packages (here nodes/raft) and the deterministic standard library.
package rsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/nodes/wire"
	"github.com/smilingraft/dsim/sim"
)

// StateMachine is the service an RSM replicates. DoOp must be deterministic
// and must not keep op (it aliases the log).
type StateMachine interface {
	// DoOp applies one committed op and returns its result, a slice the
	// RSM owns from then on (it keeps it in the duplicate table without a
	// copy): the state machine must not reuse or modify it.
	DoOp(op []byte) []byte
	// Snapshot encodes the whole service state.
	Snapshot() []byte
	// Restore replaces the state with a snapshot's (empty: the initial state).
	Restore(data []byte)
}

// Querier is optionally implemented by state machines that can answer a
// read-only op from local state (used for ReadIndex and lease reads). Like
// DoOp, Query must not keep op (the RSM reuses its buffer).
type Querier interface {
	Query(op []byte) []byte
}

// ResultlessApplier is optionally implemented by state machines that can
// apply an op without producing its result. The RSM uses it for an op
// whose result nobody reads: one without a client (a read through the log)
// that no Submit on this peer waits for, as on every follower. The state
// must change exactly as DoOp would change it.
type ResultlessApplier interface {
	ApplyOnly(op []byte)
}

// ResultAppender is optionally implemented by state machines that can
// append an op's result to a buffer: AppendDoOp(dst, op) applies op as DoOp
// does and returns dst with the result appended. The RSM passes a client's
// previous result from the duplicate table (which it owns alone: it hands
// out copies only), so that each client's results reuse one buffer.
type ResultAppender interface {
	AppendDoOp(dst, op []byte) []byte
}

// Config configures one RSM peer.
type Config struct {
	// Raft is the peer's Raft configuration (ReadMode picks the read path).
	Raft raft.Config
	// MaxRaftState: snapshot once raft.PersistSize() >= MaxRaftState after
	// an apply; <= 0 never snapshots (the lab passes -1).
	MaxRaftState int

	// UnsafeNoDedup (UNSAFE) turns duplicate detection off: a retried op
	// whose first copy also committed is applied twice. It exists to show
	// what dsim catches (exactly-once violations).
	UnsafeNoDedup bool
	// UnsafeAnswerAnyEntry (UNSAFE) answers a pending Submit with the result
	// of whatever entry was applied at its index, without checking that it
	// is the op's own entry (term, client, seq) and without noticing a
	// change of leadership first: a deposed leader reports success for ops
	// that never committed.
	UnsafeAnswerAnyEntry bool
}

// Errors a Submit or Read callback may receive.
var (
	// ErrWrongLeader: this peer is not (or stopped being) the leader, or
	// another entry took the op's index; try another server.
	ErrWrongLeader = errors.New("rsm: wrong leader")
	// ErrStale: the op's seq is older than the last one applied for its
	// client (a clerk never does this; a confused one learns it here).
	ErrStale = errors.New("rsm: seq older than the client's last applied op")
)

// Failure checker names (env.Fail) for protocol bugs found by assertions.
const (
	// CheckDecode: a command or snapshot in the log does not decode.
	CheckDecode = "rsm.decode"
	// CheckOrder: Raft delivered an index out of order.
	CheckOrder = "rsm.in-order"
	// CheckInternal: an internal invariant broke.
	CheckInternal = "rsm.internal"
)

// dupEntry is a client's last applied op: its seq and its result.
type dupEntry struct {
	seq    uint64
	result []byte
}

// pendingOp is a Submit waiting for its entry to be applied.
type pendingOp struct {
	index, term uint64
	client, seq uint64
	cb          func([]byte, error)
	borrow      bool // SubmitCmd's: cb may get the duplicate table's result
}

// readWait is a Read (or ReadLocal) waiting for Raft's ReadIndex. Once
// answered it goes back to the RSM's free list, with its ReadIndex callback
// (bound once) for the next read.
type readWait struct {
	s     *RSM
	done  bool
	op    []byte              // Read's (a copy)
	cb    func([]byte, error) // Read's
	local func(error)         // ReadLocal's
	fn    func(index uint64, ok bool)
}

// Stats counts what one incarnation did (for metrics and tests).
type Stats struct {
	// Applied counts committed ops run through DoOp (duplicates excluded).
	Applied uint64
	// Duplicates counts committed ops answered from the duplicate table.
	Duplicates uint64
	// Stale counts committed ops ignored for an older seq.
	Stale uint64
	// WrongLeader counts Submits and Reads answered ErrWrongLeader.
	WrongLeader uint64
	// Snapshots counts snapshots taken; Restores counts snapshots loaded
	// (at start and from the leader).
	Snapshots, Restores uint64
}

// RSM is one replicated-state-machine peer. All methods must be called from
// the host node's event handlers (single-threaded).
type RSM struct {
	env *sim.Env
	cfg Config
	sm  StateMachine
	q   Querier
	ra  ResultlessApplier
	rap ResultAppender
	r   *raft.Raft

	applied uint64                 // last index applied or restored
	dup     map[uint64]dupEntry    // client -> last applied seq and result
	pending []pendingOp            // Submits in the log, by increasing index
	reads   []*readWait            // Reads waiting on ReadIndex
	spare   sim.FreeList[readWait] // answered ones, for the next Reads
	polling bool
	poll    sim.Timer
	period  sim.Duration
	killed  bool
	stats   Stats
}

// New builds a peer: Raft from env.Disk(), then sm restored from Raft's
// snapshot (with the duplicate table). It returns an error only for a bad
// Config.
func New(env *sim.Env, cfg Config, sm StateMachine) (*RSM, error) {
	if sm == nil {
		return nil, fmt.Errorf("rsm: nil StateMachine")
	}
	s := &RSM{env: env, cfg: cfg, sm: sm, dup: map[uint64]dupEntry{}}
	s.q, _ = sm.(Querier)
	s.ra, _ = sm.(ResultlessApplier)
	s.rap, _ = sm.(ResultAppender)
	s.period = cfg.Raft.Heartbeat
	if s.period <= 0 {
		s.period = 100 * sim.Millisecond
	}
	if cfg.Raft.ReadMode == "" || cfg.Raft.ReadMode == raft.ReadLog {
		// A quiet service must still re-apply its log after a restart of
		// every peer: a new leader commits a no-op of its term at once
		// (rsm/restart-submit seed 3 under a drawn plan stayed at counter 0
		// on every peer for 30 s: the Inc it answered last was of an older
		// term and no later op came to commit it). The other read modes
		// append one at their first read already.
		cfg.Raft.NoopOnElection = true
	}
	r, err := raft.New(env, cfg.Raft, s.apply)
	if err != nil {
		return nil, fmt.Errorf("rsm: %w", err)
	}
	s.r = r
	if data := r.SnapshotData(); len(data) > 0 {
		s.restore(data, r.SnapshotIndex())
	}
	s.applied = r.SnapshotIndex()
	return s, nil
}

// Raft returns the peer's Raft.
func (s *RSM) Raft() *raft.Raft { return s.r }

// Step hands a Raft message to the peer; it returns false if msg is not one
// of Raft's, so that the host can route its own messages.
func (s *RSM) Step(from sim.NodeID, msg sim.Message) bool {
	if s.killed {
		return isRaftMessage(msg)
	}
	return s.r.Step(from, msg)
}

func isRaftMessage(msg sim.Message) bool {
	switch msg.(type) {
	case *raft.RequestVote, *raft.RequestVoteReply, *raft.AppendEntries, *raft.AppendEntriesReply,
		*raft.InstallSnapshot, *raft.InstallSnapshotReply:
		return true
	}
	return false
}

// Submit runs op through the log exactly once per (client, seq): cb(result,
// nil) once applied, or cb(nil, err) with ErrWrongLeader when this peer is
// not (or stops being) the leader, or another entry lands at the op's index.
// client == 0 disables duplicate detection. A clerk uses one seq per
// operation, increasing, one outstanding op at a time; a retry reuses the
// seq. A (client, seq) already applied here is answered at once from the
// duplicate table; an older seq gets ErrStale. cb may run before Submit
// returns.
func (s *RSM) Submit(client, seq uint64, op []byte, cb func(result []byte, err error)) {
	s.submit(client, seq, op, nil, cb)
}

// CmdHeaderMax is the most bytes AppendCmdHeader appends.
const CmdHeaderMax = 1 + 2*binary.MaxVarintLen64

// AppendCmdHeader appends the framing of a command for (client, seq) to b.
// A host that appends its encoded op after it and hands the whole to
// SubmitCmd builds the Raft command in one buffer instead of two.
func AppendCmdHeader(b []byte, client, seq uint64) []byte {
	b = append(b, cmdMagic)
	b = binary.AppendUvarint(b, client)
	return binary.AppendUvarint(b, seq)
}

// SubmitCmd is Submit of a command already framed: cmd is
// AppendCmdHeader(b, client, seq) followed by the op, and the RSM keeps it
// (the caller must not modify it afterwards). Unlike Submit's, its cb's
// result is only lent: it may be the duplicate table's, valid until cb
// returns, so a caller that keeps it copies it (one that only decodes it
// saves the RSM a copy). A cmd whose header is not (client, seq) fails the
// run (CheckInternal) and gets no answer.
func (s *RSM) SubmitCmd(client, seq uint64, cmd []byte, cb func(result []byte, err error)) {
	if c, q, _, err := decodeCmd(cmd); err != nil || c != client || q != seq {
		s.env.Fail(CheckInternal, "SubmitCmd for client %d seq %d with a command framed for client %d seq %d (%v)", client, seq, c, q, err)
		return
	}
	s.submit(client, seq, nil, cmd, cb)
}

// lend returns result b for a callback: a copy if b is shared (the
// duplicate table's) and the callback does not borrow results (SubmitCmd's
// do), else b. Only a peer with the op pending pays for the copy, not its
// followers.
func lend(b []byte, shared, borrow bool) []byte {
	if shared && !borrow {
		return append([]byte(nil), b...)
	}
	return b
}

// submit is Submit of op, or SubmitCmd of cmd if cmd is not nil.
func (s *RSM) submit(client, seq uint64, op, cmd []byte, cb func(result []byte, err error)) {
	if cb == nil {
		cb = func([]byte, error) {}
	}
	if s.killed || s.r.Corrupt() {
		s.wrongLeader(cb)
		return
	}
	if client != 0 && !s.cfg.UnsafeNoDedup {
		if d, ok := s.dup[client]; ok {
			switch {
			case seq == d.seq:
				s.env.Sometimes("rsm: duplicate answered from the table at submit")
				cb(lend(d.result, true, cmd != nil), nil)
				return
			case seq < d.seq:
				cb(nil, ErrStale)
				return
			}
		}
	}
	s.checkLeadership()
	borrow := cmd != nil
	if cmd == nil {
		cmd = encodeCmd(client, seq, op)
	}
	index, term, ok := s.r.Start(cmd)
	if !ok {
		s.wrongLeader(cb)
		return
	}
	if n := len(s.pending); n > 0 && s.pending[n-1].index >= index {
		// Only possible if checkLeadership missed a term change.
		s.env.Fail(CheckInternal, "submit at index %d (term %d) behind pending index %d (term %d)",
			index, term, s.pending[n-1].index, s.pending[n-1].term)
		return
	}
	s.pending = append(s.pending, pendingOp{index: index, term: term, client: client, seq: seq, cb: cb, borrow: borrow})
	s.startPoll()
}

// Read answers a read-only op by the configured read path: "log" submits it
// through the log (no dedup), "readindex" and "lease" use raft.ReadIndex
// then Querier.Query on local state (a StateMachine that is not a Querier
// reads through the log).
func (s *RSM) Read(op []byte, cb func(result []byte, err error)) {
	if cb == nil {
		cb = func([]byte, error) {}
	}
	if s.killed || s.r.Corrupt() {
		s.wrongLeader(cb)
		return
	}
	mode := s.cfg.Raft.ReadMode
	if mode == "" || mode == raft.ReadLog || s.q == nil {
		s.Submit(0, 0, op, cb)
		return
	}
	w := s.newRead()
	w.cb, w.op = cb, append(w.op[:0], op...)
	s.reads = append(s.reads, w)
	s.r.ReadIndex(w.fn)
}

// LocalReads reports whether Read answers from local state (ReadMode
// readindex or lease) rather than through the log: a host that reads its
// state itself uses ReadLocal then, and Submit (or SubmitCmd) of the read
// with client 0 otherwise, which is what Read does.
func (s *RSM) LocalReads() bool {
	mode := s.cfg.Raft.ReadMode
	return mode != "" && mode != raft.ReadLog
}

// ReadLocal is Read for a host that reads its state machine itself: cb(nil)
// runs at a linearizable read point, once Raft has applied through it, and
// the host reads its state then, within cb; cb(ErrWrongLeader) if this peer
// is not (or stops being) the leader. It always uses raft.ReadIndex
// (confirmed by a heartbeat round, or the lease in ReadMode lease).
func (s *RSM) ReadLocal(cb func(err error)) {
	if s.killed || s.r.Corrupt() {
		s.stats.WrongLeader++
		cb(ErrWrongLeader)
		return
	}
	w := s.newRead()
	w.local = cb
	s.reads = append(s.reads, w)
	s.r.ReadIndex(w.fn)
}

// newRead returns a spare readWait, or a new one with its callback bound.
func (s *RSM) newRead() *readWait {
	if w := s.spare.Get(); w != nil {
		return w
	}
	w := &readWait{s: s}
	w.fn = w.ready
	return w
}

// ready is Raft's ReadIndex callback. An answered readWait goes back to
// the spares (Raft calls each callback once; one failed by Kill never
// does: Kill leaves it done and out of the spares).
func (w *readWait) ready(index uint64, ok bool) {
	s := w.s
	if w.done {
		return
	}
	s.dropRead(w)
	cb, local, op := w.cb, w.local, w.op
	switch {
	case !ok:
		s.stats.WrongLeader++
		if local != nil {
			local(ErrWrongLeader)
		} else {
			cb(nil, ErrWrongLeader)
		}
	case s.applied < index:
		s.env.Fail(CheckInternal, "read point %d but applied only through %d", index, s.applied)
		return
	case local != nil:
		local(nil)
	default:
		cb(s.q.Query(op), nil)
	}
	w.done, w.cb, w.local, w.op = false, nil, nil, op[:0]
	s.spare.Put(w)
}

func (s *RSM) dropRead(w *readWait) {
	w.done = true
	for i, x := range s.reads {
		if x == w {
			s.reads = append(s.reads[:i], s.reads[i+1:]...)
			return
		}
	}
}

// Kill stops the peer the way the lab's Kill does: every pending Submit and
// Read returns ErrWrongLeader now, later calls get ErrWrongLeader at once,
// and Raft's messages are ignored. A host calls it just before a shutdown.
func (s *RSM) Kill() {
	if s.killed {
		return
	}
	s.killed = true
	s.env.Cancel(s.poll)
	s.polling = false
	s.failPending(func(*pendingOp) bool { return true })
	reads := s.reads
	s.reads = nil
	for _, w := range reads {
		w.done = true
		s.stats.WrongLeader++
		if w.local != nil {
			w.local(ErrWrongLeader)
		} else {
			w.cb(nil, ErrWrongLeader)
		}
	}
}

// Killed reports whether Kill was called.
func (s *RSM) Killed() bool { return s.killed }

// Applied returns the last index applied (or restored from a snapshot).
func (s *RSM) Applied() uint64 { return s.applied }

// Pending returns how many Submits wait for their entry.
func (s *RSM) Pending() int { return len(s.pending) }

// LastSeq returns the duplicate table's entry for client: its last applied
// seq, and whether the client is known.
func (s *RSM) LastSeq(client uint64) (seq uint64, ok bool) {
	d, ok := s.dup[client]
	return d.seq, ok
}

// Clients returns how many clients the duplicate table holds.
func (s *RSM) Clients() int { return len(s.dup) }

// Stats returns this incarnation's counters.
func (s *RSM) Stats() Stats { return s.stats }

// Inspect returns a printable summary of the peer's state.
func (s *RSM) Inspect() any {
	return map[string]any{
		"applied": s.applied, "pending": len(s.pending), "reads": len(s.reads), "clients": len(s.dup),
		"killed": s.killed, "raft": s.r.Inspect(),
	}
}

func (s *RSM) wrongLeader(cb func([]byte, error)) {
	s.stats.WrongLeader++
	cb(nil, ErrWrongLeader)
}

// ---- leadership ----

// startPoll arms the leadership poll while Submits are pending.
func (s *RSM) startPoll() {
	if s.polling || len(s.pending) == 0 {
		return
	}
	s.polling = true
	s.poll = s.env.After(s.period, s.onPoll)
}

func (s *RSM) onPoll() {
	s.polling = false
	s.poll = sim.Timer{}
	if s.killed {
		return
	}
	s.checkLeadership()
	s.startPoll()
}

// checkLeadership fails every pending Submit of an earlier term, or all of
// them if this peer no longer leads. A leader cut off in a minority keeps
// its term and its pending ops: they return once it learns of a new term.
func (s *RSM) checkLeadership() {
	if len(s.pending) == 0 || s.cfg.UnsafeAnswerAnyEntry {
		return
	}
	term, lead := s.r.State()
	n := s.failPending(func(p *pendingOp) bool { return !lead || p.term != term })
	if n > 0 {
		s.env.Sometimes("rsm: pending ops failed on leadership loss")
	}
}

// failPending answers ErrWrongLeader to the pending ops drop selects, in
// index order, and returns how many.
func (s *RSM) failPending(drop func(*pendingOp) bool) int {
	var failed []pendingOp
	keep := s.pending[:0]
	for i := range s.pending {
		if drop(&s.pending[i]) {
			failed = append(failed, s.pending[i])
		} else {
			keep = append(keep, s.pending[i])
		}
	}
	for i := len(keep); i < len(s.pending); i++ {
		s.pending[i] = pendingOp{}
	}
	s.pending = keep
	for _, p := range failed {
		s.wrongLeader(p.cb)
	}
	return len(failed)
}

// ---- apply ----

// apply is Raft's apply callback.
func (s *RSM) apply(m raft.ApplyMsg) {
	if s.killed {
		return
	}
	switch {
	case m.SnapshotValid:
		if m.SnapshotIndex <= s.applied {
			s.env.Fail(CheckOrder, "snapshot at index %d delivered after applying index %d", m.SnapshotIndex, s.applied)
			return
		}
		if !s.restore(m.Snapshot, m.SnapshotIndex) {
			return
		}
		s.applied = m.SnapshotIndex
		if n := s.failPending(func(p *pendingOp) bool { return p.index <= m.SnapshotIndex }); n > 0 {
			s.env.Sometimes("rsm: pending ops failed by an installed snapshot")
		}
	case m.CommandValid || m.Noop:
		if m.Index != s.applied+1 {
			s.env.Fail(CheckOrder, "applied index %d right after index %d", m.Index, s.applied)
			return
		}
		s.applied = m.Index
		if m.Noop {
			s.answer(m.Index, m.Term, 0, 0, false, nil, false, nil)
		} else {
			s.applyCmd(m)
		}
		s.maybeSnapshot()
	}
}

// applyCmd runs one committed command through the duplicate table and the
// state machine, and answers its Submit if it is pending here.
func (s *RSM) applyCmd(m raft.ApplyMsg) {
	client, seq, op, err := decodeCmd(m.Command)
	if err != nil {
		s.env.Fail(CheckDecode, "index %d: %v", m.Index, err)
		return
	}
	var result []byte
	var rerr error
	shared := false // result is the duplicate table's: a callback gets a copy
	d, known := s.dup[client]
	switch {
	case client == 0 || s.cfg.UnsafeNoDedup:
		// No duplicate table entry: the result matters only to a Submit
		// pending here at (or, by a bug answer reports, before) this index.
		if s.ra != nil && (len(s.pending) == 0 || s.pending[0].index > m.Index) {
			s.ra.ApplyOnly(op)
		} else {
			result = s.sm.DoOp(op)
		}
		s.stats.Applied++
	case known && seq == d.seq:
		result, shared = d.result, true
		s.stats.Duplicates++
		s.env.Sometimes("rsm: duplicate op suppressed at apply")
	case known && seq < d.seq:
		rerr = ErrStale
		s.stats.Stale++
		s.env.Sometimes("rsm: stale op ignored at apply")
	default:
		if s.rap != nil && known {
			result = s.rap.AppendDoOp(d.result[:0], op) // the table's old result is nobody else's
		} else {
			result = s.sm.DoOp(op)
		}
		shared = true
		s.stats.Applied++
		s.dup[client] = dupEntry{seq: seq, result: result}
	}
	s.answer(m.Index, m.Term, client, seq, true, result, shared, rerr)
}

// answer resolves the pending Submit at index, if any: its own entry (same
// term, client and seq) gets result (a copy if shared, the duplicate
// table's); any other entry means the op was overwritten (ErrWrongLeader).
func (s *RSM) answer(index, term, client, seq uint64, cmd bool, result []byte, shared bool, rerr error) {
	for len(s.pending) > 0 && s.pending[0].index <= index {
		// Shift rather than reslice, so that Submit's append reuses the
		// array (a queue resliced from the front reallocates as it goes).
		p := s.pending[0]
		n := copy(s.pending, s.pending[1:])
		s.pending[n] = pendingOp{}
		s.pending = s.pending[:n]
		switch {
		case p.index < index:
			s.env.Fail(CheckInternal, "pending op at index %d skipped (now applying %d)", p.index, index)
			return
		case s.cfg.UnsafeAnswerAnyEntry:
			p.cb(lend(result, shared, p.borrow), nil)
		case p.term != term:
			s.env.Sometimes("rsm: another term's entry took a pending op's index")
			s.wrongLeader(p.cb)
		case !cmd || p.client != client || p.seq != seq:
			// One leader writes one entry per (index, term): a different
			// entry with the same term means the log lied.
			s.env.Fail(CheckInternal, "index %d term %d: pending op (client %d seq %d) but applied another entry (client %d seq %d, cmd %v)",
				index, term, p.client, p.seq, client, seq, cmd)
			s.wrongLeader(p.cb)
		case rerr != nil:
			p.cb(nil, rerr)
		default:
			p.cb(lend(result, shared, p.borrow), nil)
		}
	}
}

// maybeSnapshot snapshots once Raft's persisted state reaches MaxRaftState.
func (s *RSM) maybeSnapshot() {
	if s.cfg.MaxRaftState <= 0 || s.r.PersistSize() < s.cfg.MaxRaftState || s.applied <= s.r.SnapshotIndex() {
		return
	}
	s.stats.Snapshots++
	s.env.Sometimes("rsm: snapshot taken")
	s.r.Snapshot(s.applied, s.encodeSnapshot())
}

// ---- encodings ----

const (
	cmdMagic  = 0xC1 // first byte of every command
	snapMagic = "RSM1"
)

// encodeCmd frames (client, seq, op) as one Raft command.
func encodeCmd(client, seq uint64, op []byte) []byte {
	return append(AppendCmdHeader(make([]byte, 0, CmdHeaderMax+len(op)), client, seq), op...)
}

// decodeCmd undoes encodeCmd; op aliases b.
func decodeCmd(b []byte) (client, seq uint64, op []byte, err error) {
	if len(b) == 0 || b[0] != cmdMagic {
		return 0, 0, nil, fmt.Errorf("command of %d bytes lacks the rsm header", len(b))
	}
	b = b[1:]
	client, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, nil, fmt.Errorf("command: bad client varint")
	}
	b = b[n:]
	seq, n = binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, nil, fmt.Errorf("command: bad seq varint")
	}
	return client, seq, b[n:], nil
}

// encodeSnapshot encodes the applied index, the duplicate table (sorted by
// client) and the state machine's snapshot.
func (s *RSM) encodeSnapshot() []byte {
	clients := make([]uint64, 0, len(s.dup))
	for c := range s.dup {
		clients = append(clients, c)
	}
	sort.Slice(clients, func(i, j int) bool { return clients[i] < clients[j] })
	sm := s.sm.Snapshot()
	size := len(snapMagic) + 3*binary.MaxVarintLen64 + len(sm)
	for _, c := range clients {
		size += 3*binary.MaxVarintLen64 + len(s.dup[c].result)
	}
	b := append(make([]byte, 0, size), snapMagic...)
	b = binary.AppendUvarint(b, s.applied)
	b = binary.AppendUvarint(b, uint64(len(clients)))
	for _, c := range clients {
		d := s.dup[c]
		b = binary.AppendUvarint(b, c)
		b = binary.AppendUvarint(b, d.seq)
		b = wire.AppendBytes(b, d.result)
	}
	return wire.AppendBytes(b, sm)
}

// restore loads a snapshot taken at index; a malformed one fails the run.
func (s *RSM) restore(data []byte, index uint64) bool {
	dup, sm, at, err := decodeSnapshot(data)
	if err != nil {
		s.env.Fail(CheckDecode, "snapshot at index %d: %v", index, err)
		return false
	}
	if at != index {
		s.env.Fail(CheckDecode, "snapshot encodes index %d but Raft says %d", at, index)
		return false
	}
	s.dup = dup
	s.sm.Restore(sm)
	s.stats.Restores++
	return true
}

func decodeSnapshot(b []byte) (dup map[uint64]dupEntry, sm []byte, index uint64, err error) {
	if len(b) < len(snapMagic) || string(b[:len(snapMagic)]) != snapMagic {
		return nil, nil, 0, fmt.Errorf("no %q header (%d bytes)", snapMagic, len(b))
	}
	d := wire.NewDecoder(b[len(snapMagic):])
	index = d.Uvarint()
	n := d.Uvarint()
	if d.Err() == nil && n > uint64(d.Len()) {
		d.Fail(fmt.Errorf("%d clients in %d bytes", n, d.Len()))
	}
	dup = map[uint64]dupEntry{}
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		c := d.Uvarint()
		seq := d.Uvarint()
		res := d.Bytes()
		dup[c] = dupEntry{seq: seq, result: res}
	}
	sm = d.Bytes()
	if err := d.Done(); err != nil {
		return nil, nil, 0, err
	}
	return dup, sm, index, nil
}
