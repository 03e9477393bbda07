package etcdsim

import (
	"fmt"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
	pb "go.etcd.io/raft/v3/raftpb"
)

// The API-feature workloads: membership changes, leader transfers, forced
// campaigns and rolling upgrades, each driven during the fault phase from
// the workload stream, and the scenarios that run one feature each, all of
// them together (etcd/features: swarm testing over features) and the
// broken hosts of each feature class.

// leaderNode returns the running peer claiming leadership in the highest
// term (-1 and nil if none).
func (h *harness) leaderNode() (int, *Node) {
	best, bestTerm := -1, uint64(0)
	var bn *Node
	for i := range h.ids {
		if nd := h.node(i); nd != nil && !nd.removed {
			if t, lead := nd.Role(); lead && (best < 0 || t > bestTerm) {
				best, bestTerm, bn = i, t, nd
			}
		}
	}
	return best, bn
}

// fact records a "sometimes" fact through peer i's environment (facts are
// per world; the harness has no Env of its own).
func (h *harness) fact(i int, what string) {
	if nd, ok := h.w.Node(h.ids[i]).(*Node); ok && nd.env != nil {
		nd.env.Sometimes(what)
	}
}

// membership is the membership workload: every 0.3-1.2 s the leader is
// asked for one conf change, drawn against the configuration it applied:
// leave a joint configuration entered for an explicit leave; add a spare as
// a learner; promote a learner (ConfChange V1 or V2); remove a voter
// (preferring one that is down: replacing a failed peer); or a joint change
// that promotes a learner and removes a voter at once (automatic or
// explicit leave). Safe mode never removes a voter when fewer voters than a
// quorum of the new configuration would be up, nor goes below three voters;
// adversarial mode removes any voter, the leader and live ones included,
// down to one. A removed peer never returns (etcd needs a new ID).
func (h *harness) membership(adversarial bool) {
	r := h.c.Workload
	added := make([]bool, len(h.ids))
	for i := 0; i < h.n; i++ {
		added[i] = true
	}
	h.c.Every(300*sim.Millisecond, 1200*sim.Millisecond, func() {
		li, l := h.leaderNode()
		if l == nil {
			return
		}
		cs := l.cs
		if len(cs.VotersOutgoing) > 0 {
			if !pbBool(cs.AutoLeave) {
				l.ProposeConfChange(new(pb.ConfChangeV2))
			}
			return
		}
		var spares, learners, up, down []uint64
		for i := range h.ids {
			if !added[i] {
				spares = append(spares, uint64(i+1))
			}
		}
		learners = append(learners, cs.Learners...)
		for _, v := range cs.Voters {
			if h.node(int(v-1)) != nil {
				up = append(up, v)
			} else {
				down = append(down, v)
			}
		}
		// removable returns a voter whose removal the mode allows (0: none).
		removable := func() uint64 {
			nv := len(cs.Voters) - 1
			if adversarial {
				if nv < 1 {
					return 0
				}
				return cs.Voters[r.Intn(len(cs.Voters))]
			}
			if nv < 3 {
				return 0
			}
			if len(down) > 0 {
				// Replacing a failed peer: the quorum of live voters is
				// unchanged by removing a dead one.
				if len(up) >= nv/2+1 {
					return down[r.Intn(len(down))]
				}
				return 0
			}
			if len(up)-1 >= nv/2+1 {
				v := up[r.Intn(len(up))]
				if v == uint64(li+1) && r.Intn(2) == 0 {
					return 0 // the leader less often
				}
				return v
			}
			return 0
		}
		var cc pb.ConfChangeI
		switch k := r.Intn(6); {
		case k == 0 && len(spares) > 0:
			s := spares[r.Intn(len(spares))]
			added[s-1] = true
			cc = confChange(pb.ConfChangeTransitionAuto, "l%d", s)
		case k == 1 && len(learners) > 0:
			v := learners[r.Intn(len(learners))]
			if r.Intn(2) == 0 {
				cc = confChangeV1(pb.ConfChangeAddNode, v)
			} else {
				cc = confChange(pb.ConfChangeTransitionAuto, "v%d", v)
			}
		case k == 2:
			if v := removable(); v != 0 {
				if r.Intn(2) == 0 {
					cc = confChangeV1(pb.ConfChangeRemoveNode, v)
				} else {
					cc = confChange(pb.ConfChangeTransitionAuto, "r%d", v)
				}
			}
		case (k == 3 || k == 5) && len(learners) > 0:
			v := learners[r.Intn(len(learners))]
			tr := pb.ConfChangeTransitionJointImplicit
			if r.Intn(2) == 0 {
				tr = pb.ConfChangeTransitionJointExplicit
			}
			if rm := removable(); rm != 0 {
				cc = confChange(tr, "v%d r%d", v, rm)
			} else {
				cc = confChange(tr, "v%d", v)
			}
		case k == 4 && len(spares) > 0 && len(down) > 0:
			// Replace a failed voter: remove it and add a spare, jointly.
			s := spares[r.Intn(len(spares))]
			added[s-1] = true
			cc = confChange(pb.ConfChangeTransitionJointImplicit, "r%d l%d", down[r.Intn(len(down))], s)
		}
		if cc != nil && l.ProposeConfChange(cc) {
			h.fact(li, "etcd: a conf change was proposed")
		}
	})
}

