package raftshape

import (
	"fmt"

	"github.com/smilingraft/dsim/scenarios"
)

// Liveness registers the heal-then-progress phase on c: once everything is
// healed, one leader, a commit above the highest index committed at the
// heal, and every peer's current incarnation applied up to that index.
// The conditions are named prefix+".leader", ".new-commit" and ".catch-up"
// (prefix is the host's system, "raft" or "etcd"). A host whose membership
// changes implements Members: only members must catch up.
func Liveness(c *scenarios.Cluster, h Host, prefix string) {
	var mark uint64
	c.OnHeal(func() { mark = h.MaxCommitted() })
	c.Progress(prefix+".leader", func() error {
		_, err := h.Leader()
		return err
	})
	c.Progress(prefix+".new-commit", func() error {
		if h.MaxCommitted() > mark {
			return nil
		}
		return fmt.Errorf("nothing committed after index %d", mark)
	})
	c.Progress(prefix+".catch-up", func() error {
		for _, i := range members(h) {
			if got := h.Applied(i); got < mark {
				return fmt.Errorf("server %d applied up to %d, behind index %d committed before healing", i, got, mark)
			}
		}
		return nil
	})
}

// Members is an optional Host extension for hosts whose membership
// changes: the peers (indices into Peers) of the latest configuration.
type Members interface {
	Members() []int
}

// members returns h's current members: Members if h implements it, else
// every peer.
func members(h Host) []int {
	if m, ok := h.(Members); ok {
		return m.Members()
	}
	out := make([]int, len(h.Peers()))
	for i := range out {
		out[i] = i
	}
	return out
}
