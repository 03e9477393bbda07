package kv

import (
	"errors"

	"github.com/smilingraft/dsim/nodes/rsm"
	"github.com/smilingraft/dsim/sim"
)

// RaftServer is one server of the replicated KV (the lab's kvraft, LABS.md
// §2.5): it hosts an rsm.RSM over nodes/raft with a Store as its state
// machine and serves the same GetArgs/PutArgs as Server, so the same Clerk
// drives it.
//
//   - A Put goes through rsm.Submit with the clerk's (Client, Seq), so a
//     retried Put whose first copy committed is answered from the duplicate
//     table (OK) instead of being applied again or answered ErrVersion.
//   - A Get goes through rsm.Read: the log, ReadIndex or the leader's lease,
//     as Config.Raft.ReadMode (the raft.read variant key) says.
//   - A server that is not the leader, or stops being it before the op
//     applies, answers ErrWrongLeader and the clerk tries the next server.
//   - Malformed input (an unknown body, an oversized key or value, a message
//     that is not a request) gets ErrBadRequest (or is dropped) and a line
//     in the node's log, never a panic; a Put from the future (a version
//     past the key's) is logged and answered ErrVersion like any mismatch.
//
// Its whole state is Raft's disk: a restart rebuilds the Store from Raft's
// snapshot and log. It implements sim.Node, sim.Roler and sim.Inspector.
type RaftServer struct {
	cfg   rsm.Config
	env   *sim.Env
	store *Store
	s     *rsm.RSM

	gets, puts, wrongLeader, bad uint64
	spare                        sim.FreeList[request] // answered requests, for reuse
}

// request is a Get or Put in the RSM, waiting for its answer; its
// callbacks are bound once, and it is reused once answered (the RSM
// answers each Submit and read exactly once).
type request struct {
	s      *RaftServer
	from   sim.NodeID
	req    *sim.Request
	key    string // Get
	put    *PutArgs
	onGet  func(res []byte, err error) // a Get through the log
	onRead func(err error)             // a Get at a read point
	onPut  func(res []byte, err error)
}

func (s *RaftServer) newRequest(from sim.NodeID, req *sim.Request) *request {
	q := s.spare.Get()
	if q == nil {
		q = &request{s: s}
		q.onGet, q.onRead, q.onPut = q.gotGet, q.readPoint, q.gotPut
	}
	q.from, q.req = from, req
	return q
}

// done sends the reply and keeps q for the next request.
func (q *request) done(reply sim.Message) {
	s := q.s
	s.env.Reply(q.from, q.req, reply)
	q.req, q.key, q.put = nil, "", nil
	s.spare.Put(q)
}

// NewRaftServer returns a server factory's node value for cfg (cfg.Raft.Me,
// Peers and ReadMode set by the scenario).
func NewRaftServer(cfg rsm.Config) *RaftServer { return &RaftServer{cfg: cfg} }

// Start builds the Store and the RSM (Raft from the disk, the Store from
// Raft's snapshot). A bad Config fails the run as "setup".
func (s *RaftServer) Start(env *sim.Env) {
	s.env = env
	s.store = NewStore()
	r, err := rsm.New(env, s.cfg, s.store)
	if err != nil {
		env.Fail("setup", "kv raft server: %v", err)
		return
	}
	s.s = r
}

// Store returns the server's state machine (for checkers and tests).
func (s *RaftServer) Store() *Store { return s.store }

// RSM returns the server's replicated state machine (nil before Start or
// after a bad Config).
func (s *RaftServer) RSM() *rsm.RSM { return s.s }

// Role reports Raft's term and whether this server believes it leads (for
// leader-targeted faults).
func (s *RaftServer) Role() (term uint64, leader bool) {
	if s.s == nil {
		return 0, false
	}
	return s.s.Raft().State()
}

// Inspect returns the server's state for a stopped run.
func (s *RaftServer) Inspect() any {
	out := map[string]any{"gets": s.gets, "puts": s.puts, "wrong_leader": s.wrongLeader, "bad": s.bad}
	if s.store != nil {
		out["keys"], out["bytes"] = s.store.Len(), s.store.Bytes()
	}
	if s.s != nil {
		out["rsm"] = s.s.Inspect()
	}
	return out
}

