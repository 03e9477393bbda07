package raftcheck

import (
	"bytes"
	"fmt"

	"github.com/smilingraft/dsim/sim"
)

// White-box checker names: invariants over the servers' own state, which a
// Raft reports through the Auditor calls (LogAppended, LogBase,
// MatchAdvanced, VoteGranted, Acknowledged; nodes/raft's raft.Auditor).
const (
	// LogMatching: two logs that hold an entry with the same index and term
	// agree on every entry up to it, the snapshot boundary included.
	LogMatching = "raft.log-matching"
	// LeaderCompleteness: a newly elected leader's log holds every entry
	// committed before its election.
	LeaderCompleteness = "raft.leader-completeness"
	// MatchIndex: a leader's matchIndex for a follower is never ahead of
	// what the follower acknowledged, and an acknowledgement is true: the
	// follower's log matches the leader's through it.
	MatchIndex = "raft.match-index"
	// SyncBeforePromise: a granted vote and an acknowledged entry are on
	// the synced part of the server's disk before the message leaves.
	SyncBeforePromise = "raft.sync-before-promise"
	// CommitDurable: an entry a leader counts committed is held durably
	// by a quorum (the leader counts itself only through its synced log).
	CommitDurable = "raft.commit-durable"
	// CommitVerified: a follower commits only entries an AppendEntries
	// matched against the leader's log (Figure 2: commitIndex = min(
	// leaderCommit, index of last new entry)), never its unchecked suffix.
	CommitVerified = "raft.commit-verified"
)

// logRec is the first report of an entry, which Raft's (index, term)
// identifies for ever: what came before it and its command. Every later
// report of the same (index, term) must agree.
type logRec struct {
	term, prev uint64
	cmd        []byte
	server     int32
	next       int32 // 1 + the position in Checker.more of the next term's record at this index; 0: none
	noop, set  bool
}

// findEntry returns the record of (index, term), or nil. The first term
// reported at an index sits in c.entries; others (conflicting suffixes)
// are chained from it through c.more.
func (c *Checker) findEntry(index, term uint64) *logRec {
	if index >= uint64(len(c.entries)) {
		return nil
	}
	r := &c.entries[index]
	if !r.set {
		return nil
	}
	for r.term != term {
		if r.next == 0 {
			return nil
		}
		r = &c.more[r.next-1]
	}
	return r
}

// addEntry records the first report of (index, term).
func (c *Checker) addEntry(index uint64, r logRec) {
	r.set = true
	for uint64(len(c.entries)) <= index {
		c.entries = append(sim.Grow(c.entries, 1), logRec{})
	}
	head := &c.entries[index]
	if !head.set {
		*head = r
		return
	}
	r.next = head.next
	c.more = append(c.more, r)
	head.next = int32(len(c.more))
}

// termMatch is the highest match one server acknowledged in one term.
type termMatch struct{ term, match uint64 }

// acked returns the highest match server acknowledged in term (0 if none).
func (c *Checker) acked(server int, term uint64) uint64 {
	if server < 0 || server >= len(c.acks) {
		return 0
	}
	as := c.acks[server]
	for k := len(as) - 1; k >= 0; k-- { // a server's terms only grow
		if as[k].term == term {
			return as[k].match
		}
		if as[k].term < term {
			break
		}
	}
	return 0
}

// noteAck records that server acknowledged match in term.
func (c *Checker) noteAck(server int, term, match uint64) {
	for server >= len(c.acks) {
		c.acks = append(c.acks, nil)
	}
	as := c.acks[server]
	k := len(as)
	for k > 0 && as[k-1].term > term {
		k--
	}
	if k > 0 && as[k-1].term == term {
		if match > as[k-1].match {
			as[k-1].match = match
		}
		return
	}
	as = append(as, termMatch{})
	copy(as[k+1:], as[k:])
	as[k] = termMatch{term, match}
	c.acks[server] = as
}

