package mr

import (
	"flag"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
)

// campaignSeeds, when set (go test -run TestCampaign -mr.campaign=200),
// runs every safe mr scenario over that many seeds.
var campaignSeeds = flag.Int("mr.campaign", 0, "seeds per safe mr scenario for TestCampaign (0: skip)")

func lookup(t testing.TB, name string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func safe(t testing.TB) []*scenarios.Scenario {
	ss, err := scenarios.Match([]string{"mr/*"})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// TestSafeScenariosPass runs every safe mr scenario over a handful of seeds.
func TestSafeScenariosPass(t *testing.T) {
	ss := safe(t)
	if len(ss) < 11 {
		t.Fatalf("only %d safe mr scenarios registered", len(ss))
	}
	for _, s := range ss {
		if s.Unsafe {
			t.Fatalf("%s: unsafe scenario matched by mr/*", s.Name)
		}
		for seed := uint64(1); seed <= 4; seed++ {
			r := scenarios.Run(s, nil, seed, scenarios.Config{})
			if !r.Passed {
				t.Errorf("%s seed %d: %v\n  repro: %s", s.Name, seed, r.Failure, r.Repro)
			}
		}
	}
}

// TestDeterminism runs one seed twice and compares trace hashes.
func TestDeterminism(t *testing.T) {
	for _, name := range []string{"mr/swarm", "mr/crash", "mr/lossy"} {
		s := lookup(t, name)
		a := scenarios.Run(s, nil, 7, scenarios.Config{})
		b := scenarios.Run(s, nil, 7, scenarios.Config{})
		if a.TraceHash != b.TraceHash || a.Events != b.Events || a.Passed != b.Passed {
			t.Errorf("%s seed 7: two runs differ: %s/%d vs %s/%d", name, a.TraceHash, a.Events, b.TraceHash, b.Events)
		}
	}
}

// TestUnsafeVariantsCaught checks that each unsafe variant fails within a
// seed budget while the safe protocol passes the very same seeds and
// faults.
func TestUnsafeVariantsCaught(t *testing.T) {
	cases := []struct {
		name, fix, checker string
		budget             uint64
	}{
		// Measured over seeds 1..200: no-rename fails 34 (first: seed 1),
		// the same seeds pass with mr.atomic_rename=true; no-reissue fails
		// every seed, and passes every seed with mr.reissue=true.
		{"mr/unsafe-no-rename", "mr.atomic_rename=true", "mr-output", 8},
		{"mr/unsafe-no-reissue", "mr.reissue=true", "liveness", 2},
	}
	for _, tc := range cases {
		s := lookup(t, tc.name)
		fix, err := scenarios.ParseVariant(tc.fix)
		if err != nil {
			t.Fatal(err)
		}
		caught := uint64(0)
		for seed := uint64(1); seed <= tc.budget && caught == 0; seed++ {
			if r := scenarios.Run(s, nil, seed, scenarios.Config{}); !r.Passed {
				if r.Failure.Checker != tc.checker && !strings.HasPrefix(r.Failure.Checker, "mr-") {
					t.Errorf("%s seed %d failed in an unexpected checker: %v", tc.name, seed, r.Failure)
				}
				caught = seed
			}
		}
		if caught == 0 {
			t.Errorf("%s: not caught within %d seeds", tc.name, tc.budget)
			continue
		}
		for seed := uint64(1); seed <= caught; seed++ {
			if r := scenarios.Run(s, fix, seed, scenarios.Config{}); !r.Passed {
				t.Errorf("%s with %s seed %d: safe protocol failed: %v", tc.name, tc.fix, seed, r.Failure)
			}
		}
	}
}

// TestJobCountCatchesEarlyReissue shortens the re-issue timeout to 3 s,
// inside the jobcount app's 2-5 s map time, with heartbeats off (the lab's
// rule: re-issue on running time): tasks still running are handed out
// again, and the job-count check must see more than 8 map runs. With
// heartbeats on, the same timeout re-issues nothing and the job passes.
func TestJobCountCatchesEarlyReissue(t *testing.T) {
	s := lookup(t, "mr/job-count")
	r := scenarios.Run(s, scenarios.Variant{"mr.reissue_timeout_ms": "3000", "mr.heartbeat_ms": "0"}, 1, scenarios.Config{})
	if r.Passed || r.Failure.Checker != "mr-jobcount" {
		t.Fatalf("re-issue after 3s not caught by mr-jobcount: %+v", r.Failure)
	}
	r = scenarios.Run(s, scenarios.Variant{"mr.reissue_timeout_ms": "3000"}, 1, scenarios.Config{})
	if !r.Passed {
		t.Fatalf("3s silence timeout with heartbeats: %v", r.Failure)
	}
}

// TestVariantsValidate rejects a bad variant value with a usage failure
// (mr.workers declares its range, so Validate refuses it before setup).
func TestVariantsValidate(t *testing.T) {
	s := lookup(t, "mr/wc")
	r := scenarios.Run(s, scenarios.Variant{"mr.workers": "0"}, 1, scenarios.Config{})
	if r.Passed || r.Failure.Checker != "usage" {
		t.Fatalf("mr.workers=0 accepted: %+v", r.Failure)
	}
	r = scenarios.Run(s, scenarios.Variant{"mr.workers": "5", "mr.nreduce": "3"}, 1, scenarios.Config{})
	if !r.Passed {
		t.Fatalf("mr.workers=5,mr.nreduce=3: %v", r.Failure)
	}
}

// TestCampaign runs -mr.campaign seeds of every safe mr scenario.
func TestCampaign(t *testing.T) {
	if *campaignSeeds == 0 {
		t.Skip("set -mr.campaign=N")
	}
	for _, s := range safe(t) {
		fails := 0
		for seed := uint64(1); seed <= uint64(*campaignSeeds); seed++ {
			if r := scenarios.Run(s, nil, seed, scenarios.Config{}); !r.Passed {
				fails++
				t.Errorf("%s seed %d: %v", s.Name, seed, r.Failure)
			}
		}
		t.Logf("%s: %d/%d seeds failed", s.Name, fails, *campaignSeeds)
	}
}

// BenchmarkMRScenario reports seeds per second of each representative mr
// scenario.
func BenchmarkMRScenario(b *testing.B) {
	for _, name := range []string{"mr/wc", "mr/crash", "mr/swarm"} {
		s := lookup(b, name)
		b.Run(strings.TrimPrefix(name, "mr/"), func(b *testing.B) {
			events := uint64(0)
			for i := 0; i < b.N; i++ {
				r := scenarios.Run(s, nil, uint64(i+1), scenarios.Config{})
				if !r.Passed {
					b.Fatalf("seed %d: %v", i+1, r.Failure)
				}
				events += r.Events
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
			b.ReportMetric(float64(events)/float64(b.N), "events/seed")
		})
	}
}
