// Package kv registers the KV-on-Raft scenarios (kv/...): every kvraft test
// of the MIT 6.5840 lab 4B/4C (LABS.md §2.5) with the lab's bounds, shapes
// no lab has (partial partitions, one-way cuts, pauses and clock drift
// against each read path, disk faults, a swarm), the adversaries of the two
// unsafe read paths, and those unsafe variants themselves.
//
// Servers are nodes/kv.RaftServer (an rsm.RSM over nodes/raft around the
// versioned Store); clients are nodes with a kv.Clerk each, never fault
// targets: as in the lab, partitions cut server-to-server links only, so a
// clerk can always reach every server that runs (the unreliable network
// drops client messages too). Every scenario checks the client history for
// linearizability with porcupine (unknown is never a pass; the picture of a
// violation is attached with the faults and leader changes on its
// timeline), acknowledged Puts for durability in the final state, Raft's
// invariants online (checkers/raftcheck), and reports ops_during_faults,
// the operations that completed while sim.World.FaultActive held. Variant
// keys: raft.* (scenarios/raft.Params, raft.read picks the read path),
// kv.clients, kv.maxraftstate, kv.timeout_ms and the unsafe switch
// kv.unsafe_read_before_term_commit.
//
// The lab scenarios follow GenericTest: three iterations of clients running
// the OnePut loop, then CheckPutConcurrent, the heal of the random
// partitioner and the crash and restart of every server, then the Raft state
// bound (8 x maxraftstate, or no snapshot at all with -1). Where dsim
// differs from the lab tester:
//   - porcupine checks the whole history once at the end instead of after
//     every iteration (a prefix of a linearizable history is linearizable,
//     so the verdict is the same);
//   - with partitions, clients keep running for 2 s after the partitioner
//     starts (the lab's stop after 1 s, before most partitions), so that
//     operations complete under partitions;
//   - with crashes, a follower crashes for 0.6 s in the middle of each
//     iteration's client phase (the lab crashes only between iterations,
//     when no client runs), for the same reason;
//   - clerks time an attempt out after kv.timeout_ms and retry the next
//     server (labrpc's Call has no timeout), and Puts carry the clerk's id
//     and sequence number, so a retried Put that applied is answered OK from
//     the duplicate table instead of ErrMaybe;
//   - each script ends with a Get of its key, so that the last leader has
//     applied every acknowledged Put before the durability check reads it;
//   - snapshot-recover-many-clients spreads its 20 clients over 4 keys and
//     checks CheckPutConcurrent per key: porcupine's search grows
//     exponentially with the clients concurrent on one key, and 20 on one
//     key time it out (the lab's tester then passes; dsim never does), while
//     5 per key take milliseconds.
//     (kv.clients may raise the concurrency; an undecided run says so.)
//
// It may import sim, scenarios, checkers, nodes/kv, nodes/rsm and
// scenarios/raft and scenarios/kvsrv (for their exported helpers).
package kv

import (
	"fmt"
	"strconv"

	"github.com/smilingraft/dsim/checkers/kvcheck"
	"github.com/smilingraft/dsim/checkers/raftcheck"
	kvnode "github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/nodes/rsm"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/scenarios/kvsrv"
	raftscen "github.com/smilingraft/dsim/scenarios/raft"
	"github.com/smilingraft/dsim/sim"
)

// Variant keys of kv scenarios (besides raft.*).
const (
	kServers         = "raft.servers"
	kRead            = "raft.read"
	kUnsafeLease     = "raft.unsafe_lease"
	kElectionMax     = "raft.election_max_ms"
	kClients         = "kv.clients"
	kMaxRaftState    = "kv.maxraftstate"
	kTimeout         = "kv.timeout_ms"
	kUnsafeReadIndex = "kv.unsafe_read_before_term_commit"
)

