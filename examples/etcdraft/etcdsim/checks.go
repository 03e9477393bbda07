package etcdsim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/sim"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// Checker names of the membership, progress and anomaly checkers.
const (
	// CheckConfAgree: every server applies the same configuration changes
	// at the same indices and gets the same ConfState from each.
	CheckConfAgree = "etcd.conf-agree"
	// CheckConfValid: a ConfState respects etcd's own invariants (no peer
	// both voter and learner, LearnersNext only in a joint configuration).
	CheckConfValid = "etcd.conf-valid"
	// CheckOneConfChange: at most one conf change is unapplied on a leader
	// when it appends another (etcd's pendingConfIndex rule).
	CheckOneConfChange = "etcd.one-conf-change"
	// CheckQuorum: a leader's commit index never exceeds what a quorum of
	// the voters of its configuration has matched.
	CheckQuorum = "etcd.quorum"
	// CheckProgress: the leader's per-peer progress bookkeeping.
	CheckProgress = "etcd.progress"
	// CheckStableElections: elections and term growth after the heal stay
	// within documented bounds.
	CheckStableElections = "etcd.stable-elections"
)

// MemberCheck checks membership safety across servers: configurations
// agree at every index, at most one conf change is pending at a time, and
// commits count only the voters of the leader's configuration. Servers are
// numbered from 0; peer IDs are etcd's (server+1 in this host).
type MemberCheck struct {
	fail raftcheck.FailFunc
	// kinds[index] is what was first applied at index.
	kinds []applied
	// confs holds the ConfState first obtained from the conf change at each
	// index, sorted by index (conf changes are rare: a slice is enough).
	confs []confAt
	// appends records, for each conf change appended by a leader, its
	// applied index at the time.
	appends map[entryKey]appendRec
	// committed are the committed conf changes, sorted by index.
	committed []confCommit
	// buf is scratch space for quorum computations.
	buf [16]uint64
}

type applied struct {
	server int32 // first server to apply at this index, plus one (0: none)
	conf   bool
	term   uint64
}

type confAt struct {
	index, term uint64
	server      int
	cs          *pb.ConfState
}

type entryKey struct{ index, term uint64 }

type appendRec struct {
	applied uint64
	leader  int
}

type confCommit struct {
	index, term uint64
	// applied is the appending leader's applied index, valid if known.
	applied uint64
	leader  int
	known   bool
}

// NewMemberCheck returns a membership checker failing through fail.
func NewMemberCheck(fail raftcheck.FailFunc) *MemberCheck {
	return &MemberCheck{fail: fail, appends: map[entryKey]appendRec{}}
}

// slot returns the record of index, growing the table as needed.
func (m *MemberCheck) slot(index uint64) *applied {
	for uint64(len(m.kinds)) <= index {
		m.kinds = append(m.kinds, applied{})
	}
	return &m.kinds[index]
}

// NormalApplied: server applied the normal (non conf-change) entry at
// (index, term). It fails etcd.conf-agree if another server applied a conf
// change at index. Call it for every applied normal entry (or skip it and
// lose only that half of the check); it costs a slice lookup.
func (m *MemberCheck) NormalApplied(server int, index, term uint64) {
	s := m.slot(index)
	switch {
	case s.server == 0:
		*s = applied{server: int32(server) + 1, term: term}
	case s.conf:
		m.fail(CheckConfAgree, "server %d applied a normal entry at index %d (term %d) where server %d applied a conf change (term %d)",
			server, index, term, s.server-1, s.term)
	}
}

