package rsm

import (
	"strconv"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/scenarios/script"
	"github.com/smilingraft/dsim/sim"
)

// CheckMinority: every Submit to a leader cut off in a minority returned
// within 1 s of the majority's progress (a short Submit timeout, which the
// lab forbids), while the leader kept its term.
const CheckMinority = "rsm.minority-returned"

// labTest is one scripted scenario after a lab 4A/4C test: 3 servers on the
// lab's reliable network.
type labTest struct {
	name, desc   string
	maxRaftState int
	limit        sim.Duration // the scenario's Duration: a script still running then is stuck
	unsafe       bool
	over         map[string]string
	body         func(d *drv)
}

func registerLab(t labTest) {
	register(&scenarios.Scenario{
		Name: "rsm/" + t.name, Description: t.desc, Unsafe: t.unsafe,
		Params:   params(0, t.maxRaftState, 0, t.over),
		Duration: t.limit,
		Setup: func(c *scenarios.Cluster) error {
			h, err := newHarness(c, 3, reliable, nil)
			if err != nil {
				return err
			}
			h.drive(t.body)
			return nil
		},
	})
}

// batch is a set of concurrent Submits that may fail (the lab's Shutdown4A
// and RestartSubmit4A batches): it records when it started and how many are
// still out.
type batch struct {
	t0   sim.Time
	left int
}

// launch starts n concurrent Submits of verb (giving up after 10 s each,
// which is allowed) and returns at once.
func (d *drv) launch(n int, verb string) *batch {
	b := &batch{t0: d.w.Now(), left: n}
	for i := 0; i < n; i++ {
		d.clients++
		client := d.clients
		op := taggedOp(verb, client, 1)
		d.do(call{limit: 10 * sim.Second}, client, 1, op, func([]byte, error) { b.left-- })
	}
	return b
}

// await waits until every Submit of b returned, failing if that takes more
// than bound from the batch's start.
func (d *drv) await(b *batch, bound sim.Duration) {
	if !d.s.WaitFor(func() bool { return b.left == 0 }, 10*sim.Millisecond, bound-d.w.Now().Sub(b.t0)) {
		d.fail(CheckLiveness, "%d Submits of the batch still out %v after it started (bound %v)", b.left, d.w.Now().Sub(b.t0), bound)
	}
	d.c.Metric("batch_ns", float64(d.w.Now()-b.t0))
}

