package sim

import "strings"

// NetworkFaults are the nemesis's network knobs. Probabilities are chances
// per decision step (Faults.Step).
type NetworkFaults struct {
	// Base is the message-level behaviour during the fault phase.
	Base NetOptions `json:"base"`
	// Partition is the chance per step of a new partition of some shape:
	// random halves, one node isolated, the leader isolated, a bridge (one
	// node sees both sides), a majorities ring, or one-way cuts.
	Partition Ratio `json:"partition,omitempty"`
	// OneWay allows asymmetric cuts among partition shapes.
	OneWay bool `json:"one_way,omitempty"`
	// Flaky is the chance per step that a single link becomes lossy.
	Flaky Ratio `json:"flaky,omitempty"`
	// Clog is the chance per step that a node's links slow down by up to
	// ClogMax for a while.
	Clog    Ratio    `json:"clog,omitempty"`
	ClogMax Duration `json:"clog_max_ns,omitempty"`
	// PartitionStability is the minimum dwell time of a partition state.
	PartitionStability Duration `json:"partition_stability_ns,omitempty"`
}

// ProcessFaults are the nemesis's process knobs.
type ProcessFaults struct {
	// Crash is the chance per step of crashing a node; CrashLeader is the
	// share of those crashes aimed at the current leader.
	Crash       Ratio `json:"crash,omitempty"`
	CrashLeader Ratio `json:"crash_leader,omitempty"`
	// Pause is the chance per step of pausing a node.
	Pause Ratio `json:"pause,omitempty"`
	// MaxDown bounds how many targets are crashed or paused at once (0: a
	// minority, (n-1)/2).
	MaxDown int `json:"max_down,omitempty"`
	// CrashStability is the minimum time a node stays down or paused.
	CrashStability Duration `json:"crash_stability_ns,omitempty"`
	// CrashPoint is the chance per step of arming a crash point on a
	// target: it crashes right after one of its next sends, or just
	// before or after one of its next disk operations (see ActCrashPoint),
	// within a second.
	CrashPoint Ratio `json:"crash_point,omitempty"`
	// PointMsgs names, comma-separated, the message types (MessageType)
	// that send crash points prefer: the messages that promise something
	// (votes, acknowledgements). Empty: any message. A string, not a
	// slice, so that Faults stays comparable.
	PointMsgs string `json:"point_msgs,omitempty"`
	// ShortDown is the share of crashes and pauses (crash points included)
	// whose downtime is drawn from 0..ShortDownMax instead of the
	// stability range: a quick restart while peers still act on what the
	// node promised before it died.
	ShortDown Ratio `json:"short_down,omitempty"`
}

// ShortDownMax bounds a short downtime (ProcessFaults.ShortDown).
const ShortDownMax = 100 * Millisecond

// DiskFaults are the nemesis's disk knobs.
type DiskFaults struct {
	// Torn is the chance a crash keeps a torn prefix of unsynced writes.
	Torn Ratio `json:"torn,omitempty"`
	// Wipe is the share of crashes that also erase the disk (amnesia).
	Wipe Ratio `json:"wipe,omitempty"`
	// Corrupt is the share of restarts preceded by a bit flip on disk.
	Corrupt Ratio `json:"corrupt,omitempty"`
}

// ClockFaults are the nemesis's clock knobs.
type ClockFaults struct {
	// Drift is the chance per step that a node's clock rate changes, to at
	// most DriftMaxPPM away from true speed.
	Drift       Ratio `json:"drift,omitempty"`
	DriftMaxPPM int64 `json:"drift_max_ppm,omitempty"`
	// Jump is the chance per step that a node's clock jumps by up to JumpMax
	// either way.
	Jump    Ratio    `json:"jump,omitempty"`
	JumpMax Duration `json:"jump_max_ns,omitempty"`
}

// Faults are every knob of the nemesis, one struct per domain; a plan is
// generated from them and a seed. The zero value injects nothing.
type Faults struct {
	// Step is how often the nemesis decides (default 100ms).
	Step    Duration      `json:"step_ns,omitempty"`
	Network NetworkFaults `json:"network"`
	Process ProcessFaults `json:"process"`
	Disk    DiskFaults    `json:"disk"`
	Clock   ClockFaults   `json:"clock"`
}

