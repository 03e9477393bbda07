package sim

import "fmt"

// Env is a node incarnation's only handle on the world. Every method is a
// no-op (or returns zero values) once the incarnation has crashed, so stale
// callbacks held by a dead node can do no harm.
type Env struct {
	w     *World
	p     *proc
	inc   uint32
	calls map[uint64]pendingCall
	next  uint64
}

type pendingCall struct {
	cb    func(reply Message, ok bool)
	timer Timer
}

// Timer is a handle to a pending timer, used to cancel it. The zero Timer
// cancels nothing.
type Timer struct {
	ev  *event
	seq uint64
}

// Alive reports whether this incarnation is still the running one.
func (e *Env) Alive() bool { return e.p.up && e.p.inc == e.inc }

// ID returns the node's id.
func (e *Env) ID() NodeID { return e.p.id }

// Name returns the node's name.
func (e *Env) Name() string { return e.p.name }

// Incarnation counts the node's restarts (0 at first boot).
func (e *Env) Incarnation() int { return int(e.inc) }

// Now returns the node's local clock, which drifts and jumps under clock
// faults. Use it for leases and timeouts, never as the true time.
func (e *Env) Now() Time { return e.w.localNow(e.p) }

// Rand returns the node's own PRNG stream; it continues across restarts.
func (e *Env) Rand() *Rand { return e.p.rand }

// Disk returns the node's disk, the only state that survives a crash.
func (e *Env) Disk() *Disk { return e.p.disk }

// Send sends msg to node to through the network (loss, delay, duplication,
// partitions apply).
func (e *Env) Send(to NodeID, msg Message) {
	if !e.Alive() {
		return
	}
	e.w.send(e.p.id, to, msg)
}

// After runs fn after d on the node's local clock (so drift stretches or
// shrinks it and a clock jump may fire it early or late). While the node is
// paused the timer is held and fires late.
func (e *Env) After(d Duration, fn func()) Timer {
	return e.after(d, fn, nil)
}

// after queues a timer that runs fn, or, when fn is nil, times out the call
// whose request is req.
func (e *Env) after(d Duration, fn func(), req *Request) Timer {
	if !e.Alive() {
		return Timer{}
	}
	if d < 0 {
		d = 0
	}
	w := e.w
	ev := w.alloc()
	ev.kind = evTimer
	ev.node = e.p.id
	ev.inc = e.inc
	ev.local = w.localNow(e.p).Add(d)
	ev.at = w.now.Add(trueDuration(d, e.p.driftPPM))
	ev.fn = fn
	if req != nil {
		ev.msg = req
	}
	w.q.push(ev)
	return Timer{ev: ev, seq: ev.seq}
}

