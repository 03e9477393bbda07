package raft

import "fmt"

// agreeWithCut is an epilogue for a lab script whose own fault allows no
// agreement (FailNoAgree3B): with cut followers of the leader disconnected
// (a minority), command n must still commit on the other servers; then they
// are reconnected. With it, work overlaps a fault in the scenario
// (scenarios.WorkUnderFaults), the lab's own checks unchanged before it.
func (h *harness) agreeWithCut(n, cut int) step {
	var l int
	return seq(h.checkOneLeader(&l),
		do(func() {
			for j := 1; j <= cut; j++ {
				h.disconnect((l + j) % h.n)
			}
		}),
		h.label(fmt.Sprintf("agreement with %d followers gone", cut)), h.oneN(n, h.n-cut, true),
		do(func() {
			for j := 1; j <= cut; j++ {
				h.connect((l + j) % h.n)
			}
		}))
}
