package sim

import (
	"fmt"
	"io"
	"runtime/debug"
	"sort"
)

// NodeID names a node of a world: its index in the order nodes were added.
type NodeID int32

// NoNode is the NodeID of no node (the world itself, in traces).
const NoNode NodeID = -1

// Message is anything a node sends. Messages are passed by value through the
// world without copying: a sender must not mutate a message after Send. A
// message may implement Sizer so that byte counters and budgets see its size.
type Message any

// Sizer is implemented by messages that know their encoded size in bytes.
type Sizer interface {
	Size() int
}

// Node is a process of the system under test: a plain state machine. Start is
// called at first boot and after every restart, on a fresh value that must
// rebuild its state from env.Disk() alone; Receive is called for each
// delivered message. Timers are callbacks registered with Env.After.
type Node interface {
	Start(env *Env)
	Receive(from NodeID, msg Message)
}

// Factory builds a fresh node value; it is called at boot and at each restart.
type Factory func() Node

// Roler is an optional introspection interface: nodes that have a notion of
// leadership report it, so that fault plans can target "the current leader"
// and checkers can look for two leaders in one term.
type Roler interface {
	Role() (term uint64, leader bool)
}

// Inspector is an optional interface returning a printable snapshot of a
// node's state, shown when a run stops at an event index.
type Inspector interface {
	Inspect() any
}

// Failure is a property violation (or a fault of node code: a panic, an
// exhausted event budget) found during a run.
type Failure struct {
	Checker string `json:"checker"`
	Message string `json:"message"`
	VTime   Time   `json:"vtime_ns"`
	Event   uint64 `json:"event"`
	Stack   string `json:"stack,omitempty"`
	// Moment, when set, is where an offline checker's evidence places the
	// violation in the run: a checker run at the end (linearizability)
	// detects it at the last event, long after the operation that broke
	// it. Replay pages, explain and --break start from it.
	Moment *Moment `json:"moment,omitempty"`
}

// Moment is the event at which an offline checker's evidence shows the
// violation happened, with the client operations that show it.
type Moment struct {
	Event uint64 `json:"event"`
	VTime Time   `json:"vtime_ns"`
	// Why says in one line what happened at Event.
	Why string `json:"why"`
	// Ops are the operations the evidence names (the end of the longest
	// linearizable prefix, then the operation that cannot follow it).
	Ops []MomentOp `json:"ops,omitempty"`
}

// MomentOp is one client operation of a Moment's evidence, located in the
// run by its invoke and return trace events.
type MomentOp struct {
	// Lane is the node that invoked it (its lane on the replay page).
	Lane string `json:"lane"`
	// Op describes the operation and its outcome.
	Op string `json:"op"`
	// Group is the model's partition it belongs to (a key), if any.
	Group string `json:"group,omitempty"`
	// Role is "linearized" (in the longest linearizable prefix) or
	// "illegal" (the first operation that cannot be linearized after it).
	Role        string `json:"role"`
	Call        Time   `json:"call_ns"`
	Return      Time   `json:"return_ns"` // -1: never returned
	CallEvent   uint64 `json:"call_event"`
	ReturnEvent uint64 `json:"return_event,omitempty"`
}

// Error formats the failure as one line.
func (f *Failure) Error() string {
	return fmt.Sprintf("%s: %s (at %v, event %d)", f.Checker, f.Message, f.VTime, f.Event)
}

// Options configure a world. The zero value is a reliable network with no
// delay, disks that lose unsynced writes on crash, and no event budget.
type Options struct {
	// Net is the network's behaviour at start; SetNet changes it later.
	Net NetOptions
	// Disk says what a crash does to unsynced writes.
	Disk DiskOptions
	// MaxEvents bounds the events of a run; reaching it is a failure of the
	// seed ("budget"), which is how an endless event loop in node code ends.
	MaxEvents uint64
	// Trace, when set, receives the full trace as JSON lines.
	Trace io.Writer
}