// ConfApplied: server applied the conf-change entry at (index, term) and
// etcd's RawNode.ApplyConfChange returned cs. Fails etcd.conf-agree when
// another server got a different ConfState at index (compared as sets) or
// applied a normal entry there, and etcd.conf-valid when cs breaks etcd's
// configuration invariants.
func (m *MemberCheck) ConfApplied(server int, index, term uint64, cs *pb.ConfState) {
	if why := confInvalid(cs); why != "" {
		m.fail(CheckConfValid, "server %d applied the conf change at index %d (term %d) and got %s: %s", server, index, term, fmtConf(cs), why)
		return
	}
	s := m.slot(index)
	switch {
	case s.server == 0:
		*s = applied{server: int32(server) + 1, conf: true, term: term}
	case !s.conf:
		m.fail(CheckConfAgree, "server %d applied a conf change at index %d (term %d) where server %d applied a normal entry (term %d)",
			server, index, term, s.server-1, s.term)
		return
	}
	i := m.confIndex(index)
	if i < len(m.confs) && m.confs[i].index == index {
		c := &m.confs[i]
		if !sameConf(c.cs, cs) {
			m.fail(CheckConfAgree, "server %d applied the conf change at index %d (term %d) and got %s; server %d got %s (term %d)",
				server, index, term, fmtConf(cs), c.server, fmtConf(c.cs), c.term)
		}
		return
	}
	m.confs = slices.Insert(m.confs, i, confAt{index: index, term: term, server: server, cs: cloneConf(cs)})
}

// SnapshotConf: server's state now starts from a snapshot through index
// whose metadata holds cs (received from a leader or loaded at boot). The
// configuration in a snapshot must be the one the last conf change at or
// below index produced, when the checker has seen that conf change applied
// (every conf change at or below a snapshot's index was applied by the
// server that took it, so it is known unless the cluster booted with it).
func (m *MemberCheck) SnapshotConf(server int, index uint64, cs *pb.ConfState) {
	if why := confInvalid(cs); why != "" {
		m.fail(CheckConfValid, "server %d's snapshot at index %d holds %s: %s", server, index, fmtConf(cs), why)
		return
	}
	i := m.confIndex(index + 1)
	if i == 0 {
		return
	}
	if c := &m.confs[i-1]; !sameConf(c.cs, cs) {
		m.fail(CheckConfAgree, "server %d's snapshot at index %d holds %s, but the conf change at index %d (applied by server %d) produced %s",
			server, index, fmtConf(cs), c.index, c.server, fmtConf(c.cs))
	}
}

// confIndex returns the position of the first recorded conf change at or
// above index.
func (m *MemberCheck) confIndex(index uint64) int {
	i, _ := slices.BinarySearchFunc(m.confs, index, func(c confAt, index uint64) int { return cmp.Compare(c.index, index) })
	return i
}

// LeaderAppendedConf: leader server in term appended a conf-change entry at
// index while its applied index was applied. Report only entries that are
// still conf changes in the Ready (etcd turns a refused one into an empty
// normal entry), with raft's applied index at append time: in synchronous
// storage that is BasicStatus().Applied when the Ready carrying the entry is
// taken (a later, larger value only weakens the check).
func (m *MemberCheck) LeaderAppendedConf(server int, term, index, applied uint64) {
	m.appends[entryKey{index, term}] = appendRec{applied: applied, leader: server}
}

// ConfCommitted: the conf-change entry at (index, term) committed. Fails
// etcd.one-conf-change when a committed conf change at j < index was beyond
// the applied index its leader reported when it appended index (so two conf
// changes were unapplied at once), in whichever order the commits arrive.
// Repeated reports of one index are ignored.
func (m *MemberCheck) ConfCommitted(index, term uint64) {
	lo, found := slices.BinarySearchFunc(m.committed, index, func(c confCommit, index uint64) int { return cmp.Compare(c.index, index) })
	if found {
		return
	}
	c := confCommit{index: index, term: term}
	if v, ok := m.appends[entryKey{index, term}]; ok {
		c.applied, c.leader, c.known = v.applied, v.leader, true
	}
	m.committed = slices.Insert(m.committed, lo, c)
	// This one against the closest earlier committed conf change.
	if c.known && lo > 0 {
		if j := m.committed[lo-1]; j.index > c.applied {
			m.failPending(c, j)
			return
		}
	}
	// Later ones (committed reports out of order) against this one.
	for _, k := range m.committed[lo+1:] {
		if k.known && index > k.applied {
			m.failPending(k, c)
			return
		}
	}
}

func (m *MemberCheck) failPending(later, earlier confCommit) {
	m.fail(CheckOneConfChange, "conf changes at index %d (term %d) and %d (term %d) both committed, but leader %d appended %d when it had applied only %d: two unapplied conf changes at once",
		earlier.index, earlier.term, later.index, later.term, later.leader, later.index, later.applied)
}

