package shard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/nodes/wire"
)

// Outcomes of shard operations beyond nodes/kv's (all kv.Err, so replies and
// the history use one error type).
const (
	// ErrWrongGroup: this group does not serve the key's shard now (it does
	// not own it, or it froze it for a move); ask the controller again.
	ErrWrongGroup kv.Err = "ErrWrongGroup"
	// ErrStale: a Freeze/Install/Delete carries a configuration number
	// older than the newest this group has seen for the shard (the fence),
	// or a Put's seq is older than its client's last on the shard. Nothing
	// was changed.
	ErrStale kv.Err = "ErrStale"
	// ErrNotOwned: Freeze of a shard this group does not hold (already
	// moved away, or never here); nothing to move.
	ErrNotOwned kv.Err = "ErrNotOwned"
	// ErrNotFrozen: Delete of a shard this group still serves (a controller
	// deletes only what it froze at the same number); nothing was deleted.
	ErrNotFrozen kv.Err = "ErrNotFrozen"
)

// Status is a shard's state in one group.
type Status uint8

// The shard states.
const (
	Absent  Status = 0 // not held here (never installed, or deleted)
	Serving Status = 1 // held and serving Gets and Puts
	Frozen  Status = 2 // held, refusing Gets and Puts: being moved away
)

func (s Status) String() string {
	switch s {
	case Absent:
		return "absent"
	case Serving:
		return "serving"
	case Frozen:
		return "frozen"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// DupEntry is a client's last Put applied to a shard: its seq and outcome.
type DupEntry struct {
	Seq     uint64
	Err     kv.Err
	Version uint64
}

// ShardData is what moves with a shard: its versioned store and its
// duplicate table (client -> last Put; nil before the first). The duplicate
// table lives per shard, not in the RSM, so that a Put retried at the
// shard's new group after its first copy applied at the old one is answered
// from the table (OK), not applied again or answered ErrVersion.
type ShardData struct {
	Store *kv.Store
	Dup   map[uint64]DupEntry
}

// newShardData returns an empty shard.
func newShardData() ShardData { return ShardData{Store: kv.NewStore()} }

// Encode returns the shard's binary form: the store's kv snapshot, then the
// duplicate table sorted by client. Equal shards encode to equal bytes.
func (d ShardData) Encode() []byte {
	e := d.encoding()
	return e.appendTo(make([]byte, 0, e.size))
}

// shardEncoding is what ShardData.Encode writes, gathered first so that its
// exact size is known before a byte is written: a caller can then write it
// straight into a larger buffer, length prefix first.
type shardEncoding struct {
	d       ShardData
	snap    []byte   // the store's snapshot
	clients []uint64 // the duplicate table's clients, ascending
	size    int      // len(Encode())
}

// encoding gathers d's encoding.
func (d ShardData) encoding() shardEncoding {
	e := shardEncoding{d: d, snap: d.Store.Snapshot(), clients: make([]uint64, 0, len(d.Dup))}
	e.size = uvarintLen(uint64(len(e.snap))) + len(e.snap) + uvarintLen(uint64(len(d.Dup)))
	for c, de := range d.Dup {
		e.clients = append(e.clients, c)
		e.size += uvarintLen(c) + uvarintLen(de.Seq) + uvarintLen(uint64(len(de.Err))) + len(de.Err) + uvarintLen(de.Version)
	}
	slices.Sort(e.clients)
	return e
}

// appendTo appends the encoding (e.size bytes) to b.
func (e *shardEncoding) appendTo(b []byte) []byte {
	b = wire.AppendBytes(b, e.snap)
	b = binary.AppendUvarint(b, uint64(len(e.clients)))
	for _, c := range e.clients {
		de := e.d.Dup[c]
		b = binary.AppendUvarint(b, c)
		b = binary.AppendUvarint(b, de.Seq)
		b = wire.AppendString(b, string(de.Err))
		b = binary.AppendUvarint(b, de.Version)
	}
	return b
}

// uvarintLen is the length of x's uvarint encoding.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// Bytes is the accounted size: the store's plus 24 bytes per client.
func (d ShardData) Bytes() int { return d.Store.Bytes() + 24*len(d.Dup) }

// DecodeShardData decodes Encode's bytes (empty: an empty shard); anything
// else is an error, never a panic.
func DecodeShardData(b []byte) (ShardData, error) {
	if len(b) == 0 {
		return newShardData(), nil
	}
	dec := wire.NewDecoder(b)
	snap := dec.View() // Restore keeps no reference to it
	n := dec.Uvarint()
	if dec.Err() == nil && n > uint64(dec.Len()) {
		dec.Fail(fmt.Errorf("%d clients in %d bytes", n, dec.Len()))
	}
	var dup map[uint64]DupEntry // nil until the first client
	if n > 0 && dec.Err() == nil {
		dup = make(map[uint64]DupEntry, n)
	}
	prev := uint64(0)
	for i := uint64(0); i < n && dec.Err() == nil; i++ {
		c, seq, e, v := dec.Uvarint(), dec.Uvarint(), internErr(dec.View()), dec.Uvarint()
		if dec.Err() == nil && i > 0 && c <= prev {
			dec.Fail(errors.New("clients not sorted"))
		}
		prev = c
		dup[c] = DupEntry{Seq: seq, Err: e, Version: v}
	}
	if err := dec.Done(); err != nil {
		return ShardData{}, fmt.Errorf("shard data: %w", err)
	}
	keys, ok := snapshotKeys(snap)
	if !ok {
		_, err := kv.DecodeSnapshot(snap) // the reason
		if err == nil {
			err = errors.New("snapshot refused")
		}
		return ShardData{}, fmt.Errorf("shard data: %w", err)
	}
	st := kv.NewStore()
	if keys > 0 { // a store restored from no keys is a new one
		st.Restore(snap) // validated above: cannot panic
	}
	return ShardData{Store: st, Dup: dup}, nil
}

// snapshotKeys reports whether kv.DecodeSnapshot accepts b, by the same
// checks (magic, key count, fields, keys strictly ascending, nothing left
// over) but without building its map (Restore then decodes b once, not
// twice), and how many keys it holds. TestSnapshotValidAgreesWithKV holds
// the two together.
func snapshotKeys(b []byte) (keys uint64, ok bool) {
	const magic = "kv1"
	if len(b) == 0 {
		return 0, true
	}
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		return 0, false
	}
	d := wire.NewDecoder(b[len(magic):])
	n := d.Uvarint()
	if d.Err() == nil && n > uint64(d.Len()) {
		return 0, false
	}
	var prev []byte
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		k := d.View()
		d.View()
		d.Uvarint()
		if d.Err() == nil && i > 0 && string(k) <= string(prev) {
			return 0, false
		}
		prev = k
	}
	return n, d.Done() == nil
}

