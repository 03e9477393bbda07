package etcdsim

// Build-tag-free access to raftpb across etcd raft v3.6 and v3.7.
//
// etcd raft v3.7.0 generates raftpb with protobuf-go instead of gogo: every
// scalar field became a pointer (Term *uint64, Type *MessageType, Reject
// *bool, AutoLeave *bool), message-valued fields and slices became pointers
// (Ready.HardState *HardState, Ready.Entries []*Entry, Ready.Messages
// []*Message, SnapshotMetadata.ConfState *ConfState), RawNode.Step and the
// MemoryStorage setters take pointers, the Marshal/Unmarshal/Size methods
// are gone (proto.Marshal and friends instead), and ConfChange's NodeID is
// NodeId. Field names are otherwise the same, so code that reads and writes
// fields through the generic helpers below, whose type parameter is the
// field's type in whichever version go.mod (or go.v37.mod) selects, builds
// against both with no build tag. Each helper is a type switch on a type
// known at instantiation (a type comparison at run time, no allocation).
//
// Escape analysis does not follow the type switch: a pointer that escapes
// in the v3.7 branch escapes in v3.6 too. So setters allocate the v3.7
// pointer inside its branch (new, not &v, which would move v to the heap
// on every v3.6 call), and callers pass pointers into heap objects (the
// node keeps the Ready it handles in a field, not on its stack). Calls
// into raft that take a message by value in v3.6 go through method
// expressions ((*raft.RawNode).Step), so no closure is built per call.
//
// vet's copylocks check rejects copying a v3.7 message by value (it holds a
// protoimpl.MessageState), even inside a generic function, so every helper
// takes messages by pointer (pointer to the field when the field is a
// value in v3.6).

