package rsm

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/sim"
)

// Sequential Incs return 1..10 and every replica ends with the same count.
func TestBasic(t *testing.T) {
	w := newWorld(t, 3, 1, nil)
	w.leader()
	for i := 1; i <= 10; i++ {
		if got := w.do(0, 0, "inc"); got != fmt.Sprint(i) {
			t.Fatalf("inc %d returned %q", i, got)
		}
	}
	w.run(500 * sim.Millisecond)
	if diff := cmp.Diff([]int{10, 10, 10}, w.counters()); diff != "" {
		t.Fatalf("counters (-want +got):\n%s", diff)
	}
}

// Concurrent Submits on the leader all succeed exactly once.
func TestConcurrent(t *testing.T) {
	w := newWorld(t, 3, 2, nil)
	l := w.leader()
	var rs []*reply
	for i := 0; i < 50; i++ {
		rs = append(rs, w.submitTo(l, 0, 0, "inc"))
	}
	w.run(time1s)
	seen := map[string]bool{}
	for i, r := range rs {
		if !r.done || r.err != nil {
			t.Fatalf("submit %d: done=%v err=%v", i, r.done, r.err)
		}
		seen[string(r.res)] = true
	}
	if len(seen) != 50 {
		t.Fatalf("%d distinct results, want 50", len(seen))
	}
	if diff := cmp.Diff([]int{50, 50, 50}, w.counters()); diff != "" {
		t.Fatalf("counters (-want +got):\n%s", diff)
	}
}

const time1s = sim.Second

// dedupRun submits (client 7, seq 1) twice and answers from the table,
// then submits (7, 2) twice back to back on the leader so that both copies
// commit; it returns the counters and the replies.
func dedupRun(t *testing.T, mod func(*Config)) (counters []int, second [2]*reply) {
	w := newWorld(t, 3, 3, mod)
	l := w.leader()
	if got := w.do(7, 1, "inc"); got != "1" {
		t.Fatalf("(7,1) returned %q", got)
	}
	second[0] = w.submitTo(l, 7, 2, "inc")
	second[1] = w.submitTo(l, 7, 2, "inc")
	w.run(time1s)
	return w.counters(), second
}

// A duplicate (client, seq) is applied once and both copies get the first
// copy's result; an older seq is refused.
func TestDedup(t *testing.T) {
	counters, second := dedupRun(t, nil)
	if diff := cmp.Diff([]int{2, 2, 2}, counters); diff != "" {
		t.Fatalf("counters (-want +got):\n%s", diff)
	}
	for i, r := range second {
		if !r.done || r.err != nil || string(r.res) != "2" {
			t.Fatalf("copy %d of (7,2): done=%v res=%q err=%v", i, r.done, r.res, r.err)
		}
	}

	w := newWorld(t, 3, 4, nil)
	l := w.leader()
	w.do(7, 1, "inc")
	w.do(7, 2, "inc")
	runs := w.host(l).sm.runs
	if got := w.do(7, 2, "inc"); got != "2" {
		t.Fatalf("retry of (7,2) returned %q", got)
	}
	if r := w.submitTo(l, 7, 1, "inc"); !r.done || !errors.Is(r.err, ErrStale) {
		t.Fatalf("(7,1) after (7,2): %+v, want ErrStale", r)
	}
	w.run(100 * sim.Millisecond)
	if got := w.host(l).sm.runs; got != runs {
		t.Fatalf("DoOp ran %d more times for a duplicate", got-runs)
	}
	if seq, ok := w.host(l).s.LastSeq(7); !ok || seq != 2 {
		t.Fatalf("LastSeq(7) = %d, %v", seq, ok)
	}
}

// The dedup test catches an RSM without duplicate detection.
func TestBrokenDedupCaught(t *testing.T) {
	counters, _ := dedupRun(t, func(c *Config) { c.UnsafeNoDedup = true })
	if cmp.Equal([]int{2, 2, 2}, counters) {
		t.Fatalf("UnsafeNoDedup still applied (7,2) once: %v", counters)
	}
}

