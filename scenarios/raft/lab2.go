package raft

import (
	"bytes"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/sim"
)

// concurrentStarts is ConcurrentStarts3B: up to 5 tries, 3 s apart, of
// Start(1) plus 5 Starts at once, all of which must commit on every server
// unless the term changes (then the try is redone).
func concurrentStarts(h *harness) step {
	return func(k func()) {
		var try func(t int)
		try = func(t int) {
			if t == 5 {
				h.fail(raftcheck.Liveness, "term changed too often")
				return
			}
			delay := sim.Duration(0)
			if t > 0 {
				delay = 3 * sim.Second
			}
			var leader int
			seq(h.sleep(delay), h.checkOneLeader(&leader))(func() {
				_, term, ok := h.start(leader, num(1))
				if !ok {
					try(t + 1)
					return
				}
				var idx []uint64
				var cmds [][]byte
				for ii := 0; ii < 5; ii++ {
					cmd := num(100 + ii)
					i, t1, ok := h.start(leader, cmd)
					if ok && t1 == term {
						idx = append(idx, i)
						cmds = append(cmds, cmd)
					}
				}
				for j := 0; j < h.n; j++ {
					if tj, _ := h.state(j); tj != term {
						try(t + 1)
						return
					}
				}
				var got [][]byte
				var each func(j int)
				each = func(j int) {
					if j == len(idx) {
						for _, c := range cmds {
							found := false
							for _, g := range got {
								found = found || bytes.Equal(g, c)
							}
							if !found {
								h.fail("raft.agreement", "command %s missing from %d committed entries", show(c), len(got))
								return
							}
						}
						k()
						return
					}
					h.waitIdx(idx[j], h.n, term, func(cmd []byte, ok bool) {
						if !ok {
							try(t + 1)
							return
						}
						got = append(got, cmd)
						each(j + 1)
					})
				}
				each(0)
			})
		}
		try(0)
	}
}

// backup is Backup3B.
func backup(h *harness) step {
	var l1, l2, other int
	ones := func(n, expected int) step {
		return loop(n, func(int) step { return dyn(func() step { return h.one(h.rnd(), expected, true, nil) }) })
	}
	starts := func(on *int) step {
		return do(func() {
			for i := 0; i < 50; i++ {
				h.start(*on, h.rnd())
			}
		})
	}
	return seq(dyn(func() step { return h.one(h.rnd(), h.n, true, nil) }), h.checkOneLeader(&l1),
		// Put leader and one follower in a partition.
		do(func() {
			h.disconnect((l1 + 2) % h.n)
			h.disconnect((l1 + 3) % h.n)
			h.disconnect((l1 + 4) % h.n)
		}),
		starts(&l1), h.sleep(electionTimeout/2),
		do(func() {
			h.disconnect(l1)
			h.disconnect((l1 + 1) % h.n)
			h.connect((l1 + 2) % h.n)
			h.connect((l1 + 3) % h.n)
			h.connect((l1 + 4) % h.n)
		}),
		h.label("50 with the new group"), ones(50, 3),
		h.checkOneLeader(&l2),
		do(func() {
			other = (l1 + 2) % h.n
			if l2 == other {
				other = (l2 + 1) % h.n
			}
			h.disconnect(other)
		}),
		starts(&l2), h.sleep(electionTimeout/2),
		do(func() {
			for i := 0; i < h.n; i++ {
				h.disconnect(i)
			}
			h.connect(l1)
			h.connect((l1 + 1) % h.n)
			h.connect(other)
		}),
		h.label("50 with the old leader back"), ones(50, 3),
		h.connectAll(), h.label("final agreement"), ones(1, h.n))
}

// count is Count3B, with bounds doubled: a message-passing Raft sends a
// request and a reply where the lab counts one RPC.
func count(h *harness) step {
	var total1, total2 uint64
	return seq(h.checkOneLeader(nil),
		do(func() {
			total1 = h.rpcs()
			h.c.Metric("election_msgs", float64(total1))
			if total1 > 2*30 || total1 < 1 {
				h.fail("raft.rpc-count", "too many or few messages (%d) to elect the initial leader", total1)
			}
		}),
		func(k func()) {
			var try func(t int)
			try = func(t int) {
				if t == 5 {
					h.fail(raftcheck.Liveness, "term changed too often")
					return
				}
				delay := sim.Duration(0)
				if t > 0 {
					delay = 3 * sim.Second
				}
				var leader int
				seq(h.sleep(delay), h.checkOneLeader(&leader))(func() {
					total1 = h.rpcs()
					const iters = 10
					starti, term, ok := h.start(leader, num(1))
					if !ok {
						try(t + 1)
						return
					}
					var cmds [][]byte
					for i := 1; i < iters+2; i++ {
						x := h.rnd()
						cmds = append(cmds, x)
						index1, term1, ok := h.start(leader, x)
						if term1 != term || !ok {
							try(t + 1)
							return
						}
						if starti+uint64(i) != index1 {
							h.fail("raft.start", "Start() returned index %d, want %d", index1, starti+uint64(i))
							return
						}
					}
					var each func(i int)
					each = func(i int) {
						if i > iters {
							for j := 0; j < h.n; j++ {
								if tj, _ := h.state(j); tj != term {
									try(t + 1)
									return
								}
							}
							total2 = h.rpcs()
							h.c.Metric("agreement_msgs", float64(total2-total1))
							if total2-total1 > 2*(iters+1+3)*3 {
								h.fail("raft.rpc-count", "too many messages (%d) for %d entries", total2-total1, iters)
								return
							}
							k()
							return
						}
						h.waitIdx(starti+uint64(i), h.n, term, func(cmd []byte, ok bool) {
							if !ok {
								try(t + 1)
								return
							}
							if !bytes.Equal(cmd, cmds[i-1]) {
								h.fail("raft.agreement", "wrong value %s committed for index %d; expected %s", show(cmd), starti+uint64(i), show(cmds[i-1]))
								return
							}
							each(i + 1)
						})
					}
					each(1)
				})
			}
			try(0)
		},
		h.sleep(electionTimeout),
		do(func() {
			total3 := h.rpcs()
			h.c.Metric("idle_msgs_per_s", float64(total3-total2))
			if total3-total2 > 2*3*20 {
				h.fail("raft.rpc-count", "too many messages (%d) for 1 second of idleness", total3-total2)
			}
		}))
}