import (
	"errors"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// pbU64 reads a uint64 field (a value in v3.6, a pointer in v3.7).
func pbU64[T uint64 | *uint64](v T) uint64 {
	switch x := any(v).(type) {
	case uint64:
		return x
	case *uint64:
		if x != nil {
			return *x
		}
	}
	return 0
}

// pbSetU64 writes a uint64 field.
func pbSetU64[T uint64 | *uint64](dst *T, v uint64) {
	switch p := any(dst).(type) {
	case *uint64:
		*p = v
	case **uint64:
		q := new(uint64)
		*q = v
		*p = q
	}
}

// pbBool reads a bool field.
func pbBool[T bool | *bool](v T) bool {
	switch x := any(v).(type) {
	case bool:
		return x
	case *bool:
		return x != nil && *x
	}
	return false
}

// pbSetBool writes a bool field.
func pbSetBool[T bool | *bool](dst *T, v bool) {
	switch p := any(dst).(type) {
	case *bool:
		*p = v
	case **bool:
		q := new(bool)
		*q = v
		*p = q
	}
}

// pbMsgType reads Message.Type.
func pbMsgType[T pb.MessageType | *pb.MessageType](v T) pb.MessageType {
	switch x := any(v).(type) {
	case pb.MessageType:
		return x
	case *pb.MessageType:
		if x != nil {
			return *x
		}
	}
	return 0
}

// pbSetMsgType writes Message.Type.
func pbSetMsgType[T pb.MessageType | *pb.MessageType](dst *T, v pb.MessageType) {
	switch p := any(dst).(type) {
	case *pb.MessageType:
		*p = v
	case **pb.MessageType:
		q := new(pb.MessageType)
		*q = v
		*p = q
	}
}

// pbEntryType reads Entry.Type.
func pbEntryType[T pb.EntryType | *pb.EntryType](v T) pb.EntryType {
	switch x := any(v).(type) {
	case pb.EntryType:
		return x
	case *pb.EntryType:
		if x != nil {
			return *x
		}
	}
	return 0
}

// pbSetEntryType writes Entry.Type.
func pbSetEntryType[T pb.EntryType | *pb.EntryType](dst *T, v pb.EntryType) {
	switch p := any(dst).(type) {
	case *pb.EntryType:
		*p = v
	case **pb.EntryType:
		q := new(pb.EntryType)
		*q = v
		*p = q
	}
}

// pbSetTransition writes ConfChangeV2.Transition.
func pbSetTransition[T pb.ConfChangeTransition | *pb.ConfChangeTransition](dst *T, v pb.ConfChangeTransition) {
	switch p := any(dst).(type) {
	case *pb.ConfChangeTransition:
		*p = v
	case **pb.ConfChangeTransition:
		q := new(pb.ConfChangeTransition)
		*q = v
		*p = q
	}
}

// pbEntryAt returns &s[i] of a []Entry (v3.6) or s[i] of a []*Entry (v3.7):
// Ready.Entries, Ready.CommittedEntries, Message.Entries, Storage.Entries.
func pbEntryAt[E pb.Entry | *pb.Entry](s []E, i int) *pb.Entry {
	switch x := any(s).(type) {
	case []pb.Entry:
		return &x[i]
	case []*pb.Entry:
		return x[i]
	}
	return nil
}

// pbMsgAt returns message i of Ready.Messages or Message.Responses.
func pbMsgAt[E pb.Message | *pb.Message](s []E, i int) *pb.Message {
	switch x := any(s).(type) {
	case []pb.Message:
		return &x[i]
	case []*pb.Message:
		return x[i]
	}
	return nil
}

// pbHardState returns the HardState a field holds (Ready.HardState,
// BasicStatus.HardState): pass the field's address; nil if absent.
func pbHardState[T pb.HardState | *pb.HardState](p *T) *pb.HardState {
	switch x := any(p).(type) {
	case *pb.HardState:
		return x
	case **pb.HardState:
		return *x
	}
	return nil
}

// pbSnapshot returns the Snapshot a field holds (Ready.Snapshot,
// Message.Snapshot, CreateSnapshot's result): pass its address.
func pbSnapshot[T pb.Snapshot | *pb.Snapshot](p *T) *pb.Snapshot {
	switch x := any(p).(type) {
	case *pb.Snapshot:
		return x
	case **pb.Snapshot:
		return *x
	}
	return nil
}

// pbMeta returns a Snapshot's metadata (nil if absent).
func pbMeta(s *pb.Snapshot) *pb.SnapshotMetadata {
	if s == nil {
		return nil
	}
	return pbMetaField(&s.Metadata)
}

func pbMetaField[T pb.SnapshotMetadata | *pb.SnapshotMetadata](p *T) *pb.SnapshotMetadata {
	switch x := any(p).(type) {
	case *pb.SnapshotMetadata:
		return x
	case **pb.SnapshotMetadata:
		return *x
	}
	return nil
}

// pbConfState returns the ConfState a field holds
// (SnapshotMetadata.ConfState): pass its address; nil if absent.
func pbConfState[T pb.ConfState | *pb.ConfState](p *T) *pb.ConfState {
	switch x := any(p).(type) {
	case *pb.ConfState:
		return x
	case **pb.ConfState:
		return *x
	}
	return nil
}

// pbSetConfState makes the field at dst hold cs's configuration (a copy of
// its fields in v3.6, cs itself in v3.7).
func pbSetConfState[T pb.ConfState | *pb.ConfState](dst *T, cs *pb.ConfState) {
	switch p := any(dst).(type) {
	case *pb.ConfState:
		p.Voters, p.Learners, p.VotersOutgoing, p.LearnersNext = cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext
		pbSetBool(&p.AutoLeave, pbBool(cs.AutoLeave))
	case **pb.ConfState:
		*p = cs
	}
}

// pbNewSnapshot returns a snapshot through (index, term) holding cs and
// data (e.g. the boot snapshot).
func pbNewSnapshot(index, term uint64, cs *pb.ConfState, data []byte) *pb.Snapshot {
	s := &pb.Snapshot{Data: data}
	m := pbEnsureMeta(&s.Metadata)
	pbSetU64(&m.Index, index)
	pbSetU64(&m.Term, term)
	pbSetConfState(&m.ConfState, cs)
	return s
}

// pbEnsureMeta returns the metadata a Snapshot.Metadata field holds,
// allocating it first if the (v3.7 pointer) field is nil.
func pbEnsureMeta[T pb.SnapshotMetadata | *pb.SnapshotMetadata](dst *T) *pb.SnapshotMetadata {
	switch p := any(dst).(type) {
	case *pb.SnapshotMetadata:
		return p
	case **pb.SnapshotMetadata:
		if *p == nil {
			*p = new(pb.SnapshotMetadata)
		}
		return *p
	}
	return nil
}

// pbNewHardState returns a HardState.
func pbNewHardState(term, vote, commit uint64) *pb.HardState {
	hs := new(pb.HardState)
	pbSetU64(&hs.Term, term)
	pbSetU64(&hs.Vote, vote)
	pbSetU64(&hs.Commit, commit)
	return hs
}

// pbIsEmptyHardState is raft.IsEmptyHardState for a *HardState (v3.6 takes
// a value).
func pbIsEmptyHardState(hs *pb.HardState) bool {
	return hs == nil || pbU64(hs.Term) == 0 && pbU64(hs.Vote) == 0 && pbU64(hs.Commit) == 0
}

// pbIsEmptySnap is raft.IsEmptySnap for a *Snapshot.
func pbIsEmptySnap(s *pb.Snapshot) bool {
	m := pbMeta(s)
	return m == nil || pbU64(m.Index) == 0
}

// pbCallSnapshot calls a function taking a Snapshot or *Snapshot:
// pbCallSnapshot(ms.ApplySnapshot, snap).
func pbCallSnapshot[S pb.Snapshot | *pb.Snapshot](f func(S) error, s *pb.Snapshot) error {
	switch g := any(f).(type) {
	case func(pb.Snapshot) error:
		return g(pbDeref(s))
	case func(*pb.Snapshot) error:
		return g(s)
	}
	return nil
}

// pbDeref copies *p; only reached with v3.6's gogo types (vet accepts a
// call's result where it rejects a copy of a v3.7 message).
func pbDeref[T any](p *T) T { return *p }

// gogoCodec is the codec v3.6's gogo messages carry as methods.
type gogoCodec interface {
	Size() int
	MarshalTo([]byte) (int, error)
	Unmarshal([]byte) error
}

var errNotMessage = errors.New("etcdsim: not a raftpb message")

// pbSize is the encoded size of a raftpb message (pointer).
func pbSize(m any) int {
	switch x := m.(type) {
	case gogoCodec:
		return x.Size()
	case proto.Message:
		return proto.Size(x)
	}
	return 0
}

// pbMarshalAppend appends the encoding of a raftpb message (pointer) to buf.
func pbMarshalAppend(buf []byte, m any) ([]byte, error) {
	switch x := m.(type) {
	case gogoCodec:
		n := len(buf)
		buf = append(buf, make([]byte, x.Size())...)
		_, err := x.MarshalTo(buf[n:])
		return buf, err
	case proto.Message:
		return proto.MarshalOptions{}.MarshalAppend(buf, x)
	}
	return buf, errNotMessage
}

// pbMarshalTo encodes a raftpb message (pointer) into buf, which is
// exactly pbSize(m) bytes long: the host marshals records in place into
// buffers it reuses.
func pbMarshalTo(buf []byte, m any) error {
	switch x := m.(type) {
	case gogoCodec:
		_, err := x.MarshalTo(buf)
		return err
	case proto.Message:
		out, err := proto.MarshalOptions{}.MarshalAppend(buf[:0], x)
		if err == nil && len(out) != len(buf) {
			return errors.New("etcdsim: raftpb message size changed while marshalling")
		}
		copy(buf, out) // in place already when buf had the room
		return err
	}
	return errNotMessage
}

// pbUnmarshal decodes b into a raftpb message (pointer), e.g. the
// ConfChange or ConfChangeV2 of a committed entry.
func pbUnmarshal(b []byte, m any) error {
	switch x := m.(type) {
	case gogoCodec:
		return x.Unmarshal(b)
	case proto.Message:
		return proto.Unmarshal(b, x)
	}
	return errNotMessage
}

// pbConfChangeV2 returns a ConfChangeV2 of the given transition and
// changes in etcd's compact syntax ("v1 l2 r3 u4": add voter 1, learner 2,
// remove 3, update 4; see raftpb.ConfChangesFromString), with no field
// names that differ between versions. Pass the pointer to
// ProposeConfChange (both versions accept *ConfChangeV2).
func pbConfChangeV2(tr pb.ConfChangeTransition, changes string) (*pb.ConfChangeV2, error) {
	ccs, err := pb.ConfChangesFromString(changes)
	if err != nil {
		return nil, err
	}
	cc := &pb.ConfChangeV2{Changes: ccs}
	pbSetTransition(&cc.Transition, tr)
	return cc, nil
}

// pbConfChangeV1 returns an old-style ConfChange of typ for node (its
// NodeID field is NodeId in v3.7, so it is decoded from its wire form,
// which both versions share: field 2 type, field 3 node id).
func pbConfChangeV1(typ pb.ConfChangeType, node uint64) (*pb.ConfChange, error) {
	b := protowire.AppendTag(nil, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(typ))
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, node)
	cc := new(pb.ConfChange)
	return cc, pbUnmarshal(b, cc)
}

