package shard

import (
	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/sim"
)

// ClerkConfig tunes a sharded-KV clerk. Zero fields take the defaults.
type ClerkConfig struct {
	// KVServer is the controller's kvsrv server, where the clerk reads the
	// current configuration (KeyCur).
	KVServer sim.NodeID
	// NShards is the deployment's shard count (<= 0: DefaultNShards).
	NShards int
	// Timeout is one attempt's wait for a reply (default 100ms); RetryWait
	// the pause after a round of a group's servers without an answer, or
	// after ErrWrongGroup, before the configuration is read again (10ms).
	Timeout, RetryWait sim.Duration
	// Tag is copied into every recorded kv.OpInput.
	Tag string
	// QueryTag tags the configuration reads in the history (they go
	// through a kv.Clerk; default "shardctrl.query").
	QueryTag string
}

// Clerk is the sharded KV's client library (the lab's shardkv clerk) a
// client node embeds: Get and Put with nodes/kv's versioned semantics. It
// reads the current configuration from the controller's kvsrv server, sends
// each operation to the group owning its key's shard (the server that last
// answered first), and on ErrWrongGroup, or after a round of that group's
// servers without an answer, waits RetryWait and reads the configuration
// again; it retries forever (a key whose group is down blocks, as in the
// lab). Every attempt of one operation carries the same (client, seq), so
// a group's per-shard duplicate table, which moves with the shard, answers
// a retry of a Put that already applied OK, at the old group or the new.
// A Put answered ErrVersion after an attempt without a definite answer
// (timeout, ErrWrongLeader) returns ErrMaybe, as kv.Clerk does; versions
// move with the shard, so that stays true across a move. Every operation is
// recorded in the world's history with *kv.OpInput and *kv.OpOutput (read with
// kv.InputOf and kv.OutputOf), so checkers/kvcheck checks it as it checks
// kv.Clerk.
type Clerk struct {
	env    *sim.Env
	cfg    ClerkConfig
	q      *Ctrl
	conf   Config
	have   bool
	id     uint64
	seq    uint64
	leader map[GID]int
	maybes uint64
	// Queries counts configuration reads.
	Queries uint64

	// One operation runs at a time (cur); the others wait in ops, in call
	// order. One RPC or configuration read of cur is outstanding at a
	// time, so the callbacks below, bound once per clerk, find their
	// operation in cur: no closure or bound method per operation.
	cur     *clerkOp
	ops     kv.Serializer[*clerkOp]
	onReply func(reply sim.Message, ok bool)
	onConf  func(v string, version uint64, err kv.Err)
	loopFn  func()
	retryFn func()
}

// clerkOp is one Get or Put: its arguments (sent by pointer, so never
// reused: a retried or duplicated message may still be in flight), its
// history record and its attempt loop's state, in one allocation.
type clerkOp struct {
	put   bool
	get   kv.GetArgs
	args  kv.PutArgs
	getCb func(value string, version uint64, err kv.Err)
	putCb func(err kv.Err)
	op    int // the history's operation id
	// in and out are recorded in the history by pointer (recording a
	// value would box a copy); neither changes once recorded.
	in  kv.OpInput
	out kv.OpOutput

	uncertain bool // a Put attempt without a definite answer
	attempts  int
	gid       GID          // the round's group
	servers   []sim.NodeID // its servers
	tried, i  int          // servers tried this round; the one called
}

// key returns the operation's key.
func (o *clerkOp) key() string {
	if o.put {
		return o.args.Key
	}
	return o.get.Key
}

// NewClerk returns a clerk of the node owning env.
func NewClerk(env *sim.Env, cfg ClerkConfig) *Clerk {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 100 * sim.Millisecond
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 10 * sim.Millisecond
	}
	if cfg.QueryTag == "" {
		cfg.QueryTag = "shardctrl.query"
	}
	q := NewCtrl(env, CtrlConfig{KVServer: cfg.KVServer, NShards: cfg.NShards, Timeout: cfg.Timeout,
		RetryWait: cfg.RetryWait, Tag: cfg.QueryTag})
	ck := &Clerk{env: env, cfg: cfg, q: q, id: env.Rand().Uint64() | 1, leader: map[GID]int{}}
	ck.onReply, ck.onConf, ck.loopFn, ck.retryFn = ck.reply, ck.config, ck.loop, ck.refresh
	return ck
}

// ID returns the clerk's id, carried in every request.
func (ck *Clerk) ID() uint64 { return ck.id }

// Maybes returns how many Puts returned ErrMaybe.
func (ck *Clerk) Maybes() uint64 { return ck.maybes }

// Config returns a copy of the configuration the clerk last read (Num 0
// before any); the clerk's own may be shared with its Ctrl's cache.
func (ck *Clerk) Config() Config { return ck.conf.Copy() }

// Get fetches key's value and version: cb(value, version, OK) or
// cb("", 0, ErrNoKey) (ErrBadRequest for a malformed key).
func (ck *Clerk) Get(key string, cb func(value string, version uint64, err kv.Err)) {
	ck.run(&clerkOp{get: kv.GetArgs{Key: key}, getCb: cb})
}

// Put stores value under key if its version is version: cb(OK),
// cb(ErrVersion), cb(ErrNoKey), cb(ErrMaybe) or cb(ErrBadRequest).
func (ck *Clerk) Put(key, value string, version uint64, cb func(err kv.Err)) {
	ck.run(&clerkOp{put: true, args: kv.PutArgs{Key: key, Value: value, Version: version}, putCb: cb})
}

// run starts o now if no operation is running, else after the ones ahead.
func (ck *Clerk) run(o *clerkOp) { ck.ops.Run(o, ck.start) }