// A leader alone in a minority keeps its Submits pending (same term), and
// they all fail with ErrWrongLeader soon after the heal; no Dec runs.
func TestLeaderPartition(t *testing.T) {
	w := newWorld(t, 3, 5, nil)
	l := w.leader()
	w.do(0, 0, "inc")
	w.w.Isolate(w.ids[l], w.ids)
	var decs []*reply
	for i := 0; i < 20; i++ {
		decs = append(decs, w.submitTo(l, 0, 0, "dec"))
	}
	w.run(10 * sim.Millisecond)
	for k := 0; k < 100; k++ {
		i := (l + 1 + k%2) % 3
		if r := w.submitTo(i, 0, 0, "inc"); func() bool { w.run(200 * sim.Millisecond); return r.done && r.err == nil }() {
			break
		}
	}
	w.run(time1s)
	for i, r := range decs {
		if r.done {
			t.Fatalf("dec %d returned within 1s in the minority: %+v", i, r)
		}
	}
	w.w.Heal()
	w.run(time1s)
	for i, r := range decs {
		if !r.done || !errors.Is(r.err, ErrWrongLeader) {
			t.Fatalf("dec %d after heal: %+v, want ErrWrongLeader", i, r)
		}
	}
	w.run(time1s)
	if diff := cmp.Diff([]int{2, 2, 2}, w.counters()); diff != "" {
		t.Fatalf("counters (-want +got):\n%s", diff)
	}
}

// Snapshots keep Raft's state under 2x MaxRaftState, carry the duplicate
// table, and a full restart restores from them.
func TestSnapshotRestart(t *testing.T) {
	w := newWorld(t, 3, 6, func(c *Config) { c.MaxRaftState = 1000 })
	w.leader()
	for i := 1; i <= 100; i++ {
		if got := w.do(9, uint64(i), "inc"); got != fmt.Sprint(i) {
			t.Fatalf("inc %d returned %q", i, got)
		}
		for j := range w.ids {
			if h := w.host(j); h != nil {
				if sz := h.s.Raft().PersistSize(); sz > 2000 {
					t.Fatalf("server %d raft state %d B > 2000 B", j, sz)
				}
			}
		}
	}
	w.run(500 * sim.Millisecond)
	snaps := uint64(0)
	for j := range w.ids {
		snaps += w.host(j).s.Stats().Snapshots
	}
	if snaps == 0 {
		t.Fatal("no snapshot taken")
	}
	for j := range w.ids {
		w.w.Crash(w.ids[j])
	}
	w.run(time1s)
	for j := range w.ids {
		w.w.Restart(w.ids[j])
	}
	for j := range w.ids {
		h := w.host(j)
		if h.s.Stats().Restores != 1 || h.sm.n == 0 {
			t.Fatalf("server %d did not restore from its snapshot: %+v, n=%d", j, h.s.Stats(), h.sm.n)
		}
	}
	if got := w.do(9, 100, "inc"); got != "100" {
		t.Fatalf("retry of (9,100) after restart returned %q", got)
	}
	if got := w.do(9, 101, "inc"); got != "101" {
		t.Fatalf("(9,101) after restart returned %q", got)
	}
	w.run(time1s)
	if diff := cmp.Diff([]int{101, 101, 101}, w.counters()); diff != "" {
		t.Fatalf("counters (-want +got):\n%s", diff)
	}
}

// A follower far behind gets the leader's snapshot through Restore, with
// the duplicate table.
func TestInstallSnapshot(t *testing.T) {
	w := newWorld(t, 3, 7, func(c *Config) { c.MaxRaftState = 500 })
	l := w.leader()
	lag := (l + 1) % 3
	w.w.Isolate(w.ids[lag], w.ids)
	for i := 1; i <= 60; i++ {
		w.do(5, uint64(i), "inc")
	}
	w.w.Heal()
	w.run(2 * time1s)
	h := w.host(lag)
	if h.s.Stats().Restores == 0 {
		t.Fatal("lagging follower never installed a snapshot")
	}
	if seq, _ := h.s.LastSeq(5); seq != 60 || h.sm.n != 60 {
		t.Fatalf("follower: last seq %d, counter %d; want 60, 60", seq, h.sm.n)
	}
}

