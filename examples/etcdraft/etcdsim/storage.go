package etcdsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/smilingraft/dsim/sim"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// On-disk layout of one node (the sim disk is the only state that survives
// a crash):
//
//	hardstate  one record: raftpb.HardState. Rewritten via hardstate.tmp and
//	           Rename whenever it changes.
//	log        a base record (the index and term the log starts after: the
//	           MemoryStorage's dummy entry) followed by one record per entry,
//	           appended as Ready.Entries arrive. An entry at an index the log
//	           already holds replaces it and everything after it (etcd's
//	           truncating append), so load replays records in order. The file
//	           is rewritten whole (via log.tmp and Rename) after a snapshot.
//	snap       one record: raftpb.Snapshot. Written via snap.tmp and Rename
//	           before the log it makes redundant is rewritten.
//
// A record is [payload length u32][crc32 of those 4 bytes][crc32 of payload]
// [payload]. A record cut short at the end of the log is a torn, never
// synced, append and is dropped; a complete record whose checksum fails is
// corruption of synced data and makes the node refuse to run.
//
// Within one Ready every write goes in the order snap, log, hardstate and
// one Sync makes them durable. A torn crash keeps a prefix of them, so a
// durable hardstate implies the log it refers to; load also keeps the log's
// entries after a snapshot only if the log holds the snapshot's own entry
// (index and term), as Raft's InstallSnapshot rule says.
const (
	fileHard  = "hardstate"
	fileLog   = "log"
	fileSnap  = "snap"
	tmpSuffix = ".tmp"

	recHeader = 12

	kindBase  = 0
	kindEntry = 1
)

// errCorrupt marks synced data whose checksum failed.
var errCorrupt = errors.New("corrupt record on disk")

var le = binary.LittleEndian

// readRecords splits b into record payloads; a cut-short record at the end
// is dropped, a checksum failure is errCorrupt.
func readRecords(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < recHeader {
			return out, nil
		}
		n := le.Uint32(b[0:])
		if crc32.ChecksumIEEE(b[0:4]) != le.Uint32(b[4:]) {
			return out, fmt.Errorf("%w: record header", errCorrupt)
		}
		if uint64(len(b)-recHeader) < uint64(n) {
			return out, nil
		}
		p := b[recHeader : recHeader+int(n)]
		if crc32.ChecksumIEEE(p) != le.Uint32(b[8:]) {
			return out, fmt.Errorf("%w: record payload", errCorrupt)
		}
		out = append(out, p)
		b = b[recHeader+int(n):]
	}
	return out, nil
}

// readOne reads a file written whole through a tmp file and Rename: it
// holds exactly one complete record.
func readOne(name string, b []byte) ([]byte, error) {
	ps, err := readRecords(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("%s: %w: want one record, found %d", name, errCorrupt, len(ps))
	}
	return ps[0], nil
}

// store is a node's raft.Storage: a MemoryStorage that etcd raft reads, and
// its mirror on the sim disk that a restart reloads. buf and one are
// scratch buffers reused across writes (the sim disk copies what it is
// given), so persisting costs no allocation of the host's own.
type store struct {
	disk *sim.Disk
	ms   *raft.MemoryStorage
	buf  []byte
	one  []byte
	base pb.Entry     // scratch: the log's base record
	dhs  pb.HardState // scratch: diskHardState's decoding
	snap pb.Snapshot  // scratch: writeOwnSnap's snapshot
}

// Temporary names of the atomically replaced files (constants, so that
// writing them builds no string).
const (
	fileHardTmp = fileHard + tmpSuffix
	fileLogTmp  = fileLog + tmpSuffix
	fileSnapTmp = fileSnap + tmpSuffix
)

// record returns the scratch record buffer for a payload of n bytes (the
// payload goes at [recHeader:]).
func (s *store) record(n int) []byte {
	s.one = grow(s.one[:0], recHeader+n)
	return s.one
}

// writeAtomic frames rec (from record, its payload written) and replaces
// file name by it, through tmp.
func (s *store) writeAtomic(name, tmp string, rec []byte) {
	frame(rec)
	s.disk.Write(tmp, rec)
	s.disk.Rename(tmp, name)
}

// grow extends buf by n bytes (contents of the new bytes unspecified).
func grow(buf []byte, n int) []byte {
	if cap(buf)-len(buf) < n {
		nb := make([]byte, len(buf), 2*cap(buf)+n)
		copy(nb, buf)
		buf = nb
	}
	return buf[:len(buf)+n]
}

