package shard

import (
	"encoding/binary"

	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/sim"
)

// Keys of the controller's state in the kvsrv server.
const (
	// KeyCur holds the current configuration (Config.Encode).
	KeyCur = "shardctrl/cur"
	// KeyNext holds the target of the change in progress; when no change
	// is in progress it equals KeyCur's configuration (same Num).
	KeyNext = "shardctrl/next"
	// KeyLease holds the leased controller's id (8 bytes, big endian).
	KeyLease = "shardctrl/lease"
)

// Controller outcomes beyond nodes/kv's and the group's.
const (
	// ErrDeposed: a leased controller lost its lease to another controller
	// (its renewal failed); it stopped without further changes.
	ErrDeposed kv.Err = "ErrDeposed"
	// ErrBadConfig: the controller's stored state does not decode, or a
	// configuration handed to it is invalid (logged).
	ErrBadConfig kv.Err = "ErrBadConfig"
)

// CtrlConfig configures a controller. Zero fields take the defaults.
type CtrlConfig struct {
	// KVServer is the kvsrv server (nodes/kv.Server) holding KeyCur,
	// KeyNext and KeyLease.
	KVServer sim.NodeID
	// NShards is the deployment's shard count (<= 0: DefaultNShards).
	NShards int
	// Timeout is one attempt's wait for a reply (default 100ms); RetryWait
	// the pause after a whole round of a group's servers failed (10ms).
	Timeout, RetryWait sim.Duration
	// Tag is the kv.ClerkConfig.Tag of the controller's kvsrv clerk, so its
	// operations in the history can be told apart (default "shardctrl").
	Tag string
	// Lease > 0 turns on leased leadership: InitController acquires a lease
	// in KeyLease (waiting out a foreign holder's lease on the local clock),
	// and before each step the controller renews it once less than half of
	// it remains, measured on its own clock env.Now(); a failed renewal
	// deposes it (ErrDeposed). The fencing token stays the configuration
	// number: a deposed controller's late steps are refused by the groups.
	Lease sim.Duration
	// UnsafeNoFencing (UNSAFE) sends every Freeze, Install and Delete
	// without its fencing token (groups then apply it whatever its number)
	// and, with Lease, keeps acting after its lease ran out instead of
	// renewing it. A paused controller that resumes can then move a shard
	// backwards, overwriting newer writes.
	UnsafeNoFencing bool
}

// CtrlStats counts what a controller did.
type CtrlStats struct {
	Changes, Finished, Moved, Stale, Deposed, Renewals uint64
}

// Ctrl is the configuration controller (the lab's shardctrler) a node
// embeds. It keeps its state in the kvsrv server through a kv.Clerk
// (versioned Puts, so two controllers never both record or publish a
// configuration of one number) and moves shards between groups with
// Freeze, Install and Delete, each carrying the target configuration's
// number as its fencing token. One call runs at a time; calls made while
// one runs wait in order. Callbacks run on the node's events; nothing here
// has a goroutine.
type Ctrl struct {
	env *sim.Env
	cfg CtrlConfig
	ck  *kv.Clerk
	id  uint64
	ops kv.Serial // one operation at a time

	leaseVer   uint64   // version of KeyLease we wrote last
	leaseUntil sim.Time // local time our lease runs out; 0: no lease held
	deposed    bool
	stats      CtrlStats

	// decoded holds the last two configurations decode decoded, and
	// nextSlot the one it replaces next.
	decoded  [2]decodedConfig
	nextSlot int

	gc groupCall // the record groupCall reuses
}

// NewCtrl returns a controller for the node owning env.
func NewCtrl(env *sim.Env, cfg CtrlConfig) *Ctrl {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 100 * sim.Millisecond
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 10 * sim.Millisecond
	}
	if cfg.Tag == "" {
		cfg.Tag = "shardctrl"
	}
	if cfg.NShards <= 0 {
		cfg.NShards = DefaultNShards
	}
	ck := kv.NewClerk(env, []sim.NodeID{cfg.KVServer}, kv.ClerkConfig{Timeout: cfg.Timeout, RetryWait: cfg.RetryWait, Tag: cfg.Tag})
	return &Ctrl{env: env, cfg: cfg, ck: ck, id: env.Rand().Uint64() | 1}
}

