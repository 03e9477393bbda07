package etcdsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/smilingraft/dsim/nodes/kv"
)

// Entry payloads. A normal entry's data starts with a tag byte:
//
//	(empty)   the no-op a new leader appends
//	'c' ...   a raw command of the proposer workload: only digested
//	'k' ...   a KV Put of a client session: uvarint client, uvarint seq,
//	          then kv.EncodeOp's bytes
//
// Conf-change entries (EntryConfChange, EntryConfChangeV2) carry etcd's
// marshalled ConfChange; they are digested too.
const (
	tagCmd = 'c'
	tagKV  = 'k'
)

// encodeKV is the entry data of a client's Put.
func encodeKV(client, seq uint64, op kv.Op) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(op.Key)+len(op.Value)+16)
	b = append(b, tagKV)
	b = binary.AppendUvarint(b, client)
	b = binary.AppendUvarint(b, seq)
	return append(b, kv.EncodeOp(op)...)
}

// decodeKV decodes encodeKV's bytes (without checking the tag).
func decodeKV(b []byte) (client, seq uint64, op kv.Op, err error) {
	if len(b) < 1 || b[0] != tagKV {
		return 0, 0, op, errors.New("not a KV entry")
	}
	b = b[1:]
	client, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, op, errors.New("KV entry: bad client")
	}
	b = b[n:]
	seq, n = binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, op, errors.New("KV entry: bad seq")
	}
	op, err = kv.DecodeOp(b[n:])
	return client, seq, op, err
}

// session is a client's last applied Put and its result: a retry of it (the
// same seq) is answered from here instead of being applied again.
type session struct {
	seq uint64
	res kv.Result
}

// machine is a peer's replicated state machine: the KV store, the client
// sessions, and a digest of every applied entry, which must be the same on
// every peer after every index (etcd.state-digest).
type machine struct {
	index    uint64
	digest   uint64
	store    *kv.Store
	sessions map[uint64]session
}

func newMachine() *machine {
	return &machine{store: kv.NewStore(), sessions: map[uint64]session{}}
}

// mix folds one applied entry into the state machine's digest.
func mix(d, index uint64, data []byte) uint64 {
	const prime = 1099511628211
	d ^= index
	d *= prime
	for _, c := range data {
		d ^= uint64(c)
		d *= prime
	}
	return d
}

// applyKV applies a client's Put (deduplicated by session) and returns its
// result; stale is true for a seq older than the session's last (a
// confused or very late retry: nothing applied, nobody to answer).
func (m *machine) applyKV(client, seq uint64, op kv.Op) (res kv.Result, stale bool) {
	if s, ok := m.sessions[client]; ok && seq <= s.seq {
		if seq == s.seq {
			return s.res, false
		}
		return kv.Result{}, true
	}
	res = m.store.Apply(op)
	m.sessions[client] = session{seq: seq, res: res}
	return res, false
}

// snapshotMagic tags the encoding of a machine.
const snapshotMagic = "esm1"

// encode is the snapshot data of the machine at index: magic, index,
// digest, the store's snapshot, then the sessions sorted by client.
func (m *machine) encode() []byte {
	st := m.store.Snapshot()
	b := make([]byte, 0, len(snapshotMagic)+16+binary.MaxVarintLen64+len(st)+len(m.sessions)*24)
	b = append(b, snapshotMagic...)
	b = binary.LittleEndian.AppendUint64(b, m.index)
	b = binary.LittleEndian.AppendUint64(b, m.digest)
	b = binary.AppendUvarint(b, uint64(len(st)))
	b = append(b, st...)
	clients := make([]uint64, 0, len(m.sessions))
	for c := range m.sessions {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	b = binary.AppendUvarint(b, uint64(len(clients)))
	for _, c := range clients {
		s := m.sessions[c]
		b = binary.AppendUvarint(b, c)
		b = binary.AppendUvarint(b, s.seq)
		r := kv.EncodeResult(s.res)
		b = binary.AppendUvarint(b, uint64(len(r)))
		b = append(b, r...)
	}
	return b
}

// decodeMachine decodes encode's bytes.
func decodeMachine(b []byte) (*machine, error) {
	if len(b) < len(snapshotMagic)+16 || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return nil, errors.New("state machine snapshot: bad magic")
	}
	b = b[len(snapshotMagic):]
	m := newMachine()
	m.index = binary.LittleEndian.Uint64(b)
	m.digest = binary.LittleEndian.Uint64(b[8:])
	b = b[16:]
	chunk := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, errors.New("state machine snapshot: truncated")
		}
		c := b[k : k+int(n)]
		b = b[k+int(n):]
		return c, nil
	}
	uv := func() (uint64, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, errors.New("state machine snapshot: truncated")
		}
		b = b[k:]
		return n, nil
	}
	st, err := chunk()
	if err != nil {
		return nil, err
	}
	if _, err := kv.DecodeSnapshot(st); err != nil {
		return nil, fmt.Errorf("state machine snapshot: %w", err)
	}
	m.store.Restore(st)
	n, err := uv()
	if err != nil {
		return nil, err
	}
	for i := uint64(0); i < n; i++ {
		c, err := uv()
		if err != nil {
			return nil, err
		}
		seq, err := uv()
		if err != nil {
			return nil, err
		}
		rb, err := chunk()
		if err != nil {
			return nil, err
		}
		r, err := kv.DecodeResult(rb)
		if err != nil {
			return nil, fmt.Errorf("state machine snapshot: %w", err)
		}
		m.sessions[c] = session{seq: seq, res: r}
	}
	if len(b) != 0 {
		return nil, errors.New("state machine snapshot: trailing bytes")
	}
	return m, nil
}
