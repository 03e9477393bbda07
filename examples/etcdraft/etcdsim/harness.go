package etcdsim

import (
	"fmt"
	"strconv"
	"time"

	"github.com/smilingraft/dsim/checkers/kvcheck"
	"github.com/smilingraft/dsim/nodes/kv"
	"github.com/smilingraft/dsim/scenarios/kvsrv"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/scenarios/raftshape"
	"github.com/smilingraft/dsim/sim"
)

// Variant keys every etcd scenario accepts.
const (
	kServers     = "etcd.servers"
	kTick        = "etcd.tick_ms"
	kElection    = "etcd.election_ticks"
	kHeartbeat   = "etcd.heartbeat_ticks"
	kPreVote     = "etcd.prevote"
	kCheckQuorum = "etcd.checkquorum"
	kSnapEvery   = "etcd.snap_every"
	kAudit       = "etcd.whitebox"
	kUnsafe      = "etcd.unsafe_host"

	kClients      = "etcd.clients"
	kKeys         = "etcd.keys"
	kRead         = "etcd.read"
	kAsync        = "etcd.async"
	kAsyncDelay   = "etcd.async_delay_ms"
	kMaxMsg       = "etcd.max_size_per_msg"
	kMaxInflight  = "etcd.max_inflight_msgs"
	kMaxInBytes   = "etcd.max_inflight_bytes"
	kMaxCommitted = "etcd.max_committed_size_per_ready"
	kMaxUncommit  = "etcd.max_uncommitted_entries_size"
	kNoForward    = "etcd.disable_proposal_forwarding"
	kStepDown     = "etcd.step_down_on_removal"
	kUnreachable  = "etcd.report_unreachable"
	kSpares       = "etcd.spares"
	kMembership   = "etcd.membership"
	kTransfer     = "etcd.transfer"
	kCampaign     = "etcd.campaign"
	kUpgrade      = "etcd.rolling_upgrade"
	kFeatures     = "etcd.features"
	kReadRetry    = "etcd.read_retry"
)

// Read retry policies (etcd.read_retry).
const (
	// RetrySameID resends a read round's ReadIndex under its request id,
	// as the etcd v3.6.0 server does.
	RetrySameID = "same-id"
	// RetryNewID resends it under a fresh id (etcd PR #21399, the fix of
	// etcd-io/etcd#20418).
	RetryNewID = "new-id"
)

// Membership workloads (etcd.membership).
const (
	MembershipOff = "off"
	// MembershipSafe never removes a voter when that would leave fewer
	// live voters than a quorum of the new configuration.
	MembershipSafe = "safe"
	// MembershipAdversarial removes voters regardless (crashed or not,
	// the leader included), down to a configuration of one voter.
	MembershipAdversarial = "adversarial"
)

