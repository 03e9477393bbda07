package kvsrv

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smilingraft/dsim/checkers/kvcheck"
	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Locker is what the lock scenarios need of a lock.
type Locker interface {
	Acquire(cb func())
	Release(cb func())
}

// impl is the system under test: how to build the server and the lock.
// Tests swap in deliberately broken ones.
type impl struct {
	newServer func() sim.Node
	newLock   func(env *sim.Env, ck *kv.Clerk, key string) Locker
}

var safe = impl{
	newServer: func() sim.Node { return kv.NewServer() },
	newLock:   func(env *sim.Env, ck *kv.Clerk, key string) Locker { return kv.NewLock(env, ck, key, 0) },
}

// storeHolder is a server whose state checkers can read.
type storeHolder interface{ Store() *kv.Store }

// Networks of the lab: "reliable" delivers everything in order after a
// short delay; "unreliable" adds U[0,27ms) delays and drops 10% of messages
// (requests and replies alike, as labrpc drops 10% of each).
var (
	reliableNet   = sim.NetOptions{DelayMin: 500 * sim.Microsecond, DelayMax: 3 * sim.Millisecond}
	unreliableNet = sim.NetOptions{DelayMax: 27 * sim.Millisecond, Loss: sim.R(1, 10)}
)

func unreliable(scenarios.Variant) sim.Faults {
	return sim.Faults{Network: sim.NetworkFaults{Base: unreliableNet}}
}

const (
	kClients = "kvsrv.clients"
	kClerks  = "kvsrv.clerks"
	kTimeout = "kvsrv.timeout_ms"
)

var timeoutParam = scenarios.Param{Key: kTimeout, Default: "100", Doc: "clerk per-attempt timeout, ms", Range: scenarios.Span(1, 60000)}

// deployment is one server and the harness of a scenario run.
type deployment struct {
	c   *scenarios.Cluster
	h   *Harness
	srv sim.NodeID
	cfg kv.ClerkConfig
}

func deploy(c *scenarios.Cluster, im impl) *deployment {
	d := &deployment{c: c, h: NewHarness(c)}
	d.srv = c.W.AddNode("s0", im.newServer)
	c.Servers(d.srv) // fault target 0; swarm adds the clients after it
	d.cfg = kv.ClerkConfig{Timeout: sim.Duration(c.Int(kTimeout)) * sim.Millisecond}
	c.W.SetNet(reliableNet)
	return d
}

// final reads the server's state for the durability checker.
func (d *deployment) final() map[string]kvcheck.State {
	if s, ok := d.c.W.Node(d.srv).(storeHolder); ok {
		return StoreState(s.Store())
	}
	return nil
}

func (d *deployment) clerk(env *sim.Env) *kv.Clerk {
	return kv.NewClerk(env, []sim.NodeID{d.srv}, d.cfg)
}

// step is one scripted operation and its expected outcome.
type step struct {
	put      bool
	key, val string
	ver      uint64
	want     kv.Err
	wantVal  string // Get
	wantVer  uint64 // Get
}

// script runs steps one after the other with ck, failing the run at the
// first unexpected outcome; done is called at the end.
func (d *deployment) script(ck *kv.Clerk, steps []step, done func()) {
	var run func(i int)
	run = func(i int) {
		if i == len(steps) {
			done()
			return
		}
		s := steps[i]
		if s.put {
			ck.Put(s.key, s.val, s.ver, func(err kv.Err) {
				d.h.Done()
				if err != s.want {
					failf(d.c, "kvsrv.script", "step %d: put(%q, %q, v%d) = %s, want %s", i, s.key, s.val, s.ver, err, s.want)
					return
				}
				run(i + 1)
			})
			return
		}
		ck.Get(s.key, func(val string, ver uint64, err kv.Err) {
			d.h.Done()
			if err != s.want || val != s.wantVal || ver != s.wantVer {
				failf(d.c, "kvsrv.script", "step %d: get(%q) = %q@v%d %s, want %q@v%d %s", i, s.key, val, ver, err, s.wantVal, s.wantVer, s.want)
				return
			}
			run(i + 1)
		})
	}
	run(0)
}

