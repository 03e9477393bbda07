package kv

import "github.com/smilingraft/dsim/sim"

// ClerkConfig tunes a clerk. Zero fields take the defaults.
type ClerkConfig struct {
	// Timeout is how long one attempt waits for its reply on the clerk's
	// local clock before it is retried (default 100ms).
	Timeout sim.Duration
	// RetryWait is the pause after a whole round of servers failed (timed
	// out or answered ErrWrongLeader) before the next round (default 10ms).
	RetryWait sim.Duration
	// Tag is copied into every recorded OpInput, so that a scenario can tell
	// apart clerks it gave different roles.
	Tag string
	// Spread starts every operation at a server drawn from the clerk's
	// stream instead of the one that last answered, as etcd's clientv3
	// balancer spreads requests over its endpoints: followers then serve
	// reads and forward writes.
	Spread bool
}

// OpInput is what the clerk records in the world's history when an
// operation starts (plain data; checkers convert it).
type OpInput struct {
	Client  uint64 // the clerk's id
	Tag     string // ClerkConfig.Tag
	Kind    Kind
	Key     string
	Value   string // Put
	Version uint64 // Put
}

// OpOutput is what the clerk records when an operation returns.
type OpOutput struct {
	Value   string // Get
	Version uint64 // Get
	Err     Err
	// Attempts is how many RPCs the operation sent.
	Attempts int
}

// Clerk is the KV client library a client node embeds: Get and Put with the
// lab's semantics over a list of servers (a list of one for the single
// server). It runs one operation at a time; operations issued while one is
// running wait in order. Each attempt waits Timeout for a reply; a timeout or
// ErrWrongLeader moves to the next server, and the server that last answered
// is tried first next time. Requests carry the clerk's id (from env.Rand())
// and a per-operation sequence number, reused by retries, for servers that
// deduplicate.
//
// A Put answered ErrVersion on its first attempt returns ErrVersion; one
// answered ErrVersion after an earlier attempt that got no definite answer
// (timed out, or ErrWrongLeader, whose server may have logged it) returns
// ErrMaybe: that attempt may have applied the Put. Retries are harmless
// because versions only grow: an old attempt still in flight can apply only
// if the key still has the Put's version, which it no longer has once any
// attempt was answered. (Not so for ErrNoKey: a Put with version > 0 on a
// missing key may still apply later from an old attempt if the key is
// created meanwhile; workloads that need linearizability create keys at
// version 0.) A network that duplicates messages could make a first attempt
// see ErrVersion for a Put its own duplicate applied; Server answers such a
// duplicate OK (see Server). Every operation is recorded in the history
// with OpInput and OpOutput.
type Clerk struct {
	env     *sim.Env
	servers []sim.NodeID
	cfg     ClerkConfig
	id      uint64
	seq     uint64
	leader  int
	ops     Serial // one operation at a time
	maybes  uint64
}

// NewClerk returns a clerk of the node owning env, talking to servers.
func NewClerk(env *sim.Env, servers []sim.NodeID, cfg ClerkConfig) *Clerk {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 100 * sim.Millisecond
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 10 * sim.Millisecond
	}
	if len(servers) == 0 {
		panic("kv: NewClerk with no servers")
	}
	id := env.Rand().Uint64() | 1 // never 0: 0 means "no dedup"
	return &Clerk{env: env, servers: append([]sim.NodeID(nil), servers...), cfg: cfg, id: id}
}

// ID returns the clerk's id, carried in every request.
func (ck *Clerk) ID() uint64 { return ck.id }

// Maybes returns how many Puts returned ErrMaybe.
func (ck *Clerk) Maybes() uint64 { return ck.maybes }

// Get fetches key's value and version: cb(value, version, OK), or
// cb("", 0, ErrNoKey) (or ErrBadRequest for a malformed key).
func (ck *Clerk) Get(key string, cb func(value string, version uint64, err Err)) {
	o := &clerkOp{ck: ck, kind: KindGet, key: key, getCb: cb}
	ck.ops.Run(o.init())
}

// Put stores value under key if its version is version: cb(OK),
// cb(ErrVersion), cb(ErrNoKey), cb(ErrMaybe) (see Clerk) or
// cb(ErrBadRequest).
func (ck *Clerk) Put(key, value string, version uint64, cb func(err Err)) {
	o := &clerkOp{ck: ck, kind: KindPut, key: key, value: value, version: version, putCb: cb}
	ck.ops.Run(o.init())
}