// mirror is what the checker knows of one server's raw log: its snapshot
// boundary and the term of every entry after it.
type mirror struct {
	base, baseTerm uint64
	terms          []uint64 // terms[k] is the term at index base+1+k
	// gen is bumped whenever entries are dropped from the log's end
	// (truncation, a discarding snapshot install, a restart): a leader's
	// log is a stable reference for acknowledgements only while gen is
	// what it was at its election.
	gen               uint64
	leadTerm, leadGen uint64 // the term this server was elected in, at gen
	hasLead           bool
}

func (m *mirror) last() uint64 { return m.base + uint64(len(m.terms)) }

// termAt returns the term at index i if the mirror holds it (the boundary
// or an entry after it).
func (m *mirror) termAt(i uint64) (uint64, bool) {
	switch {
	case i == m.base:
		return m.baseTerm, true
	case i > m.base && i <= m.last():
		return m.terms[i-m.base-1], true
	}
	return 0, false
}

// log returns server's mirror, creating it.
func (c *Checker) log(server int) *mirror {
	for server >= len(c.mirrors) {
		c.mirrors = append(c.mirrors, nil)
	}
	m := c.mirrors[server]
	if m == nil {
		m = &mirror{}
		c.mirrors[server] = m
	}
	return m
}

// reported returns server's mirror if that server has ever reported its
// log (through the Auditor calls), else nil.
func (c *Checker) reported(server int) *mirror {
	if server < 0 || server >= len(c.mirrors) {
		return nil
	}
	return c.mirrors[server]
}

// LogAppended records that server's log now holds at index the entry of
// term with cmd (noop: the protocol's own no-op entry), right after an
// entry of prevTerm, and nothing after it. It checks Log Matching
// incrementally: every report of one (index, term), from any server at any
// time, must name the same command and the same previous term, so by
// induction two logs that share an entry agree on everything before it.
// cmd is kept, not copied: the caller must never modify it afterwards
// (Raft's log entries are immutable).
func (c *Checker) LogAppended(server int, index, term, prevTerm uint64, cmd []byte, noop bool) {
	m := c.log(server)
	if index <= m.base || index > m.last()+1 {
		c.fail(LogMatching, "server %d placed an entry at index %d, outside its log (snapshot at %d, last index %d)",
			server, index, m.base, m.last())
		return
	}
	if pt, _ := m.termAt(index - 1); pt != prevTerm {
		c.fail(LogMatching, "server %d placed (index %d, term %d) after term %d, but its log holds term %d at index %d",
			server, index, term, prevTerm, pt, index-1)
		return
	}
	if r := c.findEntry(index, term); r != nil {
		if r.prev != prevTerm {
			c.fail(LogMatching, "(index %d, term %d) follows term %d on server %d but term %d on server %d: logs that share an entry disagree before it",
				index, term, prevTerm, server, r.prev, r.server)
			return
		}
		if r.noop != noop || !bytes.Equal(r.cmd, cmd) {
			c.fail(LogMatching, "(index %d, term %d) holds %s on server %d but %s on server %d",
				index, term, showEntry(cmd, noop), server, showEntry(r.cmd, r.noop), r.server)
			return
		}
	} else {
		c.addEntry(index, logRec{term: term, prev: prevTerm, cmd: cmd, noop: noop, server: int32(server)})
	}
	if index <= m.last() {
		m.terms = m.terms[:index-m.base-1]
		m.gen++
	}
	m.terms = append(sim.Grow(m.terms, 1), term)
}

// LogBase records that server's log now begins right after (index, term),
// the entry its snapshot covers, and ends at last; the entries in
// (index, last] are the ones it held before. The boundary must be the entry
// known committed (or applied) at index, and a kept suffix must really
// follow it in the server's log.
func (c *Checker) LogBase(server int, index, term, last uint64) {
	m := c.log(server)
	if e, ok := c.known.get(index); ok && index > 0 && e.term != term {
		c.fail(LogMatching, "server %d's snapshot ends at (index %d, term %d), but the entry committed there has term %d",
			server, index, term, e.term)
		return
	}
	if last > index {
		if t, ok := m.termAt(index); !ok || t != term || m.last() != last || index < m.base {
			c.fail(LogMatching, "server %d keeps entries (%d, %d] after a snapshot at (index %d, term %d), but its log held term %d there and ended at %d",
				server, index, last, index, term, t, m.last())
			return
		}
		m.terms = m.terms[index-m.base:]
	} else {
		if m.last() > index {
			m.gen++
		}
		m.terms = m.terms[:0]
	}
	m.base, m.baseTerm = index, term
}

