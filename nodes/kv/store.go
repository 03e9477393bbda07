// Package kv is the versioned key/value service of the 6.5840 labs (LABS.md
// §2.2, §2.5): a Store, the state machine that maps keys to (value, version)
// and applies a Put only when its version matches; Server, a single
// unreplicated server (the lab's kvsrv) that serves it by RPC; Clerk, the
// client library that retries across loss and over a list of servers and
// turns an ambiguous retried Put into ErrMaybe; and Lock, a mutual-exclusion
// lock built only on the clerk's Get and versioned Put.
//
// Everything is a state machine on sim.Env: requests arrive as sim.Request
// messages and leave through env.Reply, retries run on env.After timers of
// the node's own clock, a clerk's identity comes from env.Rand(), and every
// clerk operation is recorded in the world's history (env.Invoke/Return) as
// pointers to plain OpInput/OpOutput structs that checkers convert (InputOf,
// OutputOf). The Store also implements the replicated-state-machine
// interface of nodes/rsm (DoOp, Query, Snapshot, Restore over the binary op
// encoding of EncodeOp, and the optional ApplyOnly and AppendDoOp), so
// RaftServer, the KV on Raft (the lab's kvraft), hosts it in an rsm.RSM and
// serves the same messages to the same clerk.
//
// Like every package under nodes/, it may import only sim (and other
// packages under nodes/) and the deterministic parts of the standard library.
package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/smilingraft/dsim/nodes/wire"
)

// Err is the outcome of a KV operation, named as in the lab so that traces
// and checkers read the same words.
type Err string

// The outcomes. Only clerks produce ErrMaybe.
const (
	OK             Err = "OK"
	ErrNoKey       Err = "ErrNoKey"       // Get of a missing key; Put with version > 0 on a missing key
	ErrVersion     Err = "ErrVersion"     // Put whose version does not match: not applied
	ErrMaybe       Err = "ErrMaybe"       // a retried Put got ErrVersion: it may or may not have applied
	ErrWrongLeader Err = "ErrWrongLeader" // this server cannot serve the request; try another
	ErrBadRequest  Err = "ErrBadRequest"  // malformed request (unknown kind, oversized key/value, bad bytes)
)

// Limits on what a request may carry: a limit on everything.
const (
	MaxKeyBytes   = 1 << 10
	MaxValueBytes = 1 << 20
)

// Kind is an operation's kind.
type Kind uint8