// LeaderCommit: leader server of term advanced its commit index to commit;
// matches are the Match of each peer's Progress (etcd IDs, the leader
// included); cs is the configuration the commit was computed under. Take
// all three at the same moment, when Ready() returns the HardState with the
// new commit and before that Ready's committed entries are applied: then cs
// is the ConfState of the host's last ApplyConfChange, which is the
// configuration raft's tracker counted with (see ReadMatches). Fails
// etcd.quorum if commit exceeds the quorum index computed here (the
// majority-th highest Match among Voters, the minimum over both halves when
// joint; learners and IDs outside cs never count) or a Match is reported for
// an ID in no part of cs.
func (m *MemberCheck) LeaderCommit(server int, term, commit uint64, matches map[uint64]uint64, cs *pb.ConfState) {
	stray := uint64(0)
	for id := range matches {
		if !inConf(cs, id) && (stray == 0 || id < stray) {
			stray = id
		}
	}
	if stray != 0 {
		m.fail(CheckQuorum, "leader %d (term %d) tracks progress for peer %d, which is in no part of its configuration %s", server, term, stray, fmtConf(cs))
		return
	}
	q := m.quorumIndex(cs.Voters, matches)
	if len(cs.VotersOutgoing) > 0 {
		q = min(q, m.quorumIndex(cs.VotersOutgoing, matches))
	}
	if commit > q {
		m.fail(CheckQuorum, "leader %d (term %d) committed through %d, but the voters of %s have matched only through %d (matches %s)",
			server, term, commit, fmtConf(cs), q, fmtMatches(matches))
	}
}

// quorumIndex is the highest index matched by a majority of voters (a
// voter without a Match counts 0); an empty set of voters imposes no bound,
// as in etcd's quorum.MajorityConfig.
func (m *MemberCheck) quorumIndex(voters []uint64, matches map[uint64]uint64) uint64 {
	if len(voters) == 0 {
		return ^uint64(0)
	}
	v := m.buf[:0]
	if len(voters) > len(m.buf) {
		v = make([]uint64, 0, len(voters))
	}
	for _, id := range voters {
		x := matches[id]
		// Insertion sort, descending.
		v = append(v, x)
		for i := len(v) - 1; i > 0 && v[i-1] < v[i]; i-- {
			v[i-1], v[i] = v[i], v[i-1]
		}
	}
	return v[len(v)/2]
}

// ReadMatches fills matches (cleared first) with the Match of every peer
// the RawNode's progress tracker holds, without allocating once matches is
// large enough: the input LeaderCommit wants.
func ReadMatches(rn *raft.RawNode, matches map[uint64]uint64) {
	clear(matches)
	rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) { matches[id] = pr.Match })
}

// ReadProgress fills pr (cleared first) from the RawNode's progress
// tracker: the input ProgressCheck.Observe wants.
func ReadProgress(rn *raft.RawNode, pr map[uint64]Progress) {
	clear(pr)
	rn.WithProgress(func(id uint64, _ raft.ProgressType, p tracker.Progress) {
		pr[id] = Progress{Match: p.Match, Next: p.Next, State: p.State.String()}
	})
}

// inConf says whether id has any role in cs.
func inConf(cs *pb.ConfState, id uint64) bool {
	return has(cs.Voters, id) || has(cs.VotersOutgoing, id) || has(cs.Learners, id) || has(cs.LearnersNext, id)
}

func has(s []uint64, x uint64) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// sameSet compares two ID lists as sets (etcd lists hold no duplicates).
func sameSet(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !has(b, x) {
			return false
		}
	}
	return true
}

// sameConf compares two ConfStates as sets.
func sameConf(a, b *pb.ConfState) bool {
	return pbBool(a.AutoLeave) == pbBool(b.AutoLeave) && sameSet(a.Voters, b.Voters) && sameSet(a.Learners, b.Learners) &&
		sameSet(a.VotersOutgoing, b.VotersOutgoing) && sameSet(a.LearnersNext, b.LearnersNext)
}