// transfers asks the leader every 0.5-1.5 s to hand leadership to a voter
// drawn from its configuration (lagging, partitioned or down ones included);
// a transfer completes when that voter wins the next election.
func (h *harness) transfers() {
	r := h.c.Workload
	h.c.Every(500*sim.Millisecond, 1500*sim.Millisecond, func() {
		li, l := h.leaderNode()
		if l == nil || len(l.cs.Voters) < 2 {
			return
		}
		to := int(l.cs.Voters[r.Intn(len(l.cs.Voters))]) - 1
		if to == li {
			return
		}
		h.pendingTransfer, h.transferTerm = to, l.term
		l.TransferLeader(to)
		h.fact(li, "etcd: a leader transfer was requested")
	})
}

// campaigns forces a drawn running voter to campaign every 0.7-2 s.
func (h *harness) campaigns() {
	r := h.c.Workload
	h.c.Every(700*sim.Millisecond, 2*sim.Second, func() {
		i := r.Intn(len(h.ids))
		nd := h.node(i)
		if nd == nil || nd.removed || nd.leader {
			return
		}
		h.pendingCampaign, h.campaignTerm = i, nd.term
		nd.Campaign()
	})
}

// elected notes a leader for the transfer and campaign facts.
func (h *harness) elected(server int, term uint64) {
	if h.pendingTransfer == server && term > h.transferTerm {
		h.fact(server, "etcd: a leader transfer completed")
		h.pendingTransfer = -1
	}
	if h.pendingCampaign == server && term > h.campaignTerm {
		h.fact(server, "etcd: a forced campaign won")
		h.pendingCampaign = -1
	}
	if h.upgrade {
		old, neu := false, false
		for i := 0; i < h.n; i++ {
			if h.upgraded[i] {
				neu = true
			} else {
				old = true
			}
		}
		if old && neu {
			h.fact(server, "etcd: a leader was elected in a mixed PreVote/CheckQuorum cluster")
		}
	}
}

// rollingUpgrade restarts the initial peers one at a time, in a drawn
// order, each with PreVote and CheckQuorum turned on (it booted with them
// off): the cluster runs mixed for most of the fault phase.
func (h *harness) rollingUpgrade() {
	order := h.c.Workload.Perm(h.n)
	step := h.c.Scenario.Duration / sim.Duration(h.n+1)
	for k, i := range order {
		i := i
		h.w.After(sim.Duration(k+1)*step, func() {
			id := h.ids[i]
			if !h.w.Up(id) {
				h.upgraded[i] = true
				return
			}
			h.w.Crash(id)
			h.w.After(50*sim.Millisecond, func() {
				h.upgraded[i] = true
				if !h.w.Up(id) {
					h.w.Restart(id)
				}
				h.fact(i, "etcd: a peer was upgraded to PreVote and CheckQuorum")
			})
		})
	}
}

