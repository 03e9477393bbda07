// Package raftcheck holds online checkers for Raft's safety properties and
// small helpers for its liveness properties. A Checker is fed through the
// same four calls a Raft peer makes on its observer (BecameLeader, Applied,
// SnapshotInstalled, Committed) plus Restarted from the harness, and reports
// the first violation it sees through a FailFunc with a named checker and a
// one-line reason.
//
// A peer that also reports its own state (the Auditor calls LogAppended,
// LogBase, MatchAdvanced, VoteGranted and Acknowledged, whitebox.go) is
// checked white-box as well, incrementally: Log Matching over the raw logs
// with the snapshot boundary, Leader Completeness at every election, a
// leader's matchIndex against what followers acknowledged, and votes and
// acknowledgements durable before they leave. These catch a broken Raft
// before (or without) any wrong output.
//
// It may import only sim types and the standard library: it knows Raft's
// properties, not any Raft implementation, so it checks any peer that makes
// those calls.
package raftcheck

import (
	"bytes"
	"fmt"
)

// Checker names, as they appear in failures.
const (
	ElectionSafety     = "raft.election-safety"
	StateMachineSafety = "raft.state-machine-safety"
	InOrderApply       = "raft.in-order-apply"
	CommittedNeverLost = "raft.committed-never-lost"
	StaleRead          = "raft.stale-read"
	Liveness           = "raft.liveness"
)

// FailFunc reports a violation: the checker's name and a one-line reason.
// (*sim.World).Fail has this signature.
type FailFunc func(checker, format string, args ...any)

type entry struct {
	term   uint64
	cmd    []byte
	server int
	commit bool // the value was first learnt from a Committed report
	set    bool // a table slot holds this entry
}

// Checker checks Raft's safety properties online, one call at a time:
//
//   - election safety: at most one server becomes leader in a term;
//   - state-machine safety (log matching as the service sees it): no two
//     servers apply different commands, or commands of different terms, at
//     one index;
//   - committed never lost (leader completeness as the service sees it): an
//     entry reported committed is the one every server applies, and is the
//     one every later commit report names, at that index;
//   - in-order apply: each incarnation of a server applies index k only right
//     after k-1, or right after a snapshot at k-1; a restarted incarnation
//     starts from index 1 or from a snapshot it (or a peer) installed or took.
//
// It is not safe for concurrent use; a simulated world is single-threaded.
type Checker struct {
	fail FailFunc

	leaders map[uint64]int // term -> server that became leader
	known   table          // index -> first command seen applied or committed

	last     map[int]uint64          // server -> last applied index, this incarnation
	fresh    map[int]bool            // server -> restarted, nothing applied yet
	snaps    map[int]map[uint64]bool // server -> snapshot indices it persisted
	maxTerm  uint64
	maxCommt uint64 // highest index reported committed
	nCommits uint64 // Committed reports seen
	nApplied uint64 // Applied reports seen
	nLeaders uint64 // BecameLeader reports seen

	// White-box state (whitebox.go), filled only by Auditor calls.
	entries []logRec      // index -> first (index, term) reported there
	more    []logRec      // later (index, term)s, chained from entries
	mirrors []*mirror     // server -> its raw log as reported
	acks    [][]termMatch // server -> highest match acknowledged, by term
	commits []termCommit  // by term: highest index its leader committed
	ledTerm []uint64      // server -> highest term it became leader in
}

// New returns a checker that reports violations through fail.
func New(fail FailFunc) *Checker {
	if fail == nil {
		panic("raftcheck: nil FailFunc")
	}
	return &Checker{
		fail:    fail,
		leaders: map[uint64]int{},
		last:    map[int]uint64{},
		fresh:   map[int]bool{},
		snaps:   map[int]map[uint64]bool{},
	}
}

// BecameLeader records that server won an election in term. A second server
// winning the same term breaks election safety; a winner whose reported log
// lacks a committed entry breaks leader completeness.
func (c *Checker) BecameLeader(server int, term uint64) {
	c.nLeaders++
	if term > c.maxTerm {
		c.maxTerm = term
	}
	if prev, ok := c.leaders[term]; ok && prev != server {
		c.fail(ElectionSafety, "servers %d and %d both became leader in term %d", prev, server, term)
		return
	}
	c.leaders[term] = server
	for server >= len(c.ledTerm) {
		c.ledTerm = append(c.ledTerm, 0)
	}
	if server >= 0 && term > c.ledTerm[server] {
		c.ledTerm[server] = term
	}
	c.leaderComplete(server, term)
}

// Committed records that server learnt that the entry (index, term, cmd) is
// committed. Two different entries committed at one index means a committed
// entry was lost (overwritten).
func (c *Checker) Committed(server int, index, term uint64, cmd []byte) {
	c.nCommits++
	if index == 0 {
		c.fail(CommittedNeverLost, "server %d reported index 0 committed", server)
		return
	}
	if index > c.maxCommt {
		c.maxCommt = index
	}
	if server >= 0 && server < len(c.ledTerm) && c.ledTerm[server] > 0 {
		c.noteCommit(c.ledTerm[server], index)
	}
	e, ok := c.known.get(index)
	if !ok {
		c.known.put(index, entry{term: term, cmd: cmd, server: server, commit: true})
		return
	}
	if e.term != term || !bytes.Equal(e.cmd, cmd) {
		what := "applied"
		if e.commit {
			what = "committed"
		}
		c.fail(CommittedNeverLost, "index %d: server %d committed %s (term %d) but server %d %s %s (term %d)",
			index, server, show(cmd), term, e.server, what, show(e.cmd), e.term)
	}
}