// Checker names of failures the kv scenarios report themselves (besides
// kvsrv.Linearizability, kvsrv.Durability and raftcheck's).
const (
	// CheckScript: a scripted step saw an answer the lab forbids, or the
	// script did not finish within the scenario's time.
	CheckScript = "kv.script"
	// CheckPutConcurrent: the lab's CheckPutConcurrent bound on the final
	// version of the shared key.
	CheckPutConcurrent = "kv.put-concurrent"
	// CheckStateSize: Raft's persisted state above 8 x maxraftstate, or a
	// snapshot where maxraftstate is -1, or one above the size bound.
	CheckStateSize = "kv.raft-state-size"
	// CheckSpeed: the speed tests' time bound.
	CheckSpeed = "kv.speed"
	// CheckMinority: an operation sent to a minority finished before the heal.
	CheckMinority = "kv.minority"
)

// params returns a kv scenario's variant keys: raft.* with raft.servers,
// kv.clients (when clients >= 0), kv.maxraftstate, kv.timeout_ms and the
// unsafe switch; over replaces defaults by key.
func params(servers, clients, maxRaftState int, over map[string]string) []scenarios.Param {
	ps := raftscen.Params(servers, nil)
	if clients >= 0 {
		ps = append(ps, scenarios.Param{Key: kClients, Default: strconv.Itoa(clients), Doc: "number of clients (one clerk each)",
			Range: scenarios.Span(1, 64)})
	}
	ps = append(ps,
		scenarios.Param{Key: kMaxRaftState, Default: strconv.Itoa(maxRaftState),
			Doc: "snapshot once Raft's persisted state reaches this many bytes; -1 never", Range: scenarios.Span(-1, 1<<30)},
		scenarios.Param{Key: kTimeout, Default: "100", Doc: "clerk per-attempt timeout, ms", Range: scenarios.Span(1, 60_000)},
		scenarios.Param{Key: kUnsafeReadIndex, Default: "false",
			Doc: "UNSAFE: a new leader answers ReadIndex reads before an entry of its term commits"})
	for i := range ps {
		if v, ok := over[ps[i].Key]; ok {
			ps[i].Default = v
		}
	}
	return ps
}

// Networks of the lab tester and of the liveness phase.
var (
	// reliable: no drops, short delays, FIFO links.
	reliable = sim.NetOptions{DelayMin: 100 * sim.Microsecond, DelayMax: 2 * sim.Millisecond}
	// unreliable: 10% of every message dropped, up to 27 ms delay, no FIFO.
	unreliable = sim.NetOptions{DelayMax: 27 * sim.Millisecond, Loss: sim.R(1, 10), Reorder: sim.R(1, 2)}
	// calm: the network outside generated faults.
	calm = sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond}
)

// group is the servers of one run, the checkers watching them and the
// clients driving them.
type group struct {
	c   *scenarios.Cluster
	w   *sim.World
	h   *kvsrv.Harness
	n   int
	ids []sim.NodeID
	chk *raftcheck.Checker
	// maxRaftState is kv.maxraftstate; maxState the largest Raft persisted
	// state seen (bytes), maxSnap the largest snapshot.
	maxRaftState      int
	maxState, maxSnap int
	ckCfg             kvnode.ClerkConfig
	clients           []*client
}

// client is one client node and its clerk.
type client struct {
	name  string
	index int // position among the group's clients
	id    sim.NodeID
	env   *sim.Env
	ck    *kvnode.Clerk
	ver   map[string]uint64 // the OnePut loop's version per key
	done  int               // operations completed
}

// observer is what each server's Raft reports to: the embedded raftcheck
// Checker takes every Observer and raft.Auditor call (online and white-box
// checks); BecameLeader also marks leader changes on the picture's timeline.
type observer struct {
	*raftcheck.Checker
	g *group
}

var _ raft.Auditor = observer{}

// BecameLeader tells the checker and puts the leader change on the timeline.
func (o observer) BecameLeader(server int, term uint64) {
	o.Checker.BecameLeader(server, term)
	o.g.w.Note("s%d became leader in term %d", server, term)
	now := int64(o.g.w.Now())
	o.g.h.Annotations = append(o.g.h.Annotations, kvcheck.Annotation{Tag: "leader", Start: now, End: now,
		Description: fmt.Sprintf("s%d leads term %d", server, term)})
}