// Stats returns the controller's counters.
func (c *Ctrl) Stats() CtrlStats { return c.stats }

// Deposed reports whether the controller lost its lease.
func (c *Ctrl) Deposed() bool { return c.deposed }

// finish ends the running call with err.
func (c *Ctrl) finish(cb func(kv.Err), err kv.Err) {
	switch err {
	case ErrStale:
		c.stats.Stale++
	case ErrDeposed:
		c.stats.Deposed++
	}
	cb(err)
	c.ops.Done()
}

// Query returns the current configuration: cb(cfg, OK), or ErrNoKey before
// InitConfig, or ErrBadConfig (logged) when the stored bytes do not decode.
func (c *Ctrl) Query(cb func(Config, kv.Err)) {
	c.ck.Get(KeyCur, func(v string, _ uint64, err kv.Err) {
		if err != kv.OK {
			cb(Config{}, err)
			return
		}
		cfg, derr := DecodeConfig([]byte(v))
		if derr != nil {
			c.env.Logf("shard ctrl: stored configuration: %v", derr)
			cb(Config{}, ErrBadConfig)
			return
		}
		cb(cfg, kv.OK)
	})
}

// shared decodes v, KeyCur's bytes, for a caller that never modifies the
// configuration it gets (the clerk's reads): bytes equal to one of the
// last two it decoded (see decode) give the same Config again, sharing its
// slice and map, without decoding. ErrBadConfig (logged) when v does not
// decode.
func (c *Ctrl) shared(v string) (Config, kv.Err) {
	cfg, derr := c.decode(v)
	if derr != nil {
		c.env.Logf("shard ctrl: stored configuration: %v", derr)
		return Config{}, ErrBadConfig
	}
	return cfg, kv.OK
}

// decode is DecodeConfig(v) for the controller's own reads, which never
// modify what they get: bytes equal to one of the last two it decoded
// give that Config again (a change reads KeyCur and KeyNext, often equal,
// and the next change's KeyCur is this one's KeyNext; a clerk reads the
// same KeyCur again and again between changes).
func (c *Ctrl) decode(v string) (Config, error) {
	for i := range c.decoded {
		if d := &c.decoded[i]; d.ok && d.raw == v {
			return d.cfg, nil
		}
	}
	cfg, err := DecodeConfig([]byte(v))
	if err != nil {
		return Config{}, err
	}
	c.decoded[c.nextSlot] = decodedConfig{raw: v, cfg: cfg, ok: true}
	c.nextSlot ^= 1
	return cfg, nil
}

// decodedConfig is one configuration's bytes and decoding.
type decodedConfig struct {
	raw string
	cfg Config
	ok  bool
}

// read gets key's configuration and version.
func (c *Ctrl) read(key string, cb func(Config, uint64, kv.Err)) {
	c.ck.Get(key, func(v string, ver uint64, err kv.Err) {
		if err != kv.OK {
			cb(Config{}, 0, err)
			return
		}
		cfg, derr := c.decode(v)
		if derr != nil {
			c.env.Logf("shard ctrl: stored %s: %v", key, derr)
			cb(Config{}, 0, ErrBadConfig)
			return
		}
		cb(cfg, ver, kv.OK)
	})
}

// InitConfig stores configuration 0 (Initial, no groups) as current and
// next, then changes to first (which must have Num 1): every shard is
// installed empty at its first group. Called once per deployment, like the
// lab's InitConfig. cb(OK), or ErrStale if the state already exists, or
// ErrBadConfig.
func (c *Ctrl) InitConfig(first Config, cb func(kv.Err)) {
	c.ops.Run(func() {
		if first.Num != 1 || first.NShards() != c.cfg.NShards || first.Check() != nil {
			c.env.Logf("shard ctrl: InitConfig with a bad configuration %v", first)
			c.finish(cb, ErrBadConfig)
			return
		}
		zero := string(Initial(c.cfg.NShards).Encode())
		c.initKey(KeyNext, zero, func(ok bool) {
			if !ok {
				c.finish(cb, ErrStale)
				return
			}
			c.initKey(KeyCur, zero, func(ok bool) {
				if !ok {
					c.finish(cb, ErrStale)
					return
				}
				c.guard(func(ok kv.Err) {
					if ok != kv.OK {
						c.finish(cb, ok)
						return
					}
					c.change(first, cb)
				})
			})
		})
	})
}