// isolations cut the leader off from its peers (not from its clients)
// every 1.6-2.5 s for 0.6-1.5 s: a deposed leader that does not know it yet
// keeps receiving client requests.
func (h *harness) isolations() {
	r := h.c.Workload
	h.c.Every(1600*sim.Millisecond, 2500*sim.Millisecond, func() {
		li, l := h.leaderNode()
		if l == nil {
			return
		}
		h.w.Isolate(h.ids[li], h.ids)
		h.w.After(r.Between(600*sim.Millisecond, 1500*sim.Millisecond), h.HealLinks)
	})
}

// feature is one API-feature scenario.
type feature struct {
	name, desc string
	isolate    bool // also cut the leader off from its peers now and then
	over       map[string]string
	faults     func(scenarios.Variant) sim.Faults
	net        sim.NetOptions
	unsafe     bool
	expect     []string
}

func registerFeature(f feature) {
	ps := Params(5, f.over)
	scenarios.Register(&scenarios.Scenario{
		Name: "etcd/" + f.name, Description: f.desc, Params: ps,
		Duration: Duration, Liveness: Liveness, Faults: f.faults, Unsafe: f.unsafe, Expect: f.expect,
		Setup: func(c *scenarios.Cluster) error {
			h, err := newHarness(c, f.net)
			if err != nil {
				return err
			}
			h.client(30 * sim.Millisecond)
			h.liveness()
			h.drivers()
			if f.isolate {
				h.isolations()
			}
			return nil
		},
	})
}

// drivers starts the feature workloads the run's features ask for.
func (h *harness) drivers() {
	if h.f.membership != MembershipOff {
		h.membership(h.f.membership == MembershipAdversarial)
	}
	if h.f.transfer {
		h.transfers()
	}
	if h.f.campaign {
		h.campaigns()
	}
	if h.upgrade {
		h.rollingUpgrade()
	}
}

// featureFaults are the feature scenarios' faults: loss, partitions (one-way
// too), crashes (often the leader), quick restarts and crash points after
// promises and around disk writes, torn unsynced writes. No clock faults
// unless asked: lease-based reads assume bounded clock drift by design.
func featureFaults(scenarios.Variant) sim.Faults {
	return sim.Faults{Step: 100 * sim.Millisecond,
		Network: sim.NetworkFaults{Base: lossy, Partition: sim.R(1, 8), OneWay: true, PartitionStability: 300 * sim.Millisecond},
		Process: sim.ProcessFaults{Crash: sim.R(1, 10), CrashLeader: sim.R(1, 2), CrashStability: 200 * sim.Millisecond,
			CrashPoint: sim.R(1, 4), PointMsgs: PromiseMessages, ShortDown: sim.R(1, 3)},
		Disk: sim.DiskFaults{Torn: sim.R(1, 2)}}
}

// pauseFaults pause processes (a paused peer's timers and deliveries wait,
// then run at once: a leader that stalls and wakes to a backlog of old
// heartbeat responses), with long-tail delays and duplicated messages.
func pauseFaults(scenarios.Variant) sim.Faults {
	f := featureFaults(nil)
	f.Network.Base.Tail = sim.R(1, 10)
	f.Network.Base.TailMax = sim.Second
	f.Network.Base.Dup = sim.R(1, 20)
	f.Process.Pause = sim.R(1, 4)
	f.Process.Crash = sim.R(1, 20)
	return f
}

// asyncFaults aim crash points at the asynchronous write path: after
// acknowledgements and votes (sent by the append thread once durable) and
// around its disk writes, with quick restarts.
func asyncFaults(scenarios.Variant) sim.Faults {
	f := featureFaults(nil)
	f.Process.CrashPoint = sim.R(1, 2)
	f.Process.ShortDown = sim.R(1, 1)
	return f
}

