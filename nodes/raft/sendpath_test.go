package raft

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/sim"
)

// leaderRaft runs a reliable 5-server cluster until it has a leader with a
// few committed entries and returns the leader's Raft.
func leaderRaft(t *testing.T) (*cluster, *Raft) {
	t.Helper()
	c := newCluster(t, 5, 1, reliable(), nil, 0)
	for k := 0; k < 3; k++ {
		c.one("x"+strconv.Itoa(k), 5)
	}
	return c, c.node(c.oneLeader()).Raft()
}

// An AppendEntries is built once per distinct content: asking again for
// the same entries in the same round returns the same (immutable) value,
// any difference (entries, commit index, round) a new one, and the cached
// size is the encoded size.
func TestAppendEntriesSharedWhenIdentical(t *testing.T) {
	_, r := leaderRaft(t)
	last := r.lastIndex()
	a := r.appendEntries(last-2, last)
	if b := r.appendEntries(last-2, last); b != a {
		t.Fatalf("identical AppendEntries built twice: %+v and %+v", a, b)
	}
	if b := r.appendEntries(last-1, last); b == a || b.PrevLogIndex != last-1 || len(b.Entries) != 1 {
		t.Fatalf("different entries, same message: %+v", b)
	}
	r.seq++
	if b := r.appendEntries(last-2, last); b == a || b.Seq != r.seq {
		t.Fatalf("new round, old message: %+v", b)
	}
	r.commitIndex--
	if b := r.appendEntries(last-2, last); b.LeaderCommit != r.commitIndex {
		t.Fatalf("commit index %d, message says %d", r.commitIndex, b.LeaderCommit)
	}
	r.commitIndex++
	for _, m := range []*AppendEntries{a, r.appendEntries(last, last)} {
		fresh := *m
		fresh.size = 0
		if m.size == 0 || m.Size() != fresh.Size() {
			t.Fatalf("cached size %d, encoded size %d", m.size, fresh.Size())
		}
	}
}

// A sent AppendEntries never changes afterwards: the leader appending new
// entries (its log growing in place) must not show through the Entries of
// a message still in flight, and a receiver appending to them must copy.
func TestAppendEntriesInFlightImmutable(t *testing.T) {
	_, r := leaderRaft(t)
	last := r.lastIndex()
	m := r.appendEntries(last-2, last)
	want := append([]Entry(nil), m.Entries...)
	for k := 0; k < 40; k++ {
		r.Start([]byte("y" + strconv.Itoa(k)))
	}
	if d := cmp.Diff(want, m.Entries); d != "" {
		t.Fatalf("in-flight entries changed (-before +after):\n%s", d)
	}
	if cap(m.Entries) != len(m.Entries) {
		t.Fatalf("in-flight entries have room to grow into the log: len %d cap %d", len(m.Entries), cap(m.Entries))
	}
}

// The steady state of a replicating cluster (a command every 10 ms on a
// reliable network, test observer included) stays under 2 allocations per
// kernel event: message values, the commands, and the disk's own copies.
// Allocation counts are deterministic for a seed; this pins the per-event
// budget the benchmarks report.
func TestSteadyStateAllocsPerEvent(t *testing.T) {
	c := newCluster(t, 5, 3, reliable(), nil, 0)
	c.oneLeader()
	k := 0
	var client func()
	client = func() {
		for i := range c.ids {
			if _, _, ok := c.node(i).Submit([]byte(strconv.Itoa(k))); ok {
				break
			}
		}
		k++
		c.w.After(10*sim.Millisecond, client)
	}
	c.w.After(10*sim.Millisecond, client)
	c.run(sim.Second)
	before := c.w.Events()
	allocs := testing.AllocsPerRun(5, func() { c.run(sim.Second) })
	events := float64(c.w.Events()-before) / 6 // AllocsPerRun runs once more to warm up
	if f := c.w.Failure(); f != nil {
		t.Fatal(f)
	}
	t.Logf("%.0f events and %.0f allocations per virtual second: %.2f allocs/event", events, allocs, allocs/events)
	if allocs/events > 2 {
		t.Fatalf("%.2f allocations per event (%.0f per %.0f events)", allocs/events, allocs, events)
	}
}
