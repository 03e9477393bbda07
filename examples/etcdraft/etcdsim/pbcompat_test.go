package etcdsim

import (
	"bytes"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// TestPBCompat round-trips raftpb values through the version-neutral
// helpers (run it with -modfile=../go.v37.mod too).
func TestPBCompat(t *testing.T) {
	m := new(pb.Message)
	pbSetMsgType(&m.Type, pb.MsgApp)
	pbSetU64(&m.To, 3)
	pbSetU64(&m.Term, 7)
	pbSetBool(&m.Reject, true)
	if pbMsgType(m.Type) != pb.MsgApp || pbU64(m.To) != 3 || pbU64(m.Term) != 7 || !pbBool(m.Reject) || pbU64(m.From) != 0 {
		t.Fatalf("message fields: %v", m)
	}
	b, err := pbMarshalAppend([]byte("x"), m)
	if err != nil || len(b) != 1+pbSize(m) || b[0] != 'x' {
		t.Fatalf("marshal: %v %d", err, len(b))
	}
	m2 := new(pb.Message)
	if err := pbUnmarshal(b[1:], m2); err != nil || pbU64(m2.Term) != 7 || pbMsgType(m2.Type) != pb.MsgApp {
		t.Fatalf("unmarshal: %v %v", err, m2)
	}

	cs := &pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}
	s := pbNewSnapshot(9, 4, cs, []byte("state"))
	md := pbMeta(s)
	if pbIsEmptySnap(s) || pbU64(md.Index) != 9 || pbU64(md.Term) != 4 || !bytes.Equal(s.Data, []byte("state")) ||
		!sameConf(pbConfState(&md.ConfState), cs) {
		t.Fatalf("snapshot: %v", s)
	}
	if !pbIsEmptySnap(new(pb.Snapshot)) || !pbIsEmptySnap(nil) {
		t.Fatal("empty snapshot not empty")
	}
	hs := pbNewHardState(5, 2, 11)
	if pbIsEmptyHardState(hs) || !pbIsEmptyHardState(new(pb.HardState)) || pbU64(hs.Commit) != 11 {
		t.Fatalf("hardstate: %v", hs)
	}

	cc, err := pbConfChangeV2(pb.ConfChangeTransitionJointExplicit, "v5 l3 r12")
	if err != nil {
		t.Fatal(err)
	}
	if got := pbChangeIDs(cc); len(got) != 3 || got[0] != 5 || got[1] != 3 || got[2] != 12 {
		t.Fatalf("ids %v", got)
	}
	typ, data, err := pb.MarshalConfChange(cc)
	if err != nil || typ != pb.EntryConfChangeV2 {
		t.Fatal(typ, err)
	}
	back := new(pb.ConfChangeV2)
	if err := pbUnmarshal(data, back); err != nil || pb.ConfChangesToString(back.Changes) != "v5 l3 r12" {
		t.Fatalf("conf change round trip: %v %v", err, back)
	}
	if auto, ok := back.EnterJoint(); !ok || auto {
		t.Fatalf("transition lost: %v %v", auto, ok)
	}
	v1, err := pbConfChangeV1(pb.ConfChangeRemoveNode, 300)
	if err != nil {
		t.Fatal(err)
	}
	if got := pbChangeIDs(v1); len(got) != 1 || got[0] != 300 || pb.ConfChangesToString(v1.AsV2().Changes) != "r300" {
		t.Fatalf("v1: %v", got)
	}

	ents := []pb.Entry{{}, {}}
	pbSetU64(&pbEntryAt(ents, 1).Index, 4)
	pbSetEntryType(&pbEntryAt(ents, 1).Type, pb.EntryConfChangeV2)
	if e := pbEntryAt(ents, 1); pbU64(e.Index) != 4 || pbEntryType(e.Type) != pb.EntryConfChangeV2 {
		t.Fatalf("entry %v", e)
	}
}

// TestPBCloneMsg: a cloned message's entries are its own.
func TestPBCloneMsg(t *testing.T) {
	m := new(pb.Message)
	pbSetU64(&m.Term, 3)
	typ, data, err := pb.MarshalConfChange(&pb.ConfChangeV2{})
	if err != nil {
		t.Fatal(err)
	}
	ents := []pb.Entry{{Data: data}}
	pbSetEntryType(&ents[0].Type, typ)
	pbSetU64(&ents[0].Index, 8)
	b, err := pbMarshalAppend(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	// Build the message's entries through its wire form, whatever their type.
	e, err := pbMarshalAppend(nil, pbEntryAt(ents, 0))
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, 7<<3|2)
	b = appendUvarint(b, uint64(len(e)))
	b = append(b, e...)
	if err := pbUnmarshal(b, m); err != nil || len(m.Entries) != 1 {
		t.Fatalf("%v %v", err, m)
	}
	c := pbCloneMsg(m)
	pbSetU64(&pbEntryAt(c.Entries, 0).Index, 9)
	pbSetU64(&c.Term, 4)
	if pbU64(pbEntryAt(m.Entries, 0).Index) != 8 || pbU64(m.Term) != 3 || pbU64(pbEntryAt(c.Entries, 0).Index) != 9 {
		t.Fatalf("clone shares state: %v / %v", m, c)
	}
}
