package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// restarter fails its run once it has been restarted three times: a bug
// only a plan with three crashes of one node reaches. Each restart count
// is a fact, so a guided search can climb to it one crash at a time, while
// fresh plans (one crash in a hundred steps) almost never get there.
type restarter struct{}

func (restarter) Start(env *sim.Env) {
	n := env.Incarnation() / 2 // a crash and a restart each count one
	if n > 0 {
		env.Sometimes(fmt.Sprintf("guided: restart %d", n))
	}
	if n >= 3 {
		env.Fail("restarts", "%s restarted %d times", env.Name(), n)
	}
}
func (restarter) Receive(sim.NodeID, sim.Message) {}

func init() {
	scenarios.Register(&scenarios.Scenario{Name: "test/unsafe-three-restarts", Unsafe: true, Duration: 3 * sim.Second,
		Description: "test only: fails when one node restarts three times",
		Faults: func(scenarios.Variant) sim.Faults {
			return sim.Faults{Step: 100 * sim.Millisecond,
				Process: sim.ProcessFaults{Crash: sim.R(1, 100), CrashStability: 100 * sim.Millisecond, ShortDown: sim.R(1, 2)}}
		},
		Setup: func(c *scenarios.Cluster) error {
			for i := 0; i < 3; i++ {
				c.Servers(c.W.AddNode(fmt.Sprintf("n%d", i), func() sim.Node { return restarter{} }))
			}
			return nil
		}})
}

