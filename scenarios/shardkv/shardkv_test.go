package shardkv

import (
	"strings"
	"testing"

	"github.com/smilingraft/dsim/checkers/shardcheck"
	"github.com/smilingraft/dsim/scenarios"
)

// minScenarios is the floor on shardkv scenarios (safe ones).
const minScenarios = 20

func registered(t testing.TB) []*scenarios.Scenario {
	var out []*scenarios.Scenario
	safe := 0
	for _, s := range scenarios.All() {
		if strings.HasPrefix(s.Name, "shardkv/") {
			out = append(out, s)
			if !s.Unsafe {
				safe++
			}
		}
	}
	if safe < minScenarios {
		t.Fatalf("%d safe shardkv scenarios registered, want at least %d", safe, minScenarios)
	}
	return out
}

// faultFree are the lab scenarios on a reliable network with no group down:
// they have no fault to report work under.
var faultFree = map[string]bool{
	"shardkv/init-query": true, "shardkv/delete-basic": true, "shardkv/concurrent-ctrlers-reliable": true,
	"shardkv/one-concurrent-clerk-reliable": true, "shardkv/many-concurrent-clerk-reliable": true,
}

// Every safe scenario passes seeds 1-2 with a verdict and reports
// ops_during_migration, and every scenario with faults completes client
// work under them.
func TestScenariosPass(t *testing.T) {
	seeds := uint64(2)
	if testing.Short() {
		seeds = 1
	}
	for _, s := range registered(t) {
		if s.Unsafe {
			continue
		}
		s := s
		t.Run(strings.TrimPrefix(s.Name, "shardkv/"), func(t *testing.T) {
			work := 0.0
			for seed := uint64(1); seed <= seeds; seed++ {
				res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
				if !res.Passed {
					t.Fatalf("seed %d: %v %v\nrepro: %s", seed, res.Failure, res.Undecided, res.Repro)
				}
				if _, ok := res.Metrics["ops_during_migration"]; !ok {
					t.Errorf("seed %d: no ops_during_migration metric", seed)
				}
				work += res.Metrics[scenarios.WorkUnderFaults]
			}
			// Summed over the seeds: a swarm seed may draw faults so harsh
			// that nothing completes until the heal.
			if !faultFree[s.Name] && work == 0 {
				t.Errorf("work_under_faults = 0 on every seed")
			}
		})
	}
}

// The same seed twice gives the same trace hash.
func TestDeterminism(t *testing.T) {
	for _, name := range []string{"shardkv/many-join-leave-unreliable", "shardkv/partition-recovery-unreliable-clerks"} {
		s, err := scenarios.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		a := scenarios.Run(s, scenarios.Variant{}, 3, scenarios.Config{})
		b := scenarios.Run(s, scenarios.Variant{}, 3, scenarios.Config{})
		if a.TraceHash != b.TraceHash || a.Events != b.Events {
			t.Errorf("%s seed 3: hashes %s/%s, events %d/%d", name, a.TraceHash, b.TraceHash, a.Events, b.Events)
		}
	}
}

// A deliberately broken group that keeps serving frozen shards is caught
// by the single-ownership checker online, the moment the new owner starts
// accepting writes.
func TestServeFrozenCaught(t *testing.T) {
	s, _ := scenarios.Lookup("shardkv/join-basic")
	res := scenarios.Run(s, scenarios.Variant{kUnsafeFrozen: "true"}, 1, scenarios.Config{})
	if res.Failure == nil || res.Failure.Checker != shardcheck.SingleOwnership {
		t.Fatalf("serve-frozen groups: %v, want %s", res.Failure, shardcheck.SingleOwnership)
	}
	t.Logf("%s: %s", res.Repro, res.Failure.Message)
}

// Variant keys out of their declared range are refused before any seed.
func TestBadVariant(t *testing.T) {
	s, _ := scenarios.Lookup("shardkv/join-basic")
	for _, v := range []scenarios.Variant{{kShards: "0"}, {kClients: "-1"}, {kTimeout: "0"}, {"shardkv.nope": "1"}} {
		if err := s.Validate(v); err == nil {
			t.Errorf("variant %v accepted", v)
		}
	}
}

// UnsafeCase is an unsafe scenario, the variant that makes it safe, the
// checker that must catch it, and the seed budget within which it must.
type UnsafeCase struct {
	Name    string
	Safe    scenarios.Variant
	Checker string
	Seeds   uint64
}

// UnsafeCases are the two unsafe variants.
var UnsafeCases = []UnsafeCase{
	{Name: "shardkv/unsafe-accept-stale", Safe: scenarios.Variant{kUnsafeStale: "false"}, Checker: shardcheck.SingleOwnership, Seeds: 5},
	{Name: "shardkv/unsafe-no-fencing", Safe: scenarios.Variant{kUnsafeNoFence: "false"}, Checker: shardcheck.SingleOwnership, Seeds: 5},
}

// Each unsafe variant is caught by single ownership within its seed budget
// (its one-line replay command printed), and the safe setting passes the
// same seeds; the adversarial shape also runs as a safe scenario in the
// default campaign (stale-ctrler, lease-pause-drift).
func TestUnsafeVariantsCaught(t *testing.T) {
	for _, u := range UnsafeCases {
		s, err := scenarios.Lookup(u.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Unsafe {
			t.Errorf("%s is not marked Unsafe", u.Name)
		}
		if m, _ := scenarios.Match(nil); contains(scenarios.Names(m), u.Name) {
			t.Errorf("%s is in the default campaign", u.Name)
		}
		found := uint64(0)
		for seed := uint64(1); seed <= u.Seeds; seed++ {
			res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
			if res.Failure != nil && res.Failure.Checker == u.Checker {
				found = seed
				t.Logf("%s: caught by %s at seed %d: %s\n  replay: %s", u.Name, u.Checker, seed, res.Failure.Message, res.Repro)
				break
			}
			if res.Failure != nil {
				t.Fatalf("%s seed %d: failed with %v, want %s", u.Name, seed, res.Failure, u.Checker)
			}
		}
		if found == 0 {
			t.Errorf("%s: not caught by %s within %d seeds", u.Name, u.Checker, u.Seeds)
			continue
		}
		for seed := uint64(1); seed <= u.Seeds; seed++ {
			if res := scenarios.Run(s, u.Safe, seed, scenarios.Config{}); !res.Passed {
				t.Errorf("%s: %v %v", scenarios.Repro(u.Name, u.Safe, seed), res.Failure, res.Undecided)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
