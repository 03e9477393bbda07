package rsm

import (
	"strings"
	"testing"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/scenarios"
)

func rsmScenarios(t testing.TB, unsafe bool) []*scenarios.Scenario {
	var out []*scenarios.Scenario
	for _, s := range scenarios.All() {
		if strings.HasPrefix(s.Name, "rsm/") && s.Unsafe == unsafe {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Fatal("no rsm scenarios registered")
	}
	return out
}

// underFaults are the scenarios whose work must overlap their faults: some
// acknowledged ops must complete while a fault is active.
var underFaults = map[string]bool{
	"rsm/swarm": true, "rsm/snapshot-churn": true, "rsm/leader-failure": true, "rsm/leader-partition": true,
}

// Every safe rsm scenario passes several seeds, and the fault scenarios
// acknowledge ops while faults are active.
func TestScenariosPass(t *testing.T) {
	seeds := uint64(10)
	if testing.Short() {
		seeds = 2
	}
	for _, s := range rsmScenarios(t, false) {
		s := s
		t.Run(strings.TrimPrefix(s.Name, "rsm/"), func(t *testing.T) {
			under := 0.0
			for seed := uint64(1); seed <= seeds; seed++ {
				res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
				if !res.Passed {
					t.Fatalf("seed %d: %v\nrepro: %s", seed, res.Failure, res.Repro)
				}
				if _, ok := res.Metrics["acked_under_faults"]; !ok {
					t.Fatalf("seed %d: no acked_under_faults metric: %v", seed, res.Metrics)
				}
				under += res.Metrics["acked_under_faults"]
			}
			if underFaults[s.Name] && under == 0 {
				t.Fatalf("no op completed while a fault was active in %d seeds: the faults never overlap the work", seeds)
			}
		})
	}
}

// Every read path and the PreVote/CheckQuorum variants pass too.
func TestVariantsPass(t *testing.T) {
	variants := []scenarios.Variant{
		{"raft.read": "readindex"}, {"raft.read": "lease"},
		{"raft.prevote": "true", "raft.checkquorum": "true"},
	}
	for _, name := range []string{"rsm/swarm", "rsm/snapshot-churn", "rsm/leader-partition"} {
		s, err := scenarios.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range variants {
			for seed := uint64(1); seed <= 4; seed++ {
				if res := scenarios.Run(s, v, seed, scenarios.Config{}); !res.Passed {
					t.Fatalf("%s %v seed %d: %v", name, v, seed, res.Failure)
				}
			}
		}
	}
}

// The same seed twice gives the same run.
func TestDeterminism(t *testing.T) {
	for _, name := range []string{"rsm/swarm", "rsm/snapshot-churn", "rsm/leader-partition", "rsm/restart-submit"} {
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
const unsafeBudget = 50

// caught runs s with v from seed 1 until a seed fails, and checks that the
// failure is one of want; it returns the seed (failing the test if none did
// within the budget).
func caught(t *testing.T, s *scenarios.Scenario, v scenarios.Variant, want ...string) uint64 {
	t.Helper()
	for seed := uint64(1); seed <= unsafeBudget; seed++ {
		res := scenarios.Run(s, v, seed, scenarios.Config{})
		if res.Passed {
			continue
		}
		for _, c := range want {
			if res.Failure.Checker == c {
				t.Logf("%s %v caught at seed %d: %v", s.Name, v, seed, res.Failure)
				return seed
			}
		}
		t.Fatalf("%s %v seed %d failed by the wrong checker: %v (want one of %v)", s.Name, v, seed, res.Failure, want)
	}
	t.Fatalf("%s %v: no violation within seeds 1..%d", s.Name, v, unsafeBudget)
	return 0
}

// Each unsafe RSM is caught by the right checker within the budget, and the
// safe setting passes every seed up to that one.
func TestUnsafeVariantsCaught(t *testing.T) {
	cases := []struct {
		name    string
		variant scenarios.Variant
		safe    scenarios.Variant
		want    []string
	}{
		{"rsm/unsafe-no-dedup", nil, scenarios.Variant{kNoDedup: "false"}, []string{CheckExactlyOnce}},
		{"rsm/swarm", scenarios.Variant{kNoDedup: "true"}, nil, []string{CheckExactlyOnce}},
		{"rsm/unsafe-answer-any", nil, scenarios.Variant{kAnswerAny: "false"}, []string{CheckReply}},
	}
	for _, tc := range cases {
		s, err := scenarios.Lookup(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		found := caught(t, s, tc.variant, tc.want...)
		for seed := uint64(1); seed <= found; seed++ {
			if res := scenarios.Run(s, tc.safe, seed, scenarios.Config{}); !res.Passed {
				t.Fatalf("%s safe %v fails seed %d: %v", tc.name, tc.safe, seed, res.Failure)
			}
		}
	}
}

// The end-of-run checks catch broken services on their own: a counter
// whose Inc adds two (count and read checks), and an RSM without dedup whose
// service does not check tags online (the final exactly-once count).
func TestBrokenServiceCaught(t *testing.T) {
	base, err := scenarios.Lookup("rsm/snapshot-churn")
	if err != nil {
		t.Fatal(err)
	}
	broken := func(name string, fn func(*counter)) *scenarios.Scenario {
		s := *base
		s.Name = "rsm/test-" + name
		s.Setup = func(c *scenarios.Cluster) error { return setupSwarm(c, fn) }
		return &s
	}
	caught(t, broken("double-inc", func(c *counter) { c.double = true }), nil, CheckCount, CheckStaleRead)
	caught(t, broken("no-dup-check", func(c *counter) { c.skipDupCheck = true }), scenarios.Variant{kNoDedup: "true"},
		CheckCount, CheckStaleRead, CheckReply)
}

// The service fails a run that commits a Dec, and the servers' Raft
// observers feed raftcheck (a forged second leader of one term fails
// election safety).
func TestCheckersWired(t *testing.T) {
	s, err := scenarios.Lookup("rsm/basic")
	if err != nil {
		t.Fatal(err)
	}
	dec := *s
	dec.Name = "rsm/test-dec"
	dec.Setup = func(c *scenarios.Cluster) error {
		h, err := newHarness(c, 3, reliable, nil)
		if err != nil {
			return err
		}
		h.drive(func(d *drv) {
			d.inc(1)
			d.submit("dec", nil, "")
		})
		return nil
	}
	if res := scenarios.Run(&dec, nil, 1, scenarios.Config{}); res.Passed || res.Failure.Checker != CheckDec {
		t.Fatalf("a committed Dec: want %s, got %v", CheckDec, res.Failure)
	}

	elect := *s
	elect.Name = "rsm/test-election"
	elect.Setup = func(c *scenarios.Cluster) error {
		h, err := newHarness(c, 3, reliable, nil)
		if err != nil {
			return err
		}
		h.drive(func(d *drv) {
			d.inc(1)
			// Forge a second leader of one term through the servers' own
			// Raft observers: the configured checker must see it.
			h.srv(0).cfg.Raft.Observer.BecameLeader(0, 1000)
			h.srv(1).cfg.Raft.Observer.BecameLeader(1, 1000)
		})
		return nil
	}
	if res := scenarios.Run(&elect, nil, 1, scenarios.Config{}); res.Passed || res.Failure.Checker != raftcheck.ElectionSafety {
		t.Fatalf("two leaders in one term: want %s, got %v", raftcheck.ElectionSafety, res.Failure)
	}
}

// Bad variants are refused with an error (by Validate or Setup), not a panic.
func TestBadVariant(t *testing.T) {
	s, _ := scenarios.Lookup("rsm/swarm")
	for _, v := range []scenarios.Variant{{kServers: "0"}, {kClients: "0"}, {"raft.read": "bogus"}} {
		res := scenarios.Run(s, v, 1, scenarios.Config{})
		if res.Passed || (res.Failure.Checker != "setup" && res.Failure.Checker != "usage") {
			t.Fatalf("variant %v: %v", v, res.Failure)
		}
	}
}
