package etcdsim

import (
	"cmp"
	"encoding/binary"
	"maps"
	"slices"

	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/sim"
	"go.etcd.io/raft/v3"
)

// Read modes (Config.ReadMode).
const (
	// ReadSafe serves a Get through ReadIndex with etcd's ReadOnlySafe: the
	// leader confirms its leadership with a heartbeat round.
	ReadSafe = "safe"
	// ReadLease serves a Get through ReadIndex with ReadOnlyLeaseBased (and
	// CheckQuorum): the leader trusts its lease, no heartbeat round.
	ReadLease = "lease"
	// ReadSerializable is UNSAFE for linearizability: a Get answers from the
	// local store at once, as etcd's serializable reads do.
	ReadSerializable = "serializable"
)

// readIndexRetry is etcd v3.6's readIndexRetryTime: a ReadIndex request
// without an answer is sent again after this long.
const readIndexRetry = 500 * sim.Millisecond

// putKey names one client Put: its session and sequence number.
type putKey struct{ client, seq uint64 }

// waiter is a client request waiting on this peer.
type waiter struct {
	from  sim.NodeID
	req   *sim.Request
	key   string // a Get's key
	timer sim.Timer
}

// server is the etcd server's request path on one peer, mirrored from etcd
// v3.6's EtcdServer: Puts are proposed from any member (a follower's
// RawNode forwards them unless DisableProposalForwarding) and answered when
// this peer applies them, or ErrWrongLeader (the clerk retries elsewhere)
// when the proposal is dropped or times out; Gets wait on the linearizable
// read loop (linearizableReadLoop / requestCurrentIndex): reads arriving
// while a round is in flight join the next round; a round sends one
// ReadIndex with a fresh request id, resends it every readIndexRetry and
// when this peer applies the first entry of a new term, fails on a leader
// change or after the request timeout, and once the ReadState of its own id
// arrives waits for the applied index to reach it and answers every read of
// the round from the local store. Like etcd's raftNode, only the last
// ReadState of a Ready is looked at.
type server struct {
	n       *Node
	puts    map[putKey][]waiter
	cur     []waiter // reads waiting for the next round
	round   []waiter // reads of the round in flight
	active  bool     // a round is in flight
	reqID   uint64   // the round's ReadIndex request id
	reqSeq  uint64
	confirm uint64 // the round's confirmed index (0: waiting for its ReadState)
	retryT  sim.Timer
	errT    sim.Timer
	ctx     [8]byte
}

func newServer(n *Node) *server {
	return &server{n: n, puts: map[putKey][]waiter{}}
}

// request serves a clerk's request.
func (s *server) request(from sim.NodeID, req *sim.Request) {
	n := s.n
	env := n.env
	if n.rn == nil || n.removed || n.removing {
		reply(env, from, req, kv.ErrWrongLeader)
		return
	}
	switch a := req.Body.(type) {
	case *kv.PutArgs:
		op := a.Op()
		if err := op.Validate(); err != nil {
			env.Reply(from, req, &kv.PutReply{Err: kv.ErrBadRequest})
			return
		}
		if ss, ok := n.sm.sessions[a.Client]; ok && a.Seq <= ss.seq {
			if a.Seq == ss.seq {
				env.Sometimes("etcd: a retried put answered from its session")
				env.Reply(from, req, &kv.PutReply{Err: ss.res.Err})
			} else {
				env.Reply(from, req, &kv.PutReply{Err: kv.ErrBadRequest})
			}
			return
		}
		var err error
		n.do(func() { err = n.rn.Propose(encodeKV(a.Client, a.Seq, op)) })
		if err != nil || !env.Alive() {
			if err != nil {
				env.Sometimes("etcd: a proposal was dropped")
			}
			reply(env, from, req, kv.ErrWrongLeader)
			return
		}
		k := putKey{a.Client, a.Seq}
		w := waiter{from: from, req: req}
		w.timer = env.After(n.cfg.ReqTimeout, func() { s.expirePut(k, req) })
		s.puts[k] = append(s.puts[k], w)
	case *kv.GetArgs:
		if err := a.Op().Validate(); err != nil {
			env.Reply(from, req, &kv.GetReply{Err: kv.ErrBadRequest})
			return
		}
		if n.cfg.ReadMode == ReadSerializable || n.cfg.Unsafe == UnsafeLeaderLocalReads && n.leader {
			s.answerGet(waiter{from: from, req: req, key: a.Key})
			return
		}
		s.cur = append(s.cur, waiter{from: from, req: req, key: a.Key})
		if !s.active {
			s.startRound()
		}
	default:
		env.Logf("etcd server: bad request %T from %d", req.Body, from)
		env.Reply(from, req, &kv.BadReply{Err: kv.ErrBadRequest})
	}
}