// newGroup builds n RaftServers on net, declares them as the fault targets
// and registers the KV checkers (porcupine, durability) and the metrics.
func newGroup(c *scenarios.Cluster, n int, net sim.NetOptions) (*group, error) {
	if n < 1 || n > 15 {
		return nil, fmt.Errorf("kv: servers must be 1..15, got %d", n)
	}
	g := &group{c: c, w: c.W, n: n, h: kvsrv.NewHarness(c), maxRaftState: c.Int(kMaxRaftState)}
	g.chk = raftcheck.New(c.W.Fail)
	g.ckCfg = kvnode.ClerkConfig{Timeout: sim.Duration(c.Int(kTimeout)) * sim.Millisecond}
	c.W.SetNet(net)
	first := sim.NodeID(c.W.NumNodes())
	for i := 0; i < n; i++ {
		g.ids = append(g.ids, first+sim.NodeID(i))
	}
	unsafeRead := c.Bool(kUnsafeReadIndex)
	for i := 0; i < n; i++ {
		i := i
		id := c.W.AddNode(fmt.Sprintf("s%d", i), func() sim.Node {
			g.chk.Restarted(i)
			cfg := rsm.Config{MaxRaftState: g.maxRaftState, Raft: raftscen.Config(c, i, g.ids, observer{g.chk, g})}
			cfg.Raft.UnsafeReadBeforeTermCommit = unsafeRead
			return kvnode.NewRaftServer(cfg)
		})
		if id != g.ids[i] {
			return nil, fmt.Errorf("kv: server node ids not contiguous")
		}
	}
	if f := c.W.Failure(); f != nil {
		return nil, fmt.Errorf("%s", f.Message)
	}
	c.Servers(g.ids...)
	g.h.Check(g.final)
	c.Check("kv.metrics", func() error {
		g.noteState()
		c.Metric("max_raft_state_bytes", float64(g.maxState))
		c.Metric("max_snapshot_bytes", float64(g.maxSnap))
		c.Metric("raft_max_term", float64(g.chk.Stats().MaxTerm))
		return nil
	})
	return g, nil
}

// addClients adds k client nodes c0..c(k-1), each with a clerk over every
// server.
func (g *group) addClients(k int) error {
	if k < 0 || k > 64 {
		return fmt.Errorf("kv: %s must be 1..64, got %d", kClients, k)
	}
	for i := 0; i < k; i++ {
		g.addClient(g.ids)
	}
	return nil
}

// addClient adds one client node whose clerk talks to servers.
func (g *group) addClient(servers []sim.NodeID) *client {
	cl := &client{name: fmt.Sprintf("c%d", len(g.clients)), index: len(g.clients), ver: map[string]uint64{}}
	cl.id = kvsrv.AddClient(g.c, cl.name, func(env *sim.Env) {
		cl.env = env
		cl.ck = kvnode.NewClerk(env, servers, g.ckCfg)
	})
	g.clients = append(g.clients, cl)
	return cl
}

// server returns server i if it runs (nil otherwise).
func (g *group) server(i int) *kvnode.RaftServer {
	if !g.w.Up(g.ids[i]) {
		return nil
	}
	s, _ := g.w.Node(g.ids[i]).(*kvnode.RaftServer)
	if s == nil || s.RSM() == nil {
		return nil
	}
	return s
}

// final is the state the durability checker reads: the store of the
// running, uncorrupted server that applied the most.
func (g *group) final() map[string]kvcheck.State {
	var best *kvnode.RaftServer
	for i := 0; i < g.n; i++ {
		s := g.server(i)
		if s == nil || s.RSM().Raft().Corrupt() {
			continue
		}
		if best == nil || s.RSM().Applied() > best.RSM().Applied() {
			best = s
		}
	}
	if best == nil {
		return map[string]kvcheck.State{}
	}
	return kvsrv.StoreState(best.Store())
}

// noteState records the largest Raft state and snapshot of the running
// servers.
func (g *group) noteState() {
	for i := 0; i < g.n; i++ {
		if s := g.server(i); s != nil {
			if sz := s.RSM().Raft().PersistSize(); sz > g.maxState {
				g.maxState = sz
			}
			if sz := len(s.RSM().Raft().SnapshotData()); sz > g.maxSnap {
				g.maxSnap = sz
			}
		}
	}
}