// termCommit is the highest index the leader of one term reported
// committed, and the highest over that term and every earlier one.
type termCommit struct {
	term, index, prefix uint64
}

// noteCommit records that the leader of term committed index, keeping
// c.commits sorted by term with prefix maxima (terms mostly arrive in
// order, so this is an append or an update of the last element).
func (c *Checker) noteCommit(term, index uint64) {
	cs := c.commits
	k := len(cs)
	for k > 0 && cs[k-1].term > term {
		k--
	}
	if k > 0 && cs[k-1].term == term {
		if index <= cs[k-1].index {
			return
		}
		cs[k-1].index = index
		k--
	} else {
		cs = append(cs, termCommit{})
		copy(cs[k+1:], cs[k:])
		cs[k] = termCommit{term: term, index: index}
	}
	for j := k; j < len(cs); j++ {
		cs[j].prefix = cs[j].index
		if j > 0 && cs[j-1].prefix > cs[j].prefix {
			cs[j].prefix = cs[j-1].prefix
		}
	}
	c.commits = cs
}

// committedBefore returns the highest index committed by the leader of a
// term below term (0 if none).
func (c *Checker) committedBefore(term uint64) uint64 {
	cs := c.commits
	k := len(cs)
	for k > 0 && cs[k-1].term >= term {
		k--
	}
	if k == 0 {
		return 0
	}
	return cs[k-1].prefix
}

// leaderComplete checks, at server's election in term, that its log holds
// the highest entry committed in an earlier term (Log Matching then gives
// every entry below it). Entries committed in term or later are not its
// business: a server elected late (after a pause) may rightly lack them.
func (c *Checker) leaderComplete(server int, term uint64) {
	m := c.reported(server)
	if m == nil {
		return
	}
	m.hasLead, m.leadTerm, m.leadGen = true, term, m.gen
	ci := c.committedBefore(term)
	e, ok := c.known.get(ci)
	if ci == 0 || !ok {
		return
	}
	if ci > m.last() {
		c.fail(LeaderCompleteness, "server %d became leader of term %d with its log ending at index %d, but index %d (term %d) is committed",
			server, term, m.last(), ci, e.term)
		return
	}
	if t, ok := m.termAt(ci); ok && t != e.term {
		c.fail(LeaderCompleteness, "server %d became leader of term %d holding term %d at index %d, but the entry committed there has term %d",
			server, term, t, ci, e.term)
	}
	// ci below the snapshot boundary: the snapshot covers it, and LogBase
	// checked the boundary against what was committed.
}

// MatchAdvanced records that the leader of term raised its matchIndex for
// peer to match: peer must have acknowledged at least that much in term.
func (c *Checker) MatchAdvanced(leader int, term uint64, peer int, match uint64) {
	if got := c.acked(peer, term); match > got {
		c.fail(MatchIndex, "leader %d of term %d set its matchIndex for server %d to %d, but server %d acknowledged only through index %d in term %d",
			leader, term, peer, match, peer, got, term)
	}
}

// Acknowledged records that server, in term, is telling the leader that its
// log matches the leader's through match. Nothing it promises may be
// unsynced, and the claim must be true: while the leader of term still
// holds the log it was elected with (plus appends), both logs hold the same
// term at match.
func (c *Checker) Acknowledged(server int, term, match uint64, unsynced []sim.DiskOp) {
	if len(unsynced) > 0 {
		c.fail(SyncBeforePromise, "server %d acknowledged its log through index %d in term %d with %d unsynced disk writes (first: %s)",
			server, match, term, len(unsynced), showOp(unsynced[0]))
		return
	}
	c.noteAck(server, term, match)
	l, ok := c.leaders[term]
	if !ok || l == server {
		return
	}
	lm, fm := c.reported(l), c.reported(server)
	if lm == nil || fm == nil || !lm.hasLead || lm.leadTerm != term || lm.leadGen != lm.gen {
		return // the leader's log changed since (or was never reported)
	}
	if match > lm.last() || match > fm.last() {
		c.fail(MatchIndex, "server %d acknowledged a match through index %d to leader %d of term %d, whose log ends at %d (its own ends at %d)",
			server, match, l, term, lm.last(), fm.last())
		return
	}
	lt, ok1 := lm.termAt(match)
	ft, ok2 := fm.termAt(match)
	if ok1 && ok2 && lt != ft {
		c.fail(MatchIndex, "server %d acknowledged a match through index %d to leader %d of term %d, but they hold terms %d and %d there",
			server, match, l, term, ft, lt)
	}
}

