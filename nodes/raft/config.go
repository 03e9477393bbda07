package raft

import (
	"fmt"

	"github.com/smilingraft/dsim/sim"
)

// Read modes for Config.ReadMode.
const (
	// ReadLog: reads go through the log like writes (the service does it);
	// ReadIndex still works and behaves like ReadReadIndex.
	ReadLog = "log"
	// ReadReadIndex: ReadIndex confirms leadership with a heartbeat round.
	ReadReadIndex = "readindex"
	// ReadLease: ReadIndex answers from the leader's lease (a local clock
	// check) when it holds one, else falls back to a heartbeat round.
	ReadLease = "lease"
)

// Config configures one Raft peer. The zero value of every field except Peers
// (and Me) is a safe default; validate rejects nonsense with a clear error.
type Config struct {
	// Me is this peer's index in Peers.
	Me int
	// Peers lists every server of the group in a fixed order; the index of a
	// server in Peers is its server number (used by Observer and votedFor).
	Peers []sim.NodeID
	// ElectionMin and ElectionMax bound the randomized election timeout, on
	// the node's local clock (default 300ms..600ms).
	ElectionMin, ElectionMax sim.Duration
	// Heartbeat is the leader's idle AppendEntries period (default 100ms:
	// at most 10 per second per follower when idle, within the lab's
	// Count3B bound of 60 RPCs/s across 3 peers).
	Heartbeat sim.Duration
	// SyncDelay is how long a leader may leave entries it appended in Start
	// unsynced (batching Starts into one Sync, like a real disk's fsync
	// latency); it counts itself towards a majority only once they are
	// durable. Followers and voters always Sync before answering. Zero
	// means the default, 1ms; negative means sync at once.
	SyncDelay sim.Duration
	// PreVote runs a pre-election round (Raft thesis §9.6) so that a node cut
	// off from the group does not inflate its term and disrupt the leader
	// when it returns.
	PreVote bool
	// CheckQuorum makes a leader step down when it has not heard from a
	// majority for an election timeout, and makes followers that heard from
	// a leader within ElectionMin ignore vote requests (leader stickiness).
	CheckQuorum bool
	// FastBackup makes followers return the conflicting term and its first
	// index so the leader skips a whole term per round trip; false backs up
	// one entry per round trip.
	FastBackup bool
	// MaxEntries bounds the entries of one AppendEntries (0 means 64).
	MaxEntries int
	// ReadMode is "log" (default), "readindex" or "lease"; see ReadIndex.
	ReadMode string
	// NoopOnElection makes a new leader append a no-op entry of its term at
	// once (as etcd raft and most production Rafts do), so that entries of
	// earlier terms commit, and restarted peers re-apply them, without
	// waiting for the next client command. Off by default: the lab's Raft
	// tests count log indices as their tester writes them.
	NoopOnElection bool
	// Prefix is prepended to every file name Raft uses on the disk, so that
	// a host service can share the disk (e.g. "raft/").
	Prefix string
	// Observer, if set, is told of elections, commits, applies and snapshot
	// installs (for checkers). Its calls must not call back into Raft.
	Observer Observer

	// NoAssertions turns off Raft's internal invariant assertions (two
	// leaders in one term, truncating a committed entry, a term moving
	// backwards): where one would fail the run, Raft carries on as a Raft
	// without them would. It exists to show that dsim's external checkers
	// catch a broken Raft on their own, as they must for a user's Raft that
	// asserts nothing.
	NoAssertions bool

	// UnsafeCommitPriorTerm (UNSAFE, the Figure 8 bug) lets a leader commit
	// entries of earlier terms by counting replicas. It exists to show what
	// dsim catches: a committed entry can be overwritten.
	UnsafeCommitPriorTerm bool
	// UnsafeLeaseTrustsClock (UNSAFE) measures the read lease from when a
	// majority's acknowledgements arrived (not from when the heartbeat was
	// sent) and lasts a full ElectionMin with no drift margin, so a leader
	// cut off from the group keeps serving lease reads on its own drifting
	// clock after followers may have elected someone else: stale reads.
	UnsafeLeaseTrustsClock bool
	// UnsafeReadBeforeTermCommit (UNSAFE) lets a new leader answer ReadIndex
	// from its commitIndex before an entry of its own term has committed.
	// A new leader may not yet know that entries it holds were committed by
	// its predecessor, so its read point can be behind an acknowledged
	// write: a stale read.
	UnsafeReadBeforeTermCommit bool

	// bug deliberately breaks this peer (tests of the white-box checkers
	// only; see bugs_test.go). Zero is a correct Raft.
	bug bug
}

// bug is a set of deliberate defects for tests to show that a checker
// catches a broken Raft (only this package's tests can set them).
type bug uint8

const (
	// bugVoteNoSync: the vote reply leaves before the vote is synced.
	bugVoteNoSync bug = 1 << iota
	// bugAckNoSync: AppendEntries acknowledgements leave before the
	// appended entries are synced.
	bugAckNoSync
	// bugVoteIgnoresLog: votes are granted without the up-to-date check.
	bugVoteIgnoresLog
	// bugNoPrevCheck: followers append without checking PrevLogTerm.
	bugNoPrevCheck
	// bugMatchFromNext: a leader takes the follower's match from its own
	// nextIndex (what it sent last) instead of the reply's Match.
	bugMatchFromNext
)

// withDefaults returns a copy of c with zero values replaced by defaults.
func (c Config) withDefaults() Config {
	if c.ElectionMin == 0 {
		c.ElectionMin = 300 * sim.Millisecond
	}
	if c.ElectionMax == 0 {
		c.ElectionMax = 2 * c.ElectionMin
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 100 * sim.Millisecond
	}
	if c.SyncDelay == 0 {
		c.SyncDelay = sim.Millisecond
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 64
	}
	if c.ReadMode == "" {
		c.ReadMode = ReadLog
	}
	return c
}

// validate rejects configurations that cannot work.
func (c Config) validate() error {
	if len(c.Peers) == 0 {
		return fmt.Errorf("raft config: no peers")
	}
	if c.Me < 0 || c.Me >= len(c.Peers) {
		return fmt.Errorf("raft config: Me=%d out of range 0..%d", c.Me, len(c.Peers)-1)
	}
	for i, p := range c.Peers {
		for j := 0; j < i; j++ {
			if c.Peers[j] == p {
				return fmt.Errorf("raft config: peer %d listed twice (servers %d and %d)", p, j, i)
			}
		}
	}
	if c.ElectionMin <= 0 || c.ElectionMax < c.ElectionMin {
		return fmt.Errorf("raft config: election timeout range %v..%v is empty or negative", c.ElectionMin, c.ElectionMax)
	}
	if c.Heartbeat <= 0 || c.Heartbeat >= c.ElectionMin {
		return fmt.Errorf("raft config: heartbeat %v must be positive and below ElectionMin %v", c.Heartbeat, c.ElectionMin)
	}
	if c.MaxEntries < 0 {
		return fmt.Errorf("raft config: MaxEntries %d is negative", c.MaxEntries)
	}
	switch c.ReadMode {
	case ReadLog, ReadReadIndex, ReadLease:
	default:
		return fmt.Errorf("raft config: unknown ReadMode %q (want log, readindex or lease)", c.ReadMode)
	}
	return nil
}
