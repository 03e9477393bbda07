package campaign

import (
	"strings"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// FaultKinds are the fault kinds a guided campaign may add to a scenario's
// plans: the scenario's own (Scenario.Kinds), or, for a scenario with fixed
// fault options (Scenario.Faults), the kinds those options turn on. A
// mutation never brings in a kind the scenario does not allow (a disk wipe
// in a scenario that does not expect amnesia would be a false alarm), and
// only changes the values of the actions a plan already holds.
type FaultKinds struct {
	sim.Kinds
	// Targets is the number of fault targets plans index.
	Targets int
	// Duration is the fault phase: every action happens before it.
	Duration sim.Duration
}

// KindsOf returns the fault kinds scenario s allows with variant v, and
// whether it allows any (a scripted scenario with no nemesis allows none:
// a guided campaign then only draws fresh seeds for it).
func KindsOf(s *scenarios.Scenario, v scenarios.Variant) (sim.Kinds, bool) {
	switch {
	case s.Kinds != nil:
		return *s.Kinds, *s.Kinds != (sim.Kinds{})
	case s.Faults != nil:
		f := s.Faults(v)
		nf, pf, df, cf := f.Network, f.Process, f.Disk, f.Clock
		k := sim.Kinds{
			Loss: !nf.Base.Loss.Zero(), Dup: !nf.Base.Dup.Zero(), Reorder: !nf.Base.Reorder.Zero(),
			Delay:     !nf.Base.Tail.Zero(),
			Partition: !nf.Partition.Zero(), OneWay: nf.OneWay, Flaky: !nf.Flaky.Zero(), Clog: !nf.Clog.Zero(),
			Crash: !pf.Crash.Zero(), CrashLeader: !pf.CrashLeader.Zero(), Pause: !pf.Pause.Zero(),
			CrashPoint: !pf.CrashPoint.Zero(), ShortDown: !pf.ShortDown.Zero(), PointMsgs: pf.PointMsgs,
			Torn: !df.Torn.Zero(), Wipe: !df.Wipe.Zero(), Corrupt: !df.Corrupt.Zero(),
			Drift: !cf.Drift.Zero(), Jump: !cf.Jump.Zero(),
		}
		return k, k != (sim.Kinds{})
	}
	return sim.Kinds{}, false
}

// Mutation is what Mutate changed: the operators applied, in order.
type Mutation struct {
	Plan   sim.Plan
	Faults sim.Faults
	// Reseed means the child runs under a seed of its own (drawn by the
	// caller): the same plan with another workload and other node coin flips.
	Reseed bool
	Ops    []string
}

// MaxGuidedActions bounds a mutated plan's length: adding never grows a
// plan past it.
const MaxGuidedActions = 256

// Mutate derives a child fault plan from parent (and, for crossover, from
// other, a second plan of the same scenario; nil: none) by one to three
// stacked operators drawn from r: add a fault, drop an action, shift an
// action in time, lengthen or shorten a fault, retarget an action (another
// node, or the leader), change a fault's options (loss ratio, clog delay,
// drift, jump, network options), move a crash point to another operation
// (or turn a crash into a crash point), cross the two plans at a random
// instant, toggle torn writes, or reseed. The child is always valid for
// k.Targets targets, sorted, inside the fault phase and made of kinds the
// scenario allows plus those parent and other already hold; when no
// operator applies it is the parent with a new seed (and its actions
// moved inside the phase).
//
// A mutation makes the environment the scenario defines harsher, never
// milder: the network of faults (Faults.Network.Base, the action at time
// 0 that sets it) is never dropped or moved, network options drawn for a
// net action are at least as lossy, duplicating, reordering and slow as
// it, and torn writes are never turned off. Scenarios check that their
// faults happened (a lossy network's clerk must see ErrMaybe): a plan
// milder than the scenario's would fail them without any bug.
func Mutate(r *sim.Rand, k FaultKinds, parent sim.Plan, faults sim.Faults, other sim.Plan) Mutation {
	if k.Targets <= 0 || k.Duration <= 0 { // nothing to aim at: the same plan, another seed
		return Mutation{Plan: clonePlan(parent), Faults: faults, Reseed: true, Ops: []string{"reseed"}}
	}
	m := mutator{r: r, k: k, faults: faults}
	m.plan = clonePlan(parent)
	// A generated plan may end a short fault after the phase (a restart
	// 0..100ms after a crash near its end): replay refuses such a file.
	for i := range m.plan {
		m.plan[i].At = m.clamp(m.plan[i].At)
	}
	start := clonePlan(m.plan)
	n := 1 + r.Intn(3)
	for tries := 0; len(m.ops) < n && tries < 20; tries++ {
		op := mutOps[r.Intn(len(mutOps))]
		if op.name == "cross" && (other == nil || m.crossed) {
			continue
		}
		if op.fn(&m, other) {
			m.ops = append(m.ops, op.name)
		}
	}
	m.plan.Sort()
	if len(m.ops) == 0 || m.plan.Validate(k.Targets) != nil || !m.inPhase() {
		start.Sort()
		return Mutation{Plan: start, Faults: faults, Reseed: true, Ops: []string{"reseed"}}
	}
	return Mutation{Plan: m.plan, Faults: m.faults, Reseed: m.reseed, Ops: m.ops}
}

type mutator struct {
	r       *sim.Rand
	k       FaultKinds
	plan    sim.Plan
	faults  sim.Faults
	ops     []string
	reseed  bool
	crossed bool
}

var mutOps = []struct {
	name string
	fn   func(m *mutator, other sim.Plan) bool
}{
	{"add", (*mutator).add}, {"add", (*mutator).add},
	{"drop", func(m *mutator, _ sim.Plan) bool { return m.drop() }},
	{"shift", func(m *mutator, _ sim.Plan) bool { return m.shift() }},
	{"shift", func(m *mutator, _ sim.Plan) bool { return m.shift() }},
	{"lengthen", func(m *mutator, _ sim.Plan) bool { return m.lengthen() }},
	{"lengthen", func(m *mutator, _ sim.Plan) bool { return m.lengthen() }},
	{"retarget", func(m *mutator, _ sim.Plan) bool { return m.retarget() }},
	{"options", func(m *mutator, _ sim.Plan) bool { return m.options() }},
	{"options", func(m *mutator, _ sim.Plan) bool { return m.options() }},
	{"crashpoint", func(m *mutator, _ sim.Plan) bool { return m.crashPoint() }},
	{"crashpoint", func(m *mutator, _ sim.Plan) bool { return m.crashPoint() }},
	{"cross", (*mutator).cross},
	{"torn", func(m *mutator, _ sim.Plan) bool { return m.torn() }},
	{"reseed", func(m *mutator, _ sim.Plan) bool { m.reseed = true; return true }},
}

func clonePlan(p sim.Plan) sim.Plan {
	out := make(sim.Plan, len(p))
	for i, a := range p {
		if a.Cuts != nil {
			a.Cuts = append([][2]int(nil), a.Cuts...)
		}
		if a.Net != nil {
			n := *a.Net
			a.Net = &n
		}
		if a.State != nil {
			s := *a.State
			a.State = &s
		}
		out[i] = a
	}
	return out
}

func (m *mutator) inPhase() bool {
	for _, a := range m.plan {
		if a.At < 0 || a.At >= m.k.Duration {
			return false
		}
	}
	return true
}

// at draws an instant inside the fault phase.
func (m *mutator) at() sim.Duration { return m.r.Between(0, m.k.Duration-1) }

// clamp keeps t inside the fault phase.
func (m *mutator) clamp(t sim.Duration) sim.Duration {
	switch {
	case t < 0:
		return 0
	case t >= m.k.Duration:
		return m.k.Duration - 1
	}
	return t
}

func (m *mutator) node() int { return m.r.Intn(m.k.Targets) }

func (m *mutator) nextID() int {
	id := 0
	for _, a := range m.plan {
		if a.ID > id {
			id = a.ID
		}
		if a.Ref > id {
			id = a.Ref
		}
	}
	return id + 1
}

// dwell draws how long a fault lasts: mostly 100ms..2s, sometimes short.
func (m *mutator) dwell() sim.Duration {
	if m.k.ShortDown && m.r.Intn(3) == 0 {
		return m.r.Between(0, sim.ShortDownMax)
	}
	return m.r.Between(100*sim.Millisecond, 2*sim.Second)
}

// adders are the fault shapes add may draw for the allowed kinds.
func (m *mutator) adders() []func(t sim.Duration) sim.Plan {
	k := m.k
	var out []func(t sim.Duration) sim.Plan
	if k.Loss || k.Dup || k.Delay || k.Reorder {
		out = append(out, func(t sim.Duration) sim.Plan {
			n := m.netOptions(sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond})
			return sim.Plan{{At: t, Kind: sim.ActNet, Net: &n}}
		})
	}
	if k.Partition && k.Targets >= 2 {
		out = append(out, func(t sim.Duration) sim.Plan {
			var a sim.Action
			switch m.r.Intn(3) {
			case 0:
				a = sim.Action{Kind: sim.ActIsolate, Node: m.node()}
			case 1:
				a = sim.Action{Kind: sim.ActIsolate, Leader: true}
			default:
				perm := m.r.Perm(k.Targets)
				cut := 1 + m.r.Intn(k.Targets-1)
				a = sim.Action{Kind: sim.ActLinks, Cuts: sim.CutsBetween(perm[:cut], perm[cut:], !k.OneWay || m.r.Intn(2) == 0)}
			}
			a.At = t
			return sim.Plan{a, {At: t + m.dwell(), Kind: sim.ActHeal}}
		})
	}
	if k.Flaky && k.Targets >= 2 {
		out = append(out, func(t sim.Duration) sim.Plan {
			a := m.node()
			b := (a + 1 + m.r.Intn(k.Targets-1)) % k.Targets
			loss := sim.R(uint32(20+m.r.Intn(70)), 100)
			return sim.Plan{{At: t, Kind: sim.ActFlaky, Node: a, Peer: b, Ratio: loss},
				{At: t + m.dwell(), Kind: sim.ActFlaky, Node: a, Peer: b}}
		})
	}
	if k.Clog {
		out = append(out, func(t sim.Duration) sim.Plan {
			return sim.Plan{{At: t, Kind: sim.ActClog, Node: m.node(), Delay: m.r.Between(10*sim.Millisecond, 500*sim.Millisecond), For: m.dwell()}}
		})
	}
	if k.Crash || k.Pause {
		out = append(out, func(t sim.Duration) sim.Plan {
			id := m.nextID()
			a := sim.Action{ID: id, At: t, Kind: sim.ActCrash, Node: m.node()}
			back := sim.Action{Kind: sim.ActRestart, Ref: id}
			switch {
			case k.Pause && (!k.Crash || m.r.Intn(3) == 0):
				a.Kind, back.Kind = sim.ActPause, sim.ActResume
			case k.Wipe && m.r.Intn(4) == 0:
				a.Kind = sim.ActWipe
			}
			if k.CrashLeader && m.r.Intn(3) == 0 {
				a.Leader = true
			}
			back.At = t + m.dwell()
			p := sim.Plan{a, back}
			if a.Kind != sim.ActPause && k.Corrupt && m.r.Intn(4) == 0 {
				p = append(p, sim.Action{At: back.At, Kind: sim.ActCorrupt, Ref: id})
			}
			return p
		})
	}
	if k.CrashPoint {
		out = append(out, func(t sim.Duration) sim.Plan {
			a := sim.Action{At: t, Kind: sim.ActCrashPoint, Node: m.node(), Nth: 1 + m.r.Intn(4),
				Delay: sim.Duration(1+m.r.Intn(10)) * 100 * sim.Millisecond, For: m.dwell()}
			m.pointOp(&a)
			return sim.Plan{a}
		})
	}
	if k.Drift {
		out = append(out, func(t sim.Duration) sim.Plan {
			n := m.node()
			return sim.Plan{{At: t, Kind: sim.ActDrift, Node: n, PPM: m.ppm()}, {At: t + m.dwell(), Kind: sim.ActDrift, Node: n}}
		})
	}
	if k.Jump {
		out = append(out, func(t sim.Duration) sim.Plan {
			return sim.Plan{{At: t, Kind: sim.ActJump, Node: m.node(), Delay: m.jump()}}
		})
	}
	return out
}

