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
	ents := []pb.Entry{{Index: 7, Term: 2, Data: []byte("c1")}, {Index: 8, Term: 3}, {Index: 9, Term: 3, Data: bytes.Repeat([]byte("x"), 300)}}
	var want []byte
	for i := range ents {
		p, err := ents[i].Marshal()
		if err != nil {
			t.Fatal(err)
		}
		want = appendRecord(want, append([]byte{kindEntry}, p...))
	}
	got := make([]byte, 0, 3) // too small: grow must keep what is there
	for i := range ents {
		got = marshalEntry(got, kindEntry, &ents[i])
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("in-place records differ:\n got %x\nwant %x", got, want)
	}
	recs, err := readRecords(got)
	if err != nil || len(recs) != len(ents) {
		t.Fatalf("read back %d records, %v", len(recs), err)
	}
	for i, r := range recs {
		var e pb.Entry
		if r[0] != kindEntry || e.Unmarshal(r[1:]) != nil || e.Index != ents[i].Index || !bytes.Equal(e.Data, ents[i].Data) {
			t.Fatalf("record %d reads back as %v", i, e)
		}
	}
}
