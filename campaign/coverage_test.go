package campaign

import (
	"context"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Test-only scenario for declared coverage and work under faults: it
// declares two facts and reaches one, and reports seed%3 as its work under
// faults.

type decl struct{}

func (decl) Start(env *sim.Env)              { env.Sometimes("decl: reached") }
func (decl) Receive(sim.NodeID, sim.Message) {}

func init() {
	scenarios.Register(&scenarios.Scenario{Name: "decl/unsafe-declares", Unsafe: true, Duration: sim.Millisecond,
		Description: "test only: declares a fact it never reaches",
		Expect:      []string{"decl: reached", "decl: never reached"},
		Setup: func(c *scenarios.Cluster) error {
			c.Servers(c.W.AddNode("n0", func() sim.Node { return decl{} }))
			c.Metric(scenarios.WorkUnderFaults, float64(c.Seed%3))
			return nil
		}})
}

func TestDeclaredFactsAndWorkUnderFaults(t *testing.T) {
	o := Options{Scenarios: match(t, "decl/unsafe-declares"), Seeds: 10, From: 1, Workers: 2}
	sum := Run(context.Background(), o)
	got := sum.Coverage["decl/unsafe-declares"]
	want := &Facts{Reached: map[string]uint64{"decl: reached": 10}, Unreached: []string{},
		Declared:          []string{"decl: never reached", "decl: reached"},
		DeclaredUnreached: []string{"decl: never reached"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("coverage (-want +got):\n%s", d)
	}
	// Seeds 1..10 give 1,2,0,1,2,0,1,2,0,1: sum 10, three with none.
	wantWork := &Work{Runs: 10, Sum: 10, Min: 0, Max: 2, Mean: 1, ZeroRuns: 3}
	if d := cmp.Diff(wantWork, sum.Work["decl/unsafe-declares"]); d != "" {
		t.Fatalf("work under faults (-want +got):\n%s", d)
	}
	if len(sum.Incomplete()) > 0 || len(sum.Failures) > 0 {
		t.Fatalf("a declared fact never reached made the campaign fail or incomplete: %v %v", sum.Failures, sum.Incomplete())
	}

	// Shards merge to the whole: declared lists, unreached declared facts
	// and work statistics included.
	var parts []*Summary
	for i := 0; i < 3; i++ {
		po := o
		po.Shard = Shard{i, 3}
		parts = append(parts, Run(context.Background(), po))
	}
	merged, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(comparable(sum), comparable(merged)); d != "" {
		t.Fatalf("merged shards differ from the whole campaign (-whole +merged):\n%s", d)
	}
	// A shard that reached nothing still carries the declaration; the one
	// that reached the fact clears it from the unreached list.
	parts[0].Coverage["decl/unsafe-declares"].Reached = map[string]uint64{}
	parts[0].Coverage["decl/unsafe-declares"].Declared = nil // an older summary: no declarations
	m2, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	if f := m2.Coverage["decl/unsafe-declares"]; !reflect.DeepEqual(f.DeclaredUnreached, []string{"decl: never reached"}) ||
		len(f.Declared) != 2 {
		t.Fatalf("merged declarations: %+v", f)
	}
}

func TestCheckRejectsBadWork(t *testing.T) {
	sum := Run(context.Background(), Options{Scenarios: match(t, "decl/unsafe-declares"), Seeds: 4})
	for name, bad := range map[string]func(w *Work){
		"more runs than the scenario": func(w *Work) { w.Runs = 5 },
		"zero runs above runs":        func(w *Work) { w.ZeroRuns = w.Runs + 1 },
		"min above max":               func(w *Work) { w.Min, w.Max = 3, 2 },
		"min 0 without a zero run":    func(w *Work) { w.ZeroRuns = 0 },
	} {
		s := *sum
		w := *sum.Work["decl/unsafe-declares"]
		bad(&w)
		s.Work = map[string]*Work{"decl/unsafe-declares": &w}
		if err := s.Check(); err == nil {
			t.Errorf("%s: Check accepted %+v", name, w)
		}
	}
	s := *sum
	s.Work = map[string]*Work{"nosuch/scenario": {}}
	if err := s.Check(); err == nil {
		t.Error("Check accepted work of a scenario without a seed range")
	}
}