func (m *mutator) ppm() int64 {
	p := int64(1000 + m.r.Intn(200_000))
	if m.r.Intn(2) == 0 {
		p = -p
	}
	return p
}

func (m *mutator) jump() sim.Duration {
	d := m.r.Between(10*sim.Millisecond, 2*sim.Second)
	if m.r.Intn(2) == 0 {
		d = -d
	}
	return d
}

// netOptions redraws one allowed knob of the network's behaviour.
func (m *mutator) netOptions(n sim.NetOptions) sim.NetOptions {
	k := m.k
	var knobs []func()
	knobs = append(knobs, func() {
		n.DelayMin = sim.Duration(m.r.Intn(500)) * sim.Microsecond
		n.DelayMax = n.DelayMin + sim.Duration(1+m.r.Intn(45))*sim.Millisecond
	})
	if k.Delay {
		knobs = append(knobs, func() {
			n.Tail = sim.R(uint32(1+m.r.Intn(10)), 100)
			n.TailMax = sim.Duration(100+m.r.Intn(2000)) * sim.Millisecond
		})
	}
	if k.Loss {
		knobs = append(knobs, func() { n.Loss = sim.R(uint32(m.r.Intn(21)), 100) })
	}
	if k.Dup {
		knobs = append(knobs, func() { n.Dup = sim.R(uint32(m.r.Intn(11)), 100) })
	}
	if k.Reorder {
		knobs = append(knobs, func() { n.Reorder = sim.R(uint32(m.r.Intn(51)), 100) })
	}
	knobs[m.r.Intn(len(knobs))]()
	return harsher(n, m.faults.Network.Base)
}