// guidedView is what must be identical between two guided campaigns of one
// seed: the corpus, the failures (file base names: the directories
// differ), the coverage and the counts.
func guidedView(t *testing.T, sum *Summary, rep *GuidedReport) string {
	t.Helper()
	fails := make([]Failure, len(sum.Failures))
	for i, f := range sum.Failures {
		f.File, f.Repro = filepath.Base(f.File), filepath.Base(f.Repro)
		fails[i] = f
	}
	b, err := json.Marshal(struct {
		Runs, Passed, Events uint64
		Failures             []Failure
		Coverage             map[string]*Facts
		Report               *GuidedReport
	}{sum.Runs, sum.Passed, sum.Events, fails, sum.Coverage, rep})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGuidedIsDeterministic(t *testing.T) {
	for _, sig := range []Signal{FactSignal{}, StateSignal{}} {
		t.Run(sig.Name(), func(t *testing.T) { testGuidedIsDeterministic(t, sig) })
	}
}

func testGuidedIsDeterministic(t *testing.T, sig Signal) {
	ss := match(t, "test/unsafe-three-restarts", "counter/crash")
	run := func(workers int) string {
		o := GuidedOptions{Scenarios: ss, Runs: 60, From: 7, Workers: workers, Out: t.TempDir(),
			DoubleRunEvery: 1 << 40, FilesPerChecker: -1, Signal: sig}
		sum, rep := RunGuided(context.Background(), o)
		if sum.Runs != 120 || rep.Mutated == 0 || len(rep.Corpus) == 0 {
			t.Fatalf("runs %d, mutated %d, corpus %d: want 120 runs, some mutated, a corpus", sum.Runs, rep.Mutated, len(rep.Corpus))
		}
		return guidedView(t, sum, rep)
	}
	one, again, three := run(1), run(1), run(3)
	if d := cmp.Diff(one, again); d != "" {
		t.Fatalf("two guided campaigns of one seed differ (-first +second):\n%s", d)
	}
	if d := cmp.Diff(one, three); d != "" {
		t.Fatalf("1 worker and 3 workers differ (-1 +3):\n%s", d)
	}
	o := GuidedOptions{Scenarios: ss, Runs: 60, From: 8, Workers: 2, DoubleRunEvery: 1 << 40, Signal: sig}
	sum, rep := RunGuided(context.Background(), o)
	if guidedView(t, sum, rep) == one {
		t.Fatal("another seed gave the same search")
	}
}

// TestGuidedFindsWhatSeedsMiss: a plan with three crashes of one node is
// out of reach of the scenario's own plans in 150 seeds, and within reach
// of a guided campaign of the same budget, whose failure file (a mutated
// plan) replays to the same failure and shrinks.
func TestGuidedFindsWhatSeedsMiss(t *testing.T) {
	ss := match(t, "test/unsafe-three-restarts")
	plain := Run(context.Background(), Options{Scenarios: ss, Seeds: 150, From: 1, Workers: 2, DoubleRunEvery: 1 << 40})
	if len(plain.Failures) != 0 {
		t.Fatalf("plain seeds found it (%d failures): the test scenario is too easy", len(plain.Failures))
	}
	dir := t.TempDir()
	sum, rep := RunGuided(context.Background(), GuidedOptions{Scenarios: ss, Runs: 150, From: 1, Workers: 2, Out: dir,
		DoubleRunEvery: 8, MaxFailures: 1})
	if len(sum.Failures) != 1 {
		t.Fatalf("guided: %d failures in %d runs (corpus %d, %d features); want 1", len(sum.Failures), sum.Runs, len(rep.Corpus), rep.Features)
	}
	f := sum.Failures[0]
	t.Logf("guided found %s after %d runs (corpus %d): %s", f.Checker, sum.Runs, len(rep.Corpus), f.File)
	if f.Checker != "restarts" || !strings.Contains(f.File, "-g") {
		t.Fatalf("failure %+v: want checker restarts from a mutated plan's file", f)
	}
	file, err := replay.Read(f.File)
	if err != nil {
		t.Fatal(err)
	}
	if file.FoundBy != "guided" || len(file.Plan) == 0 {
		t.Fatalf("file found by %q with %d actions", file.FoundBy, len(file.Plan))
	}
	out, err := replay.Replay(file, replay.Options{})
	if err != nil || !out.Same {
		t.Fatalf("replay: err %v, diffs %v", err, out.Diffs)
	}
	small, r, err := replay.Shrink(file, replay.ShrinkOptions{MaxRuns: 100})
	if err != nil {
		t.Fatal(err)
	}
	if small.Failure.Checker != "restarts" || r.After.Actions > r.Before.Actions {
		t.Fatalf("shrink: %s, %d -> %d actions", small.Failure.Checker, r.Before.Actions, r.After.Actions)
	}
}

func TestGuidedRefusesBadOptions(t *testing.T) {
	ss := match(t, "counter/crash")
	for _, o := range []GuidedOptions{
		{Scenarios: ss, Runs: 10, Workers: -1},
		{Scenarios: ss, Runs: 3, From: ^uint64(0)},
		{Scenarios: ss, Runs: 3, FreshEvery: -2},
	} {
		sum, _ := RunGuided(context.Background(), o)
		if sum.Runs != 0 || len(sum.Problems) != 1 || !strings.HasPrefix(sum.Problems[0], "campaign not run: ") {
			t.Errorf("%+v: runs %d, problems %q", o, sum.Runs, sum.Problems)
		}
	}
}

func TestGuidedStopsAtMaxFailuresDeterministically(t *testing.T) {
	ss := match(t, "counter/unsafe-nosync")
	var seen []string
	for _, w := range []int{1, 4} {
		sum, _ := RunGuided(context.Background(), GuidedOptions{Scenarios: ss, Runs: 40, Workers: w, MaxFailures: 3, DoubleRunEvery: 1 << 40})
		if len(sum.Failures) != 3 || sum.Runs != 3 || sum.StoppedAfterFailures != 3 {
			t.Fatalf("workers %d: %d failures in %d runs: want the first 3 runs' failures only", w, len(sum.Failures), sum.Runs)
		}
		seen = append(seen, fmt.Sprint(sum.Failures))
	}
	if seen[0] != seen[1] {
		t.Fatalf("failures depend on workers:\n%s\n%s", seen[0], seen[1])
	}
}

func TestFactFeaturesBuckets(t *testing.T) {
	res := &scenarios.Result{Scenario: "s/x", Coverage: map[string]uint64{"a": 1, "b": 5, "c": 300},
		Metrics: map[string]float64{"leader_changes": 7, "no_leader_max_ns": 346e6, "zero": 0, "neg": -3}}
	got := FactFeatures(res)
	want := []string{"s/x|a|1", "s/x|b|4", "s/x|c|128"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
	// 7 has bit length 3; 346 ms has 9; 0 has 0; -3 is "-2".
	want = []string{"s/x|m:leader_changes|3", "s/x|m:neg|-2", "s/x|m:no_leader_max_ns|9", "s/x|m:zero|0"}
	if d := cmp.Diff(want, MetricFeatures(res)); d != "" {
		t.Fatal(d)
	}
}

// actionKinds are the plan action kinds fault kinds k allow a mutation to
// add.
func actionKinds(k sim.Kinds) map[string]bool {
	m := map[string]bool{}
	on := func(b bool, kinds ...string) {
		if b {
			for _, x := range kinds {
				m[x] = true
			}
		}
	}
	on(k.Loss || k.Dup || k.Delay || k.Reorder, sim.ActNet)
	on(k.Partition, sim.ActIsolate, sim.ActLinks, sim.ActHeal)
	on(k.Flaky, sim.ActFlaky)
	on(k.Clog, sim.ActClog)
	on(k.Crash, sim.ActCrash, sim.ActRestart)
	on(k.Pause, sim.ActPause, sim.ActResume)
	on(k.Wipe && k.Crash, sim.ActWipe)
	on(k.Corrupt && k.Crash, sim.ActCorrupt)
	on(k.CrashPoint, sim.ActCrashPoint)
	on(k.Drift, sim.ActDrift)
	on(k.Jump, sim.ActJump)
	return m
}

// TestMutateKeepsPlansValid: whatever the scenario's kinds, targets, phase
// and parent plans, a mutated plan validates, is sorted, stays inside the
// fault phase, holds only kinds the scenario allows or its parents held,
// and tears writes only where torn writes are allowed.
func TestMutateKeepsPlansValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := func(name string) bool { return rapid.Bool().Draw(t, name) }
		k := sim.Kinds{Loss: b("loss"), Dup: b("dup"), Delay: b("delay"), Reorder: b("reorder"), Partition: b("partition"),
			OneWay: b("oneway"), Flaky: b("flaky"), Clog: b("clog"), Crash: b("crash"), CrashLeader: b("crashleader"),
			Pause: b("pause"), Torn: b("torn"), Wipe: b("wipe"), Corrupt: b("corrupt"), Drift: b("drift"), Jump: b("jump"),
			CrashPoint: b("crashpoint"), ShortDown: b("shortdown")}
		if b("pointmsgs") {
			k.PointMsgs = "vote,append"
		}
		targets := rapid.IntRange(1, 7).Draw(t, "targets")
		dur := sim.Duration(rapid.Int64Range(1, 10_000).Draw(t, "ms")) * sim.Millisecond
		faults := sim.Swarm(sim.NewRand(rapid.Uint64().Draw(t, "swarm")), k)
		parent := sim.GeneratePlan(rapid.Uint64().Draw(t, "plan"), faults, targets, dur)
		var other sim.Plan
		if b("cross") {
			other = sim.GeneratePlan(rapid.Uint64().Draw(t, "other"), faults, targets, dur)
		}
		if b("empty") {
			parent = sim.Plan{}
		}
		r := sim.NewRand(rapid.Uint64().Draw(t, "mutate"))
		fk := FaultKinds{Kinds: k, Targets: targets, Duration: dur}
		for i := 0; i < 5; i++ {
			m := Mutate(r, fk, parent, faults, other)
			if err := m.Plan.Validate(targets); err != nil {
				t.Fatalf("ops %v: %v", m.Ops, err)
			}
			allowed := actionKinds(k)
			for _, p := range []sim.Plan{parent, other} {
				for _, a := range p {
					allowed[a.Kind] = true
				}
			}
			for j, a := range m.Plan {
				if a.At < 0 || a.At >= dur {
					t.Fatalf("ops %v: action %d at %v outside the fault phase %v", m.Ops, j, a.At, dur)
				}
				if j > 0 && m.Plan[j-1].At > a.At {
					t.Fatalf("ops %v: plan not sorted at %d", m.Ops, j)
				}
				if !allowed[a.Kind] {
					t.Fatalf("ops %v: kind %s not allowed by %+v", m.Ops, a.Kind, k)
				}
				if a.State != nil && a.State.Torn >= 0 && !k.Torn {
					t.Fatalf("ops %v: a torn crash state without torn writes", m.Ops)
				}
			}
			if !k.Torn && m.Faults.Disk.Torn != faults.Disk.Torn {
				t.Fatalf("ops %v: torn writes changed without the kind", m.Ops)
			}
			if ft, mt := faults.Disk.Torn, m.Faults.Disk.Torn; !ft.Zero() && (mt.Zero() || uint64(mt.Num)*uint64(ft.Den) < uint64(ft.Num)*uint64(mt.Den)) {
				t.Fatalf("ops %v: torn writes %v made rarer than the scenario's %v", m.Ops, mt, ft)
			}
			base := faults.Network.Base
			for _, a := range m.Plan {
				if a.Kind == sim.ActNet && (milder(*a.Net, base) || harsher(*a.Net, base) != *a.Net) && !inPlan(parent, a) && !inPlan(other, a) {
					t.Fatalf("ops %v: network %+v milder than the scenario's %+v", m.Ops, *a.Net, base)
				}
			}
			if len(parent) > 0 && parent[0].Kind == sim.ActNet && parent[0].At == 0 &&
				(len(m.Plan) == 0 || m.Plan[0].Kind != sim.ActNet || m.Plan[0].At != 0) {
				t.Fatalf("ops %v: the scenario's network at time 0 was dropped or moved", m.Ops)
			}
			if n := len(m.Plan); n > max(len(parent), len(other), MaxGuidedActions)+9 {
				t.Fatalf("ops %v: %d actions", m.Ops, n)
			}
			if len(m.Ops) == 0 {
				t.Fatal("no operator named")
			}
			parent = m.Plan
		}
	})
}