// slot is one shard's state in a group: the fence (newest configuration
// number seen for it through Freeze, Install or Delete), its status and, if
// held, its data.
type slot struct {
	num    uint64
	status Status
	data   ShardData
}

// GroupOptions are the unsafe switches of a group's state machine (all
// false in every safe scenario).
type GroupOptions struct {
	// UnsafeAcceptStale (UNSAFE) applies Freeze, Install and Delete whose
	// configuration number is older than the shard's fence: the group takes
	// configuration steps out of order, so a stale controller can move a
	// shard backwards (an old state installed over newer writes).
	UnsafeAcceptStale bool
	// UnsafeServeFrozen (UNSAFE) keeps serving Gets and Puts on a frozen
	// shard: writes accepted after the freeze are lost when the shard moves,
	// and two groups accept writes for one shard.
	UnsafeServeFrozen bool
}

// GroupSM is a shard group's replicated state machine (an rsm.StateMachine
// and rsm.Querier): one slot per shard. Ops (EncodeGet, EncodePut,
// EncodeFreeze, EncodeInstall, EncodeDelete) and their results (Reply,
// DecodeReply) are binary. Malformed op bytes give an ErrBadRequest reply
// and a line through Logf, never a panic; a snapshot that does not decode
// is reported through Fail (a bug of the layers below) and leaves the state
// empty.
type GroupSM struct {
	opts   GroupOptions
	shards []slot
	// Logf and Fail are the host's env.Logf and env.Fail (nil: silent).
	Logf func(format string, args ...any)
	Fail func(checker, format string, args ...any)
	// OnChange, when set, is called whenever a shard's status changes
	// (Freeze, Install, Delete), with whether the shard now accepts Gets
	// and Puts (Serving, or Frozen under UnsafeServeFrozen); after Restore
	// it is called once for every shard. Online checkers (single
	// ownership) watch through it; it must not change the state machine.
	OnChange func(shard int, st Status, accepts bool)

	// keys interns the keys of decoded ops (a Get's key is only looked
	// up, a Put's is kept by the store only if new): one string per key
	// instead of one per op. A cache, not state.
	keys map[string]string
	// out holds the encoded replies: each is carved from it (see slab).
	out slab
	// last is the reply encoded last and lastRes its encoding: the RSM
	// hands a result to its waiting callback right after DoOp or Query
	// returns it, so the host's Server gets it back from decoded without
	// decoding (or copying its value) again.
	last    Reply
	lastRes []byte
	// dataOf is 1 + the shard a Freeze just froze, whose encoding DoOp
	// adds to the reply and ApplyOnly does not (0: none).
	dataOf int
}

