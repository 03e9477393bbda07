package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On-disk layout (every name gets Config.Prefix):
//
//	state  one record: currentTerm, votedFor. Rewritten (via state.tmp and
//	       Rename) on every term or vote change.
//	log    a header record (base index and term: the snapshot's) followed by
//	       one record per entry, appended as entries arrive; rewritten whole
//	       (via log.tmp and Rename) on truncation and compaction.
//	snap   one record: snapshot index, term and the service's bytes; written
//	       via snap.tmp and Rename, before the log it makes redundant.
//
// A record is [payload length u32][crc32 of those 4 bytes][crc32 of payload]
// [payload]. A record cut short at the end of the log is a torn, never
// synced, append and is dropped; a complete record whose checksum fails is
// corruption of synced data and makes the node refuse to run.

const (
	fileState = "state"
	fileLog   = "log"
	fileSnap  = "snap"
	tmpSuffix = ".tmp"

	recHeader = 12

	kindBase = 0
	kindCmd  = 1
	kindNoop = 2
)

// errCorrupt marks synced data whose checksum failed.
var errCorrupt = errors.New("raft: corrupt record on disk")

var le = binary.LittleEndian

// appendRecord frames payload as one record and appends it to buf. The
// header is written in place in buf (a local array would escape through
// crc32's indirect calls: one allocation per record).
func appendRecord(buf, payload []byte) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, recHeader)...)
	buf = append(buf, payload...)
	frame(buf[start:])
	return buf
}

// frame fills the header of rec, one record whose payload (rec[recHeader:])
// is already in place.
func frame(rec []byte) {
	le.PutUint32(rec[0:], uint32(len(rec)-recHeader))
	le.PutUint32(rec[4:], crc32.ChecksumIEEE(rec[0:4]))
	le.PutUint32(rec[8:], crc32.ChecksumIEEE(rec[recHeader:]))
}

// readRecords splits b into record payloads. torn reports a cut-short record
// at the end (dropped); a checksum failure is errCorrupt.
func readRecords(b []byte) (payloads [][]byte, torn bool, err error) {
	for len(b) > 0 {
		if len(b) < recHeader {
			return payloads, true, nil
		}
		n := le.Uint32(b[0:])
		if crc32.ChecksumIEEE(b[0:4]) != le.Uint32(b[4:]) {
			return payloads, false, fmt.Errorf("%w: record header", errCorrupt)
		}
		if uint64(len(b)-recHeader) < uint64(n) {
			return payloads, true, nil
		}
		p := b[recHeader : recHeader+int(n)]
		if crc32.ChecksumIEEE(p) != le.Uint32(b[8:]) {
			return payloads, false, fmt.Errorf("%w: record payload", errCorrupt)
		}
		payloads = append(payloads, p)
		b = b[recHeader+int(n):]
	}
	return payloads, false, nil
}

// readOne reads a file that must hold exactly one complete record.
func readOne(b []byte) ([]byte, error) {
	ps, torn, err := readRecords(b)
	if err != nil {
		return nil, err
	}
	if torn || len(ps) != 1 {
		// Whole-file records are only ever installed by Rename of a
		// complete file, so anything else is corruption.
		return nil, fmt.Errorf("%w: want one whole record, got %d (torn=%v)", errCorrupt, len(ps), torn)
	}
	return ps[0], nil
}

// fileNames are a peer's file names under Config.Prefix, built once (a
// name built per write would cost an allocation).
type fileNames struct {
	state, stateTmp, log, logTmp, snap, snapTmp string
}

func newFileNames(prefix string) fileNames {
	return fileNames{prefix + fileState, prefix + fileState + tmpSuffix, prefix + fileLog,
		prefix + fileLog + tmpSuffix, prefix + fileSnap, prefix + fileSnap + tmpSuffix}
}

// name returns file f (fileState, fileLog or fileSnap) under Config.Prefix.
func (r *Raft) name(f string) string {
	switch f {
	case fileState:
		return r.files.state
	case fileLog:
		return r.files.log
	case fileSnap:
		return r.files.snap
	}
	return r.cfg.Prefix + f
}

// tmpName returns file f's temporary twin under Config.Prefix.
func (r *Raft) tmpName(f string) string {
	switch f {
	case fileState:
		return r.files.stateTmp
	case fileLog:
		return r.files.logTmp
	case fileSnap:
		return r.files.snapTmp
	}
	return r.cfg.Prefix + f + tmpSuffix
}

// writeAtomic replaces file f's contents through a temporary file and Rename
// (the caller Syncs), so a crash leaves the old or the new contents.
func (r *Raft) writeAtomic(f string, data []byte) {
	d := r.env.Disk()
	d.Write(r.tmpName(f), data)
	d.Rename(r.tmpName(f), r.name(f))
}

// persistState writes currentTerm and votedFor (unsynced).
func (r *Raft) persistState() {
	var p [16]byte
	le.PutUint64(p[0:], r.term)
	le.PutUint64(p[8:], uint64(int64(r.votedFor)))
	r.writeAtomic(fileState, appendRecord(r.buf[:0], p[:]))
	r.dirty = true
}

// entryPayload encodes entry e at index i into buf.
func entryPayload(buf []byte, i uint64, e *Entry) []byte {
	k := byte(kindCmd)
	if e.Noop {
		k = kindNoop
	}
	buf = append(buf, k)
	buf = le.AppendUint64(buf, i)
	buf = le.AppendUint64(buf, e.Term)
	return append(buf, e.Cmd...)
}