// Kinds says which fault kinds a scenario allows; swarm testing draws a
// random subset of them per seed.
type Kinds struct {
	Loss, Dup, Delay, Reorder        bool
	Partition, OneWay, Flaky, Clog   bool
	Crash, CrashLeader, Pause        bool
	Torn, Wipe, Corrupt, Drift, Jump bool
	// CrashPoint arms crash points tied to sends and disk operations;
	// ShortDown lets crashes and pauses last only 0..100ms.
	CrashPoint, ShortDown bool
	// PointMsgs are the message types send crash points prefer
	// (comma-separated, see ProcessFaults.PointMsgs).
	PointMsgs string
}

// AllKinds enables every fault kind except disk wipes (amnesia breaks the
// safety of most consensus protocols by design) and disk corruption (a
// swarm opts into it where the system's checksums are under test).
func AllKinds() Kinds {
	return Kinds{Loss: true, Dup: true, Delay: true, Reorder: true, Partition: true, OneWay: true,
		Flaky: true, Clog: true, Crash: true, CrashLeader: true, Pause: true, Torn: true,
		Corrupt: false, Drift: true, Jump: true, CrashPoint: true, ShortDown: true}
}

// Swarm draws a random subset of the allowed kinds at random intensities:
// swarm testing, so that each seed stresses a different mix of faults and
// rare combinations get real coverage.
func Swarm(r *Rand, k Kinds) Faults {
	on := func(allowed bool) bool { return allowed && r.Intn(2) == 0 }
	ratio := func(maxNum, den uint32) Ratio { return R(1+uint32(r.Intn(int(maxNum))), den) }
	f := Faults{Step: 100 * Millisecond}
	nf := &f.Network
	nf.Base.DelayMin = Duration(r.Intn(500)) * Microsecond
	nf.Base.DelayMax = nf.Base.DelayMin + Duration(1+r.Intn(5))*Millisecond
	if on(k.Delay) {
		nf.Base.DelayMax = nf.Base.DelayMin + Duration(5+r.Intn(40))*Millisecond
		nf.Base.Tail = ratio(10, 100)
		nf.Base.TailMax = Duration(100+r.Intn(2000)) * Millisecond
	}
	if on(k.Loss) {
		nf.Base.Loss = ratio(20, 100)
	}
	if on(k.Dup) {
		nf.Base.Dup = ratio(10, 100)
	}
	if on(k.Reorder) {
		nf.Base.Reorder = ratio(50, 100)
	}
	if on(k.Partition) {
		nf.Partition = ratio(20, 100)
		nf.OneWay = on(k.OneWay)
		nf.PartitionStability = Duration(200+r.Intn(1500)) * Millisecond
	}
	if on(k.Flaky) {
		nf.Flaky = ratio(10, 100)
	}
	if on(k.Clog) {
		nf.Clog = ratio(10, 100)
		nf.ClogMax = Duration(50+r.Intn(500)) * Millisecond
	}
	pf := &f.Process
	pf.CrashStability = Duration(200+r.Intn(1500)) * Millisecond
	if on(k.Crash) {
		pf.Crash = ratio(10, 100)
		if k.CrashLeader && r.Intn(2) == 0 {
			pf.CrashLeader = R(1, 2)
		}
	}
	if on(k.Pause) {
		pf.Pause = ratio(10, 100)
	}
	if on(k.Torn) {
		f.Disk.Torn = ratio(50, 100)
	}
	if on(k.Wipe) {
		f.Disk.Wipe = ratio(30, 100)
	}
	if on(k.Corrupt) {
		f.Disk.Corrupt = ratio(30, 100)
	}
	if on(k.Drift) {
		f.Clock.Drift = ratio(5, 100)
		f.Clock.DriftMaxPPM = int64(1000 + r.Intn(200_000))
	}
	if on(k.Jump) {
		f.Clock.Jump = ratio(5, 100)
		f.Clock.JumpMax = Duration(10+r.Intn(2000)) * Millisecond
	}
	// Drawn last, so that scenarios without these kinds keep their plans.
	if on(k.CrashPoint) {
		pf.CrashPoint = ratio(10, 100)
		pf.PointMsgs = k.PointMsgs
	}
	if on(k.ShortDown) {
		pf.ShortDown = ratio(100, 100)
	}
	return f
}

