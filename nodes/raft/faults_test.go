package raft

import (
	"errors"
	"fmt"
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// Every single-bit flip of a record stream is detected as corruption, and
// every cut-short tail is seen as torn (never as corruption, never silently
// accepted as whole).
func TestRecordsDetectCorruptionAndTornTails(t *testing.T) {
	var b []byte
	for i := 0; i < 4; i++ {
		b = appendRecord(b, []byte(fmt.Sprintf("payload-%d", i)))
	}
	ps, torn, err := readRecords(b)
	if err != nil || torn || len(ps) != 4 {
		t.Fatalf("clean read: %d records, torn=%v, err=%v", len(ps), torn, err)
	}
	for bit := 0; bit < len(b)*8; bit++ {
		c := append([]byte(nil), b...)
		c[bit/8] ^= 1 << (bit % 8)
		if ps, torn, err := readRecords(c); !errors.Is(err, errCorrupt) {
			t.Fatalf("bit %d flipped: %d records, torn=%v, err=%v", bit, len(ps), torn, err)
		}
	}
	for cut := 0; cut < len(b); cut++ {
		ps, torn, err := readRecords(b[:cut])
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		whole := cut / (recHeader + len("payload-0")) // all records are one size
		if len(ps) != whole || torn != (cut > 0 && !boundary(b, cut)) {
			t.Fatalf("cut at %d: %d records (want %d), torn=%v", cut, len(ps), whole, torn)
		}
	}
	if _, err := readOne(b[:len(b)-1]); err == nil {
		t.Fatal("readOne accepted a stream of several records")
	}
}

// boundary reports whether cut falls between two records of b.
func boundary(b []byte, cut int) bool {
	for n := 0; n < len(b); {
		if n == cut {
			return true
		}
		n += recHeader + int(le.Uint32(b[n:]))
	}
	return cut == len(b)
}

// A leader crashed right after Start, with its appends unsynced and torn at
// an arbitrary byte, restarts safely: the torn tail is dropped and every
// safety property holds.
func TestTornWriteOnCrashKeepsNodeSafe(t *testing.T) {
	torn := 0
	for seed := uint64(1); seed <= 8; seed++ {
		c := newCluster(t, 3, seed, sim.Options{Net: reliable().Net, Disk: sim.DiskOptions{Torn: sim.R(1, 1)}},
			func(cfg *Config) { cfg.SyncDelay = 2 * sim.Millisecond }, 0)
		c.one("first", 3)
		for round := 0; round < 6; round++ {
			l := c.oneLeader()
			for k := 0; k < 3; k++ {
				c.node(l).Submit([]byte(fmt.Sprintf("r%d-%d-with-some-bytes", round, k)))
			}
			c.run(sim.Millisecond / 2) // before the leader's lazy Sync
			if len(c.w.Disk(c.ids[l]).Unsynced()) == 0 {
				t.Fatal("leader synced at once; the test needs unsynced appends")
			}
			c.crash(l)
			c.run(10 * sim.Millisecond)
			c.restart(l)
			if c.node(l).Raft().Corrupt() {
				t.Fatalf("seed %d: a torn write was taken for corruption", seed)
			}
			c.one(fmt.Sprintf("after%d", round), 3)
		}
		torn += int(c.w.Coverage()["raft: torn log tail dropped on restart"])
	}
	if torn == 0 {
		t.Fatal("no run ever restarted from a torn log tail")
	}
}

// A bit flip in synced Raft state makes the node refuse to run; the rest of
// the cluster carries on.
func TestCorruptDiskMakesNodeInert(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		c := newCluster(t, 3, seed, reliable(), nil, 5)
		for k := 0; k < 12; k++ {
			c.one(fmt.Sprint("c", k), 3)
		}
		victim := (c.oneLeader() + 1) % 3
		c.crash(victim)
		if !c.w.Corrupt(c.ids[victim]) {
			t.Fatal("nothing to corrupt")
		}
		c.restart(victim)
		r := c.node(victim).Raft()
		if !r.Corrupt() {
			t.Fatalf("seed %d: corruption not detected", seed)
		}
		if _, lead := r.State(); lead {
			t.Fatal("corrupt node leads")
		}
		if _, _, ok := r.Start([]byte("x")); ok {
			t.Fatal("corrupt node accepted a command")
		}
		c.one("still-live", 2)
		if r.LastApplied() != 0 || c.node(victim).LastApplied() != 0 {
			t.Fatal("corrupt node applied something")
		}
	}
}

