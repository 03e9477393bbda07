package sim

import (
	"fmt"
	"strings"
)

// Crash points: crashes tied to what a node does rather than to an instant.
// A bug whose window is "between promising something in a message and making
// it durable", or between two related disk writes, needs a crash exactly
// there; a crash at a random instant almost never lands in such a window.
//
// A crash point is armed on a node by a plan action (ActCrashPoint). It fires
// at the Nth matching operation of that node after arming: right after a
// send (optionally of one message type), or just before or just after a disk
// operation (a Write, Append, Rename, Delete or Sync). The node crashes at
// once, inside the handler that made the call: everything it does after that
// in the same handler (sends, disk writes, timers) is void, as if the process
// died there. It restarts after the action's downtime. A crash point that
// does not fire within its window disarms; healing disarms every point.

// Crash point operations (Action.On).
const (
	OnSend   = "send"
	OnWrite  = "write"
	OnAppend = "append"
	OnRename = "rename"
	OnDelete = "delete"
	OnSync   = "sync"
)

// CrashState picks exactly what a crash keeps of the node's unsynced disk
// operations, instead of the world's torn-write chance: the first Keep of
// them, the last of those cut to Torn bytes when Torn >= 0 (a torn write).
// Crash-state enumeration runs one plan per state.
type CrashState struct {
	Keep int `json:"keep"`
	Torn int `json:"torn"`
}

// armed is a crash point armed on a process.
type armed struct {
	on     string
	msg    string
	before bool
	left   int
	until  Time // disarm after (0: never)
	down   Duration
	state  *CrashState
	desc   string
}

// CrashPointHook, when set on a world, is called when a crash point fires,
// before the crash, with the node and its unsynced disk operations; it
// returns whether the crash happens. Crash-state enumeration uses it to
// learn the states a point can leave behind.
type CrashPointHook func(id NodeID, unsynced []DiskOp) bool

// OnCrashPoint sets the hook called when a crash point fires.
func (w *World) OnCrashPoint(h CrashPointHook) { w.pointHook = h }

// MessageType names a message's type as crash points filter sends by it:
// the Go type without pointer or package path ("raft.AppendEntriesReply").
// An RPC request or reply is named by its body.
func MessageType(m Message) string {
	if r, ok := m.(*Request); ok {
		m = r.Body
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", m), "*")
}

// ArmCrashPoint arms a crash point on node id from action a (its On, Msg,
// Before, Nth, Delay as the arming window, For as the downtime, State).
// It replaces a point already armed there.
func (w *World) ArmCrashPoint(id NodeID, a Action) {
	p := w.procs[id]
	nth := a.Nth
	if nth < 1 {
		nth = 1
	}
	cp := &armed{on: a.On, msg: a.Msg, before: a.Before, left: nth, down: a.For, state: a.State}
	if a.Delay > 0 {
		cp.until = w.now.Add(a.Delay)
	}
	cp.desc = pointDesc(a)
	p.point = cp
}

// pointDesc describes where a crash point fires ("after send raft.X #2").
func pointDesc(a Action) string {
	var b strings.Builder
	switch {
	case a.On == OnSend:
		b.WriteString("after send")
		if a.Msg != "" {
			b.WriteString(" " + a.Msg)
		}
	case a.Before:
		b.WriteString("before " + a.On)
	default:
		b.WriteString("after " + a.On)
	}
	if a.Nth > 1 {
		fmt.Fprintf(&b, " #%d", a.Nth)
	}
	if a.State != nil {
		fmt.Fprintf(&b, " keep %d", a.State.Keep)
		if a.State.Torn >= 0 {
			fmt.Fprintf(&b, " torn@%d", a.State.Torn)
		}
	}
	return b.String()
}

// hit counts one operation op (before or after it takes effect) of process
// p against its armed point and crashes p if the point fires. It reports
// whether p crashed.
func (w *World) hit(p *proc, op string, before bool, msg Message) bool {
	cp := p.point
	if cp.on != op || cp.before != before {
		return false
	}
	if cp.until != 0 && w.now > cp.until {
		p.point = nil
		return false
	}
	if cp.msg != "" && MessageType(msg) != cp.msg {
		return false
	}
	cp.left--
	if cp.left > 0 {
		return false
	}
	p.point = nil
	if w.pointHook != nil && !w.pointHook(p.id, p.disk.Unsynced()) {
		return false
	}
	w.cover["sim: crash point "+strings.SplitN(cp.desc, " #", 2)[0]]++
	if w.tr != nil {
		w.record(trAction, p.id, NoNode, 0, "crash point fired: "+cp.desc)
	}
	if cp.state != nil {
		w.crashKeeping(p.id, *cp.state)
	} else {
		w.Crash(p.id)
	}
	id, inc := p.id, p.inc
	w.After(cp.down, func() {
		if q := w.procs[id]; !q.up && q.inc == inc {
			w.Restart(id)
		}
	})
	return true
}

// crashKeeping crashes node id keeping exactly state of its unsynced disk
// operations.
func (w *World) crashKeeping(id NodeID, state CrashState) {
	p := w.procs[id]
	d := p.disk
	keep := state.Keep
	if keep > len(d.pending) {
		keep = len(d.pending)
	}
	if keep < 0 {
		keep = 0
	}
	for i := 0; i < keep; i++ {
		op := d.pending[i]
		if i == keep-1 && state.Torn >= 0 && (op.Kind == OpWrite || op.Kind == OpAppend) && state.Torn < len(op.Data) {
			op.Data = op.Data[:state.Torn]
		}
		d.apply(op)
	}
	d.pending = d.pending[:0]
	w.mix(evDisk, id, NoNode, int64(keep)<<8|5)
	w.Crash(id)
}

// disarmAll removes every armed crash point (the fault phase is over).
func (w *World) disarmAll() {
	for _, p := range w.procs {
		p.point = nil
	}
}

// CrashStates lists the disk states a crash can leave behind given ops, the
// unsynced operations at the crash: each prefix of them (keep 0..len), and
// for each prefix ending in a Write or Append of n > 1 bytes, that last
// operation torn at 1, n/2 and n-1 bytes. This is the crash-state
// enumeration of gosim and ALICE, over a page-less byte model.
func CrashStates(ops []DiskOp) []CrashState {
	states := []CrashState{{Keep: 0, Torn: -1}}
	for k := 1; k <= len(ops); k++ {
		op := ops[k-1]
		if n := len(op.Data); (op.Kind == OpWrite || op.Kind == OpAppend) && n > 1 {
			seen := map[int]bool{}
			for _, t := range []int{1, n / 2, n - 1} {
				if t > 0 && t < n && !seen[t] {
					seen[t] = true
					states = append(states, CrashState{Keep: k, Torn: t})
				}
			}
		}
		states = append(states, CrashState{Keep: k, Torn: -1})
	}
	return states
}

// String describes a disk operation in one short phrase.
func (o DiskOp) String() string {
	switch o.Kind {
	case OpWrite:
		return fmt.Sprintf("write %s (%d B)", o.Name, len(o.Data))
	case OpAppend:
		return fmt.Sprintf("append %s (%d B)", o.Name, len(o.Data))
	case OpDelete:
		return "delete " + o.Name
	case OpRename:
		return "rename " + o.Name + " -> " + o.To
	}
	return "op?"
}
