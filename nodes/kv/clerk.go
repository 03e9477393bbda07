package kv

import (
	"fmt"

	"github.com/smilingraft/dsim/sim"
)

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

// String prints the input as traces have always shown a recorded OpInput
// ("kv.OpInput {Client:...}"): a Clerk records a pointer, which would
// otherwise print as "*kv.OpInput &{...}".
func (in *OpInput) String() string { return "kv.OpInput " + fmt.Sprintf("%+v", *in) }

// String prints the output as traces have always shown a recorded
// OpOutput (see OpInput.String).
func (out *OpOutput) String() string { return "kv.OpOutput " + fmt.Sprintf("%+v", *out) }

// InputOf returns an operation's input if it is a KV one: a *OpInput (what
// a Clerk records, so that recording allocates nothing) or an OpInput value
// (what other clients may record).
func InputOf(v any) (OpInput, bool) {
	switch in := v.(type) {
	case *OpInput:
		return *in, true
	case OpInput:
		return in, true
	}
	return OpInput{}, false
}

// OutputOf returns an operation's output if it is a KV one (a *OpOutput or
// an OpOutput value; see InputOf).
func OutputOf(v any) (OpOutput, bool) {
	switch out := v.(type) {
	case *OpOutput:
		return *out, true
	case OpOutput:
		return out, true
	}
	return OpOutput{}, false
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
	maybes  uint64

	// One operation at a time: cur runs, the rest wait in ops, in order.
	cur *clerkOp
	ops Serializer[*clerkOp]
	// The RPC callback and the retry, bound once per clerk (the retry
	// when first needed): they act on cur, the only operation with an
	// attempt in flight (Env.Call runs each callback exactly once, and the
	// next attempt starts after it).
	onReply func(reply sim.Message, ok bool)
	retry   func()
	one     [1]sim.NodeID // servers' array for a single server
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
	ck := &Clerk{env: env, cfg: cfg, id: id}
	if len(servers) == 1 {
		ck.one[0] = servers[0]
		ck.servers = ck.one[:]
	} else {
		ck.servers = append([]sim.NodeID(nil), servers...)
	}
	ck.onReply = ck.reply
	return ck
}

// ID returns the clerk's id, carried in every request.
func (ck *Clerk) ID() uint64 { return ck.id }

// Maybes returns how many Puts returned ErrMaybe.
func (ck *Clerk) Maybes() uint64 { return ck.maybes }

// Get fetches key's value and version: cb(value, version, OK), or
// cb("", 0, ErrNoKey) (or ErrBadRequest for a malformed key).
func (ck *Clerk) Get(key string, cb func(value string, version uint64, err Err)) {
	g := &getOp{}
	g.getCb, g.args = cb, &g.get
	g.in = OpInput{Client: ck.id, Tag: ck.cfg.Tag, Kind: KindGet, Key: key}
	ck.run(&g.clerkOp)
}

// Put stores value under key if its version is version: cb(OK),
// cb(ErrVersion), cb(ErrNoKey), cb(ErrMaybe) (see Clerk) or
// cb(ErrBadRequest).
func (ck *Clerk) Put(key, value string, version uint64, cb func(err Err)) {
	p := &putOp{}
	p.putCb, p.args = cb, &p.put
	p.in = OpInput{Client: ck.id, Tag: ck.cfg.Tag, Kind: KindPut, Key: key, Value: value, Version: version}
	ck.run(&p.clerkOp)
}

// clerkOp is one Get or Put from its start to its answer, in one
// allocation with its request (getOp, putOp): the input and output the
// history records (by pointer: none of them changes once recorded or sent).
type clerkOp struct {
	in    OpInput
	out   OpOutput
	getCb func(value string, version uint64, err Err)
	putCb func(err Err)

	args      sim.Message // the getOp's or putOp's, filled in at start
	op        int         // the history's operation id
	uncertain bool        // Put: an earlier attempt got no definite answer
	tried     int
}

// getOp is a Get's clerkOp and its request.
type getOp struct {
	clerkOp
	get GetArgs
}

// putOp is a Put's clerkOp and its request.
type putOp struct {
	clerkOp
	put PutArgs
}

// run starts o now if the clerk is idle, else after the operations ahead.
func (ck *Clerk) run(o *clerkOp) { ck.ops.Run(o, ck.start) }

// done ends the current operation and starts the next queued one.
func (ck *Clerk) done() {
	ck.cur = nil
	ck.ops.Done(ck.start)
}

// start runs o once the clerk's previous operations are done.
func (ck *Clerk) start(o *clerkOp) {
	ck.cur = o
	ck.seq++
	switch a := o.args.(type) {
	case *GetArgs:
		*a = GetArgs{Key: o.in.Key, Client: ck.id, Seq: ck.seq}
	case *PutArgs:
		*a = PutArgs{Key: o.in.Key, Value: o.in.Value, Version: o.in.Version, Client: ck.id, Seq: ck.seq}
	}
	o.op = ck.env.Invoke(&o.in)
	if ck.cfg.Spread {
		ck.leader = ck.env.Rand().Intn(len(ck.servers))
	}
	ck.doTry()
}

// handle sees every outcome of an attempt (reply nil on a timeout) and
// returns false when it is no answer.
func (o *clerkOp) handle(ck *Clerk, reply sim.Message) bool {
	if o.in.Kind == KindGet {
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
		o.out = OpOutput{Value: r.Value, Version: r.Version, Err: r.Err, Attempts: o.out.Attempts}
		ck.env.Return(o.op, &o.out)
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
	o.out.Err = err
	ck.env.Return(o.op, &o.out)
	o.putCb(err)
	return true
}

// doTry sends the current operation's args to the current server; reply
// moves on to the next ones until handle accepts a reply. A server that
// answered is tried first by the next operation; after a whole round of
// servers without an answer the clerk waits RetryWait. (o.out.Attempts
// counts the RPCs sent.)
func (ck *Clerk) doTry() {
	o := ck.cur
	o.out.Attempts++
	ck.env.Call(ck.servers[ck.leader], o.args, ck.cfg.Timeout, ck.onReply)
}

func (ck *Clerk) reply(reply sim.Message, ok bool) {
	o := ck.cur
	if !ok {
		reply = nil
	}
	if o.handle(ck, reply) {
		ck.done()
		return
	}
	ck.leader = (ck.leader + 1) % len(ck.servers)
	if o.tried++; o.tried < len(ck.servers) {
		ck.doTry()
		return
	}
	o.tried = 0
	if ck.retry == nil {
		ck.retry = ck.doTry
	}
	ck.env.After(ck.cfg.RetryWait, ck.retry)
}
