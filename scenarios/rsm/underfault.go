package rsm

import "strconv"

// incUnderFault is an epilogue for the lab scripts whose own fault (every
// server shut down at once) leaves no work possible while it lasts: the
// last known leader is shut down, an Inc that must return want is
// acknowledged by the other two, the server is restarted, and every counter
// reaches want. With it, client work overlaps a fault in every rsm scenario
// (scenarios.WorkUnderFaults), the lab's own checks unchanged before it.
func (d *drv) incUnderFault(want int) {
	d.label("inc with a server down")
	l := d.leader
	d.shutdown(l)
	d.submit("inc", d.others(l), strconv.Itoa(want))
	d.start(l)
	d.label("counters after the restart")
	d.waitCounter(int64(want), nil)
}
