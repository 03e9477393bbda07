package raft

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// obs is a small safety checker for these tests (checkers/raftcheck is the
// real one): election safety, committed entries never change, every server
// applies the same entry at an index, in order per incarnation.
type obs struct {
	w         *sim.World
	leaders   map[uint64]int
	committed map[uint64]Entry
	applied   map[uint64]Entry
	last      map[int]uint64
	nCommit   int
}

func newObs(w *sim.World) *obs {
	return &obs{w: w, leaders: map[uint64]int{}, committed: map[uint64]Entry{}, applied: map[uint64]Entry{}, last: map[int]uint64{}}
}

func (o *obs) BecameLeader(s int, term uint64) {
	if p, ok := o.leaders[term]; ok && p != s {
		o.w.Fail("election-safety", "servers %d and %d lead term %d", p, s, term)
	}
	o.leaders[term] = s
}

func (o *obs) Committed(s int, i, term uint64, cmd []byte) {
	o.nCommit++
	if e, ok := o.committed[i]; ok && (e.Term != term || !bytes.Equal(e.Cmd, cmd)) {
		o.w.Fail("committed-lost", "index %d committed as %q@%d and %q@%d", i, e.Cmd, e.Term, cmd, term)
		return
	}
	o.committed[i] = Entry{Term: term, Cmd: cmd}
}

func (o *obs) Applied(s int, i, term uint64, cmd []byte) {
	if e, ok := o.applied[i]; ok && (e.Term != term || !bytes.Equal(e.Cmd, cmd)) {
		o.w.Fail("state-machine-safety", "index %d applied as %q@%d and %q@%d", i, e.Cmd, e.Term, cmd, term)
		return
	}
	if e, ok := o.committed[i]; ok && (e.Term != term || !bytes.Equal(e.Cmd, cmd)) {
		o.w.Fail("committed-lost", "index %d committed as %q@%d, applied as %q@%d", i, e.Cmd, e.Term, cmd, term)
		return
	}
	o.applied[i] = Entry{Term: term, Cmd: cmd}
}

func (o *obs) SnapshotInstalled(s int, i, term uint64) {}

// cluster is a world of n raft.Nodes.
type cluster struct {
	t    testing.TB
	w    *sim.World
	ids  []sim.NodeID
	obs  *obs
	cfg  []Config // per server, read by the factory at every (re)start
	snap int
}

func newCluster(t testing.TB, n int, seed uint64, opts sim.Options, mod func(*Config), snapEvery int) *cluster {
	c := &cluster{t: t, w: sim.NewWorld(seed, opts), snap: snapEvery}
	c.obs = newObs(c.w)
	ids := make([]sim.NodeID, n)
	for i := range ids {
		ids[i] = sim.NodeID(i) // nodes are added in order, so ids are 0..n-1
	}
	c.ids = ids
	c.cfg = make([]Config, n)
	for i := 0; i < n; i++ {
		cfg := Config{Me: i, Peers: ids, FastBackup: true, Observer: c.obs}
		if mod != nil {
			mod(&cfg)
		}
		c.cfg[i] = cfg
	}
	for i := 0; i < n; i++ {
		i := i
		id := c.w.AddNode(fmt.Sprintf("s%d", i), func() sim.Node {
			if r, ok := c.cfg[i].Observer.(interface{ Restarted(int) }); ok {
				r.Restarted(i) // a checker that follows incarnations
			}
			return &Node{Cfg: c.cfg[i], SnapshotEvery: c.snap}
		})
		if id != ids[i] {
			t.Fatalf("node id %d, want %d", id, ids[i])
		}
	}
	return c
}

func (c *cluster) node(i int) *Node {
	n, _ := c.w.Node(c.ids[i]).(*Node)
	return n
}

func (c *cluster) run(d sim.Duration) {
	c.t.Helper()
	c.w.RunFor(d)
	if f := c.w.Failure(); f != nil {
		c.t.Fatalf("failure: %v\n%s", f, f.Stack)
	}
}

// leaders returns the up servers that believe they lead, and the highest
// term among up servers.
func (c *cluster) leaders() (ls []int, maxTerm uint64) {
	for i := range c.ids {
		n := c.node(i)
		if n == nil {
			continue
		}
		t, l := n.Role()
		if l {
			ls = append(ls, i)
		}
		if t > maxTerm {
			maxTerm = t
		}
	}
	return ls, maxTerm
}

// oneLeader runs until exactly one leader of the highest term is up (like
// the lab's checkOneLeader), failing after 5s.
func (c *cluster) oneLeader() int {
	c.t.Helper()
	for k := 0; k < 50; k++ {
		c.run(100 * sim.Millisecond)
		ls, max := c.leaders()
		var top []int
		for _, l := range ls {
			if t, _ := c.node(l).Role(); t == max {
				top = append(top, l)
			}
		}
		if len(top) > 1 {
			c.t.Fatalf("two leaders in term %d: %v", max, top)
		}
		if len(top) == 1 {
			return top[0]
		}
	}
	c.t.Fatalf("no leader after 5s")
	return -1
}

// one submits cmd to the leader (retrying) and waits until at least want
// servers applied it at the returned index (like the lab's one()).
func (c *cluster) one(cmd string, want int) uint64 {
	c.t.Helper()
	for tries := 0; tries < 100; tries++ {
		for k := range c.ids {
			i := (k + tries) % len(c.ids)
			n := c.node(i)
			if n == nil || c.cutOff(i) {
				continue
			}
			idx, _, ok := n.Submit([]byte(cmd))
			if !ok {
				continue
			}
			for k := 0; k < 100; k++ {
				c.run(20 * sim.Millisecond)
				if c.nApplied(idx, cmd) >= want {
					return idx
				}
			}
			break
		}
		c.run(50 * sim.Millisecond)
	}
	c.t.Fatalf("%q not applied on %d servers", cmd, want)
	return 0
}

// nApplied counts up servers whose applied command at idx is cmd.
func (c *cluster) nApplied(idx uint64, cmd string) int {
	k := 0
	for i := range c.ids {
		n := c.node(i)
		if n == nil {
			continue
		}
		base, cmds := n.Applied()
		if idx > base && idx <= base+uint64(len(cmds)) && string(cmds[idx-base-1]) == cmd {
			k++
		} else if idx <= base && n.LastApplied() >= idx {
			k++ // covered by a snapshot; digests are compared elsewhere
		}
	}
	return k
}

func (c *cluster) crash(i int)   { c.w.Crash(c.ids[i]) }
func (c *cluster) restart(i int) { c.w.Restart(c.ids[i]) }

// isolate cuts server i off from every other server.
func (c *cluster) isolate(i int) { c.w.Isolate(c.ids[i], c.ids) }

// cutOff reports whether server i cannot reach any other server (the lab's
// one() only asks connected servers).
func (c *cluster) cutOff(i int) bool {
	for j := range c.ids {
		if j != i && c.w.Linked(c.ids[i], c.ids[j]) {
			return false
		}
	}
	return len(c.ids) > 1
}
