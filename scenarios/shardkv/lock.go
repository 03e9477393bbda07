package shardkv

import (
	"fmt"
	"strconv"

	"github.com/smilingraft/dsim/checkers/kvcheck"
	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/nodes/shard"
	"github.com/smilingraft/dsim/scenarios/script"
	"github.com/smilingraft/dsim/sim"
)

// CheckMutex is the lock scenario's online mutual-exclusion checker.
const CheckMutex = "mutual-exclusion"

// lock is the lab's lock (nodes/kv.Lock's algorithm) over a sharded-KV
// clerk: the key holds "" when free and the holder's unique id when held;
// an ambiguous Put is resolved by reading the key back.
type lock struct {
	ck   *shard.Clerk
	env  *sim.Env
	key  string
	id   string
	done func() // counts an operation
}

func (l *lock) acquire(cb func()) {
	l.ck.Get(l.key, func(value string, version uint64, err kv.Err) {
		l.done()
		switch {
		case err == kv.ErrNoKey:
			l.ck.Put(l.key, l.id, 0, func(err kv.Err) { l.done(); l.afterPut(err, cb) })
		case err != kv.OK:
			l.env.After(5*sim.Millisecond, func() { l.acquire(cb) })
		case value == l.id:
			cb() // an earlier ambiguous Put of ours applied
		case value == "":
			l.ck.Put(l.key, l.id, version, func(err kv.Err) { l.done(); l.afterPut(err, cb) })
		default:
			l.env.After(5*sim.Millisecond, func() { l.acquire(cb) })
		}
	})
}

func (l *lock) afterPut(err kv.Err, cb func()) {
	if err == kv.OK {
		cb()
		return
	}
	l.acquire(cb)
}

func (l *lock) release(cb func()) {
	l.ck.Get(l.key, func(value string, version uint64, err kv.Err) {
		l.done()
		if err != kv.OK || value != l.id {
			cb()
			return
		}
		l.ck.Put(l.key, "", version, func(err kv.Err) {
			l.done()
			if err == kv.OK {
				cb()
				return
			}
			l.release(cb)
		})
	})
}

// lockClients starts n clients looping until the workers stop: acquire
// "l"; "l0" must read ""; put own name; 10 ms; put ""; release; mutual
// exclusion checked online.
func (d *sys) lockClients(n int, mu *kvcheck.Mutex, stopped *int) {
	for i := 0; i < n; i++ {
		me := fmt.Sprintf("lk%d", i)
		h := d.addHost(me)
		d.w.At(sim.Time(sim.Millisecond), func() {
			ck := shard.NewClerk(h.env, d.ckCfg)
			lk := &lock{ck: ck, env: h.env, key: "l", id: me + "/" + strconv.FormatUint(ck.ID(), 36), done: d.done}
			var loop func()
			loop = func() {
				if d.stopWorkers || d.w.Failure() != nil {
					*stopped++
					return
				}
				lk.acquire(func() {
					if err := mu.Acquired(me, int64(d.w.Now())); err != nil {
						d.w.Fail(CheckMutex, "%v", err)
						return
					}
					ck.Get("l0", func(val string, ver uint64, err kv.Err) {
						d.done()
						if (err != kv.OK && err != kv.ErrNoKey) || val != "" {
							d.w.Fail(CheckMutex, "%s holds the lock but l0 = %q (%s)", me, val, err)
							return
						}
						ck.Put("l0", me, ver, func(err kv.Err) {
							d.done()
							h.env.After(10*sim.Millisecond, func() {
								ck.Get("l0", func(_ string, ver uint64, _ kv.Err) {
									d.done()
									ck.Put("l0", "", ver, func(kv.Err) {
										d.done()
										if err := mu.Released(me, int64(d.w.Now())); err != nil {
											d.w.Fail(CheckMutex, "%v", err)
											return
										}
										lk.release(loop)
									})
								})
							})
						})
					})
				})
			}
			loop()
		})
	}
}

func init() {
	register(spec{name: "lock-unreliable", groups: 4, clients: 0, unrel: true, duration: 40 * sim.Second,
		desc: "the lab's lock over the sharded KV on the unreliable network: 3 clients acquire a lock key, check and write a guarded key, release, while groups join, leave and shards move; mutual exclusion checked online",
		body: func(d *sys, sc *script.S) {
			var mu kvcheck.Mutex
			stopped := 0
			d.lockClients(3, &mu, &stopped)
			d.churn(sc, sim.Time(15*sim.Second), 300*sim.Millisecond)
			d.stopWorkers = true
			sc.Label("lock clients leave the loop")
			if !sc.WaitFor(func() bool { return stopped == 3 }, 10*sim.Millisecond, 20*sim.Second) {
				sc.Failf("%d of 3 lock clients still in the loop", 3-stopped)
			}
			d.c.Metric("acquisitions", float64(mu.Acquisitions))
			if mu.Acquisitions == 0 {
				sc.Failf("no client ever acquired the lock")
			}
		}})
}