// Params returns the etcd.* variant keys with servers as the default
// cluster size; over replaces defaults by key.
func Params(servers int, over map[string]string) []scenarios.Param {
	ps := []scenarios.Param{
		{Key: kServers, Default: strconv.Itoa(servers), Doc: "number of etcd raft peers", Range: scenarios.Span(1, 15)},
		{Key: kTick, Default: "50", Doc: "virtual ms between RawNode.Tick calls", Range: scenarios.Span(1, 10_000)},
		{Key: kElection, Default: "6", Doc: "etcd ElectionTick (timeouts are randomized in [ticks, 2*ticks))", Range: scenarios.Span(2, 1000)},
		{Key: kHeartbeat, Default: "2", Doc: "etcd HeartbeatTick (below election_ticks)", Range: scenarios.Span(1, 1000), BelowKey: kElection},
		{Key: kPreVote, Default: "true", Doc: "etcd PreVote"},
		{Key: kCheckQuorum, Default: "true", Doc: "etcd CheckQuorum"},
		{Key: kSnapEvery, Default: "20", Doc: "snapshot and compact after this many applied entries (0: never)", Range: scenarios.Span(0, 1_000_000)},
		{Key: kAudit, Default: "true", Doc: "white-box checks: raw logs, votes and acknowledgements against the disk"},
		{Key: kUnsafe, Default: UnsafeNone, Doc: "UNSAFE hosts that break etcd's contract: send-before-persist (messages before entries and HardState are durable), vote-before-persist (HardState synced after the messages), async-respond-early (a MsgStorageAppend's responses before its writes are durable), conf-on-append (a leader applies a conf change when it appends it), read-no-wait (a ReadIndex read answered before the applied index reaches it), leader-local-reads (a peer that believes it leads answers Gets locally), apply-to-commit (a paginated Ready's rest is marked applied)",
			Enum: []string{UnsafeNone, UnsafeSendBeforePersist, UnsafeVoteBeforePersist, UnsafeAsyncRespondEarly, UnsafeConfOnAppend, UnsafeReadNoWait, UnsafeLeaderLocalReads, UnsafeApplyToCommit}},
		{Key: kClients, Default: "3", Doc: "KV clients (each a node with a kv.Clerk doing Get then a versioned Put on shared keys)", Range: scenarios.Span(0, 32)},
		{Key: kKeys, Default: "3", Doc: "keys the KV clients share", Range: scenarios.Span(1, 1000)},
		{Key: kRead, Default: ReadSafe, Doc: "how Gets are served: safe (ReadIndex, ReadOnlySafe), lease (ReadIndex, ReadOnlyLeaseBased; needs etcd.checkquorum), serializable (UNSAFE: the local store at once)",
			Enum: []string{ReadSafe, ReadLease, ReadSerializable}},
		{Key: kReadRetry, Default: RetrySameID, Doc: "how the read loop resends an unanswered ReadIndex: same-id (the etcd v3.6.0 server) or new-id (etcd PR #21399, the fix of etcd-io/etcd#20418)",
			Enum: []string{RetrySameID, RetryNewID}},
		{Key: kAsync, Default: "false", Doc: "etcd AsyncStorageWrites: appends and applies on separate storage threads, their responses delivered when done"},
		{Key: kAsyncDelay, Default: "3", Doc: "async storage: each append or apply completes up to this many virtual ms after the previous one", Range: scenarios.Span(0, 1000)},
		{Key: kMaxMsg, Default: "0", Doc: "etcd MaxSizePerMsg in bytes (0: 1 MiB)", Range: scenarios.Span(0, 1<<30)},
		{Key: kMaxInflight, Default: "0", Doc: "etcd MaxInflightMsgs (0: 256)", Range: scenarios.Span(0, 1<<20)},
		{Key: kMaxInBytes, Default: "0", Doc: "etcd MaxInflightBytes (0: no limit)", Range: scenarios.Span(0, 1<<30)},
		{Key: kMaxCommitted, Default: "0", Doc: "etcd MaxCommittedSizePerReady (0: MaxSizePerMsg): small values paginate committed entries", Range: scenarios.Span(0, 1<<30)},
		{Key: kMaxUncommit, Default: "0", Doc: "etcd MaxUncommittedEntriesSize (0: no limit): a leader drops proposals past it", Range: scenarios.Span(0, 1<<30)},
		{Key: kNoForward, Default: "false", Doc: "etcd DisableProposalForwarding: followers drop proposals (clients retry elsewhere)"},
		{Key: kStepDown, Default: "true", Doc: "etcd StepDownOnRemoval: a leader removed from the configuration steps down"},
		{Key: kUnreachable, Default: "true", Doc: "report a peer unreachable (RawNode.ReportUnreachable) when a send to it finds the link cut or the peer down"},
		{Key: kSpares, Default: "0", Doc: "spare peers outside the initial cluster, added by the membership workload", Range: scenarios.Span(0, 8)},
		{Key: kMembership, Default: MembershipOff, Doc: "membership workload during the fault phase: off, safe (never below a quorum of live voters), adversarial",
			Enum: []string{MembershipOff, MembershipSafe, MembershipAdversarial}},
		{Key: kTransfer, Default: "false", Doc: "leader transfers (TransferLeader) to drawn peers, lagging or cut off ones included, during the fault phase"},
		{Key: kCampaign, Default: "false", Doc: "forced campaigns (RawNode.Campaign) of drawn peers during the fault phase"},
		{Key: kUpgrade, Default: "false", Doc: "rolling upgrade: peers start with PreVote and CheckQuorum off and get them, one peer at a time, through restarts"},
		{Key: kFeatures, Default: "false", Doc: "swarm over features: draw reads, async storage, limits, membership, transfers and campaigns per seed (overrides those keys)"},
	}
	for i := range ps {
		if v, ok := over[ps[i].Key]; ok {
			ps[i].Default = v
		}
	}
	return ps
}