// pbChangeIDs returns the node IDs a conf change names, in order (reading
// NodeID/NodeId through etcd's compact syntax, which both versions print).
func pbChangeIDs(cc pb.ConfChangeI) []uint64 {
	var ids []uint64
	s := pb.ConfChangesToString(cc.AsV2().Changes)
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			continue
		}
		i++ // the change kind letter
		var id uint64
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			id = id*10 + uint64(s[i]-'0')
		}
		ids = append(ids, id)
	}
	return ids
}

// pbCloneMsg returns a copy of m whose entries are its own, as a network
// delivers them (the sender's raft keeps its log entries; v3.7 Entries are
// pointers that would otherwise be shared between two peers' logs).
func pbCloneMsg(m *pb.Message) *pb.Message {
	if p, ok := any(m).(proto.Message); ok {
		return any(proto.Clone(p)).(*pb.Message)
	}
	c := pbDeref(m)
	pbOwnEntries(&c.Entries)
	return &c
}

// pbOwnEntries gives a v3.6 message copy its own entry array (entries are
// values there; Data is never written in place), of exact capacity: etcd
// raft may adopt a received Entries slice as its log and append to it.
func pbOwnEntries[E pbEntryT](s *[]E) {
	if len(*s) > 0 {
		c := make([]E, len(*s))
		copy(c, *s)
		*s = c
	}
}