// milder reports whether network n is milder than base in some knob: a
// smaller chance of loss, duplication, reordering or a long tail, or
// shorter delays. It is the test's own reading of "harsher", so that a
// broken harsher cannot pass TestMutateKeepsPlansValid by judging itself.
func milder(n, base sim.NetOptions) bool {
	less := func(a, b sim.Ratio) bool { // a < b as chances, Zero being 0
		if b.Zero() {
			return false
		}
		return a.Zero() || uint64(a.Num)*uint64(b.Den) < uint64(b.Num)*uint64(a.Den)
	}
	return less(n.Loss, base.Loss) || less(n.Dup, base.Dup) || less(n.Reorder, base.Reorder) || less(n.Tail, base.Tail) ||
		n.DelayMin < base.DelayMin || n.DelayMax < base.DelayMax || n.TailMax < base.TailMax
}

// TestHarsherAndItsOracle: milder catches a network milder than the
// scenario's in each knob, and harsher lifts each such network to one
// that is not.
func TestHarsherAndItsOracle(t *testing.T) {
	base := sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 10 * sim.Millisecond, Tail: sim.R(5, 100),
		TailMax: sim.Second, Loss: sim.R(1, 10), Dup: sim.R(2, 100), Reorder: sim.R(1, 4)}
	if milder(base, base) || harsher(base, base) != base {
		t.Fatal("the scenario's own network judged milder than itself")
	}
	for name, soften := range map[string]func(n *sim.NetOptions){
		"loss":      func(n *sim.NetOptions) { n.Loss = sim.R(1, 20) },
		"no loss":   func(n *sim.NetOptions) { n.Loss = sim.Ratio{} },
		"dup":       func(n *sim.NetOptions) { n.Dup = sim.R(1, 100) },
		"reorder":   func(n *sim.NetOptions) { n.Reorder = sim.R(24, 100) },
		"tail":      func(n *sim.NetOptions) { n.Tail = sim.R(4, 100) },
		"tail max":  func(n *sim.NetOptions) { n.TailMax = sim.Second / 2 },
		"delay min": func(n *sim.NetOptions) { n.DelayMin = 0 },
		"delay max": func(n *sim.NetOptions) { n.DelayMax = 5 * sim.Millisecond },
	} {
		n := base
		soften(&n)
		if !milder(n, base) {
			t.Errorf("%s: %+v not judged milder than %+v", name, n, base)
		}
		if h := harsher(n, base); milder(h, base) {
			t.Errorf("%s: harsher gave %+v, milder than %+v", name, h, base)
		}
	}
}

