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
// recorded in the world's history with kv.OpInput and kv.OpOutput, so
// checkers/kvcheck checks it as it checks kv.Clerk.
type Clerk struct {
	env    *sim.Env
	cfg    ClerkConfig
	q      *Ctrl
	conf   Config
	have   bool
	id     uint64
	seq    uint64
	leader map[GID]int
	ops    kv.Serial // one operation at a time
	maybes uint64
	// Queries counts configuration reads.
	Queries uint64
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
	return &Clerk{env: env, cfg: cfg, q: q, id: env.Rand().Uint64() | 1, leader: map[GID]int{}}
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
	ck.ops.Run(func() {
		ck.seq++
		args := &kv.GetArgs{Key: key, Client: ck.id, Seq: ck.seq}
		op := ck.env.Invoke(kv.OpInput{Client: ck.id, Tag: ck.cfg.Tag, Kind: kv.KindGet, Key: key})
		ck.attempt(key, args, func(reply sim.Message, attempts int) bool {
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
			ck.env.Return(op, kv.OpOutput{Value: r.Value, Version: r.Version, Err: r.Err, Attempts: attempts})
			cb(r.Value, r.Version, r.Err)
			return true
		})
	})
}

// Put stores value under key if its version is version: cb(OK),
// cb(ErrVersion), cb(ErrNoKey), cb(ErrMaybe) or cb(ErrBadRequest).
func (ck *Clerk) Put(key, value string, version uint64, cb func(err kv.Err)) {
	ck.ops.Run(func() {
		ck.seq++
		args := &kv.PutArgs{Key: key, Value: value, Version: version, Client: ck.id, Seq: ck.seq}
		op := ck.env.Invoke(kv.OpInput{Client: ck.id, Tag: ck.cfg.Tag, Kind: kv.KindPut, Key: key, Value: value, Version: version})
		uncertain := false
		ck.attempt(key, args, func(reply sim.Message, attempts int) bool {
			var err kv.Err
			switch rep := reply.(type) {
			case *kv.PutReply:
				err = rep.Err
			case *kv.BadReply:
				err = kv.ErrBadRequest
			default:
				uncertain = true
				return false
			}
			switch err {
			case kv.ErrWrongLeader:
				uncertain = true
				return false
			case ErrWrongGroup:
				return false // not applied by that group now; an earlier attempt may have
			case ErrStale:
				// The shard's table holds a newer seq of ours: only a
				// clerk id collision does that. Retry elsewhere.
				ck.env.Logf("shard clerk: Put seq %d answered ErrStale", ck.seq)
				uncertain = true
				return false
			}
			if err == kv.ErrVersion && uncertain {
				err = kv.ErrMaybe
				ck.maybes++
				ck.env.Sometimes("shard clerk: ErrMaybe")
			}
			ck.env.Return(op, kv.OpOutput{Err: err, Attempts: attempts})
			cb(err)
			return true
		})
	})
}

// refresh reads the current configuration, retrying until it has one.
func (ck *Clerk) refresh(then func()) {
	ck.Queries++
	ck.q.queryShared(func(c Config, err kv.Err) {
		if err == kv.OK && c.NShards() == ck.nshards() && (!ck.have || c.Num >= ck.conf.Num) {
			ck.conf, ck.have = c, true
			then()
			return
		}
		ck.env.After(ck.cfg.RetryWait, func() { ck.refresh(then) })
	})
}

func (ck *Clerk) nshards() int {
	if ck.cfg.NShards <= 0 {
		return DefaultNShards
	}
	return ck.cfg.NShards
}

// attempt sends args to key's group until handle accepts a reply (reply
// nil on a timeout), following configuration changes.
func (ck *Clerk) attempt(key string, args sim.Message, handle func(reply sim.Message, attempts int) bool) {
	o := &shardAttempt{ck: ck, key: key, args: args, handle: handle}
	o.onReply = o.reply
	if !ck.have {
		ck.refresh(o.loopFunc())
		return
	}
	o.loop()
}

// shardAttempt is one operation's attempt loop: one allocation holds what
// closures over the loop, each round and each RPC's callback used to
// capture one by one (the bound methods are made once, when first needed).
// One RPC at a time
// is outstanding, so the round's fields are those of the call answered.
type shardAttempt struct {
	ck     *Clerk
	key    string
	args   sim.Message
	handle func(reply sim.Message, attempts int) bool

	attempts int
	gid      GID          // the round's group
	servers  []sim.NodeID // its servers
	tried, i int          // servers tried this round; the one called

	loopFn, refreshFn func()
	onReply           func(reply sim.Message, ok bool)
}

// loopFunc returns loop as a func, bound once, when first needed (most
// operations never wait for a new configuration).
func (o *shardAttempt) loopFunc() func() {
	if o.loopFn == nil {
		o.loopFn = o.loop
	}
	return o.loopFn
}

// again reads the configuration again after RetryWait, then loops.
func (o *shardAttempt) again() {
	if o.refreshFn == nil {
		o.refreshFn = o.refresh
	}
	o.ck.env.After(o.ck.cfg.RetryWait, o.refreshFn)
}

func (o *shardAttempt) refresh() { o.ck.refresh(o.loopFunc()) }

// loop starts a round over the group owning the key.
func (o *shardAttempt) loop() {
	gid, servers := o.ck.conf.Owner(o.key)
	if gid == 0 || len(servers) == 0 {
		o.again()
		return
	}
	o.gid, o.servers, o.tried = gid, servers, 0
	o.try()
}

func (o *shardAttempt) try() {
	ck := o.ck
	o.attempts++
	o.i = ck.leader[o.gid] % len(o.servers)
	ck.env.Call(o.servers[o.i], o.args, ck.cfg.Timeout, o.onReply)
}

func (o *shardAttempt) reply(reply sim.Message, ok bool) {
	ck := o.ck
	if !ok {
		reply = nil
	}
	if o.handle(reply, o.attempts) {
		ck.ops.Done()
		return
	}
	if r, isGet := reply.(*kv.GetReply); isGet && r.Err == ErrWrongGroup {
		o.again()
		return
	}
	if r, isPut := reply.(*kv.PutReply); isPut && r.Err == ErrWrongGroup {
		o.again()
		return
	}
	ck.leader[o.gid] = (o.i + 1) % len(o.servers)
	if o.tried++; o.tried < len(o.servers) {
		o.try()
		return
	}
	o.again()
}
