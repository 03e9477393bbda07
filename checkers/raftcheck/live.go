package raftcheck

import (
	"fmt"

	"github.com/smilingraft/dsim/sim"
)

// Leader returns the server claiming leadership in the highest term among
// the running servers (via sim.Roler), with its term. It fails when none
// claims it, or when two claim the highest term.
func Leader(w *sim.World, servers []sim.NodeID) (sim.NodeID, uint64, error) {
	best, bestTerm, twice := sim.NoNode, uint64(0), false
	for _, id := range servers {
		if !w.Up(id) || w.Paused(id) {
			continue
		}
		r, ok := w.Node(id).(sim.Roler)
		if !ok {
			continue
		}
		term, lead := r.Role()
		switch {
		case !lead:
		case best == sim.NoNode || term > bestTerm:
			best, bestTerm, twice = id, term, false
		case term == bestTerm:
			twice = true
		}
	}
	if best == sim.NoNode {
		return sim.NoNode, 0, fmt.Errorf("no leader")
	}
	if twice {
		return sim.NoNode, 0, fmt.Errorf("two leaders claim term %d", bestTerm)
	}
	return best, bestTerm, nil
}

// Within checks a liveness bound online: cond is polled every poll from now
// on, and if it has not returned nil within bound the run fails as checker
// with cond's last error. done, if not nil, runs once cond holds.
func Within(w *sim.World, checker string, bound, poll sim.Duration, cond func() error, done func()) {
	if poll <= 0 {
		poll = 10 * sim.Millisecond
	}
	deadline := w.Now().Add(bound)
	var tick func()
	tick = func() {
		if w.Failure() != nil {
			return
		}
		err := cond()
		if err == nil {
			if done != nil {
				done()
			}
			return
		}
		if w.Now() >= deadline {
			w.Fail(checker, "not within %v: %v", bound, err)
			return
		}
		w.After(poll, tick)
	}
	tick()
}

// NewCommit returns a liveness condition that holds once some index above
// the highest one committed at the time of the call is reported committed.
func (c *Checker) NewCommit() func() error {
	mark := c.maxCommt
	return func() error {
		if c.maxCommt > mark {
			return nil
		}
		return fmt.Errorf("nothing committed after index %d", mark)
	}
}