// proc is the world's record of one node across its incarnations.
type proc struct {
	id      NodeID
	name    string
	factory Factory
	node    Node
	env     *Env
	up      bool
	paused  bool
	inc     uint32
	held    []*event
	rand    *Rand
	disk    *Disk

	driftPPM    int64
	anchorTrue  Time
	anchorLocal Time

	clogUntil Time
	clogDelay Duration

	recv, sent, sentBytes uint64

	point *armed // crash point armed on this node, or nil
}

// World is one simulated universe: nodes, network, disks, clocks, a history
// of client operations and a trace. It is single-threaded and deterministic.
type World struct {
	seed uint64
	opts Options
	now  Time
	seq  uint64
	q    queue
	free []*event

	procs []*proc
	net   network

	events  uint64
	hash    uint64
	failure *Failure
	halt    bool
	breakAt uint64
	cur     NodeID
	last    NodeID // the node whose handler ran in the latest event

	curMsg Message        // the message being delivered (Env.Recycle)
	curDup bool           // another copy of curMsg is or was in flight
	spares []spares       // recycled messages by type (recycle.go)
	reqs   Batch[Request] // Env.Call's requests

	netRand   *Rand
	diskRand  *Rand
	streams   []labeled // handed out by Rand: Fork re-seeds them
	hooks     []func()
	history   []Operation
	cover     map[string]uint64
	tr        *tracer
	pointHook CrashPointHook
	stats     NetStats
}

// NewWorld builds an empty world from a seed and options.
func NewWorld(seed uint64, opts Options) *World {
	w := &World{
		seed:     seed,
		opts:     opts,
		netRand:  NewRand(StreamSeed(seed, "net")),
		diskRand: NewRand(StreamSeed(seed, "disk")),
		hash:     14695981039346656037 ^ seed,
		cur:      NoNode,
		last:     NoNode,
		cover:    map[string]uint64{},
	}
	w.net.opts = opts.Net
	if opts.Trace != nil {
		w.tr = newTracer(opts.Trace)
	}
	return w
}

// Seed returns the world's seed.
func (w *World) Seed() uint64 { return w.seed }

// Now returns the true virtual time, the clock checkers use.
func (w *World) Now() Time { return w.now }

// Events returns the number of events processed so far; the index of the
// event being processed during a callback.
func (w *World) Events() uint64 { return w.events }

// Hash returns the running 64-bit hash of every event so far.
func (w *World) Hash() uint64 { return w.hash }

// Failure returns the first failure found, or nil.
func (w *World) Failure() *Failure { return w.failure }

// Rand returns a fresh stream named label, derived from the world's seed.
// Callers keep the returned generator; two calls with one label return
// generators with the same sequence (until a Fork re-seeds them).
func (w *World) Rand(label string) *Rand {
	r := NewRand(StreamSeed(w.seed, label))
	w.streams = append(w.streams, labeled{label, r})
	return r
}

// labeled is a stream World.Rand handed out, kept so that Fork can re-seed it.
type labeled struct {
	label string
	r     *Rand
}

// Fork re-seeds the world's network and disk streams, and every stream
// handed out by Rand (a scenario's workload, its scripted adversary's
// choices), with salt while node streams continue: a failing run replayed
// to event k and forked many times shows how often the failure still
// follows from the state at k (dsim explain).
func (w *World) Fork(salt uint64) {
	w.netRand.Seed(StreamSeed(w.seed^salt, "net"))
	w.diskRand.Seed(StreamSeed(w.seed^salt, "disk"))
	for _, s := range w.streams {
		s.r.Seed(StreamSeed(w.seed^salt, s.label))
	}
	w.mix(evFork, NoNode, NoNode, int64(salt))
}

// AddNode adds a node named name and boots it at the current time.
func (w *World) AddNode(name string, f Factory) NodeID {
	id := NodeID(len(w.procs))
	p := &proc{
		id:          id,
		name:        name,
		factory:     f,
		rand:        NewRand(StreamSeed(w.seed, "node/"+name)),
		anchorTrue:  w.now,
		anchorLocal: w.now,
	}
	p.disk = newDisk(w, p)
	w.procs = append(w.procs, p)
	w.net.grow(len(w.procs))
	w.boot(p)
	return id
}