// harness is one etcd raft cluster in a world: the peers (the initial
// voters, then the spares), dsim's Raft checker and the etcd checkers fed
// through their observer, the KV clients, and the work-under-faults counts.
type harness struct {
	c   *scenarios.Cluster
	w   *sim.World
	n   int          // initial voters
	ids []sim.NodeID // every peer: the n initial voters, then the spares
	chk *raftcheck.Checker
	f   features
	kvh *kvsrv.Harness
	mem *MemberCheck
	prg *ProgressCheck
	ano *Anomalies
	// conf is the latest configuration any peer applied (by index).
	conf       *pb.ConfState
	confIndex  uint64
	confCommit uint64 // the highest conf change reported committed
	// digests[i] is the state machine digest after index i, as first seen.
	digests   []uint64
	committed uint64
	commitsUF int
	proposals int
	// upgraded[i]: peer i runs with PreVote and CheckQuorum (rolling upgrade).
	upgraded []bool
	upgrade  bool
	matches  map[uint64]uint64
	progress map[uint64]Progress
	// The transfer and campaign drivers' last request (-1: none).
	pendingTransfer, pendingCampaign int
	transferTerm, campaignTerm       uint64
	// m records the metrics dsim's Raft records (metrics.go).
	m *raftshape.Recorder
}

// hooks is the peers' observer: it forwards to the checkers (Observer,
// Auditor and MemberObserver calls alike) and counts work under faults.
type hooks struct {
	*raftcheck.Checker
	h *harness
}

// The node finds these by type assertion: a signature that drifts from
// the interfaces would silently turn the checks off.
var (
	_ Auditor        = hooks{}
	_ MemberObserver = hooks{}
	_ StateObserver  = hooks{}
)

// BecameLeader forwards to the checker and the anomaly bounds.
func (o hooks) BecameLeader(server int, term uint64) {
	o.Checker.BecameLeader(server, term)
	o.h.ano.Elected(server, term, o.h.w.Now())
	o.h.elected(server, term)
	o.h.m.BecameLeader()
}

// Committed forwards to the checker and counts commands first committed
// while a fault is active.
func (o hooks) Committed(server int, index, term uint64, cmd []byte) {
	o.Checker.Committed(server, index, term, cmd)
	h := o.h
	if index <= h.committed {
		return
	}
	h.committed = index
	h.m.Committed(index, term, cmd)
	if len(cmd) == 0 || !h.w.FaultActive() {
		return
	}
	h.commitsUF++
	h.c.Metric("commits_under_faults", float64(h.commitsUF))
	if h.kvh == nil {
		h.c.Metric(scenarios.WorkUnderFaults, float64(h.commitsUF))
	}
}

// NormalApplied tells the membership checker which indices hold normal
// entries.
func (o hooks) NormalApplied(server int, index, term uint64) {
	o.h.mem.NormalApplied(server, index, term)
}

// SnapshotConf feeds the membership checker.
func (o hooks) SnapshotConf(server int, index uint64, cs *pb.ConfState) {
	o.h.mem.SnapshotConf(server, index, cs)
}