// Reads go through the configured path; followers refuse them.
func TestReadPaths(t *testing.T) {
	for _, mode := range []string{raft.ReadLog, raft.ReadReadIndex, raft.ReadLease} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, 3, 8, func(c *Config) { c.Raft.ReadMode = mode })
			l := w.leader()
			w.do(0, 0, "inc")
			w.do(0, 0, "inc")
			r := &reply{}
			w.host(l).s.Read([]byte("get"), func(res []byte, err error) { r.done, r.res, r.err = true, res, err })
			w.run(500 * sim.Millisecond)
			if !r.done || r.err != nil || string(r.res) != "2" {
				t.Fatalf("leader read: %+v", r)
			}
			f := &reply{}
			w.host((l+1)%3).s.Read([]byte("get"), func(res []byte, err error) { f.done, f.res, f.err = true, res, err })
			w.run(100 * sim.Millisecond)
			if !f.done || !errors.Is(f.err, ErrWrongLeader) {
				t.Fatalf("follower read: %+v", f)
			}
		})
	}
}

// Kill fails every pending Submit and Read at once, and later calls too.
func TestKill(t *testing.T) {
	w := newWorld(t, 3, 9, func(c *Config) { c.Raft.ReadMode = raft.ReadReadIndex })
	l := w.leader()
	w.w.Isolate(w.ids[l], w.ids)
	p := w.submitTo(l, 0, 0, "null")
	r := &reply{}
	w.host(l).s.Read([]byte("get"), func(res []byte, err error) { r.done, r.err = true, err })
	w.run(100 * sim.Millisecond)
	if p.done || r.done {
		t.Fatal("ops returned before Kill")
	}
	w.host(l).s.Kill()
	if !errors.Is(p.err, ErrWrongLeader) || !errors.Is(r.err, ErrWrongLeader) {
		t.Fatalf("after Kill: submit %+v read %+v", p, r)
	}
	if q := w.submitTo(l, 0, 0, "null"); !errors.Is(q.err, ErrWrongLeader) {
		t.Fatalf("submit after Kill: %+v", q)
	}
}

// A command without the RSM framing in the log is a protocol bug: the run
// fails with rsm.decode, no panic.
func TestMalformedCommandFails(t *testing.T) {
	w := newWorld(t, 3, 10, nil)
	l := w.leader()
	w.host(l).s.Raft().Start([]byte("junk"))
	w.w.RunFor(time1s)
	if f := w.w.Failure(); f == nil || f.Checker != CheckDecode {
		t.Fatalf("want %s, got %v", CheckDecode, f)
	}
}

// Every truncation or corruption of a snapshot is an error, never a panic,
// and a good one round-trips.
func TestSnapshotDecoding(t *testing.T) {
	w := newWorld(t, 1, 11, nil)
	w.leader()
	for i := 1; i <= 3; i++ {
		w.do(uint64(i), 1, "inc")
	}
	s := w.host(0).s
	snap := s.encodeSnapshot()
	dup, sm, idx, err := decodeSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]dupEntry{1: {1, []byte("1")}, 2: {1, []byte("2")}, 3: {1, []byte("3")}}
	if diff := cmp.Diff(want, dup, cmp.AllowUnexported(dupEntry{})); diff != "" || string(sm) != "3" || idx != s.Applied() {
		t.Fatalf("round trip: sm %q idx %d/%d dup diff:\n%s", sm, idx, s.Applied(), diff)
	}
	for n := 0; n < len(snap); n++ {
		if _, _, _, err := decodeSnapshot(snap[:n]); err == nil {
			t.Fatalf("truncation to %d bytes decoded", n)
		}
	}
	if _, _, _, err := decodeSnapshot(append(bytes.Clone(snap), 0)); err == nil {
		t.Fatal("trailing byte decoded")
	}
	// A malformed snapshot delivered to a live peer fails the run.
	s.apply(raft.ApplyMsg{SnapshotValid: true, Snapshot: []byte("RSM1\xff"), SnapshotIndex: s.Applied() + 5})
	if f := w.w.Failure(); f == nil || f.Checker != CheckDecode {
		t.Fatalf("want %s, got %v", CheckDecode, f)
	}
}