// done ends the current operation and starts the next queued one.
func (ck *Clerk) done() {
	ck.cur = nil
	ck.ops.Done(ck.start)
}

// start takes o's seq, records its invocation and runs its first round
// (after reading the configuration if the clerk has none yet).
func (ck *Clerk) start(o *clerkOp) {
	ck.cur = o
	ck.seq++
	if o.put {
		o.args.Client, o.args.Seq = ck.id, ck.seq
		a := &o.args
		o.in = kv.OpInput{Client: ck.id, Tag: ck.cfg.Tag, Kind: kv.KindPut, Key: a.Key, Value: a.Value, Version: a.Version}
	} else {
		o.get.Client, o.get.Seq = ck.id, ck.seq
		o.in = kv.OpInput{Client: ck.id, Tag: ck.cfg.Tag, Kind: kv.KindGet, Key: o.get.Key}
	}
	o.op = ck.env.Invoke(&o.in)
	if !ck.have {
		ck.refresh()
		return
	}
	ck.loop()
}

// handleGet ends a Get on reply (nil on a timeout) unless it calls for
// another attempt.
func (ck *Clerk) handleGet(o *clerkOp, reply sim.Message) bool {
	var r kv.GetReply
	switch rep := reply.(type) {
	case *kv.GetReply:
		r = *rep
	case *kv.BadReply:
		r = kv.GetReply{Err: kv.ErrBadRequest}
	default:
		return false
	}
	if r.Err == kv.ErrWrongLeader || r.Err == ErrWrongGroup {
		return false
	}
	o.out = kv.OpOutput{Value: r.Value, Version: r.Version, Err: r.Err, Attempts: o.attempts}
	ck.env.Return(o.op, &o.out)
	o.getCb(r.Value, r.Version, r.Err)
	return true
}

// handlePut ends a Put on reply (nil on a timeout) unless it calls for
// another attempt.
func (ck *Clerk) handlePut(o *clerkOp, reply sim.Message) bool {
	var err kv.Err
	switch rep := reply.(type) {
	case *kv.PutReply:
		err = rep.Err
	case *kv.BadReply:
		err = kv.ErrBadRequest
	default:
		o.uncertain = true
		return false
	}
	switch err {
	case kv.ErrWrongLeader:
		o.uncertain = true
		return false
	case ErrWrongGroup:
		return false // not applied by that group now; an earlier attempt may have
	case ErrStale:
		// The shard's table holds a newer seq of ours: only a clerk id
		// collision does that. Retry elsewhere.
		ck.env.Logf("shard clerk: Put seq %d answered ErrStale", ck.seq)
		o.uncertain = true
		return false
	}
	if err == kv.ErrVersion && o.uncertain {
		err = kv.ErrMaybe
		ck.maybes++
		ck.env.Sometimes("shard clerk: ErrMaybe")
	}
	o.out = kv.OpOutput{Err: err, Attempts: o.attempts}
	ck.env.Return(o.op, &o.out)
	o.putCb(err)
	return true
}

// refresh reads the current configuration (config continues), retrying
// until it has one; then the current operation loops.
func (ck *Clerk) refresh() {
	ck.Queries++
	ck.q.ck.Get(KeyCur, ck.onConf)
}

// config is refresh's answer: the stored configuration's bytes.
func (ck *Clerk) config(v string, _ uint64, err kv.Err) {
	var c Config
	if err == kv.OK {
		c, err = ck.q.shared(v)
	}
	if err == kv.OK && c.NShards() == ck.nshards() && (!ck.have || c.Num >= ck.conf.Num) {
		ck.conf, ck.have = c, true
		ck.loop()
		return
	}
	ck.env.After(ck.cfg.RetryWait, ck.retryFn)
}

func (ck *Clerk) nshards() int {
	if ck.cfg.NShards <= 0 {
		return DefaultNShards
	}
	return ck.cfg.NShards
}

// again reads the configuration again after RetryWait, then loops.
func (ck *Clerk) again() { ck.env.After(ck.cfg.RetryWait, ck.retryFn) }

// loop starts a round of the current operation over the group owning its
// key.
func (ck *Clerk) loop() {
	o := ck.cur
	gid, servers := ck.conf.Owner(o.key())
	if gid == 0 || len(servers) == 0 {
		ck.again()
		return
	}
	o.gid, o.servers, o.tried = gid, servers, 0
	ck.try()
}

// try sends the current operation to the round's next server.
func (ck *Clerk) try() {
	o := ck.cur
	o.attempts++
	o.i = ck.leader[o.gid] % len(o.servers)
	var args sim.Message = &o.get
	if o.put {
		args = &o.args
	}
	ck.env.Call(o.servers[o.i], args, ck.cfg.Timeout, ck.onReply)
}

// reply handles the answer to try's call (ok false: timed out).
func (ck *Clerk) reply(reply sim.Message, ok bool) {
	o := ck.cur
	if !ok {
		reply = nil
	}
	var end bool
	if o.put {
		end = ck.handlePut(o, reply)
	} else {
		end = ck.handleGet(o, reply)
	}
	if end {
		ck.done()
		return
	}
	if r, isGet := reply.(*kv.GetReply); isGet && r.Err == ErrWrongGroup {
		ck.again()
		return
	}
	if r, isPut := reply.(*kv.PutReply); isPut && r.Err == ErrWrongGroup {
		ck.again()
		return
	}
	ck.leader[o.gid] = (o.i + 1) % len(o.servers)
	if o.tried++; o.tried < len(o.servers) {
		ck.try()
		return
	}
	ck.again()
}