// confInvalid returns why cs breaks etcd's configuration invariants
// (confchange.checkInvariants), or "".
func confInvalid(cs *pb.ConfState) string {
	for _, id := range cs.Learners {
		if has(cs.Voters, id) || has(cs.VotersOutgoing, id) {
			return fmt.Sprintf("peer %d is both a learner and a voter", id)
		}
	}
	for _, id := range cs.LearnersNext {
		if !has(cs.VotersOutgoing, id) {
			return fmt.Sprintf("peer %d is a next learner but not an outgoing voter", id)
		}
		if has(cs.Learners, id) {
			return fmt.Sprintf("peer %d is both a learner and a next learner", id)
		}
	}
	if len(cs.VotersOutgoing) == 0 {
		if len(cs.LearnersNext) > 0 {
			return "next learners outside a joint configuration"
		}
		if pbBool(cs.AutoLeave) {
			return "auto-leave outside a joint configuration"
		}
	}
	return ""
}

func cloneConf(cs *pb.ConfState) *pb.ConfState {
	c := &pb.ConfState{
		Voters: sortedCopy(cs.Voters), Learners: sortedCopy(cs.Learners),
		VotersOutgoing: sortedCopy(cs.VotersOutgoing), LearnersNext: sortedCopy(cs.LearnersNext),
	}
	pbSetBool(&c.AutoLeave, pbBool(cs.AutoLeave))
	return c
}

func sortedCopy(s []uint64) []uint64 {
	if len(s) == 0 {
		return nil
	}
	c := append([]uint64(nil), s...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j-1] > c[j]; j-- {
			c[j-1], c[j] = c[j], c[j-1]
		}
	}
	return c
}

// fmtConf prints cs with sorted sets (only on failure).
func fmtConf(cs *pb.ConfState) string {
	c := cloneConf(cs)
	s := fmt.Sprintf("voters=%v", c.Voters)
	if len(c.VotersOutgoing) > 0 {
		s += fmt.Sprintf("&&%v", c.VotersOutgoing)
	}
	if len(c.Learners) > 0 {
		s += fmt.Sprintf(" learners=%v", c.Learners)
	}
	if len(c.LearnersNext) > 0 {
		s += fmt.Sprintf(" learners_next=%v", c.LearnersNext)
	}
	if pbBool(c.AutoLeave) {
		s += " autoleave"
	}
	return s
}

// fmtMatches prints matches sorted by ID (only on failure).
func fmtMatches(matches map[uint64]uint64) string {
	ids := make([]uint64, 0, len(matches))
	for id := range matches {
		ids = append(ids, id)
	}
	ids = sortedCopy(ids)
	var b strings.Builder
	b.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%d", id, matches[id])
	}
	b.WriteByte('}')
	return b.String()
}

// Progress is one peer's progress as a leader tracks it (from
// tracker.Progress): State is tracker.StateType.String().
type Progress struct {
	Match, Next uint64
	State       string
}

// ProgressCheck checks a leader's progress bookkeeping read white-box from
// its RawNode (Status().Progress or ReadProgress).
type ProgressCheck struct {
	fail    raftcheck.FailFunc
	leaders []leaderView
}

// leaderView is what one server showed as leader in its current term.
type leaderView struct {
	term  uint64
	gen   uint64
	match map[uint64]seenMatch
}

type seenMatch struct{ match, gen uint64 }

// NewProgressCheck returns a progress checker failing through fail.
func NewProgressCheck(fail raftcheck.FailFunc) *ProgressCheck {
	return &ProgressCheck{fail: fail}
}

