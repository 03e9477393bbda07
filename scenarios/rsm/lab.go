package rsm

import (
	"fmt"
	"strconv"

	"github.com/smilingraft/dsim/scenarios"
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
	body         func(h *harness) step
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
			h.script(t.body(h))
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
// which is allowed) and goes on at once.
func (h *harness) launch(b *batch, n int, verb string) step {
	return do(func() {
		b.t0, b.left = h.w.Now(), n
		for i := 0; i < n; i++ {
			h.clients++
			client := h.clients
			op := []byte(fmt.Sprintf("%s %d 1", verb, client))
			h.do(call{limit: 10 * sim.Second}, client, 1, op, func([]byte, error) { b.left-- })
		}
	})
}

// await waits until every Submit of b returned, failing if that takes more
// than bound from the batch's start.
func (h *harness) await(b *batch, bound sim.Duration) step {
	return func(k func()) {
		var poll func()
		poll = func() {
			if b.left == 0 {
				h.c.Metric("batch_ns", float64(h.w.Now()-b.t0))
				k()
				return
			}
			if h.w.Now().Sub(b.t0) > bound {
				h.w.Fail(CheckLiveness, "%d Submits of the batch still out %v after it started (bound %v)", b.left, h.w.Now().Sub(b.t0), bound)
				return
			}
			h.w.After(10*sim.Millisecond, poll)
		}
		poll()
	}
}

// incs submits n Incs one after the other, the i-th returning from+i.
func (h *harness) incs(n, from int) step {
	return loop(n, func(i int) step { return h.inc(from + i) })
}

func init() {
	const to = 120 * sim.Second // the lab's per-test limit

	registerLab(labTest{name: "basic", limit: to, maxRaftState: -1,
		desc: "lab Basic4A: 10 sequential Incs return 1..10; the counter is 10 on all 3 servers",
		body: func(h *harness) step {
			return seq(h.label("incs"), h.incs(10, 1), h.label("counters"), h.waitCounter(10, nil))
		}})

	registerLab(labTest{name: "concurrent", limit: to, maxRaftState: -1,
		desc: "lab Concurrent4A: 50 concurrent Incs; the counter is exactly 50 on all 3 and the replies are 1..50",
		body: func(h *harness) step {
			res := make([][]byte, 50)
			return seq(h.label("50 concurrent incs"),
				par(50, func(i int) step { return h.submit("inc", nil, "", &res[i]) }),
				do(func() {
					seen := map[string]bool{}
					for _, r := range res {
						seen[string(r)] = true
					}
					for i := 1; i <= 50; i++ {
						if !seen[strconv.Itoa(i)] {
							h.w.Fail(CheckReply, "no Inc returned %d (replies must be 1..50 once each)", i)
							return
						}
					}
				}),
				h.label("counters"), h.waitCounter(50, nil))
		}})

	registerLab(labTest{name: "leader-failure", limit: to, maxRaftState: -1,
		desc: "lab LeaderFailure4A: Inc; cut the leader off; Inc on the others; reconnect; counter 2 everywhere",
		body: func(h *harness) step {
			var l int
			return seq(h.inc(1), h.waitCounter(1, nil),
				do(func() { l = h.leader; h.disconnect(l) }), h.label("inc without the leader"),
				dyn(func() step { return h.submit("inc", h.others(l), "2", nil) }),
				dyn(func() step { return h.waitCounter(2, h.others(l)) }),
				do(func() { h.connect(l) }), h.label("counters after reconnect"), h.waitCounter(2, nil))
		}})

	leaderPartition := func(h *harness) step {
		var l int
		decs := 0 // Dec Submits still out
		return seq(h.inc(1), h.waitCounter(1, nil),
			do(func() {
				l = h.leader
				h.partition([]int{l}, h.others(l))
				v := h.srv(l)
				for i := 0; i < 100; i++ {
					decs++
					v.s.Submit(0, 0, []byte("dec"), func(res []byte, err error) {
						decs--
						if err == nil {
							h.w.Fail(CheckReply, "a Dec submitted to the minority leader s%d returned OK (%q)", l, res)
						}
					})
				}
			}),
			h.sleep(10*sim.Millisecond), h.label("inc in the majority"),
			dyn(func() step { return h.submit("inc", h.others(l), "2", nil) }),
			h.sleep(sim.Second),
			do(func() {
				if decs == 0 && !h.c.Bool("raft.checkquorum") {
					h.w.Fail(CheckMinority, "all 100 Dec Submits to the minority leader s%d returned within 1s of the majority's Inc", l)
				}
				h.w.Heal()
				for i := range h.conn {
					h.conn[i] = true
				}
			}),
			h.sleep(sim.Second),
			do(func() {
				if decs > 0 {
					h.w.Fail(CheckLiveness, "%d Dec Submits to the old leader s%d still out 1s after the heal", decs, l)
				}
			}),
			h.label("counters after heal"), h.waitCounter(2, nil))
	}
	registerLab(labTest{name: "leader-partition", limit: to, maxRaftState: -1,
		desc: "lab LeaderPartition4A: 100 Decs to a leader alone in a minority never return OK, stay pending while it keeps its term, and all return within 1s of the heal",
		body: leaderPartition})

	registerLab(labTest{name: "restart-replay", limit: to, maxRaftState: -1,
		desc: "lab RestartReplay4A: 100 Incs; shut down all; restart; Inc returns 101; counter 101 on all 3 a second later; then Inc=102 with a server down",
		body: func(h *harness) step {
			return seq(h.label("100 incs"), h.incs(100, 1), h.shutdownAll(), h.sleep(sim.Second), h.startAll(),
				h.label("inc after restart"), h.inc(101), h.sleep(sim.Second), h.checkCounter(101),
				h.incUnderFault(102))
		}})

	registerLab(labTest{name: "shutdown", limit: to, maxRaftState: -1,
		desc: "lab Shutdown4A: 100 concurrent Null Submits; shut everything down 20ms later; every Submit returns within 11s (dsim first waits for an Inc, so that a leader holds pending Nulls at the shutdown); then restart, Inc=2 with a server down",
		body: func(h *harness) step {
			b := &batch{}
			return seq(h.inc(1), h.launch(b, 100, "null"), h.sleep(20*sim.Millisecond), h.shutdownAll(),
				h.label("batch returns"), h.await(b, 11*sim.Second), h.startAll(), h.incUnderFault(2))
		}})

	registerLab(labTest{name: "restart-submit", limit: to, maxRaftState: -1,
		desc: "lab RestartSubmit4A: 100 Incs; restart; Inc=101; 100 Nulls cut short by a shutdown; restart; Inc=102; counters equal; then Inc=103 with a server down",
		body: func(h *harness) step {
			b := &batch{}
			return seq(h.label("100 incs"), h.incs(100, 1), h.shutdownAll(), h.startAll(),
				h.label("inc after restart"), h.inc(101),
				h.launch(b, 100, "null"), h.sleep(20*sim.Millisecond), h.shutdownAll(),
				h.label("batch returns"), h.await(b, 11*sim.Second), h.startAll(),
				h.label("inc after second restart"), h.inc(102), h.waitCounter(102, nil), h.incUnderFault(103))
		}})

	registerLab(labTest{name: "snapshot", limit: to, maxRaftState: 1000,
		desc: "lab Snapshot4C: maxraftstate 1000; 100 Incs keep Raft's state within 2000 B; after restarting all, Inc=101 on all 3; then Inc=102 with a server down",
		body: func(h *harness) step {
			return seq(h.label("100 incs"),
				loop(100, func(i int) step { return seq(h.inc(i+1), h.checkSize(2)) }),
				h.shutdownAll(), h.startAll(), h.label("inc after restart"), h.inc(101), h.waitCounter(101, nil), h.checkSize(2),
				h.incUnderFault(102))
		}})

	registerLab(labTest{name: "unsafe-answer-any", limit: to, maxRaftState: -1, unsafe: true,
		over: map[string]string{kAnswerAny: "true"},
		desc: "UNSAFE rsm.unsafe_answer_any: the minority leader answers its Decs with whatever entry lands at their index, so a Dec returns OK",
		body: leaderPartition})
}

// checkSize fails if a running server's Raft state exceeds factor times
// rsm.maxraftstate (the lab's 2x for the RSM, 8x for kvraft).
func (h *harness) checkSize(factor int) step {
	return do(func() {
		h.noteState()
		if bound := factor * h.cfg.MaxRaftState; h.cfg.MaxRaftState > 0 && h.maxState > bound {
			h.w.Fail(CheckSize, "Raft state reached %d B > %d x maxraftstate = %d B", h.maxState, factor, bound)
		}
	})
}