// initKey creates key with val at version 0: ok(true) once it holds val at
// version 1. A Put answered ErrVersion or ErrMaybe is resolved by reading
// the key back: a network duplicate of our own Put may answer ErrVersion
// after the first copy applied.
func (c *Ctrl) initKey(key, val string, ok func(bool)) {
	c.ck.Put(key, val, 0, func(err kv.Err) {
		if err == kv.OK {
			ok(true)
			return
		}
		c.ck.Get(key, func(v string, ver uint64, gerr kv.Err) {
			ok(gerr == kv.OK && v == val && ver == 1)
		})
	})
}

// ChangeConfigTo moves the system to next, which must be the current
// configuration's successor (Num + 1) and valid. It first finishes a
// half-done change left by another controller, then records next in
// KeyNext (versioned), moves every shard that changes owner (freeze at the
// old group, install at the new, delete at the old, all at next.Num), then
// publishes next in KeyCur (versioned). cb(OK) once next is current;
// ErrStale when next is outdated, another controller recorded or
// published another configuration of that number, or a group refused a
// step as stale (a newer change happened); ErrDeposed when a leased
// controller lost its lease; ErrBadConfig for an invalid next or stored
// state, and for a next with no groups at all (refused: the shards would
// stay frozen at the last group and a later join would install them
// empty, losing every write; the last group can only hand its shards to a
// joining one in one change). The call returns in every case once the kvsrv server answers:
// when a group does not answer, the controller checks after each round of
// its servers whether another controller published next.Num or later, and
// gives up (ErrStale) if so.
func (c *Ctrl) ChangeConfigTo(next Config, cb func(kv.Err)) {
	c.ops.Run(func() {
		if next.NShards() != c.cfg.NShards || next.Check() != nil {
			c.env.Logf("shard ctrl: ChangeConfigTo an invalid configuration %v", next)
			c.finish(cb, ErrBadConfig)
			return
		}
		if len(next.Groups) == 0 {
			// Refused: with no group left, every shard would stay frozen
			// at its last group, and a later join would install it empty
			// (from gid 0): acknowledged writes lost. The last group
			// leaves only by handing its shards to a joining one.
			c.env.Logf("shard ctrl: ChangeConfigTo %d with no groups refused (the shards' data would be lost)", next.Num)
			c.finish(cb, ErrBadConfig)
			return
		}
		c.stats.Changes++
		c.guard(func(ok kv.Err) {
			if ok != kv.OK {
				c.finish(cb, ok)
				return
			}
			c.change(next, cb)
		})
	})
}

// change runs ChangeConfigTo's protocol (the caller holds the run slot).
func (c *Ctrl) change(next Config, cb func(kv.Err)) {
	c.state(func(cur Config, curVer uint64, nxt Config, nxtVer uint64, err kv.Err) {
		switch {
		case err != kv.OK:
			c.finish(cb, err)
		case nxt.Num > cur.Num:
			// A half-done change: finish it first, then try ours.
			c.env.Sometimes("shard ctrl: change finds a half-done change")
			c.move(cur, nxt, curVer, func(err kv.Err) {
				if err != kv.OK {
					c.finish(cb, err)
					return
				}
				c.change(next, cb)
			})
		case next.Num != cur.Num+1:
			c.finish(cb, ErrStale)
		default:
			enc := string(next.Encode())
			c.ck.Put(KeyNext, enc, nxtVer, func(perr kv.Err) {
				if perr == kv.OK {
					c.move(cur, next, curVer, func(err kv.Err) { c.finish(cb, err) })
					return
				}
				// ErrVersion or ErrMaybe: ours, or another controller's?
				c.ck.Get(KeyNext, func(v string, _ uint64, gerr kv.Err) {
					if gerr == kv.OK && v == enc {
						c.move(cur, next, curVer, func(err kv.Err) { c.finish(cb, err) })
						return
					}
					c.env.Sometimes("shard ctrl: another controller recorded the next configuration")
					c.finish(cb, ErrStale)
				})
			})
		}
	})
}

