package raft

import (
	"fmt"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/sim"
)

func reliable() sim.Options {
	return sim.Options{Net: sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 3 * sim.Millisecond}}
}

func TestConfigValidate(t *testing.T) {
	ids := []sim.NodeID{0, 1, 2}
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Peers: ids}, ""},
		{Config{}, "no peers"},
		{Config{Me: 3, Peers: ids}, "out of range"},
		{Config{Peers: []sim.NodeID{0, 0}}, "listed twice"},
		{Config{Peers: ids, ElectionMin: 500 * sim.Millisecond, ElectionMax: 100 * sim.Millisecond}, "election timeout"},
		{Config{Peers: ids, Heartbeat: sim.Second}, "heartbeat"},
		{Config{Peers: ids, ReadMode: "psychic"}, "ReadMode"},
		{Config{Peers: ids, MaxEntries: -1}, "MaxEntries"},
	}
	for _, tc := range cases {
		err := tc.cfg.withDefaults().validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestInitialElection(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := newCluster(t, n, 1, reliable(), nil, 0)
			l := c.oneLeader()
			t1, _ := c.node(l).Role()
			if t1 < 1 {
				t.Fatalf("term %d", t1)
			}
			c.run(50 * sim.Millisecond)
			for i := 0; i < n; i++ {
				if tt, _ := c.node(i).Role(); tt != t1 {
					t.Fatalf("server %d in term %d, leader in %d", i, tt, t1)
				}
			}
			// A reliable, idle network keeps its leader.
			c.run(2 * sim.Second)
			if l2 := c.oneLeader(); l2 != l {
				t.Fatalf("leader changed from %d to %d with no failures", l, l2)
			}
			if t2, _ := c.node(l).Role(); t2 != t1 {
				t.Fatalf("term changed from %d to %d with no failures", t1, t2)
			}
			// Idle heartbeat budget: at most 10 AppendEntries/s per follower.
			recv0 := c.totalRecv()
			c.run(sim.Second)
			if got := c.totalRecv() - recv0; got > uint64(2*10*(n-1)) {
				t.Fatalf("%d messages in one idle second (want <= %d)", got, 2*10*(n-1))
			}
		})
	}
}

func (c *cluster) totalRecv() uint64 {
	var s uint64
	for _, id := range c.ids {
		r, _, _ := c.w.NodeStats(id)
		s += r
	}
	return s
}

func TestReElection(t *testing.T) {
	c := newCluster(t, 3, 2, reliable(), nil, 0)
	l1 := c.oneLeader()
	c.crash(l1)
	l2 := c.oneLeader()
	if l2 == l1 {
		t.Fatal("crashed leader still leads")
	}
	c.restart(l1)
	c.run(sim.Second)
	if l3 := c.oneLeader(); l3 != l2 {
		t.Logf("leader moved to %d after restart of %d (allowed)", l3, l1)
	}
	// Leader and one more down: no leader among the remaining one.
	l := c.oneLeader()
	other := (l + 1) % 3
	c.isolate(l)
	c.isolate(other)
	c.run(2 * sim.Second)
	last := 3 - l - other
	if _, lead := c.node(last).Role(); lead {
		t.Fatal("a lone server became leader")
	}
	c.w.Heal()
	c.oneLeader()
}

func TestReplication(t *testing.T) {
	c := newCluster(t, 5, 3, reliable(), nil, 0)
	c.oneLeader()
	for k := 1; k <= 20; k++ {
		if idx := c.one(fmt.Sprintf("cmd%d", k), 5); idx != uint64(k) {
			t.Fatalf("command %d got index %d", k, idx)
		}
	}
	c.run(500 * sim.Millisecond)
	d0, n0 := c.node(0).Digest()
	for i := 1; i < 5; i++ {
		if d, n := c.node(i).Digest(); d != d0 || n != n0 {
			t.Fatalf("server %d digest %x/%d, server 0 %x/%d", i, d, n, d0, n0)
		}
	}
	if c.obs.nCommit < 20 {
		t.Fatalf("%d commits observed", c.obs.nCommit)
	}
}

// Start replicates at once: a sequential client commits many ops per
// heartbeat (kvraft needs >= 3 per 100ms).
func TestStartReplicatesImmediately(t *testing.T) {
	c := newCluster(t, 3, 4, reliable(), nil, 0)
	l := c.oneLeader()
	start := c.w.Now()
	for k := 0; k < 30; k++ {
		idx, _, ok := c.node(l).Submit([]byte{byte(k)})
		if !ok {
			t.Fatal("leader lost leadership")
		}
		for c.node(l).Raft().CommitIndex() < idx {
			c.run(sim.Millisecond)
		}
	}
	if el := c.w.Now().Sub(start); el > sim.Second {
		t.Fatalf("30 sequential commits took %v (want well under 1s)", el)
	}
}

