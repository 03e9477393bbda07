package sim

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Action kinds of a fault plan.
const (
	ActLinks   = "links"   // restore all links among targets, then cut Cuts (one-way pairs)
	ActIsolate = "isolate" // cut Node (or the leader) off from every other target
	ActFlaky   = "flaky"   // link Node<->Peer loses messages with probability Ratio
	ActClog    = "clog"    // messages to/from Node are delayed by Delay for For
	ActHeal    = "heal"    // restore every link
	ActCrash   = "crash"   // crash Node (or the leader)
	ActRestart = "restart" // restart Node (or the node action Ref resolved to)
	ActPause   = "pause"   // pause Node (or the leader)
	ActResume  = "resume"  // resume Node (or Ref's node)
	ActWipe    = "wipe"    // crash Node and erase its disk
	ActCorrupt = "corrupt" // flip a bit on Node's (or Ref's) disk
	ActDrift   = "drift"   // Node's clock runs at (1e6+PPM)/1e6
	ActJump    = "jump"    // Node's clock jumps by Delay (signed)
	ActNet     = "net"     // the network's message-level behaviour becomes Net
	// ActCrashPoint arms a crash point on Node (or the leader): it crashes
	// at its Nth matching operation On (after a send of type Msg, or
	// Before/after a disk operation) within Delay (0: until healed), and
	// restarts after For. State, when set, picks what the disk keeps.
	ActCrashPoint = "crashpoint"
)

// Action is one timed fault. Node and Peer index the scenario's fault
// targets (its servers), not NodeIDs, so a plan is independent of how many
// clients a scenario adds. Leader makes the action resolve its node at run
// time to the current leader (through Roler); Ref makes it act on whatever
// node the action with ID Ref resolved to.
type Action struct {
	ID     int         `json:"id,omitempty"`
	At     Duration    `json:"at_ns"`
	Kind   string      `json:"kind"`
	Node   int         `json:"node"`
	Peer   int         `json:"peer,omitempty"`
	Leader bool        `json:"leader,omitempty"`
	Ref    int         `json:"ref,omitempty"`
	Cuts   [][2]int    `json:"cuts,omitempty"`
	Ratio  Ratio       `json:"ratio,omitempty"`
	Delay  Duration    `json:"delay_ns,omitempty"`
	For    Duration    `json:"for_ns,omitempty"`
	PPM    int64       `json:"ppm,omitempty"`
	Net    *NetOptions `json:"net,omitempty"`
	// Crash point fields (ActCrashPoint only).
	On     string      `json:"on,omitempty"`
	Msg    string      `json:"msg,omitempty"`
	Before bool        `json:"before,omitempty"`
	Nth    int         `json:"nth,omitempty"`
	State  *CrashState `json:"state,omitempty"`
}

// String prints the action as one short line for timelines.
func (a Action) String() string {
	who := fmt.Sprintf("n%d", a.Node)
	if a.Leader {
		who = "leader"
	}
	if a.Ref != 0 {
		who = fmt.Sprintf("node-of#%d", a.Ref)
	}
	switch a.Kind {
	case ActLinks:
		return fmt.Sprintf("@%v links cut=%v", a.At, a.Cuts)
	case ActHeal:
		return fmt.Sprintf("@%v heal", a.At)
	case ActFlaky:
		return fmt.Sprintf("@%v flaky n%d<->n%d loss=%v", a.At, a.Node, a.Peer, a.Ratio)
	case ActClog:
		return fmt.Sprintf("@%v clog %s +%v for %v", a.At, who, a.Delay, a.For)
	case ActDrift:
		return fmt.Sprintf("@%v drift %s %dppm", a.At, who, a.PPM)
	case ActJump:
		return fmt.Sprintf("@%v jump %s %v", a.At, who, a.Delay)
	case ActNet:
		return fmt.Sprintf("@%v net %+v", a.At, *a.Net)
	case ActCrashPoint:
		s := fmt.Sprintf("@%v crashpoint %s %s, down %v", a.At, who, pointDesc(a), a.For)
		if a.Delay > 0 {
			s += fmt.Sprintf(", armed for %v", a.Delay)
		}
		return s
	}
	return fmt.Sprintf("@%v %s %s", a.At, a.Kind, who)
}

