// Package rsm registers dsim's replicated-state-machine scenarios (rsm/...):
// one per test of the MIT 6.5840 lab 4A/4C RSM tester (LABS.md §2.4),
// scripted in virtual time with the same bounds and the lab's counter service
// (Inc returns the new value, Null does nothing, Dec must never execute),
// and beyond the lab: swarm faults and snapshot churn with clients that keep
// submitting while faults are active, checked for exactly-once execution,
// and unsafe variants of nodes/rsm that dsim must catch.
//
// Servers host nodes/rsm around the counter; clients are world-level
// drivers that call Submit and Read on a server directly, as the lab's
// tester does (a server's group partition never cuts its clients off; a
// crashed or replaced server fails the call within 100 ms, like labrpc).
// Raft's online checkers (checkers/raftcheck) watch every server through
// raft.Config's Observer. Variant keys: the raft.* keys of scenarios/raft,
// plus rsm.maxraftstate and the rsm.unsafe_* switches.
//
// Where dsim differs from the lab tester:
//   - each lab Submit is a fresh client's first op (the lab's RSM has no
//     client ids), so a retry after an ambiguous ErrWrongLeader is applied
//     once instead of making a rare election race fail the exact counts;
//   - Shutdown4A first waits for an Inc, so that a leader holds pending Nulls
//     when everything shuts down;
//   - LeaderPartition4A's "not all Decs returned within 1 s" is skipped under
//     raft.checkquorum=true, where the cut-off leader rightly steps down.
//
// It may import sim, scenarios, checkers, nodes/raft, nodes/rsm and
// scenarios/raft (for the raft.* variant keys).
package rsm

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/nodes/rsm"
	"github.com/smilingraft/dsim/scenarios"
	raftscen "github.com/smilingraft/dsim/scenarios/raft"
	"github.com/smilingraft/dsim/sim"
)

// Variant keys of rsm scenarios (besides raft.*).
const (
	kServers      = "raft.servers"
	kMaxRaftState = "rsm.maxraftstate"
	kClients      = "rsm.clients"
	kNoDedup      = "rsm.unsafe_no_dedup"
	kAnswerAny    = "rsm.unsafe_answer_any"
)

// params returns the variant keys of an rsm scenario: raft.* (servers > 0
// adds raft.servers), rsm.maxraftstate with its default, the unsafe
// switches, and rsm.clients when clients > 0.
func params(servers, maxRaftState, clients int, over map[string]string) []scenarios.Param {
	ps := raftscen.Params(servers, nil)
	ps = append(ps,
		scenarios.Param{Key: kMaxRaftState, Default: strconv.Itoa(maxRaftState), Doc: "snapshot when Raft's persisted state reaches this many bytes; <= 0 never",
			Range: scenarios.Span(-1, 1<<30)},
		scenarios.Param{Key: kNoDedup, Default: "false", Doc: "UNSAFE: no duplicate detection (retried ops may apply twice)"},
		scenarios.Param{Key: kAnswerAny, Default: "false", Doc: "UNSAFE: answer a Submit with whatever entry lands at its index"})
	if clients > 0 {
		ps = append(ps, scenarios.Param{Key: kClients, Default: strconv.Itoa(clients), Doc: "clients submitting concurrently",
			Range: scenarios.Span(1, 64)})
	}
	for i := range ps {
		if v, ok := over[ps[i].Key]; ok {
			ps[i].Default = v
		}
	}
	return ps
}

// reliable is the lab's RSM network: no drops, short delays.
var reliable = sim.NetOptions{DelayMin: 100 * sim.Microsecond, DelayMax: 2 * sim.Millisecond}

// harness is a group of RSM servers, the raft checker watching them, and
// what the lab tester keeps: connectivity and the last known leader.
type harness struct {
	c       *scenarios.Cluster
	w       *sim.World
	n       int
	ids     []sim.NodeID
	chk     *raftcheck.Checker
	conn    []bool
	leader  int // last server that answered a Submit OK
	cfg     rsm.Config
	clients uint64 // client ids handed out by the lab's helper
	allSrv  []int  // 0..n-1: do's servers when its call names none

	maxState int // largest Raft persisted state seen (bytes)
	underF   int // ops acknowledged while a fault was active
	acked    int // ops acknowledged

	done bool
	at   string // the script's current step, for a stuck script

	// broken, if set, breaks each server's counter at boot (tests only).
	broken func(*counter)
}

