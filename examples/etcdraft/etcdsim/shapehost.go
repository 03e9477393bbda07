package etcdsim

import (
	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/scenarios/raftshape"
	"github.com/smilingraft/dsim/sim"
)

// The harness is a raftshape.Host: the shapes, client, liveness phase and
// metrics shared with dsim's own Raft drive and observe etcd raft through
// it.
var _ raftshape.Host = (*harness)(nil)

// Peers returns every peer's node id, spares included (raftshape.Host).
func (h *harness) Peers() []sim.NodeID { return h.ids }

// Leader returns the index of the peer claiming leadership in the highest
// term (raftshape.Host).
func (h *harness) Leader() (int, error) {
	l, _, err := raftcheck.Leader(h.w, h.ids)
	if err != nil {
		return -1, err
	}
	return int(l - h.ids[0]), nil
}

// Role returns peer i's term and leadership, (0, false) while it is down
// (raftshape.Host).
func (h *harness) Role(i int) (uint64, bool) {
	if !h.w.Up(h.ids[i]) {
		return 0, false
	}
	nd, ok := h.w.Node(h.ids[i]).(*Node)
	if !ok || nd == nil {
		return 0, false
	}
	return nd.Role()
}

// HealLinks restores every link among the peers (raftshape.Host).
func (h *harness) HealLinks() {
	for _, a := range h.ids {
		for _, b := range h.ids {
			if a != b {
				h.w.Connect(a, b)
			}
		}
	}
}

// MaxCommitted returns the highest index reported committed
// (raftshape.Host).
func (h *harness) MaxCommitted() uint64 { return h.chk.Stats().MaxCommitted }

// Applied returns what peer i's current incarnation applied last
// (raftshape.Host).
func (h *harness) Applied(i int) uint64 { return h.chk.LastApplied(i) }

// Members returns the peers of the latest applied configuration: the ones
// the liveness phase waits for (raftshape.Members).
func (h *harness) Members() []int { return h.members() }