// changed reports shard s's status through OnChange.
func (g *GroupSM) changed(s int) {
	if g.OnChange != nil {
		g.OnChange(s, g.shards[s].status, g.serving(s))
	}
}

// CheckDecode is the failure checker name for a group snapshot that does
// not decode.
const CheckDecode = "shard.decode"

// NewGroupSM returns an empty state machine for nshards shards (<= 0:
// DefaultNShards).
func NewGroupSM(nshards int, opts GroupOptions) *GroupSM {
	if nshards <= 0 {
		nshards = DefaultNShards
	}
	return &GroupSM{opts: opts, shards: make([]slot, nshards)}
}

func (g *GroupSM) logf(format string, args ...any) {
	if g.Logf != nil {
		g.Logf(format, args...)
	}
}

// NShards returns the number of shards.
func (g *GroupSM) NShards() int { return len(g.shards) }

// Status returns shard s's status and fence (Absent, 0 for a bad s).
func (g *GroupSM) Status(s int) (Status, uint64) {
	if s < 0 || s >= len(g.shards) {
		return Absent, 0
	}
	return g.shards[s].status, g.shards[s].num
}

// Entries returns a copy of shard s's store (nil if not held).
func (g *GroupSM) Entries(s int) map[string]kv.Entry {
	if s < 0 || s >= len(g.shards) || g.shards[s].status == Absent {
		return nil
	}
	return g.shards[s].data.Store.Entries()
}

// Held returns the shards held (serving or frozen), ascending.
func (g *GroupSM) Held() []int {
	var out []int
	for s, sl := range g.shards {
		if sl.status != Absent {
			out = append(out, s)
		}
	}
	return out
}

// Bytes is the accounted size of every held shard.
func (g *GroupSM) Bytes() int {
	n := 0
	for _, sl := range g.shards {
		if sl.status != Absent {
			n += sl.data.Bytes()
		}
	}
	return n
}

// op kinds of the group state machine's encoding.
const (
	opGet     = 1
	opPut     = 2
	opFreeze  = 3
	opInstall = 4
	opDelete  = 5
)

// Reply is the result of one group op.
type Reply struct {
	Err     kv.Err
	Value   string // Get
	Version uint64 // Get: the key's version; Put OK: the new version
	Num     uint64 // Freeze/Install/Delete: the shard's fence after the op
	Data    []byte // Freeze OK: the shard's encoded ShardData
}

// Encode returns the reply's binary form.
func (r Reply) Encode() []byte { return r.appendTo(make([]byte, 0, r.maxSize())) }

// maxSize bounds the length of the reply's encoding.
func (r *Reply) maxSize() int {
	return 5*binary.MaxVarintLen64 + len(r.Err) + len(r.Value) + len(r.Data)
}

// appendTo appends the reply's encoding to b.
func (r *Reply) appendTo(b []byte) []byte { return wire.AppendBytes(r.appendHead(b), r.Data) }

// appendHead appends the encoding's fields before Data.
func (r *Reply) appendHead(b []byte) []byte {
	b = wire.AppendString(b, string(r.Err))
	b = wire.AppendString(b, r.Value)
	b = binary.AppendUvarint(b, r.Version)
	return binary.AppendUvarint(b, r.Num)
}