// inPlan reports whether p holds an action equal to a (net options
// compared by value).
func inPlan(p sim.Plan, a sim.Action) bool {
	x, _ := json.Marshal(a)
	for _, b := range p {
		if y, _ := json.Marshal(b); string(x) == string(y) {
			return true
		}
	}
	return false
}

// TestMutateDoesNotTouchItsParent: the parent plan (a corpus entry) is
// never modified in place.
func TestMutateDoesNotTouchItsParent(t *testing.T) {
	k := sim.AllKinds()
	faults := sim.Swarm(sim.NewRand(3), k)
	parent := sim.GeneratePlan(5, faults, 5, 5*sim.Second)
	other := sim.GeneratePlan(6, faults, 5, 5*sim.Second)
	want, _ := json.Marshal(parent)
	wantOther, _ := json.Marshal(other)
	r := sim.NewRand(1)
	for i := 0; i < 500; i++ {
		Mutate(r, FaultKinds{Kinds: k, Targets: 5, Duration: 5 * sim.Second}, parent, faults, other)
	}
	got, _ := json.Marshal(parent)
	gotOther, _ := json.Marshal(other)
	if string(got) != string(want) || string(gotOther) != string(wantOther) {
		t.Fatal("Mutate changed a parent plan in place")
	}
}