// The operation kinds.
const (
	KindGet Kind = 1
	KindPut Kind = 2
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindGet:
		return "Get"
	case KindPut:
		return "Put"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Op is one KV operation, the unit a Store applies and an RSM replicates.
type Op struct {
	Kind    Kind
	Key     string
	Value   string // Put only
	Version uint64 // Put only: the version the key must have
}

// Validate reports why op is malformed (nil if it is well formed).
func (op Op) Validate() error {
	switch {
	case op.Kind != KindGet && op.Kind != KindPut:
		return fmt.Errorf("unknown op kind %d", uint8(op.Kind))
	case len(op.Key) > MaxKeyBytes:
		return fmt.Errorf("key of %d bytes exceeds %d", len(op.Key), MaxKeyBytes)
	case len(op.Value) > MaxValueBytes:
		return fmt.Errorf("value of %d bytes exceeds %d", len(op.Value), MaxValueBytes)
	case op.Kind == KindGet && (op.Value != "" || op.Version != 0):
		return errors.New("get carries a value or version")
	}
	return nil
}

// Result is what applying an Op returns.
type Result struct {
	Err     Err
	Value   string // Get: the value
	Version uint64 // Get: the version; Put OK: the new version
}

// Store is the versioned KV state machine: key -> (value, version). The zero
// value is not usable; NewStore makes an empty one. It is deterministic and
// keeps no reference to the bytes it is given.
type Store struct {
	m     map[string]*Entry // by pointer: a Put of an existing key updates it in place, with no new key string
	bytes int
}

// Entry is a key's state.
type Entry struct {
	Value   string
	Version uint64
}

// entryOverhead is the accounted bytes of a key beyond its key and value
// strings (the version and two string headers).
const entryOverhead = 8 + 16 + 16

// NewStore returns an empty store.
func NewStore() *Store { return &Store{m: map[string]*Entry{}} }

// Get returns key's value and version, or ErrNoKey.
func (s *Store) Get(key string) Result {
	e, ok := s.m[key]
	if !ok {
		return Result{Err: ErrNoKey}
	}
	return Result{Err: OK, Value: e.Value, Version: e.Version}
}

// Put stores value under key if key's version equals version (0 creates a
// missing key) and bumps the version; otherwise it changes nothing and
// returns ErrVersion (ErrNoKey for a missing key and version > 0).
func (s *Store) Put(key, value string, version uint64) Result {
	e, ok := s.m[key]
	if r, apply := s.putCheck(e, ok, version); !apply {
		return r
	}
	if !ok {
		e = &Entry{}
		s.m[key] = e
		s.bytes += len(key) + entryOverhead
	}
	return s.putApply(e, value, version)
}

// putCheck is Put's version check on the key's entry e (ok: the key
// exists): apply, or the result of a Put that does not apply.
func (s *Store) putCheck(e *Entry, ok bool, version uint64) (r Result, apply bool) {
	switch {
	case !ok && version != 0:
		return Result{Err: ErrNoKey}, false
	case ok && e.Version != version:
		return Result{Err: ErrVersion, Version: e.Version}, false
	}
	return Result{}, true
}

// putApply stores value in the key's entry e (new ones are empty) at
// version+1.
func (s *Store) putApply(e *Entry, value string, version uint64) Result {
	s.bytes += len(value) - len(e.Value)
	e.Value, e.Version = value, version+1
	return Result{Err: OK, Version: version + 1}
}

// Apply applies a decoded op; a malformed op gets ErrBadRequest.
func (s *Store) Apply(op Op) Result {
	if op.Validate() != nil {
		return Result{Err: ErrBadRequest}
	}
	if op.Kind == KindGet {
		return s.Get(op.Key)
	}
	return s.Put(op.Key, op.Value, op.Version)
}

// DoOp applies one encoded op and returns its encoded Result: the
// rsm.StateMachine method. Malformed bytes give an ErrBadRequest result,
// never a panic.
func (s *Store) DoOp(op []byte) []byte { return EncodeResult(s.doEncoded(op)) }

// AppendDoOp is DoOp with the result appended to dst: the
// rsm.ResultAppender method, so that a client's results reuse one buffer.
func (s *Store) AppendDoOp(dst, op []byte) []byte { return AppendResult(dst, s.doEncoded(op)) }

// doEncoded applies one encoded op. Well-formed Gets and Puts are applied
// from the bytes in place (a Put copies its value only if it applies, and
// its key only if it is new); anything else is decoded, with its error.
func (s *Store) doEncoded(op []byte) Result {
	if r, ok := s.getEncoded(op); ok {
		return r
	}
	if r, ok := s.putEncoded(op); ok {
		return r
	}
	o, err := DecodeOp(op)
	if err != nil {
		return Result{Err: ErrBadRequest}
	}
	return s.Apply(o)
}

// putEncoded applies an encoded Put without decoding it into strings; ok
// is false for anything but a well-formed Put, which DecodeOp then handles.
func (s *Store) putEncoded(op []byte) (r Result, ok bool) {
	if len(op) == 0 || Kind(op[0]) != KindPut {
		return Result{}, false
	}
	d := wire.NewDecoder(op[1:])
	key, value, version := d.View(), d.View(), d.Uvarint()
	if d.Done() != nil || len(key) > MaxKeyBytes || len(value) > MaxValueBytes {
		return Result{}, false
	}
	e, found := s.m[string(key)]
	if r, apply := s.putCheck(e, found, version); !apply {
		return r, true
	}
	if !found {
		e = &Entry{}
		s.m[string(key)] = e
		s.bytes += len(key) + entryOverhead
	}
	return s.putApply(e, string(value), version), true
}

// Query answers a read-only encoded op (a Get) from the current state: the
// rsm.Querier method. Anything but a well-formed Get is ErrBadRequest.
func (s *Store) Query(op []byte) []byte {
	if r, ok := s.getEncoded(op); ok {
		return EncodeResult(r)
	}
	o, err := DecodeOp(op)
	if err != nil || o.Kind != KindGet {
		return EncodeResult(Result{Err: ErrBadRequest})
	}
	return EncodeResult(s.Apply(o))
}

// ApplyOnly applies one encoded op as DoOp does, without encoding its
// result: the rsm.ResultlessApplier method, for a replica that applies an
// op nobody waits for (a Get through the log, which changes nothing).
func (s *Store) ApplyOnly(op []byte) {
	if len(op) > 0 && Kind(op[0]) == KindGet {
		return // a Get, well formed or not, changes nothing
	}
	s.doEncoded(op)
}

// getEncoded answers an encoded Get without copying its key (a map lookup
// by string(bytes) does not allocate); ok is false for anything but a
// well-formed Get, which DecodeOp then handles.
func (s *Store) getEncoded(op []byte) (r Result, ok bool) {
	if len(op) == 0 || Kind(op[0]) != KindGet {
		return Result{}, false
	}
	d := wire.NewDecoder(op[1:])
	key := d.View()
	if d.Done() != nil || len(key) > MaxKeyBytes {
		return Result{}, false
	}
	e, found := s.m[string(key)]
	if !found {
		return Result{Err: ErrNoKey}, true
	}
	return Result{Err: OK, Value: e.Value, Version: e.Version}, true
}

// Len returns the number of keys.
func (s *Store) Len() int { return len(s.m) }

// Bytes returns the accounted size of the state: keys, values and a fixed
// overhead per key. It grows with keys and values only.
func (s *Store) Bytes() int { return s.bytes }

// Keys returns the keys, sorted.
func (s *Store) Keys() []string {
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Entries returns a copy of the state, for checkers and inspection.
func (s *Store) Entries() map[string]Entry {
	out := make(map[string]Entry, len(s.m))
	for k, e := range s.m {
		out[k] = *e
	}
	return out
}

// snapshotMagic starts every snapshot: a format tag and version.
const snapshotMagic = "kv1"

// Snapshot encodes the whole state deterministically (keys sorted): the
// rsm.StateMachine method.
func (s *Store) Snapshot() []byte {
	b := make([]byte, 0, len(snapshotMagic)+binary.MaxVarintLen64+s.bytes)
	b = append(b, snapshotMagic...)
	b = binary.AppendUvarint(b, uint64(len(s.m)))
	for _, k := range s.Keys() {
		e := s.m[k]
		b = wire.AppendString(b, k)
		b = wire.AppendString(b, e.Value)
		b = binary.AppendUvarint(b, e.Version)
	}
	return b
}

// Restore replaces the state with a snapshot's (empty data: the empty
// store): the rsm.StateMachine method. A snapshot that does not decode is a
// bug of the layer below (its records are checksummed), so Restore panics
// rather than serve a wrong state; DecodeSnapshot reports it as an error.
func (s *Store) Restore(data []byte) {
	m, err := DecodeSnapshot(data)
	if err != nil {
		panic("kv: restore: " + err.Error())
	}
	s.m = make(map[string]*Entry, len(m))
	s.bytes = 0
	for k, e := range m {
		s.m[k] = &Entry{Value: e.Value, Version: e.Version}
		s.bytes += len(k) + len(e.Value) + entryOverhead
	}
}

// DecodeSnapshot decodes a Snapshot's bytes (empty: the empty state).
func DecodeSnapshot(data []byte) (map[string]Entry, error) {
	m := map[string]Entry{}
	if len(data) == 0 {
		return m, nil
	}
	if len(data) < len(snapshotMagic) || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, errors.New("snapshot: bad magic")
	}
	d := wire.NewDecoder(data[len(snapshotMagic):])
	n := d.Uvarint()
	if d.Err() == nil && n > uint64(d.Len()) {
		return nil, errors.New("snapshot: key count exceeds data")
	}
	prev := ""
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		k, v, ver := d.Str(), d.Str(), d.Uvarint()
		if d.Err() == nil && i > 0 && k <= prev {
			return nil, errors.New("snapshot: keys not sorted")
		}
		prev = k
		m[k] = Entry{Value: v, Version: ver}
	}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return m, nil
}

