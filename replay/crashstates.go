package replay

import (
	"fmt"
	"strings"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// CrashPoint picks where crash-state enumeration crashes a node: before the
// first Sync, at or after event Event's virtual time, of the node event
// Event belonged to (or Node, when set) — the moment its unsynced writes
// are about to become durable.
type CrashPoint struct {
	Event uint64
	Node  string
	// Down is the downtime before the crashed node restarts.
	Down sim.Duration
}

// StateRun is one enumerated crash state and the run that tried it.
type StateRun struct {
	State  sim.CrashState
	Result *scenarios.Result
}

// CrashReport is the outcome of crash-state enumeration.
type CrashReport struct {
	Node    string       // the node crashed
	At      sim.Time     // event Event's virtual time: the point is armed then
	Fired   bool         // whether the node synced at all after At
	FiredAt sim.Time     // when the point fired
	Ops     []sim.DiskOp // the unsynced operations at the point
	Runs    []StateRun   // one per sim.CrashStates(Ops)
}

// Broken returns the runs whose state broke a checker.
func (r *CrashReport) Broken() []StateRun {
	var out []StateRun
	for _, s := range r.Runs {
		if s.Result.Failure != nil {
			out = append(out, s)
		}
	}
	return out
}

// BadPointError is a crash point that names no usable node or event: bad
// input, not a failure.
type BadPointError struct{ Msg string }

func (e *BadPointError) Error() string { return e.Msg }

// CrashStates runs crash-state enumeration for (s, v, seed) at point p, as
// gosim's crash-state iteration does: a probe run learns the node's
// unsynced disk operations when the point fires (the crash vetoed), then
// one run per state the disk could be left in (each prefix of them, the
// last one torn at a few lengths; sim.CrashStates) crashes the node there
// with exactly that state, restarts it after p.Down and runs every checker.
// Each state is a plan action (sim.ActCrashPoint with a State) added to the
// seed's plan, so a state that breaks a checker is an ordinary failure:
// FromResult makes its file, replayed and shrunk like any other.
func CrashStates(s *scenarios.Scenario, v scenarios.Variant, seed uint64, p CrashPoint) (*CrashReport, error) {
	ids, ok := s.TargetIDs(v, seed)
	if !ok || len(ids) == 0 {
		return nil, &BadPointError{fmt.Sprintf("%s has no fault targets to crash", s.Name)}
	}
	var w *sim.World
	first := scenarios.Run(s, v, seed, scenarios.Config{BreakAt: p.Event, Observe: func(x *sim.World) { w = x }})
	if p.Event == 0 || first.Events < p.Event {
		return nil, &BadPointError{fmt.Sprintf("event %d: the run has events 1..%d", p.Event, first.Events)}
	}
	rep := &CrashReport{At: first.VTime, Node: p.Node}
	if rep.Node == "" {
		if n := w.LastNode(); n != sim.NoNode {
			rep.Node = w.Name(n)
		}
	}
	target := -1
	var names []string
	for i, id := range ids {
		names = append(names, w.Name(id))
		if w.Name(id) == rep.Node {
			target = i
		}
	}
	if target < 0 {
		what := fmt.Sprintf("event %d belongs to %q", p.Event, rep.Node)
		switch {
		case p.Node != "":
			what = fmt.Sprintf("node %q", p.Node)
		case rep.Node == "":
			what = fmt.Sprintf("event %d belongs to no node", p.Event)
		}
		return nil, &BadPointError{fmt.Sprintf("%s, which is not a fault target (%s)", what, strings.Join(names, ", "))}
	}
	base := scenarios.Run(s, v, seed, scenarios.Config{}).Plan
	point := sim.Action{At: sim.Duration(rep.At), Kind: sim.ActCrashPoint, Node: target, On: sim.OnSync, Before: true, Nth: 1, For: p.Down}

	probe := withAction(base, point)
	scenarios.Run(s, v, seed, scenarios.Config{Plan: &probe, Observe: func(x *sim.World) {
		x.OnCrashPoint(func(id sim.NodeID, unsynced []sim.DiskOp) bool {
			rep.Ops, rep.FiredAt, rep.Fired = unsynced, x.Now(), true
			return false
		})
	}})
	if !rep.Fired {
		return rep, nil
	}
	for _, st := range sim.CrashStates(rep.Ops) {
		st := st
		a := point
		a.State = &st
		plan := withAction(base, a)
		rep.Runs = append(rep.Runs, StateRun{State: st, Result: scenarios.Run(s, v, seed, scenarios.Config{Plan: &plan})})
	}
	return rep, nil
}

// withAction returns plan with a added in time order, leaving plan as is.
func withAction(plan sim.Plan, a sim.Action) sim.Plan {
	p := append(append(sim.Plan(nil), plan...), a)
	p.Sort()
	return p
}

// DescribeState says in a few words what a crash state keeps of ops.
func DescribeState(st sim.CrashState, ops []sim.DiskOp) string {
	switch {
	case st.Keep == 0:
		return "keeps none"
	case st.Torn >= 0 && st.Keep <= len(ops):
		return fmt.Sprintf("keeps %d, op %d torn at %d/%d B", st.Keep, st.Keep, st.Torn, len(ops[st.Keep-1].Data))
	case st.Keep == len(ops):
		return fmt.Sprintf("keeps all %d", st.Keep)
	}
	return fmt.Sprintf("keeps %d of %d", st.Keep, len(ops))
}
