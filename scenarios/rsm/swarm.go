package rsm

import (
	"fmt"
	"strconv"

	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// workload is a set of clerks that keep working through the fault phase:
// each submits tagged Incs (and some Nulls) with increasing seqs, one at a
// time, retrying each until it is acknowledged (same seq, on the next
// server, after ErrWrongLeader or a 1 s attempt timeout), and reads the
// counter through the configured read path. It checks every answer:
//
//   - Inc replies are distinct and increase per client (each Inc is its own
//     step of one counter);
//   - a read returns at least the Incs acknowledged before it began and at
//     most the Incs issued before it returned (CheckStaleRead);
//   - at the end, once every clerk is idle and the servers agree, the counter
//     equals the Incs acknowledged, which equals those issued: each applied
//     exactly once (CheckCount; the counter service itself catches a tag
//     applied twice online, CheckExactlyOnce).
type workload struct {
	h        *harness
	timeout  sim.Duration
	clerks   []*clerk
	issued   int64          // Incs issued
	okIncs   int64          // Incs acknowledged
	values   map[int64]bool // values Incs returned
	reads    int
	syncing  bool     // a sync Null is out
	lastSync sim.Time // when the last one was issued
}

type clerk struct {
	id       uint64
	seq      uint64
	last     int64  // value of this clerk's last acknowledged Inc
	healSeq  uint64 // first seq issued after the heal (0: none yet)
	finished bool   // acknowledged an op issued after the heal: idle

	// The operation out (one at a time), and the callbacks bound once.
	wl           *workload
	verb         string
	op           []byte
	floor        int64 // a read's: Incs acknowledged before it began
	nextFn       func()
	onOp, onRead func(res []byte, err error)
}

// getOp is every read's op (never modified: the RSM copies what it keeps).
var getOp = []byte("get")

// startWorkload starts n clerks (ids 1..n) at time zero.
func (h *harness) startWorkload(n int) *workload {
	wl := &workload{h: h, timeout: sim.Second, values: map[int64]bool{}}
	for i := 0; i < n; i++ {
		cl := &clerk{id: uint64(i + 1), wl: wl}
		cl.nextFn = func() { wl.next(cl) }
		cl.onOp, cl.onRead = cl.opDone, cl.readDone
		wl.clerks = append(wl.clerks, cl)
		h.w.At(0, cl.nextFn)
	}
	return wl
}

// next issues cl's next operation after a short think time.
func (wl *workload) next(cl *clerk) {
	h := wl.h
	if h.stopped() {
		return
	}
	if cl.finished {
		return
	}
	r := h.c.Workload.Intn(10)
	if r < 2 {
		wl.read(cl)
		return
	}
	cl.seq++
	verb := "inc"
	if r == 2 {
		verb = "null"
	} else {
		wl.issued++
	}
	if h.c.Healed() && cl.healSeq == 0 {
		cl.healSeq = cl.seq
	}
	op := taggedOp(verb, cl.id, cl.seq)
	cl.verb, cl.op = verb, op
	h.do(call{timeout: wl.timeout}, cl.id, cl.seq, op, cl.onOp)
}

// opDone checks the answer to cl's op.
func (cl *clerk) opDone(res []byte, err error) {
	wl := cl.wl
	h := wl.h
	if err != nil {
		h.w.Fail(CheckReply, "client %d: Submit(%s): %v", cl.id, cl.op, err)
		return
	}
	if cl.verb == "inc" {
		v, perr := strconv.ParseInt(string(res), 10, 64)
		switch {
		case perr != nil:
			h.w.Fail(CheckReply, "client %d: Inc %d returned %q", cl.id, cl.seq, res)
			return
		case v <= cl.last:
			h.w.Fail(CheckReply, "client %d: Inc %d returned %d after its previous Inc returned %d", cl.id, cl.seq, v, cl.last)
			return
		case wl.values[v]:
			h.w.Fail(CheckReply, "client %d: Inc %d returned %d, which another Inc returned too", cl.id, cl.seq, v)
			return
		}
		wl.values[v] = true
		cl.last = v
		wl.okIncs++
	}
	if cl.healSeq != 0 && cl.seq >= cl.healSeq {
		cl.finished = true
		return
	}
	wl.think(cl)
}

// read reads the counter and checks it against the Incs acknowledged before
// the read began and issued before it returned.
func (wl *workload) read(cl *clerk) {
	cl.floor = wl.okIncs
	wl.h.do(call{timeout: wl.timeout, read: true}, 0, 0, getOp, cl.onRead)
}

func (cl *clerk) readDone(res []byte, err error) {
	wl := cl.wl
	h := wl.h
	if err != nil {
		h.w.Fail(CheckReply, "client %d: read: %v", cl.id, err)
		return
	}
	v, perr := strconv.ParseInt(string(res), 10, 64)
	switch {
	case perr != nil:
		h.w.Fail(CheckReply, "client %d: read returned %q", cl.id, res)
		return
	case v < cl.floor:
		h.w.Fail(CheckStaleRead, "client %d: read returned %d, but %d Incs were acknowledged before it began", cl.id, v, cl.floor)
		return
	case v > wl.issued:
		h.w.Fail(CheckStaleRead, "client %d: read returned %d, but only %d Incs were issued", cl.id, v, wl.issued)
		return
	}
	wl.reads++
	wl.think(cl)
}

func (wl *workload) think(cl *clerk) {
	wl.h.w.After(wl.h.c.Workload.Between(0, 20*sim.Millisecond), cl.nextFn)
}

// liveness registers the liveness phase and the final exactly-once check:
// after the heal every clerk completes a fresh op and goes idle, and every
// server applies the same log prefix; then the counter must equal the
// acknowledged Incs on every server.
func (wl *workload) liveness() {
	h := wl.h
	h.c.Progress("rsm.clients", func() error {
		for _, cl := range wl.clerks {
			if !cl.finished {
				return fmt.Errorf("client %d has not completed an op issued after the heal (seq %d)", cl.id, cl.seq)
			}
		}
		return nil
	})
	h.c.Progress("rsm.converged", func() error {
		err := wl.converged()
		if err != nil && !wl.syncing && h.w.Now() >= wl.lastSync.Add(sim.Second) {
			wl.sync()
		}
		return err
	})
}

// converged reports whether every running server applied the same prefix.
func (wl *workload) converged() error {
	h := wl.h
	var applied uint64
	first := true
	for i := 0; i < h.n; i++ {
		v := h.srv(i)
		if v == nil {
			return fmt.Errorf("server %d is not running", i)
		}
		if v.s.Raft().Corrupt() {
			continue // inert by design after a checksum failure
		}
		a := v.s.Applied()
		if first {
			applied, first = a, false
		} else if a != applied {
			return fmt.Errorf("servers applied through different indexes (%d, %d): counters %v", applied, a, h.counters())
		}
	}
	return nil
}

// sync submits a Null as client 0: Raft commits entries of earlier terms
// only with one of the leader's own term, so after a leader change with
// every clerk idle the group needs one more write to converge.
func (wl *workload) sync() {
	wl.syncing = true
	wl.lastSync = wl.h.w.Now()
	wl.h.do(call{timeout: wl.timeout}, 0, 0, []byte("null"), func([]byte, error) { wl.syncing = false })
}

// checks registers the final exactly-once check.
func (wl *workload) checks() {
	h := wl.h
	h.c.Check(CheckCount, func() error {
		h.noteState()
		h.c.Metric("incs_acked", float64(wl.okIncs))
		h.c.Metric("reads", float64(wl.reads))
		if wl.okIncs != wl.issued {
			return fmt.Errorf("%d Incs issued but %d acknowledged with every clerk idle", wl.issued, wl.okIncs)
		}
		for i, c := range h.counters() {
			if v := h.srv(i); v != nil && v.s.Raft().Corrupt() {
				continue
			}
			if c != wl.okIncs {
				return fmt.Errorf("server %d has counter %d, but %d Incs were acknowledged (exactly once each)", i, c, wl.okIncs)
			}
		}
		return nil
	})
	h.c.Check(CheckSize, func() error {
		if bound := 2 * h.cfg.MaxRaftState; h.cfg.MaxRaftState > 0 {
			for i := 0; i < h.n; i++ {
				if v := h.srv(i); v != nil {
					if sz := v.s.Raft().PersistSize(); sz > bound {
						return fmt.Errorf("server %d: Raft state %d B > 2 x maxraftstate = %d B after the heal", i, sz, bound)
					}
				}
			}
		}
		return nil
	})
}

// swarmTest is a scenario with clerks working through generated faults.
type swarmTest struct {
	name, desc   string
	servers      int
	clients      int
	maxRaftState int
	kinds        *sim.Kinds
	faults       func(scenarios.Variant) sim.Faults
	unsafe       bool
	over         map[string]string
}

func registerSwarm(t swarmTest) {
	register(&scenarios.Scenario{
		Name: "rsm/" + t.name, Description: t.desc, Unsafe: t.unsafe,
		Params:   params(t.servers, t.maxRaftState, t.clients, t.over),
		Duration: 10 * sim.Second, Liveness: 10 * sim.Second,
		Kinds: t.kinds, Faults: t.faults,
		Setup: func(c *scenarios.Cluster) error { return setupSwarm(c, nil) },
	})
}

// setupSwarm builds a swarm scenario's servers and clerks; broken, if set,
// breaks every server's counter service (tests show the checks catch it).
func setupSwarm(c *scenarios.Cluster, broken func(*counter)) error {
	n, k := c.Int(kServers), c.Int(kClients)
	if k < 1 || k > 64 {
		return fmt.Errorf("rsm: %s must be 1..64, got %d", kClients, k)
	}
	h, err := newHarness(c, n, calm, broken)
	if err != nil {
		return err
	}
	wl := h.startWorkload(k)
	wl.liveness()
	wl.checks()
	h.sampleState(100 * sim.Millisecond)
	return nil
}

// calm is the network outside generated faults.
var calm = sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond}