// encode returns r's encoding carved from the state machine's slab, and
// remembers both for decoded.
func (g *GroupSM) encode(r Reply) []byte {
	n := r.maxSize()
	var b []byte
	if g.out.room(n) {
		at := len(g.out.buf)
		g.out.buf = r.appendTo(g.out.buf)
		b = g.out.cut(at)
	} else {
		b = r.appendTo(make([]byte, 0, n))
	}
	g.last, g.lastRes = r, b
	return b
}

// decoded returns DecodeReply(res) when res is the very slice DoOp or Query
// returned last (the same array, not equal bytes), from the reply kept
// then; ok is false otherwise. Either way the kept reply is dropped.
func (g *GroupSM) decoded(res []byte) (r Reply, ok bool) {
	if len(res) > 0 && len(res) == len(g.lastRes) && &res[0] == &g.lastRes[0] {
		r, ok = g.last, true
	}
	g.last, g.lastRes = Reply{}, nil
	return r, ok
}

// slab hands out small immutable byte slices carved from one larger
// allocation, so that a result or an op costs an allocation per slab, not
// one each. A carved slice is capped at its length (appending to it
// copies), and nothing is ever written to it again: it may be kept as
// long as its owner likes (the slab's array lives as long as any of them).
type slab struct{ buf []byte }

const (
	slabSize = 4096 // bytes per slab
	slabMax  = 512  // larger encodings get their own allocation
)

// room reports whether an encoding of at most n bytes fits the slab (after
// starting a fresh slab if the free tail is too short); if not, it is too
// large for one.
func (s *slab) room(n int) bool {
	if n > slabMax {
		return false
	}
	if cap(s.buf)-len(s.buf) < n {
		s.buf = make([]byte, 0, slabSize)
	}
	return true
}

// cut returns the bytes appended to the slab since its length was at.
func (s *slab) cut(at int) []byte { return s.buf[at:len(s.buf):len(s.buf)] }

// internErr returns the kv.Err spelled by b: one of the known outcomes
// without allocating, any other a fresh string.
func internErr(b []byte) kv.Err {
	switch string(b) {
	case "":
		return ""
	case string(kv.OK):
		return kv.OK
	case string(kv.ErrNoKey):
		return kv.ErrNoKey
	case string(kv.ErrVersion):
		return kv.ErrVersion
	case string(kv.ErrWrongLeader):
		return kv.ErrWrongLeader
	case string(kv.ErrBadRequest):
		return kv.ErrBadRequest
	case string(ErrWrongGroup):
		return ErrWrongGroup
	case string(ErrStale):
		return ErrStale
	case string(ErrNotOwned):
		return ErrNotOwned
	case string(ErrNotFrozen):
		return ErrNotFrozen
	}
	return kv.Err(b)
}

// intern returns key b as a string, the same one every time (keys of
// MaxKeyBytes or more are not kept: they are refused anyway).
func (g *GroupSM) intern(b []byte) string {
	if k, ok := g.keys[string(b)]; ok {
		return k
	}
	k := string(b)
	if len(b) <= kv.MaxKeyBytes {
		if g.keys == nil {
			g.keys = map[string]string{}
		}
		g.keys[k] = k
	}
	return k
}

// DecodeReply decodes Reply.Encode's bytes.
func DecodeReply(b []byte) (Reply, error) {
	d := wire.NewDecoder(b)
	r := Reply{Err: internErr(d.View()), Value: d.Str(), Version: d.Uvarint(), Num: d.Uvarint(), Data: d.Bytes()}
	if err := d.Done(); err != nil {
		return Reply{}, fmt.Errorf("reply: %w", err)
	}
	return r, nil
}

// EncodeGet encodes a Get of key.
func EncodeGet(key string) []byte { return appendGet(make([]byte, 0, getSize(key)), key) }

func getSize(key string) int { return 1 + binary.MaxVarintLen64 + len(key) }

func appendGet(b []byte, key string) []byte { return wire.AppendString(append(b, opGet), key) }