// reply answers a request of either kind with err.
func reply(env *sim.Env, from sim.NodeID, req *sim.Request, err kv.Err) {
	switch req.Body.(type) {
	case *kv.PutArgs:
		env.Reply(from, req, &kv.PutReply{Err: err})
	case *kv.GetArgs:
		env.Reply(from, req, &kv.GetReply{Err: err})
	default:
		env.Reply(from, req, &kv.BadReply{Err: kv.ErrBadRequest})
	}
}

// expirePut answers a Put that waited the request timeout (etcd's
// ErrTimeout; the clerk treats it as "maybe applied" and retries).
func (s *server) expirePut(k putKey, req *sim.Request) {
	ws := s.puts[k]
	for i, w := range ws {
		if w.req == req {
			reply(s.n.env, w.from, w.req, kv.ErrWrongLeader)
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(s.puts, k)
	} else {
		s.puts[k] = ws
	}
}

// applied answers the Puts waiting for (client, seq) with res.
func (s *server) applied(client, seq uint64, res kv.Result) {
	k := putKey{client, seq}
	ws, ok := s.puts[k]
	if !ok {
		return
	}
	delete(s.puts, k)
	env := s.n.env
	for _, w := range ws {
		env.Cancel(w.timer)
		env.Reply(w.from, w.req, &kv.PutReply{Err: res.Err})
	}
}

// answerGet answers a Get from the local store.
func (s *server) answerGet(w waiter) {
	r := s.n.sm.store.Get(w.key)
	s.n.env.Reply(w.from, w.req, &kv.GetReply{Value: r.Value, Version: r.Version, Err: r.Err})
}

// startRound begins a read round for the reads waiting (etcd: the loop
// woken by readwaitc takes the current notifier).
func (s *server) startRound() {
	if len(s.cur) == 0 {
		return
	}
	n := s.n
	s.active = true
	s.round, s.cur = s.cur, s.round[:0]
	s.reqSeq++
	s.reqID = s.nextID()
	s.confirm = 0
	binary.BigEndian.PutUint64(s.ctx[:], s.reqID)
	s.sendReadIndex()
	s.errT = n.env.After(n.cfg.ReqTimeout, s.timeout)
}

// nextID is the request id of the read round numbered reqSeq: unique
// across members and incarnations, as etcd's member-prefixed id generator
// makes them (the leader keys pending reads by it: two members' rounds
// under one id would be merged).
func (s *server) nextID() uint64 {
	return uint64(s.n.cfg.Me+1)<<48 | uint64(s.n.env.Incarnation()&0xffff)<<32 | s.reqSeq&0xffffffff
}

// sendReadIndex asks the RawNode for a read index under the round's id and
// arms the retry timer.
func (s *server) sendReadIndex() {
	n := s.n
	n.env.Cancel(s.retryT)
	ctx := append([]byte(nil), s.ctx[:]...)
	n.do(func() { n.rn.ReadIndex(ctx) })
	if !n.env.Alive() {
		return
	}
	s.retryT = n.env.After(readIndexRetry, s.retry)
}

func (s *server) retry() {
	if !s.active || s.confirm != 0 {
		return
	}
	s.n.env.Sometimes("etcd: a ReadIndex request was retried")
	s.resend()
}

// resend sends the round's ReadIndex again: under the same request id (the
// etcd v3.6.0 server) or, with Config.ReadRetryNewID, a fresh one (etcd's
// fix for etcd-io/etcd#20418, PR #21399: answers to the old id are then
// ignored as out of date).
func (s *server) resend() {
	if s.n.cfg.ReadRetryNewID {
		s.reqSeq++
		s.reqID = s.nextID()
		binary.BigEndian.PutUint64(s.ctx[:], s.reqID)
	}
	s.sendReadIndex()
}

func (s *server) timeout() {
	if !s.active || s.confirm != 0 {
		return
	}
	s.n.env.Sometimes("etcd: a read round timed out")
	s.finish(false)
}

// readState sees the last ReadState of a Ready.
func (s *server) readState(rs raft.ReadState) {
	if !s.active || s.confirm != 0 {
		return
	}
	if len(rs.RequestCtx) != 8 || binary.BigEndian.Uint64(rs.RequestCtx) != s.reqID {
		s.n.env.Sometimes("etcd: an out-of-date ReadIndex response was ignored")
		return
	}
	s.n.env.Cancel(s.retryT)
	s.n.env.Cancel(s.errT)
	s.confirm = rs.Index
	if rs.Index == 0 {
		s.confirm = 1
	}
	if s.n.cfg.Unsafe == UnsafeReadNoWait {
		s.finish(true)
		return
	}
	s.appliedTo(s.n.applied)
}

// appliedTo is told the applied index after every apply.
func (s *server) appliedTo(applied uint64) {
	if s.active && s.confirm != 0 && applied >= s.confirm {
		s.finish(true)
	}
}

// leaderChanged fails a round still waiting for its ReadState (etcd's
// ErrLeaderChanged, a retryable error).
func (s *server) leaderChanged() {
	if s.active && s.confirm == 0 {
		s.n.env.Sometimes("etcd: a read round failed on a leader change")
		s.finish(false)
	}
}

// firstCommitInTerm resends the round's ReadIndex (etcd resends it when
// the first entry of a new leader's term is applied).
func (s *server) firstCommitInTerm() {
	if s.active && s.confirm == 0 {
		s.resend()
	}
}

// finish answers every read of the round, from the store (ok) or with
// ErrWrongLeader, and starts the next round if reads are waiting.
func (s *server) finish(ok bool) {
	n := s.n
	n.env.Cancel(s.retryT)
	n.env.Cancel(s.errT)
	if ok {
		if n.leader {
			n.env.Sometimes("etcd: a read served by ReadIndex on the leader")
		} else {
			n.env.Sometimes("etcd: a read served by ReadIndex on a follower")
		}
		if n.cfg.ReadMode == ReadLease {
			n.env.Sometimes("etcd: a lease-based read served")
		}
	}
	for _, w := range s.round {
		if ok {
			s.answerGet(w)
		} else {
			reply(n.env, w.from, w.req, kv.ErrWrongLeader)
		}
	}
	clear(s.round)
	s.round = s.round[:0]
	s.active, s.confirm = false, 0
	if len(s.cur) > 0 {
		s.startRound()
	}
}

// stop answers every waiting request ErrWrongLeader (the peer was removed
// from the cluster).
func (s *server) stop() {
	env := s.n.env
	keys := slices.AppendSeq(make([]putKey, 0, len(s.puts)), maps.Keys(s.puts))
	slices.SortFunc(keys, func(a, b putKey) int { return cmp.Or(cmp.Compare(a.client, b.client), cmp.Compare(a.seq, b.seq)) })
	for _, k := range keys {
		for _, w := range s.puts[k] {
			env.Cancel(w.timer)
			reply(env, w.from, w.req, kv.ErrWrongLeader)
		}
		delete(s.puts, k)
	}
	for _, w := range s.cur {
		reply(env, w.from, w.req, kv.ErrWrongLeader)
	}
	s.cur = nil
	if s.active {
		s.finish(false)
	}
}