// frame fills the header of rec, one record whose payload (rec[recHeader:])
// is already in place.
func frame(rec []byte) {
	le.PutUint32(rec[0:], uint32(len(rec)-recHeader))
	le.PutUint32(rec[4:], crc32.ChecksumIEEE(rec[0:4]))
	le.PutUint32(rec[8:], crc32.ChecksumIEEE(rec[recHeader:]))
}

// marshalEntry appends e as one record (kind byte, then the entry) to buf,
// marshalling it in place.
func marshalEntry(buf []byte, kind byte, e *pb.Entry) []byte {
	start := len(buf)
	n := pbSize(e)
	buf = grow(buf, recHeader+1+n)
	rec := buf[start:]
	rec[recHeader] = kind
	if err := pbMarshalTo(rec[recHeader+1:], e); err != nil {
		panic(fmt.Sprintf("etcdsim: marshal entry: %v", err))
	}
	frame(rec)
	return buf
}

// appendEntries appends ents (already accepted into the MemoryStorage) to the
// log file as one disk append.
func appendEntries[E pbEntryT](s *store, ents []E) {
	buf := s.buf[:0]
	for i := range ents {
		buf = marshalEntry(buf, kindEntry, pbEntryAt(ents, i))
	}
	s.disk.Append(fileLog, buf)
	s.buf = buf
}

// rewriteLog writes the MemoryStorage's whole log (its dummy entry as the
// base, then every entry) to the log file, atomically.
func (s *store) rewriteLog() {
	first, _ := s.ms.FirstIndex()
	last, _ := s.ms.LastIndex()
	bt, err := s.ms.Term(first - 1)
	if err != nil {
		panic(fmt.Sprintf("etcdsim: term of log base %d: %v", first-1, err))
	}
	base := &s.base
	base.Reset()
	pbSetU64(&base.Index, first-1)
	pbSetU64(&base.Term, bt)
	buf := marshalEntry(s.buf[:0], kindBase, base)
	if last >= first {
		ents, err := s.ms.Entries(first, last+1, ^uint64(0))
		if err != nil {
			panic(fmt.Sprintf("etcdsim: entries [%d, %d]: %v", first, last, err))
		}
		for i := range ents {
			buf = marshalEntry(buf, kindEntry, pbEntryAt(ents, i))
		}
	}
	s.disk.Write(fileLogTmp, buf)
	s.disk.Rename(fileLogTmp, fileLog)
	s.buf = buf
}

func (s *store) writeSnap(snap *pb.Snapshot) {
	rec := s.record(pbSize(snap))
	if err := pbMarshalTo(rec[recHeader:], snap); err != nil {
		panic(fmt.Sprintf("etcdsim: marshal snapshot: %v", err))
	}
	s.writeAtomic(fileSnap, fileSnapTmp, rec)
}

// writeOwnSnap writes the snapshot MemoryStorage.CreateSnapshot(index, cs,
// data) just made, whose term is term: rebuilt in the store's scratch
// snapshot, since a pointer to CreateSnapshot's v3.6 result (a value) would
// move it to the heap at every snapshot.
func (s *store) writeOwnSnap(index, term uint64, cs *pb.ConfState, data []byte) {
	s.writeSnap(s.ownSnap(index, term, cs, data))
	s.snap.Data = nil
}

// ownSnap fills the scratch snapshot as CreateSnapshot fills its own.
func (s *store) ownSnap(index, term uint64, cs *pb.ConfState, data []byte) *pb.Snapshot {
	snap := &s.snap
	snap.Reset()
	snap.Data = data
	m := pbEnsureMeta(&snap.Metadata)
	pbSetU64(&m.Index, index)
	pbSetU64(&m.Term, term)
	pbSetConfState(&m.ConfState, cs)
	return snap
}

func (s *store) writeHard(hs *pb.HardState) {
	rec := s.record(pbSize(hs))
	if err := pbMarshalTo(rec[recHeader:], hs); err != nil {
		panic(fmt.Sprintf("etcdsim: marshal hardstate: %v", err))
	}
	s.writeAtomic(fileHard, fileHardTmp, rec)
}

