package shard

import (
	"errors"

	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/nodes/rsm"
	"github.com/smilingraft/dsim/sim"
)

// FreezeArgs asks a group to stop serving Shard for the move to
// configuration Num and to return its data. Unfenced (sent only by an
// UNSAFE controller) skips the group's fence check, as a system without
// fencing tokens would.
type FreezeArgs struct {
	Shard    int
	Num      uint64
	Unfenced bool
}

// Size is the encoded size in bytes.
func (a *FreezeArgs) Size() int { return 4 + 8 + 1 }

// InstallArgs asks a group to take Shard with Data (a ShardData encoding)
// at configuration Num.
type InstallArgs struct {
	Shard    int
	Num      uint64
	Unfenced bool
	Data     []byte
}

// Size is the encoded size in bytes.
func (a *InstallArgs) Size() int { return 4 + 8 + 1 + 4 + len(a.Data) }

// DeleteArgs asks a group to drop frozen Shard at configuration Num.
type DeleteArgs struct {
	Shard    int
	Num      uint64
	Unfenced bool
}

// Size is the encoded size in bytes.
func (a *DeleteArgs) Size() int { return 4 + 8 + 1 }

// MoveReply answers FreezeArgs, InstallArgs and DeleteArgs: OK,
// kv.ErrWrongLeader (try another server), ErrStale (Num is older than the
// shard's fence, which Num reports), ErrNotOwned (Freeze of a shard not
// held), ErrNotFrozen (Delete of a serving shard) or kv.ErrBadRequest.
type MoveReply struct {
	Err  kv.Err
	Num  uint64
	Data []byte // Freeze OK: the shard's data
}

// Size is the encoded size in bytes.
func (r *MoveReply) Size() int { return 1 + 8 + 4 + len(r.Data) }

// GroupConfig configures one server of a shard group.
type GroupConfig struct {
	// RSM is the peer's replicated-state-machine configuration (Raft's Me,
	// Peers and ReadMode set by the scenario; MaxRaftState bounds Raft's
	// state, and snapshots hold every shard's data and fence).
	RSM rsm.Config
	// GID is the group's id (for logs and Inspect).
	GID GID
	// NShards is the deployment's number of shards (<= 0: DefaultNShards);
	// it must equal the configurations' len(Shards).
	NShards int
	// Options are the UNSAFE switches of the state machine.
	Options GroupOptions
	// Observer, when set, hears every change of a shard's status in this
	// server's state machine (see ShardObserver); nil in production.
	Observer ShardObserver
}

// ShardObserver hears a group server's shard status changes, for online
// checkers (checkers/shardcheck's single ownership). Index is the Raft
// index the server had applied when the change happened (0 while the
// server restores its snapshot at start); replicas apply the same log, so a
// checker takes, per group, the changes of whichever replica is furthest
// along. Accepts says whether the shard now takes Gets and Puts.
type ShardObserver interface {
	ShardChanged(gid GID, me int, index uint64, shard int, st Status, accepts bool)
}

// Server is one member of a shard group (the lab's shardgrp server): an
// rsm.RSM whose state machine is a GroupSM. It serves kv.GetArgs and
// kv.PutArgs (so the replies are kv.GetReply and kv.PutReply, with
// ErrWrongGroup for a shard it does not serve) and the controller's
// FreezeArgs, InstallArgs and DeleteArgs (MoveReply). Puts and the three
// move ops go through the log with duplicate detection off in the RSM (the
// per-shard table of GroupSM does it); Gets go through rsm.Read.
// Malformed input gets kv.ErrBadRequest (or is dropped) and a log line,
// never a panic. Its whole state is Raft's disk. It implements sim.Node,
// sim.Roler and sim.Inspector.
type Server struct {
	cfg GroupConfig
	env *sim.Env
	sm  *GroupSM
	r   *rsm.RSM

	gets, puts, moves, wrongLeader, bad uint64

	free sim.FreeList[request] // finished requests, for reuse
	ops  slab                  // the encoded Get and Put ops are carved from it
}