// InitController prepares a fresh controller (the lab's InitController):
// with Lease it acquires the lease first; then it finishes any change a
// dead or partitioned controller left half-done. cb(OK), or ErrStale /
// ErrDeposed if another controller got in the way.
func (c *Ctrl) InitController(cb func(kv.Err)) {
	c.ops.Run(func() {
		c.acquire(func(err kv.Err) {
			if err != kv.OK {
				c.finish(cb, err)
				return
			}
			c.state(func(cur Config, curVer uint64, nxt Config, _ uint64, err kv.Err) {
				switch {
				case err == kv.ErrNoKey:
					c.finish(cb, kv.OK) // before InitConfig: nothing to finish
				case err != kv.OK:
					c.finish(cb, err)
				case nxt.Num > cur.Num:
					c.env.Sometimes("shard ctrl: InitController finishes a half-done change")
					c.move(cur, nxt, curVer, func(err kv.Err) {
						if err == kv.OK {
							c.stats.Finished++
						}
						c.finish(cb, err)
					})
				default:
					c.finish(cb, kv.OK)
				}
			})
		})
	})
}

// state reads KeyCur and KeyNext with their versions.
func (c *Ctrl) state(cb func(cur Config, curVer uint64, nxt Config, nxtVer uint64, err kv.Err)) {
	c.read(KeyCur, func(cur Config, curVer uint64, err kv.Err) {
		if err != kv.OK {
			cb(Config{}, 0, Config{}, 0, err)
			return
		}
		c.read(KeyNext, func(nxt Config, nxtVer uint64, err kv.Err) {
			if err != kv.OK {
				cb(Config{}, 0, Config{}, 0, err)
				return
			}
			if nxt.Num < cur.Num || nxt.Num > cur.Num+1 || nxt.NShards() != cur.NShards() {
				c.env.Logf("shard ctrl: next configuration %d does not follow current %d", nxt.Num, cur.Num)
				cb(Config{}, 0, Config{}, 0, ErrBadConfig)
				return
			}
			cb(cur, curVer, nxt, nxtVer, kv.OK)
		})
	})
}

// move carries every shard whose owner differs from cur to next, in shard
// order, then publishes next at curVer.
func (c *Ctrl) move(cur, next Config, curVer uint64, cb func(kv.Err)) {
	shards := Moves(cur, next)
	var step func(i int)
	step = func(i int) {
		if i == len(shards) {
			c.publish(next, curVer, cb)
			return
		}
		s := shards[i]
		c.moveShard(s, cur.Shards[s], cur.Groups[cur.Shards[s]], next.Shards[s], next.Groups[next.Shards[s]], next.Num,
			func(err kv.Err) {
				if err != kv.OK {
					cb(err)
					return
				}
				step(i + 1)
			})
	}
	step(0)
}

// moveShard moves shard s from group `from` to group `to` at num: freeze,
// install, delete. A shard on gid 0 (no group yet) is installed empty; one
// leaving for gid 0 (no groups left) is frozen and kept. ErrNotOwned at the
// freeze means the move already happened (the old group deleted it after
// the install): nothing left to do.
func (c *Ctrl) moveShard(s int, from GID, fromSrv []sim.NodeID, to GID, toSrv []sim.NodeID, num uint64, cb func(kv.Err)) {
	unf := c.cfg.UnsafeNoFencing
	install := func(data []byte, then func()) {
		c.groupCall(toSrv, &InstallArgs{Shard: s, Num: num, Unfenced: unf, Data: data}, num, func(r *MoveReply, err kv.Err) {
			switch {
			case err != kv.OK:
				cb(err)
			case r.Err == kv.OK:
				then()
			default:
				c.env.Logf("shard ctrl: install of shard %d at gid %d for %d: %s (fence %d)", s, to, num, r.Err, r.Num)
				cb(stale(r.Err))
			}
		})
	}
	if from == 0 {
		install(nil, func() { c.stats.Moved++; cb(kv.OK) })
		return
	}
	c.groupCall(fromSrv, &FreezeArgs{Shard: s, Num: num, Unfenced: unf}, num, func(r *MoveReply, err kv.Err) {
		switch {
		case err != kv.OK:
			cb(err)
		case r.Err == ErrNotOwned:
			c.env.Sometimes("shard ctrl: freeze finds the shard already moved")
			cb(kv.OK)
		case r.Err != kv.OK:
			c.env.Logf("shard ctrl: freeze of shard %d at gid %d for %d: %s (fence %d)", s, from, num, r.Err, r.Num)
			cb(stale(r.Err))
		case to == 0:
			cb(kv.OK)
		default:
			install(r.Data, func() {
				c.groupCall(fromSrv, &DeleteArgs{Shard: s, Num: num, Unfenced: unf}, num, func(r *MoveReply, err kv.Err) {
					switch {
					case err != kv.OK:
						cb(err)
					case r.Err == kv.OK:
						c.stats.Moved++
						cb(kv.OK)
					default:
						c.env.Logf("shard ctrl: delete of shard %d at gid %d for %d: %s (fence %d)", s, from, num, r.Err, r.Num)
						cb(stale(r.Err))
					}
				})
			})
		}
	})
}