// Plan is a fault plan: actions sorted by time. It is plain data, stored in
// failure files, replayed as is, and shrunk by removing actions.
type Plan []Action

// Validate checks every field of every action against targets, the number
// of fault targets the scenario declares: a known kind, a time at or after
// zero, node, peer and cut indexes in 0..targets-1, non-negative ids and
// refs, non-negative clog delays and durations, well-formed ratios, drift
// inside (-100%, +100%), and network options that make sense (see
// NetOptions.Validate). Huge values are accepted where they mean something
// ("never", "forever"): virtual time saturates instead of wrapping. The
// error is one line naming the action.
func (p Plan) Validate(targets int) error {
	for i, a := range p {
		if err := a.validate(targets); err != nil {
			return fmt.Errorf("plan action %d (%s): %v", i, a.Kind, err)
		}
	}
	return nil
}

func (a Action) validate(targets int) error {
	switch a.Kind {
	case ActLinks, ActIsolate, ActFlaky, ActClog, ActHeal, ActCrash, ActRestart,
		ActPause, ActResume, ActWipe, ActCorrupt, ActDrift, ActJump, ActNet, ActCrashPoint:
	default:
		return fmt.Errorf("unknown kind %q", a.Kind)
	}
	in := func(n int) bool { return n >= 0 && n < targets }
	switch {
	case a.At < 0:
		return fmt.Errorf("negative time at_ns %d", a.At)
	case !in(a.Node) || !in(a.Peer):
		return fmt.Errorf("node %d or peer %d out of range 0..%d", a.Node, a.Peer, targets-1)
	case a.ID < 0 || a.Ref < 0:
		return fmt.Errorf("negative id %d or ref %d", a.ID, a.Ref)
	case a.Delay < 0 && a.Kind != ActJump:
		return fmt.Errorf("negative delay_ns %d", a.Delay)
	case a.For < 0:
		return fmt.Errorf("negative for_ns %d", a.For)
	case a.PPM <= -1_000_000 || a.PPM >= 1_000_000:
		return fmt.Errorf("drift %d ppm out of range (-1000000, 1000000)", a.PPM)
	}
	for _, c := range a.Cuts {
		if !in(c[0]) || !in(c[1]) {
			return fmt.Errorf("cut %d->%d out of range 0..%d", c[0], c[1], targets-1)
		}
	}
	if err := a.Ratio.validate("ratio"); err != nil {
		return err
	}
	if a.Kind == ActCrashPoint {
		if err := a.validatePoint(); err != nil {
			return err
		}
	} else if a.On != "" || a.Msg != "" || a.Before || a.Nth != 0 || a.State != nil {
		return fmt.Errorf("crash point fields on a %s action", a.Kind)
	}
	if a.Kind == ActNet {
		if a.Net == nil {
			return fmt.Errorf("net action without options")
		}
		if err := a.Net.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// validatePoint checks a crash point's fields: a known operation, a message
// type only for sends, before only for disk operations, a non-negative
// count and a sane crash state.
func (a Action) validatePoint() error {
	switch a.On {
	case OnSend, OnWrite, OnAppend, OnRename, OnDelete, OnSync:
	default:
		return fmt.Errorf("crash point on %q: want send, write, append, rename, delete or sync", a.On)
	}
	switch {
	case a.Msg != "" && a.On != OnSend:
		return fmt.Errorf("crash point msg %q on %s: message types filter sends only", a.Msg, a.On)
	case a.Before && a.On == OnSend:
		return fmt.Errorf("crash point before send: a crash before a send is a crash after the previous operation")
	case a.Nth < 0:
		return fmt.Errorf("negative nth %d", a.Nth)
	case a.State != nil && (a.State.Keep < 0 || a.State.Torn < -1):
		return fmt.Errorf("crash state keep %d torn %d: want keep >= 0, torn >= -1", a.State.Keep, a.State.Torn)
	}
	return nil
}

// validate refuses a ratio that fires with a zero denominator: 0/0 is the
// zero value ("never"), n/0 with n > 0 means nothing.
func (p Ratio) validate(name string) error {
	if p.Den == 0 && p.Num != 0 {
		return fmt.Errorf("%s %d/0 has a zero denominator", name, p.Num)
	}
	return nil
}

// Validate checks network options: delays and the tail are non-negative,
// delay_min_ns <= delay_max_ns, and every ratio has a denominator.
func (o NetOptions) Validate() error {
	switch {
	case o.DelayMin < 0 || o.DelayMax < 0:
		return fmt.Errorf("negative delay_min_ns %d or delay_max_ns %d", o.DelayMin, o.DelayMax)
	case o.DelayMin > o.DelayMax:
		return fmt.Errorf("delay_min_ns %d above delay_max_ns %d", o.DelayMin, o.DelayMax)
	case o.TailMax < 0:
		return fmt.Errorf("negative tail_max_ns %d", o.TailMax)
	}
	for _, r := range []struct {
		name string
		p    Ratio
	}{{"tail", o.Tail}, {"loss", o.Loss}, {"dup", o.Dup}, {"reorder", o.Reorder}} {
		if err := r.p.validate(r.name); err != nil {
			return err
		}
	}
	return nil
}

// MinFaultStep is the shortest nemesis step Faults.Validate accepts: a
// shorter one makes GeneratePlan draw millions of actions per second of
// fault phase.
const MinFaultStep = Millisecond

// MaxFaultSpan bounds every duration knob of Faults (stabilities, maxima):
// longer than any fault phase, short enough that sums cannot overflow.
const MaxFaultSpan = 24 * Hour

// Validate checks fault options before a plan is generated from them (they
// come from failure files too): ratios with denominators, a step of at
// least MinFaultStep (or zero: the default), durations in 0..MaxFaultSpan,
// a non-negative max_down, drift_max_ppm in 0..999999, and sane network
// options. The error is one line naming the field.
func (f Faults) Validate() error {
	if f.Step != 0 && (f.Step < MinFaultStep || f.Step > MaxFaultSpan) {
		return fmt.Errorf("faults: step_ns %d out of range %d..%d", f.Step, MinFaultStep, MaxFaultSpan)
	}
	if err := f.Network.Base.Validate(); err != nil {
		return fmt.Errorf("faults: network base: %v", err)
	}
	for _, d := range []struct {
		name string
		d    Duration
	}{
		{"delay_max_ns", f.Network.Base.DelayMax}, {"tail_max_ns", f.Network.Base.TailMax},
		{"clog_max_ns", f.Network.ClogMax}, {"partition_stability_ns", f.Network.PartitionStability},
		{"crash_stability_ns", f.Process.CrashStability}, {"jump_max_ns", f.Clock.JumpMax},
	} {
		if d.d < 0 || d.d > MaxFaultSpan {
			return fmt.Errorf("faults: %s %d out of range 0..%d", d.name, d.d, MaxFaultSpan)
		}
	}
	for _, r := range []struct {
		name string
		p    Ratio
	}{
		{"partition", f.Network.Partition}, {"flaky", f.Network.Flaky}, {"clog", f.Network.Clog},
		{"crash", f.Process.Crash}, {"crash_leader", f.Process.CrashLeader}, {"pause", f.Process.Pause},
		{"crash_point", f.Process.CrashPoint}, {"short_down", f.Process.ShortDown},
		{"torn", f.Disk.Torn}, {"wipe", f.Disk.Wipe}, {"corrupt", f.Disk.Corrupt},
		{"drift", f.Clock.Drift}, {"jump", f.Clock.Jump},
	} {
		if err := r.p.validate("faults: " + r.name); err != nil {
			return err
		}
	}
	switch {
	case f.Process.MaxDown < 0:
		return fmt.Errorf("faults: negative max_down %d", f.Process.MaxDown)
	case f.Clock.DriftMaxPPM < 0 || f.Clock.DriftMaxPPM >= 1_000_000:
		return fmt.Errorf("faults: drift_max_ppm %d out of range 0..999999", f.Clock.DriftMaxPPM)
	}
	return nil
}

// Sort orders the plan by time, stably.
func (p Plan) Sort() { sort.SliceStable(p, func(i, j int) bool { return p[i].At < p[j].At }) }

// MarshalPlan encodes a plan as indented JSON.
func MarshalPlan(p Plan) ([]byte, error) { return json.MarshalIndent(p, "", "  ") }

// Schedule arranges for every action of plan to run at its time (relative to
// now) against targets. Actions that target the leader resolve it when they
// run; Ref actions act on the node their referee resolved to.
func (w *World) Schedule(plan Plan, targets []NodeID) {
	resolved := map[int]NodeID{}
	base := w.now
	for _, a := range plan {
		a := a
		w.At(base.Add(a.At), func() { w.apply(a, targets, resolved) })
	}
}

// Leader returns the target claiming leadership with the highest term (ties:
// the lowest index), or NoNode.
func (w *World) Leader(targets []NodeID) NodeID {
	best, bestTerm := NoNode, uint64(0)
	for _, id := range targets {
		p := w.procs[id]
		if !p.up || p.node == nil {
			continue
		}
		if r, ok := p.node.(Roler); ok {
			if term, lead := r.Role(); lead && (best == NoNode || term > bestTerm) {
				best, bestTerm = id, term
			}
		}
	}
	return best
}

func (w *World) apply(a Action, targets []NodeID, resolved map[int]NodeID) {
	node := NoNode
	if a.Node < len(targets) {
		node = targets[a.Node]
	}
	switch {
	case a.Leader:
		node = w.Leader(targets)
	case a.Ref != 0:
		n, ok := resolved[a.Ref]
		if !ok {
			node = NoNode
		} else {
			node = n
		}
	}
	if a.ID != 0 {
		resolved[a.ID] = node
	}
	w.mix(evAction, node, NoNode, int64(len(a.Kind)))
	if w.tr != nil {
		w.record(trAction, node, NoNode, 0, a.String())
	}
	needNode := a.Kind != ActLinks && a.Kind != ActHeal && a.Kind != ActNet && a.Kind != ActFlaky
	if needNode && node == NoNode {
		return // no leader now, or a dangling ref after shrinking: nothing to do
	}
	switch a.Kind {
	case ActLinks:
		for _, x := range targets {
			for _, y := range targets {
				w.net.link(x, y).cut = false
			}
		}
		for _, c := range a.Cuts {
			w.net.link(targets[c[0]], targets[c[1]]).cut = true
		}
		w.net.gen++
	case ActIsolate:
		w.Isolate(node, targets)
	case ActFlaky:
		w.Flaky(targets[a.Node], targets[a.Peer], a.Ratio)
		w.Flaky(targets[a.Peer], targets[a.Node], a.Ratio)
	case ActClog:
		w.Clog(node, a.Delay, a.For)
	case ActHeal:
		w.Heal()
	case ActCrash:
		w.Crash(node)
	case ActRestart:
		w.Restart(node)
	case ActPause:
		w.Pause(node)
	case ActResume:
		w.Resume(node)
	case ActWipe:
		w.Wipe(node)
	case ActCorrupt:
		w.Corrupt(node)
	case ActDrift:
		w.SetDrift(node, a.PPM)
	case ActJump:
		w.Jump(node, a.Delay)
	case ActNet:
		w.SetNet(*a.Net)
	case ActCrashPoint:
		w.ArmCrashPoint(node, a)
	}
}

// HealAll ends the fault phase: every link restored, the network made
// reliable with the given behaviour, every paused node resumed, every crashed
// node restarted, clocks back to true speed.
func (w *World) HealAll(targets []NodeID, net NetOptions) {
	w.disarmAll()
	w.Heal()
	w.SetNet(net)
	for _, id := range targets {
		w.Resume(id)
		if !w.procs[id].up {
			w.Restart(id)
		}
		if w.procs[id].driftPPM != 0 {
			w.SetDrift(id, 0)
		}
	}
}
