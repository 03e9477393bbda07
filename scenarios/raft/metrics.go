package raft

import (
	"github.com/smilingraft/dsim/sim"
)

// Metrics every raft scenario records, all in virtual time (see
// scenarios.Distribution for the _p50/_p99/_max/_count suffixes). They are
// observations only: no randomness, no events, no messages, so recording
// them never changes a trace hash.
const (
	// mFirstLeader: time from the start of the run to the first election
	// won (absent if none was).
	mFirstLeader = "first_leader_ns"
	// mLeaderChanges: elections won after the first one.
	mLeaderChanges = "leader_changes"
	// mNoLeader*: after the first leader, the windows in which no server
	// was an effective leader: up, not paused, believing it leads its term,
	// and linked both ways to a majority of up, unpaused servers whose term
	// is not above its own. A leader cut off in a minority does not count,
	// so a partition that strands the leader opens a window until a new
	// leader wins (or the old one is reachable again). Total, longest and
	// how many; a window still open at the end of the run is closed there.
	mNoLeaderTotal = "no_leader_total_ns"
	mNoLeaderMax   = "no_leader_max_ns"
	mNoLeaderCount = "no_leader_windows"
	// mCommitLatency: from a leader appending a command (Start) to that
	// entry (same index and term) committing.
	mCommitLatency = "commit_latency_ns"
	// mOpLatency: a client command's latency, from the first leader to
	// append it to its first commit at any index: retries after a lost
	// leader (the same bytes started again elsewhere) are inside it.
	mOpLatency = "op_latency_ns"
	// mRetries: appends by a leader of a command some leader had already
	// appended and that had not committed yet (a client's retry, or a
	// command started on two servers that both thought they led).
	mRetries = "retries"
	// mCommits: commands committed (no-ops aside), counted once each.
	mCommits = "commits"
	// mMsgsPerCommit, mBytesPerCommit: every message (and its bytes) the
	// network carried during the run over the commands committed.
	mMsgsPerCommit  = "msgs_per_commit"
	mBytesPerCommit = "bytes_per_commit"
	// mSnapshotMax, mSnapshots: the largest snapshot a server took or
	// installed, and how many it took or installed in all.
	mSnapshotMax = "snapshot_max_bytes"
	mSnapshots   = "snapshots"
)

// metrics holds a run's observations until the run ends.
type metrics struct {
	// leaders counts elections won; first is when the first was.
	leaders int
	first   sim.Time
	// have: an effective leader after the last event; since: when the
	// current leaderless window began.
	have      bool
	since     sim.Time
	windows   int
	total     sim.Duration
	longest   sim.Duration
	appended  map[uint64]appendAt // index -> the leader's append
	pending   map[uint64]sim.Time // command hash -> first append
	commitLat []float64           // ns
	opLat     []float64           // ns
	retries   int
	commits   int
	snapMax   int
	snaps     int
}

type appendAt struct {
	term uint64
	at   sim.Time
}

// becameLeader counts an election won.
func (m *metrics) becameLeader(now sim.Time) {
	if m.leaders == 0 {
		m.first = now
	}
	m.leaders++
}

// started notes a command a leader appended at (index, term).
func (m *metrics) started(now sim.Time, index, term uint64, cmd []byte) {
	if m.appended == nil {
		m.appended, m.pending = map[uint64]appendAt{}, map[uint64]sim.Time{}
	}
	m.appended[index] = appendAt{term, now}
	k := cmdKey(cmd)
	if _, ok := m.pending[k]; ok {
		m.retries++
		return
	}
	m.pending[k] = now
}

// committed notes the first commit of index (term, cmd) cluster-wide.
func (m *metrics) committed(now sim.Time, index, term uint64, cmd []byte) {
	if a, ok := m.appended[index]; ok {
		if a.term == term {
			m.commitLat = append(m.commitLat, float64(now-a.at))
		}
		delete(m.appended, index)
	}
	if len(cmd) == 0 {
		return
	}
	m.commits++
	k := cmdKey(cmd)
	if t, ok := m.pending[k]; ok {
		m.opLat = append(m.opLat, float64(now-t))
		delete(m.pending, k)
	}
}

// snapshot notes a snapshot of size bytes taken or installed.
func (m *metrics) snapshot(size int) {
	m.snaps++
	m.snapMax = max(m.snapMax, size)
}

// leaderNow updates the leaderless windows with whether an effective
// leader exists after the event that just ran.
func (m *metrics) leaderNow(now sim.Time, have bool) {
	if m.leaders == 0 || have == m.have {
		m.have = have
		return
	}
	if !have {
		m.since = now
	} else {
		m.closeWindow(now)
	}
	m.have = have
}

func (m *metrics) closeWindow(now sim.Time) {
	d := now.Sub(m.since)
	m.windows++
	m.total += d
	m.longest = max(m.longest, d)
}

// cmdKey is FNV-1a over a command's bytes.
func cmdKey(cmd []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, b := range cmd {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h
}

// observe makes the harness watch for an effective leader after every
// event and record the metrics when the run ends, however it ends.
func (h *harness) observe() {
	h.w.AfterEvent(func() { h.m.leaderNow(h.w.Now(), h.effectiveLeader()) })
	h.c.Cleanup(func() { h.record() })
}

// effectiveLeader reports whether some server is an effective leader (see
// mNoLeaderTotal).
func (h *harness) effectiveLeader() bool {
	for i := 0; i < h.n; i++ {
		id := h.ids[i]
		if !h.w.Up(id) || h.w.Paused(id) {
			continue
		}
		term, lead := h.state(i)
		if !lead {
			continue
		}
		reach := 1
		for j := 0; j < h.n; j++ {
			if j == i {
				continue
			}
			pj := h.ids[j]
			if !h.w.Up(pj) || h.w.Paused(pj) || !h.w.Linked(id, pj) || !h.w.Linked(pj, id) {
				continue
			}
			if t, _ := h.state(j); t <= term {
				reach++
			}
		}
		if reach >= h.n/2+1 {
			return true
		}
	}
	return false
}

// record writes the run's metrics.
func (h *harness) record() {
	m, c, now := &h.m, h.c, h.w.Now()
	if m.leaders > 0 {
		c.Metric(mFirstLeader, float64(m.first))
		c.Metric(mLeaderChanges, float64(m.leaders-1))
		if !m.have {
			m.closeWindow(now)
			m.have = true
		}
		c.Metric(mNoLeaderTotal, float64(m.total))
		c.Metric(mNoLeaderMax, float64(m.longest))
		c.Metric(mNoLeaderCount, float64(m.windows))
	}
	c.Distribution(mCommitLatency, m.commitLat)
	c.Distribution(mOpLatency, m.opLat)
	c.Metric(mRetries, float64(m.retries))
	c.Metric(mCommits, float64(m.commits))
	if m.commits > 0 {
		st := h.w.Stats()
		c.Metric(mMsgsPerCommit, float64(st.Sent)/float64(m.commits))
		c.Metric(mBytesPerCommit, float64(st.Bytes)/float64(m.commits))
	}
	c.Metric(mSnapshots, float64(m.snaps))
	if m.snaps > 0 {
		c.Metric(mSnapshotMax, float64(m.snapMax))
	}
}
