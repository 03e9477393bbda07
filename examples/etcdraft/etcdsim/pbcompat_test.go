package etcdsim

import (
	"bytes"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
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
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendBytes(b, e)
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

// TestPBCompatHost covers the helpers the host's Ready loop uses: cloned
// configurations, Ready fields set from a storage message, storage calls,
// conf change types, the receiver's own copy of a message and exact-capacity
// entry copies.
func TestPBCompatHost(t *testing.T) {
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}, VotersOutgoing: []uint64{1, 2}}
	pbSetBool(&cs.AutoLeave, true)
	c := pbCloneConf(cs)
	if c == cs || !sameConf(c, cs) || !pbBool(c.AutoLeave) {
		t.Fatalf("clone %v of %v", c, cs)
	}
	if e := pbCloneConf(nil); e == nil || len(e.Voters) != 0 || pbBool(e.AutoLeave) {
		t.Fatalf("clone of nil: %v", e)
	}

	var rd raft.Ready
	pbSetHardStateField(&rd.HardState, 4, 2, 9)
	if hs := pbHardState(&rd.HardState); pbU64(hs.Term) != 4 || pbU64(hs.Vote) != 2 || pbU64(hs.Commit) != 9 {
		t.Fatalf("hardstate field: %v", hs)
	}
	snap := pbNewSnapshot(5, 3, cs, []byte("s"))
	pbSetSnapshotField(&rd.Snapshot, snap)
	if i, tm := snapIndexTerm(pbSnapshot(&rd.Snapshot)); i != 5 || tm != 3 || !sameConf(snapConf(pbSnapshot(&rd.Snapshot)), cs) {
		t.Fatalf("snapshot field: %d %d", i, tm)
	}

	ms := raft.NewMemoryStorage()
	if err := pbCallSnapshot(ms.ApplySnapshot, snap); err != nil {
		t.Fatal(err)
	}
	if err := pbAppendStorage(ms, []*pb.Entry{testEntry(6, 3, []byte("a")), testEntry(7, 3, nil)}); err != nil {
		t.Fatal(err)
	}
	if last, _ := ms.LastIndex(); last != 7 {
		t.Fatalf("last index %d", last)
	}
	if err := pbSetStorageHardState(ms, pbNewHardState(3, 1, 7)); err != nil {
		t.Fatal(err)
	}
	if hs, _, _ := ms.InitialState(); pbU64(hs.Commit) != 7 || pbU64(hs.Vote) != 1 {
		t.Fatalf("stored hardstate %v", hs)
	}

	cc, err := pbConfChangeV2(pb.ConfChangeTransitionAuto, "l4 r2")
	if err != nil {
		t.Fatal(err)
	}
	if ch := cc.Changes; len(ch) != 2 || pbConfChangeType(ch[0].Type) != pb.ConfChangeAddLearnerNode || pbConfChangeType(ch[1].Type) != pb.ConfChangeRemoveNode {
		t.Fatalf("changes %v", ch)
	}

	// The receiver's copy: v3.7's raft keeps (and may stamp) the entries
	// of a stepped message, so it gets its own; v3.6 steps a copy anyway.
	m := new(pb.Message)
	pbSetU64(&m.Term, 3)
	own := pbOwnMsg(m)
	pbSetU64(&own.Term, 5)
	if _, v37 := any(m).(proto.Message); v37 == (pbU64(m.Term) == 5) {
		t.Fatalf("pbOwnMsg: v3.7 %v, original term %d", v37, pbU64(m.Term))
	}

	ents := make([]pb.Entry, 2, 8)
	pbOwnEntries(&ents)
	if len(ents) != 2 || cap(ents) != 2 {
		t.Fatalf("entry copy len %d cap %d, want 2 2", len(ents), cap(ents))
	}
}