func init() {
	const to = 120 * sim.Second // the lab's per-test limit

	registerLab(labTest{name: "basic", limit: to, maxRaftState: -1,
		desc: "lab Basic4A: 10 sequential Incs return 1..10; the counter is 10 on all 3 servers",
		body: func(d *drv) {
			d.label("incs")
			d.incs(10, 1)
			d.label("counters")
			d.waitCounter(10, nil)
		}})

	registerLab(labTest{name: "concurrent", limit: to, maxRaftState: -1,
		desc: "lab Concurrent4A: 50 concurrent Incs; the counter is exactly 50 on all 3 and the replies are 1..50",
		body: func(d *drv) {
			d.label("50 concurrent incs")
			res := make([][]byte, 50)
			var bodies []func(*script.S)
			for i := range res {
				i := i
				bodies = append(bodies, func(s *script.S) { res[i] = (&drv{d.harness, s}).submit("inc", nil, "") })
			}
			d.s.Par(bodies...)
			seen := map[string]bool{}
			for _, r := range res {
				seen[string(r)] = true
			}
			for i := 1; i <= 50; i++ {
				if !seen[strconv.Itoa(i)] {
					d.fail(CheckReply, "no Inc returned %d (replies must be 1..50 once each)", i)
				}
			}
			d.label("counters")
			d.waitCounter(50, nil)
		}})

	registerLab(labTest{name: "leader-failure", limit: to, maxRaftState: -1,
		desc: "lab LeaderFailure4A: Inc; cut the leader off; Inc on the others; reconnect; counter 2 everywhere",
		body: func(d *drv) {
			d.inc(1)
			d.waitCounter(1, nil)
			l := d.leader
			d.disconnect(l)
			d.label("inc without the leader")
			d.submit("inc", d.others(l), "2")
			d.waitCounter(2, d.others(l))
			d.connect(l)
			d.label("counters after reconnect")
			d.waitCounter(2, nil)
		}})

	leaderPartition := func(d *drv) {
		d.inc(1)
		d.waitCounter(1, nil)
		l := d.leader
		d.partition([]int{l}, d.others(l))
		v := d.srv(l)
		decs := 0 // Dec Submits still out
		for i := 0; i < 100; i++ {
			decs++
			v.s.Submit(0, 0, []byte("dec"), func(res []byte, err error) {
				decs--
				if err == nil {
					d.w.Fail(CheckReply, "a Dec submitted to the minority leader s%d returned OK (%q)", l, res)
				}
			})
		}
		d.sleep(10 * sim.Millisecond)
		d.label("inc in the majority")
		d.submit("inc", d.others(l), "2")
		d.sleep(sim.Second)
		if decs == 0 && !d.c.Bool("raft.checkquorum") {
			d.fail(CheckMinority, "all 100 Dec Submits to the minority leader s%d returned within 1s of the majority's Inc", l)
		}
		d.w.Heal()
		for i := range d.conn {
			d.conn[i] = true
		}
		d.sleep(sim.Second)
		if decs > 0 {
			d.fail(CheckLiveness, "%d Dec Submits to the old leader s%d still out 1s after the heal", decs, l)
		}
		d.label("counters after heal")
		d.waitCounter(2, nil)
	}
	registerLab(labTest{name: "leader-partition", limit: to, maxRaftState: -1,
		desc: "lab LeaderPartition4A: 100 Decs to a leader alone in a minority never return OK, stay pending while it keeps its term, and all return within 1s of the heal",
		body: leaderPartition})

	registerLab(labTest{name: "restart-replay", limit: to, maxRaftState: -1,
		desc: "lab RestartReplay4A: 100 Incs; shut down all; restart; Inc returns 101; counter 101 on all 3 a second later; then Inc=102 with a server down",
		body: func(d *drv) {
			d.label("100 incs")
			d.incs(100, 1)
			d.shutdownAll()
			d.sleep(sim.Second)
			d.startAll()
			d.label("inc after restart")
			d.inc(101)
			d.sleep(sim.Second)
			d.checkCounter(101)
			d.incUnderFault(102)
		}})

	registerLab(labTest{name: "shutdown", limit: to, maxRaftState: -1,
		desc: "lab Shutdown4A: 100 concurrent Null Submits; shut everything down 20ms later; every Submit returns within 11s (dsim first waits for an Inc, so that a leader holds pending Nulls at the shutdown); then restart, Inc=2 with a server down",
		body: func(d *drv) {
			d.inc(1)
			b := d.launch(100, "null")
			d.sleep(20 * sim.Millisecond)
			d.shutdownAll()
			d.label("batch returns")
			d.await(b, 11*sim.Second)
			d.startAll()
			d.incUnderFault(2)
		}})

	registerLab(labTest{name: "restart-submit", limit: to, maxRaftState: -1,
		desc: "lab RestartSubmit4A: 100 Incs; restart; Inc=101; 100 Nulls cut short by a shutdown; restart; Inc=102; counters equal; then Inc=103 with a server down",
		body: func(d *drv) {
			d.label("100 incs")
			d.incs(100, 1)
			d.shutdownAll()
			d.startAll()
			d.label("inc after restart")
			d.inc(101)
			b := d.launch(100, "null")
			d.sleep(20 * sim.Millisecond)
			d.shutdownAll()
			d.label("batch returns")
			d.await(b, 11*sim.Second)
			d.startAll()
			d.label("inc after second restart")
			d.inc(102)
			d.waitCounter(102, nil)
			d.incUnderFault(103)
		}})

	registerLab(labTest{name: "snapshot", limit: to, maxRaftState: 1000,
		desc: "lab Snapshot4C: maxraftstate 1000; 100 Incs keep Raft's state within 2000 B; after restarting all, Inc=101 on all 3; then Inc=102 with a server down",
		body: func(d *drv) {
			d.label("100 incs")
			for i := 0; i < 100; i++ {
				d.inc(i + 1)
				d.checkSize(2)
			}
			d.shutdownAll()
			d.startAll()
			d.label("inc after restart")
			d.inc(101)
			d.waitCounter(101, nil)
			d.checkSize(2)
			d.incUnderFault(102)
		}})

	registerLab(labTest{name: "unsafe-answer-any", limit: to, maxRaftState: -1, unsafe: true,
		over: map[string]string{kAnswerAny: "true"},
		desc: "UNSAFE rsm.unsafe_answer_any: the minority leader answers its Decs with whatever entry lands at their index, so a Dec returns OK",
		body: leaderPartition})
}

// checkSize fails if a running server's Raft state exceeds factor times
// rsm.maxraftstate (the lab's 2x for the RSM, 8x for kvraft).
func (d *drv) checkSize(factor int) {
	d.noteState()
	if bound := factor * d.cfg.MaxRaftState; d.cfg.MaxRaftState > 0 && d.maxState > bound {
		d.fail(CheckSize, "Raft state reached %d B > %d x maxraftstate = %d B", d.maxState, factor, bound)
	}
}