// churn is snapshot churn: crashes (often of the leader) with torn writes,
// partitions and a lossy network, so that snapshots are taken, lost to torn
// tails, reloaded at restart and installed on lagging followers all the time.
func churn(scenarios.Variant) sim.Faults {
	return sim.Faults{Step: 100 * sim.Millisecond,
		Network: sim.NetworkFaults{
			Base:      sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 10 * sim.Millisecond, Loss: sim.R(1, 20), Reorder: sim.R(1, 4)},
			Partition: sim.R(1, 10), PartitionStability: 500 * sim.Millisecond},
		Process: sim.ProcessFaults{Crash: sim.R(1, 8), CrashLeader: sim.R(1, 2), CrashStability: 300 * sim.Millisecond,
			CrashPoint: sim.R(1, 10), PointMsgs: raft.PromiseMessages, ShortDown: sim.R(1, 2)},
		Disk: sim.DiskFaults{Torn: sim.R(1, 2)}}
}

func init() {
	all := sim.AllKinds()
	all.PointMsgs = raft.PromiseMessages
	registerSwarm(swarmTest{name: "swarm", servers: 5, clients: 3, maxRaftState: 4000, kinds: &all,
		desc: "swarm testing: a random subset of every fault kind per seed while 3 clerks submit and read; exactly-once and fresh reads, then liveness"})
	registerSwarm(swarmTest{name: "snapshot-churn", servers: 5, clients: 3, maxRaftState: 600, faults: churn,
		desc: "maxraftstate 600 with crashes (torn writes), partitions and loss while clerks submit: snapshots taken, reloaded and installed constantly"})
	registerSwarm(swarmTest{name: "unsafe-no-dedup", servers: 5, clients: 3, maxRaftState: 600, faults: churn, unsafe: true,
		over: map[string]string{kNoDedup: "true"},
		desc: "UNSAFE rsm.unsafe_no_dedup: without the duplicate table a retried Inc whose first copy committed is applied twice"})
}

// sampleState records Raft's largest persisted state every period.
func (h *harness) sampleState(period sim.Duration) {
	var tick func()
	tick = func() {
		h.noteState()
		h.w.After(period, tick)
	}
	h.w.After(period, tick)
}