// pbEntryT and pbMsgT are the element types of raftpb's entry and message
// slices in either version.
type (
	pbEntryT interface{ pb.Entry | *pb.Entry }
	pbMsgT   interface{ pb.Message | *pb.Message }
)

// pbStep steps m into rn (RawNode.Step takes a Message in v3.6, a *Message
// in v3.7; v3.6 gets a copy, as a by-value call always did). A method
// expression, not rn.Step, so that no closure is built per message.
func pbStep(rn *raft.RawNode, m *pb.Message) error {
	return pbCallStep((*raft.RawNode).Step, rn, m)
}

func pbCallStep[M pbMsgT](f func(*raft.RawNode, M) error, rn *raft.RawNode, m *pb.Message) error {
	switch g := any(f).(type) {
	case func(*raft.RawNode, pb.Message) error:
		return g(rn, pbDeref(m))
	case func(*raft.RawNode, *pb.Message) error:
		return g(rn, m)
	}
	return nil
}

// pbOwnMsg returns a message the receiver may hand to its RawNode: m itself
// in v3.6 (Step takes a copy), a deep copy in v3.7, whose raft keeps the
// message's *Entry pointers in its log and may write them (a leader stamps
// the term and index of forwarded proposals) while a duplicate of the same
// delivery is still to come.
func pbOwnMsg(m *pb.Message) *pb.Message {
	if p, ok := any(m).(proto.Message); ok {
		return any(proto.Clone(p)).(*pb.Message)
	}
	return m
}

