package rsm

import "strconv"

// incUnderFault is an epilogue for the lab scripts whose own fault (every
// server shut down at once) leaves no work possible while it lasts: the
// last known leader is shut down, an Inc that must return want is
// acknowledged by the other two, the server is restarted, and every counter
// reaches want. With it, client work overlaps a fault in every rsm scenario
// (scenarios.WorkUnderFaults), the lab's own checks unchanged before it.
func (h *harness) incUnderFault(want int) step {
	var l int
	return seq(h.label("inc with a server down"),
		do(func() { l = h.leader; h.shutdown(l) }),
		dyn(func() step { return h.submit("inc", h.others(l), strconv.Itoa(want), nil) }),
		do(func() { h.start(l) }),
		h.label("counters after the restart"), h.waitCounter(int64(want), nil))
}