// checkState is the lab's bound on Raft's state: with maxraftstate > 0 every
// running server's persisted state is at most 8 x maxraftstate; with -1 no
// server has a snapshot. It fails the run and returns false on a violation.
func (g *group) checkState(when string) bool {
	g.noteState()
	for i := 0; i < g.n; i++ {
		s := g.server(i)
		if s == nil {
			continue
		}
		r := s.RSM().Raft()
		switch {
		case g.maxRaftState > 0 && r.PersistSize() > 8*g.maxRaftState:
			g.w.Fail(CheckStateSize, "%s: s%d's Raft state is %d B > 8 x maxraftstate = %d B", when, i, r.PersistSize(), 8*g.maxRaftState)
			return false
		case g.maxRaftState <= 0 && len(r.SnapshotData()) > 0:
			g.w.Fail(CheckStateSize, "%s: s%d has a %d B snapshot with maxraftstate %d", when, i, len(r.SnapshotData()), g.maxRaftState)
			return false
		}
	}
	return true
}

// leader returns the index of the server leading in the highest term, or -1.
func (g *group) leader() int {
	id, _, err := raftcheck.Leader(g.w, g.ids)
	if err != nil {
		return -1
	}
	return int(id - g.ids[0])
}

// stopped reports whether the run already failed.
func (g *group) stopped() bool { return g.w.Failure() != nil }

// ---- the OnePut workload ----

// putLoop is the lab's OneClientPut loop run by a set of clients: each picks
// a key (the first, or a random one with random keys), Puts {me, ver} at its
// version of the key, then Gets the key and takes the returned version; OK
// and ErrMaybe count, ErrVersion repeats the round. Clients notice stop only
// between operations.
type putLoop struct {
	g      *group
	cls    []*client
	keys   []string
	random bool
	// between, if set, runs between a client's rounds (extra reads, say).
	between func(cl *client, next func())

	stop        bool
	idle        int
	nok, nmaybe int
	// okBy and maybeBy count OK and ErrMaybe Puts per key.
	okBy, maybeBy map[string]int

	loops map[*client]*clientLoop
}

// clientLoop is one client's loop: its round's key and version, and its
// callbacks, bound once instead of made per round (a client runs one
// operation at a time).
type clientLoop struct {
	wl    *putLoop
	cl    *client
	key   string
	ver   uint64
	buf   []byte // scratch for the round's value
	onPut func(kvnode.Err)
	onGet func(string, uint64, kvnode.Err)
	next  func()
}