// Observe: leader server of term shows the progress pr (etcd ID -> Match,
// Next, State). lastIndex is the leader's durable last index, or 0 if
// unknown: with synchronous storage, its storage's LastIndex after Advance
// (before Advance the leader's own Match still lags the entries of the
// Ready being handled); with AsyncStorageWrites pass 0, since a leader
// sends entries while its own append is in flight and a follower may match
// beyond the leader's durable log. Fails
// etcd.progress when, within the term, a peer's Match moves backwards (a
// peer dropped from pr and added back starts fresh), when Next <= Match, or
// when lastIndex is given and the leader's own Match differs from it or a
// peer's Match exceeds it. Violations are reported for the smallest ID.
func (p *ProgressCheck) Observe(server int, term, lastIndex uint64, pr map[uint64]Progress) {
	for len(p.leaders) <= server {
		p.leaders = append(p.leaders, leaderView{})
	}
	v := &p.leaders[server]
	if v.match == nil {
		v.match = make(map[uint64]seenMatch, len(pr))
	}
	if v.term != term {
		clear(v.match)
		v.term = term
	}
	v.gen++
	self := uint64(server) + 1
	bad, why := uint64(0), 0
	var was uint64
	for id, x := range pr {
		w := 0
		old, ok := v.match[id]
		switch {
		case x.Next <= x.Match:
			w = 1
		case ok && x.Match < old.match:
			w = 2
		case lastIndex != 0 && id == self && x.Match != lastIndex:
			w = 3
		case lastIndex != 0 && x.Match > lastIndex:
			w = 4
		}
		if w != 0 && (bad == 0 || id < bad) {
			bad, why, was = id, w, old.match
		}
		v.match[id] = seenMatch{match: x.Match, gen: v.gen}
	}
	for id, s := range v.match {
		if s.gen != v.gen {
			delete(v.match, id)
		}
	}
	if bad == 0 {
		return
	}
	x := pr[bad]
	switch why {
	case 1:
		p.fail(CheckProgress, "leader %d (term %d): peer %d has Next %d <= Match %d (%s)", server, term, bad, x.Next, x.Match, x.State)
	case 2:
		p.fail(CheckProgress, "leader %d (term %d): peer %d's Match went back from %d to %d (%s)", server, term, bad, was, x.Match, x.State)
	case 3:
		p.fail(CheckProgress, "leader %d (term %d): its own Match is %d, its durable last index %d", server, term, x.Match, lastIndex)
	case 4:
		p.fail(CheckProgress, "leader %d (term %d): peer %d's Match %d is beyond the leader's durable last index %d", server, term, bad, x.Match, lastIndex)
	}
}

// AnomalyBounds are the limits of the anomaly checker.
type AnomalyBounds struct {
	// ElectionsAfterHeal is how many leaders may be elected after the
	// first one elected after the heal.
	ElectionsAfterHeal int
	// TermGrowthAfterHeal is how far the highest term may rise above the
	// highest term any server held when that first leader was elected.
	TermGrowthAfterHeal uint64
}

// DefaultAnomalyBounds are the bounds for a cluster of servers voters with
// PreVote and CheckQuorum on every peer, on a fully connected network whose
// delays are far below the election timeout, with no leader transfer,
// forced campaign or removal of the leader in the liveness phase.
//
// Why they hold (etcd raft v3.6, raft.go Step): once healed, the first
// leader L wins term T with the votes of a quorum, which then all hold term
// T. A peer outside that quorum may still hold a higher term from the fault
// phase (with PreVote a term only rises after a won pre-vote, but the
// candidate can be cut off right after it). Such a peer does disrupt L: it
// answers L's MsgApp/MsgHeartbeat of the lower term with an MsgAppResp at
// its own term (the "m.Term < r.Term" case, kept so that a stuck node is
// freed), and L steps down on a message of a higher term; the next leader
// is elected above that term. Votes and pre-votes of a higher term do not
// disrupt: with CheckQuorum a peer that heard from its leader within the
// election timeout ignores them (inLease), and pre-votes never change a
// term. So each stale term can depose at most one leader, and in a calm
// network nothing else deposes one (CheckQuorum's step-down needs a quorum
// silent for an election timeout). With one stale term per other server
// (messages delayed in the fault phase and delivered after the heal can
// carry one too), at most servers-1 further elections; the term rises by at
// most one above the highest stale term for the last of them, plus split
// votes (two pre-candidates both winning their pre-vote, which randomized
// timeouts make rare): servers+1.
func DefaultAnomalyBounds(servers int) AnomalyBounds {
	n := max(servers, 1)
	return AnomalyBounds{ElectionsAfterHeal: n - 1, TermGrowthAfterHeal: uint64(n + 1)}
}