// Kinds of request.
const (
	reqGet = iota
	reqPut
	reqMove
)

// request is one Get, Put or move op submitted to (or read from) the RSM:
// what its answer needs. The RSM calls a Submit's or Read's callback
// exactly once, so a request is reused once answered, and its callback,
// done, is bound once per record, not once per op.
type request struct {
	s     *Server
	from  sim.NodeID
	req   *sim.Request
	what  string
	kind  uint8
	put   *kv.PutArgs // reqPut: the request's arguments
	shard int         // reqMove: the shard
	done  func(res []byte, err error)
}

// request returns a cleared request record.
func (s *Server) request() *request {
	if q := s.free.Get(); q != nil {
		return q
	}
	q := &request{s: s}
	q.done = q.finish
	return q
}

// Shared replies that carry nothing but an outcome: messages are never
// modified once sent, so one value serves every such answer.
var (
	getWrongLeader = &kv.GetReply{Err: kv.ErrWrongLeader}
	getBadRequest  = &kv.GetReply{Err: kv.ErrBadRequest}
	getWrongGroup  = &kv.GetReply{Err: ErrWrongGroup}
	getNoKey       = &kv.GetReply{Err: kv.ErrNoKey}
	putReplies     = [...]*kv.PutReply{{Err: kv.OK}, {Err: kv.ErrVersion}, {Err: kv.ErrNoKey}, {Err: kv.ErrWrongLeader},
		{Err: kv.ErrBadRequest}, {Err: ErrWrongGroup}, {Err: ErrStale}}
	moveWrongLeader = &MoveReply{Err: kv.ErrWrongLeader}
	moveBadRequest  = &MoveReply{Err: kv.ErrBadRequest}
)

// getReply returns the Get answer r (a shared one when it has no value).
func getReply(r Reply) sim.Message {
	if r.Value == "" && r.Version == 0 {
		switch r.Err {
		case kv.ErrWrongLeader:
			return getWrongLeader
		case kv.ErrBadRequest:
			return getBadRequest
		case ErrWrongGroup:
			return getWrongGroup
		case kv.ErrNoKey:
			return getNoKey
		}
	}
	return &kv.GetReply{Value: r.Value, Version: r.Version, Err: r.Err}
}

// putReply returns the Put answer e (a shared one for a known outcome).
func putReply(e kv.Err) sim.Message {
	for _, r := range putReplies {
		if r.Err == e {
			return r
		}
	}
	return &kv.PutReply{Err: e}
}

// ok is the request's answer for the state machine's reply r.
func (q *request) ok(r Reply) sim.Message {
	s := q.s
	switch q.kind {
	case reqGet:
		return getReply(r)
	case reqPut:
		if a := q.put; r.Err == kv.ErrVersion && a.Version > r.Version {
			s.env.Logf("shard group %d: Put of %q from %d at version %d, from the future (current %d)",
				s.cfg.GID, a.Key, q.from, a.Version, r.Version)
		}
		return putReply(r.Err)
	}
	if r.Err == ErrStale {
		s.env.Logf("shard group %d: stale %s of shard %d from %d refused (fence %d)", s.cfg.GID, q.what, q.shard, q.from, r.Num)
	}
	return &MoveReply{Err: r.Err, Num: r.Num, Data: r.Data}
}

// fail is the request's answer when this server cannot serve it.
func (q *request) fail(e kv.Err) sim.Message {
	switch q.kind {
	case reqGet:
		return getReply(Reply{Err: e})
	case reqPut:
		return putReply(e)
	}
	switch e {
	case kv.ErrWrongLeader:
		return moveWrongLeader
	case kv.ErrBadRequest:
		return moveBadRequest
	}
	return &MoveReply{Err: e}
}