// keysFor returns the lab's keys: "k", or k0..k(n-1) for random keys.
func keysFor(n int) []string {
	if n <= 1 {
		return []string{"k"}
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	return keys
}

// run starts every client's loop now.
func (wl *putLoop) run() {
	wl.stop, wl.idle = false, 0
	if wl.okBy == nil {
		wl.okBy, wl.maybeBy = map[string]int{}, map[string]int{}
	}
	if wl.loops == nil {
		wl.loops = map[*client]*clientLoop{}
	}
	for _, cl := range wl.cls {
		l := wl.loops[cl]
		if l == nil {
			l = &clientLoop{wl: wl, cl: cl}
			l.onPut, l.onGet, l.next = l.put, l.got, l.round
			wl.loops[cl] = l
		}
		l.round()
	}
}

// home is the key client i works on without random keys: the clients are
// spread over the keys (the lab's one key "k" when there is one).
func (wl *putLoop) home(i int) string { return wl.keys[i%len(wl.keys)] }

// running reports whether some client is still in an operation.
func (wl *putLoop) running() bool { return wl.idle < len(wl.cls) }

func (l *clientLoop) round() {
	wl, cl := l.wl, l.cl
	if wl.g.stopped() {
		return
	}
	if wl.stop {
		wl.idle++
		return
	}
	key := wl.home(cl.index)
	if wl.random {
		key = wl.keys[cl.env.Rand().Intn(len(wl.keys))]
	}
	ver := cl.ver[key]
	l.key, l.ver = key, ver
	l.buf = strconv.AppendUint(append(append(l.buf[:0], cl.name...), '/'), ver, 10)
	cl.ck.Put(key, string(l.buf), ver, l.onPut)
}

func (l *clientLoop) put(err kvnode.Err) {
	wl, cl, g := l.wl, l.cl, l.wl.g
	g.h.Done()
	cl.done++
	switch err {
	case kvnode.OK:
		wl.nok++
		wl.okBy[l.key]++
	case kvnode.ErrMaybe:
		wl.nmaybe++
		wl.maybeBy[l.key]++
	case kvnode.ErrVersion:
	default:
		g.w.Fail(CheckScript, "%s: put(%q, v%d) = %s", cl.name, l.key, l.ver, err)
		return
	}
	cl.ck.Get(l.key, l.onGet)
}

func (l *clientLoop) got(_ string, v uint64, err kvnode.Err) {
	wl, cl, g := l.wl, l.cl, l.wl.g
	g.h.Done()
	cl.done++
	if err != kvnode.OK {
		g.w.Fail(CheckScript, "%s: get(%q) after a put = %s", cl.name, l.key, err)
		return
	}
	cl.ver[l.key] = v
	if wl.between != nil {
		wl.between(cl, l.next)
		return
	}
	l.round()
}

// ---- small script helpers (callbacks in virtual time) ----

// waitUntil polls cond every 10 ms and runs then once it holds; after limit
// it fails the run as CheckScript, naming what.
func (g *group) waitUntil(what string, limit sim.Duration, cond func() bool, then func()) {
	deadline := g.w.Now().Add(limit)
	var poll func()
	poll = func() {
		if g.stopped() {
			return
		}
		if cond() {
			then()
			return
		}
		if g.w.Now() >= deadline {
			g.w.Fail(CheckScript, "%s: not within %v", what, limit)
			return
		}
		g.w.After(10*sim.Millisecond, poll)
	}
	poll()
}

// after runs fn after d unless the run failed meanwhile.
func (g *group) after(d sim.Duration, fn func()) {
	g.w.After(d, func() {
		if !g.stopped() {
			fn()
		}
	})
}

// crashAll and restartAll are the lab's whole-group shutdown and restart.
func (g *group) crashAll() {
	for _, id := range g.ids {
		if s, _ := g.w.Node(id).(*kvnode.RaftServer); s != nil && g.w.Up(id) && s.RSM() != nil {
			s.RSM().Kill()
		}
		g.w.Crash(id)
	}
}

func (g *group) restartAll() {
	for _, id := range g.ids {
		g.w.Restart(id)
	}
}

// putAtLeastOnce is the lab's PutAtLeastOnce: Put value at ver, adding one
// to ver after each ErrVersion or ErrMaybe, until OK; then(ver it applied at).
func (g *group) putAtLeastOnce(cl *client, key, value string, ver uint64, then func(uint64)) {
	cl.ck.Put(key, value, ver, func(err kvnode.Err) {
		g.h.Done()
		switch err {
		case kvnode.OK:
			then(ver)
		case kvnode.ErrVersion, kvnode.ErrMaybe:
			g.putAtLeastOnce(cl, key, value, ver+1, then)
		default:
			g.w.Fail(CheckScript, "%s: put(%q, %q, v%d) = %s", cl.name, key, value, ver, err)
		}
	})
}

// checkGet is the lab's CheckGet: the key must hold value at version ver.
func (g *group) checkGet(cl *client, key, value string, ver uint64, then func()) {
	cl.ck.Get(key, func(val string, v uint64, err kvnode.Err) {
		g.h.Done()
		if err != kvnode.OK || val != value || v != ver {
			g.w.Fail(CheckScript, "%s: get(%q) = %q@v%d %s, want %q@v%d", cl.name, key, val, v, err, value, ver)
			return
		}
		then()
	})
}

// scripted registers the check that a script finished within the scenario's
// Duration; the script sets *done.
func (g *group) scripted(done *bool) {
	g.c.Check(CheckScript, func() error {
		if !*done {
			return fmt.Errorf("the script did not finish within %v", g.c.Scenario.Duration)
		}
		return nil
	})
}