// Out-of-order applies are caught.
func TestOutOfOrderApplyFails(t *testing.T) {
	w := newWorld(t, 1, 12, nil)
	w.leader()
	w.do(0, 0, "inc")
	s := w.host(0).s
	s.apply(raft.ApplyMsg{CommandValid: true, Index: s.Applied() + 2, Command: encodeCmd(0, 0, []byte("null"))})
	if f := w.w.Failure(); f == nil || f.Checker != CheckOrder {
		t.Fatalf("want %s, got %v", CheckOrder, f)
	}
}

// The same seed gives the same run.
func TestDeterminism(t *testing.T) {
	hash := func() uint64 {
		w := newWorld(t, 3, 13, func(c *Config) { c.MaxRaftState = 300 })
		l := w.leader()
		for i := 0; i < 20; i++ {
			w.submitTo(l, uint64(i%3+1), uint64(i/3+1), "inc")
		}
		w.w.Crash(w.ids[l])
		w.run(time1s)
		w.w.Restart(w.ids[l])
		w.run(2 * time1s)
		return w.w.Hash()
	}
	if a, b := hash(), hash(); a != b {
		t.Fatalf("hashes differ: %x %x", a, b)
	}
}

// Malformed commands decode to errors, not panics.
func TestDecodeCmd(t *testing.T) {
	c := encodeCmd(300, 70000, []byte("op"))
	if cl, seq, op, err := decodeCmd(c); err != nil || cl != 300 || seq != 70000 || string(op) != "op" {
		t.Fatalf("round trip: %d %d %q %v", cl, seq, op, err)
	}
	for _, b := range [][]byte{nil, {}, {0}, {cmdMagic}, {cmdMagic, 0x80}, {cmdMagic, 1, 0xff}} {
		if _, _, _, err := decodeCmd(b); err == nil {
			t.Fatalf("%x decoded", b)
		}
	}
}

// A ResultlessApplier applies the ops without a client that no Submit on
// its peer waits for (every follower's) through ApplyOnly, and the others
// through DoOp: the leader's Submits still get their results, every
// replica ends in the same state, and dedup'd ops never go without result.
func TestResultlessApplier(t *testing.T) {
	w := newHostWorld(t, 3, 3, nil, func(h *host) { h.applyOnly = true })
	l := w.leader()
	for i := 1; i <= 5; i++ {
		if got := w.do(0, 0, "inc"); got != fmt.Sprint(i) {
			t.Fatalf("inc %d returned %q", i, got)
		}
	}
	if got := w.do(7, 1, "inc"); got != "6" {
		t.Fatalf("deduplicated inc returned %q", got)
	}
	w.run(500 * sim.Millisecond)
	if diff := cmp.Diff([]int{6, 6, 6}, w.counters()); diff != "" {
		t.Fatalf("counters (-want +got):\n%s", diff)
	}
	for i := range w.ids {
		h := w.host(i)
		if i == l && h.ao.only != 0 {
			t.Errorf("leader applied %d of its own pending ops without a result", h.ao.only)
		}
		if i != l && h.ao.only != 5 {
			t.Errorf("follower s%d: %d ops applied without a result, want the 5 without a client", i, h.ao.only)
		}
	}
}

// SubmitCmd of a command framed by AppendCmdHeader runs like Submit of its
// op (dedup included); one framed for another (client, seq) fails the run.
func TestSubmitCmd(t *testing.T) {
	w := newWorld(t, 3, 12, nil)
	l := w.leader()
	cmd := func(client, seq uint64, op string) []byte {
		return append(AppendCmdHeader(nil, client, seq), op...)
	}
	run := func(client, seq uint64, c []byte) *reply {
		r := &reply{}
		w.host(l).s.SubmitCmd(client, seq, c, func(res []byte, err error) { r.done, r.res, r.err = true, res, err })
		w.run(500 * sim.Millisecond)
		return r
	}
	if r := run(5, 1, cmd(5, 1, "inc")); !r.done || r.err != nil || string(r.res) != "1" {
		t.Fatalf("first inc: %+v", r)
	}
	if r := run(5, 1, cmd(5, 1, "inc")); !r.done || r.err != nil || string(r.res) != "1" {
		t.Fatalf("retried inc (deduplicated): %+v", r)
	}
	if r := run(0, 0, cmd(0, 0, "inc")); !r.done || r.err != nil || string(r.res) != "2" {
		t.Fatalf("inc without a client: %+v", r)
	}
	if diff := cmp.Diff([]int{2, 2, 2}, w.counters()); diff != "" {
		t.Fatalf("counters (-want +got):\n%s", diff)
	}
	w.host(l).s.SubmitCmd(6, 1, cmd(6, 2, "inc"), nil)
	if f := w.w.Failure(); f == nil || f.Checker != CheckInternal {
		t.Fatalf("mismatched header: want %s, got %v", CheckInternal, f)
	}
}