// GeneratePlan draws a fault plan over [0, duration) for n targets. Each
// fault domain draws from its own stream derived from seed, so enabling one
// kind does not reshuffle another's choices. Every fault it starts it also
// ends (heal, restart, resume) before duration.
func GeneratePlan(seed uint64, f Faults, n int, duration Duration) Plan {
	if n <= 0 || duration <= 0 {
		return nil
	}
	step := f.Step
	if step <= 0 {
		step = 100 * Millisecond
	}
	g := &gen{f: f, n: n, end: duration, step: step}
	var plan Plan
	if f.Network.Base != (NetOptions{}) {
		base := f.Network.Base
		plan = append(plan, Action{At: 0, Kind: ActNet, Net: &base})
	}
	plan = append(plan, g.partitions(NewRand(StreamSeed(seed, "nemesis/partition")))...)
	plan = append(plan, g.links(NewRand(StreamSeed(seed, "nemesis/link")))...)
	g.points = NewRand(StreamSeed(seed, "nemesis/crashpoint"))
	plan = append(plan, g.processes(NewRand(StreamSeed(seed, "nemesis/process")))...)
	plan = append(plan, g.clocks(NewRand(StreamSeed(seed, "nemesis/clock")))...)
	plan.Sort()
	return plan
}

type gen struct {
	f      Faults
	n      int
	end    Duration
	step   Duration
	id     int
	points *Rand // crash points and short downtimes: their own stream
}

func (g *gen) nextID() int { g.id++; return g.id }

// dwell draws a fault's duration: between the stability minimum and four
// times it, cut so the fault ends before the phase does.
func (g *gen) dwell(r *Rand, min Duration, t Duration) Duration {
	if min <= 0 {
		min = 300 * Millisecond
	}
	d := r.Between(min, 4*min)
	if t+d >= g.end {
		d = g.end - t - 1
	}
	return d
}

func (g *gen) partitions(r *Rand) Plan {
	nf := g.f.Network
	if nf.Partition.Zero() || g.n < 2 {
		return nil
	}
	var p Plan
	for t := g.step; t < g.end; t += g.step {
		if !r.Chance(nf.Partition) {
			continue
		}
		d := g.dwell(r, nf.PartitionStability, t)
		if d <= 0 {
			break
		}
		shapes := 5
		if nf.OneWay {
			shapes = 6
		}
		var a Action
		switch r.Intn(shapes) {
		case 0: // random halves
			perm := r.Perm(g.n)
			k := 1 + r.Intn(g.n-1)
			a = Action{Kind: ActLinks, Cuts: CutsBetween(perm[:k], perm[k:], true)}
		case 1: // one node isolated
			a = Action{Kind: ActIsolate, Node: r.Intn(g.n)}
		case 2: // the leader isolated
			a = Action{Kind: ActIsolate, Leader: true}
		case 3: // bridge: two sides, one node sees both
			if g.n < 3 {
				a = Action{Kind: ActIsolate, Node: r.Intn(g.n)}
				break
			}
			perm := r.Perm(g.n)
			rest := perm[1:]
			k := 1 + r.Intn(len(rest)-1)
			a = Action{Kind: ActLinks, Cuts: CutsBetween(rest[:k], rest[k:], true)}
		case 4: // majorities ring: each node sees its ring neighbours only
			a = Action{Kind: ActLinks, Cuts: RingCuts(r.Perm(g.n))}
		case 5: // one-way cuts: one side cannot hear the other
			perm := r.Perm(g.n)
			k := 1 + r.Intn(g.n-1)
			a = Action{Kind: ActLinks, Cuts: CutsBetween(perm[:k], perm[k:], false)}
		}
		a.At = t
		p = append(p, a, Action{At: t + d, Kind: ActHeal})
		t += d
	}
	return p
}

