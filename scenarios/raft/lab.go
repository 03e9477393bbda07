package raft

import (
	"fmt"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// labTest describes one scripted scenario after a lab test.
type labTest struct {
	name, desc string
	servers    int
	net        sim.NetOptions
	snapEvery  int
	// limit is the virtual time the script may take before it counts as
	// stuck (the scenario's Duration).
	limit sim.Duration
	body  func(h *harness) step
}

func registerLab(t labTest) {
	n := t.servers
	register(&scenarios.Scenario{
		Name:        "raft/" + t.name,
		Description: t.desc,
		Params:      params(0, nil),
		Duration:    t.limit,
		Setup: func(c *scenarios.Cluster) error {
			h, err := newHarness(c, n, t.net, t.snapEvery)
			if err != nil {
				return err
			}
			h.script(t.body(h))
			return nil
		},
	})
}

// rnd returns a random command the way the lab draws them.
func (h *harness) rnd() []byte { return num(int(h.c.Workload.Uint64() % (1 << 40))) }

// randString returns n random letters.
func (h *harness) randString(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + h.c.Workload.Intn(26))
	}
	return b
}

// par runs steps concurrently and goes on when all are done.
func par(steps ...step) step {
	return func(k func()) {
		left := len(steps)
		if left == 0 {
			k()
			return
		}
		for _, s := range steps {
			s(func() {
				left--
				if left == 0 {
					k()
				}
			})
		}
	}
}

// dyn builds a step when it runs, from state earlier steps set.
func dyn(f func() step) step { return func(k func()) { f()(k) } }

// rpcs counts the messages servers sent so far (the lab counts RPCs; a
// message-passing Raft sends a request and a reply per RPC, so the bounds
// below are twice the lab's).
func (h *harness) rpcs() uint64 {
	total := uint64(0)
	for _, id := range h.ids {
		_, sent, _ := h.w.NodeStats(id)
		total += sent
	}
	return total
}

// waitIdx is the tester's wait(): until expected servers applied index,
// backing off from 10 ms to 1 s, giving up (ok=false) if some server moved
// past startTerm (0: never).
func (h *harness) waitIdx(index uint64, expected int, startTerm uint64, k func(cmd []byte, ok bool)) {
	to := 10 * sim.Millisecond
	var iter func(i int)
	iter = func(i int) {
		nd, cmd := h.nCommitted(index)
		if nd >= expected {
			k(cmd, true)
			return
		}
		if i == 30 {
			h.fail("raft.liveness", "only %d servers decided index %d; wanted %d", nd, index, expected)
			return
		}
		h.wait(to, func() {
			if to < sim.Second {
				to *= 2
			}
			if startTerm > 0 {
				for j := 0; j < h.n; j++ {
					if t, _ := h.state(j); t > startTerm {
						k(nil, false)
						return
					}
				}
			}
			iter(i + 1)
		})
	}
	iter(0)
}

const electionTimeout = sim.Second // the lab's RaftElectionTimeout