func (w *World) boot(p *proc) {
	p.up = true
	p.paused = false
	p.env = &Env{w: w, p: p, inc: p.inc}
	p.node = p.factory()
	w.record(trRestart, p.id, NoNode, 0, nil)
	prev := w.cur
	w.cur = p.id
	p.node.Start(p.env)
	w.cur = prev
}

// LastNode returns the node the latest event belonged to (a timer of it or
// a delivery to it), or NoNode for a scheduled function: with BreakAt, the
// node whose handler ran at the event a run stopped after.
func (w *World) LastNode() NodeID { return w.last }

// NumNodes returns the number of nodes added.
func (w *World) NumNodes() int { return len(w.procs) }

// Name returns the name a node was added with.
func (w *World) Name(id NodeID) string {
	if id < 0 || int(id) >= len(w.procs) {
		return "world"
	}
	return w.procs[id].name
}

// Node returns the node's current value, or nil while it is crashed.
func (w *World) Node(id NodeID) Node { return w.procs[id].node }

// Up reports whether the node is running (possibly paused).
func (w *World) Up(id NodeID) bool { return w.procs[id].up }

// Paused reports whether the node is paused.
func (w *World) Paused(id NodeID) bool { return w.procs[id].paused }

// Disk returns the node's disk (it survives crashes).
func (w *World) Disk(id NodeID) *Disk { return w.procs[id].disk }

// At schedules fn to run in the world (not in a node) at time t, or now if t
// is in the past. Scripts, fault actions and probes use it.
func (w *World) At(t Time, fn func()) {
	if t < w.now {
		t = w.now
	}
	e := w.alloc()
	e.at = t
	e.kind = evFunc
	e.node = NoNode
	e.fn = fn
	w.q.push(e)
}

// After schedules fn to run in the world after d.
func (w *World) After(d Duration, fn func()) { w.At(w.now.Add(d), fn) }

// AfterEvent registers fn to run after every event: online invariants.
func (w *World) AfterEvent(fn func()) { w.hooks = append(w.hooks, fn) }

// Fail records a failure (the first one wins) and stops the run.
func (w *World) Fail(checker, format string, args ...any) {
	if w.failure != nil {
		return
	}
	w.failure = &Failure{Checker: checker, Message: fmt.Sprintf(format, args...), VTime: w.now, Event: w.events}
	w.record(trFail, w.cur, NoNode, 0, w.failure.Error())
	w.halt = true
}

// Stop makes the current Run call return after the event being processed.
func (w *World) Stop() { w.halt = true }

// BreakAt makes Run stop after event k (0: never): the event index at which
// a replay stops to print every node's state.
func (w *World) BreakAt(k uint64) { w.breakAt = k }

// Stopped reports whether the world stopped at a failure or a break.
func (w *World) Stopped() bool {
	return w.failure != nil || (w.breakAt > 0 && w.events >= w.breakAt)
}

// Halted reports whether the last RunUntil ended because node or scenario
// code called Stop (a script that finished), not by a failure or BreakAt.
func (w *World) Halted() bool { return w.halt && w.failure == nil }

// Pending returns the number of queued events.
func (w *World) Pending() int { return w.q.len() }

// RunUntil processes events up to virtual time t. It returns false when the
// run stopped early: a failure, Stop, or the break index. A panic in node code
// becomes a failure ("panic") with its stack, never a crash of the caller.
func (w *World) RunUntil(t Time) (ok bool) {
	w.halt = false
	defer func() {
		if r := recover(); r != nil {
			w.failure = nil
			w.Fail("panic", "in %s: %v", w.Name(w.cur), r)
			w.failure.Stack = string(debug.Stack())
			ok = false
		}
		w.cur = NoNode
	}()
	for !w.halt && w.failure == nil && w.q.len() > 0 && w.q.h[0].at <= t {
		if w.breakAt > 0 && w.events >= w.breakAt {
			return false
		}
		w.step()
		if w.opts.MaxEvents > 0 && w.events >= w.opts.MaxEvents {
			w.Fail("budget", "event budget of %d exhausted", w.opts.MaxEvents)
		}
	}
	if w.halt || w.failure != nil {
		return false
	}
	if w.now < t {
		w.now = t
	}
	return true
}