// between lists the cuts from every node of a to every node of b, and back
// if both.
// RingCuts returns the one-way cuts of a majorities ring over the targets
// in perm's order: each node keeps its links to the nearest (n/2+1)/2
// nodes on either side, so it sees a majority of n counting itself, and no
// two nodes far apart on the ring hear each other. Plans, the raft shapes
// and the KV shapes all draw the ring here.
func RingCuts(perm []int) [][2]int {
	n := len(perm)
	reach := (n/2 + 1) / 2
	var cuts [][2]int
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			dist := (j - i + n) % n
			if dist > n/2 {
				dist = n - dist
			}
			if i != j && dist > reach {
				cuts = append(cuts, [2]int{perm[i], perm[j]})
			}
		}
	}
	return cuts
}

// CutsBetween returns the cuts that split sides a and b: every link from a
// to b, and with both every link from b to a too (else a one-way cut). Plans
// and the guided search's mutations draw their splits here.
func CutsBetween(a, b []int, both bool) [][2]int {
	var cuts [][2]int
	for _, x := range a {
		for _, y := range b {
			cuts = append(cuts, [2]int{x, y})
			if both {
				cuts = append(cuts, [2]int{y, x})
			}
		}
	}
	return cuts
}

func (g *gen) links(r *Rand) Plan {
	nf := g.f.Network
	var p Plan
	if !nf.Flaky.Zero() && g.n >= 2 {
		for t := g.step; t < g.end; t += g.step {
			if !r.Chance(nf.Flaky) {
				continue
			}
			a, b := r.Intn(g.n), r.Intn(g.n-1)
			if b >= a {
				b++
			}
			d := g.dwell(r, nf.PartitionStability, t)
			if d <= 0 {
				break
			}
			loss := R(uint32(20+r.Intn(70)), 100)
			p = append(p, Action{At: t, Kind: ActFlaky, Node: a, Peer: b, Ratio: loss},
				Action{At: t + d, Kind: ActFlaky, Node: a, Peer: b})
			t += d
		}
	}
	if !nf.Clog.Zero() {
		for t := g.step; t < g.end; t += g.step {
			if !r.Chance(nf.Clog) {
				continue
			}
			d := g.dwell(r, nf.PartitionStability, t)
			if d <= 0 {
				break
			}
			max := nf.ClogMax
			if max <= 0 {
				max = 200 * Millisecond
			}
			p = append(p, Action{At: t, Kind: ActClog, Node: r.Intn(g.n), Delay: r.Between(max/4, max), For: d})
			t += d
		}
	}
	return p
}

func (g *gen) processes(r *Rand) Plan {
	pf, df := g.f.Process, g.f.Disk
	if pf.Crash.Zero() && pf.Pause.Zero() && pf.CrashPoint.Zero() {
		return nil
	}
	maxDown := pf.MaxDown
	if maxDown <= 0 {
		maxDown = (g.n - 1) / 2
	}
	if maxDown < 1 {
		maxDown = 1
	}
	downUntil := make([]Duration, g.n) // per target: down (or reserved) until
	leaderDown := Duration(0)          // a leader-targeted fault reserves one slot
	var p Plan
	for t := g.step; t < g.end; t += g.step {
		down := 0
		for _, u := range downUntil {
			if u > t {
				down++
			}
		}
		if leaderDown > t {
			down++
		}
		if down >= maxDown {
			continue
		}
		if a, ok := g.point(t, downUntil); ok {
			p = append(p, a)
			if down++; down >= maxDown {
				continue
			}
		}
		crash := r.Chance(pf.Crash)
		pause := !crash && r.Chance(pf.Pause)
		if !crash && !pause {
			continue
		}
		d := g.dwell(r, pf.CrashStability, t)
		if d <= 0 {
			break
		}
		d = g.shorten(d)
		id := g.nextID()
		var a Action
		if crash && r.Chance(pf.CrashLeader) {
			if leaderDown > t {
				continue
			}
			// The leader is resolved at run time, so reserve every slot we
			// cannot predict: no other crash until it is back.
			a = Action{ID: id, At: t, Kind: ActCrash, Leader: true}
			leaderDown = t + d
			for i := range downUntil {
				if downUntil[i] < t+d {
					downUntil[i] = t + d
				}
			}
		} else {
			var free []int
			for i, u := range downUntil {
				if u <= t {
					free = append(free, i)
				}
			}
			if len(free) == 0 {
				continue
			}
			node := free[r.Intn(len(free))]
			downUntil[node] = t + d
			a = Action{ID: id, At: t, Kind: ActCrash, Node: node}
		}
		if pause {
			a.Kind = ActPause
		} else if r.Chance(df.Wipe) {
			a.Kind = ActWipe
		}
		back := Action{At: t + d, Kind: ActRestart, Ref: id}
		if pause {
			back.Kind = ActResume
		}
		p = append(p, a)
		if !pause && r.Chance(df.Corrupt) {
			p = append(p, Action{At: t + d - 1, Kind: ActCorrupt, Ref: id})
		}
		p = append(p, back)
	}
	return p
}