// clerkOp is one Get or Put from its start to its answer: one allocation
// holds what closures over the operation, its attempt loop and each RPC's
// callback used to capture one by one (the bound methods are made once).
type clerkOp struct {
	ck      *Clerk
	kind    Kind
	key     string
	value   string // Put
	version uint64 // Put
	getCb   func(value string, version uint64, err Err)
	putCb   func(err Err)

	args      sim.Message
	op        int  // the history's operation id
	uncertain bool // Put: an earlier attempt got no definite answer

	attempts, tried int
	try             func()
	onReply         func(reply sim.Message, ok bool)
}

// init binds the op's reply handler once and returns its start (try, for
// the rare wait after a round without an answer, is bound when needed).
func (o *clerkOp) init() func() {
	o.onReply = o.reply
	return o.start
}

// start runs when the clerk's previous operations are done.
func (o *clerkOp) start() {
	ck := o.ck
	ck.seq++
	if o.kind == KindGet {
		o.args = &GetArgs{Key: o.key, Client: ck.id, Seq: ck.seq}
		o.op = ck.env.Invoke(OpInput{Client: ck.id, Tag: ck.cfg.Tag, Kind: KindGet, Key: o.key})
	} else {
		o.args = &PutArgs{Key: o.key, Value: o.value, Version: o.version, Client: ck.id, Seq: ck.seq}
		o.op = ck.env.Invoke(OpInput{Client: ck.id, Tag: ck.cfg.Tag, Kind: KindPut, Key: o.key, Value: o.value, Version: o.version})
	}
	ck.attempt(o)
}

// handle sees every outcome of an attempt (reply nil on a timeout) and
// returns false when it is no answer.
func (o *clerkOp) handle(reply sim.Message) bool {
	ck := o.ck
	if o.kind == KindGet {
		var r GetReply
		switch rep := reply.(type) {
		case *GetReply:
			r = *rep
		case *BadReply:
			r = GetReply{Err: ErrBadRequest}
		default:
			return false // no answer: a timeout, or a reply of the wrong type
		}
		if r.Err == ErrWrongLeader {
			return false
		}
		ck.env.Return(o.op, OpOutput{Value: r.Value, Version: r.Version, Err: r.Err, Attempts: o.attempts})
		o.getCb(r.Value, r.Version, r.Err)
		return true
	}
	var err Err
	switch rep := reply.(type) {
	case *PutReply:
		err = rep.Err
	case *BadReply:
		err = ErrBadRequest
	default:
		o.uncertain = true // timed out (or garbage): it may have applied
		return false
	}
	if err == ErrWrongLeader {
		o.uncertain = true // that server may have logged it before losing leadership
		return false
	}
	if err == ErrVersion && o.uncertain {
		err = ErrMaybe
		ck.maybes++
		ck.env.Sometimes("kv clerk: ErrMaybe")
	}
	ck.env.Return(o.op, OpOutput{Err: err, Attempts: o.attempts})
	o.putCb(err)
	return true
}

// attempt sends o's args to the current server, then to the next ones,
// until o.handle accepts a reply. A server that answered is tried first by
// the next operation; after a whole round of servers without an answer the
// clerk waits RetryWait.
func (ck *Clerk) attempt(o *clerkOp) {
	if ck.cfg.Spread {
		ck.leader = ck.env.Rand().Intn(len(ck.servers))
	}
	o.doTry()
}

func (o *clerkOp) doTry() {
	ck := o.ck
	o.attempts++
	ck.env.Call(ck.servers[ck.leader], o.args, ck.cfg.Timeout, o.onReply)
}

func (o *clerkOp) reply(reply sim.Message, ok bool) {
	ck := o.ck
	if !ok {
		reply = nil
	}
	if o.handle(reply) {
		ck.ops.Done()
		return
	}
	ck.leader = (ck.leader + 1) % len(ck.servers)
	if o.tried++; o.tried < len(ck.servers) {
		o.doTry()
		return
	}
	o.tried = 0
	if o.try == nil {
		o.try = o.doTry
	}
	ck.env.After(ck.cfg.RetryWait, o.try)
}
