package raftshape

import "github.com/smilingraft/dsim/sim"

// Host is a hosted Raft cluster as the shapes drive and observe it: the
// few questions any Raft implementation on dsim can answer.
type Host interface {
	// Peers returns the Raft peers' node ids, in fault-target order.
	Peers() []sim.NodeID
	// Leader returns the index of the running peer claiming leadership in
	// the highest term, or an error saying why there is none (no claim,
	// or two peers claiming the same term).
	Leader() (int, error)
	// Role returns peer i's current term and whether it believes it
	// leads; a crashed peer is neither.
	Role(i int) (term uint64, leader bool)
	// HealLinks restores every link among the peers.
	HealLinks()
	// MaxCommitted returns the highest index any peer reported committed.
	MaxCommitted() uint64
	// Applied returns the last index peer i's current incarnation applied.
	Applied(i int) uint64
}

// Promises names an implementation's promise messages by role, for crash
// points that fire right after a promise leaves: a granted vote, an
// acknowledgement of appended entries, and an acknowledgement of an
// installed snapshot (the same type as Append where the implementation
// acknowledges snapshots that way, as etcd raft does with MsgAppResp). The
// order is fixed so that every implementation's plan draws the same role.
type Promises struct {
	Vote, Append, Snapshot string
}

// String returns the message types in role order, comma-separated, as
// sim.ProcessFaults.PointMsgs takes them.
func (p Promises) String() string { return p.Vote + "," + p.Append + "," + p.Snapshot }

// Role returns the role of message type msg ("vote" or "ack": appended
// entries and snapshots alike), or msg itself when it is none of p's. Two
// implementations' plans are the same plan when they agree after Role.
func (p Promises) Role(msg string) string {
	switch msg {
	case "":
		return ""
	case p.Vote:
		return "vote"
	case p.Append, p.Snapshot:
		return "ack"
	}
	return msg
}

// Neutral returns plan with every crash point's message type replaced by
// its role (see Role): the implementation-neutral form of a plan.
func (p Promises) Neutral(plan sim.Plan) sim.Plan {
	out := make(sim.Plan, len(plan))
	for i, a := range plan {
		if a.Msg != "" {
			a.Msg = p.Role(a.Msg)
		}
		out[i] = a
	}
	return out
}
