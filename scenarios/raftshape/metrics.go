package raftshape

import (
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Metrics every hosted Raft records through a Recorder, all in virtual
// time (see scenarios.Distribution for the _p50/_p99/_max/_count
// suffixes). They are observations only: no randomness, no events, no
// messages, so recording them never changes a trace hash.
const (
	// FirstLeader: time from the start of the run to the first election
	// won (absent if none was).
	FirstLeader = "first_leader_ns"
	// LeaderChanges: elections won after the first one.
	LeaderChanges = "leader_changes"
	// NoLeaderTotal, NoLeaderMax, NoLeaderCount: after the first leader,
	// the windows in which no peer was an effective leader: up, not
	// paused, believing it leads its term, and linked both ways to a
	// majority of up, unpaused peers whose term is not above its own. A
	// leader cut off in a minority does not count, so a partition that
	// strands the leader opens a window until a new leader wins (or the
	// old one is reachable again). Total, longest and how many; a window
	// still open at the end of the run is closed there.
	NoLeaderTotal = "no_leader_total_ns"
	NoLeaderMax   = "no_leader_max_ns"
	NoLeaderCount = "no_leader_windows"
	// CommitLatency: from a leader appending a command to its log to that
	// entry (same index and term) committing.
	CommitLatency = "commit_latency_ns"
	// OpLatency: a client command's latency, from the first leader to
	// append it to its first commit at any index: retries after a lost
	// leader (the same bytes appended again elsewhere) are inside it.
	OpLatency = "op_latency_ns"
	// ReadLatency: a linearizable read's latency, from its request to its
	// answer, for the reads answered (dsim's Raft: the shapes' client's
	// ReadIndex; a host with clients of its own may report theirs, as
	// etcd's KV Gets through its read loop).
	ReadLatency = "read_latency_ns"
	// Retries: appends by a leader of a command some leader had already
	// appended and that had not committed yet.
	Retries = "retries"
	// Commits: commands committed (no-ops aside), counted once each.
	Commits = "commits"
	// MsgsPerCommit, BytesPerCommit: every message (and its bytes) the
	// network carried during the run over the commands committed.
	MsgsPerCommit  = "msgs_per_commit"
	BytesPerCommit = "bytes_per_commit"
	// SnapshotMax, Snapshots: the largest snapshot a peer took or
	// installed, and how many were taken or installed in all.
	SnapshotMax = "snapshot_max_bytes"
	Snapshots   = "snapshots"
)

// Recorder holds a run's observations until the run ends. A host calls
// its methods from its observer (BecameLeader, Started, Committed,
// Snapshot); Observe watches for an effective leader after every event and
// records the metrics when the run ends, however it ends.
type Recorder struct {
	// NoBytes leaves bytes_per_commit out: for hosts whose Raft messages
	// report no size (sim.Sizer), where it would count client traffic only.
	NoBytes bool
	// Reads, if set, is called when the run ends for read latencies (ns)
	// the host gathered itself (its clients' history, say), recorded with
	// the ReadDone ones.
	Reads func() []float64

	h Host
	w *sim.World
	// leaders counts elections won; first is when the first was.
	leaders int
	first   sim.Time
	// have: an effective leader after the last event; since: when the
	// current leaderless window began.
	have      bool
	armed     bool // leaderNow has seen the first leader
	since     sim.Time
	windows   int
	total     sim.Duration
	longest   sim.Duration
	appended  map[uint64]appendAt // index -> the leader's append
	pending   map[uint64]sim.Time // command hash -> first append
	commitLat []float64           // ns
	opLat     []float64           // ns
	readLat   []float64           // ns
	retries   int
	commits   int
	snapMax   int
	snaps     int
}

type appendAt struct {
	term uint64
	at   sim.Time
}

// Observe returns a Recorder for h's peers in c: it checks for an
// effective leader after every event and records the metrics in a
// cleanup at the end of the run.
func Observe(c *scenarios.Cluster, h Host) *Recorder {
	m := &Recorder{h: h, w: c.W}
	c.W.AfterEvent(func() { m.leaderNow(m.w.Now(), m.effectiveLeader()) })
	c.Cleanup(func() { m.record(c) })
	return m
}

// BecameLeader counts an election won.
func (m *Recorder) BecameLeader() {
	if m == nil {
		return
	}
	if m.leaders == 0 {
		m.first = m.w.Now()
	}
	m.leaders++
}

// Started notes a command a leader appended to its log at (index, term).
// Hosts call it for commands only (not no-ops or configuration entries),
// from the leader of term, for indices above the highest committed.
func (m *Recorder) Started(index, term uint64, cmd []byte) {
	if m == nil {
		return
	}
	now := m.w.Now()
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

// Committed notes the first commit of index (term, cmd) cluster-wide;
// hosts call it once per index (an empty cmd is a no-op).
func (m *Recorder) Committed(index, term uint64, cmd []byte) {
	if m == nil {
		return
	}
	now := m.w.Now()
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

// ReadDone notes a read requested at start and answered now.
func (m *Recorder) ReadDone(start sim.Time) {
	if m == nil {
		return
	}
	m.readLat = append(m.readLat, float64(m.w.Now()-start))
}

// Snapshot notes a snapshot of size bytes taken or installed.
func (m *Recorder) Snapshot(size int) {
	if m == nil {
		return
	}
	m.snaps++
	m.snapMax = max(m.snapMax, size)
}

// leaderNow updates the leaderless windows with whether an effective
// leader exists after the event that just ran.
func (m *Recorder) leaderNow(now sim.Time, have bool) {
	if m.leaders == 0 {
		m.have = have
		return
	}
	if !m.armed {
		// The first event after the first election: windows start
		// here, not at time zero (that wait is first_leader_ns).
		m.armed, m.have = true, have
		if !have {
			m.since = now
		}
		return
	}
	if have == m.have {
		return
	}
	if !have {
		m.since = now
	} else {
		m.closeWindow(now)
	}
	m.have = have
}

func (m *Recorder) closeWindow(now sim.Time) {
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

// effectiveLeader reports whether some peer is an effective leader (see
// NoLeaderTotal).
func (m *Recorder) effectiveLeader() bool {
	w, ids := m.w, m.h.Peers()
	n := len(ids)
	for i := 0; i < n; i++ {
		id := ids[i]
		if !w.Up(id) || w.Paused(id) {
			continue
		}
		term, lead := m.h.Role(i)
		if !lead {
			continue
		}
		reach := 1
		for j := 0; j < n; j++ {
			if j == i {
				continue
			}
			pj := ids[j]
			if !w.Up(pj) || w.Paused(pj) || !w.Linked(id, pj) || !w.Linked(pj, id) {
				continue
			}
			if t, _ := m.h.Role(j); t <= term {
				reach++
			}
		}
		if reach >= n/2+1 {
			return true
		}
	}
	return false
}

// record writes the run's metrics.
func (m *Recorder) record(c *scenarios.Cluster) {
	now := m.w.Now()
	if m.leaders > 0 {
		c.Metric(FirstLeader, float64(m.first))
		c.Metric(LeaderChanges, float64(m.leaders-1))
		if !m.have {
			m.closeWindow(now)
			m.have = true
		}
		c.Metric(NoLeaderTotal, float64(m.total))
		c.Metric(NoLeaderMax, float64(m.longest))
		c.Metric(NoLeaderCount, float64(m.windows))
	}
	c.Distribution(CommitLatency, m.commitLat)
	c.Distribution(OpLatency, m.opLat)
	if m.Reads != nil {
		m.readLat = append(m.readLat, m.Reads()...)
	}
	c.Distribution(ReadLatency, m.readLat)
	c.Metric(Retries, float64(m.retries))
	c.Metric(Commits, float64(m.commits))
	if m.commits > 0 {
		st := m.w.Stats()
		c.Metric(MsgsPerCommit, float64(st.Sent)/float64(m.commits))
		if !m.NoBytes {
			c.Metric(BytesPerCommit, float64(st.Bytes)/float64(m.commits))
		}
	}
	c.Metric(Snapshots, float64(m.snaps))
	if m.snaps > 0 {
		c.Metric(SnapshotMax, float64(m.snapMax))
	}
}