// finish answers the request with the RSM's result and frees the record.
func (q *request) finish(res []byte, err error) {
	s := q.s
	var reply sim.Message
	switch {
	case errors.Is(err, rsm.ErrWrongLeader):
		s.wrongLeader++
		reply = q.fail(kv.ErrWrongLeader)
	case err != nil:
		s.bad++
		s.env.Logf("shard group %d: %s from %d refused: %v", s.cfg.GID, q.what, q.from, err)
		reply = q.fail(kv.ErrBadRequest)
	default:
		r, ok := s.sm.decoded(res)
		var derr error
		if !ok {
			r, derr = DecodeReply(res)
		}
		if derr != nil {
			s.bad++
			s.env.Logf("shard group %d: %s from %d: %v", s.cfg.GID, q.what, q.from, derr)
			reply = q.fail(kv.ErrBadRequest)
		} else {
			reply = q.ok(r)
		}
	}
	from, req := q.from, q.req
	*q = request{s: s, done: q.done}
	s.free.Put(q)
	s.env.Reply(from, req, reply)
}

// NewServer returns a group server factory's node value.
func NewServer(cfg GroupConfig) *Server { return &Server{cfg: cfg} }

// Start builds the state machine and the RSM (restored from Raft's
// snapshot and log). A bad Config fails the run as "setup".
func (s *Server) Start(env *sim.Env) {
	s.env = env
	s.sm = NewGroupSM(s.cfg.NShards, s.cfg.Options)
	s.sm.Logf = env.Logf
	s.sm.Fail = env.Fail
	if obs := s.cfg.Observer; obs != nil {
		s.sm.OnChange = func(shard int, st Status, accepts bool) {
			idx := uint64(0)
			if s.r != nil {
				idx = s.r.Applied()
			}
			obs.ShardChanged(s.cfg.GID, s.cfg.RSM.Raft.Me, idx, shard, st, accepts)
		}
	}
	r, err := rsm.New(env, s.cfg.RSM, s.sm)
	if err != nil {
		env.Fail("setup", "shard group %d server: %v", s.cfg.GID, err)
		return
	}
	s.r = r
}

// SM returns the server's state machine (for checkers and tests).
func (s *Server) SM() *GroupSM { return s.sm }

// RSM returns the server's replicated state machine (nil before Start or
// after a bad Config).
func (s *Server) RSM() *rsm.RSM { return s.r }

// GID returns the server's group.
func (s *Server) GID() GID { return s.cfg.GID }

// Role reports Raft's term and whether this server believes it leads.
func (s *Server) Role() (term uint64, leader bool) {
	if s.r == nil {
		return 0, false
	}
	return s.r.Raft().State()
}

// Inspect returns the server's state for a stopped run.
func (s *Server) Inspect() any {
	out := map[string]any{"gid": s.cfg.GID, "gets": s.gets, "puts": s.puts, "moves": s.moves,
		"wrong_leader": s.wrongLeader, "bad": s.bad}
	if s.sm != nil {
		out["held"], out["bytes"] = s.sm.Held(), s.sm.Bytes()
	}
	if s.r != nil {
		out["rsm"] = s.r.Inspect()
	}
	return out
}

