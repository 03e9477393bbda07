package raftcheck

import (
	"fmt"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// recorder collects failures instead of stopping a run.
type recorder struct{ got []string }

func (r *recorder) fail(checker, format string, args ...any) {
	r.got = append(r.got, checker+": "+fmt.Sprintf(format, args...))
}

func newChecker() (*Checker, *recorder) {
	r := &recorder{}
	return New(r.fail), r
}

func cmd(s string) []byte { return []byte(s) }

// Each case is a hand-made call sequence; want is the checker that must
// catch it ("" for a legal history).
func TestCheckerHistories(t *testing.T) {
	cases := []struct {
		name string
		want string
		run  func(c *Checker)
	}{
		{"legal: leaders, commits, applies on three servers", "", func(c *Checker) {
			for s := 0; s < 3; s++ {
				c.Restarted(s)
			}
			c.BecameLeader(0, 1)
			c.BecameLeader(0, 1) // a repeated report by the same winner is fine
			c.BecameLeader(2, 2)
			for s := 0; s < 3; s++ {
				for i := uint64(1); i <= 3; i++ {
					c.Committed(s, i, 1, cmd(fmt.Sprint(i)))
					c.Applied(s, i, 1, cmd(fmt.Sprint(i)))
				}
			}
		}},
		{"two leaders in one term", ElectionSafety, func(c *Checker) {
			c.BecameLeader(0, 3)
			c.BecameLeader(1, 3)
		}},
		{"two servers apply different commands at one index", StateMachineSafety, func(c *Checker) {
			c.Restarted(0)
			c.Restarted(1)
			c.Applied(0, 1, 1, cmd("x"))
			c.Applied(1, 1, 1, cmd("y"))
		}},
		{"same command, different term at one index", StateMachineSafety, func(c *Checker) {
			c.Restarted(0)
			c.Restarted(1)
			c.Applied(0, 1, 1, cmd("x"))
			c.Applied(1, 1, 2, cmd("x"))
		}},
		{"a gap in the applied indices", InOrderApply, func(c *Checker) {
			c.Restarted(0)
			c.Applied(0, 1, 1, cmd("a"))
			c.Applied(0, 3, 1, cmd("c"))
		}},
		{"an index applied twice", InOrderApply, func(c *Checker) {
			c.Restarted(0)
			c.Applied(0, 1, 1, cmd("a"))
			c.Applied(0, 1, 1, cmd("a"))
		}},
		{"a restarted server resumes mid-log without a snapshot", InOrderApply, func(c *Checker) {
			c.Restarted(0)
			c.Applied(0, 1, 1, cmd("a"))
			c.Applied(0, 2, 1, cmd("b"))
			c.Restarted(0)
			c.Applied(0, 3, 1, cmd("c"))
		}},
		{"legal: a restarted server replays from 1", "", func(c *Checker) {
			c.Restarted(0)
			c.Applied(0, 1, 1, cmd("a"))
			c.Applied(0, 2, 1, cmd("b"))
			c.Restarted(0)
			c.Applied(0, 1, 1, cmd("a"))
			c.Applied(0, 2, 1, cmd("b"))
		}},
		{"legal: snapshots, installed and taken, then resume after them", "", func(c *Checker) {
			c.Restarted(0)
			c.Restarted(1)
			for i := uint64(1); i <= 10; i++ {
				c.Applied(0, i, 1, cmd(fmt.Sprint(i)))
			}
			c.Snapshotted(0, 9)
			c.SnapshotInstalled(1, 9, 1)
			c.Applied(1, 10, 1, cmd("10"))
			c.Restarted(0)
			c.Applied(0, 10, 1, cmd("10"))
			c.Restarted(1)
			c.SnapshotInstalled(1, 9, 1)
			c.Applied(1, 10, 1, cmd("10"))
		}},
		{"a snapshot that rolls the state machine back", InOrderApply, func(c *Checker) {
			c.Restarted(0)
			for i := uint64(1); i <= 5; i++ {
				c.Applied(0, i, 1, cmd(fmt.Sprint(i)))
			}
			c.SnapshotInstalled(0, 3, 1)
		}},
		{"an apply skipping past an installed snapshot", InOrderApply, func(c *Checker) {
			c.Restarted(0)
			c.SnapshotInstalled(0, 9, 1)
			c.Applied(0, 11, 1, cmd("11"))
		}},
		{"two commits of different entries at one index (Figure 8)", CommittedNeverLost, func(c *Checker) {
			c.Committed(0, 2, 2, cmd("from-term-2"))
			c.Committed(4, 2, 3, cmd("from-term-3"))
		}},
		{"a server applies something else where an entry was committed", CommittedNeverLost, func(c *Checker) {
			c.Restarted(1)
			c.Committed(0, 1, 1, cmd("x"))
			c.Applied(1, 1, 1, cmd("y"))
		}},
		{"a commit contradicting an applied entry", CommittedNeverLost, func(c *Checker) {
			c.Restarted(1)
			c.Applied(1, 1, 1, cmd("y"))
			c.Committed(0, 1, 2, cmd("x"))
		}},
		{"a read served at an index older than a completed commit", StaleRead, func(c *Checker) {
			c.Committed(0, 5, 2, cmd("w"))
			st := c.BeginRead()
			c.EndRead(1, st, 4)
		}},
		{"legal: a read at or after every commit that preceded it", "", func(c *Checker) {
			c.Committed(0, 5, 2, cmd("w"))
			st := c.BeginRead()
			c.Committed(0, 6, 2, cmd("w2")) // concurrent with the read: may be missed
			c.EndRead(1, st, 5)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, r := newChecker()
			tc.run(c)
			if tc.want == "" {
				if len(r.got) > 0 {
					t.Fatalf("legal history flagged: %v", r.got)
				}
				return
			}
			if len(r.got) == 0 {
				t.Fatalf("violation not caught; want %s", tc.want)
			}
			if !strings.HasPrefix(r.got[0], tc.want+":") {
				t.Fatalf("caught by the wrong checker: %s; want %s", r.got[0], tc.want)
			}
		})
	}
}

func TestStats(t *testing.T) {
	c, _ := newChecker()
	c.Restarted(0)
	c.BecameLeader(0, 4)
	nc := c.NewCommit()
	if nc() == nil {
		t.Fatal("NewCommit holds before any commit")
	}
	c.Committed(0, 1, 4, cmd("a"))
	c.Applied(0, 1, 4, cmd("a"))
	if err := nc(); err != nil {
		t.Fatal(err)
	}
	s := c.Stats()
	if s.MaxTerm != 4 || s.MaxCommitted != 1 || s.Leaders != 1 || s.Commits != 1 || s.Applies != 1 {
		t.Fatalf("stats %+v", s)
	}
	if got, ok := c.CommandAt(1); !ok || string(got) != "a" {
		t.Fatalf("CommandAt(1) = %q %v", got, ok)
	}
	if c.LastApplied(0) != 1 {
		t.Fatal("LastApplied")
	}
}

// roleNode is a node that claims a fixed role.
type roleNode struct {
	term   uint64
	leader bool
}

func (n *roleNode) Start(*sim.Env)                   {}
func (n *roleNode) Receive(sim.NodeID, sim.Message)  {}
func (n *roleNode) Role() (term uint64, leader bool) { return n.term, n.leader }

func TestLeaderAndWithin(t *testing.T) {
	w := sim.NewWorld(1, sim.Options{})
	roles := []*roleNode{{term: 1, leader: true}, {term: 2}, {term: 1}}
	var ids []sim.NodeID
	for i, r := range roles {
		r := r
		ids = append(ids, w.AddNode(fmt.Sprint(i), func() sim.Node { return r }))
	}
	if id, term, err := Leader(w, ids); err != nil || id != ids[0] || term != 1 {
		t.Fatalf("Leader = %v %v %v", id, term, err)
	}
	roles[2].leader = true
	if _, _, err := Leader(w, ids); err == nil {
		t.Fatal("two leaders in term 1 not reported")
	}
	// A bound that is met passes; one that is missed fails the run.
	done := false
	Within(w, Liveness, sim.Second, 0, func() error {
		if w.Now() >= sim.Time(500*sim.Millisecond) {
			return nil
		}
		return fmt.Errorf("not yet")
	}, func() { done = true })
	w.RunFor(2 * sim.Second)
	if !done || w.Failure() != nil {
		t.Fatalf("met bound: done=%v failure=%v", done, w.Failure())
	}
	Within(w, Liveness, sim.Second, 0, func() error { return fmt.Errorf("never") }, nil)
	w.RunFor(2 * sim.Second)
	if f := w.Failure(); f == nil || f.Checker != Liveness {
		t.Fatalf("missed bound not caught: %v", f)
	}
}