// EncodePut encodes a versioned Put by (client, seq); client 0 skips the
// duplicate table.
func EncodePut(key, value string, version, client, seq uint64) []byte {
	return appendPut(make([]byte, 0, putSize(key, value)), key, value, version, client, seq)
}

func putSize(key, value string) int { return 1 + 5*binary.MaxVarintLen64 + len(key) + len(value) }

func appendPut(b []byte, key, value string, version, client, seq uint64) []byte {
	b = wire.AppendString(append(b, opPut), key)
	b = wire.AppendString(b, value)
	b = binary.AppendUvarint(b, version)
	b = binary.AppendUvarint(b, client)
	return binary.AppendUvarint(b, seq)
}

// moveSize bounds the size of a move op's encoding without Install's data.
const moveSize = 1 + 3*binary.MaxVarintLen64

func encodeMove(kind byte, shard int, num uint64, unfenced bool) []byte {
	return appendMove(make([]byte, 0, moveSize), kind, shard, num, unfenced)
}

func appendMove(b []byte, kind byte, shard int, num uint64, unfenced bool) []byte {
	b = binary.AppendUvarint(append(b, kind), uint64(shard))
	b = binary.AppendUvarint(b, num)
	f := uint64(0)
	if unfenced {
		f = 1
	}
	return binary.AppendUvarint(b, f)
}

// EncodeFreeze encodes Freeze(shard, num); unfenced (UNSAFE controllers
// only) skips the fence check.
func EncodeFreeze(shard int, num uint64, unfenced bool) []byte {
	return encodeMove(opFreeze, shard, num, unfenced)
}

// EncodeInstall encodes Install(shard, data, num).
func EncodeInstall(shard int, num uint64, unfenced bool, data []byte) []byte {
	return appendInstall(make([]byte, 0, installSize(data)), shard, num, unfenced, data)
}

func installSize(data []byte) int { return moveSize + binary.MaxVarintLen64 + len(data) }

func appendInstall(b []byte, shard int, num uint64, unfenced bool, data []byte) []byte {
	return wire.AppendBytes(appendMove(b, opInstall, shard, num, unfenced), data)
}

// EncodeDelete encodes Delete(shard, num).
func EncodeDelete(shard int, num uint64, unfenced bool) []byte {
	return encodeMove(opDelete, shard, num, unfenced)
}

// DoOp applies one encoded op and returns its encoded Reply (the
// rsm.StateMachine method).
func (g *GroupSM) DoOp(op []byte) []byte {
	r := g.do(op, false)
	if g.dataOf != 0 {
		return g.answerFreeze(r)
	}
	return g.encode(r)
}

// answerFreeze is DoOp's answer after a successful Freeze: the reply and
// its encoding are written at once, the shard's encoding straight into the
// reply's, which r.Data then shares (both are immutable from here on).
func (g *GroupSM) answerFreeze(r Reply) []byte {
	e := g.shards[g.dataOf-1].data.encoding()
	g.dataOf = 0
	b := r.appendHead(make([]byte, 0, r.maxSize()+binary.MaxVarintLen64+e.size))
	b = binary.AppendUvarint(b, uint64(e.size))
	at := len(b)
	b = e.appendTo(b)
	r.Data = b[at:len(b):len(b)]
	g.last, g.lastRes = r, b
	return b
}

// ApplyOnly applies one encoded op as DoOp does, without encoding its
// result: the rsm.ResultlessApplier method, for the replicas whose RSM
// answers nobody (every follower; a group's ops carry no client).
func (g *GroupSM) ApplyOnly(op []byte) {
	g.do(op, false)
	g.dataOf = 0 // a Freeze's data is not encoded: nobody reads it
}

// Query answers a Get from local state (the rsm.Querier method); anything
// else is ErrBadRequest.
func (g *GroupSM) Query(op []byte) []byte { return g.encode(g.do(op, true)) }

func (g *GroupSM) bad(format string, args ...any) Reply {
	g.logf("shard group: "+format, args...)
	return Reply{Err: kv.ErrBadRequest}
}