// hooks is what a server's Raft reports to: the embedded raftcheck Checker
// takes every Observer and raft.Auditor call (online and white-box checks);
// BecameLeader also notes the election in the trace.
type hooks struct {
	*raftcheck.Checker
	h *harness
}

var _ raft.Auditor = hooks{}

// BecameLeader tells the checker and notes the election in the trace.
func (o hooks) BecameLeader(server int, term uint64) {
	o.Checker.BecameLeader(server, term)
	o.h.w.Note("s%d became leader in term %d", server, term)
}

// server is one RSM peer around the counter service.
type server struct {
	h   *harness
	cfg rsm.Config
	me  int
	s   *rsm.RSM
	sm  *counter
}

// Start builds the RSM (and Raft) from the disk.
func (v *server) Start(env *sim.Env) {
	v.sm = newCounter(env, v.me)
	if v.h != nil && v.h.broken != nil {
		v.h.broken(v.sm)
	}
	s, err := rsm.New(env, v.cfg, v.sm)
	if err != nil {
		env.Fail("setup", "%v", err)
		return
	}
	v.s = s
}

// Receive routes Raft's messages.
func (v *server) Receive(from sim.NodeID, msg sim.Message) {
	if v.s != nil {
		v.s.Step(from, msg)
	}
}

// Role reports Raft's term and leadership (for leader-targeted faults).
func (v *server) Role() (uint64, bool) {
	if v.s == nil {
		return 0, false
	}
	return v.s.Raft().State()
}

// Inspect shows the server's state when a run stops at an event.
func (v *server) Inspect() any {
	if v.s == nil {
		return "no rsm"
	}
	return map[string]any{"counter": v.sm.n, "rsm": v.s.Inspect()}
}

// newHarness builds n servers on net and declares them as fault targets;
// broken, if set, breaks every server's counter (tests only).
func newHarness(c *scenarios.Cluster, n int, net sim.NetOptions, broken func(*counter)) (*harness, error) {
	if n < 1 || n > 15 {
		return nil, fmt.Errorf("rsm: servers must be 1..15, got %d", n)
	}
	h := &harness{c: c, w: c.W, n: n, conn: make([]bool, n), broken: broken}
	h.chk = raftcheck.New(c.W.Fail)
	c.W.SetNet(net)
	first := sim.NodeID(c.W.NumNodes())
	for i := 0; i < n; i++ {
		h.ids = append(h.ids, first+sim.NodeID(i))
	}
	h.cfg = rsm.Config{MaxRaftState: c.Int(kMaxRaftState), UnsafeNoDedup: c.Bool(kNoDedup), UnsafeAnswerAnyEntry: c.Bool(kAnswerAny)}
	for i := 0; i < n; i++ {
		i := i
		id := c.W.AddNode(fmt.Sprintf("s%d", i), func() sim.Node {
			h.chk.Restarted(i)
			cfg := h.cfg
			cfg.Raft = raftscen.Config(c, i, h.ids, hooks{h.chk, h})
			return &server{cfg: cfg, me: i, h: h}
		})
		if id != h.ids[i] {
			return nil, fmt.Errorf("rsm: node ids not contiguous")
		}
		h.conn[i] = true
	}
	if f := c.W.Failure(); f != nil {
		return nil, fmt.Errorf("%s", f.Message)
	}
	c.Servers(h.ids...)
	c.Metric(scenarios.WorkUnderFaults, 0)
	c.Check("rsm.metrics", func() error {
		h.noteState()
		c.Metric("max_raft_state_bytes", float64(h.maxState))
		c.Metric("acked", float64(h.acked))
		c.Metric("acked_under_faults", float64(h.underF))
		return nil
	})
	return h, nil
}