// VoteGranted checks that server's vote for candidate in term is durable
// before the reply leaves: its state file on disk says (term, candidate),
// or a later term, and no write to its files is unsynced.
func (c *Checker) VoteGranted(server int, term uint64, candidate int, diskTerm uint64, diskVote int, unsynced []sim.DiskOp) {
	if len(unsynced) > 0 {
		c.fail(SyncBeforePromise, "server %d granted its vote to %d in term %d with %d unsynced disk writes (first: %s)",
			server, candidate, term, len(unsynced), showOp(unsynced[0]))
		return
	}
	// A disk already at a later term holds the promise too: the server can
	// never vote in term again (a batching writer may make a newer
	// HardState durable before the older vote's reply leaves).
	if diskTerm < term || diskTerm == term && diskVote != candidate {
		c.fail(SyncBeforePromise, "server %d granted its vote to %d in term %d, but its disk says term %d, vote %d",
			server, candidate, term, diskTerm, diskVote)
	}
}

// LogView returns what the checker knows of server's log: the snapshot
// boundary (index and term) and the term of each entry after it (a copy).
// ok is false if the server never reported its log.
func (c *Checker) LogView(server int) (base, baseTerm uint64, terms []uint64, ok bool) {
	m := c.reported(server)
	if m == nil {
		return 0, 0, nil, false
	}
	return m.base, m.baseTerm, append([]uint64(nil), m.terms...), true
}

func showEntry(cmd []byte, noop bool) string {
	if noop {
		return "a no-op"
	}
	return show(cmd)
}

func showOp(op sim.DiskOp) string {
	names := [...]string{sim.OpWrite: "write", sim.OpAppend: "append", sim.OpDelete: "delete", sim.OpRename: "rename"}
	k := fmt.Sprint(op.Kind)
	if int(op.Kind) < len(names) && names[op.Kind] != "" {
		k = names[op.Kind]
	}
	if op.To != "" {
		return fmt.Sprintf("%s %s to %s", k, op.Name, op.To)
	}
	return fmt.Sprintf("%s %s", k, op.Name)
}

// LeaderCommitted checks that the entry a leader now counts committed is
// held durably by a quorum: the followers that acknowledged it in this term
// (acknowledgements are promises of synced state, SyncBeforePromise), plus
// the leader itself only if its log is synced through the entry. Counting
// acknowledgements sent rather than received can only over-count, so a
// failure here is a real violation: a crash of the leader before its Sync
// could take the entry from every majority.
func (c *Checker) LeaderCommitted(leader int, term, index, durable uint64, quorum int) {
	held := 0
	if durable >= index {
		held++
	}
	for s, as := range c.acks {
		if s == leader {
			continue
		}
		for _, a := range as {
			if a.term == term && a.match >= index {
				held++
			}
		}
	}
	if held < quorum {
		c.fail(CommitDurable, "leader %d committed index %d in term %d, which only %d servers hold durably (quorum %d): its own log is synced through %d only",
			leader, index, term, held, quorum, durable)
	}
}

// FollowerCommitted checks Figure 2's commit rule on a follower: the commit
// index an AppendEntries sets never passes the last entry that message
// matched against the leader's log. A follower that caps the leader's
// commit by its own last index instead commits a suffix nobody checked,
// which may be a stale one from an older term.
func (c *Checker) FollowerCommitted(server int, term, commit, verified uint64) {
	if commit > verified {
		c.fail(CommitVerified, "server %d committed through index %d in term %d on an AppendEntries that matched its log only through %d",
			server, commit, term, verified)
	}
}
