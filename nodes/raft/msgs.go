package raft

import "github.com/smilingraft/dsim/sim"

// Entry is one log entry as carried by AppendEntries.
type Entry struct {
	Term uint64
	Cmd  []byte
	// Noop marks an entry Raft appended itself (to commit in a new term
	// before answering a read); services never see it as a command.
	Noop bool
}

func (e Entry) size() int { return 8 + 1 + 4 + len(e.Cmd) }

// RequestVote asks for a vote (or, with PreVote, for a pre-vote: would you
// vote for me in Term?).
type RequestVote struct {
	Term         uint64
	Candidate    int
	LastLogIndex uint64
	LastLogTerm  uint64
	PreVote      bool
}

// Size is the encoded size in bytes.
func (m *RequestVote) Size() int { return 8 + 4 + 8 + 8 + 1 }

// PromiseMessages names (as sim.MessageType does, comma-separated) the
// messages by which a peer promises durable state: a granted vote, an
// acknowledged entry, an installed snapshot. Scenarios aim send crash
// points at them (sim.ProcessFaults.PointMsgs): a crash right after such a
// send, and a quick restart, is where a missing Sync shows.
const PromiseMessages = "raft.RequestVoteReply,raft.AppendEntriesReply,raft.InstallSnapshotReply"

// RequestVoteReply answers a RequestVote. For a granted pre-vote Term is the
// term asked about; otherwise it is the voter's current term.
type RequestVoteReply struct {
	Term    uint64
	Granted bool
	PreVote bool
}

// Size is the encoded size in bytes.
func (m *RequestVoteReply) Size() int { return 8 + 1 + 1 }

// AppendEntries replicates entries after (PrevLogIndex, PrevLogTerm) and
// carries the leader's commit index; with no entries it is a heartbeat.
type AppendEntries struct {
	Term         uint64
	Leader       int
	PrevLogIndex uint64
	PrevLogTerm  uint64
	Entries      []Entry
	LeaderCommit uint64
	// Seq numbers the leader's heartbeat rounds (ReadIndex confirmation);
	// Sent is the leader's local clock at sending (lease reads).
	Seq  uint64
	Sent sim.Time

	// size caches Size for a message Raft built (0: not computed); the
	// kernel asks at every send, and a message is immutable once sent.
	size int
}

// Size is the encoded size in bytes, command bytes included.
func (m *AppendEntries) Size() int {
	if m.size > 0 {
		return m.size
	}
	return m.encodedSize()
}

func (m *AppendEntries) encodedSize() int {
	n := 8 + 4 + 8 + 8 + 8 + 8 + 8 + 4
	for i := range m.Entries {
		n += m.Entries[i].size()
	}
	return n
}

// AppendEntriesReply answers an AppendEntries. On success Match is the last
// index known to match the leader's log. On failure ConflictIndex and
// ConflictTerm guide the leader's backup (FastBackup).
type AppendEntriesReply struct {
	Term          uint64
	Success       bool
	PrevLogIndex  uint64 // of the request answered
	Match         uint64
	ConflictIndex uint64
	ConflictTerm  uint64
	Seq           uint64
	Sent          sim.Time
}

// Size is the encoded size in bytes.
func (m *AppendEntriesReply) Size() int { return 8 + 1 + 8*6 }

// InstallSnapshot sends the leader's snapshot to a follower whose next entry
// the leader has already discarded.
type InstallSnapshot struct {
	Term              uint64
	Leader            int
	LastIncludedIndex uint64
	LastIncludedTerm  uint64
	Data              []byte
	Seq               uint64
	Sent              sim.Time
}

// Size is the encoded size in bytes, snapshot bytes included.
func (m *InstallSnapshot) Size() int { return 8 + 4 + 8 + 8 + 8 + 8 + 4 + len(m.Data) }

// InstallSnapshotReply answers an InstallSnapshot: the follower now matches
// through Match.
type InstallSnapshotReply struct {
	Term  uint64
	Match uint64
	Seq   uint64
	Sent  sim.Time
}

// Size is the encoded size in bytes.
func (m *InstallSnapshotReply) Size() int { return 8 * 4 }
