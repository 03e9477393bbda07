package raft

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/sim"
)

// auditedSwarm runs 5 servers for 8s under a swarm-drawn fault plan with a
// client Starting every 15ms, then heals, restarts everyone and runs 3s
// more. raftcheck's Checker is the observer (its white-box checks
// included), Raft's own assertions are off, and b breaks every server. It
// returns the first failure (nil if none), the cluster and the checker.
func auditedSwarm(t *testing.T, seed uint64, b bug, snapEvery int) (*sim.Failure, *cluster, *raftcheck.Checker) {
	t.Helper()
	f := sim.Swarm(sim.NewRand(sim.StreamSeed(seed, "swarm")), sim.AllKinds())
	var w *sim.World
	chk := raftcheck.New(func(checker, format string, args ...any) { w.Fail(checker, format, args...) })
	c := newCluster(t, 5, seed, sim.Options{Disk: sim.DiskOptions{Torn: f.Disk.Torn}}, func(cfg *Config) {
		cfg.Observer = chk
		cfg.NoAssertions = true
		cfg.bug = b
	}, snapEvery)
	w = c.w
	c.w.Schedule(sim.GeneratePlan(seed, f, 5, 8*sim.Second), c.ids)
	k := 0
	var client func()
	client = func() {
		for i := range c.ids {
			if n := c.node(i); n != nil {
				if _, _, ok := n.Submit([]byte(strconv.Itoa(k))); ok {
					break
				}
			}
		}
		k++
		c.w.After(15*sim.Millisecond, client)
	}
	c.w.After(0, client)
	c.w.RunUntil(sim.Time(8 * sim.Second))
	if f := c.w.Failure(); f != nil {
		return f, c, chk
	}
	c.w.HealAll(c.ids, reliable().Net)
	for i := range c.ids {
		c.restart(i)
		c.w.Resume(c.ids[i])
	}
	c.w.RunFor(3 * sim.Second)
	return c.w.Failure(), c, chk
}

// Each deliberate defect is caught by its white-box checker, with Raft's
// own assertions off, within a few swarm seeds.
func TestWhiteBoxCheckersCatchBrokenRaft(t *testing.T) {
	cases := []struct {
		name string
		bug  bug
		want []string
	}{
		{"vote sent before it is synced", bugVoteNoSync, []string{raftcheck.SyncBeforePromise}},
		{"entries acknowledged before they are synced", bugAckNoSync, []string{raftcheck.SyncBeforePromise}},
		{"votes ignore the candidate's log", bugVoteIgnoresLog, []string{raftcheck.LeaderCompleteness}},
		{"followers skip the PrevLogTerm check", bugNoPrevCheck, []string{raftcheck.LogMatching, raftcheck.MatchIndex}},
		{"leaders take matchIndex from nextIndex", bugMatchFromNext, []string{raftcheck.MatchIndex}},
	}
	const budget = 40
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= budget; seed++ {
				f, _, _ := auditedSwarm(t, seed, tc.bug, 0)
				if f == nil {
					continue
				}
				for _, w := range tc.want {
					if f.Checker == w {
						t.Logf("caught at seed %d: %v", seed, f)
						return
					}
				}
				t.Fatalf("seed %d: caught by %v, want one of %v", seed, f, tc.want)
			}
			t.Fatalf("not caught within %d seeds", budget)
		})
	}
}

// A correct Raft passes the audited swarm (white-box checks and all, its
// own assertions off), and what the checker mirrors of every log is the
// log itself: the Auditor reports miss no change.
func TestWhiteBoxCorrectRaftPasses(t *testing.T) {
	for _, snap := range []int{0, 7} {
		for seed := uint64(1); seed <= 15; seed++ {
			f, c, chk := auditedSwarm(t, seed, 0, snap)
			if f != nil {
				t.Fatalf("snap %d seed %d: %v", snap, seed, f)
			}
			for i := range c.ids {
				n := c.node(i)
				if n == nil || n.Raft().Corrupt() {
					continue
				}
				r := n.Raft()
				want := []uint64{}
				for _, e := range r.log[1:] {
					want = append(want, e.Term)
				}
				base, baseTerm, got, ok := chk.LogView(i)
				if !ok || base != r.snapIndex || baseTerm != r.log[0].Term {
					t.Fatalf("snap %d seed %d server %d: mirror base (%d, %d, %v), log base (%d, %d)",
						snap, seed, i, base, baseTerm, ok, r.snapIndex, r.log[0].Term)
				}
				if got == nil {
					got = []uint64{}
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Fatalf("snap %d seed %d server %d: mirrored terms differ from the log (-log +mirror):\n%s", snap, seed, i, d)
				}
			}
		}
	}
}

// With its assertions on, Raft itself fails a run that truncates a
// committed entry; with NoAssertions it carries on (and the checkers must
// catch what follows).
func TestNoAssertionsSilencesRaft(t *testing.T) {
	for _, off := range []bool{false, true} {
		c := newCluster(t, 1, 1, reliable(), func(cfg *Config) { cfg.NoAssertions = off }, 0)
		c.run(sim.Second)
		r := c.node(0).Raft()
		r.heardFromLeader(r.term, 0) // a leader told of another leader of its term
		f := c.w.Failure()
		if off != (f == nil) {
			t.Fatalf("NoAssertions=%v: failure %v", off, f)
		}
		if f != nil && !strings.Contains(f.Message, "is leader of term") {
			t.Fatalf("unexpected failure %v", f)
		}
	}
}