// Cancel stops a pending timer. It reports whether the timer was pending.
func (e *Env) Cancel(t Timer) bool {
	if t.ev == nil || t.ev.seq != t.seq || t.ev.kind != evTimer {
		return false
	}
	w := e.w
	if t.ev.idx >= 0 {
		w.q.remove(t.ev)
	} else {
		// Held while paused: drop it from the held list.
		held := e.p.held
		found := false
		for i, h := range held {
			if h == t.ev {
				e.p.held = append(held[:i], held[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	w.release(t.ev)
	return true
}

// Logf logs a line stamped with virtual time and node name into the trace
// (only when a trace is being recorded; otherwise it costs one branch).
func (e *Env) Logf(format string, args ...any) {
	if e.w.tr == nil || !e.Alive() {
		return
	}
	e.w.record(trLog, e.p.id, NoNode, 0, fmt.Sprintf(format, args...))
}

// Tracing reports whether a full trace is recorded, so that nodes can skip
// building expensive log lines.
func (e *Env) Tracing() bool { return e.w.tr != nil }

// Sometimes records that a named interesting situation happened; campaigns
// aggregate these facts and list the ones never reached.
func (e *Env) Sometimes(fact string) { e.w.cover[fact]++ }

// Fail reports a failed assertion inside node code as a failure of the run.
func (e *Env) Fail(checker, format string, args ...any) {
	e.w.Fail(checker, format, args...)
}

// Request is the message a node receives for an RPC made with Env.Call. The
// receiver answers with Env.Reply (or never, like a real server may).
type Request struct {
	ID   uint64
	Body Message
}

// Size is the body's size plus an 8-byte call id.
func (r *Request) Size() int { return 8 + sizeOf(r.Body) }

// reply describes an RPC answer in trace lines ("reply#ID body"), built
// only when a trace is recorded. On the wire an answer is its body plus the
// call id in the event (event.rid), so answering allocates nothing; crash
// points see the body itself.
type reply struct {
	id   uint64
	body Message
}

// Call sends body to node to as an RPC. Exactly one of these happens: cb
// runs with the reply and ok=true, or with nil and ok=false after timeout of
// local time. A reply that reaches a crashed (or restarted) caller is dropped.
func (e *Env) Call(to NodeID, body Message, timeout Duration, cb func(reply Message, ok bool)) {
	if !e.Alive() {
		return
	}
	if e.calls == nil {
		e.calls = map[uint64]pendingCall{}
	}
	e.next++
	id := e.next<<8 | uint64(e.inc&0xff)
	req := e.w.reqs.New()
	req.ID, req.Body = id, body
	// The timeout is a timer with no func: it carries the request, and
	// the kernel calls timeout with its id (no closure per call).
	pc := pendingCall{cb: cb, timer: e.after(timeout, nil, req)}
	e.calls[id] = pc
	e.w.send(e.p.id, to, req)
}

// timeout fails call id if it is still pending.
func (e *Env) timeout(id uint64) {
	if c, ok := e.calls[id]; ok {
		delete(e.calls, id)
		c.cb(nil, false)
	}
}

// Reply answers an RPC request received from node to.
func (e *Env) Reply(to NodeID, req *Request, body Message) {
	if !e.Alive() {
		return
	}
	e.w.sendReply(e.p.id, to, req.ID, body)
}

// complete runs the callback of call id with its reply, if still pending.
func (e *Env) complete(id uint64, body Message) {
	c, ok := e.calls[id]
	if !ok {
		return
	}
	delete(e.calls, id)
	e.Cancel(c.timer)
	c.cb(body, true)
}

func sizeOf(m Message) int {
	if s, ok := m.(Sizer); ok {
		return s.Size()
	}
	return 0
}

// ---- clocks ----

// trueDuration converts a local-clock span into true time for a clock running
// at (1e6+ppm)/1e6 of true speed, rounding up.
func trueDuration(d Duration, ppm int64) Duration {
	if ppm == 0 || d <= 0 {
		return d
	}
	return Duration(mulDivSat(int64(d), 1_000_000, 1_000_000+ppm, true))
}

func (w *World) localNow(p *proc) Time {
	el := int64(w.now.Sub(p.anchorTrue))
	if p.driftPPM != 0 {
		el = mulDivSat(el, 1_000_000+p.driftPPM, 1_000_000, false)
	}
	return p.anchorLocal.Add(Duration(el))
}

// LocalNow returns a node's local clock reading.
func (w *World) LocalNow(id NodeID) Time { return w.localNow(w.procs[id]) }

// SetDrift makes node id's clock run at (1e6+ppm)/1e6 of true speed from now
// on (|ppm| < 1e6); pending timers are rescheduled accordingly.
func (w *World) SetDrift(id NodeID, ppm int64) {
	if ppm <= -1_000_000 || ppm >= 1_000_000 {
		panic(fmt.Sprintf("sim: drift %d ppm out of range", ppm))
	}
	p := w.procs[id]
	p.anchorLocal = w.localNow(p)
	p.anchorTrue = w.now
	p.driftPPM = ppm
	w.mix(evClock, id, NoNode, ppm)
	w.record(trClock, id, NoNode, 0, fmt.Sprintf("drift %dppm", ppm))
	w.retime(p)
}

// Jump moves node id's local clock by d (either way); timers whose local
// deadline has now passed fire at once.
func (w *World) Jump(id NodeID, d Duration) {
	p := w.procs[id]
	p.anchorLocal = w.localNow(p).Add(d)
	p.anchorTrue = w.now
	w.mix(evClock, id, NoNode, int64(d))
	w.record(trClock, id, NoNode, 0, fmt.Sprintf("jump %v", d))
	w.retime(p)
}

// retime reschedules p's pending timers from their local deadlines. Jumps and
// drift changes are rare, so a scan of the queue is fine.
func (w *World) retime(p *proc) {
	local := w.localNow(p)
	var moved []*event
	for _, e := range w.q.h {
		if e.kind == evTimer && e.node == p.id && e.inc == p.inc {
			moved = append(moved, e)
		}
	}
	for _, e := range moved {
		at := w.now
		if left := e.local.Sub(local); left > 0 {
			at = w.now.Add(trueDuration(left, p.driftPPM))
		}
		e.at = at
		w.q.fix(e)
	}
}

// ---- processes ----

// Crash kills node id: its value, timers, pending RPC callbacks and held
// messages are dropped, and its disk loses unsynced writes (or keeps a torn
// prefix of them, per DiskOptions). Crashing a crashed node does nothing.
func (w *World) Crash(id NodeID) {
	p := w.procs[id]
	if !p.up {
		return
	}
	p.up = false
	p.paused = false
	p.node = nil
	p.env = nil
	p.inc++
	for _, e := range p.held {
		w.release(e)
	}
	p.held = p.held[:0]
	w.mix(evCrash, id, NoNode, 0)
	w.record(trCrash, id, NoNode, 0, nil)
	p.disk.crash()
}

// Restart boots a fresh value of a crashed node from its disk.
func (w *World) Restart(id NodeID) {
	p := w.procs[id]
	if p.up {
		return
	}
	p.inc++
	w.mix(evRestart, id, NoNode, int64(p.inc))
	w.boot(p)
}

// Pause freezes a running node: messages and timers for it are held, its
// state is kept.
func (w *World) Pause(id NodeID) {
	p := w.procs[id]
	if !p.up || p.paused {
		return
	}
	p.paused = true
	w.mix(evPause, id, NoNode, 0)
	w.record(trPause, id, NoNode, 0, nil)
}

// Resume unfreezes a paused node; everything held is delivered now, in the
// order it was due.
func (w *World) Resume(id NodeID) {
	p := w.procs[id]
	if !p.up || !p.paused {
		return
	}
	p.paused = false
	w.mix(evResume, id, NoNode, int64(len(p.held)))
	w.record(trResume, id, NoNode, 0, nil)
	for _, e := range p.held {
		w.seq++
		e.seq = w.seq
		e.at = w.now
		w.q.push(e)
	}
	p.held = p.held[:0]
}

// Wipe crashes node id (if up) and erases its disk: amnesia on restart.
func (w *World) Wipe(id NodeID) {
	w.Crash(id)
	w.procs[id].disk.wipe()
	w.mix(evDisk, id, NoNode, 1)
	w.record(trDisk, id, NoNode, 0, "wipe")
}

// Corrupt flips one random bit of one of node id's stored files; the node's
// checksums must catch it. It reports whether there was a byte to flip.
func (w *World) Corrupt(id NodeID) bool {
	ok := w.procs[id].disk.corrupt(w.diskRand)
	w.mix(evDisk, id, NoNode, 2)
	w.record(trDisk, id, NoNode, 0, "corrupt")
	return ok
}

// Invoke records the start of a client operation by this node in the
// world's history (client id = node id) and returns the operation's id.
func (e *Env) Invoke(input any) int { return e.w.Invoke(int(e.p.id), input) }

// Return records the end of an operation this node invoked.
func (e *Env) Return(op int, output any) {
	if !e.Alive() {
		return
	}
	e.w.Return(op, output)
}