func TestFailAgreeAndRejoin(t *testing.T) {
	c := newCluster(t, 3, 5, reliable(), nil, 0)
	c.one("101", 3)
	l1 := c.oneLeader()
	// Partition leader 1 and give it entries it can't commit.
	c.isolate(l1)
	for _, s := range []string{"102", "103", "104"} {
		c.node(l1).Submit([]byte(s))
	}
	c.run(100 * sim.Millisecond)
	c.one("103", 2)
	l2 := c.oneLeader()
	c.isolate(l2)
	// Reconnect leader 1 to the third server only.
	c.w.Heal()
	c.isolate(l2)
	c.one("104", 2)
	c.w.Heal()
	c.one("105", 3)
}

// Backup: 50 entries mismatched on each side must resolve quickly.
func TestBackup(t *testing.T) {
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprint("fast=", fast), func(t *testing.T) {
			c := newCluster(t, 5, 6, reliable(), func(cfg *Config) { cfg.FastBackup = fast }, 0)
			c.one("x", 5)
			l1 := c.oneLeader()
			f1 := (l1 + 2) % 5
			c.w.Partition([][]sim.NodeID{{c.ids[l1], c.ids[f1]}, others(c.ids, l1, f1)})
			for k := 0; k < 50; k++ {
				c.node(l1).Submit([]byte(fmt.Sprint("lost", k)))
			}
			c.run(500 * sim.Millisecond)
			c.crash(l1) // so it can't win again while the others work
			c.crash(f1)
			for k := 0; k < 50; k++ {
				c.one(fmt.Sprint("ok", k), 3)
			}
			c.restart(l1)
			c.restart(f1)
			c.w.Heal()
			c.one("final", 5)
		})
	}
}

func others(ids []sim.NodeID, not ...int) []sim.NodeID {
	var out []sim.NodeID
next:
	for i, id := range ids {
		for _, n := range not {
			if i == n {
				continue next
			}
		}
		out = append(out, id)
	}
	return out
}

func TestPersistRestartAll(t *testing.T) {
	c := newCluster(t, 3, 7, reliable(), nil, 0)
	c.one("11", 3)
	for i := 0; i < 3; i++ {
		c.crash(i)
	}
	for i := 0; i < 3; i++ {
		c.restart(i)
	}
	c.one("12", 3)
	// The restarted servers replayed index 1 from their logs.
	for i := 0; i < 3; i++ {
		base, cmds := c.node(i).Applied()
		if base != 0 || len(cmds) < 2 || string(cmds[0]) != "11" {
			t.Fatalf("server %d applied base=%d %q after restart", i, base, cmds)
		}
	}
	l := c.oneLeader()
	c.crash(l)
	c.restart(l)
	c.one("13", 3)
	l = c.oneLeader()
	c.crash(l)
	c.one("14", 2)
	c.restart(l)
	c.one("15", 3)
	if ps := c.node(0).Raft().PersistSize(); ps <= 0 || ps > 1000 {
		t.Fatalf("persist size %d", ps)
	}
}

func TestSnapshotsAndInstall(t *testing.T) {
	c := newCluster(t, 3, 8, reliable(), nil, 10)
	c.one("a", 3)
	l := c.oneLeader()
	victim := (l + 1) % 3
	c.crash(victim)
	for k := 0; k < 60; k++ {
		c.one(fmt.Sprint("v", k), 2)
		for i := 0; i < 3; i++ {
			if n := c.node(i); n != nil && n.Raft().PersistSize() >= 2000 {
				t.Fatalf("server %d persists %d bytes", i, n.Raft().PersistSize())
			}
		}
	}
	if si := c.node(l).Raft().SnapshotIndex(); si < 50 {
		t.Fatalf("leader snapshot index %d", si)
	}
	c.restart(victim)
	c.one("after", 3)
	if c.w.Coverage()["raft: snapshot installed on follower"] == 0 {
		t.Fatal("the lagging follower did not get an InstallSnapshot")
	}
	c.run(300 * sim.Millisecond)
	d0, n0 := c.node(l).Digest()
	if d, n := c.node(victim).Digest(); d != d0 || n != n0 {
		t.Fatalf("victim digest %x/%d, leader %x/%d", d, n, d0, n0)
	}
	// Restart everyone: each resumes from its snapshot, not from index 1.
	for i := 0; i < 3; i++ {
		c.crash(i)
		c.restart(i)
		if base, _ := c.node(i).Applied(); base == 0 {
			t.Fatalf("server %d restarted without its snapshot", i)
		}
	}
	c.one("again", 3)
}
