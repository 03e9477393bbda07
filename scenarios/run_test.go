package scenarios_test

import (
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/counter"
	"github.com/smilingraft/dsim/sim"
)

func mustLookup(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSameSeedSameHashDifferentSeedsDiffer(t *testing.T) {
	for _, name := range []string{"counter/basic", "counter/swarm", "counter/crash"} {
		s := mustLookup(t, name)
		seen := map[string]uint64{}
		for seed := uint64(1); seed <= 30; seed++ {
			a := scenarios.Run(s, nil, seed, scenarios.Config{})
			b := scenarios.Run(s, nil, seed, scenarios.Config{})
			if a.TraceHash != b.TraceHash || a.Events != b.Events {
				t.Fatalf("%s seed %d: %s/%s", name, seed, a.TraceHash, b.TraceHash)
			}
			if !a.Passed {
				t.Fatalf("%s seed %d failed: %v", name, seed, a.Failure)
			}
			if prev, dup := seen[a.TraceHash]; dup {
				t.Fatalf("%s: seeds %d and %d share hash %s", name, prev, seed, a.TraceHash)
			}
			seen[a.TraceHash] = seed
		}
	}
}

func TestExplicitPlanReplaysTheGeneratedOne(t *testing.T) {
	s := mustLookup(t, "counter/swarm")
	for seed := uint64(1); seed <= 10; seed++ {
		a := scenarios.Run(s, nil, seed, scenarios.Config{})
		plan := a.Plan
		b := scenarios.Run(s, nil, seed, scenarios.Config{Plan: &plan, Faults: a.Faults})
		if a.TraceHash != b.TraceHash {
			t.Fatalf("seed %d: replay from the explicit plan gave %s, want %s", seed, b.TraceHash, a.TraceHash)
		}
	}
}

func TestUnsafeVariantIsCaught(t *testing.T) {
	s := mustLookup(t, "counter/unsafe-nosync")
	found := 0
	for seed := uint64(1); seed <= 20; seed++ {
		if r := scenarios.Run(s, nil, seed, scenarios.Config{}); !r.Passed {
			if r.Failure.Checker != "durability" {
				t.Fatalf("seed %d: failed on %s, want durability", seed, r.Failure.Checker)
			}
			found++
		}
	}
	if found == 0 {
		t.Fatal("no seed in 1..20 caught the no-sync bug")
	}
	// The same faults with syncing on must pass.
	v := scenarios.Variant{"counter.sync": "true"}
	for seed := uint64(1); seed <= 20; seed++ {
		if r := scenarios.Run(s, v, seed, scenarios.Config{}); !r.Passed {
			t.Fatalf("seed %d with sync on failed: %v", seed, r.Failure)
		}
	}
}

func TestVariantValidation(t *testing.T) {
	s := mustLookup(t, "counter/basic")
	for _, bad := range []string{"no.such=1", "counter.servers=abc", "counter.sync=maybe"} {
		v, err := scenarios.ParseVariant(bad)
		if err != nil {
			t.Fatal(err)
		}
		if s.Validate(v) == nil {
			t.Errorf("variant %q accepted", bad)
		}
	}
	if _, err := scenarios.ParseVariant("novalue"); err == nil {
		t.Error("variant without '=' accepted")
	}
	v, _ := scenarios.ParseVariant("counter.servers=5,counter.clients=1")
	if v.String() != "counter.clients=1,counter.servers=5" {
		t.Errorf("canonical form %q", v.String())
	}
	if r := scenarios.Run(s, v, 1, scenarios.Config{}); !r.Passed {
		t.Fatalf("5 servers, 1 client: %v", r.Failure)
	}
}

func TestMatch(t *testing.T) {
	got, err := scenarios.Match([]string{"counter/*"})
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Join(scenarios.Names(got), " ")
	if strings.Contains(names, "unsafe") || !strings.Contains(names, "counter/swarm") {
		t.Fatalf("counter/* matched %s", names)
	}
	if got, _ := scenarios.Match([]string{"counter/unsafe-*"}); len(got) != 1 {
		t.Fatal("an explicit unsafe pattern must match the unsafe scenario")
	}
	if _, err := scenarios.Match([]string{"nothing/*"}); err == nil {
		t.Fatal("a pattern matching nothing must be an error")
	}
}

// A scenario whose system never makes progress fails the liveness phase;
// one whose setup panics fails with "panic", not a crash.
func TestLivenessAndPanicFailures(t *testing.T) {
	stuck := &scenarios.Scenario{Name: "test/stuck", Duration: sim.Second, Liveness: sim.Second,
		Setup: func(c *scenarios.Cluster) error {
			c.Progress("never", func() error { return errNever })
			return nil
		}}
	r := scenarios.Run(stuck, nil, 1, scenarios.Config{})
	if r.Passed || r.Failure.Checker != "liveness" || !strings.Contains(r.Failure.Message, "never") {
		t.Fatalf("stuck: %+v", r.Failure)
	}
	boom := &scenarios.Scenario{Name: "test/boom", Duration: sim.Second,
		Setup: func(c *scenarios.Cluster) error { panic("setup exploded") }}
	r = scenarios.Run(boom, nil, 1, scenarios.Config{})
	if r.Passed || r.Failure.Checker != "panic" || r.Failure.Stack == "" {
		t.Fatalf("boom: %+v", r.Failure)
	}
}

type neverErr struct{}

func (neverErr) Error() string { return "condition never holds" }

var errNever = neverErr{}

// Every fires at intervals in [lo, hi) and stops hi before the fault
// phase ends, so the faults its callback sets can be undone in time.
func TestEveryStopsBeforeTheFaultPhaseEnds(t *testing.T) {
	var at []sim.Time
	s := &scenarios.Scenario{Name: "test/every", Duration: 10 * sim.Second,
		Setup: func(c *scenarios.Cluster) error {
			c.Servers(c.W.AddNode("n0", func() sim.Node { return idle{} }))
			c.Every(500*sim.Millisecond, 2*sim.Second, func() { at = append(at, c.W.Now()) })
			return nil
		}}
	scenarios.Run(s, nil, 1, scenarios.Config{})
	if len(at) < 3 {
		t.Fatalf("fired %d times in 10s", len(at))
	}
	for i, x := range at {
		prev := sim.Time(0)
		if i > 0 {
			prev = at[i-1]
		}
		if d := sim.Duration(x - prev); d < 500*sim.Millisecond || d >= 2*sim.Second || x >= sim.Time(8*sim.Second) {
			t.Fatalf("firing %d at %v after %v: want gaps in [0.5s, 2s) and nothing from 8s on", i, x, d)
		}
	}
}

type idle struct{}

func (idle) Start(*sim.Env)                  {}
func (idle) Receive(sim.NodeID, sim.Message) {}
