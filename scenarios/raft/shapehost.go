package raft

import (
	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/scenarios/raftshape"
	"github.com/smilingraft/dsim/sim"
)

// The harness is a raftshape.Host: the shapes, client, liveness phase and
// metrics every hosted Raft shares drive and observe dsim's Raft through
// it (examples/etcdraft runs the same ones over etcd raft).
var _ raftshape.Host = (*harness)(nil)

// promises are dsim's Raft's promise messages by role, for crash points.
var promises = raftshape.Promises{Vote: "raft.RequestVoteReply", Append: "raft.AppendEntriesReply",
	Snapshot: "raft.InstallSnapshotReply"}

// Promises returns dsim's Raft's promise messages by role (the shapes'
// crash points), in the order of raft.PromiseMessages.
func Promises() raftshape.Promises { return promises }

// Peers returns the servers' node ids (raftshape.Host).
func (h *harness) Peers() []sim.NodeID { return h.ids }

// Leader returns the index of the server claiming leadership in the highest
// term (raftshape.Host).
func (h *harness) Leader() (int, error) {
	l, _, err := raftcheck.Leader(h.w, h.ids)
	if err != nil {
		return -1, err
	}
	return int(l - h.ids[0]), nil
}

// Role returns server i's term and leadership (raftshape.Host).
func (h *harness) Role(i int) (uint64, bool) { return h.state(i) }

// HealLinks restores every link among the servers (raftshape.Host).
func (h *harness) HealLinks() { h.healLinks() }

// MaxCommitted returns the highest index reported committed
// (raftshape.Host).
func (h *harness) MaxCommitted() uint64 { return h.chk.Stats().MaxCommitted }

// Applied returns what server i's current incarnation applied last
// (raftshape.Host).
func (h *harness) Applied(i int) uint64 { return h.chk.LastApplied(i) }

// observe makes the harness record the shared metrics (raftshape.Recorder).
func (h *harness) observe() { h.m = raftshape.Observe(h.c, h) }

// The promise roles are raft.PromiseMessages in order: swarm plans drawn
// before the shapes were shared stay the same.
var _ = func() bool {
	if promises.String() != raft.PromiseMessages {
		panic("raft: promises out of step with raft.PromiseMessages")
	}
	return true
}()