// finished registers a checker that fails unless *done: a script that never
// finished within the scenario's time is a liveness failure.
func finished(c *scenarios.Cluster, what string, done *bool) {
	c.Check("liveness", func() error {
		if !*done {
			return fmt.Errorf("%s did not finish within %v", what, c.Scenario.Duration)
		}
		return nil
	})
}

// reliablePut is TestReliablePut: one clerk's scripted Puts and Gets.
func reliablePut(im impl) func(c *scenarios.Cluster) error {
	return func(c *scenarios.Cluster) error {
		d := deploy(c, im)
		done := false
		AddClient(c, "c0", func(env *sim.Env) {
			ck := d.clerk(env)
			env.After(sim.Millisecond, func() {
				d.script(ck, []step{
					{put: true, key: "k", val: "6.5840", ver: 0, want: kv.OK},
					{key: "k", want: kv.OK, wantVal: "6.5840", wantVer: 1},
					{put: true, key: "k", val: "6.5840", ver: 0, want: kv.ErrVersion},
					{put: true, key: "y", val: "6.5840", ver: 1, want: kv.ErrNoKey},
					{key: "y", want: kv.ErrNoKey},
				}, func() { done = true })
			})
		})
		finished(c, "the script", &done)
		d.h.Check(d.final)
		return nil
	}
}

// onePut is the lab's OneClientPut loop on key until *stop: Put(key,
// {me, ver}, ver), then a Get whose version becomes the next ver. OK and
// ErrMaybe count in *nok / *nmaybe; ErrVersion repeats the round. idle runs
// once the loop has stopped.
func (d *deployment) onePut(ck *kv.Clerk, me, key string, stop *bool, nok, nmaybe *int, between func(next func()), idle func()) {
	l := &putLoop{d: d, ck: ck, me: me, key: key, stop: stop, nok: nok, nmaybe: nmaybe, between: between, idle: idle}
	l.onPut, l.onGet, l.next = l.put, l.got, l.round
	l.round()
}

// putLoop is one onePut loop: its callbacks are bound once, not made per
// round (the rounds run one after another).
type putLoop struct {
	d           *deployment
	ck          *kv.Clerk
	me, key     string
	stop        *bool
	nok, nmaybe *int
	between     func(next func())
	idle        func()
	ver         uint64 // the round's version
	buf         []byte // scratch for the round's value
	onPut       func(kv.Err)
	onGet       func(string, uint64, kv.Err)
	next        func()
}

func (l *putLoop) round() {
	if *l.stop {
		l.idle()
		return
	}
	l.buf = strconv.AppendUint(append(append(l.buf[:0], l.me...), '/'), l.ver, 10)
	l.ck.Put(l.key, string(l.buf), l.ver, l.onPut)
}

func (l *putLoop) put(err kv.Err) {
	l.d.h.Done()
	switch err {
	case kv.OK:
		*l.nok++
	case kv.ErrMaybe:
		*l.nmaybe++
	case kv.ErrVersion:
	default:
		failf(l.d.c, "kvsrv.workload", "%s: put(%q, v%d) = %s", l.me, l.key, l.ver, err)
		return
	}
	l.ck.Get(l.key, l.onGet)
}

func (l *putLoop) got(_ string, ver uint64, err kv.Err) {
	l.d.h.Done()
	if err != kv.OK {
		failf(l.d.c, "kvsrv.workload", "%s: get(%q) after a put = %s", l.me, l.key, err)
		return
	}
	l.ver = ver
	l.between(l.next)
}

func now(next func()) { next() }