// persist1 is Persist13C.
func persist1(h *harness) step {
	var l1, l2, i3 int
	return seq(h.oneN(11, h.n, true),
		h.crashAll(), h.oneN(12, h.n, true),
		h.checkOneLeader(&l1), do(func() { h.restart(l1); h.connect(l1) }), h.oneN(13, h.n, true),
		h.checkOneLeader(&l2), do(func() { h.crash(l2) }), h.oneN(14, h.n-1, true),
		do(func() { h.restart(l2); h.connect(l2) }),
		func(k func()) { h.waitIdx(4, h.n, 0, func([]byte, bool) { k() }) },
		h.checkOneLeader(&i3), do(func() { i3 = (i3 + 1) % h.n; h.crash(i3) }), h.oneN(15, h.n-1, true),
		do(func() { h.restart(i3); h.connect(i3) }), h.oneN(16, h.n, true))
}

// persist2 is Persist23C.
func persist2(h *harness) step {
	index := 1
	next := func(expected int) step {
		return dyn(func() step {
			s := h.oneN(10+index, expected, true)
			index++
			return s
		})
	}
	return seq(loop(5, func(int) step {
		var l int
		at := func(d int) int { return (l + d) % h.n }
		return seq(next(h.n), h.checkOneLeader(&l),
			do(func() { h.disconnect(at(1)); h.disconnect(at(2)) }),
			next(h.n-2),
			do(func() {
				h.disconnect(at(0))
				h.disconnect(at(3))
				h.disconnect(at(4))
				h.restart(at(1))
				h.restart(at(2))
				h.connect(at(1))
				h.connect(at(2))
			}),
			h.sleep(electionTimeout),
			do(func() { h.restart(at(3)); h.connect(at(3)) }),
			next(h.n-2),
			do(func() { h.connect(at(4)); h.connect(at(0)) }))
	}), h.oneN(1000, h.n, true))
}

// figure8 is Figure83C (crashes) or, unreliable, Figure8Unreliable3C
// (disconnects, and long reordering from iteration 200).
func figure8(h *harness, unreliableNet bool) step {
	r := h.c.Workload
	cmd := func() []byte { return num(r.Intn(10000)) }
	nup := h.n
	return seq(dyn(func() step { return h.one(cmd(), 1, true, nil) }),
		loop(1000, func(iter int) step {
			return func(k func()) {
				if unreliableNet && iter == 200 {
					h.longReorder = true
				}
				leader := -1
				for i := 0; i < h.n; i++ {
					if _, _, ok := h.start(i, cmd()); ok && (unreliableNet || h.up(i)) {
						leader = i
					}
				}
				var d sim.Duration
				if r.Intn(1000) < 100 {
					d = sim.Duration(r.Intn(500)) * sim.Millisecond
				} else {
					d = sim.Duration(r.Intn(13)) * sim.Millisecond
				}
				h.wait(d, func() {
					if unreliableNet {
						if leader != -1 && h.conn[leader] && r.Intn(1000) < 500 {
							h.disconnect(leader)
							nup--
						}
						if nup < 3 {
							if s := r.Intn(h.n); !h.conn[s] {
								h.connect(s)
								nup++
							}
						}
					} else {
						if leader != -1 {
							h.crash(leader)
							nup--
						}
						if nup < 3 {
							if s := r.Intn(h.n); !h.w.Up(h.ids[s]) {
								h.restart(s)
								h.connect(s)
								nup++
							}
						}
					}
					k()
				})
			}
		}),
		do(func() {
			for i := 0; i < h.n; i++ {
				if !h.w.Up(h.ids[i]) {
					h.restart(i)
				}
				h.connect(i)
			}
		}),
		h.label("final agreement"), dyn(func() step { return h.one(cmd(), h.n, true, nil) }))
}