// RunFor runs for d of virtual time from now.
func (w *World) RunFor(d Duration) bool { return w.RunUntil(w.now.Add(d)) }

func (w *World) alloc() *event {
	var e *event
	if n := len(w.free); n > 0 {
		e = w.free[n-1]
		w.free = w.free[:n-1]
	} else {
		e = &event{}
	}
	w.seq++
	e.seq = w.seq
	e.idx = -1
	return e
}

func (w *World) release(e *event) {
	e.msg = nil
	e.fn = nil
	e.seq = 0
	e.rid = 0
	e.dup = false
	w.free = append(w.free, e)
}

// step processes the next event.
func (w *World) step() {
	e := w.q.pop()
	w.now = e.at
	w.events++
	w.last = e.node
	switch e.kind {
	case evFunc:
		w.mix(evFunc, NoNode, NoNode, 0)
		fn := e.fn
		w.release(e)
		fn()
	case evTimer:
		p := w.procs[e.node]
		if !p.up || p.inc != e.inc {
			w.release(e)
			return
		}
		if p.paused {
			p.held = append(p.held, e)
			return
		}
		w.mix(evTimer, e.node, NoNode, int64(e.seq))
		if w.tr != nil {
			w.record(trTimer, e.node, NoNode, 0, nil)
		}
		fn, msg := e.fn, e.msg
		w.release(e)
		w.cur = p.id
		if fn != nil {
			fn()
		} else {
			p.env.timeout(msg.(*Request).ID)
		}
		w.cur = NoNode
	case evDeliver:
		w.deliver(e)
	}
	for _, h := range w.hooks {
		h()
	}
}

// Invoke records the start of a client operation in the history and returns
// its id. Checkers read the history at the end of a run.
func (w *World) Invoke(client int, input any) int {
	id := len(w.history)
	w.history = append(Grow(w.history, 1), Operation{ID: id, Client: client, Input: input, Call: w.now, Return: -1, CallEvent: w.events})
	w.mix(evInvoke, NodeID(client), NoNode, int64(id))
	w.record(trInvoke, NodeID(client), NoNode, 0, input)
	return id
}

// Return records the end of operation id with its output.
func (w *World) Return(id int, output any) {
	op := &w.history[id]
	if op.Return >= 0 {
		w.Fail("history", "operation %d returned twice", id)
		return
	}
	op.Output = output
	op.Return = w.now
	op.ReturnEvent = w.events
	w.mix(evReturn, NodeID(op.Client), NoNode, int64(id))
	w.record(trReturn, NodeID(op.Client), NoNode, 0, output)
}

// History returns the client operations recorded so far, in invocation
// order. An operation that never returned has Return == -1.
func (w *World) History() []Operation { return w.history }

// Operation is one client operation: who invoked what when, and what came
// back when (Return == -1 while pending).
type Operation struct {
	ID     int
	Client int
	Input  any
	Output any
	Call   Time
	Return Time
	// CallEvent and ReturnEvent are the indexes of the events in which it
	// was invoked and returned (those of its trace lines), so a checker's
	// evidence can point into the trace.
	CallEvent, ReturnEvent uint64
}

// Pending reports whether the operation never returned.
func (o Operation) Pending() bool { return o.Return < 0 }

// Coverage returns how often each "sometimes" fact was recorded, by name.
func (w *World) Coverage() map[string]uint64 { return w.cover }

// CoverageNames returns the recorded fact names, sorted.
func (w *World) CoverageNames() []string {
	names := make([]string, 0, len(w.cover))
	for k := range w.cover {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Inspect returns each node's printable state (nodes implementing Inspector)
// by name, for a run stopped at an event index.
func (w *World) Inspect() map[string]any {
	out := map[string]any{}
	for _, p := range w.procs {
		switch {
		case !p.up:
			out[p.name] = "crashed"
		case p.node != nil:
			if in, ok := p.node.(Inspector); ok {
				out[p.name] = in.Inspect()
			} else {
				out[p.name] = "up"
			}
		}
	}
	return out
}