// harsher returns n with every knob at least as faulty as base's.
func harsher(n, base sim.NetOptions) sim.NetOptions {
	atLeast := func(r, floor sim.Ratio) sim.Ratio {
		if floor.Zero() || (!r.Zero() && uint64(r.Num)*uint64(floor.Den) >= uint64(floor.Num)*uint64(r.Den)) {
			return r
		}
		return floor
	}
	n.Loss, n.Dup, n.Reorder, n.Tail = atLeast(n.Loss, base.Loss), atLeast(n.Dup, base.Dup),
		atLeast(n.Reorder, base.Reorder), atLeast(n.Tail, base.Tail)
	if n.DelayMin < base.DelayMin {
		n.DelayMin = base.DelayMin
	}
	if n.DelayMax < base.DelayMax {
		n.DelayMax = base.DelayMax
	}
	if n.DelayMax < n.DelayMin {
		n.DelayMax = n.DelayMin
	}
	if n.TailMax < base.TailMax {
		n.TailMax = base.TailMax
	}
	return n
}

// pointOp picks the operation a crash point fires on.
func (m *mutator) pointOp(a *sim.Action) {
	ops := []string{sim.OnSend, sim.OnSend, sim.OnSync, sim.OnWrite, sim.OnAppend, sim.OnRename, sim.OnDelete}
	a.On = ops[m.r.Intn(len(ops))]
	a.Before = a.On != sim.OnSend && m.r.Intn(2) == 0
	a.Msg = ""
	if a.On == sim.OnSend && m.k.PointMsgs != "" && m.r.Intn(4) != 0 {
		msgs := strings.Split(m.k.PointMsgs, ",")
		a.Msg = msgs[m.r.Intn(len(msgs))]
	}
}