// ReadLocal calls back at a read point on the leader (many times over, as
// its waits are reused), ErrWrongLeader on a follower, and Kill answers a
// pending one.
func TestReadLocal(t *testing.T) {
	for _, mode := range []string{raft.ReadReadIndex, raft.ReadLease} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, 3, 13, func(c *Config) { c.Raft.ReadMode = mode })
			l := w.leader()
			if !w.host(l).s.LocalReads() {
				t.Fatal("LocalReads false in mode " + mode)
			}
			for i := 1; i <= 3; i++ {
				w.do(0, 0, "inc")
				var got []int
				for k := 0; k < 3; k++ {
					w.host(l).s.ReadLocal(func(err error) {
						if err != nil {
							t.Errorf("leader read: %v", err)
						}
						got = append(got, w.host(l).sm.n)
					})
				}
				w.host(l).s.Read([]byte("get"), func(res []byte, err error) {
					if err != nil || string(res) != fmt.Sprint(i) {
						t.Errorf("Read after inc %d: %q %v", i, res, err)
					}
				})
				w.run(200 * sim.Millisecond)
				if diff := cmp.Diff([]int{i, i, i}, got); diff != "" {
					t.Fatalf("reads after inc %d (-want +got):\n%s", i, diff)
				}
			}
			var ferr error
			w.host((l + 1) % 3).s.ReadLocal(func(err error) { ferr = err })
			w.run(100 * sim.Millisecond)
			if !errors.Is(ferr, ErrWrongLeader) {
				t.Fatalf("follower ReadLocal: %v", ferr)
			}
			w.w.Isolate(w.ids[l], w.ids)
			var kerr error
			called := 0
			w.host(l).s.ReadLocal(func(err error) { kerr, called = err, called+1 })
			w.run(100 * sim.Millisecond)
			if mode == raft.ReadReadIndex && called != 0 {
				t.Fatalf("isolated leader answered a ReadIndex read: %v", kerr)
			}
			w.host(l).s.Kill()
			if called != 1 || !errors.Is(kerr, ErrWrongLeader) && mode == raft.ReadReadIndex {
				t.Fatalf("after Kill: %d calls, %v", called, kerr)
			}
		})
	}
	w := newWorld(t, 1, 14, nil)
	w.leader()
	if w.host(0).s.LocalReads() {
		t.Fatal("LocalReads true in the log read mode")
	}
}

// A ResultAppender writes a client's results into its previous one's
// buffer, and the answers handed out stay the callers' own: changing one
// does not change what a retry of the same op is answered.
func TestResultAppender(t *testing.T) {
	w := newHostWorld(t, 3, 15, nil, func(h *host) { h.appender = true })
	l := w.leader()
	for seq := uint64(1); seq <= 5; seq++ {
		r := w.submitTo(l, 7, seq, "inc")
		w.run(300 * sim.Millisecond)
		if !r.done || r.err != nil || string(r.res) != fmt.Sprint(seq) {
			t.Fatalf("inc %d: %+v", seq, r)
		}
		r.res[0] = 'X' // the caller's copy
		d := w.submitTo(l, 7, seq, "inc")
		w.run(300 * sim.Millisecond)
		if !d.done || d.err != nil || string(d.res) != fmt.Sprint(seq) {
			t.Fatalf("retried inc %d: %+v", seq, d)
		}
	}
	for i := range w.ids {
		if h := w.host(i); h.ap.reused != 4 {
			t.Errorf("s%d reused %d result buffers, want 4 (every result of client 7 after its first)", i, h.ap.reused)
		}
	}
}