// diskHardState reads the term and vote of the HardState file as it now is
// on disk (zero if missing or unreadable), for the sync-before-promise
// audit.
func (s *store) diskHardState() (term, vote uint64) {
	hs := &s.dhs
	hs.Reset()
	if b, ok := s.disk.Read(fileHard); ok {
		if p, err := readOne(fileHard, b); err == nil {
			_ = pbUnmarshal(p, hs)
		}
	}
	return pbU64(hs.Term), pbU64(hs.Vote)
}

// load rebuilds a node's storage from its disk. boot is the snapshot every
// node starts from (the cluster's membership at index 1); a stored snapshot
// replaces it. It returns the storage, the snapshot it starts from, and the
// entries it holds after it.
func load(disk *sim.Disk, boot *pb.Snapshot) (*store, *pb.Snapshot, []*pb.Entry, error) {
	s := &store{disk: disk, ms: raft.NewMemoryStorage()}
	snap := boot
	if b, ok := disk.Read(fileSnap); ok {
		p, err := readOne(fileSnap, b)
		if err != nil {
			return nil, snap, nil, err
		}
		snap = new(pb.Snapshot)
		if err := pbUnmarshal(p, snap); err != nil {
			return nil, snap, nil, fmt.Errorf("snap: %w: %v", errCorrupt, err)
		}
	}
	si, st := snapIndexTerm(snap)
	// A spare peer boots from nothing (index 0): its MemoryStorage starts
	// empty until a leader sends it a snapshot.
	if !pbIsEmptySnap(snap) {
		if err := pbCallSnapshot(s.ms.ApplySnapshot, snap); err != nil {
			return nil, snap, nil, fmt.Errorf("apply snapshot %d: %v", si, err)
		}
	}
	var kept []*pb.Entry
	if b, ok := disk.Read(fileLog); ok {
		recs, err := readRecords(b)
		if err != nil {
			return nil, snap, nil, fmt.Errorf("log: %w", err)
		}
		var ents []*pb.Entry // ents[0] is the base
		var base, last uint64
		slab := make([]pb.Entry, len(recs)) // one allocation for every entry
		for k, p := range recs {
			e := &slab[k]
			if len(p) < 1 || pbUnmarshal(p[1:], e) != nil {
				return nil, snap, nil, fmt.Errorf("log record %d: %w: bad entry", k, errCorrupt)
			}
			switch ei := pbU64(e.Index); {
			case p[0] == kindBase && k == 0:
				ents = append(ents, e)
				base, last = ei, ei
			case p[0] == kindEntry && k > 0 && ei > base && ei <= last+1:
				ents = append(ents[:ei-base], e)
				last = ei
			default:
				return nil, snap, nil, fmt.Errorf("log record %d: %w: kind %d at index %d out of place", k, errCorrupt, p[0], ei)
			}
		}
		if len(ents) > 0 && base <= si && si <= last && pbU64(ents[si-base].Term) == st {
			kept = ents[si-base+1:]
		}
	}
	if len(kept) > 0 {
		if err := pbAppendStorage(s.ms, kept); err != nil {
			return nil, snap, nil, fmt.Errorf("append loaded entries: %v", err)
		}
	}
	hs := new(pb.HardState)
	if b, ok := disk.Read(fileHard); ok {
		p, err := readOne(fileHard, b)
		if err != nil {
			return nil, snap, nil, err
		}
		if err := pbUnmarshal(p, hs); err != nil {
			return nil, snap, nil, fmt.Errorf("hardstate: %w: %v", errCorrupt, err)
		}
	}
	// The snapshot is committed, whatever the (older) hardstate says.
	if pbU64(hs.Commit) < si {
		pbSetU64(&hs.Commit, si)
	}
	if last, _ := s.ms.LastIndex(); pbU64(hs.Commit) > last {
		return nil, snap, nil, fmt.Errorf("hardstate commits index %d beyond the log's last index %d", pbU64(hs.Commit), last)
	}
	if err := pbSetStorageHardState(s.ms, hs); err != nil {
		return nil, snap, nil, err
	}
	return s, snap, kept, nil
}

// snapIndexTerm returns the index and term a snapshot runs through (0, 0
// for an empty one).
func snapIndexTerm(s *pb.Snapshot) (index, term uint64) {
	if m := pbMeta(s); m != nil {
		return pbU64(m.Index), pbU64(m.Term)
	}
	return 0, 0
}
