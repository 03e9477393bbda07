package kv

import "github.com/smilingraft/dsim/sim"

// GetArgs asks for a key's value and version. Client and Seq identify the
// clerk and its operation (a retry reuses Seq) for servers that deduplicate
// (the replicated KV); the single server ignores them.
type GetArgs struct {
	Key         string
	Client, Seq uint64
}

// Size is the encoded size in bytes.
func (a *GetArgs) Size() int { return 4 + len(a.Key) + 16 }

// Op returns the request as a store operation.
func (a *GetArgs) Op() Op { return Op{Kind: KindGet, Key: a.Key} }

// GetReply answers a GetArgs.
type GetReply struct {
	Value   string
	Version uint64
	Err     Err
}

// Size is the encoded size in bytes.
func (r *GetReply) Size() int { return 4 + len(r.Value) + 8 + 1 }

// PutArgs asks to store Value under Key if the key's version is Version.
type PutArgs struct {
	Key, Value  string
	Version     uint64
	Client, Seq uint64
}

// Size is the encoded size in bytes.
func (a *PutArgs) Size() int { return 8 + len(a.Key) + len(a.Value) + 8 + 16 }

// Op returns the request as a store operation.
func (a *PutArgs) Op() Op { return Op{Kind: KindPut, Key: a.Key, Value: a.Value, Version: a.Version} }

// PutReply answers a PutArgs.
type PutReply struct {
	Err Err
}

// Size is the encoded size in bytes.
func (r *PutReply) Size() int { return 1 }

// Shared replies that carry nothing but an Err: a message is never changed
// once sent (sim.World's contract; no receiver writes to a reply), so
// servers answer equal errors with one value instead of allocating a reply
// per request.
var (
	putOK, putNoKey, putVersion, putWrongLeader, putBad = &PutReply{Err: OK}, &PutReply{Err: ErrNoKey},
		&PutReply{Err: ErrVersion}, &PutReply{Err: ErrWrongLeader}, &PutReply{Err: ErrBadRequest}
	getNoKey, getWrongLeader, getBad = &GetReply{Err: ErrNoKey}, &GetReply{Err: ErrWrongLeader}, &GetReply{Err: ErrBadRequest}
)

// putReply returns the reply to a Put answered err (shared for the usual
// errors; see putOK).
func putReply(err Err) *PutReply {
	switch err {
	case OK:
		return putOK
	case ErrNoKey:
		return putNoKey
	case ErrVersion:
		return putVersion
	case ErrWrongLeader:
		return putWrongLeader
	case ErrBadRequest:
		return putBad
	}
	return &PutReply{Err: err}
}

// getReply returns the reply to a Get answered r (shared when it carries
// only an error; see putOK).
func getReply(r Result) *GetReply {
	if r.Value == "" && r.Version == 0 {
		switch r.Err {
		case ErrNoKey:
			return getNoKey
		case ErrWrongLeader:
			return getWrongLeader
		case ErrBadRequest:
			return getBad
		}
	}
	return &GetReply{Value: r.Value, Version: r.Version, Err: r.Err}
}

// BadReply answers a request whose body is not a KV request at all.
type BadReply struct {
	Err Err // ErrBadRequest
}

// Size is the encoded size in bytes.
func (r *BadReply) Size() int { return 1 }

// writer is the RPC attempt (caller, call id) that wrote a key's current
// version. Copies of one attempt made by a duplicating network share it;
// a clerk's retry is a new call with a new id.
type writer struct {
	from sim.NodeID
	call uint64
}

// Server is the single, unreplicated KV server of the lab (kvsrv). Its state
// is volatile, like the lab's: a crash loses every key, so its scenarios
// never crash it (pauses, delays, loss, duplication and cuts are fair).
//
// It keeps no per-client state: memory grows with keys and values only, not
// with clients or retried operations. For each key it remembers only which
// RPC attempt wrote the current version, so that a network-duplicated copy
// of that very request is answered OK again instead of ErrVersion (a clerk
// would otherwise see ErrVersion on a first attempt that applied). A clerk's
// retry is a new attempt and gets ErrVersion, which the clerk turns into
// ErrMaybe, as in the lab. A duplicate that arrives after another write of
// the same key still gets ErrVersion: no server without per-client state can
// do better, so scenarios that duplicate messages give each key one writer.
type Server struct {
	env        *sim.Env
	store      *Store
	lastWriter map[string]writer
	gets, puts uint64
}

// NewServer returns a server factory's node value.
func NewServer() *Server { return &Server{} }

// Start boots the server empty (its state is volatile).
func (s *Server) Start(env *sim.Env) {
	s.env = env
	s.store = NewStore()
	s.lastWriter = map[string]writer{}
}

// Store returns the server's state machine (for checkers and tests).
func (s *Server) Store() *Store { return s.store }

// StateBytes is the accounted size of everything the server keeps: the
// store plus one writer record per key. It does not grow with clients.
func (s *Server) StateBytes() int { return s.store.Bytes() + len(s.lastWriter)*16 }

// Inspect returns the server's state for a stopped run.
func (s *Server) Inspect() any {
	return map[string]any{"keys": s.store.Len(), "bytes": s.StateBytes(), "gets": s.gets, "puts": s.puts}
}

// Receive serves GetArgs and PutArgs requests. Anything else gets an error
// reply (or, if it is not even a request, is dropped) and a log line.
func (s *Server) Receive(from sim.NodeID, msg sim.Message) {
	req, ok := msg.(*sim.Request)
	if !ok {
		s.env.Logf("kvsrv: dropped a %T from %d: not a request", msg, from)
		return
	}
	switch a := req.Body.(type) {
	case *GetArgs:
		s.gets++
		if err := a.Op().Validate(); err != nil {
			s.env.Logf("kvsrv: bad Get from %d: %v", from, err)
			s.env.Reply(from, req, getBad)
			return
		}
		s.env.Reply(from, req, getReply(s.store.Get(a.Key)))
	case *PutArgs:
		s.puts++
		s.env.Reply(from, req, putReply(s.put(from, req.ID, a)))
	default:
		s.env.Logf("kvsrv: bad request %T from %d", req.Body, from)
		s.env.Reply(from, req, &BadReply{Err: ErrBadRequest})
	}
}

func (s *Server) put(from sim.NodeID, call uint64, a *PutArgs) Err {
	if err := a.Op().Validate(); err != nil {
		s.env.Logf("kvsrv: bad Put from %d: %v", from, err)
		return ErrBadRequest
	}
	if w, ok := s.lastWriter[a.Key]; ok && w == (writer{from, call}) {
		s.env.Sometimes("kvsrv: duplicate of the request that wrote the current version")
		return OK
	}
	r := s.store.Put(a.Key, a.Value, a.Version)
	switch {
	case r.Err == OK:
		s.lastWriter[a.Key] = writer{from, call}
	case r.Err == ErrVersion && a.Version > r.Version:
		s.env.Logf("kvsrv: Put of %q from %d at version %d, from the future (current %d)", a.Key, from, a.Version, r.Version)
	}
	return r.Err
}