// EncodeOp encodes op: kind byte, key, then for a Put the value and version.
func EncodeOp(op Op) []byte {
	return AppendOp(make([]byte, 0, op.encodedMax()), op)
}

// encodedMax bounds the bytes AppendOp appends for op.
func (op Op) encodedMax() int {
	return 1 + 2*binary.MaxVarintLen64 + len(op.Key) + len(op.Value) + binary.MaxVarintLen64
}

// AppendOp appends EncodeOp(op) to b.
func AppendOp(b []byte, op Op) []byte {
	b = append(b, byte(op.Kind))
	b = wire.AppendString(b, op.Key)
	if op.Kind == KindPut {
		b = wire.AppendString(b, op.Value)
		b = binary.AppendUvarint(b, op.Version)
	}
	return b
}

// DecodeOp decodes EncodeOp's bytes; anything else is an error.
func DecodeOp(b []byte) (Op, error) {
	if len(b) == 0 {
		return Op{}, errors.New("op: empty")
	}
	op := Op{Kind: Kind(b[0])}
	d := wire.NewDecoder(b[1:])
	switch op.Kind {
	case KindGet:
		op.Key = d.Str()
	case KindPut:
		op.Key, op.Value, op.Version = d.Str(), d.Str(), d.Uvarint()
	default:
		return Op{}, fmt.Errorf("op: unknown kind %d", b[0])
	}
	err := d.Done()
	if err == nil {
		err = op.Validate()
	}
	if err != nil {
		return Op{}, fmt.Errorf("op: %w", err)
	}
	return op, nil
}

