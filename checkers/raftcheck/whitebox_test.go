package raftcheck

import (
	"strings"
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// appendAll reports entries (terms[k] at index from+k, commands "c<index>")
// on server, each after the previous one (prev is the term before from).
func appendAll(c *Checker, server int, from, prev uint64, terms ...uint64) {
	for k, t := range terms {
		i := from + uint64(k)
		c.LogAppended(server, i, t, prev, cmd("c"+string(rune('0'+i))), false)
		prev = t
	}
}

// boot reports a fresh, empty log on each server.
func boot(c *Checker, servers ...int) {
	for _, s := range servers {
		c.Restarted(s)
		c.LogBase(s, 0, 0, 0)
	}
}

var unsynced = []sim.DiskOp{{Kind: sim.OpWrite, Name: "state.tmp"}}

// Each case is a hand-made white-box report sequence; want is the checker
// that must catch it ("" for a legal history).
func TestWhiteBoxHistories(t *testing.T) {
	cases := []struct {
		name string
		want string
		run  func(c *Checker)
	}{
		{"legal: replication, compaction, install, restart, votes, acks", "", func(c *Checker) {
			boot(c, 0, 1, 2)
			c.VoteGranted(1, 1, 0, 1, 0, nil)
			c.BecameLeader(0, 1)
			appendAll(c, 0, 1, 0, 1, 1, 1)
			appendAll(c, 1, 1, 0, 1, 1, 1)
			c.Acknowledged(1, 1, 3, nil)
			c.MatchAdvanced(0, 1, 1, 3)
			for i := uint64(1); i <= 3; i++ {
				c.Committed(0, i, 1, cmd("c"+string(rune('0'+i))))
			}
			c.LogBase(0, 2, 1, 3) // the service snapshots through 2
			c.LogBase(2, 2, 1, 2) // server 2 installs that snapshot
			appendAll(c, 2, 3, 1, 1)
			c.Acknowledged(2, 1, 3, nil)
			c.MatchAdvanced(0, 1, 2, 3)
			// Server 1 restarts and reloads its log; in term 2 it leads,
			// holding everything committed, and overwrites nothing.
			c.Restarted(1)
			c.LogBase(1, 0, 0, 0)
			appendAll(c, 1, 1, 0, 1, 1, 1)
			c.VoteGranted(2, 2, 1, 2, 1, nil)
			c.BecameLeader(1, 2)
			appendAll(c, 1, 4, 1, 2)
			// Server 0 had a stale entry at 4 in term 1: it is truncated.
			c.LogAppended(0, 4, 1, 1, cmd("stale"), false)
			c.LogAppended(0, 4, 2, 1, cmd("c4"), false)
			c.Acknowledged(0, 2, 4, nil)
			c.MatchAdvanced(1, 2, 0, 4)
		}},
		{"legal: a server elected late, in an older term, lacks a later term's commit", "", func(c *Checker) {
			boot(c, 0, 1, 2)
			c.BecameLeader(0, 5)
			appendAll(c, 0, 1, 0, 5)
			c.Committed(0, 1, 5, cmd("c1"))
			c.BecameLeader(2, 4) // a paused candidate of term 4 wins after all
		}},
		{"two logs share (index, term) but not the entry before it", LogMatching, func(c *Checker) {
			boot(c, 0, 1)
			appendAll(c, 0, 1, 0, 1, 2)
			appendAll(c, 1, 1, 0, 3)
			c.LogAppended(1, 2, 2, 3, cmd("c2"), false)
		}},
		{"two logs hold different commands at one (index, term)", LogMatching, func(c *Checker) {
			boot(c, 0, 1)
			appendAll(c, 0, 1, 0, 1)
			c.LogAppended(1, 1, 1, 0, cmd("other"), false)
		}},
		{"different commands at one (index, term), third term at that index", LogMatching, func(c *Checker) {
			boot(c, 0, 1, 2, 3)
			c.LogAppended(0, 1, 1, 0, cmd("a"), false)
			c.LogAppended(1, 1, 2, 0, cmd("b"), false)
			c.LogAppended(2, 1, 3, 0, cmd("c"), false)
			c.LogAppended(3, 1, 3, 0, cmd("c"), false) // agrees: legal
			c.LogAppended(3, 1, 2, 0, cmd("B"), false)
		}},
		{"a no-op and a command at one (index, term)", LogMatching, func(c *Checker) {
			boot(c, 0, 1)
			c.LogAppended(0, 1, 1, 0, nil, true)
			c.LogAppended(1, 1, 1, 0, nil, false)
		}},
		{"an entry placed past the end of the log", LogMatching, func(c *Checker) {
			boot(c, 0)
			appendAll(c, 0, 1, 0, 1)
			appendAll(c, 0, 3, 1, 1)
		}},
		{"a reported previous term that is not the log's", LogMatching, func(c *Checker) {
			boot(c, 0)
			appendAll(c, 0, 1, 0, 1)
			c.LogAppended(0, 2, 2, 2, cmd("c2"), false)
		}},
		{"a snapshot boundary that is not the committed entry", LogMatching, func(c *Checker) {
			boot(c, 0, 1)
			appendAll(c, 0, 1, 0, 1, 1)
			c.Committed(0, 2, 1, cmd("c2"))
			c.LogBase(1, 2, 3, 2)
		}},
		{"a compaction that keeps entries the log did not hold", LogMatching, func(c *Checker) {
			boot(c, 0)
			appendAll(c, 0, 1, 0, 1, 1, 2)
			c.LogBase(0, 2, 2, 3) // the log holds term 1 at index 2
		}},
		{"a new leader without the last committed entry", LeaderCompleteness, func(c *Checker) {
			boot(c, 0, 1, 2)
			c.BecameLeader(0, 1)
			appendAll(c, 0, 1, 0, 1, 1)
			appendAll(c, 1, 1, 0, 1, 1)
			c.Committed(0, 2, 1, cmd("c2"))
			appendAll(c, 2, 1, 0, 1)
			c.BecameLeader(2, 2)
		}},
		{"a new leader with another term at the committed index", LeaderCompleteness, func(c *Checker) {
			boot(c, 0, 1, 2)
			c.BecameLeader(0, 3)
			appendAll(c, 0, 1, 0, 3, 3)
			c.Committed(0, 2, 3, cmd("c2"))
			c.Committed(0, 1, 3, cmd("c1"))
			appendAll(c, 2, 1, 0, 2, 2, 2)
			c.BecameLeader(2, 4)
		}},
		{"a leader's matchIndex ahead of the follower's acknowledgement", MatchIndex, func(c *Checker) {
			boot(c, 0, 1)
			c.BecameLeader(0, 1)
			appendAll(c, 0, 1, 0, 1, 1, 1)
			appendAll(c, 1, 1, 0, 1)
			c.Acknowledged(1, 1, 1, nil)
			c.MatchAdvanced(0, 1, 1, 3)
		}},
		{"a matchIndex from an acknowledgement of another term", MatchIndex, func(c *Checker) {
			boot(c, 0, 1)
			c.BecameLeader(0, 2)
			appendAll(c, 0, 1, 0, 2)
			c.Acknowledged(1, 1, 1, nil)
			c.MatchAdvanced(0, 2, 1, 1)
		}},
		{"an acknowledgement beyond the follower's log", MatchIndex, func(c *Checker) {
			boot(c, 0, 1)
			c.BecameLeader(0, 2)
			appendAll(c, 0, 1, 0, 2, 2)
			appendAll(c, 1, 1, 0, 2)
			c.Acknowledged(1, 2, 2, nil)
		}},
		{"a vote granted with unsynced writes", SyncBeforePromise, func(c *Checker) {
			c.VoteGranted(1, 3, 0, 3, 0, unsynced)
		}},
		{"a vote granted that the disk does not hold", SyncBeforePromise, func(c *Checker) {
			c.VoteGranted(1, 3, 0, 2, -1, nil)
		}},
		{"a vote granted whose term's disk record names another candidate", SyncBeforePromise, func(c *Checker) {
			c.VoteGranted(1, 3, 0, 3, 2, nil)
		}},
		{"a vote granted after the disk moved to a later term", "", func(c *Checker) {
			c.VoteGranted(1, 3, 0, 4, -1, nil)
		}},
		{"entries acknowledged with unsynced writes", SyncBeforePromise, func(c *Checker) {
			c.Acknowledged(1, 3, 7, []sim.DiskOp{{Kind: sim.OpAppend, Name: "log"}})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := newChecker()
			tc.run(c)
			if tc.want == "" {
				if len(rec.got) > 0 {
					t.Fatalf("legal history flagged: %v", rec.got)
				}
				return
			}
			if len(rec.got) == 0 {
				t.Fatalf("violation not caught (want %s)", tc.want)
			}
			if !strings.HasPrefix(rec.got[0], tc.want+": ") {
				t.Fatalf("got %q, want checker %s", rec.got[0], tc.want)
			}
			t.Log(rec.got[0])
		})
	}
}

// A follower that acknowledges a match at an index where its log holds
// another term than the leader's (here its snapshot boundary, so Log
// Matching over entries does not see it) is caught by the acknowledgement
// check itself.
func TestAcknowledgementOfDifferentLog(t *testing.T) {
	c, rec := newChecker()
	boot(c, 0, 1)
	c.BecameLeader(0, 2)
	appendAll(c, 0, 1, 0, 2, 2)
	c.LogBase(1, 2, 1, 2) // follower's snapshot boundary: (2, term 1)
	c.Acknowledged(1, 2, 2, nil)
	if len(rec.got) == 0 || !strings.HasPrefix(rec.got[0], MatchIndex+": ") {
		t.Fatalf("got %v, want %s", rec.got, MatchIndex)
	}
}

// The mirror follows truncation, compaction, install and restart.
func TestLogView(t *testing.T) {
	c, rec := newChecker()
	boot(c, 0)
	appendAll(c, 0, 1, 0, 1, 1, 2, 2)
	c.LogAppended(0, 3, 3, 1, cmd("x"), false) // truncates 3..4
	c.LogBase(0, 2, 1, 3)
	base, baseTerm, terms, ok := c.LogView(0)
	if !ok || base != 2 || baseTerm != 1 || len(terms) != 1 || terms[0] != 3 {
		t.Fatalf("view (%d, %d, %v, %v), want (2, 1, [3], true)", base, baseTerm, terms, ok)
	}
	c.LogBase(0, 5, 4, 5) // an installed snapshot discards the log
	if base, _, terms, _ = c.LogView(0); base != 5 || len(terms) != 0 {
		t.Fatalf("after install: base %d terms %v", base, terms)
	}
	if _, _, _, ok := c.LogView(1); ok {
		t.Fatal("server 1 never reported a log")
	}
	if len(rec.got) > 0 {
		t.Fatal(rec.got)
	}
}

// A leader of 3 that counts its own unsynced entry toward the majority
// (one follower acknowledged index 2, the leader is synced through 1) is
// caught; the same commit with the leader synced, or with a second
// acknowledgement, is legal; an acknowledgement of another term counts
// for nothing.
func TestCommitDurable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		durable uint64
		acks    [][3]uint64 // server, term, match
		want    bool
	}{
		{"leader counts its unsynced entry", 1, [][3]uint64{{1, 1, 2}}, true},
		{"leader synced", 2, [][3]uint64{{1, 1, 2}}, false},
		{"two followers acknowledged", 1, [][3]uint64{{1, 1, 2}, {2, 1, 2}}, false},
		{"acknowledgement of an older term", 2, [][3]uint64{{1, 0, 2}}, true},
		{"acknowledgement short of the index", 2, [][3]uint64{{1, 1, 1}}, true},
	} {
		c, rec := newChecker()
		for _, a := range tc.acks {
			c.Acknowledged(int(a[0]), a[1], a[2], nil)
		}
		c.LeaderCommitted(0, 1, 2, tc.durable, 2)
		got := len(rec.got) > 0 && strings.HasPrefix(rec.got[0], CommitDurable+": ")
		if got != tc.want {
			t.Errorf("%s: failures %v, want caught=%v", tc.name, rec.got, tc.want)
		}
	}
}

// A follower committing past what an AppendEntries matched is caught;
// committing up to it is legal.
func TestCommitVerified(t *testing.T) {
	c, rec := newChecker()
	c.FollowerCommitted(1, 2, 7, 7)
	if len(rec.got) != 0 {
		t.Fatalf("legal commit flagged: %v", rec.got)
	}
	c.FollowerCommitted(1, 2, 9, 7)
	if len(rec.got) == 0 || !strings.HasPrefix(rec.got[0], CommitVerified+": ") {
		t.Fatalf("got %v, want %s", rec.got, CommitVerified)
	}
}