// TermSeen feeds the anomaly bounds.
func (o hooks) TermSeen(server int, term uint64) { o.h.ano.Term(server, term, o.h.w.Now()) }

// ConfApplied feeds the membership checker and tracks the latest
// configuration.
func (o hooks) ConfApplied(server int, index, term uint64, cs *pb.ConfState) {
	h := o.h
	h.mem.ConfApplied(server, index, term, cs)
	if index > h.confIndex {
		h.confIndex, h.conf = index, cs
	}
}

// LeaderAppendedConf feeds the membership checker.
func (o hooks) LeaderAppendedConf(server int, term, index, applied uint64) {
	o.h.mem.LeaderAppendedConf(server, term, index, applied)
}

// ConfCommitted feeds the membership checker, once per index.
func (o hooks) ConfCommitted(index, term uint64) {
	h := o.h
	if index <= h.confCommit {
		return
	}
	h.confCommit = index
	h.mem.ConfCommitted(index, term)
}

// LeaderStatus feeds the quorum and progress checks from the leader's
// Status.
func (o hooks) LeaderStatus(server int, term, commit, lastIndex uint64, st *raft.Status, cs *pb.ConfState) {
	h := o.h
	clear(h.matches)
	clear(h.progress)
	for id, pr := range st.Progress {
		h.matches[id] = pr.Match
		h.progress[id] = Progress{Match: pr.Match, Next: pr.Next, State: pr.State.String()}
	}
	h.mem.LeaderCommit(server, term, commit, h.matches, cs)
	h.prg.Observe(server, term, lastIndex, h.progress)
}

// StateDigest is the checker name for state machines that disagree.
const StateDigest = "etcd.state-digest"

// State checks that every peer's state machine has the same digest after
// index (snapshots sent, installed and reloaded included).
func (o hooks) State(server int, index, digest uint64) {
	h := o.h
	for uint64(len(h.digests)) <= index {
		h.digests = append(h.digests, 0)
	}
	switch d := h.digests[index]; {
	case d == 0:
		h.digests[index] = digest | 1
	case d != digest|1:
		h.w.Fail(StateDigest, "server %d's state machine after index %d has digest %x, another peer's has %x", server, index, digest|1, d)
	}
}

// features are the API features a run drives, from the etcd.* keys or,
// with etcd.features, drawn per seed.
type features struct {
	read                                          string
	async                                         bool
	asyncDelay                                    sim.Duration
	maxMsg, maxInBytes, maxCommitted, maxUncommit uint64
	maxInflight                                   int
	noForward                                     bool
	membership                                    string
	spares                                        int
	transfer, campaign                            bool
}

