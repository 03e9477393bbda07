package sim

import "fmt"

// NetOptions is the network's behaviour: every knob of message-level faults
// in one struct, probabilities as integer ratios. The zero value is a
// reliable, FIFO, zero-delay network.
type NetOptions struct {
	// DelayMin and DelayMax bound the uniform base delay of every message.
	DelayMin Duration `json:"delay_min_ns,omitempty"`
	DelayMax Duration `json:"delay_max_ns,omitempty"`
	// Tail is the chance that a message also gets an extra delay drawn
	// uniformly from [0, TailMax]: a long tail.
	Tail    Ratio    `json:"tail,omitempty"`
	TailMax Duration `json:"tail_max_ns,omitempty"`
	// Loss is the chance a message is dropped.
	Loss Ratio `json:"loss,omitempty"`
	// Dup is the chance a message is delivered twice (independent delays).
	Dup Ratio `json:"dup,omitempty"`
	// Reorder is the chance a message may overtake earlier messages on its
	// link. With zero, each link is FIFO, like TCP.
	Reorder Ratio `json:"reorder,omitempty"`
}

// NetStats counts network traffic over a run.
type NetStats struct {
	Sent       uint64 `json:"sent"`
	Delivered  uint64 `json:"delivered"`
	Dropped    uint64 `json:"dropped"`
	Duplicated uint64 `json:"duplicated"`
	Bytes      uint64 `json:"bytes"`
}

type link struct {
	cut  bool  // one-way: messages from -> to are dropped
	loss Ratio // flaky link: extra loss
	last Time  // latest delivery time scheduled (FIFO)
}

type network struct {
	opts  NetOptions
	n     int
	links []link // n*n, index from*n+to
	// gen counts changes of any link's cut or loss (and growth), so that
	// World.AppendFaultKey rescans the n*n links only after one.
	gen uint64
	// faultLinks is AppendFaultKey's encoding of the faulty links at
	// generation faultGen (valid once faultOK).
	faultLinks []int64
	faultGen   uint64
	faultOK    bool
}

func (n *network) grow(size int) {
	links := make([]link, size*size)
	for a := 0; a < n.n; a++ {
		for b := 0; b < n.n; b++ {
			links[a*size+b] = n.links[a*n.n+b]
		}
	}
	n.links = links
	n.n = size
	n.gen++
}

func (n *network) link(from, to NodeID) *link { return &n.links[int(from)*n.n+int(to)] }

// SetNet replaces the network's behaviour from now on.
func (w *World) SetNet(o NetOptions) {
	w.net.opts = o
	w.mix(evNet, NoNode, NoNode, int64(o.Loss.Num)<<32|int64(o.Dup.Num))
	w.record(trNet, NoNode, NoNode, 0, fmt.Sprintf("%+v", o))
}

// Net returns the network's current behaviour.
func (w *World) Net() NetOptions { return w.net.opts }

// Stats returns the network counters so far.
func (w *World) Stats() NetStats { return w.stats }

// NodeStats returns how many messages node id received (delivered to it),
// sent, and the bytes it sent.
func (w *World) NodeStats(id NodeID) (received, sent, sentBytes uint64) {
	p := w.procs[id]
	return p.recv, p.sent, p.sentBytes
}

// Cut cuts the one-way link from -> to: messages sent (or in flight) along it
// are dropped. The reverse direction is unaffected.
func (w *World) Cut(from, to NodeID) {
	w.net.link(from, to).cut = true
	w.net.gen++
	w.mix(evPartition, from, to, 1)
	w.record(trPartition, from, to, 0, "cut")
}

// Connect restores the one-way link from -> to.
func (w *World) Connect(from, to NodeID) {
	w.net.link(from, to).cut = false
	w.net.gen++
	w.mix(evPartition, from, to, 0)
	w.record(trPartition, from, to, 0, "connect")
}

// Partition splits the listed nodes into groups: links between nodes of
// different groups are cut both ways, links inside a group are restored.
// Nodes not listed (clients, say) keep their links.
func (w *World) Partition(groups [][]NodeID) {
	side := map[NodeID]int{}
	var all []NodeID
	for g, ids := range groups {
		for _, id := range ids {
			side[id] = g
			all = append(all, id)
		}
	}
	for _, a := range all {
		for _, b := range all {
			if a != b {
				w.net.link(a, b).cut = side[a] != side[b]
			}
		}
	}
	w.net.gen++
	w.mix(evPartition, NoNode, NoNode, int64(len(groups)))
	w.record(trPartition, NoNode, NoNode, 0, fmt.Sprint(groups))
}

// Isolate cuts node id off from every peer in peers, both ways.
func (w *World) Isolate(id NodeID, peers []NodeID) {
	for _, p := range peers {
		if p != id {
			w.net.link(id, p).cut = true
			w.net.link(p, id).cut = true
		}
	}
	w.net.gen++
	w.mix(evPartition, id, NoNode, 2)
	w.record(trPartition, id, NoNode, 0, "isolate")
}

// Flaky gives the link a -> b an extra loss probability (zero restores it).
func (w *World) Flaky(a, b NodeID, loss Ratio) {
	w.net.link(a, b).loss = loss
	w.net.gen++
	w.mix(evPartition, a, b, int64(loss.Num)<<32|int64(loss.Den))
	w.record(trPartition, a, b, 0, "flaky "+loss.String())
}

