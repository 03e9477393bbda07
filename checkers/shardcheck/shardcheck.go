// Package shardcheck checks a sharded key/value service (the 6.5840 lab 5,
// LABS.md §2.6, issue 13) beyond per-key linearizability, which
// checkers/kvcheck does unchanged:
//
//   - single ownership, online (Ownership): at no moment do two replica
//     groups accept writes for the same shard;
//   - durability (Durable): every acknowledged Put is in the final state,
//     across every migration and restart;
//   - liveness (Calls, Served): every controller call returns within a
//     bound, and after the faults heal every shard is served by exactly the
//     group the final configuration names;
//   - deleted means deleted (Deleted, SizeBound): a group keeps only the
//     shards the final configuration gives it, and the groups' snapshots
//     stay within the classic delete test's byte bound.
//
// It knows no node package: groups are named by strings and shards by
// numbers, so a test can feed it a hand-made history. It may import sim,
// checkers/kvcheck and porcupine.
package shardcheck

import (
	"fmt"
	"sort"
	"strings"

	"github.com/smilingraft/dsim/checkers/kvcheck"
)

// Checker names, as they appear in failures.
const (
	SingleOwnership = "single-ownership"
	Durability      = "durability"
	Liveness        = "shard-liveness"
	Deleted         = "deleted-means-deleted"
)

// Ownership watches every group server's shard status changes online and
// fails the run the moment two groups accept writes for one shard.
//
// Each group's state is the state of its log's longest applied prefix: a
// report counts only when its Raft index is past every index the group
// reported before (the replica furthest along defines what the group
// accepts; a lagging or restarting replica replays what the group already
// did, and a restoring one reports index 0). Because every replica applies
// the same log, the first replica to reach an index reports each change
// once, in log order.
type Ownership struct {
	fail   func(checker, format string, args ...any)
	now    func() int64
	groups map[string]*groupState
	names  []string // groups in order of first report
	// Violations counts conflicts found (the first one fails the run).
	Violations int
}

type groupState struct {
	frontier uint64
	accepts  map[int]bool
	held     map[int]bool
}

// NewOwnership returns a checker that calls fail(SingleOwnership, ...) on
// the first conflict; now gives the virtual time for messages.
func NewOwnership(fail func(checker, format string, args ...any), now func() int64) *Ownership {
	return &Ownership{fail: fail, now: now, groups: map[string]*groupState{}}
}

func (o *Ownership) group(name string) *groupState {
	g := o.groups[name]
	if g == nil {
		g = &groupState{accepts: map[int]bool{}, held: map[int]bool{}}
		o.groups[name] = g
		o.names = append(o.names, name)
	}
	return g
}

// Report records that a server of group had applied its log through index
// when shard's status became: held (serving or frozen) and accepting
// writes or not. Reports at or below the group's furthest index are
// replays and change nothing.
func (o *Ownership) Report(group string, index uint64, shard int, held, accepts bool) {
	g := o.group(group)
	if index == 0 || index < g.frontier {
		return
	}
	g.frontier = index
	g.held[shard] = held
	was := g.accepts[shard]
	g.accepts[shard] = accepts
	if !accepts || was {
		return
	}
	for _, other := range o.names {
		if other != group && o.groups[other].accepts[shard] {
			o.Violations++
			if o.Violations == 1 {
				o.fail(SingleOwnership, "at %dns group %s accepts writes for shard %d while group %s still does (%s index %d)",
					o.now(), group, shard, other, group, index)
			}
			return
		}
	}
}

// Forget drops a group whose servers were replaced by a fresh group (a
// gid reused with new, empty disks): the old servers' state is gone.
func (o *Ownership) Forget(group string) {
	delete(o.groups, group)
	for i, n := range o.names {
		if n == group {
			o.names = append(o.names[:i:i], o.names[i+1:]...)
			break
		}
	}
}