// TestMutateRealisticPlans chains mutations of the plans real scenarios
// make (every fault kind, 5 targets, a 10 s phase): all stay valid.
func TestMutateRealisticPlans(t *testing.T) {
	k := sim.AllKinds()
	k.Wipe, k.Corrupt, k.PointMsgs = true, true, "vote,append"
	fk := FaultKinds{Kinds: k, Targets: 5, Duration: 10 * sim.Second}
	r := sim.NewRand(42)
	ops := map[string]int{}
	for i := 0; i < 200; i++ {
		faults := sim.Swarm(sim.NewRand(uint64(i)), k)
		parent := sim.GeneratePlan(uint64(i), faults, 5, fk.Duration)
		other := sim.GeneratePlan(uint64(i+1000), faults, 5, fk.Duration)
		for j := 0; j < 20; j++ {
			m := Mutate(r, fk, parent, faults, other)
			if err := m.Plan.Validate(5); err != nil {
				t.Fatalf("plan %d step %d, ops %v: %v", i, j, m.Ops, err)
			}
			for _, op := range m.Ops {
				ops[op]++
			}
			parent, faults = m.Plan, m.Faults
		}
	}
	for _, op := range []string{"add", "drop", "shift", "lengthen", "retarget", "options", "crashpoint", "cross", "torn", "reseed"} {
		if ops[op] == 0 {
			t.Errorf("operator %s never applied in 4000 mutations", op)
		}
	}
}