// Clog slows every message to or from node id by delay until d from now.
func (w *World) Clog(id NodeID, delay, d Duration) {
	p := w.procs[id]
	p.clogDelay = delay
	p.clogUntil = w.now.Add(d)
	w.mix(evPartition, id, NoNode, int64(delay))
	w.record(trPartition, id, NoNode, 0, fmt.Sprintf("clog +%v for %v", delay, d))
}

// Heal restores every link: no cuts, no flaky links, no clogs.
func (w *World) Heal() {
	for i := range w.net.links {
		l := &w.net.links[i]
		l.cut = false
		l.loss = Ratio{}
	}
	w.net.gen++
	for _, p := range w.procs {
		p.clogUntil = 0
	}
	w.mix(evPartition, NoNode, NoNode, -1)
	w.record(trPartition, NoNode, NoNode, 0, "heal")
}

// Linked reports whether the one-way link from -> to is not cut.
func (w *World) Linked(from, to NodeID) bool { return !w.net.link(from, to).cut }

func (w *World) send(from, to NodeID, msg Message) {
	w.transmit(from, to, msg, 0)
	if p := w.procs[from]; p.point != nil {
		w.hit(p, OnSend, false, msg)
	}
}

// sendReply sends the answer body to call rid: the body travels with the
// call id in its event, sized as body plus 8 bytes of id.
func (w *World) sendReply(from, to NodeID, rid uint64, body Message) {
	w.transmit(from, to, body, rid)
	if p := w.procs[from]; p.point != nil {
		w.hit(p, OnSend, false, body) // MessageType names the body, as for a *reply
	}
}

// traced is what a trace line shows for msg: the answer to call rid when
// rid is set (built only when a trace is recorded).
func traced(msg Message, rid uint64) any {
	if rid != 0 {
		return &reply{id: rid, body: msg}
	}
	return msg
}

func (w *World) transmit(from, to NodeID, msg Message, rid uint64) {
	if to < 0 || int(to) >= len(w.procs) {
		panic(fmt.Sprintf("sim: %s sends to unknown node %d (nodes boot as they are added; send from a timer at start-up)", w.Name(from), to))
	}
	o := &w.net.opts
	size := sizeOf(msg)
	if rid != 0 {
		size += 8 // the call id
	}
	w.stats.Sent++
	w.stats.Bytes += uint64(size)
	ps := w.procs[from]
	ps.sent++
	ps.sentBytes += uint64(size)
	l := w.net.link(from, to)
	if from != to && (l.cut || w.netRand.Chance(o.Loss) || w.netRand.Chance(l.loss)) {
		w.stats.Dropped++
		w.mix(evDrop, from, to, int64(size))
		if w.tr != nil {
			w.record(trDrop, from, to, size, traced(msg, rid))
		}
		return
	}
	copies := 1
	if from != to && w.netRand.Chance(o.Dup) {
		copies = 2
		w.stats.Duplicated++
	}
	for c := 0; c < copies; c++ {
		d := Duration(0)
		if from != to {
			d = w.netRand.Between(o.DelayMin, o.DelayMax)
			if w.netRand.Chance(o.Tail) {
				d = d.Plus(w.netRand.Between(0, o.TailMax))
			}
			if ps.clogUntil > w.now {
				d = d.Plus(ps.clogDelay)
			}
			if pt := w.procs[to]; pt.clogUntil > w.now {
				d = d.Plus(pt.clogDelay)
			}
		}
		at := w.now.Add(d)
		if w.netRand.Chance(o.Reorder) {
			// may overtake: no FIFO constraint
		} else if at < l.last {
			at = l.last
		} else {
			l.last = at
		}
		e := w.alloc()
		e.at = at
		e.kind = evDeliver
		e.node = to
		e.from = from
		e.size = int32(size)
		e.msg = msg
		e.rid = rid
		e.dup = copies > 1
		w.q.push(e)
		w.mix(evSend, from, to, int64(at))
		if w.tr != nil {
			w.record(trSend, from, to, size, traced(msg, rid))
		}
	}
}

func (w *World) deliver(e *event) {
	p := w.procs[e.node]
	if !p.up || (e.from != e.node && w.net.link(e.from, e.node).cut) {
		w.stats.Dropped++
		w.mix(evDrop, e.from, e.node, int64(e.size))
		if w.tr != nil {
			w.record(trDrop, e.from, e.node, int(e.size), traced(e.msg, e.rid))
		}
		w.release(e)
		return
	}
	if p.paused {
		p.held = append(p.held, e)
		return
	}
	w.stats.Delivered++
	p.recv++
	w.mix(evDeliver, e.from, e.node, int64(e.size))
	if w.tr != nil {
		w.record(trDeliver, e.from, e.node, int(e.size), traced(e.msg, e.rid))
	}
	msg, from, rid := e.msg, e.from, e.rid
	w.curDup = e.dup
	w.release(e)
	w.cur = p.id
	if rid != 0 {
		p.env.complete(rid, msg)
	} else {
		w.curMsg = msg
		p.node.Receive(from, msg)
		w.curMsg = nil
	}
	w.cur = NoNode
}