// EncodeResult encodes a Result: error code, value, version.
func EncodeResult(r Result) []byte {
	return AppendResult(make([]byte, 0, 1+binary.MaxVarintLen64*2+len(r.Value)), r)
}

// AppendResult appends EncodeResult(r) to b.
func AppendResult(b []byte, r Result) []byte {
	b = append(b, errCode(r.Err))
	b = wire.AppendString(b, r.Value)
	b = binary.AppendUvarint(b, r.Version)
	return b
}

// DecodeResult decodes EncodeResult's bytes.
func DecodeResult(b []byte) (Result, error) {
	if len(b) == 0 {
		return Result{}, errors.New("result: empty")
	}
	e, ok := codeErr(b[0])
	if !ok {
		return Result{}, fmt.Errorf("result: unknown error code %d", b[0])
	}
	d := wire.NewDecoder(b[1:])
	r := Result{Err: e, Value: d.Str(), Version: d.Uvarint()}
	if err := d.Done(); err != nil {
		return Result{}, fmt.Errorf("result: %w", err)
	}
	return r, nil
}

var errCodes = []Err{OK, ErrNoKey, ErrVersion, ErrMaybe, ErrWrongLeader, ErrBadRequest}

func errCode(e Err) byte {
	for i, x := range errCodes {
		if x == e {
			return byte(i)
		}
	}
	return byte(len(errCodes) - 1) // anything else is a bad request
}

func codeErr(c byte) (Err, bool) {
	if int(c) >= len(errCodes) {
		return "", false
	}
	return errCodes[c], true
}