// Receive routes Raft's messages to the RSM and serves clerk requests.
func (s *RaftServer) Receive(from sim.NodeID, msg sim.Message) {
	if s.s != nil && s.s.Step(from, msg) {
		return
	}
	req, ok := msg.(*sim.Request)
	if !ok {
		s.bad++
		s.env.Logf("kv raft server: dropped a %T from %d: not a request", msg, from)
		return
	}
	switch a := req.Body.(type) {
	case *GetArgs:
		s.gets++
		s.get(from, req, a)
	case *PutArgs:
		s.puts++
		s.put(from, req, a)
	default:
		s.bad++
		s.env.Logf("kv raft server: bad request %T from %d", req.Body, from)
		s.env.Reply(from, req, &BadReply{Err: ErrBadRequest})
	}
}

func (s *RaftServer) get(from sim.NodeID, req *sim.Request, a *GetArgs) {
	op := a.Op()
	if err := op.Validate(); err != nil {
		s.bad++
		s.env.Logf("kv raft server: bad Get from %d: %v", from, err)
		s.env.Reply(from, req, getBad)
		return
	}
	if s.s == nil {
		s.env.Reply(from, req, getWrongLeader)
		return
	}
	q := s.newRequest(from, req)
	q.key = a.Key
	if s.s.LocalReads() {
		s.s.ReadLocal(q.onRead)
		return
	}
	// Read through the log: what rsm.Read does, in one buffer.
	cmd := AppendOp(rsm.AppendCmdHeader(make([]byte, 0, rsm.CmdHeaderMax+op.encodedMax()), 0, 0), op)
	s.s.SubmitCmd(0, 0, cmd, q.onGet)
}

func (q *request) gotGet(res []byte, err error) {
	r, rerr := q.s.result(q.from, "Get", res, err)
	if rerr != "" {
		r = Result{Err: rerr}
	}
	q.done(getReply(r))
}

// readPoint answers a Get from the store at the RSM's read point (what
// Store.Query would answer: the key was validated on arrival).
func (q *request) readPoint(err error) {
	if err != nil {
		_, rerr := q.s.result(q.from, "Get", nil, err)
		q.done(getReply(Result{Err: rerr}))
		return
	}
	q.done(getReply(q.s.store.Get(q.key)))
}

func (s *RaftServer) put(from sim.NodeID, req *sim.Request, a *PutArgs) {
	op := a.Op()
	if err := op.Validate(); err != nil {
		s.bad++
		s.env.Logf("kv raft server: bad Put from %d: %v", from, err)
		s.env.Reply(from, req, putBad)
		return
	}
	if s.s == nil {
		s.env.Reply(from, req, putWrongLeader)
		return
	}
	q := s.newRequest(from, req)
	q.put = a
	cmd := AppendOp(rsm.AppendCmdHeader(make([]byte, 0, rsm.CmdHeaderMax+op.encodedMax()), a.Client, a.Seq), op)
	s.s.SubmitCmd(a.Client, a.Seq, cmd, q.onPut)
}

func (q *request) gotPut(res []byte, err error) {
	s, a := q.s, q.put
	r, rerr := s.result(q.from, "Put", res, err)
	if rerr != "" {
		q.done(putReply(rerr))
		return
	}
	if r.Err == ErrVersion && a.Version > r.Version {
		s.env.Logf("kv raft server: Put of %q from %d at version %d, from the future (current %d)", a.Key, q.from, a.Version, r.Version)
	}
	q.done(putReply(r.Err))
}

// result decodes an RSM answer. A non-empty Err is the reply to send
// instead of the result: ErrWrongLeader when this server cannot serve it,
// ErrBadRequest for an op older than its client's last (a confused clerk)
// or a result that does not decode (logged).
func (s *RaftServer) result(from sim.NodeID, what string, res []byte, err error) (Result, Err) {
	switch {
	case errors.Is(err, rsm.ErrWrongLeader):
		s.wrongLeader++
		return Result{}, ErrWrongLeader
	case err != nil:
		s.bad++
		s.env.Logf("kv raft server: %s from %d refused: %v", what, from, err)
		return Result{}, ErrBadRequest
	}
	r, derr := DecodeResult(res)
	if derr != nil {
		s.bad++
		s.env.Logf("kv raft server: %s from %d: %v", what, from, derr)
		return Result{}, ErrBadRequest
	}
	return r, ""
}