func init() {
	R, U := reliable, unreliable
	registerLab(labTest{name: "initial-election", servers: 3, net: R, limit: 30 * sim.Second,
		desc: "lab InitialElection3A: one leader, terms agree, and a leader still exists after 2s",
		body: func(h *harness) step {
			var t1, t2 uint64
			return seq(h.label("first leader"), h.checkOneLeader(nil), h.sleep(50*sim.Millisecond),
				h.checkTerms(&t1),
				do(func() {
					if t1 < 1 {
						h.fail("raft.terms", "term is %d, but should be at least 1", t1)
					}
				}),
				h.sleep(2*electionTimeout), h.checkTerms(&t2),
				do(func() {
					if t1 != t2 {
						h.w.Note("warning: term changed even though there were no failures")
					}
				}),
				h.label("leader still there"), h.checkOneLeader(nil))
		}})

	registerLab(labTest{name: "re-election", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab ReElection3A: new leaders after the leader is cut off (dsim: which commit an entry without it); none without a majority",
		body: func(h *harness) step {
			var l1, l2 int
			return seq(h.label("first leader"), h.checkOneLeader(&l1),
				do(func() { h.disconnect(l1) }), h.label("leader after disconnect"), h.checkOneLeader(nil),
				h.label("agreement without the old leader"), h.oneN(301, h.n-1, true),
				do(func() { h.connect(l1) }), h.label("leader after rejoin"), h.checkOneLeader(&l2),
				do(func() { h.disconnect(l2); h.disconnect((l2 + 1) % h.n) }), h.sleep(2*electionTimeout),
				h.checkNoLeader(),
				do(func() { h.connect((l2 + 1) % h.n) }), h.label("leader with a majority back"), h.checkOneLeader(nil),
				do(func() { h.connect(l2) }), h.checkOneLeader(nil))
		}})

	registerLab(labTest{name: "many-elections", servers: 7, net: R, limit: 120 * sim.Second,
		desc: "lab ManyElections3A: 9 rounds of cutting off 3 of 7 servers; a leader whenever 4 are connected (dsim: which commits an entry)",
		body: func(h *harness) step {
			return seq(h.checkOneLeader(nil),
				loop(9, func(i int) step {
					var a, b, c int
					return seq(do(func() {
						a, b, c = h.c.Workload.Intn(h.n), h.c.Workload.Intn(h.n), h.c.Workload.Intn(h.n)
						h.disconnect(a)
						h.disconnect(b)
						h.disconnect(c)
					}), h.label("leader with 3 cut off"), h.checkOneLeader(nil),
						h.label("agreement with 3 cut off"), h.oneN(400+i, h.n-3, true),
						do(func() { h.connect(a); h.connect(b); h.connect(c) }))
				}), h.checkOneLeader(nil))
		}})

	registerLab(labTest{name: "basic-agree", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab BasicAgree3B: three agreements at indices 1, 2, 3; nothing committed before Start",
		body: func(h *harness) step {
			return loop(3, func(i int) step {
				index := uint64(i + 1)
				var got uint64
				return seq(do(func() {
					if nd, _ := h.nCommitted(index); nd > 0 {
						h.fail("raft.commit-before-start", "%d servers committed index %d before Start", nd, index)
					}
				}), h.label(fmt.Sprintf("agree %d", index)), h.one(num(int(index)*100), h.n, false, &got),
					h.wantIndex("one()", &got, nil, index))
			})
		}})

	registerLab(labTest{name: "rpc-bytes", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab RPCBytes3B: 10 commands of 5000 bytes must cost at most 200 KB of traffic (no full-log resends)",
		body: func(h *harness) step {
			var bytes0 uint64
			sent := 0
			return seq(h.oneN(99, h.n, false), do(func() { bytes0 = h.w.Stats().Bytes }),
				loop(10, func(i int) step {
					var got uint64
					index := uint64(i + 2)
					return seq(dyn(func() step {
						sent += 5000
						return h.one(h.randString(5000), h.n, false, &got)
					}), h.wantIndex("one()", &got, nil, index))
				}),
				do(func() {
					got := h.w.Stats().Bytes - bytes0
					want := uint64(h.n*sent + 50000)
					h.c.Metric("bytes", float64(got))
					if got > want {
						h.fail("raft.rpc-bytes", "too many bytes sent: %d, allowed %d", got, want)
					}
				}))
		}})

	registerLab(labTest{name: "follower-failure", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab FollowerFailure3B: progress with one follower down, none with both down",
		body: func(h *harness) step {
			var l1, l2 int
			var index uint64
			var ok bool
			return seq(h.oneN(101, h.n, false), h.checkOneLeader(&l1),
				do(func() { h.disconnect((l1 + 1) % h.n) }),
				h.oneN(102, h.n-1, false), h.sleep(electionTimeout), h.oneN(103, h.n-1, false),
				h.checkOneLeader(&l2),
				do(func() {
					h.disconnect((l2 + 1) % h.n)
					h.disconnect((l2 + 2) % h.n)
					index, _, ok = h.start(l2, num(104))
				}),
				h.wantIndex("Start(104)", &index, &ok, 4),
				h.sleep(2*electionTimeout), dyn(func() step { return h.checkNotCommitted(index) }))
		}})

	registerLab(labTest{name: "leader-failure", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab LeaderFailure3B: a new leader after the leader fails; no commit with both leaders gone",
		body: func(h *harness) step {
			var l1, l2 int
			return seq(h.oneN(101, h.n, false), h.checkOneLeader(&l1),
				do(func() { h.disconnect(l1) }),
				h.oneN(102, h.n-1, false), h.sleep(electionTimeout), h.oneN(103, h.n-1, false),
				h.checkOneLeader(&l2),
				do(func() {
					h.disconnect(l2)
					for i := 0; i < h.n; i++ {
						h.start(i, num(104))
					}
				}),
				h.sleep(2*electionTimeout), h.checkNotCommitted(4))
		}})

	registerLab(labTest{name: "fail-agree", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab FailAgree3B: agreement despite a disconnected follower, which then catches up",
		body: func(h *harness) step {
			var l int
			return seq(h.oneN(101, h.n, false), h.checkOneLeader(&l),
				do(func() { h.disconnect((l + 1) % h.n) }),
				h.oneN(102, h.n-1, false), h.oneN(103, h.n-1, false), h.sleep(electionTimeout),
				h.oneN(104, h.n-1, false), h.oneN(105, h.n-1, false),
				do(func() { h.connect((l + 1) % h.n) }),
				h.oneN(106, h.n, true), h.sleep(electionTimeout), h.oneN(107, h.n, true))
		}})

	registerLab(labTest{name: "fail-no-agree", servers: 5, net: R, limit: 60 * sim.Second,
		desc: "lab FailNoAgree3B: no agreement with 3 of 5 followers gone; index 2 is reused after repair (dsim: then agreement with 2 gone)",
		body: func(h *harness) step {
			var l, l2 int
			var index, index2 uint64
			var ok, ok2 bool
			return seq(h.oneN(10, h.n, false), h.checkOneLeader(&l),
				do(func() {
					h.disconnect((l + 1) % h.n)
					h.disconnect((l + 2) % h.n)
					h.disconnect((l + 3) % h.n)
					index, _, ok = h.start(l, num(20))
				}),
				h.wantIndex("Start(20)", &index, &ok, 2),
				h.sleep(2*electionTimeout), dyn(func() step { return h.checkNotCommitted(index) }),
				do(func() {
					h.connect((l + 1) % h.n)
					h.connect((l + 2) % h.n)
					h.connect((l + 3) % h.n)
				}),
				h.checkOneLeader(&l2),
				do(func() { index2, _, ok2 = h.start(l2, num(30)) }),
				h.wantIndex("Start(30) after repair", &index2, &ok2, 2, 3),
				h.oneN(1000, h.n, true), h.agreeWithCut(1001, 2))
		}})

	registerLab(labTest{name: "concurrent-starts", servers: 3, net: R, limit: 120 * sim.Second,
		desc: "lab ConcurrentStarts3B: five Starts at once all commit (retried if the term changes)",
		body: func(h *harness) step { return concurrentStarts(h) }})

	registerLab(labTest{name: "rejoin", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab Rejoin3B: a partitioned leader's uncommitted entries are overwritten when it rejoins",
		body: func(h *harness) step {
			var l1, l2 int
			return seq(h.oneN(101, h.n, true), h.checkOneLeader(&l1),
				do(func() {
					h.disconnect(l1)
					h.start(l1, num(102))
					h.start(l1, num(103))
					h.start(l1, num(104))
				}),
				h.oneN(103, 2, true), h.checkOneLeader(&l2),
				do(func() { h.disconnect(l2); h.connect(l1) }),
				h.oneN(104, 2, true),
				do(func() { h.connect(l2) }),
				h.oneN(105, h.n, true))
		}})

	registerLab(labTest{name: "backup", servers: 5, net: R, limit: 180 * sim.Second,
		desc: "lab Backup3B: leaders back up quickly over 50 conflicting entries",
		body: func(h *harness) step { return backup(h) }})

	registerLab(labTest{name: "count", servers: 3, net: R, limit: 120 * sim.Second,
		desc: "lab Count3B: message budgets for an election, for agreement, and while idle",
		body: func(h *harness) step { return count(h) }})

	registerLab(labTest{name: "persist1", servers: 3, net: R, limit: 120 * sim.Second,
		desc: "lab Persist13C: state survives restarts of all servers, of leaders, of followers",
		body: func(h *harness) step { return persist1(h) }})

	registerLab(labTest{name: "persist2", servers: 5, net: R, limit: 180 * sim.Second,
		desc: "lab Persist23C: five rounds of crashing and restarting most of the group",
		body: func(h *harness) step { return persist2(h) }})

	registerLab(labTest{name: "persist3", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab Persist33C: a partitioned leader and a follower crash, restart and catch up",
		body: func(h *harness) step {
			var l int
			return seq(h.oneN(101, 3, true), h.checkOneLeader(&l),
				do(func() { h.disconnect((l + 2) % h.n) }), h.oneN(102, 2, true),
				do(func() {
					h.crash(l)
					h.crash((l + 1) % h.n)
					h.connect((l + 2) % h.n)
					h.restart(l)
					h.connect(l)
				}),
				h.oneN(103, 2, true),
				do(func() { h.restart((l + 1) % h.n); h.connect((l + 1) % h.n) }),
				h.oneN(104, h.n, true))
		}})

	registerLab(labTest{name: "figure8", servers: 5, net: R, limit: 240 * sim.Second,
		desc: "lab Figure83C: 1000 rounds of crashing the leader right after Start; then all agree",
		body: func(h *harness) step { return figure8(h, false) }})

	registerLab(labTest{name: "unreliable-agree", servers: 5, net: U, limit: 240 * sim.Second,
		desc: "lab UnreliableAgree3C: 49 rounds of concurrent agreements on a lossy network",
		body: func(h *harness) step {
			return seq(loop(49, func(i int) step {
				iters := i + 1
				var ps []step
				for j := 0; j < 4; j++ {
					ps = append(ps, h.oneN(100*iters+j, 1, true))
				}
				ps = append(ps, h.oneN(iters, 1, true))
				return par(ps...)
			}), do(func() { h.w.SetNet(reliable) }), h.oneN(100, h.n, true))
		}})

	registerLab(labTest{name: "figure8-unreliable", servers: 5, net: U, limit: 240 * sim.Second,
		desc: "lab Figure8Unreliable3C: Figure 8 with disconnects, loss and replies up to 2.2s late",
		body: func(h *harness) step { return figure8(h, true) }})

	registerLab(labTest{name: "reliable-churn", servers: 5, net: R, limit: 120 * sim.Second,
		desc: "lab ReliableChurn3C: clients Start while servers crash, restart and disconnect",
		body: func(h *harness) step { return churn(h, false) }})

	registerLab(labTest{name: "unreliable-churn", servers: 5, net: U, limit: 120 * sim.Second,
		desc: "lab UnreliableChurn3C: churn on a lossy network",
		body: func(h *harness) step { return churn(h, true) }})

	snaps := []struct {
		name, desc           string
		disconnect, crash, u bool
	}{
		{"snapshot-basic", "lab SnapshotBasic3D: bursts of Starts; raft state stays under 2000 B", false, false, false},
		{"snapshot-install", "lab SnapshotInstall3D: a disconnected victim catches up via InstallSnapshot", true, false, false},
		{"snapshot-install-unreliable", "lab SnapshotInstallUnreliable3D: InstallSnapshot on a lossy network", true, false, true},
		{"snapshot-install-crash", "lab SnapshotInstallCrash3D: a crashed victim restarts from its snapshot and catches up", false, true, false},
		{"snapshot-install-uncrash", "lab SnapshotInstallUnCrash3D: crash and catch-up on a lossy network", false, true, true},
	}
	for _, s := range snaps {
		s := s
		net := R
		if s.u {
			net = U
		}
		registerLab(labTest{name: s.name, servers: 3, net: net, snapEvery: 10, limit: 300 * sim.Second, desc: s.desc,
			body: func(h *harness) step { return snapCommon(h, s.disconnect, s.crash) }})
	}

	registerLab(labTest{name: "snapshot-all-crash", servers: 3, net: U, snapEvery: 10, limit: 240 * sim.Second,
		desc: "lab SnapshotAllCrash3D: crash every server after bursts; indices keep growing",
		body: func(h *harness) step {
			return seq(h.one(h.rnd(), h.n, true, nil), loop(5, func(int) step {
				var i1, i2 uint64
				return dyn(func() step {
					nn := 5 + h.c.Workload.Intn(10)
					return seq(loop(nn, func(int) step { return dyn(func() step { return h.one(h.rnd(), h.n, true, nil) }) }),
						dyn(func() step { return h.one(h.rnd(), h.n, true, &i1) }),
						h.crashAll(), dyn(func() step { return h.one(h.rnd(), h.n, true, &i2) }),
						do(func() {
							if i2 < i1+1 {
								h.fail("raft.snapshot-index", "index decreased from %d to %d after crashing all", i1, i2)
							}
						}))
				})
			}))
		}})

	registerLab(labTest{name: "snapshot-init", servers: 3, net: U, snapEvery: 10, limit: 120 * sim.Second,
		desc: "lab SnapshotInit3D: a persisted snapshot survives later saves across full restarts",
		body: func(h *harness) step {
			one := func() step { return dyn(func() step { return h.one(h.rnd(), h.n, true, nil) }) }
			return seq(one(), loop(11, func(int) step { return one() }),
				h.crashAll(), one(), h.crashAll(), one())
		}})
}

// crashAll crashes every server, then restarts and reconnects them all.
func (h *harness) crashAll() step {
	return do(func() {
		for i := 0; i < h.n; i++ {
			h.crash(i)
		}
		for i := 0; i < h.n; i++ {
			h.restart(i)
			h.connect(i)
		}
	})
}