// concurrent is TestPutConcurrentReliable: clients OnePut loops on "k"
// during the fault phase; the key's final version must equal the OKs.
func concurrent(im impl) func(c *scenarios.Cluster) error {
	return func(c *scenarios.Cluster) error {
		d := deploy(c, im)
		d.h.PorcupineTimeout = 10 * time.Second
		n := c.Int(kClients)
		if n < 1 || n > 100 {
			return fmt.Errorf("kvsrv: %s must be 1..100", kClients)
		}
		stop, idle, nok, nmaybe := false, 0, 0, 0
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("c%d", i)
			AddClient(c, name, func(env *sim.Env) {
				ck := d.clerk(env)
				env.After(sim.Millisecond, func() {
					d.onePut(ck, name, "k", &stop, &nok, &nmaybe, now, func() { idle++ })
				})
			})
		}
		c.OnHeal(func() { stop = true })
		c.Progress("clients stop", func() error {
			if idle < n {
				return fmt.Errorf("%d of %d clients still in an operation", n-idle, n)
			}
			return nil
		})
		c.Check("kvsrv.put-concurrent", func() error {
			c.Metric("nok", float64(nok))
			c.Metric("nmaybe", float64(nmaybe))
			f := d.final()["k"]
			if f.Version != uint64(nok) {
				return fmt.Errorf("final version %d, want the %d OK puts (%d ErrMaybe) on a reliable network", f.Version, nok, nmaybe)
			}
			return nil
		})
		d.h.Check(d.final)
		return nil
	}
}

// memBound is the most state the server may keep in mem-many-clients: one
// 1000-byte value, its key and fixed per-key overheads, whatever the
// number of clerks.
const memBound = 1000 + 1024

// memManyClients is TestMemPutManyClientsReliable, scaled: many clerks
// (spread over a few client nodes) each Put k@1 (ErrNoKey); then clerk i
// puts a 1000-byte value at version i. The server's state must not grow
// with the clerks.
func memManyClients(im impl) func(c *scenarios.Cluster) error {
	return func(c *scenarios.Cluster) error {
		d := deploy(c, im)
		n, hosts := c.Int(kClerks), 10
		if n < hosts || n > 1_000_000 {
			return fmt.Errorf("kvsrv: %s must be %d..1000000", kClerks, hosts)
		}
		var clerks []*kv.Clerk
		for i := 0; i < hosts; i++ {
			share := n / hosts
			if i < n%hosts {
				share++
			}
			AddClient(c, fmt.Sprintf("c%d", i), func(env *sim.Env) {
				for j := 0; j < share; j++ {
					clerks = append(clerks, d.clerk(env))
				}
			})
		}
		done, noKey := false, 0
		var bytesAfterNoKey int
		value := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), 1000) }
		// The Puts run one after another: one callback, made once, serves
		// them all (cur is the clerk whose Put is out).
		var sequential func(i int)
		var put func(err kv.Err)
		cur := 0
		sequential = func(i int) {
			if i == len(clerks) {
				done = true
				return
			}
			cur = i
			clerks[i].Put("k", value(i), uint64(i), put)
		}
		put = func(err kv.Err) {
			i := cur
			d.h.Done()
			if err != kv.OK {
				failf(c, "kvsrv.script", "clerk %d: put(k, v%d) = %s, want OK", i, i, err)
				return
			}
			sequential(i + 1)
		}
		c.W.At(sim.Time(sim.Millisecond), func() {
			for i, ck := range clerks {
				i := i
				ck.Put("k", "", 1, func(err kv.Err) {
					d.h.Done()
					if err != kv.ErrNoKey {
						failf(c, "kvsrv.script", "clerk %d: put(k, v1) on a missing key = %s, want ErrNoKey", i, err)
						return
					}
					if noKey++; noKey == len(clerks) {
						bytesAfterNoKey = d.serverBytes()
						sequential(0)
					}
				})
			}
		})
		finished(c, "the puts", &done)
		c.Check("kvsrv.memory", func() error {
			b := d.serverBytes()
			c.Metric("server_bytes", float64(b))
			c.Metric("server_bytes_per_clerk", float64(b)/float64(n))
			if b > memBound || bytesAfterNoKey > memBound {
				return fmt.Errorf("server keeps %d bytes (%d after %d clerks' ErrNoKey puts) for one key: more than %d, so it keeps state per client", b, bytesAfterNoKey, n, memBound)
			}
			return nil
		})
		d.h.Check(d.final)
		return nil
	}
}

