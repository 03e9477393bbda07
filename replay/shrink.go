package replay

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// ShrinkOptions bound a shrink.
type ShrinkOptions struct {
	// MaxRuns bounds the candidate runs tried (default 400).
	MaxRuns int
	// Limit is each run's wall-clock limit (default 60s).
	Limit time.Duration
	// Log, when set, receives one line per accepted reduction.
	Log func(format string, args ...any)
	// Stop, when closed, ends the search after the run in progress: Shrink
	// returns the smallest failing case found so far (ShrinkReport.Stopped),
	// or ErrShrinkStopped if the failure was not yet reproduced.
	Stop <-chan struct{}
}

// ErrShrinkStopped is Shrink's error when ShrinkOptions.Stop closed before
// the failure was reproduced once: there is nothing smaller to give.
var ErrShrinkStopped = errors.New("shrink: stopped before the failure was reproduced")

// ShrinkReport says how much smaller the failure got.
type ShrinkReport struct {
	Before, After Size
	Runs          int
	// Stopped means ShrinkOptions.Stop cut the search short.
	Stopped bool
}

// candidate is one point of the search: a plan, a fault phase and a variant.
type candidate struct {
	plan     sim.Plan
	duration sim.Duration
	variant  scenarios.Variant
}

// Shrink searches deterministically for a smaller failing case with the same
// checker: delta debugging (ddmin) over the plan's actions, then shorter
// fault durations (restart sooner, shorter clogs), a shorter fault phase, and
// fewer clients or operations where the scenario exposes them as integer
// variant keys (names containing "client" or "ops"). It returns the smaller
// failure file (with the same seed) and the sizes before and after. For a
// determinism failure (DivergenceChecker) the property kept is "two runs
// of the candidate differ".
func Shrink(f *File, o ShrinkOptions) (*File, *ShrinkReport, error) {
	if o.MaxRuns <= 0 {
		o.MaxRuns = 400
	}
	if o.Limit <= 0 {
		o.Limit = 60 * time.Second
	}
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if len(f.Plan) > MaxPlanActions {
		return nil, nil, fmt.Errorf("shrink: plan has %d actions, more than %d", len(f.Plan), MaxPlanActions)
	}
	if f.PlanGenerated || f.Failure.Checker == HangChecker {
		return nil, nil, errors.New("shrink: a hang cannot be shrunk by rerunning it; fix the loop first")
	}
	s, v, cfg, err := f.Config()
	if err != nil {
		return nil, nil, fmt.Errorf("shrink: %w", err)
	}
	base, err := scenarios.Lookup(f.Scenario)
	if err != nil {
		return nil, nil, fmt.Errorf("shrink: %w", err)
	}
	checker := f.Failure.Checker
	runs := 0
	var last *scenarios.Result
	stopped := func() bool {
		select {
		case <-o.Stop:
			return true
		default:
			return false
		}
	}
	try := func(c candidate) bool {
		if runs >= o.MaxRuns || stopped() {
			return false
		}
		runs++
		sc := *base
		sc.Duration = c.duration
		p := append(sim.Plan{}, c.plan...)
		ccfg := scenarios.Config{Plan: &p, Faults: cfg.Faults}
		res, ok := shrinkRun(&sc, c.variant, f.Seed, ccfg, o.Limit, checker)
		if ok {
			last = res
		}
		return ok
	}
	cur := candidate{plan: append(sim.Plan{}, f.Plan...), duration: s.Duration, variant: copyVariant(v)}
	if !try(cur) {
		if stopped() {
			return nil, nil, ErrShrinkStopped
		}
		return nil, nil, fmt.Errorf("shrink: %s seed %d does not fail with %q when replayed; nothing to shrink", f.Scenario, f.Seed, checker)
	}
	best := last
	accept := func(c candidate, what string) bool {
		if try(c) {
			cur, best = c, last
			logf("shrink: %s -> actions=%d events=%d", what, len(c.plan), last.Events)
			return true
		}
		return false
	}

	for progress := true; progress && runs < o.MaxRuns; {
		progress = false
		// 1. Fewer actions.
		n0 := len(cur.plan)
		keep := ddmin(len(cur.plan), func(idx []int) bool {
			return try(candidate{plan: pick(cur.plan, idx), duration: cur.duration, variant: cur.variant})
		})
		if len(keep) < n0 {
			c := candidate{plan: pick(cur.plan, keep), duration: cur.duration, variant: cur.variant}
			if accept(c, fmt.Sprintf("ddmin %d -> %d actions", n0, len(keep))) {
				progress = true
			}
		}
		// 2. Shorter faults: bring restarts and resumes closer to their
		// crash or pause, halve clogs and crash points' downtimes, fire
		// crash points at an earlier matching operation.
		for i := range cur.plan {
			for tries := 0; tries < 8; tries++ {
				a := cur.plan[i]
				c := candidate{plan: append(sim.Plan{}, cur.plan...), duration: cur.duration, variant: cur.variant}
				switch {
				case a.For > sim.Millisecond:
					c.plan[i].For = a.For / 2
				case a.Kind == sim.ActCrashPoint && a.Nth > 1:
					c.plan[i].Nth = a.Nth - 1 // an earlier operation
				case a.Ref != 0:
					from, ok := refTime(cur.plan, a.Ref)
					if !ok || a.At-from <= sim.Millisecond {
						tries = 8
						continue
					}
					c.plan[i].At = from + (a.At-from)/2
					c.plan.Sort()
				default:
					tries = 8
					continue
				}
				if !accept(c, fmt.Sprintf("shorten action %d", i)) {
					break
				}
				progress = true
			}
		}
		// 3. A shorter fault phase (actions past its end dropped).
		for cur.duration > 100*sim.Millisecond {
			d := cur.duration / 2
			var p sim.Plan
			for _, a := range cur.plan {
				if a.At < d {
					p = append(p, a)
				}
			}
			if !accept(candidate{plan: p, duration: d, variant: cur.variant}, fmt.Sprintf("fault phase %v", d)) {
				break
			}
			progress = true
		}
		// 4. Fewer clients or operations.
		for _, prm := range base.Params {
			k := strings.ToLower(prm.Key)
			if !strings.Contains(k, "client") && !strings.Contains(k, "ops") {
				continue
			}
			val := prm.Default
			if x, ok := cur.variant[prm.Key]; ok {
				val = x
			}
			n, err := strconv.Atoi(val)
			if err != nil {
				continue
			}
			for _, m := range []int{1, n / 2, n - 1} {
				if m < 1 || m >= n {
					continue
				}
				vv := copyVariant(cur.variant)
				vv[prm.Key] = strconv.Itoa(m)
				if accept(candidate{plan: cur.plan, duration: cur.duration, variant: vv}, fmt.Sprintf("%s=%d", prm.Key, m)) {
					progress = true
					break
				}
			}
		}
	}
	out := FromResult(best, "shrink")
	out.Plan = append(sim.Plan{}, cur.plan...)
	if cur.duration != base.Duration {
		out.Duration = cur.duration
	}
	before := f.Size()
	out.ShrunkFrom = &before
	if checker != DivergenceChecker { // two runs part at no one event
		out.Capture(min(len(f.TraceTail)+40, MaxTraceTail), o.Limit)
	}
	return out, &ShrinkReport{Before: before, After: out.Size(), Runs: runs, Stopped: stopped()}, nil
}