func (m *mutator) add(_ sim.Plan) bool {
	adders := m.adders()
	if len(adders) == 0 || len(m.plan) >= MaxGuidedActions || m.k.Duration <= 1 {
		return false
	}
	t := m.at()
	for _, a := range adders[m.r.Intn(len(adders))](t) {
		a.At = m.clamp(a.At)
		m.plan = append(m.plan, a)
	}
	return true
}

func (m *mutator) pick() (int, bool) {
	if len(m.plan) == 0 {
		return 0, false
	}
	return m.r.Intn(len(m.plan)), true
}

// base reports whether action i sets the scenario's network at time 0.
func (m *mutator) base(i int) bool { return m.plan[i].Kind == sim.ActNet && m.plan[i].At == 0 }

func (m *mutator) drop() bool {
	i, ok := m.pick()
	if !ok || m.base(i) {
		return false
	}
	m.plan = append(m.plan[:i], m.plan[i+1:]...)
	return true
}

func (m *mutator) shift() bool {
	i, ok := m.pick()
	if !ok || m.base(i) {
		return false
	}
	d := m.r.Between(0, 1000*sim.Millisecond)
	if m.r.Intn(2) == 0 {
		d = -d
	}
	m.plan[i].At = m.clamp(m.plan[i].At + d)
	return true
}

