package raft

import (
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

func raftScenarios(t testing.TB, unsafe bool) []*scenarios.Scenario {
	var out []*scenarios.Scenario
	for _, s := range scenarios.All() {
		if strings.HasPrefix(s.Name, "raft/") && s.Unsafe == unsafe {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Fatal("no raft scenarios registered")
	}
	return out
}

// Every safe raft scenario passes a few seeds with default variants.
func TestSafeScenariosPass(t *testing.T) {
	seeds := uint64(20)
	if testing.Short() {
		seeds = 2
	}
	for _, s := range raftScenarios(t, false) {
		s := s
		t.Run(strings.TrimPrefix(s.Name, "raft/"), func(t *testing.T) {
			for seed := uint64(1); seed <= seeds; seed++ {
				res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
				if !res.Passed {
					t.Fatalf("seed %d: %v\nrepro: %s", seed, res.Failure, res.Repro)
				}
			}
		})
	}
}

// The same seed twice gives the same trace hash.
func TestDeterminism(t *testing.T) {
	for _, name := range []string{"raft/swarm", "raft/figure8-unreliable", "raft/snapshot-install-uncrash"} {
		s, err := scenarios.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		a := scenarios.Run(s, scenarios.Variant{}, 7, scenarios.Config{})
		b := scenarios.Run(s, scenarios.Variant{}, 7, scenarios.Config{})
		if a.TraceHash != b.TraceHash || a.Events != b.Events {
			t.Fatalf("%s seed 7: hashes %s/%s, events %d/%d", name, a.TraceHash, b.TraceHash, a.Events, b.Events)
		}
	}
}

// unsafeBudget is the seed budget within which dsim must find each unsafe
// variant's violation.
const unsafeBudget = 200

// dsim finds each unsafe variant's violation, with the expected checker,
// within the seed budget; the safe variant of the same scenario passes every
// seed up to the one that failed.
func TestUnsafeVariantsCaught(t *testing.T) {
	for _, uc := range adversaries {
		uc := uc
		t.Run(strings.TrimPrefix(uc.unsafeName, "raft/"), func(t *testing.T) {
			s, err := scenarios.Lookup(uc.unsafeName)
			if err != nil {
				t.Fatal(err)
			}
			found := uint64(0)
			for seed := uint64(1); seed <= unsafeBudget && found == 0; seed++ {
				res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
				if res.Passed {
					continue
				}
				ok := false
				for _, c := range uc.checkers {
					ok = ok || res.Failure.Checker == c
				}
				if !ok {
					t.Fatalf("seed %d failed by the wrong checker: %v (want one of %v)", seed, res.Failure, uc.checkers)
				}
				found = seed
				t.Logf("caught at seed %d: %v", seed, res.Failure)
			}
			if found == 0 {
				t.Fatalf("no violation within seeds 1..%d", unsafeBudget)
			}
			for seed := uint64(1); seed <= found; seed++ {
				res := scenarios.Run(s, uc.safe, seed, scenarios.Config{})
				if !res.Passed {
					t.Fatalf("safe variant %s fails seed %d: %v", uc.safe, seed, res.Failure)
				}
			}
		})
	}
}

// With Raft's own assertions off (raft.assertions=false), dsim's checkers
// alone, raftcheck's online and white-box ones, still catch every unsafe
// variant within the seed budget, with one of the expected checkers.
func TestUnsafeCaughtWithoutAssertions(t *testing.T) {
	off := scenarios.Variant{kAssertions: "false"}
	for _, a := range adversaries {
		a := a
		t.Run(strings.TrimPrefix(a.unsafeName, "raft/"), func(t *testing.T) {
			s, err := scenarios.Lookup(a.unsafeName)
			if err != nil {
				t.Fatal(err)
			}
			for seed := uint64(1); seed <= unsafeBudget; seed++ {
				res := scenarios.Run(s, off, seed, scenarios.Config{})
				if res.Passed {
					continue
				}
				for _, c := range a.checkers {
					if res.Failure.Checker == c {
						t.Logf("caught at seed %d: %v", seed, res.Failure)
						return
					}
				}
				t.Fatalf("seed %d failed by %v (want one of %v)", seed, res.Failure, a.checkers)
			}
			t.Fatalf("no violation within seeds 1..%d", unsafeBudget)
		})
	}
}

// Turning the assertions off changes nothing for a correct Raft.
func TestSafeWithoutAssertions(t *testing.T) {
	off := scenarios.Variant{kAssertions: "false"}
	for _, name := range []string{"raft/swarm", "raft/figure8-adversary", "raft/figure8-unreliable"} {
		s, err := scenarios.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for seed := uint64(1); seed <= 5; seed++ {
			a := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
			b := scenarios.Run(s, off, seed, scenarios.Config{})
			if !a.Passed || !b.Passed || a.TraceHash != b.TraceHash {
				t.Fatalf("%s seed %d: assertions on %v %s, off %v %s", name, seed, a.Failure, a.TraceHash, b.Failure, b.TraceHash)
			}
		}
	}
}

// Bad variants are refused by the scenario's declared ranges before setup
// runs (a "usage" failure of Run; the CLI refuses them with exit 2), never
// a panic.
func TestBadVariant(t *testing.T) {
	s, _ := scenarios.Lookup("raft/swarm")
	for _, v := range []scenarios.Variant{{kServers: "0"}, {kRead: "bogus"}, {kElectionMin: "500", kElectionMax: "100"}} {
		res := scenarios.Run(s, v, 1, scenarios.Config{})
		if res.Passed || res.Failure.Checker != "usage" {
			t.Fatalf("variant %v: %v", v, res.Failure)
		}
	}
}

func benchScenario(b *testing.B, name string) {
	s, err := scenarios.Lookup(name)
	if err != nil {
		b.Fatal(err)
	}
	var vtime, wall int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := scenarios.Run(s, scenarios.Variant{}, uint64(i+1), scenarios.Config{})
		if !res.Passed {
			b.Fatalf("seed %d: %v", i+1, res.Failure)
		}
		vtime += int64(res.VTime)
		wall += res.WallNs
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
	b.ReportMetric(float64(vtime)/float64(wall), "virtual/wall")
}

// BenchmarkScenario measures seeds per second and how much faster than
// real time representative raft scenarios run.
func BenchmarkScenario(b *testing.B) {
	for _, name := range []string{"raft/figure8-unreliable", "raft/swarm", "raft/basic-agree"} {
		b.Run(strings.TrimPrefix(name, "raft/"), func(b *testing.B) { benchScenario(b, name) })
	}
}

// The lab's budgets bite: heartbeats every 20 ms blow Count3B's idle
// message budget, and a tiny election timeout range cannot be validated.
func TestLabBudgetsBite(t *testing.T) {
	s, err := scenarios.Lookup("raft/count")
	if err != nil {
		t.Fatal(err)
	}
	res := scenarios.Run(s, scenarios.Variant{kHeartbeat: "20"}, 1, scenarios.Config{})
	if res.Passed || res.Failure.Checker != "raft.rpc-count" {
		t.Fatalf("20ms heartbeats: want raft.rpc-count, got %v", res.Failure)
	}
	res = scenarios.Run(s, scenarios.Variant{}, 1, scenarios.Config{})
	if !res.Passed {
		t.Fatalf("default heartbeats: %v", res.Failure)
	}
}

// A script that outlives its scenario's Duration fails raft.script.
func TestStuckScriptFails(t *testing.T) {
	s, err := scenarios.Lookup("raft/figure8")
	if err != nil {
		t.Fatal(err)
	}
	short := *s
	short.Duration = sim.Second
	res := scenarios.Run(&short, scenarios.Variant{}, 1, scenarios.Config{})
	if res.Passed || res.Failure.Checker != "raft.script" {
		t.Fatalf("want raft.script, got %v", res.Failure)
	}
}