// churn is ReliableChurn3C / UnreliableChurn3C.
func churn(h *harness, unreliableNet bool) step {
	r := h.c.Workload
	stop := false
	values := make([][][]byte, 3)
	running := 0
	client := func(me int) {
		running++
		var loopFn func()
		loopFn = func() {
			if h.stopped() {
				return
			}
			if stop {
				running--
				return
			}
			x := h.rnd()
			index, ok := uint64(0), false
			for i := 0; i < h.n; i++ {
				if i1, _, ok1 := h.start(i, x); ok1 {
					index, ok = i1, true
				}
			}
			if !ok {
				h.wait(sim.Duration(79+me*17)*sim.Millisecond, loopFn)
				return
			}
			tos := []sim.Duration{10, 20, 50, 100, 200}
			var poll func(j int)
			poll = func(j int) {
				if j == len(tos) {
					loopFn()
					return
				}
				if nd, cmd := h.nCommitted(index); nd > 0 {
					if bytes.Equal(cmd, x) {
						values[me] = append(values[me], x)
					}
					loopFn()
					return
				}
				h.wait(tos[j]*sim.Millisecond, func() { poll(j + 1) })
			}
			poll(0)
		}
		loopFn()
	}
	var last uint64
	return seq(do(func() {
		for me := 0; me < 3; me++ {
			client(me)
		}
	}),
		loop(20, func(int) step {
			return func(k func()) {
				if r.Intn(1000) < 200 {
					h.disconnect(r.Intn(h.n))
				}
				if r.Intn(1000) < 500 {
					i := r.Intn(h.n)
					if !h.w.Up(h.ids[i]) {
						h.restart(i)
					}
					h.connect(i)
				}
				if r.Intn(1000) < 200 {
					if i := r.Intn(h.n); h.w.Up(h.ids[i]) {
						h.crash(i)
					}
				}
				h.wait(7*electionTimeout/10, k)
			}
		}),
		h.sleep(electionTimeout),
		do(func() {
			h.w.SetNet(reliable)
			for i := 0; i < h.n; i++ {
				if !h.w.Up(h.ids[i]) {
					h.restart(i)
				}
				h.connect(i)
			}
			stop = true
		}),
		func(k func()) {
			raftcheck.Within(h.w, raftcheck.Liveness, 5*sim.Second, 10*sim.Millisecond, func() error {
				if running > 0 {
					return errString("churn clients did not stop")
				}
				return nil
			}, k)
		},
		dyn(func() step { return h.one(h.rnd(), h.n, true, &last) }),
		func(k func()) {
			var really [][]byte
			var each func(i uint64)
			each = func(i uint64) {
				if i > last {
					for me, vs := range values {
						for _, v := range vs {
							found := false
							for _, x := range really {
								found = found || bytes.Equal(x, v)
							}
							if !found {
								h.fail("raft.committed-never-lost", "client %d saw %s committed but it is not in the final log", me, show(v))
								return
							}
						}
					}
					k()
					return
				}
				h.waitIdx(i, h.n, 0, func(cmd []byte, _ bool) {
					really = append(really, cmd)
					each(i + 1)
				})
			}
			each(1)
		})
}

type errString string

func (e errString) Error() string { return string(e) }

// snapCommon is the 3D snapshot tests: 30 rounds of bursts of Starts,
// optionally disconnecting or crashing a victim around each burst; the raft
// state must stay under 2000 bytes.
func snapCommon(h *harness, disconnect, crash bool) step {
	var l1 int
	one := func(expected int) step { return dyn(func() step { return h.one(h.rnd(), expected, true, nil) }) }
	return seq(one(h.n), h.checkOneLeader(&l1),
		loop(30, func(i int) step {
			var victim, sender int
			return seq(do(func() {
				victim, sender = (l1+1)%h.n, l1
				if i%3 == 1 {
					sender, victim = (l1+1)%h.n, l1
				}
				if disconnect {
					h.disconnect(victim)
				}
				if crash {
					h.crash(victim)
				}
			}),
				dyn(func() step {
					if disconnect || crash {
						return one(h.n - 1)
					}
					return do(func() {})
				}),
				do(func() {
					nn := 5 + h.c.Workload.Intn(10)
					for j := 0; j < nn; j++ {
						h.start(sender, h.rnd())
					}
				}),
				dyn(func() step {
					if !disconnect && !crash {
						return one(h.n)
					}
					return one(h.n - 1)
				}),
				do(func() {
					size := 0
					for j := 0; j < h.n; j++ {
						if r := h.rf(j); r != nil && r.PersistSize() > size {
							size = r.PersistSize()
						}
					}
					if size > h.maxState {
						h.maxState = size
						h.c.Metric("max_state_bytes", float64(size))
					}
					if size >= 2000 {
						h.fail("raft.state-size", "raft state is %d bytes, want < 2000 (snapshots must trim the log)", size)
					}
				}),
				dyn(func() step {
					if !disconnect && !crash {
						return do(func() {})
					}
					return seq(do(func() {
						if crash {
							h.restart(victim)
						}
						h.connect(victim)
					}), one(h.n), h.checkOneLeader(&l1))
				}))
		}))
}