// lengthen makes a fault last longer or shorter: a crash point's downtime
// or window, a clog's length, or the time until the action that ends a
// fault (the restart of a crash, the heal after a partition, the link
// restored after a flaky spell) moves.
func (m *mutator) lengthen() bool {
	i, ok := m.pick()
	if !ok {
		return false
	}
	a := &m.plan[i]
	scale := func(d sim.Duration) sim.Duration {
		switch m.r.Intn(3) {
		case 0:
			return d * 2
		case 1:
			return d / 2
		}
		return m.r.Between(0, sim.ShortDownMax)
	}
	switch {
	case a.Kind == sim.ActCrashPoint && m.r.Intn(2) == 0:
		a.Delay = scale(a.Delay)
		if a.Delay == 0 {
			a.Delay = 100 * sim.Millisecond
		}
	case a.Kind == sim.ActCrashPoint || a.Kind == sim.ActClog:
		a.For = scale(a.For)
	default:
		j := m.end(i)
		if j < 0 {
			return false
		}
		gap := scale(m.plan[j].At - a.At)
		m.plan[j].At = m.clamp(a.At + gap)
	}
	if a.For > sim.MaxFaultSpan {
		a.For = sim.MaxFaultSpan
	}
	return true
}

// end returns the index of the action that ends the fault action i starts
// (-1: none): a restart or resume referring to it, the next heal after a
// partition, the next flaky action on the same link with no loss, the next
// drift back to true speed.
func (m *mutator) end(i int) int {
	a := m.plan[i]
	for j := range m.plan {
		b := m.plan[j]
		if j == i || b.At < a.At {
			continue
		}
		switch a.Kind {
		case sim.ActCrash, sim.ActWipe, sim.ActPause:
			if a.ID != 0 && b.Ref == a.ID && (b.Kind == sim.ActRestart || b.Kind == sim.ActResume) {
				return j
			}
		case sim.ActIsolate, sim.ActLinks:
			if b.Kind == sim.ActHeal {
				return j
			}
		case sim.ActFlaky:
			if b.Kind == sim.ActFlaky && b.Node == a.Node && b.Peer == a.Peer && b.Ratio.Zero() && !a.Ratio.Zero() {
				return j
			}
		case sim.ActDrift:
			if b.Kind == sim.ActDrift && b.Node == a.Node && b.PPM == 0 && a.PPM != 0 {
				return j
			}
		}
	}
	return -1
}

// retarget moves an action to another node, or to or from the leader.
func (m *mutator) retarget() bool {
	i, ok := m.pick()
	if !ok {
		return false
	}
	a := &m.plan[i]
	switch a.Kind {
	case sim.ActHeal, sim.ActNet, sim.ActLinks:
		if a.Kind == sim.ActLinks && m.k.Targets >= 2 && len(a.Cuts) > 0 {
			perm := m.r.Perm(m.k.Targets)
			for c := range a.Cuts {
				a.Cuts[c] = [2]int{perm[a.Cuts[c][0]], perm[a.Cuts[c][1]]}
			}
			return true
		}
		return false
	case sim.ActRestart, sim.ActResume, sim.ActCorrupt:
		if a.Ref != 0 {
			return false // follows its fault's node
		}
	}
	leaderOK := (a.Kind == sim.ActCrash && m.k.CrashLeader) || (a.Kind == sim.ActIsolate && m.k.Partition) ||
		(a.Kind == sim.ActPause && m.k.CrashLeader) || (a.Kind == sim.ActCrashPoint && m.k.CrashLeader)
	if leaderOK && m.r.Intn(3) == 0 {
		a.Leader = !a.Leader
		return true
	}
	a.Leader = false
	a.Node = m.node()
	if a.Kind == sim.ActFlaky && m.k.Targets >= 2 {
		a.Peer = (a.Node + 1 + m.r.Intn(m.k.Targets-1)) % m.k.Targets
	}
	return true
}