// stale maps a group's refusal to the controller's outcome.
func stale(e kv.Err) kv.Err {
	if e == ErrStale || e == ErrNotFrozen {
		return ErrStale
	}
	return e
}

// publish makes next current with a versioned Put at curVer.
func (c *Ctrl) publish(next Config, curVer uint64, cb func(kv.Err)) {
	c.guard(func(ok kv.Err) {
		if ok != kv.OK {
			cb(ok)
			return
		}
		enc := string(next.Encode())
		c.ck.Put(KeyCur, enc, curVer, func(err kv.Err) {
			if err == kv.OK {
				cb(kv.OK)
				return
			}
			c.ck.Get(KeyCur, func(v string, _ uint64, gerr kv.Err) {
				if gerr == kv.OK && v == enc {
					cb(kv.OK) // ours applied (ErrMaybe), or another controller finished the same change
					return
				}
				cb(ErrStale)
			})
		})
	})
}

// groupCall sends args to a group's servers until one answers other than
// ErrWrongLeader, pausing RetryWait after each round without an answer.
// After each such round it checks KeyCur: if configuration num or later is
// already published, another controller finished this change and the call
// ends with ErrStale (so a stale controller's call returns even if the
// group is gone). A leased controller checks its lease before each round.
func (c *Ctrl) groupCall(servers []sim.NodeID, args sim.Message, num uint64, cb func(*MoveReply, kv.Err)) {
	if len(servers) == 0 {
		c.env.Logf("shard ctrl: group with no servers")
		cb(nil, ErrBadConfig)
		return
	}
	// The controller's own record serves every call (they run one after
	// another: the next starts from the previous one's cb at the
	// earliest); a fresh one only if it is somehow still busy.
	g := &c.gc
	if g.busy {
		g = &groupCall{}
	}
	if g.onGuard == nil {
		g.onGuard, g.onReply, g.roundFn, g.onCur = g.guarded, g.reply, g.round, g.current
	}
	g.c, g.servers, g.args, g.num, g.cb, g.i, g.tried, g.busy = c, servers, args, num, cb, 0, 0, true
	c.guard(g.onGuard)
}

// groupCall is one groupCall in progress, its state in one record instead
// of closures per round and per RPC. One RPC or read is outstanding at a
// time, so its callbacks (bound once per record) find the state here.
type groupCall struct {
	c        *Ctrl
	servers  []sim.NodeID
	args     sim.Message
	num      uint64
	cb       func(*MoveReply, kv.Err)
	i, tried int  // the server called; servers tried this round
	busy     bool // between groupCall and cb

	onGuard func(kv.Err)
	onReply func(reply sim.Message, ok bool)
	roundFn func()
	onCur   func(v string, version uint64, err kv.Err)
}

// done ends the call: the record is free again (and drops what it held)
// before cb, which may start the next call.
func (g *groupCall) done(r *MoveReply, err kv.Err) {
	cb := g.cb
	g.busy, g.servers, g.args, g.cb = false, nil, nil, nil
	cb(r, err)
}

// guarded starts a round once the lease check passed.
func (g *groupCall) guarded(gerr kv.Err) {
	if gerr != kv.OK {
		g.done(nil, gerr)
		return
	}
	g.try(0)
}

// try calls the current server, the round's tried-th.
func (g *groupCall) try(tried int) {
	g.tried = tried
	g.c.env.Call(g.servers[g.i], g.args, g.c.cfg.Timeout, g.onReply)
}

