package etcdsim

import (
	"bytes"
	"hash/crc32"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// appendRecord is the reference framing: header, then a copy of payload.
func appendRecord(buf, payload []byte) []byte {
	var h [recHeader]byte
	le.PutUint32(h[0:], uint32(len(payload)))
	le.PutUint32(h[4:], crc32.ChecksumIEEE(h[0:4]))
	le.PutUint32(h[8:], crc32.ChecksumIEEE(payload))
	buf = append(buf, h[:]...)
	return append(buf, payload...)
}

// TestInPlaceRecords checks that entries marshalled in place into a reused
// buffer frame exactly as the reference framing of a separately marshalled
// payload, and read back.
func TestInPlaceRecords(t *testing.T) {
	ents := []*pb.Entry{testEntry(7, 2, []byte("c1")), testEntry(8, 3, nil), testEntry(9, 3, bytes.Repeat([]byte("x"), 300))}
	var want []byte
	for i := range ents {
		p, err := pbMarshalAppend(nil, ents[i])
		if err != nil {
			t.Fatal(err)
		}
		want = appendRecord(want, append([]byte{kindEntry}, p...))
	}
	got := make([]byte, 0, 3) // too small: grow must keep what is there
	for i := range ents {
		got = marshalEntry(got, kindEntry, ents[i])
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("in-place records differ:\n got %x\nwant %x", got, want)
	}
	recs, err := readRecords(got)
	if err != nil || len(recs) != len(ents) {
		t.Fatalf("read back %d records, %v", len(recs), err)
	}
	for i, r := range recs {
		e := new(pb.Entry)
		if r[0] != kindEntry || pbUnmarshal(r[1:], e) != nil || pbU64(e.Index) != pbU64(ents[i].Index) || !bytes.Equal(e.Data, ents[i].Data) {
			t.Fatalf("record %d reads back as %v", i, e)
		}
	}
}

// testEntry returns a normal entry.
func testEntry(index, term uint64, data []byte) *pb.Entry {
	e := &pb.Entry{Data: data}
	pbSetU64(&e.Index, index)
	pbSetU64(&e.Term, term)
	pbSetEntryType(&e.Type, pb.EntryNormal)
	return e
}

// TestOwnSnapMatchesCreateSnapshot: the snapshot the host rebuilds to write
// encodes exactly as the one MemoryStorage.CreateSnapshot returned.
func TestOwnSnapMatchesCreateSnapshot(t *testing.T) {
	ms := raft.NewMemoryStorage()
	boot := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	if err := pbCallSnapshot(ms.ApplySnapshot, pbNewSnapshot(1, 1, boot, nil)); err != nil {
		t.Fatal(err)
	}
	if err := pbAppendStorage(ms, []*pb.Entry{testEntry(2, 1, nil), testEntry(3, 2, []byte("a")), testEntry(4, 2, []byte("b"))}); err != nil {
		t.Fatal(err)
	}
	cs := &pb.ConfState{Voters: []uint64{1, 2}, VotersOutgoing: []uint64{1, 2, 3}, LearnersNext: []uint64{3}}
	pbSetBool(&cs.AutoLeave, true)
	made, err := ms.CreateSnapshot(3, cs, []byte("state"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := pbMarshalAppend(nil, pbSnapshot(&made))
	if err != nil {
		t.Fatal(err)
	}
	var st store
	got, err := pbMarshalAppend(nil, st.ownSnap(3, 2, cs, []byte("state")))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("own snapshot %x (%v), CreateSnapshot's %x", got, err, want)
	}
}