// pbCloneConf returns a new ConfState with cs's fields (its ID lists
// shared, as a v3.6 struct copy shares them); an empty one for nil.
func pbCloneConf(cs *pb.ConfState) *pb.ConfState {
	c := new(pb.ConfState)
	if cs != nil {
		c.Voters, c.Learners, c.VotersOutgoing, c.LearnersNext = cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext
		if pbBool(cs.AutoLeave) {
			pbSetBool(&c.AutoLeave, true)
		}
	}
	return c
}

// pbSetHardStateField makes the HardState field at dst (Ready.HardState)
// hold (term, vote, commit).
func pbSetHardStateField[H pb.HardState | *pb.HardState](dst *H, term, vote, commit uint64) {
	switch p := any(dst).(type) {
	case *pb.HardState:
		pbSetU64(&p.Term, term)
		pbSetU64(&p.Vote, vote)
		pbSetU64(&p.Commit, commit)
	case **pb.HardState:
		*p = pbNewHardState(term, vote, commit)
	}
}

// pbSetSnapshotField makes the Snapshot field at dst (Ready.Snapshot) hold
// s (a copy of *s in v3.6, s itself in v3.7).
func pbSetSnapshotField[S pb.Snapshot | *pb.Snapshot](dst *S, s *pb.Snapshot) {
	switch p := any(dst).(type) {
	case *pb.Snapshot:
		*p = pbDeref(s)
	case **pb.Snapshot:
		*p = s
	}
}

// pbAppendStorage appends ents to ms (MemoryStorage.Append takes []Entry in
// v3.6, []*Entry in v3.7).
func pbAppendStorage(ms *raft.MemoryStorage, ents []*pb.Entry) error {
	return pbCallAppend((*raft.MemoryStorage).Append, ms, ents)
}

func pbCallAppend[E pbEntryT](f func(*raft.MemoryStorage, []E) error, ms *raft.MemoryStorage, ents []*pb.Entry) error {
	switch g := any(f).(type) {
	case func(*raft.MemoryStorage, []pb.Entry) error:
		vs := make([]pb.Entry, len(ents))
		for i, e := range ents {
			vs[i] = pbDeref(e)
		}
		return g(ms, vs)
	case func(*raft.MemoryStorage, []*pb.Entry) error:
		return g(ms, ents)
	}
	return nil
}

// pbConfChangeType reads ConfChangeSingle.Type and ConfChange.Type.
func pbConfChangeType[T pb.ConfChangeType | *pb.ConfChangeType](v T) pb.ConfChangeType {
	switch x := any(v).(type) {
	case pb.ConfChangeType:
		return x
	case *pb.ConfChangeType:
		if x != nil {
			return *x
		}
	}
	return 0
}

// pbSetStorageHardState is ms.SetHardState(hs) (a value in v3.6, a pointer
// in v3.7), through a method expression: no closure per call.
func pbSetStorageHardState(ms *raft.MemoryStorage, hs *pb.HardState) error {
	return pbCallMSHardState((*raft.MemoryStorage).SetHardState, ms, hs)
}

func pbCallMSHardState[H pb.HardState | *pb.HardState](f func(*raft.MemoryStorage, H) error, ms *raft.MemoryStorage, hs *pb.HardState) error {
	switch g := any(f).(type) {
	case func(*raft.MemoryStorage, pb.HardState) error:
		return g(ms, pbDeref(hs))
	case func(*raft.MemoryStorage, *pb.HardState) error:
		return g(ms, hs)
	}
	return nil
}
