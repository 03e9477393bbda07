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
		s.run(from, req, "Get", EncodeGet(a.Key), true, func(r Reply) sim.Message {
			return &kv.GetReply{Value: r.Value, Version: r.Version, Err: r.Err}
		}, func(e kv.Err) sim.Message { return &kv.GetReply{Err: e} })
	case *kv.PutArgs:
		s.puts++
		if err := a.Op().Validate(); err != nil {
			s.badReq(from, req, "Put", err, &kv.PutReply{Err: kv.ErrBadRequest})
			return
		}
		s.run(from, req, "Put", EncodePut(a.Key, a.Value, a.Version, a.Client, a.Seq), false, func(r Reply) sim.Message {
			if r.Err == kv.ErrVersion && a.Version > r.Version {
				s.env.Logf("shard group %d: Put of %q from %d at version %d, from the future (current %d)",
					s.cfg.GID, a.Key, from, a.Version, r.Version)
			}
			return &kv.PutReply{Err: r.Err}
		}, func(e kv.Err) sim.Message { return &kv.PutReply{Err: e} })
	case *FreezeArgs:
		s.move(from, req, "Freeze", a.Shard, EncodeFreeze(a.Shard, a.Num, a.Unfenced))
	case *InstallArgs:
		s.move(from, req, "Install", a.Shard, EncodeInstall(a.Shard, a.Num, a.Unfenced, a.Data))
	case *DeleteArgs:
		s.move(from, req, "Delete", a.Shard, EncodeDelete(a.Shard, a.Num, a.Unfenced))
	default:
		s.bad++
		s.env.Logf("shard group %d: bad request %T from %d", s.cfg.GID, req.Body, from)
		s.env.Reply(from, req, &kv.BadReply{Err: kv.ErrBadRequest})
	}
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
	s.run(from, req, what, op, false, func(r Reply) sim.Message {
		if r.Err == ErrStale {
			s.env.Logf("shard group %d: stale %s of shard %d from %d refused (fence %d)", s.cfg.GID, what, shard, from, r.Num)
		}
		return &MoveReply{Err: r.Err, Num: r.Num, Data: r.Data}
	}, func(e kv.Err) sim.Message { return &MoveReply{Err: e} })
}

// run submits op (or reads it) and replies with ok(result), or fail(err)
// when this server cannot serve it.
func (s *Server) run(from sim.NodeID, req *sim.Request, what string, op []byte, read bool,
	ok func(Reply) sim.Message, fail func(kv.Err) sim.Message) {
	if s.r == nil {
		s.env.Reply(from, req, fail(kv.ErrWrongLeader))
		return
	}
	cb := func(res []byte, err error) {
		switch {
		case errors.Is(err, rsm.ErrWrongLeader):
			s.wrongLeader++
			s.env.Reply(from, req, fail(kv.ErrWrongLeader))
			return
		case err != nil:
			s.bad++
			s.env.Logf("shard group %d: %s from %d refused: %v", s.cfg.GID, what, from, err)
			s.env.Reply(from, req, fail(kv.ErrBadRequest))
			return
		}
		r, derr := DecodeReply(res)
		if derr != nil {
			s.bad++
			s.env.Logf("shard group %d: %s from %d: %v", s.cfg.GID, what, from, derr)
			s.env.Reply(from, req, fail(kv.ErrBadRequest))
			return
		}
		s.env.Reply(from, req, ok(r))
	}
	if read {
		s.r.Read(op, cb)
		return
	}
	s.r.Submit(0, 0, op, cb)
}