// Receive routes Raft's messages to the RSM and serves requests.
func (s *Server) Receive(from sim.NodeID, msg sim.Message) {
	if s.r != nil && s.r.Step(from, msg) {
		return
	}
	req, ok := msg.(*sim.Request)
	if !ok {
		s.bad++
		s.env.Logf("shard group %d: dropped a %T from %d: not a request", s.cfg.GID, msg, from)
		return
	}
	switch a := req.Body.(type) {
	case *kv.GetArgs:
		s.gets++
		if err := a.Op().Validate(); err != nil {
			s.badReq(from, req, "Get", err, &kv.GetReply{Err: kv.ErrBadRequest})
			return
		}
		q := s.request()
		q.kind = reqGet
		s.run(from, req, "Get", s.getOp(a.Key), true, q)
	case *kv.PutArgs:
		s.puts++
		if err := a.Op().Validate(); err != nil {
			s.badReq(from, req, "Put", err, &kv.PutReply{Err: kv.ErrBadRequest})
			return
		}
		q := s.request()
		q.kind, q.put = reqPut, a
		s.run(from, req, "Put", s.putOp(a), false, q)
	case *FreezeArgs:
		s.move(from, req, "Freeze", a.Shard, s.moveOp(opFreeze, a.Shard, a.Num, a.Unfenced, nil))
	case *InstallArgs:
		s.move(from, req, "Install", a.Shard, s.moveOp(opInstall, a.Shard, a.Num, a.Unfenced, a.Data))
	case *DeleteArgs:
		s.move(from, req, "Delete", a.Shard, s.moveOp(opDelete, a.Shard, a.Num, a.Unfenced, nil))
	default:
		s.bad++
		s.env.Logf("shard group %d: bad request %T from %d", s.cfg.GID, req.Body, from)
		s.env.Reply(from, req, &kv.BadReply{Err: kv.ErrBadRequest})
	}
}

// getOp encodes a Get of key, in the ops slab when it fits (the ops given
// to the RSM are never written to again, as its results are not).
func (s *Server) getOp(key string) []byte {
	if !s.ops.room(getSize(key)) {
		return EncodeGet(key)
	}
	at := len(s.ops.buf)
	s.ops.buf = appendGet(s.ops.buf, key)
	return s.ops.cut(at)
}

// putOp encodes the Put a, in the ops slab when it fits.
func (s *Server) putOp(a *kv.PutArgs) []byte {
	if !s.ops.room(putSize(a.Key, a.Value)) {
		return EncodePut(a.Key, a.Value, a.Version, a.Client, a.Seq)
	}
	at := len(s.ops.buf)
	s.ops.buf = appendPut(s.ops.buf, a.Key, a.Value, a.Version, a.Client, a.Seq)
	return s.ops.cut(at)
}

// moveOp encodes a Freeze, Install (with data) or Delete op, in the ops
// slab when it fits.
func (s *Server) moveOp(kind byte, shard int, num uint64, unfenced bool, data []byte) []byte {
	if kind != opInstall {
		if !s.ops.room(moveSize) {
			return encodeMove(kind, shard, num, unfenced)
		}
		at := len(s.ops.buf)
		s.ops.buf = appendMove(s.ops.buf, kind, shard, num, unfenced)
		return s.ops.cut(at)
	}
	if !s.ops.room(installSize(data)) {
		return EncodeInstall(shard, num, unfenced, data)
	}
	at := len(s.ops.buf)
	s.ops.buf = appendInstall(s.ops.buf, shard, num, unfenced, data)
	return s.ops.cut(at)
}

func (s *Server) badReq(from sim.NodeID, req *sim.Request, what string, err error, reply sim.Message) {
	s.bad++
	s.env.Logf("shard group %d: bad %s from %d: %v", s.cfg.GID, what, from, err)
	s.env.Reply(from, req, reply)
}

func (s *Server) move(from sim.NodeID, req *sim.Request, what string, shard int, op []byte) {
	s.moves++
	if shard < 0 || shard >= s.sm.NShards() {
		s.badReq(from, req, what, errors.New("shard out of range"), &MoveReply{Err: kv.ErrBadRequest})
		return
	}
	q := s.request()
	q.kind, q.shard = reqMove, shard
	s.run(from, req, what, op, false, q)
}

// run submits op (or reads it) for q, which answers with the result, or
// with an error when this server cannot serve it.
func (s *Server) run(from sim.NodeID, req *sim.Request, what string, op []byte, read bool, q *request) {
	q.from, q.req, q.what = from, req, what
	if s.r == nil {
		reply := q.fail(kv.ErrWrongLeader)
		*q = request{s: s, done: q.done}
		s.free.Put(q)
		s.env.Reply(from, req, reply)
		return
	}
	if read {
		s.r.Read(op, q.done)
		return
	}
	s.r.Submit(0, 0, op, q.done)
}