// Applied records that server's service applied the command at index. It
// checks in-order apply for this incarnation and that every server applies
// the same command at the index, the one reported committed there.
func (c *Checker) Applied(server int, index, term uint64, cmd []byte) {
	c.nApplied++
	if !c.inOrder(server, index) {
		return
	}
	c.last[server] = index
	c.fresh[server] = false
	e, ok := c.known.get(index)
	if !ok {
		c.known.put(index, entry{term: term, cmd: cmd, server: server})
		return
	}
	if e.term != term || !bytes.Equal(e.cmd, cmd) {
		if e.commit {
			c.fail(CommittedNeverLost, "index %d: server %d applied %s (term %d) but server %d reported %s (term %d) committed",
				index, server, show(cmd), term, e.server, show(e.cmd), e.term)
			return
		}
		c.fail(StateMachineSafety, "index %d: server %d applied %s (term %d) but server %d applied %s (term %d)",
			index, server, show(cmd), term, e.server, show(e.cmd), e.term)
	}
}

// inOrder checks that index is the next one server may apply.
func (c *Checker) inOrder(server int, index uint64) bool {
	last := c.last[server]
	if c.fresh[server] {
		// A restarted incarnation starts at 1, or right after a snapshot
		// this server persisted (the service loads it itself).
		if index == 1 || c.snaps[server][index-1] {
			return true
		}
		c.fail(InOrderApply, "server %d applied index %d first after a restart; want 1 or a persisted snapshot's index + 1", server, index)
		return false
	}
	if index != last+1 {
		c.fail(InOrderApply, "server %d applied index %d right after index %d", server, index, last)
		return false
	}
	return true
}

// SnapshotInstalled records that server's service installed a snapshot
// covering indices up to index (the next apply must be index+1). A snapshot
// behind what the incarnation already applied would roll its state back.
func (c *Checker) SnapshotInstalled(server int, index, term uint64) {
	if !c.fresh[server] && index < c.last[server] {
		c.fail(InOrderApply, "server %d installed a snapshot at index %d after applying index %d", server, index, c.last[server])
		return
	}
	c.Snapshotted(server, index)
	c.last[server] = index
	c.fresh[server] = false
}

// Snapshotted records that server persisted a snapshot at index (the service
// called Snapshot, or installed one): a later incarnation may resume right
// after it.
func (c *Checker) Snapshotted(server int, index uint64) {
	if c.snaps[server] == nil {
		c.snaps[server] = map[uint64]bool{}
	}
	c.snaps[server][index] = true
}

// Restarted tells the checker that server is a new incarnation (the harness
// calls it from the node factory): it must apply from index 1 again, or from
// just after a snapshot it persisted.
func (c *Checker) Restarted(server int) {
	c.fresh[server] = true
	c.last[server] = 0
	if m := c.reported(server); m != nil {
		// Its log is whatever the new incarnation loads (LogBase, then
		// LogAppended per entry).
		m.terms = m.terms[:0]
		m.base, m.baseTerm = 0, 0
		m.gen++
	}
}

// Stats are the checker's counters, for liveness conditions and metrics.
type Stats struct {
	// MaxTerm is the highest term in which some server became leader.
	MaxTerm uint64
	// MaxCommitted is the highest index reported committed.
	MaxCommitted uint64
	// Leaders, Commits and Applies count the reports seen.
	Leaders, Commits, Applies uint64
}

// Stats returns the checker's counters so far.
func (c *Checker) Stats() Stats {
	return Stats{MaxTerm: c.maxTerm, MaxCommitted: c.maxCommt, Leaders: c.nLeaders, Commits: c.nCommits, Applies: c.nApplied}
}

// LastApplied returns the last index server applied in its current
// incarnation (0 if none).
func (c *Checker) LastApplied(server int) uint64 { return c.last[server] }

// CommandAt returns the command known at index (applied or committed by
// someone), if any.
func (c *Checker) CommandAt(index uint64) ([]byte, bool) {
	e, ok := c.known.get(index)
	if !ok {
		return nil, false
	}
	return e.cmd, true
}

// LeaderOf returns the server that became leader in term, if any.
func (c *Checker) LeaderOf(term uint64) (int, bool) {
	s, ok := c.leaders[term]
	return s, ok
}

// show prints a command briefly: as text if printable, else as hex.
func show(b []byte) string {
	const max = 24
	s := b
	cut := ""
	if len(s) > max {
		s, cut = s[:max], fmt.Sprintf("...(%dB)", len(b))
	}
	for _, ch := range s {
		if ch < 0x20 || ch > 0x7e {
			return fmt.Sprintf("%x%s", s, cut)
		}
	}
	return fmt.Sprintf("%q%s", s, cut)
}

// ReadStart marks the start of a linearizable read: the highest index
// reported committed anywhere when the read began.
type ReadStart struct{ committed uint64 }

// BeginRead marks the start of a read (a ReadIndex call, a lease read).
func (c *Checker) BeginRead() ReadStart { return ReadStart{committed: c.maxCommt} }

// EndRead checks a read that server answered at index (the state it reads
// must include everything up to index). An index below an entry already
// committed when the read began is a stale read: the read misses a write
// that completed before it started.
func (c *Checker) EndRead(server int, start ReadStart, index uint64) {
	if index < start.committed {
		c.fail(StaleRead, "server %d served a read at index %d, but index %d was committed before the read began", server, index, start.committed)
	}
}