// reply ends the call on an answer other than ErrWrongLeader, else tries
// the next server, or waits RetryWait after a whole round.
func (g *groupCall) reply(reply sim.Message, ok bool) {
	if r, isMove := reply.(*MoveReply); ok && isMove && r.Err != kv.ErrWrongLeader {
		g.done(r, kv.OK)
		return
	}
	g.i = (g.i + 1) % len(g.servers)
	if g.tried+1 < len(g.servers) {
		g.try(g.tried + 1)
		return
	}
	g.c.env.After(g.c.cfg.RetryWait, g.roundFn)
}

// round reads KeyCur before another round.
func (g *groupCall) round() { g.c.ck.Get(KeyCur, g.onCur) }

// current ends the call with ErrStale if configuration num or later is
// published, else checks the lease and starts another round.
func (g *groupCall) current(v string, _ uint64, err kv.Err) {
	if err == kv.OK && g.published(v) {
		g.c.env.Sometimes("shard ctrl: another controller published while a group was silent")
		g.done(nil, ErrStale)
		return
	}
	g.c.guard(g.onGuard)
}

// published reports whether v, KeyCur's bytes, is a valid configuration
// numbered num or later (decoded only when its number says it may be).
func (g *groupCall) published(v string) bool {
	if n, ok := configNum(v); !ok || n < g.num {
		return false
	}
	cur, derr := DecodeConfig([]byte(v))
	return derr == nil && cur.Num >= g.num
}

// ---- leases ----

func (c *Ctrl) leaseValue() string {
	return string(binary.BigEndian.AppendUint64(nil, c.id))
}

// guard runs next(OK) if the controller may act: always without a lease;
// with one, after renewing it once less than half remains. A failed renewal
// deposes the controller (next(ErrDeposed)). An UNSAFE controller acts on
// after its lease ran out without renewing.
func (c *Ctrl) guard(next func(kv.Err)) {
	if c.cfg.Lease <= 0 {
		next(kv.OK)
		return
	}
	if c.deposed {
		next(ErrDeposed)
		return
	}
	now := c.env.Now()
	if c.leaseUntil != 0 && now < c.leaseUntil.Add(-c.cfg.Lease/2) {
		next(kv.OK)
		return
	}
	if c.cfg.UnsafeNoFencing && c.leaseUntil != 0 {
		if now >= c.leaseUntil {
			c.env.Sometimes("shard ctrl: UNSAFE controller acts after its lease ran out")
		}
		next(kv.OK)
		return
	}
	c.renew(next)
}

// renew extends the lease with a versioned Put of our id at leaseVer.
func (c *Ctrl) renew(next func(kv.Err)) {
	sent := c.env.Now()
	c.ck.Put(KeyLease, c.leaseValue(), c.leaseVer, func(err kv.Err) {
		ok := func() {
			c.leaseVer++
			c.leaseUntil = sent.Add(c.cfg.Lease)
			c.stats.Renewals++
			next(kv.OK)
		}
		if err == kv.OK {
			ok()
			return
		}
		c.ck.Get(KeyLease, func(v string, ver uint64, gerr kv.Err) {
			if gerr == kv.OK && v == c.leaseValue() && ver == c.leaseVer+1 {
				ok() // our Put applied (ErrMaybe)
				return
			}
			c.env.Logf("shard ctrl: lease renewal failed (%s): deposed", err)
			c.deposed = true
			c.leaseUntil = 0
			next(ErrDeposed)
		})
	})
}

// acquire takes the lease (Lease > 0; otherwise it returns at once): a
// lease nobody holds is taken at once; a foreign one is taken once its
// version stayed unchanged for Lease (plus a tenth) on our clock.
func (c *Ctrl) acquire(next func(kv.Err)) {
	if c.cfg.Lease <= 0 {
		next(kv.OK)
		return
	}
	c.deposed = false
	c.ck.Get(KeyLease, func(v string, ver uint64, err kv.Err) {
		switch {
		case err == kv.ErrNoKey:
			c.leaseVer = 0
			c.renew(next)
		case err != kv.OK:
			next(err)
		case v == c.leaseValue():
			c.leaseVer = ver
			c.renew(next)
		default:
			c.env.After(c.cfg.Lease+c.cfg.Lease/10, func() {
				c.ck.Get(KeyLease, func(_ string, ver2 uint64, err kv.Err) {
					if err == kv.OK && ver2 == ver {
						c.leaseVer = ver
						c.renew(next)
						return
					}
					c.acquire(next) // the holder renewed: wait again
				})
			})
		}
	})
}