// serverBytes is the server's accounted state size.
func (d *deployment) serverBytes() int {
	switch s := d.c.W.Node(d.srv).(type) {
	case interface{ StateBytes() int }:
		return s.StateBytes()
	case storeHolder:
		return s.Store().Bytes()
	}
	return 0
}

// unreliableNet is TestUnreliableNet: 100 rounds of Put k@round, repeated
// while ErrMaybe (a repeat must get ErrVersion), then a Get that must show
// version round+1 and the round's first value; some ErrMaybe must be seen.
func unreliableScript(im impl) func(c *scenarios.Cluster) error {
	return func(c *scenarios.Cluster) error {
		d := deploy(c, im)
		done, maybes := false, 0
		const rounds = 100
		AddClient(c, "c0", func(env *sim.Env) {
			ck := d.clerk(env)
			var round func(try int)
			var attempt func(try, i int)
			round = func(try int) {
				if try == rounds {
					done = true
					return
				}
				attempt(try, 0)
			}
			attempt = func(try, i int) {
				ck.Put("k", strconv.Itoa(i), uint64(try), func(err kv.Err) {
					d.h.Done()
					if err == kv.ErrMaybe {
						maybes++
						attempt(try, i+1)
						return
					}
					if i > 0 && err != kv.ErrVersion {
						failf(c, "kvsrv.script", "round %d: a repeat after ErrMaybe got %s: the put happened twice", try, err)
						return
					}
					if i == 0 && err != kv.OK {
						failf(c, "kvsrv.script", "round %d: put = %s", try, err)
						return
					}
					ck.Get("k", func(val string, ver uint64, err kv.Err) {
						d.h.Done()
						if err != kv.OK || ver != uint64(try+1) || val != "0" {
							failf(c, "kvsrv.script", "round %d: get = %q@v%d %s, want \"0\"@v%d", try, val, ver, err, try+1)
							return
						}
						round(try + 1)
					})
				})
			}
			env.After(sim.Millisecond, func() { round(0) })
		})
		finished(c, "the 100 rounds", &done)
		c.Check("kvsrv.maybe", func() error {
			c.Metric("maybes", float64(maybes))
			if maybes == 0 {
				return fmt.Errorf("clerk.Put never returned ErrMaybe in %d rounds", rounds)
			}
			return nil
		})
		d.h.Check(d.final)
		return nil
	}
}