func (g *GroupSM) do(op []byte, readOnly bool) Reply {
	if len(op) == 0 {
		return g.bad("empty op")
	}
	d := wire.NewDecoder(op[1:])
	switch op[0] {
	case opGet:
		key := g.intern(d.View())
		if err := d.Done(); err != nil {
			return g.bad("Get: %v", err)
		}
		return g.get(key)
	case opPut:
		if readOnly {
			return g.bad("Put as a read")
		}
		key, val, ver, client, seq := g.intern(d.View()), d.Str(), d.Uvarint(), d.Uvarint(), d.Uvarint()
		if err := d.Done(); err != nil {
			return g.bad("Put: %v", err)
		}
		return g.put(key, val, ver, client, seq)
	case opFreeze, opInstall, opDelete:
		if readOnly {
			return g.bad("op %d as a read", op[0])
		}
		s, num, flag := d.Uvarint(), d.Uvarint(), d.Uvarint()
		var data []byte
		if op[0] == opInstall {
			data = d.Bytes()
		}
		if err := d.Done(); err != nil {
			return g.bad("op %d: %v", op[0], err)
		}
		if s >= uint64(len(g.shards)) || flag > 1 {
			return g.bad("op %d: shard %d of %d, flag %d", op[0], s, len(g.shards), flag)
		}
		fenced := flag == 0 && !g.opts.UnsafeAcceptStale
		switch op[0] {
		case opFreeze:
			return g.freeze(int(s), num, fenced)
		case opInstall:
			return g.install(int(s), num, fenced, data)
		default:
			return g.delete(int(s), num, fenced)
		}
	}
	return g.bad("unknown op kind %d", op[0])
}

// serving reports whether shard s takes Gets and Puts.
func (g *GroupSM) serving(s int) bool {
	st := g.shards[s].status
	return st == Serving || (st == Frozen && g.opts.UnsafeServeFrozen)
}

func (g *GroupSM) get(key string) Reply {
	if err := (kv.Op{Kind: kv.KindGet, Key: key}).Validate(); err != nil {
		return g.bad("Get: %v", err)
	}
	s := Key2Shard(key, len(g.shards))
	if !g.serving(s) {
		return Reply{Err: ErrWrongGroup}
	}
	r := g.shards[s].data.Store.Get(key)
	return Reply{Err: r.Err, Value: r.Value, Version: r.Version}
}

func (g *GroupSM) put(key, val string, ver, client, seq uint64) Reply {
	if err := (kv.Op{Kind: kv.KindPut, Key: key, Value: val, Version: ver}).Validate(); err != nil {
		return g.bad("Put: %v", err)
	}
	s := Key2Shard(key, len(g.shards))
	if !g.serving(s) {
		return Reply{Err: ErrWrongGroup}
	}
	sd := g.shards[s].data
	if client != 0 {
		if e, ok := sd.Dup[client]; ok {
			switch {
			case seq == e.Seq:
				return Reply{Err: e.Err, Version: e.Version}
			case seq < e.Seq:
				return Reply{Err: ErrStale}
			}
		}
	}
	r := sd.Store.Put(key, val, ver)
	if client != 0 {
		if sd.Dup == nil {
			sd.Dup = map[uint64]DupEntry{}
			g.shards[s].data.Dup = sd.Dup
		}
		sd.Dup[client] = DupEntry{Seq: seq, Err: r.Err, Version: r.Version}
	}
	return Reply{Err: r.Err, Version: r.Version}
}

// freeze stops serving shard s for the move to configuration num and
// returns its data. Idempotent: a frozen shard answers with the same data.
func (g *GroupSM) freeze(s int, num uint64, fenced bool) Reply {
	sl := &g.shards[s]
	if fenced && num < sl.num {
		return Reply{Err: ErrStale, Num: sl.num}
	}
	if fenced {
		sl.num = num
	}
	if sl.status == Absent {
		return Reply{Err: ErrNotOwned, Num: sl.num}
	}
	if sl.status != Frozen {
		sl.status = Frozen
		g.changed(s)
	}
	g.dataOf = s + 1 // the data, encoded only if the reply is (see answerFreeze)
	return Reply{Err: kv.OK, Num: sl.num}
}

