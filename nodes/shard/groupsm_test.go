package shard

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/nodes/rsm"
	"github.com/smilingraft/dsim/nodes/wire"
	"github.com/smilingraft/dsim/sim"
)

// keyOn returns a key whose shard is s (of 12).
func keyOn(s int) string {
	for i := 0; ; i++ {
		if k := fmt.Sprintf("k%d", i); Key2Shard(k, DefaultNShards) == s {
			return k
		}
	}
}

func do(t *testing.T, g *GroupSM, op []byte) Reply {
	t.Helper()
	r, err := DecodeReply(g.DoOp(op))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The fence and idempotence rules of Freeze, Install and Delete, step by
// step, with a second shard serving throughout.
func TestGroupSMMoveRules(t *testing.T) {
	a := NewGroupSM(0, GroupOptions{})
	k0, k1 := keyOn(0), keyOn(1)
	type step struct {
		op   []byte
		want Reply
	}
	steps := []step{
		{EncodePut(k0, "x", 0, 1, 1), Reply{Err: ErrWrongGroup}},
		{EncodeInstall(0, 1, false, nil), Reply{Err: kv.OK, Num: 1}},
		{EncodeInstall(1, 1, false, nil), Reply{Err: kv.OK, Num: 1}},
		{EncodePut(k0, "x", 0, 7, 1), Reply{Err: kv.OK, Version: 1}},
		{EncodePut(k0, "x", 0, 7, 1), Reply{Err: kv.OK, Version: 1}}, // duplicate: from the table
		{EncodeInstall(0, 1, false, nil), Reply{Err: kv.OK, Num: 1}}, // retried install: no-op, keeps the Put
		{EncodeGet(k0), Reply{Err: kv.OK, Value: "x", Version: 1}},
		{EncodeDelete(0, 2, false), Reply{Err: ErrNotFrozen, Num: 1}},
		{EncodeFreeze(0, 3, false)[:0], Reply{Err: kv.ErrBadRequest}},
		{EncodePut(k1, "y", 0, 7, 2), Reply{Err: kv.OK, Version: 1}},
		{EncodeGet(k0), Reply{Err: kv.OK, Value: "x", Version: 1}},
	}
	for i, st := range steps {
		if d := cmp.Diff(st.want, do(t, a, st.op)); d != "" {
			t.Fatalf("step %d: (-want +got)\n%s", i, d)
		}
	}
	fr := do(t, a, EncodeFreeze(0, 2, false))
	if fr.Err != kv.OK || fr.Num != 2 || len(fr.Data) == 0 {
		t.Fatalf("freeze = %+v", fr)
	}
	if again := do(t, a, EncodeFreeze(0, 2, false)); !bytes.Equal(again.Data, fr.Data) || again.Err != kv.OK {
		t.Fatalf("retried freeze = %+v", again)
	}
	steps = []step{
		{EncodePut(k0, "z", 1, 7, 3), Reply{Err: ErrWrongGroup}},
		{EncodeGet(k0), Reply{Err: ErrWrongGroup}},
		{EncodePut(k1, "y2", 1, 8, 1), Reply{Err: kv.OK, Version: 2}}, // shard 1 keeps serving
		{EncodeFreeze(0, 1, false), Reply{Err: ErrStale, Num: 2}},
		{EncodeInstall(0, 1, false, nil), Reply{Err: ErrStale, Num: 2}},
		{EncodeDelete(0, 1, false), Reply{Err: ErrStale, Num: 2}},
		{EncodeDelete(0, 2, false), Reply{Err: kv.OK, Num: 2}},
		{EncodeDelete(0, 2, false), Reply{Err: kv.OK, Num: 2}},
		{EncodeFreeze(0, 2, false), Reply{Err: ErrNotOwned, Num: 2}},
		{EncodeInstall(0, 1, false, fr.Data), Reply{Err: ErrStale, Num: 2}},
	}
	for i, st := range steps {
		if d := cmp.Diff(st.want, do(t, a, st.op)); d != "" {
			t.Fatalf("after freeze, step %d: (-want +got)\n%s", i, d)
		}
	}
	if st, _ := a.Status(0); st != Absent || a.Entries(0) != nil {
		t.Fatalf("deleted shard still %v", st)
	}

	// The frozen data installs at another group with its duplicate table:
	// the retried Put (client 7, seq 1) is answered OK without applying.
	b := NewGroupSM(0, GroupOptions{})
	if r := do(t, b, EncodeInstall(0, 2, false, fr.Data)); r.Err != kv.OK {
		t.Fatalf("install = %+v", r)
	}
	if d := cmp.Diff(Reply{Err: kv.OK, Version: 1}, do(t, b, EncodePut(k0, "x", 0, 7, 1))); d != "" {
		t.Fatalf("retried Put at the new group (-want +got)\n%s", d)
	}
	if d := cmp.Diff(Reply{Err: ErrStale}, do(t, b, EncodePut(k0, "x", 0, 7, 0))); d != "" {
		t.Fatalf("older seq at the new group (-want +got)\n%s", d)
	}
	if d := cmp.Diff(map[string]kv.Entry{k0: {Value: "x", Version: 1}}, b.Entries(0)); d != "" {
		t.Fatalf("moved shard (-want +got)\n%s", d)
	}
}

// The unsafe switches do what they say (and the safe machine refuses).
func TestGroupSMUnsafe(t *testing.T) {
	k0 := keyOn(0)
	for _, opts := range []GroupOptions{{}, {UnsafeAcceptStale: true}, {UnsafeServeFrozen: true}} {
		g := NewGroupSM(0, opts)
		do(t, g, EncodeInstall(0, 5, false, nil))
		do(t, g, EncodePut(k0, "new", 0, 1, 1))
		old := newShardData()
		old.Store.Put(k0, "old", 0)
		r := do(t, g, EncodeInstall(0, 4, false, old.Encode()))
		if got := g.Entries(0)[k0].Value; (got == "old") != opts.UnsafeAcceptStale {
			t.Errorf("%+v: stale install -> %+v, value %q", opts, r, got)
		}
		// An unfenced install (an UNSAFE controller) is applied by any group.
		if r := do(t, g, EncodeInstall(0, 1, true, old.Encode())); r.Err != kv.OK || g.Entries(0)[k0].Value != "old" {
			t.Errorf("%+v: unfenced install -> %+v", opts, r)
		}
		do(t, g, EncodeFreeze(0, 6, false))
		r = do(t, g, EncodePut(k0, "late", 1, 1, 2))
		if (r.Err == kv.OK) != opts.UnsafeServeFrozen {
			t.Errorf("%+v: Put on a frozen shard -> %+v", opts, r)
		}
	}
}

// Snapshots are deterministic, restore every slot, and bad snapshot bytes
// are reported through Fail without a panic.
func TestGroupSMSnapshot(t *testing.T) {
	g := NewGroupSM(0, GroupOptions{})
	for s := 0; s < 4; s++ {
		do(t, g, EncodeInstall(s, uint64(s+1), false, nil))
		do(t, g, EncodePut(keyOn(s), fmt.Sprint(s), 0, uint64(10+s), 1))
	}
	do(t, g, EncodeFreeze(2, 9, false))
	do(t, g, EncodeFreeze(3, 9, false))
	do(t, g, EncodeDelete(3, 9, false))
	snap := g.Snapshot()
	h := NewGroupSM(0, GroupOptions{})
	var fails []string
	h.Fail = func(c, f string, a ...any) { fails = append(fails, c+": "+fmt.Sprintf(f, a...)) }
	h.Restore(snap)
	if !bytes.Equal(h.Snapshot(), snap) || len(fails) > 0 {
		t.Fatalf("restore: snapshot differs or failed: %v", fails)
	}
	for s := 0; s < 5; s++ {
		gs, gn := g.Status(s)
		hs, hn := h.Status(s)
		if gs != hs || gn != hn || !cmp.Equal(g.Entries(s), h.Entries(s)) {
			t.Errorf("shard %d: %v@%d vs %v@%d", s, gs, gn, hs, hn)
		}
	}
	for i := 0; i < len(snap); i++ {
		fails = nil
		h.Restore(snap[:i])
		if i > 0 && len(fails) != 1 {
			t.Fatalf("truncated snapshot (%d of %d bytes): %d failures", i, len(snap), len(fails))
		}
	}
	if len(NewGroupSM(3, GroupOptions{}).Snapshot()) == 0 {
		t.Fatal("empty snapshot")
	}
}

// Malformed op bytes give ErrBadRequest and a log line, never a panic.
func TestGroupSMMalformedOps(t *testing.T) {
	g := NewGroupSM(0, GroupOptions{})
	logged := 0
	g.Logf = func(string, ...any) { logged++ }
	goods := [][]byte{EncodePut("key", "v", 0, 3, 4), EncodeInstall(1, 2, false, newShardData().Encode()),
		EncodeFreeze(1, 3, false), EncodeDelete(1, 3, false), EncodeGet("key")}
	r := sim.NewRand(4)
	for i := 0; i < 30000; i++ {
		b := append([]byte(nil), goods[i%len(goods)]...)
		switch i % 3 {
		case 0:
			b = b[:r.Intn(len(b)+1)]
		case 1:
			for j := 0; j < 1+r.Intn(3); j++ {
				b[r.Intn(len(b))] ^= byte(1 + r.Intn(255))
			}
		case 2:
			b = make([]byte, r.Intn(20))
			for j := range b {
				b[j] = byte(r.Intn(256))
			}
		}
		if _, err := DecodeReply(g.DoOp(b)); err != nil {
			t.Fatalf("DoOp(%x): undecodable reply: %v", b, err)
		}
		_, _ = DecodeReply(b)
		_, _ = DecodeShardData(b)
		_, _ = decodeGroup(b, 12)
	}
	if logged == 0 {
		t.Error("no malformed op was logged")
	}
	g = NewGroupSM(0, GroupOptions{})
	if r := do(t, g, EncodeFreeze(12, 1, false)); r.Err != kv.ErrBadRequest {
		t.Errorf("shard out of range: %+v", r)
	}
	if r := do(t, g, EncodeInstall(2, 1, false, []byte("junk"))); r.Err != kv.ErrBadRequest {
		t.Errorf("install of junk: %+v", r)
	}
}

// Results are carved from a shared slab: each keeps its bytes while later
// ops run, appending to one never writes into the next, and an encoding
// too large for a slab still comes back whole.
func TestCarvedResultsStayPut(t *testing.T) {
	g := NewGroupSM(0, GroupOptions{})
	k := keyOn(0)
	do(t, g, EncodeInstall(0, 1, false, nil))
	big := string(bytes.Repeat([]byte("v"), slabMax))
	var res [][]byte
	var want []Reply
	for i := 0; i < 2000; i++ {
		v := fmt.Sprint(i)
		if i%500 == 7 {
			v = big
		}
		res = append(res, g.DoOp(EncodePut(k, v, uint64(i), 0, 0)))
		want = append(want, Reply{Err: kv.OK, Version: uint64(i + 1)})
		res = append(res, g.Query(EncodeGet(k)))
		want = append(want, Reply{Err: kv.OK, Value: v, Version: uint64(i + 1)})
	}
	for i := range res {
		_ = append(res[i], 0xff, 0xff, 0xff) // must copy, not write into a neighbour
	}
	for i, b := range res {
		r, err := DecodeReply(b)
		if err != nil || !cmp.Equal(r, want[i]) {
			t.Fatalf("result %d decodes to %+v, %v; want %+v", i, r, err, want[i])
		}
	}
}

// DecodeReply allocates nothing for a reply that carries only a known
// outcome and numbers, and still reads an unknown outcome.
func TestDecodeReplyInternsOutcomes(t *testing.T) {
	known := Reply{Err: ErrWrongGroup, Version: 3}.Encode()
	if n := testing.AllocsPerRun(100, func() {
		if r, err := DecodeReply(known); err != nil || r.Err != ErrWrongGroup || r.Version != 3 {
			t.Fatalf("DecodeReply = %+v, %v", r, err)
		}
	}); n != 0 {
		t.Errorf("DecodeReply of a known outcome: %v allocations", n)
	}
	if r, err := DecodeReply(Reply{Err: "ErrOdd"}.Encode()); err != nil || r.Err != "ErrOdd" {
		t.Errorf("unknown outcome: %+v, %v", r, err)
	}
}

// snapshotKeys accepts exactly what kv.DecodeSnapshot accepts (a real
// snapshot, every truncation of it, every byte of it changed, and keys out
// of order) and counts the keys.
func TestSnapshotValidAgreesWithKV(t *testing.T) {
	st := kv.NewStore()
	for i, k := range []string{"b", "a", "c", "ab", ""} {
		st.Put(k, fmt.Sprint("v", i), 0)
	}
	snap := st.Snapshot()
	check := func(what string, b []byte) {
		t.Helper()
		_, err := kv.DecodeSnapshot(b)
		if _, got := snapshotKeys(b); got != (err == nil) {
			t.Fatalf("%s (%q): snapshotKeys %v, DecodeSnapshot error %v", what, b, got, err)
		}
	}
	check("whole", snap)
	if n, ok := snapshotKeys(snap); !ok || n != 5 {
		t.Fatalf("snapshotKeys = %d, %v; want 5 keys", n, ok)
	}
	check("empty", nil)
	check("trailing byte", append(append([]byte(nil), snap...), 0))
	for n := 0; n < len(snap); n++ {
		check(fmt.Sprint("truncated to ", n), snap[:n])
	}
	for i := range snap {
		for _, v := range []byte{0, 1, 2, 'a', 'b', 'c', 0x7f, 0x80, 0xff} {
			b := append([]byte(nil), snap...)
			b[i] = v
			check(fmt.Sprintf("byte %d = %#x", i, v), b)
		}
	}
	unsorted := append([]byte("kv1"), 2, 1, 'b', 1, 'x', 1, 1, 'a', 1, 'y', 1)
	check("keys out of order", unsorted)
	if _, ok := snapshotKeys(unsorted); ok {
		t.Fatal("keys out of order accepted")
	}
}

// decoded gives back the reply of the result DoOp or Query returned last,
// once, and nothing for any other slice, even with equal bytes.
func TestDecodedLastResult(t *testing.T) {
	g := NewGroupSM(0, GroupOptions{})
	k := keyOn(0)
	do(t, g, EncodeInstall(0, 1, false, nil))
	g.DoOp(EncodePut(k, "x", 0, 0, 0))
	res := g.Query(EncodeGet(k))
	if r, ok := g.decoded(append([]byte(nil), res...)); ok {
		t.Fatalf("a copy of the last result decoded to %+v", r)
	}
	res = g.Query(EncodeGet(k))
	want, err := DecodeReply(res)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := g.decoded(res); !ok || !cmp.Equal(r, want) {
		t.Fatalf("decoded = %+v, %v; want %+v", r, ok, want)
	}
	if _, ok := g.decoded(res); ok {
		t.Fatal("the last result decoded twice")
	}
}

// ApplyOnly changes the state exactly as DoOp does (an rsm.ResultlessApplier).
func TestApplyOnlyMatchesDoOp(t *testing.T) {
	var _ rsm.ResultlessApplier = (*GroupSM)(nil)
	a, b := NewGroupSM(0, GroupOptions{}), NewGroupSM(0, GroupOptions{})
	k0, k1 := keyOn(0), keyOn(1)
	ops := [][]byte{
		EncodePut(k0, "x", 0, 1, 1), EncodeInstall(0, 1, false, nil), EncodeInstall(1, 1, false, nil),
		EncodePut(k0, "x", 0, 7, 1), EncodePut(k1, "y", 0, 7, 2), EncodePut(k1, "z", 1, 8, 1),
		EncodeGet(k0), EncodeFreeze(0, 2, false), EncodePut(k0, "w", 1, 7, 3), EncodeDelete(0, 2, false),
		EncodeInstall(0, 3, false, nil), {}, {99},
	}
	for i, op := range ops {
		a.DoOp(op)
		b.ApplyOnly(op)
		if !bytes.Equal(a.Snapshot(), b.Snapshot()) {
			t.Fatalf("after op %d the states differ", i)
		}
	}
}

// The encodings written in one pass, sized first, are those written piece
// by piece: a shard's (its size exact), the group snapshot, and a Freeze's
// reply, whose Data is the shard's encoding.
func TestEncodingsSizedFirst(t *testing.T) {
	g := NewGroupSM(0, GroupOptions{})
	do(t, g, EncodeInstall(0, 1, false, nil))
	do(t, g, EncodeInstall(3, 1, false, nil))
	for i := 0; i < 300; i++ {
		k := fmt.Sprint("key", i)
		s := Key2Shard(k, DefaultNShards)
		if s != 0 && s != 3 {
			continue
		}
		v := string(bytes.Repeat([]byte{'v'}, i))
		do(t, g, EncodePut(k, v, 0, uint64(i)<<(i%60), uint64(i)<<(i%50)|1))
		do(t, g, EncodePut(k, v, 7, uint64(i)<<(i%60), 1<<63)) // ErrVersion, kept in the table
	}
	ref := func(d ShardData) []byte { // Encode as it was first written
		b := wire.AppendBytes(nil, d.Store.Snapshot())
		var clients []uint64
		for c := range d.Dup {
			clients = append(clients, c)
		}
		slices.Sort(clients)
		b = binary.AppendUvarint(b, uint64(len(clients)))
		for _, c := range clients {
			e := d.Dup[c]
			b = binary.AppendUvarint(b, c)
			b = binary.AppendUvarint(b, e.Seq)
			b = wire.AppendString(b, string(e.Err))
			b = binary.AppendUvarint(b, e.Version)
		}
		return b
	}
	want := append([]byte(nil), groupMagic...)
	want = binary.AppendUvarint(want, uint64(len(g.shards)))
	for _, sl := range g.shards {
		want = binary.AppendUvarint(want, sl.num)
		want = binary.AppendUvarint(want, uint64(sl.status))
		if sl.status != Absent {
			enc := sl.data.Encode()
			if !bytes.Equal(enc, ref(sl.data)) || cap(enc) != len(enc) {
				t.Fatalf("Encode: %d bytes (cap %d), want %d", len(enc), cap(enc), len(ref(sl.data)))
			}
			want = wire.AppendBytes(want, enc)
		}
	}
	if got := g.Snapshot(); !bytes.Equal(got, want) {
		t.Fatalf("Snapshot: %d bytes differ from the reference's %d", len(got), len(want))
	}
	data := g.shards[3].data.Encode()
	fr := do(t, g, EncodeFreeze(3, 2, false))
	if fr.Err != kv.OK || fr.Num != 2 || !bytes.Equal(fr.Data, data) {
		t.Fatalf("freeze = %v, %d, %d bytes of data (want %d)", fr.Err, fr.Num, len(fr.Data), len(data))
	}
}