// persistAppend appends the entries from index from to the end of the log
// file (unsynced).
func (r *Raft) persistAppend(from uint64) {
	if _, ok := r.env.Disk().Read(r.name(fileLog)); !ok {
		r.persistLog() // first entry: write the base record too
		return
	}
	out := r.buf[:0]
	var scratch []byte
	for i := from; i <= r.lastIndex(); i++ {
		scratch = entryPayload(r.scratch[:0], i, r.entry(i))
		out = appendRecord(out, scratch)
		r.scratch = scratch
	}
	r.env.Disk().Append(r.name(fileLog), out)
	r.buf = out
	r.dirty = true
}

// persistLog rewrites the whole log file: base record then every entry
// (unsynced).
func (r *Raft) persistLog() {
	var base [17]byte
	base[0] = kindBase
	le.PutUint64(base[1:], r.snapIndex)
	le.PutUint64(base[9:], r.log[0].Term)
	out := appendRecord(r.buf[:0], base[:])
	for i := r.snapIndex + 1; i <= r.lastIndex(); i++ {
		r.scratch = entryPayload(r.scratch[:0], i, r.entry(i))
		out = appendRecord(out, r.scratch)
	}
	r.writeAtomic(fileLog, out)
	r.buf = out
	r.dirty = true
}

// persistSnapshot writes the snapshot file (unsynced); the caller rewrites
// the log after it, so the order on disk is snapshot first.
func (r *Raft) persistSnapshot() {
	p := make([]byte, 16, 16+len(r.snapshot))
	le.PutUint64(p[0:], r.snapIndex)
	le.PutUint64(p[8:], r.log[0].Term)
	p = append(p, r.snapshot...)
	r.writeAtomic(fileSnap, appendRecord(nil, p))
	r.dirty = true
}

// load restores persistent state from the disk. A torn log tail is dropped
// (and the log rewritten); corruption returns an error wrapping errCorrupt.
func (r *Raft) load() error {
	d := r.env.Disk()
	r.votedFor = -1
	r.log = []Entry{{}}
	var snapTerm uint64
	if b, ok := d.Read(r.name(fileSnap)); ok {
		p, err := readOne(b)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if len(p) < 16 {
			return fmt.Errorf("snapshot: %w: short payload", errCorrupt)
		}
		r.snapIndex, snapTerm = le.Uint64(p[0:]), le.Uint64(p[8:])
		r.snapshot = append([]byte(nil), p[16:]...)
		r.log[0].Term = snapTerm
	}
	if b, ok := d.Read(r.name(fileState)); ok {
		p, err := readOne(b)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		if len(p) != 16 {
			return fmt.Errorf("state: %w: payload of %d bytes", errCorrupt, len(p))
		}
		r.term = le.Uint64(p[0:])
		r.votedFor = int(int64(le.Uint64(p[8:])))
		if r.votedFor < -1 || r.votedFor >= len(r.cfg.Peers) {
			return fmt.Errorf("state: %w: votedFor %d", errCorrupt, r.votedFor)
		}
	}
	b, ok := d.Read(r.name(fileLog))
	if !ok {
		return nil
	}
	ps, torn, err := readRecords(b)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	if len(ps) == 0 || len(ps[0]) != 17 || ps[0][0] != kindBase {
		if torn && len(ps) == 0 {
			// Only a log rewrite cut short could leave this, and rewrites
			// go through Rename; treat as corruption.
			return fmt.Errorf("log: %w: torn base record", errCorrupt)
		}
		return fmt.Errorf("log: %w: missing base record", errCorrupt)
	}
	base, baseTerm := le.Uint64(ps[0][1:]), le.Uint64(ps[0][9:])
	var ents []Entry
	for k, p := range ps[1:] {
		if len(p) < 17 || (p[0] != kindCmd && p[0] != kindNoop) {
			return fmt.Errorf("log: %w: bad entry record", errCorrupt)
		}
		i := le.Uint64(p[1:])
		if i != base+1+uint64(k) {
			return fmt.Errorf("log: %w: entry index %d, want %d", errCorrupt, i, base+1+uint64(k))
		}
		e := Entry{Term: le.Uint64(p[9:]), Noop: p[0] == kindNoop}
		if len(p) > 17 {
			e.Cmd = r.cmds.Copy(p[17:])
		}
		ents = append(ents, e)
	}
	last := base + uint64(len(ents))
	rewrite := torn
	if torn {
		r.env.Sometimes("raft: torn log tail dropped on restart")
	}
	switch {
	case base >= r.snapIndex:
		if base > r.snapIndex {
			// The log was compacted past a snapshot that is not on disk:
			// compaction writes the snapshot first, so this is corruption.
			return fmt.Errorf("log: %w: base %d beyond snapshot %d", errCorrupt, base, r.snapIndex)
		}
		r.log = append([]Entry{{Term: baseTerm}}, ents...)
	case last >= r.snapIndex && ents[r.snapIndex-base-1].Term == snapTerm:
		// Snapshot newer than the log's base: keep the suffix after it.
		r.log = append([]Entry{{Term: snapTerm}}, ents[r.snapIndex-base:]...)
		rewrite = true // at its new base
	default:
		r.log = []Entry{{Term: snapTerm}}
		rewrite = true
	}
	if rewrite {
		r.persistLog()
		r.sync()
	}
	return nil
}