func init() {
	registerFeature(feature{name: "reads", net: lossy, faults: featureFaults,
		desc: "etcd raft KV: linearizable reads as etcd's server does them (ReadIndex with ReadOnlySafe from any member, the v3.6 read loop's batching and retries) under partitions, crashes and crash points",
		expect: []string{"etcd: a read served by ReadIndex on a follower", "etcd: a read served by ReadIndex on the leader",
			"etcd: a ReadIndex request was retried", "etcd: a read round failed on a leader change"}})
	// A known finding (FINDINGS.md): etcd raft's lease lets a deposed
	// leader serve reads after a new leader committed writes, without any
	// clock drift. Kept out of default campaigns; its failure file
	// (testdata/findings) must keep failing on this etcd version.
	registerFeature(feature{name: "reads-pause", net: lossy, faults: pauseFaults,
		desc:   "etcd raft KV: ReadIndex reads while processes pause (a stalled leader wakes to a backlog), messages arrive late and twice: the shape of etcd-io/etcd#20418",
		expect: []string{"etcd: a read served by ReadIndex on a follower", "etcd: a ReadIndex request was retried", "etcd: an out-of-date ReadIndex response was ignored"}})
	registerFeature(feature{name: "lease-reads", net: lossy, faults: featureFaults, over: map[string]string{kRead: ReadLease}, unsafe: true,
		desc:   "KNOWN FINDING (etcd-io/raft#166): lease-based reads (ReadOnlyLeaseBased with CheckQuorum) under partitions and crashes, no clock faults; a deposed leader still inside its lease serves stale reads on about 1 seed in 100 (FINDINGS.md)",
		expect: []string{"etcd: a lease-based read served", "etcd: a read served by ReadIndex on a follower"}})
	registerFeature(feature{name: "membership", net: lossy, faults: featureFaults,
		over: map[string]string{kMembership: MembershipSafe, kSpares: "3"},
		desc: "etcd raft: ConfChange and ConfChangeV2 under faults: learners added and promoted, voters removed (failed ones replaced), joint consensus with automatic and explicit leave, StepDownOnRemoval; never below a quorum of live voters",
		expect: []string{"etcd: a learner was added", "etcd: a voter was added or a learner promoted", "etcd: a member was removed",
			"etcd: a joint configuration was entered", "etcd: a joint configuration entered for an explicit leave", "etcd: a joint configuration was left",
			"etcd: a new member caught up by snapshot", "etcd: a removed peer stopped"}})
	registerFeature(feature{name: "membership-adversarial", net: lossy, faults: featureFaults,
		over:   map[string]string{kMembership: MembershipAdversarial, kSpares: "3"},
		desc:   "etcd raft: membership changes drawn adversarially (live voters and the leader removed while others are down, down to one voter) under faults",
		expect: []string{"etcd: a member was removed", "etcd: a removed peer stopped"}})
	registerFeature(feature{name: "transfer", net: lossy, faults: featureFaults, over: map[string]string{kTransfer: "true", kCampaign: "true"},
		desc:   "etcd raft: TransferLeader to drawn voters (lagging, partitioned or down ones too) and forced campaigns under faults",
		expect: []string{"etcd: a leader transfer was requested", "etcd: a leader transfer completed", "etcd: a forced campaign won"}})
	registerFeature(feature{name: "async", net: lossy, faults: asyncFaults, over: map[string]string{kAsync: "true"},
		desc:   "etcd raft with AsyncStorageWrites: appends and applies on their own threads (delayed FIFOs), responses delivered when durable; crash points after promises and inside the write path, quick restarts, torn writes",
		expect: []string{"etcd: an async append completed after a restart", "etcd: a read served by ReadIndex on a follower"}})
	registerFeature(feature{name: "limits", net: lossy, faults: featureFaults,
		over:   map[string]string{kMaxMsg: "128", kMaxInflight: "2", kMaxInBytes: "512", kMaxCommitted: "96", kMaxUncommit: "1024", kSnapEvery: "8", kNoForward: "true"},
		desc:   "etcd raft with small flow-control limits (MaxSizePerMsg 128 B, MaxInflightMsgs 2, MaxInflightBytes 512, MaxCommittedSizePerReady 96, MaxUncommittedEntriesSize 1 KiB), DisableProposalForwarding, a snapshot every 8 entries",
		expect: []string{"etcd: a paginated Ready (committed entries held back by MaxCommittedSizePerReady)", "etcd: a proposal was dropped", "etcd: a follower installed a snapshot"}})
	registerFeature(feature{name: "rolling-upgrade", net: lossy, faults: featureFaults, over: map[string]string{kUpgrade: "true"},
		desc:   "etcd raft rolling upgrade: every peer boots with PreVote and CheckQuorum off and is restarted with them on, one at a time, under faults",
		expect: []string{"etcd: a peer was upgraded to PreVote and CheckQuorum", "etcd: a leader was elected in a mixed PreVote/CheckQuorum cluster"}})
	registerFeature(feature{name: "features", net: lossy, faults: featureFaults, over: map[string]string{kFeatures: "true"},
		desc: "etcd raft, swarm testing over API features: each seed draws async storage, small limits, proposal forwarding, membership (safe or adversarial), transfers and campaigns",
		expect: []string{"etcd: an async append completed after a restart", "etcd: a joint configuration was left",
			"etcd: a leader transfer completed", "etcd: a paginated Ready (committed entries held back by MaxCommittedSizePerReady)"}})

	// Broken hosts, one per feature class: each must be caught.
	registerFeature(feature{name: "unsafe-serializable-reads", net: lossy, faults: featureFaults, unsafe: true,
		over: map[string]string{kRead: ReadSerializable},
		desc: "UNSAFE host: Gets answered from the local store at once (etcd's serializable reads) where linearizable ones are promised: linearizability must fail"})
	registerFeature(feature{name: "unsafe-read-no-wait", net: lossy, faults: asyncFaults, unsafe: true,
		over: map[string]string{kUnsafe: UnsafeReadNoWait, kAsync: "true", kAsyncDelay: "20"},
		desc: "UNSAFE host: a ReadIndex read is answered when its ReadState arrives, before the applied index reaches it (with slow async applies): linearizability must fail"})
	registerFeature(feature{name: "unsafe-async-respond-early", net: lossy, faults: asyncFaults, unsafe: true,
		over: map[string]string{kUnsafe: UnsafeAsyncRespondEarly, kAsync: "true"},
		desc: "UNSAFE host: the append thread delivers a MsgStorageAppend's responses (acknowledgements, votes) before its writes are durable: sync-before-promise must fail"})
	registerFeature(feature{name: "unsafe-leader-local-reads", net: calm, unsafe: true, isolate: true,
		over: map[string]string{kUnsafe: UnsafeLeaderLocalReads, kTransfer: "true"},
		desc: "UNSAFE host: a peer whose SoftState says leader answers Gets from its own store, skipping ReadIndex; leader transfers and leaders cut off from their peers (not their clients) leave deposed leaders that still believe it: linearizability must fail"})
	registerFeature(feature{name: "unsafe-apply-to-commit", net: lossy, faults: featureFaults, unsafe: true,
		over: map[string]string{kUnsafe: UnsafeApplyToCommit, kMaxMsg: "128", kMaxCommitted: "96", kSnapEvery: "8"},
		desc: "UNSAFE host: a Ready's committed entries are taken to reach HardState.Commit, so with MaxCommittedSizePerReady paginating them the rest is marked applied unapplied: the state digests must disagree"})
	registerFeature(feature{name: "unsafe-conf-on-append", net: lossy, faults: featureFaults, unsafe: true,
		over: map[string]string{kUnsafe: UnsafeConfOnAppend, kMembership: MembershipSafe, kSpares: "3"},
		desc: "UNSAFE host: a leader applies a conf change as soon as it appends it, not once it is committed and applied: the membership checks must fail"})
}

// confChange returns a ConfChangeV2 of transition tr whose changes are
// given in etcd's compact syntax (pbConfChangeV2); the format is the
// caller's, so a parse error is a bug.
func confChange(tr pb.ConfChangeTransition, format string, ids ...any) *pb.ConfChangeV2 {
	cc, err := pbConfChangeV2(tr, fmt.Sprintf(format, ids...))
	if err != nil {
		panic(fmt.Sprintf("etcdsim: conf change %q: %v", format, err))
	}
	return cc
}

// confChangeV1 returns an old-style ConfChange of typ for node.
func confChangeV1(typ pb.ConfChangeType, node uint64) *pb.ConfChange {
	cc, err := pbConfChangeV1(typ, node)
	if err != nil {
		panic(fmt.Sprintf("etcdsim: conf change %v %d: %v", typ, node, err))
	}
	return cc
}