// options redraws one value of an action: a flaky link's loss, a clog's
// delay, a drift's rate, a jump's size, the network's behaviour.
func (m *mutator) options() bool {
	i, ok := m.pick()
	if !ok {
		return false
	}
	a := &m.plan[i]
	switch a.Kind {
	case sim.ActFlaky:
		if a.Ratio.Zero() {
			return false
		}
		a.Ratio = sim.R(uint32(5+m.r.Intn(95)), 100)
	case sim.ActClog:
		a.Delay = m.r.Between(sim.Millisecond, 1000*sim.Millisecond)
	case sim.ActDrift:
		if a.PPM == 0 {
			return false
		}
		a.PPM = m.ppm()
	case sim.ActJump:
		a.Delay = m.jump()
	case sim.ActNet:
		if a.Net == nil {
			return false
		}
		n := m.netOptions(*a.Net)
		a.Net = &n
	default:
		return false
	}
	return true
}

// crashPoint moves a crash point to another operation (another send
// type, a disk operation, before or after it, its Nth occurrence, what the
// disk keeps), or turns a crash into a crash point armed at the same time
// with the same downtime.
func (m *mutator) crashPoint() bool {
	if !m.k.CrashPoint {
		return false
	}
	var idx []int
	for i, a := range m.plan {
		if a.Kind == sim.ActCrashPoint || (a.Kind == sim.ActCrash && a.ID != 0) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return false
	}
	i := idx[m.r.Intn(len(idx))]
	a := &m.plan[i]
	if a.Kind == sim.ActCrash {
		j := m.end(i)
		down := 200 * sim.Millisecond
		if j >= 0 {
			down = m.plan[j].At - a.At // the point restarts the node itself
			m.plan = append(m.plan[:j], m.plan[j+1:]...)
			if j < i {
				i--
			}
			a = &m.plan[i]
		}
		*a = sim.Action{At: a.At, Kind: sim.ActCrashPoint, Node: a.Node, Leader: a.Leader, Nth: 1,
			Delay: 500 * sim.Millisecond, For: down}
		m.pointOp(a)
		return true
	}
	switch m.r.Intn(4) {
	case 0, 1:
		m.pointOp(a)
	case 2:
		a.Nth = 1 + m.r.Intn(8)
	default:
		if !m.k.Torn {
			a.Nth = 1 + m.r.Intn(8)
			break
		}
		if a.State != nil && m.r.Intn(2) == 0 {
			a.State = nil
		} else {
			a.State = &sim.CrashState{Keep: m.r.Intn(4), Torn: m.r.Intn(64) - 1}
		}
	}
	return true
}

// cross keeps parent's actions before a random instant and other's from
// it on; other's ids and refs are renumbered so they cannot collide.
func (m *mutator) cross(other sim.Plan) bool {
	if len(other) == 0 || m.k.Duration <= 1 {
		return false
	}
	t := m.at()
	base := m.nextID()
	var out sim.Plan
	for _, a := range m.plan {
		if a.At < t {
			out = append(out, a)
		}
	}
	for _, a := range clonePlan(other) {
		if a.At < t {
			continue
		}
		if a.ID != 0 {
			a.ID += base
		}
		if a.Ref != 0 {
			a.Ref += base
		}
		if !m.fits(a) {
			continue
		}
		out = append(out, a)
	}
	if len(out) > MaxGuidedActions {
		out = out[:MaxGuidedActions]
	}
	m.plan, m.crossed = out, true
	return true
}

// fits reports whether an action of another plan indexes only this
// scenario's targets.
func (m *mutator) fits(a sim.Action) bool {
	n := m.k.Targets
	if a.Node >= n || a.Peer >= n {
		return false
	}
	for _, c := range a.Cuts {
		if c[0] >= n || c[1] >= n {
			return false
		}
	}
	return true
}

// torn turns torn writes on crash (the world's disk option) on, or makes
// them likelier, where the scenario allows them.
func (m *mutator) torn() bool {
	t := m.faults.Disk.Torn
	if !m.k.Torn || (!t.Zero() && t.Num >= t.Den) {
		return false
	}
	n := sim.R(uint32(1+m.r.Intn(100)), 100)
	if !t.Zero() && uint64(n.Num)*uint64(t.Den) < uint64(t.Num)*uint64(n.Den) {
		n = sim.R(1, 1)
	}
	m.faults.Disk.Torn = n
	return true
}