// swarm runs clients against the server under the swarm's faults: each
// client loops OnePut rounds and Gets of random keys. The server and the
// clients are all fault targets (server first), so partitions cut
// client-server links, one way or both, and pauses hit either. When the
// seed's network duplicates messages each client writes its own key (a
// stateless server cannot tell a late duplicate from a retry once another
// client wrote the key: see kv.Server); otherwise all share one key.
func swarm(im impl) func(c *scenarios.Cluster) error {
	return func(c *scenarios.Cluster) error {
		d := deploy(c, im)
		n := c.Int(kClients)
		if n < 1 || n > 32 {
			return fmt.Errorf("kvsrv: %s must be 1..32", kClients)
		}
		shared := true
		if f := c.Scenario.FaultsFor(c.Variant, c.Seed); f != nil && !f.Network.Base.Dup.Zero() {
			shared = false
		}
		keys := make([]string, n)
		for i := range keys {
			keys[i] = "k"
			if !shared {
				keys[i] = fmt.Sprintf("k%d", i)
			}
		}
		var targets []sim.NodeID
		completed := make([]int, n)
		atHeal := make([]int, n)
		stop := false
		for i := 0; i < n; i++ {
			i, name := i, fmt.Sprintf("c%d", i)
			targets = append(targets, AddClient(c, name, func(env *sim.Env) {
				ck := d.clerk(env)
				nok, nmaybe := 0, 0
				// One Get between rounds at a time: its callback is
				// bound once and calls the round's next.
				var next func()
				got := func(string, uint64, kv.Err) {
					d.h.Done()
					completed[i]++
					next()
				}
				between := func(n2 func()) {
					next = n2
					ck.Get(keys[env.Rand().Intn(n)], got)
				}
				env.After(sim.Millisecond, func() {
					d.onePut(ck, name, keys[i], &stop, &nok, &nmaybe, between, func() {})
				})
			}))
		}
		c.Servers(targets...)
		c.OnHeal(func() { copy(atHeal, completed) })
		c.Progress("clients complete operations", func() error {
			for i := range completed {
				if completed[i] < atHeal[i]+3 {
					return fmt.Errorf("c%d completed %d operations since healing", i, completed[i]-atHeal[i])
				}
			}
			return nil
		})
		d.h.Check(d.final)
		return nil
	}
}

func kvsrvScenarios(im impl) []*scenarios.Scenario {
	clients := func(def int) scenarios.Param {
		return scenarios.Param{Key: kClients, Default: strconv.Itoa(def), Doc: "number of clients", Range: scenarios.Span(1, 64)}
	}
	swarmKinds := sim.Kinds{Loss: true, Dup: true, Delay: true, Reorder: true, Partition: true, OneWay: true,
		Flaky: true, Clog: true, Pause: true, Drift: true, Jump: true}
	return []*scenarios.Scenario{
		{
			Name:        "kvsrv/reliable-put",
			Description: "lab TestReliablePut: Put, Get, stale Put (ErrVersion), Put and Get of a missing key (ErrNoKey)",
			Params:      []scenarios.Param{timeoutParam}, Duration: 5 * sim.Second, Setup: reliablePut(im),
		},
		{
			Name:        "kvsrv/concurrent-reliable",
			Description: "lab TestPutConcurrentReliable: 10 clerks' OnePut loops on one key for 1s; final version == OK puts; porcupine 10s",
			Params:      []scenarios.Param{clients(10), timeoutParam}, Duration: sim.Second, Liveness: 5 * sim.Second,
			Setup: concurrent(im),
		},
		{
			Name:        "kvsrv/mem-many-clients",
			Description: "lab TestMemPutManyClientsReliable, scaled: many clerks, server state must not grow with them",
			Params:      []scenarios.Param{{Key: kClerks, Default: "1000", Doc: "number of clerks (over 10 client nodes)", Range: scenarios.Span(10, 100000)}, timeoutParam},
			Duration:    60 * sim.Second, Setup: memManyClients(im),
		},
		{
			Name:        "kvsrv/unreliable",
			Description: "lab TestUnreliableNet: 100 rounds of put-until-not-maybe on a lossy network; some ErrMaybe must be seen",
			Params:      []scenarios.Param{timeoutParam}, Duration: 60 * sim.Second, Faults: unreliable,
			Setup: unreliableScript(im),
		},
		{
			Name:        "kvsrv/swarm",
			Description: "clients vs the single server under swarm faults: loss, dup, delay, reorder, clogs, pauses, (one-way) client-server cuts, clock drift and jumps",
			Params:      []scenarios.Param{clients(3), timeoutParam}, Duration: 10 * sim.Second, Liveness: 5 * sim.Second,
			Kinds: &swarmKinds, Setup: swarm(im),
		},
	}
}

func init() {
	for _, s := range kvsrvScenarios(safe) {
		register(s)
	}
	for _, s := range lockScenarios(safe) {
		register(s)
	}
}