// srv returns server i if it runs and is not paused (nil otherwise).
func (h *harness) srv(i int) *server {
	id := h.ids[i]
	if !h.w.Up(id) || h.w.Paused(id) {
		return nil
	}
	v, _ := h.w.Node(id).(*server)
	if v == nil || v.s == nil {
		return nil
	}
	return v
}

// stopped reports whether the run already failed.
func (h *harness) stopped() bool { return h.w.Failure() != nil }

// noteState records Raft's persisted size on every running server.
func (h *harness) noteState() {
	for i := 0; i < h.n; i++ {
		if v := h.srv(i); v != nil {
			if sz := v.s.Raft().PersistSize(); sz > h.maxState {
				h.maxState = sz
			}
		}
	}
}

// ---- connectivity, the lab tester's way ----

// disconnect cuts server i off from every other server, both ways.
func (h *harness) disconnect(i int) {
	h.conn[i] = false
	h.w.Isolate(h.ids[i], h.ids)
}

// connect restores server i's links to every connected server.
func (h *harness) connect(i int) {
	h.conn[i] = true
	for j := 0; j < h.n; j++ {
		if j != i && h.conn[j] {
			h.w.Connect(h.ids[i], h.ids[j])
			h.w.Connect(h.ids[j], h.ids[i])
		}
	}
}

// partition cuts the servers into two sides (the lab's Partition).
func (h *harness) partition(a, b []int) {
	for _, i := range a {
		h.conn[i] = true
	}
	for _, i := range b {
		h.conn[i] = true
	}
	ids := func(xs []int) []sim.NodeID {
		var out []sim.NodeID
		for _, x := range xs {
			out = append(out, h.ids[x])
		}
		return out
	}
	h.w.Partition([][]sim.NodeID{ids(a), ids(b)})
}

// shutdown is the lab's ShutdownServer: disconnect, Kill (pending Submits
// return ErrWrongLeader), crash.
func (h *harness) shutdown(i int) {
	h.disconnect(i)
	if v, _ := h.w.Node(h.ids[i]).(*server); v != nil && v.s != nil && h.w.Up(h.ids[i]) {
		v.s.Kill()
	}
	h.w.Crash(h.ids[i])
}

// start is the lab's StartServer followed by connecting it.
func (h *harness) start(i int) {
	if h.w.Up(h.ids[i]) {
		h.shutdown(i)
	}
	h.w.Restart(h.ids[i])
	h.connect(i)
}

// counters returns the counter of every running server (-1 if down).
func (h *harness) counters() []int64 {
	out := make([]int64, h.n)
	for i := 0; i < h.n; i++ {
		out[i] = -1
		if v, _ := h.w.Node(h.ids[i]).(*server); v != nil && v.s != nil && h.w.Up(h.ids[i]) {
			out[i] = v.sm.n
		}
	}
	return out
}

// ---- clients ----

// errGaveUp: the call's time limit passed without an OK.
var errGaveUp = errors.New("gave up")

// call says how a client calls the group.
type call struct {
	servers []int        // servers to try (nil: all)
	limit   sim.Duration // give up after this long (0: never)
	timeout sim.Duration // per-attempt timeout (0: wait for the answer)
	read    bool         // Read instead of Submit
}

// do submits op as (client, seq) the lab's way: try each server starting at
// the last known leader; ErrWrongLeader (or a server that crashed or was
// replaced, noticed within 100 ms, or an attempt that timed out) moves on to
// the next, with 50 ms between passes, until an OK or the limit. k runs from
// a world event of its own, never inside a server's handler.
func (h *harness) do(o call, client, seq uint64, op []byte, k func(res []byte, err error)) {
	d := &doCall{h: h, o: o, client: client, seq: seq, op: op, k: k, servers: o.servers, t0: h.w.Now()}
	if d.servers == nil {
		if len(h.allSrv) != h.n {
			h.allSrv = make([]int, h.n)
			for i := range h.allSrv {
				h.allSrv[i] = i
			}
		}
		d.servers = h.allSrv
	}
	d.pass()
}