// install takes shard s with data at configuration num. Idempotent: a shard
// already held at fence num is left as it is (it may have served writes
// since), so a retried or stale-but-equal Install never rolls it back.
func (g *GroupSM) install(s int, num uint64, fenced bool, data []byte) Reply {
	sl := &g.shards[s]
	if fenced && num < sl.num {
		return Reply{Err: ErrStale, Num: sl.num}
	}
	if fenced && num == sl.num && sl.status != Absent {
		return Reply{Err: kv.OK, Num: sl.num}
	}
	sd, err := DecodeShardData(data)
	if err != nil {
		return g.bad("Install of shard %d at %d: %v", s, num, err)
	}
	if fenced {
		sl.num = num
	}
	sl.status, sl.data = Serving, sd
	g.changed(s)
	return Reply{Err: kv.OK, Num: sl.num}
}

// delete drops frozen shard s at configuration num. Idempotent: an absent
// shard answers OK; a serving one is refused (ErrNotFrozen).
func (g *GroupSM) delete(s int, num uint64, fenced bool) Reply {
	sl := &g.shards[s]
	if fenced && num < sl.num {
		return Reply{Err: ErrStale, Num: sl.num}
	}
	if sl.status == Serving {
		g.logf("shard group: Delete of serving shard %d at %d refused", s, num)
		return Reply{Err: ErrNotFrozen, Num: sl.num}
	}
	if fenced {
		sl.num = num
	}
	was := sl.status
	sl.status, sl.data = Absent, ShardData{}
	if was != Absent {
		g.changed(s)
	}
	return Reply{Err: kv.OK, Num: sl.num}
}

// groupMagic starts every group snapshot.
const groupMagic = "SG1"

// Snapshot encodes every slot: fence, status and, if held, its data (the
// rsm.StateMachine method).
func (g *GroupSM) Snapshot() []byte {
	// Gather every held shard's encoding first, then write all into one
	// buffer of the right size.
	encs := make([]shardEncoding, len(g.shards))
	n := len(groupMagic) + binary.MaxVarintLen64
	for i, sl := range g.shards {
		n += 2 * binary.MaxVarintLen64
		if sl.status != Absent {
			encs[i] = sl.data.encoding()
			n += binary.MaxVarintLen64 + encs[i].size
		}
	}
	b := append(make([]byte, 0, n), groupMagic...)
	b = binary.AppendUvarint(b, uint64(len(g.shards)))
	for i, sl := range g.shards {
		b = binary.AppendUvarint(b, sl.num)
		b = binary.AppendUvarint(b, uint64(sl.status))
		if sl.status != Absent {
			b = binary.AppendUvarint(b, uint64(encs[i].size))
			b = encs[i].appendTo(b)
		}
	}
	return b
}

// Restore replaces the state with a snapshot's (empty: every shard absent
// at fence 0). A snapshot that does not decode (or has another shard count)
// is reported through Fail and leaves the state empty.
func (g *GroupSM) Restore(data []byte) {
	shards, err := decodeGroup(data, len(g.shards))
	if err != nil {
		if g.Fail != nil {
			g.Fail(CheckDecode, "group snapshot: %v", err)
		}
		shards = make([]slot, len(g.shards))
	}
	g.shards = shards
	for s := range g.shards {
		g.changed(s)
	}
}

func decodeGroup(data []byte, n int) ([]slot, error) {
	shards := make([]slot, n)
	if len(data) == 0 {
		return shards, nil
	}
	if len(data) < len(groupMagic) || string(data[:len(groupMagic)]) != groupMagic {
		return nil, errors.New("bad magic")
	}
	d := wire.NewDecoder(data[len(groupMagic):])
	if got := d.Uvarint(); d.Err() == nil && got != uint64(n) {
		return nil, fmt.Errorf("%d shards, want %d", got, n)
	}
	for i := range shards {
		shards[i].num = d.Uvarint()
		sv := d.Uvarint()
		if d.Err() != nil {
			break
		}
		st := Status(sv)
		if sv > uint64(Frozen) {
			st = 255
		}
		switch st {
		case Absent:
		case Serving, Frozen:
			sd, err := DecodeShardData(d.View()) // kept: no byte of it
			if err != nil {
				d.Fail(err)
			}
			shards[i].data = sd
		default:
			d.Fail(fmt.Errorf("shard %d: status %d", i, st))
		}
		shards[i].status = st
	}
	if err := d.Done(); err != nil {
		return nil, err
	}
	return shards, nil
}