// shorten replaces a downtime by a short one (0..ShortDownMax) with the
// ShortDown chance, drawn from the crash point stream so that plans
// without short downtimes keep their draws. A short downtime is never
// longer than d, which dwell already ended with the fault phase.
func (g *gen) shorten(d Duration) Duration {
	if sd := g.f.Process.ShortDown; !sd.Zero() && g.points.Chance(sd) {
		return min(g.points.Between(0, ShortDownMax), d)
	}
	return d
}

// pointOps are the operations a generated crash point fires on, sends
// weighted up: most promises leave in messages.
var pointOps = []struct {
	on     string
	before bool
}{
	{OnSend, false}, {OnSend, false}, {OnSend, false},
	{OnSync, true}, {OnSync, false}, {OnWrite, false}, {OnAppend, false},
	{OnRename, true}, {OnRename, false},
}

// point draws whether to arm a crash point at t on a target that is up (and
// not reserved) and, if so, reserves that target for the arming window and
// the downtime after it so that the processes' MaxDown bound still holds.
func (g *gen) point(t Duration, downUntil []Duration) (Action, bool) {
	pf := g.f.Process
	r := g.points
	if pf.CrashPoint.Zero() || !r.Chance(pf.CrashPoint) {
		return Action{}, false
	}
	var free []int
	for i, u := range downUntil {
		if u <= t {
			free = append(free, i)
		}
	}
	if len(free) == 0 {
		return Action{}, false
	}
	node := free[r.Intn(len(free))]
	window := Duration(1+r.Intn(10)) * g.step
	down := g.dwell(r, pf.CrashStability, t)
	if sd := pf.ShortDown; !sd.Zero() && r.Chance(sd) {
		down = r.Between(0, ShortDownMax)
	}
	if down <= 0 || t+window+down >= g.end {
		return Action{}, false
	}
	op := pointOps[r.Intn(len(pointOps))]
	a := Action{At: t, Kind: ActCrashPoint, Node: node, On: op.on, Before: op.before,
		Nth: 1 + r.Intn(4), Delay: window, For: down}
	if msgs := strings.Split(pf.PointMsgs, ","); op.on == OnSend && pf.PointMsgs != "" && r.Intn(4) != 0 {
		a.Msg = msgs[r.Intn(len(msgs))]
	}
	downUntil[node] = t + window + down
	return a, true
}

func (g *gen) clocks(r *Rand) Plan {
	cf := g.f.Clock
	var p Plan
	if !cf.Drift.Zero() && cf.DriftMaxPPM > 0 {
		for t := g.step; t < g.end; t += g.step {
			if r.Chance(cf.Drift) {
				ppm := int64(r.Uint64n(uint64(2*cf.DriftMaxPPM+1))) - cf.DriftMaxPPM
				if ppm <= -1_000_000 {
					ppm = -999_999
				} else if ppm >= 1_000_000 {
					ppm = 999_999
				}
				p = append(p, Action{At: t, Kind: ActDrift, Node: r.Intn(g.n), PPM: ppm})
			}
		}
	}
	if !cf.Jump.Zero() && cf.JumpMax > 0 {
		for t := g.step; t < g.end; t += g.step {
			if r.Chance(cf.Jump) {
				p = append(p, Action{At: t, Kind: ActJump, Node: r.Intn(g.n), Delay: r.Between(-cf.JumpMax, cf.JumpMax)})
			}
		}
	}
	return p
}