func copyVariant(v scenarios.Variant) scenarios.Variant {
	out := scenarios.Variant{}
	for k, x := range v {
		out[k] = x
	}
	return out
}

func refTime(p sim.Plan, id int) (sim.Duration, bool) {
	for _, a := range p {
		if a.ID == id {
			return a.At, true
		}
	}
	return 0, false
}

func pick(p sim.Plan, idx []int) sim.Plan {
	out := make(sim.Plan, 0, len(idx))
	for _, i := range idx {
		out = append(out, p[i])
	}
	return out
}

// ddmin is Zeller's delta debugging: it returns a 1-minimal subset of
// 0..n-1 (in order) for which fails holds, assuming fails holds for all of
// them. fails is called only with proper subsets.
func ddmin(n int, fails func(idx []int) bool) []int {
	items := make([]int, n)
	for i := range items {
		items[i] = i
	}
	if n == 0 {
		return items
	}
	if fails(nil) {
		return nil
	}
	parts := 2
	for len(items) >= 2 {
		chunks := split(items, parts)
		reduced := false
		for _, c := range chunks {
			if len(c) < len(items) && fails(c) {
				items, parts, reduced = c, 2, true
				break
			}
		}
		if !reduced && parts > 2 {
			for i := range chunks {
				comp := complement(chunks, i)
				if fails(comp) {
					items, reduced = comp, true
					if parts--; parts < 2 {
						parts = 2
					}
					break
				}
			}
		}
		if !reduced {
			if parts >= len(items) {
				break
			}
			parts *= 2
			if parts > len(items) {
				parts = len(items)
			}
		}
	}
	sort.Ints(items)
	return items
}

func split(items []int, parts int) [][]int {
	var out [][]int
	start := 0
	for i := 0; i < parts; i++ {
		end := start + (len(items)-start)/(parts-i)
		if end > start {
			out = append(out, items[start:end])
		}
		start = end
	}
	return out
}

func complement(chunks [][]int, skip int) []int {
	var out []int
	for i, c := range chunks {
		if i != skip {
			out = append(out, c...)
		}
	}
	return out
}