func readFeatures(c *scenarios.Cluster) features {
	f := features{read: c.String(kRead), async: c.Bool(kAsync), asyncDelay: sim.Duration(c.Int(kAsyncDelay)) * sim.Millisecond,
		maxMsg: uint64(c.Int(kMaxMsg)), maxInBytes: uint64(c.Int(kMaxInBytes)), maxCommitted: uint64(c.Int(kMaxCommitted)),
		maxUncommit: uint64(c.Int(kMaxUncommit)), maxInflight: c.Int(kMaxInflight), noForward: c.Bool(kNoForward),
		membership: c.String(kMembership), spares: c.Int(kSpares), transfer: c.Bool(kTransfer), campaign: c.Bool(kCampaign)}
	if !c.Bool(kFeatures) {
		return f
	}
	// Swarm testing over features: each on or off per seed, from a stream
	// of its own so the workload's and the nemesis's draws do not move.
	r := c.W.Rand("etcd-features")
	// Lease reads are not drawn: they are a known finding (FINDINGS.md,
	// etcd/lease-reads), which would turn the default campaign red.
	f.read = ReadSafe
	f.async = r.Intn(2) == 0
	if r.Intn(2) == 0 {
		f.maxMsg = uint64(r.Between(64, 512))
		f.maxInflight = int(r.Between(1, 4))
		f.maxInBytes = uint64(r.Between(256, 2048))
		f.maxCommitted = uint64(r.Between(64, 512))
		f.maxUncommit = uint64(r.Between(512, 4096))
	}
	f.noForward = r.Intn(4) == 0
	switch r.Intn(6) {
	case 0, 1, 2:
		f.membership, f.spares = MembershipSafe, 2
	case 3:
		f.membership, f.spares = MembershipAdversarial, 2
	default:
		f.membership = MembershipOff
	}
	f.transfer = r.Intn(2) == 0
	f.campaign = r.Intn(3) == 0
	return f
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// newHarness builds the etcd raft peers and the KV clients on net, declares
// the peers as the fault targets and registers the checkers.
func newHarness(c *scenarios.Cluster, net sim.NetOptions) (*harness, error) {
	n := c.Int(kServers)
	f := readFeatures(c)
	if f.read == ReadLease && !c.Bool(kCheckQuorum) {
		return nil, fmt.Errorf("etcd: %s=%s needs %s=true (etcd refuses lease reads without CheckQuorum)", kRead, ReadLease, kCheckQuorum)
	}
	if f.membership != MembershipOff && f.spares == 0 && n < 4 {
		return nil, fmt.Errorf("etcd: %s=%s needs spare peers (%s) or at least 4 servers", kMembership, f.membership, kSpares)
	}
	h := &harness{c: c, w: c.W, n: n, f: f, chk: raftcheck.New(c.W.Fail),
		mem: NewMemberCheck(c.W.Fail), prg: NewProgressCheck(c.W.Fail),
		matches: map[uint64]uint64{}, progress: map[uint64]Progress{}, pendingTransfer: -1, pendingCampaign: -1}
	h.ano = NewAnomalies(c.W.Fail, DefaultAnomalyBounds(n))
	c.W.SetNet(net)
	all := n + f.spares
	first := sim.NodeID(c.W.NumNodes())
	for i := 0; i < all; i++ {
		h.ids = append(h.ids, first+sim.NodeID(i))
	}
	h.conf = new(pb.ConfState)
	for i := 0; i < n; i++ {
		h.conf.Voters = append(h.conf.Voters, uint64(i+1))
	}
	h.upgraded = make([]bool, all)
	upgrade := c.Bool(kUpgrade)
	h.upgrade = upgrade
	obs := hooks{Checker: h.chk, h: h}
	unreachable := c.Bool(kUnreachable)
	for i := 0; i < all; i++ {
		cfg := Config{
			Me: i, Peers: h.ids, Voters: n,
			Tick:                      sim.Duration(c.Int(kTick)) * sim.Millisecond,
			ElectionTicks:             c.Int(kElection),
			HeartbeatTicks:            c.Int(kHeartbeat),
			PreVote:                   c.Bool(kPreVote),
			CheckQuorum:               c.Bool(kCheckQuorum),
			SnapEvery:                 uint64(c.Int(kSnapEvery)),
			MaxSizePerMsg:             f.maxMsg,
			MaxInflight:               f.maxInflight,
			MaxInflightBytes:          f.maxInBytes,
			MaxCommittedSizePerReady:  f.maxCommitted,
			MaxUncommittedEntriesSize: f.maxUncommit,
			DisableProposalForwarding: f.noForward,
			StepDownOnRemoval:         c.Bool(kStepDown),
			ReadMode:                  f.read,
			ReadRetryNewID:            c.String(kReadRetry) == RetryNewID,
			Async:                     f.async,
			AsyncDelay:                f.asyncDelay,
			Observer:                  obs,
			Audit:                     c.Bool(kAudit),
			Unsafe:                    c.String(kUnsafe),
		}
		if unreachable {
			me := h.ids[i]
			cfg.Reachable = func(to sim.NodeID) bool { return h.w.Up(to) && h.w.Linked(me, to) }
		}
		id := c.W.AddNode(fmt.Sprintf("e%d", i), func() sim.Node {
			h.chk.Restarted(i)
			cfg := cfg
			if upgrade {
				cfg.PreVote, cfg.CheckQuorum = h.upgraded[i], h.upgraded[i]
				if cfg.ReadMode == ReadLease && !cfg.CheckQuorum {
					cfg.ReadMode = ReadSafe
				}
			}
			return New(cfg)
		})
		if id != h.ids[i] {
			return nil, fmt.Errorf("etcd: node ids not contiguous")
		}
		if i < n {
			// Every initial peer starts from the boot snapshot at index 1.
			h.chk.Snapshotted(i, 1)
		}
	}
	c.Servers(h.ids...)
	c.Metric("commits_under_faults", 0)
	c.Metric(scenarios.WorkUnderFaults, 0)
	h.m = raftshape.Observe(c, h)
	h.m.NoBytes = true // the wire types report no size (metrics.go)
	h.m.Reads = h.readLatencies
	for name, on := range map[string]bool{"async": f.async, "lease_reads": f.read == ReadLease, "limits": f.maxMsg > 0,
		"no_forwarding": f.noForward, "membership": f.membership != MembershipOff, "transfer": f.transfer, "campaign": f.campaign} {
		c.Metric("feature_"+name, b2f(on))
	}
	if k := c.Int(kClients); k > 0 {
		h.kvClients(k, c.Int(kKeys))
	}
	c.OnHeal(func() {
		h.ano.Healed(h.w.Now(), c.Bool(kPreVote) && c.Bool(kCheckQuorum) && !upgrade && f.membership == MembershipOff)
	})
	c.Check("etcd.stable-elections", func() error {
		h.ano.Finish(h.w.Now())
		return nil
	})
	return h, nil
}

// kvClients starts k KV clients: each a node whose kv.Clerk (sessions,
// retries across peers) does a Get of a random shared key then a Put
// versioned on what it read, for ever; the history is checked by porcupine
// (linearizability) and against the final store (durability).
func (h *harness) kvClients(k, keys int) {
	c := h.c
	h.kvh = kvsrv.NewHarness(c)
	h.kvh.PorcupineTimeout = 20 * time.Second
	completed := make([]int, k)
	atHeal := make([]int, k)
	for i := 0; i < k; i++ {
		kvsrv.AddClient(c, "c"+strconv.Itoa(i), func(env *sim.Env) {
			ck := kv.NewClerk(env, h.ids, kv.ClerkConfig{Timeout: 300 * sim.Millisecond, RetryWait: 20 * sim.Millisecond, Spread: true})
			seq := 0
			var loop func()
			loop = func() {
				key := "k" + strconv.Itoa(env.Rand().Intn(keys))
				ck.Get(key, func(_ string, ver uint64, _ kv.Err) {
					h.kvh.Done()
					completed[i]++
					seq++
					ck.Put(key, "c"+strconv.Itoa(i)+"."+strconv.Itoa(seq), ver, func(kv.Err) {
						h.kvh.Done()
						completed[i]++
						env.After(env.Rand().Between(0, 20*sim.Millisecond), loop)
					})
				})
			}
			env.After(sim.Millisecond, loop)
		})
	}
	c.OnHeal(func() { copy(atHeal, completed) })
	if h.f.membership == MembershipAdversarial {
		h.kvh.Check(h.finalState)
		return
	}
	c.Progress("etcd.clients", func() error {
		for i := range completed {
			if completed[i] < atHeal[i]+3 {
				return fmt.Errorf("client c%d completed %d operations since healing", i, completed[i]-atHeal[i])
			}
		}
		return nil
	})
	h.kvh.Check(h.finalState)
}

// appliedToCommit reports an error while a running member has not applied
// up to the commit index it knows.
func (h *harness) appliedToCommit() error {
	nodes := make([]*Node, len(h.ids))
	for i := range h.ids {
		nodes[i] = h.node(i)
	}
	return appliedBehind(nodes)
}

// appliedBehind names the first running member (by index; nil: down or
// paused) that has not applied everything it knows committed.
func appliedBehind(nodes []*Node) error {
	for i, nd := range nodes {
		if nd == nil || nd.rn == nil || nd.removed || nd.removing {
			continue
		}
		if nd.applied < nd.commit {
			return fmt.Errorf("server %d applied up to %d of the %d it knows committed", i, nd.applied, nd.commit)
		}
	}
	return nil
}

// finalState is the KV state of the running member that applied the most.
func (h *harness) finalState() map[string]kvcheck.State {
	var best *Node
	for i := range h.ids {
		if nd, ok := h.w.Node(h.ids[i]).(*Node); ok && h.w.Up(h.ids[i]) && nd.sm != nil && !nd.removed {
			if best == nil || nd.applied > best.applied {
				best = nd
			}
		}
	}
	if best == nil {
		return map[string]kvcheck.State{}
	}
	return kvsrv.StoreState(best.sm.store)
}

// members returns the peers of the latest applied configuration (voters,
// outgoing voters and learners).
func (h *harness) members() []int {
	var out []int
	for i := range h.ids {
		if isMember(h.conf, uint64(i+1)) {
			out = append(out, i)
		}
	}
	return out
}

// node returns peer i if it runs and is not paused.
func (h *harness) node(i int) *Node {
	if !h.w.Up(h.ids[i]) || h.w.Paused(h.ids[i]) {
		return nil
	}
	n, _ := h.w.Node(h.ids[i]).(*Node)
	return n
}

// client proposes a fresh command every ~every of virtual time through the
// peer that claims leadership in the highest term, or (none claiming it) a
// random running peer, which forwards it if it knows a leader.
func (h *harness) client(every sim.Duration) {
	seq := 0
	var tick func()
	tick = func() {
		if h.w.Failure() != nil {
			return
		}
		seq++
		cmd := []byte("c" + strconv.Itoa(seq))
		r := h.c.Workload
		best, bestTerm := -1, uint64(0)
		for i := 0; i < h.n; i++ {
			if nd := h.node(i); nd != nil {
				if t, lead := nd.Role(); lead && (best < 0 || t > bestTerm) {
					best, bestTerm = i, t
				}
			}
		}
		if best < 0 {
			best = r.Intn(h.n)
		}
		if nd := h.node(best); nd != nil && nd.Propose(cmd) {
			h.proposals++
		}
		h.w.After(every/2+sim.Duration(r.Intn(int(every))), tick)
	}
	h.w.After(every, tick)
}

// liveness registers the shared liveness phase (raftshape.Liveness): after
// healing, one leader, a new commit, and every member caught up with what
// was committed when it began.
func (h *harness) liveness() {
	// Adversarial membership may remove voters until no quorum can ever
	// form again (a leader removed from a two-voter configuration before
	// the other learned the change committed: etcd-io/etcd#10563, the
	// raft README's warning): it checks safety only.
	if h.f.membership != MembershipAdversarial {
		raftshape.Liveness(h.c, h, "etcd")
	} else {
		// Even a wedged cluster applies what its members know committed:
		// wait for that, so that the durability check judges caught-up
		// stores, not a member restarted at the heal that has not yet
		// replayed its log (etcd/features seed 5478: a lone voter back at
		// applied 208 of commit 222 when the run ended at the heal).
		h.c.Progress("etcd.applied-to-commit", h.appliedToCommit)
	}
	h.c.Check("etcd.metrics", func() error {
		s := h.chk.Stats()
		h.c.Metric("max_term", float64(s.MaxTerm))
		h.c.Metric("max_committed", float64(s.MaxCommitted))
		h.c.Metric("proposals", float64(h.proposals))
		return nil
	})
}