func TestPreVoteKeepsPartitionedNodeFromDisruptingTerm(t *testing.T) {
	for _, pre := range []bool{true, false} {
		t.Run(fmt.Sprint("prevote=", pre), func(t *testing.T) {
			c := newCluster(t, 5, 11, reliable(), func(cfg *Config) { cfg.PreVote = pre }, 0)
			c.one("a", 5)
			l := c.oneLeader()
			t0, _ := c.node(l).Role()
			f := (l + 1) % 5
			c.isolate(f)
			c.run(3 * sim.Second)
			c.w.Heal()
			c.run(2 * sim.Second)
			c.one("b", 5)
			t1, _ := c.node(c.oneLeader()).Role()
			if pre && t1 != t0 {
				t.Fatalf("with PreVote the term moved from %d to %d", t0, t1)
			}
			if !pre && t1 == t0 {
				t.Fatalf("without PreVote the rejoining node should have disrupted term %d", t0)
			}
			if pre && c.w.Coverage()["raft: prevote rejected"] == 0 {
				t.Fatal("no prevote was ever rejected")
			}
		})
	}
}

func TestCheckQuorumStepsDown(t *testing.T) {
	c := newCluster(t, 3, 12, reliable(), func(cfg *Config) { cfg.CheckQuorum = true }, 0)
	l := c.oneLeader()
	c.isolate(l)
	c.run(3 * c.cfg[l].withDefaults().ElectionMax)
	if _, lead := c.node(l).Role(); lead {
		t.Fatal("isolated leader did not step down")
	}
	c.w.Heal()
	c.one("x", 3)
}

// readResult records what a ReadIndex callback said.
type readResult struct {
	done, ok bool
	index    uint64
}

func (c *cluster) read(i int) *readResult {
	res := &readResult{}
	c.node(i).Raft().ReadIndex(func(idx uint64, ok bool) { res.done, res.ok, res.index = true, ok, idx })
	return res
}

func TestReadIndexModes(t *testing.T) {
	for _, mode := range []string{ReadReadIndex, ReadLease} {
		t.Run(mode, func(t *testing.T) {
			c := newCluster(t, 3, 13, reliable(), func(cfg *Config) { cfg.ReadMode = mode; cfg.CheckQuorum = true }, 0)
			l := c.oneLeader()
			// A fresh leader has no entry of its term: the read waits for a
			// no-op to commit.
			res := c.read(l)
			c.run(200 * sim.Millisecond)
			if !res.done || !res.ok || res.index < 1 {
				t.Fatalf("first read: %+v", res)
			}
			idx := c.one("w", 3)
			res = c.read(l)
			if mode == ReadLease && !res.done {
				t.Fatal("lease read not served at once")
			}
			c.run(50 * sim.Millisecond)
			if !res.ok || res.index < idx {
				t.Fatalf("read after write at %d: %+v", idx, res)
			}
			if res := c.read((l + 1) % 3); !res.done || res.ok {
				t.Fatalf("follower read: %+v", res)
			}
			// An isolated leader must not confirm a read once its lease (if
			// any) is over; with CheckQuorum it eventually says no.
			c.isolate(l)
			c.run(c.cfg[l].withDefaults().ElectionMin / 2)
			res = c.read(l)
			c.run(100 * sim.Millisecond)
			if res.ok {
				t.Fatalf("isolated leader served a read: %+v", res)
			}
			c.run(2 * sim.Second)
			if !res.done || res.ok {
				t.Fatalf("isolated leader's read never failed: %+v", res)
			}
			c.w.Heal()
			c.one("x", 3)
		})
	}
}