// Accepting returns the groups that accept writes for shard now, sorted.
func (o *Ownership) Accepting(shard int) []string {
	var out []string
	for _, n := range o.names {
		if o.groups[n].accepts[shard] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Held returns the shards group holds now (serving or frozen), ascending.
func (o *Ownership) Held(group string) []int {
	g := o.groups[group]
	if g == nil {
		return nil
	}
	var out []int
	for s, h := range g.held {
		if h {
			out = append(out, s)
		}
	}
	sort.Ints(out)
	return out
}

// Groups returns every group reported so far, sorted.
func (o *Ownership) Groups() []string {
	out := append([]string(nil), o.names...)
	sort.Strings(out)
	return out
}

// Served checks that every shard s accepts writes at exactly owner[s]
// (the final configuration's group) and nowhere else: after the faults
// heal and the last change finished, every shard is served.
func (o *Ownership) Served(owner []string) error {
	for s, want := range owner {
		got := o.Accepting(s)
		if len(got) != 1 || got[0] != want {
			return fmt.Errorf("shard %d is served by %v, the configuration gives it to %s", s, got, want)
		}
	}
	return nil
}

// DeletedCheck checks deleted-means-deleted against the final
// configuration's assignment owner (shard -> group): every group holds
// exactly the shards owner gives it, so every shard that moved away was
// dropped by its old group.
func (o *Ownership) DeletedCheck(owner []string) error {
	want := map[string][]int{}
	for s, g := range owner {
		want[g] = append(want[g], s)
	}
	for _, n := range o.Groups() {
		if held := o.Held(n); fmt.Sprint(held) != fmt.Sprint(want[n]) {
			var extra []int
			mine := map[int]bool{}
			for _, s := range want[n] {
				mine[s] = true
			}
			for _, s := range held {
				if !mine[s] {
					extra = append(extra, s)
				}
			}
			if len(extra) > 0 {
				return fmt.Errorf("group %s still holds shards %v that the final configuration gives to others (holds %v, owns %v)", n, extra, held, want[n])
			}
		}
	}
	return nil
}

// SizeBound is the classic delete test's bound: the groups' snapshots
// together (sizes, bytes) are at most base + slack, where base is the
// size one group's snapshot had before any shard moved.
func SizeBound(sizes map[string]int, base, slack int) error {
	total := 0
	var parts []string
	names := make([]string, 0, len(sizes))
	for n := range sizes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		total += sizes[n]
		parts = append(parts, fmt.Sprintf("%s %d B", n, sizes[n]))
	}
	if total > base+slack {
		return fmt.Errorf("snapshots total %d B (%s) > %d B before the moves + %d B: moved shards not deleted", total, strings.Join(parts, ", "), base, slack)
	}
	return nil
}

// Durable checks that every acknowledged Put of ops is in final, the
// union of the stores of the shards' final owners (kvcheck.Durable: the
// key's version is past the Put's, and holds its value if exactly at it).
func Durable(ops []kvcheck.Op, final map[string]kvcheck.State) error {
	return kvcheck.Durable(ops, final)
}

// Calls tracks controller calls in progress, to bound how long any takes:
// Start when a call is made, its done function when it returns.
type Calls struct {
	next    int
	pending map[int]call
	// Returned counts calls that returned.
	Returned int
}

type call struct {
	what  string
	start int64
}

// Start records a call named what made at time now and returns the
// function to call once it returns.
func (c *Calls) Start(what string, now int64) (done func()) {
	if c.pending == nil {
		c.pending = map[int]call{}
	}
	id := c.next
	c.next++
	c.pending[id] = call{what, now}
	return func() {
		if _, ok := c.pending[id]; ok {
			delete(c.pending, id)
			c.Returned++
		}
	}
}

// Pending returns how many calls have not returned.
func (c *Calls) Pending() int { return len(c.pending) }

// Overdue returns an error naming the oldest call that has been running
// longer than bound at time now (nil if none).
func (c *Calls) Overdue(now, bound int64) error {
	oldest, found := call{}, false
	ids := make([]int, 0, len(c.pending))
	for id := range c.pending {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		p := c.pending[id]
		if now-p.start > bound && (!found || p.start < oldest.start) {
			oldest, found = p, true
		}
	}
	if !found {
		return nil
	}
	return fmt.Errorf("controller call %s made at %dns has not returned after %dns (%d calls pending)", oldest.what, oldest.start, now-oldest.start, len(c.pending))
}
