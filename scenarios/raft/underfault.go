package raft

// agreeWithCut is an epilogue for a lab script whose own fault allows no
// agreement (FailNoAgree3B): with cut followers of the leader disconnected
// (a minority), command n must still commit on the other servers; then they
// are reconnected. With it, work overlaps a fault in the scenario
// (scenarios.WorkUnderFaults), the lab's own checks unchanged before it.
func (d *drv) agreeWithCut(n, cut int) {
	l := d.checkOneLeader()
	for j := 1; j <= cut; j++ {
		d.disconnect((l + j) % d.n)
	}
	d.label("agreement with %d followers gone", cut)
	d.oneN(n, d.n-cut, true)
	for j := 1; j <= cut; j++ {
		d.connect((l + j) % d.n)
	}
}
