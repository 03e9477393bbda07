package etcdsim

import (
	"bytes"
	"hash/crc32"
	"testing"

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