// doCall is one do: its state lives in one object, and the funcs it hands
// to the world are made once per call (fire, pass, watch) or once per
// attempt (the RSM's callback, which tells its own attempt from a later one
// by gen).
type doCall struct {
	h                       *harness
	o                       call
	client, seq             uint64
	op                      []byte
	k                       func(res []byte, err error)
	servers                 []int
	t0                      sim.Time
	tried                   int
	passFn, fireFn, watchFn func()
	// stale counts the watch timers still pending for attempts their
	// reply finished: each fires as a no-op, and before any watch of a
	// later attempt (every watch waits the same 100 ms, and the world runs
	// timers due at the same time in the order they were set).
	stale int

	// The current attempt.
	gen      int      // attempts made
	finished bool     // answered, or given up by its watch
	i        int      // its server
	v        *server  // that server's incarnation
	deadline sim.Time // its timeout
	res      []byte   // its answer, for fire
	err      error
}

func (d *doCall) pass() { d.tried = 0; d.attempt() }

func (d *doCall) attempt() {
	h := d.h
	if h.stopped() {
		return
	}
	if d.o.limit > 0 && h.w.Now().Sub(d.t0) >= d.o.limit {
		d.k(nil, errGaveUp)
		return
	}
	if d.tried == len(d.servers) {
		if d.passFn == nil {
			d.passFn = d.pass
		}
		h.w.After(50*sim.Millisecond, d.passFn)
		return
	}
	i := d.servers[(h.leaderPos(d.servers)+d.tried)%len(d.servers)]
	d.tried++
	v := h.srv(i)
	if v == nil {
		d.attempt()
		return
	}
	d.gen++
	gen := d.gen
	d.finished, d.i, d.v, d.deadline = false, i, v, h.w.Now().Add(d.o.timeout)
	cb := func(res []byte, err error) { d.reply(gen, res, err) }
	if d.o.read {
		v.s.Read(d.op, cb)
	} else {
		v.s.Submit(d.client, d.seq, d.op, cb)
	}
	if d.watchFn == nil {
		d.watchFn = d.watch
	}
	h.w.After(100*sim.Millisecond, d.watchFn)
}

// reply is attempt gen's RSM callback: the current attempt's first answer
// is handled from a world event of its own (fire).
func (d *doCall) reply(gen int, res []byte, err error) {
	if gen != d.gen || d.finished {
		return
	}
	d.finished = true
	d.stale++ // its watch timer is set (or about to be, if this runs inside Submit)
	d.res, d.err = res, err
	if d.fireFn == nil {
		d.fireFn = d.fire
	}
	d.h.w.After(0, d.fireFn)
}

func (d *doCall) fire() {
	h := d.h
	res, err := d.res, d.err
	d.res, d.err = nil, nil
	switch {
	case err == nil:
		h.leader = d.i
		h.acked++
		if h.w.FaultActive() {
			h.underF++
			h.c.Metric(scenarios.WorkUnderFaults, float64(h.underF))
		}
		d.k(res, nil)
	case errors.Is(err, rsm.ErrWrongLeader):
		d.attempt()
	default:
		d.k(nil, err)
	}
}

// watch gives the current attempt up (and tries the next server) once its
// server crashed or was replaced, or its timeout passed; every 100 ms. The
// timers of attempts already answered fire first, as no-ops (stale).
func (d *doCall) watch() {
	h := d.h
	if d.stale > 0 {
		d.stale--
		return
	}
	if d.finished || h.stopped() {
		return
	}
	cur, _ := h.w.Node(h.ids[d.i]).(*server)
	if cur != d.v || !h.w.Up(h.ids[d.i]) || (d.o.timeout > 0 && h.w.Now() >= d.deadline) {
		d.finished = true
		d.attempt()
		return
	}
	h.w.After(100*sim.Millisecond, d.watchFn)
}

// leaderPos is the position of the last known leader in servers (0 if it
// is not among them).
func (h *harness) leaderPos(servers []int) int {
	for p, i := range servers {
		if i == h.leader {
			return p
		}
	}
	return 0
}
