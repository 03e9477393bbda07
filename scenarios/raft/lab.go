package raft

import (
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/scenarios/script"
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
	body  func(d *drv)
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
			h.drive(t.body)
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

const electionTimeout = sim.Second // the lab's RaftElectionTimeout

func init() {
	R, U := reliable, unreliable
	registerLab(labTest{name: "initial-election", servers: 3, net: R, limit: 30 * sim.Second,
		desc: "lab InitialElection3A: one leader, terms agree, and a leader still exists after 2s",
		body: func(d *drv) {
			d.label("first leader")
			d.checkOneLeader()
			d.sleep(50 * sim.Millisecond)
			t1 := d.checkTerms()
			if t1 < 1 {
				d.fail("raft.terms", "term is %d, but should be at least 1", t1)
			}
			d.sleep(2 * electionTimeout)
			if t2 := d.checkTerms(); t1 != t2 {
				d.w.Note("warning: term changed even though there were no failures")
			}
			d.label("leader still there")
			d.checkOneLeader()
		}})

	registerLab(labTest{name: "re-election", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab ReElection3A: new leaders after the leader is cut off (dsim: which commit an entry without it); none without a majority",
		body: func(d *drv) {
			d.label("first leader")
			l1 := d.checkOneLeader()
			d.disconnect(l1)
			d.label("leader after disconnect")
			d.checkOneLeader()
			d.label("agreement without the old leader")
			d.oneN(301, d.n-1, true)
			d.connect(l1)
			d.label("leader after rejoin")
			l2 := d.checkOneLeader()
			d.disconnect(l2)
			d.disconnect((l2 + 1) % d.n)
			d.sleep(2 * electionTimeout)
			d.checkNoLeader()
			d.connect((l2 + 1) % d.n)
			d.label("leader with a majority back")
			d.checkOneLeader()
			d.connect(l2)
			d.checkOneLeader()
		}})

	registerLab(labTest{name: "many-elections", servers: 7, net: R, limit: 120 * sim.Second,
		desc: "lab ManyElections3A: 9 rounds of cutting off 3 of 7 servers; a leader whenever 4 are connected (dsim: which commits an entry)",
		body: func(d *drv) {
			d.checkOneLeader()
			for i := 0; i < 9; i++ {
				r := d.c.Workload
				a, b, c := r.Intn(d.n), r.Intn(d.n), r.Intn(d.n)
				d.disconnect(a)
				d.disconnect(b)
				d.disconnect(c)
				d.label("leader with 3 cut off")
				d.checkOneLeader()
				d.label("agreement with 3 cut off")
				d.oneN(400+i, d.n-3, true)
				d.connect(a)
				d.connect(b)
				d.connect(c)
			}
			d.checkOneLeader()
		}})

	registerLab(labTest{name: "basic-agree", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab BasicAgree3B: three agreements at indices 1, 2, 3; nothing committed before Start",
		body: func(d *drv) {
			for index := uint64(1); index <= 3; index++ {
				if nd, _ := d.nCommitted(index); nd > 0 {
					d.fail("raft.commit-before-start", "%d servers committed index %d before Start", nd, index)
				}
				d.label("agree %d", index)
				d.wantIndex("one()", d.one(num(int(index)*100), d.n, false), true, index)
			}
		}})

	registerLab(labTest{name: "rpc-bytes", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab RPCBytes3B: 10 commands of 5000 bytes must cost at most 200 KB of traffic (no full-log resends)",
		body: func(d *drv) {
			d.oneN(99, d.n, false)
			bytes0 := d.w.Stats().Bytes
			sent := 0
			for i := 0; i < 10; i++ {
				sent += 5000
				d.wantIndex("one()", d.one(d.randString(5000), d.n, false), true, uint64(i+2))
			}
			got := d.w.Stats().Bytes - bytes0
			want := uint64(d.n*sent + 50000)
			d.c.Metric("bytes", float64(got))
			if got > want {
				d.fail("raft.rpc-bytes", "too many bytes sent: %d, allowed %d", got, want)
			}
		}})

	registerLab(labTest{name: "follower-failure", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab FollowerFailure3B: progress with one follower down, none with both down",
		body: func(d *drv) {
			d.oneN(101, d.n, false)
			l1 := d.checkOneLeader()
			d.disconnect((l1 + 1) % d.n)
			d.oneN(102, d.n-1, false)
			d.sleep(electionTimeout)
			d.oneN(103, d.n-1, false)
			l2 := d.checkOneLeader()
			d.disconnect((l2 + 1) % d.n)
			d.disconnect((l2 + 2) % d.n)
			index, _, ok := d.start(l2, num(104))
			d.wantIndex("Start(104)", index, ok, 4)
			d.sleep(2 * electionTimeout)
			d.checkNotCommitted(index)
		}})

	registerLab(labTest{name: "leader-failure", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab LeaderFailure3B: a new leader after the leader fails; no commit with both leaders gone",
		body: func(d *drv) {
			d.oneN(101, d.n, false)
			d.disconnect(d.checkOneLeader())
			d.oneN(102, d.n-1, false)
			d.sleep(electionTimeout)
			d.oneN(103, d.n-1, false)
			d.disconnect(d.checkOneLeader())
			for i := 0; i < d.n; i++ {
				d.start(i, num(104))
			}
			d.sleep(2 * electionTimeout)
			d.checkNotCommitted(4)
		}})

	registerLab(labTest{name: "fail-agree", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab FailAgree3B: agreement despite a disconnected follower, which then catches up",
		body: func(d *drv) {
			d.oneN(101, d.n, false)
			l := d.checkOneLeader()
			d.disconnect((l + 1) % d.n)
			d.oneN(102, d.n-1, false)
			d.oneN(103, d.n-1, false)
			d.sleep(electionTimeout)
			d.oneN(104, d.n-1, false)
			d.oneN(105, d.n-1, false)
			d.connect((l + 1) % d.n)
			d.oneN(106, d.n, true)
			d.sleep(electionTimeout)
			d.oneN(107, d.n, true)
		}})

	registerLab(labTest{name: "fail-no-agree", servers: 5, net: R, limit: 60 * sim.Second,
		desc: "lab FailNoAgree3B: no agreement with 3 of 5 followers gone; index 2 is reused after repair (dsim: then agreement with 2 gone)",
		body: func(d *drv) {
			d.oneN(10, d.n, false)
			l := d.checkOneLeader()
			for j := 1; j <= 3; j++ {
				d.disconnect((l + j) % d.n)
			}
			index, _, ok := d.start(l, num(20))
			d.wantIndex("Start(20)", index, ok, 2)
			d.sleep(2 * electionTimeout)
			d.checkNotCommitted(index)
			for j := 1; j <= 3; j++ {
				d.connect((l + j) % d.n)
			}
			l2 := d.checkOneLeader()
			index2, _, ok2 := d.start(l2, num(30))
			d.wantIndex("Start(30) after repair", index2, ok2, 2, 3)
			d.oneN(1000, d.n, true)
			d.agreeWithCut(1001, 2)
		}})

	registerLab(labTest{name: "concurrent-starts", servers: 3, net: R, limit: 120 * sim.Second,
		desc: "lab ConcurrentStarts3B: five Starts at once all commit (retried if the term changes)",
		body: concurrentStarts})

	registerLab(labTest{name: "rejoin", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab Rejoin3B: a partitioned leader's uncommitted entries are overwritten when it rejoins",
		body: func(d *drv) {
			d.oneN(101, d.n, true)
			l1 := d.checkOneLeader()
			d.disconnect(l1)
			d.start(l1, num(102))
			d.start(l1, num(103))
			d.start(l1, num(104))
			d.oneN(103, 2, true)
			l2 := d.checkOneLeader()
			d.disconnect(l2)
			d.connect(l1)
			d.oneN(104, 2, true)
			d.connect(l2)
			d.oneN(105, d.n, true)
		}})

	registerLab(labTest{name: "backup", servers: 5, net: R, limit: 180 * sim.Second,
		desc: "lab Backup3B: leaders back up quickly over 50 conflicting entries", body: backup})

	registerLab(labTest{name: "count", servers: 3, net: R, limit: 120 * sim.Second,
		desc: "lab Count3B: message budgets for an election, for agreement, and while idle", body: count})

	registerLab(labTest{name: "persist1", servers: 3, net: R, limit: 120 * sim.Second,
		desc: "lab Persist13C: state survives restarts of all servers, of leaders, of followers", body: persist1})

	registerLab(labTest{name: "persist2", servers: 5, net: R, limit: 180 * sim.Second,
		desc: "lab Persist23C: five rounds of crashing and restarting most of the group", body: persist2})

	registerLab(labTest{name: "persist3", servers: 3, net: R, limit: 60 * sim.Second,
		desc: "lab Persist33C: a partitioned leader and a follower crash, restart and catch up",
		body: func(d *drv) {
			d.oneN(101, 3, true)
			l := d.checkOneLeader()
			d.disconnect((l + 2) % d.n)
			d.oneN(102, 2, true)
			d.crash(l)
			d.crash((l + 1) % d.n)
			d.connect((l + 2) % d.n)
			d.restart(l)
			d.connect(l)
			d.oneN(103, 2, true)
			d.restart((l + 1) % d.n)
			d.connect((l + 1) % d.n)
			d.oneN(104, d.n, true)
		}})

	registerLab(labTest{name: "figure8", servers: 5, net: R, limit: 240 * sim.Second,
		desc: "lab Figure83C: 1000 rounds of crashing the leader right after Start; then all agree",
		body: func(d *drv) { figure8(d, false) }})

	registerLab(labTest{name: "unreliable-agree", servers: 5, net: U, limit: 240 * sim.Second,
		desc: "lab UnreliableAgree3C: 49 rounds of concurrent agreements on a lossy network",
		body: func(d *drv) {
			for iters := 1; iters <= 49; iters++ {
				var ones []func(*script.S)
				for j := 0; j < 4; j++ {
					n := 100*iters + j
					ones = append(ones, func(s *script.S) { (&drv{d.harness, s}).oneN(n, 1, true) })
				}
				n := iters
				ones = append(ones, func(s *script.S) { (&drv{d.harness, s}).oneN(n, 1, true) })
				d.s.Par(ones...)
			}
			d.w.SetNet(reliable)
			d.oneN(100, d.n, true)
		}})

	registerLab(labTest{name: "figure8-unreliable", servers: 5, net: U, limit: 240 * sim.Second,
		desc: "lab Figure8Unreliable3C: Figure 8 with disconnects, loss and replies up to 2.2s late",
		body: func(d *drv) { figure8(d, true) }})

	registerLab(labTest{name: "reliable-churn", servers: 5, net: R, limit: 120 * sim.Second,
		desc: "lab ReliableChurn3C: clients Start while servers crash, restart and disconnect",
		body: func(d *drv) { churn(d, false) }})

	registerLab(labTest{name: "unreliable-churn", servers: 5, net: U, limit: 120 * sim.Second,
		desc: "lab UnreliableChurn3C: churn on a lossy network",
		body: func(d *drv) { churn(d, true) }})

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
			body: func(d *drv) { snapCommon(d, s.disconnect, s.crash) }})
	}

	registerLab(labTest{name: "snapshot-all-crash", servers: 3, net: U, snapEvery: 10, limit: 240 * sim.Second,
		desc: "lab SnapshotAllCrash3D: crash every server after bursts; indices keep growing",
		body: func(d *drv) {
			d.oneRnd(d.n)
			for round := 0; round < 5; round++ {
				nn := 5 + d.c.Workload.Intn(10)
				for i := 0; i < nn; i++ {
					d.oneRnd(d.n)
				}
				i1 := d.oneRnd(d.n)
				d.crashAll()
				if i2 := d.oneRnd(d.n); i2 < i1+1 {
					d.fail("raft.snapshot-index", "index decreased from %d to %d after crashing all", i1, i2)
				}
			}
		}})

	registerLab(labTest{name: "snapshot-init", servers: 3, net: U, snapEvery: 10, limit: 120 * sim.Second,
		desc: "lab SnapshotInit3D: a persisted snapshot survives later saves across full restarts",
		body: func(d *drv) {
			for i := 0; i < 12; i++ {
				d.oneRnd(d.n)
			}
			d.crashAll()
			d.oneRnd(d.n)
			d.crashAll()
			d.oneRnd(d.n)
		}})
}
