package etcdsim

import (
	"fmt"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/scenarios/raftshape"
	"github.com/smilingraft/dsim/sim"
)

// Duration is every etcd scenario's fault phase; Liveness bounds the phase
// after healing.
const (
	Duration = 10 * sim.Second
	Liveness = 10 * sim.Second
)

// promises are etcd raft's promise messages by role, for the shapes' crash
// points: etcd acknowledges an installed snapshot with a MsgAppResp, so
// the append and snapshot roles share the type.
var promises = raftshape.Promises{Vote: "etcdsim.MsgVoteResp", Append: "etcdsim.MsgAppResp", Snapshot: "etcdsim.MsgAppResp"}

// Promises returns etcd raft's promise messages by role (the shapes' crash
// points).
func Promises() raftshape.Promises { return promises }

// Networks of the etcd scenarios: the shared shapes' (raftshape).
var (
	calm       = raftshape.Calm
	lossy      = raftshape.Lossy
	unreliable = raftshape.Unreliable
)

// shape is an etcd scenario: a network, faults (generated from kinds or
// faults, or a shared shape's script), the shapes' client, and the
// liveness phase.
type shape struct {
	name, desc string
	servers    int
	minServers int
	kinds      *sim.Kinds
	faults     func(scenarios.Variant) sim.Faults
	net        sim.NetOptions
	unsafe     bool
	over       map[string]string
	expect     []string
	// shared, if set, is the raftshape shape the scenario runs.
	shared *raftshape.Shape
}

func registerShape(s shape) {
	ps := Params(s.servers, s.over)
	if s.minServers > 1 {
		ps[0].Range = scenarios.Span(int64(s.minServers), ps[0].Range.Max)
	}
	scenarios.Register(&scenarios.Scenario{
		Name: "etcd/" + s.name, Description: s.desc, Params: ps,
		Duration: Duration, Liveness: Liveness, Kinds: s.kinds, Faults: s.faults, Unsafe: s.unsafe,
		Expect: s.expect,
		Setup: func(c *scenarios.Cluster) error {
			if n := c.Int(kServers); n < s.minServers {
				return fmt.Errorf("etcd/%s needs at least %d servers, got %d", s.name, s.minServers, n)
			}
			h, err := newHarness(c, s.net)
			if err != nil {
				return err
			}
			h.shapeClient()
			h.liveness()
			if s.shared != nil {
				s.shared.Start(c, h)
			}
			return nil
		},
	})
}

// registerShared registers a shared shape (raftshape) as etcd/name: the
// same faults, client draws and liveness phase as dsim's own Raft runs
// under raft/... from the same seed.
func registerShared(sh raftshape.Shape, name string, expect ...string) {
	registerShape(shape{name: name, desc: "etcd raft, " + sh.Desc, servers: 5, minServers: sh.MinServers,
		kinds: sh.Kinds(promises), faults: sh.Faults(promises), net: sh.Net, expect: expect, shared: &sh})
}

// shapeClient starts the shapes' client (raftshape.Client): a command
// every ~30 ms to the first running peer, from a drawn offset, that claims
// leadership. Its draws are dsim's Raft's client's, so a scripted shape
// reshuffles the same way for both. Reads are drawn but not issued (the
// KV clients read).
func (h *harness) shapeClient() {
	cl := &raftshape.Client{Every: 30 * sim.Millisecond, Reads: true,
		Propose: func(i int, cmd []byte) bool {
			nd := h.node(i)
			if nd == nil {
				return false
			}
			if _, lead := nd.Role(); !lead || !nd.Propose(cmd) {
				return false
			}
			h.proposals++
			return true
		}}
	cl.Start(h.c, h)
}

// voteFaults aim at votes: the leader crashes often (elections), and crash
// points fire right after granted votes, with quick restarts.
func voteFaults(scenarios.Variant) sim.Faults {
	return sim.Faults{Step: 50 * sim.Millisecond, Network: sim.NetworkFaults{Base: lossy},
		Process: sim.ProcessFaults{Crash: sim.R(1, 10), CrashLeader: sim.R(1, 1), CrashStability: 200 * sim.Millisecond,
			CrashPoint: sim.R(1, 2), PointMsgs: promises.Vote, ShortDown: sim.R(1, 1)}}
}

func init() {
	registerShared(raftshape.Swarm, "swarm", "etcd: a leader was elected", "etcd: a peer snapshotted and compacted its log")
	registerShared(raftshape.Halves, "halves")
	registerShared(raftshape.Bridge, "bridge")
	registerShared(raftshape.Ring, "ring")
	registerShared(raftshape.OneWay, "one-way")
	registerShared(raftshape.IsolateLeader, "isolate-leader")
	registerShared(raftshape.CrashRestart, "crash-restart")
	registerShared(raftshape.Churn, "churn")

	registerShape(shape{name: "unsafe-send-before-persist", servers: 5, net: lossy, faults: raftshape.CrashRestart.Faults(promises), unsafe: true,
		over: map[string]string{kUnsafe: UnsafeSendBeforePersist},
		desc: "UNSAFE host: a Ready's messages leave before its entries and HardState are durable; crash points after votes and acknowledgements expose it (raft.sync-before-promise at once; with etcd.whitebox=false etcd's own commit-index assertion)"})

	registerShape(shape{name: "unsafe-vote-before-persist", servers: 5, net: lossy, faults: voteFaults, unsafe: true,
		over: map[string]string{kUnsafe: UnsafeVoteBeforePersist, kPreVote: "false", kCheckQuorum: "false"},
		desc: "UNSAFE host: entries are durable before sends, but the HardState (term, vote) is synced only after the messages left; raft.sync-before-promise must catch the undurable vote (a crash right after it and a quick restart can vote twice in a term)"})
}
