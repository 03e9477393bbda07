package sim

import "fmt"

// CalmDelayMax is the longest base message delay FaultActive still counts as
// calm: the liveness phase's default network delays messages 1-5ms, so a
// network whose base delay may exceed this is a delay fault.
const CalmDelayMax = 10 * Millisecond

// FaultActive reports whether any fault is in effect right now, so that a
// scenario can count the operations that completed under faults (a scenario
// where none did tests nothing). A fault is active when:
//   - process: some node is crashed or paused;
//   - links: some one-way link is cut (partitions, isolations, one-way cuts)
//     or flaky (extra loss);
//   - clog: some node's links are clogged (until the clog's end);
//   - network: the message-level behaviour is beyond calm, i.e. any loss,
//     duplication, reordering or long tail, or a base delay that may exceed
//     CalmDelayMax;
//   - clock: some node's clock runs at a rate other than true time (drift).
//
// A clock jump is instantaneous: it moves the clock once, making pending
// timers fire early or late at that moment, and the clock then runs true, so
// a jump leaves nothing active afterwards (the offset it leaves is harmless:
// nodes measure durations only). FaultActive costs one pass over the nodes
// and the n*n links; it allocates nothing.
func (w *World) FaultActive() bool {
	if !netCalm(w.net.opts) {
		return true
	}
	for _, p := range w.procs {
		if !p.up || p.paused || p.clogUntil > w.now || p.driftPPM != 0 {
			return true
		}
	}
	for i := range w.net.links {
		l := &w.net.links[i]
		if l.cut || !l.loss.Zero() {
			return true
		}
	}
	return false
}

// ActiveFaults lists the faults FaultActive counts, one short phrase each
// ("net loss=1/10", "s0 paused", "cut c1->s0", ...), in a stable order: the
// network first, then nodes by id, then links by (from, to). Empty when
// FaultActive is false. Scenarios use it to annotate timelines.
func (w *World) ActiveFaults() []string {
	var out []string
	if o := w.net.opts; !netCalm(o) {
		s := "net"
		if !o.Loss.Zero() {
			s += " loss=" + o.Loss.String()
		}
		if !o.Dup.Zero() {
			s += " dup=" + o.Dup.String()
		}
		if !o.Reorder.Zero() {
			s += " reorder=" + o.Reorder.String()
		}
		if !o.Tail.Zero() && o.TailMax > 0 {
			s += fmt.Sprintf(" tail=%v<=%v", o.Tail, o.TailMax)
		}
		if o.DelayMax > CalmDelayMax {
			s += fmt.Sprintf(" delay<=%v", o.DelayMax)
		}
		out = append(out, s)
	}
	for _, p := range w.procs {
		switch {
		case !p.up:
			out = append(out, p.name+" crashed")
		case p.paused:
			out = append(out, p.name+" paused")
		}
		if p.clogUntil > w.now {
			out = append(out, fmt.Sprintf("%s clogged +%v", p.name, p.clogDelay))
		}
		if p.driftPPM != 0 {
			out = append(out, fmt.Sprintf("%s drift %dppm", p.name, p.driftPPM))
		}
	}
	for a := 0; a < w.net.n; a++ {
		for b := 0; b < w.net.n; b++ {
			l := &w.net.links[a*w.net.n+b]
			if l.cut {
				out = append(out, "cut "+w.procs[a].name+"->"+w.procs[b].name)
			} else if !l.loss.Zero() {
				out = append(out, "flaky "+w.procs[a].name+"->"+w.procs[b].name+" "+l.loss.String())
			}
		}
	}
	return out
}

// AppendFaultKey appends to key a compact encoding of everything
// ActiveFaults describes (and FaultActive tests), without allocating
// beyond key's growth: two keys taken from one world that are equal mean
// equal ActiveFaults, so a caller sampling the faults at every operation
// builds the phrases only when the key changed. The n*n links are scanned
// again only after a change to one of them.
func (w *World) AppendFaultKey(key []int64) []int64 {
	if o := w.net.opts; !netCalm(o) {
		key = append(key, 1, int64(o.Loss.Num), int64(o.Loss.Den), int64(o.Dup.Num), int64(o.Dup.Den),
			int64(o.Reorder.Num), int64(o.Reorder.Den), int64(o.Tail.Num), int64(o.Tail.Den),
			int64(o.TailMax), int64(o.DelayMax))
	} else {
		key = append(key, 0)
	}
	for _, p := range w.procs {
		var flags, clog int64
		switch {
		case !p.up:
			flags = 1
		case p.paused:
			flags = 2
		}
		if p.clogUntil > w.now {
			flags |= 4
			clog = int64(p.clogDelay)
		}
		key = append(key, flags, clog, int64(p.driftPPM))
	}
	if n := &w.net; !n.faultOK || n.faultGen != n.gen {
		n.faultLinks = n.faultLinks[:0]
		for i := range n.links {
			if l := &n.links[i]; l.cut || !l.loss.Zero() {
				cut := int64(0)
				if l.cut {
					cut = 1
				}
				n.faultLinks = append(n.faultLinks, int64(i), cut, int64(l.loss.Num), int64(l.loss.Den))
			}
		}
		n.faultGen, n.faultOK = n.gen, true
	}
	return append(key, w.net.faultLinks...)
}

// netCalm reports whether message-level behaviour is within the calm
// baseline: no loss, duplication, reordering or long tail, and base delays
// of at most CalmDelayMax.
func netCalm(o NetOptions) bool {
	return o.Loss.Zero() && o.Dup.Zero() && o.Reorder.Zero() &&
		(o.Tail.Zero() || o.TailMax <= 0) && o.DelayMax <= CalmDelayMax
}