// Anomalies flags efficiency and liveness anomalies after the heal.
type Anomalies struct {
	fail   raftcheck.FailFunc
	bounds AnomalyBounds

	healed, stable bool
	healAt         sim.Time
	maxTerm        uint64 // highest term seen from any server

	first     bool // the first leader after the heal was elected
	firstSrv  int
	firstTerm uint64
	firstAt   sim.Time
	baseTerm  uint64 // highest term known when it was elected
	elections int    // leaders elected after it
	lastTerm  uint64 // term of the last election counted
	extra     [8]election
	finished  bool
}

type election struct {
	server int
	term   uint64
	at     sim.Time
}

// NewAnomalies returns an anomaly checker with bounds failing through fail.
func NewAnomalies(fail raftcheck.FailFunc, bounds AnomalyBounds) *Anomalies {
	return &Anomalies{fail: fail, bounds: bounds}
}

// Healed: the nemesis healed everything at now (the liveness phase
// begins); stable says PreVote and CheckQuorum are on for every peer and
// the liveness phase runs nothing that deposes a leader on purpose
// (transfers, forced campaigns, removing the leader): only then are the
// bounds enforced.
func (a *Anomalies) Healed(now sim.Time, stable bool) {
	a.healed, a.stable, a.healAt = true, stable, now
}

// Elected: server became leader of term at now.
func (a *Anomalies) Elected(server int, term uint64, now sim.Time) {
	base := a.maxTerm
	a.Term(server, term, now)
	if !a.healed {
		return
	}
	if !a.first {
		a.first, a.firstSrv, a.firstTerm, a.firstAt, a.baseTerm, a.lastTerm = true, server, term, now, base, term
		return
	}
	if term <= a.lastTerm {
		return // the same election reported again
	}
	a.lastTerm = term
	if a.elections < len(a.extra) {
		a.extra[a.elections] = election{server, term, now}
	}
	a.elections++
}

// Term: server's term is now term (from its HardState).
func (a *Anomalies) Term(server int, term uint64, now sim.Time) {
	a.maxTerm = max(a.maxTerm, term)
}

// Finish: the run ends at now. Fails etcd.stable-elections when, after the
// first leader elected after Healed, more than bounds.ElectionsAfterHeal
// further leaders were elected or the highest term rose more than
// bounds.TermGrowthAfterHeal above the highest term held when that first
// leader was elected (only when Healed said stable).
func (a *Anomalies) Finish(now sim.Time) {
	if a.finished || !a.healed || !a.stable || !a.first {
		return
	}
	a.finished = true
	if a.elections > a.bounds.ElectionsAfterHeal {
		var b strings.Builder
		for i := 0; i < a.elections && i < len(a.extra); i++ {
			e := a.extra[i]
			fmt.Fprintf(&b, " server %d term %d at %v;", e.server, e.term, e.at)
		}
		if a.elections > len(a.extra) {
			b.WriteString(" ...")
		}
		a.fail(CheckStableElections, "healed at %v, first leader server %d of term %d at %v, then %d more elections by %v (bound %d):%s",
			a.healAt, a.firstSrv, a.firstTerm, a.firstAt, a.elections, now, a.bounds.ElectionsAfterHeal, strings.TrimSuffix(b.String(), ";"))
		return
	}
	if g := a.maxTerm - max(a.baseTerm, a.firstTerm); a.maxTerm > max(a.baseTerm, a.firstTerm) && g > a.bounds.TermGrowthAfterHeal {
		a.fail(CheckStableElections, "healed at %v, first leader server %d of term %d at %v (highest term then %d), highest term %d by %v: grew %d (bound %d)",
			a.healAt, a.firstSrv, a.firstTerm, a.firstAt, max(a.baseTerm, a.firstTerm), a.maxTerm, now, g, a.bounds.TermGrowthAfterHeal)
	}
}

// Stats returns, after Healed, the further elections counted after the
// first post-heal leader and the term growth above the base, for metrics.
func (a *Anomalies) Stats() (elections int, termGrowth uint64) {
	if !a.first {
		return 0, 0
	}
	base := max(a.baseTerm, a.firstTerm)
	if a.maxTerm > base {
		termGrowth = a.maxTerm - base
	}
	return a.elections, termGrowth
}
