package kv

import (
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/scenarios/kvsrv"
)

// wantScenarios is how many kv scenarios are registered (unsafe included).
const wantScenarios = 40

func registered(t testing.TB) []*scenarios.Scenario {
	var out []*scenarios.Scenario
	for _, s := range scenarios.All() {
		if strings.HasPrefix(s.Name, "kv/") {
			out = append(out, s)
		}
	}
	if len(out) != wantScenarios {
		t.Fatalf("%d kv scenarios registered, want %d", len(out), wantScenarios)
	}
	return out
}

// faultFree are the lab scenarios that inject no fault at all (the lab's
// reliable tests without crashes or partitions).
var faultFree = map[string]bool{"kv/basic": true, "kv/concurrent": true, "kv/speed": true,
	"kv/speed-snapshot": true, "kv/snapshot-size": true}

// testSeeds is how many seeds each safe scenario passes in go test (the
// campaign runs many more).
func testSeeds() uint64 {
	if testing.Short() {
		return 1
	}
	return 3
}

// Every safe scenario passes its seeds with a verdict (porcupine never
// undecided), and every scenario with faults completes operations while a
// fault is active: one where none did would test nothing.
func TestScenariosPass(t *testing.T) {
	for _, s := range registered(t) {
		if s.Unsafe {
			continue
		}
		s := s
		t.Run(strings.TrimPrefix(s.Name, "kv/"), func(t *testing.T) {
			for seed := uint64(1); seed <= testSeeds(); seed++ {
				res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
				if len(res.Undecided) > 0 {
					t.Fatalf("seed %d undecided (porcupine must decide every passing seed): %v", seed, res.Undecided)
				}
				if !res.Passed {
					t.Fatalf("seed %d: %v\nrepro: %s", seed, res.Failure, res.Repro)
				}
				if !faultFree[s.Name] && res.Metrics["ops_during_faults"] == 0 {
					t.Errorf("seed %d: ops_during_faults = 0: no operation completed under a fault (metrics %v)", seed, res.Metrics)
				}
				if faultFree[s.Name] && (s.Faults != nil || s.Kinds != nil) {
					t.Errorf("listed as fault-free but declares faults")
				}
			}
		})
	}
}

// The same seed twice gives the same trace hash.
func TestDeterminism(t *testing.T) {
	for _, name := range []string{"kv/swarm", "kv/persist-partition-unreliable", "kv/disk", "kv/leader-handoff-reads", "kv/one-partition"} {
		s, err := scenarios.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		a := scenarios.Run(s, scenarios.Variant{}, 7, scenarios.Config{})
		b := scenarios.Run(s, scenarios.Variant{}, 7, scenarios.Config{})
		if a.TraceHash != b.TraceHash || a.Events != b.Events {
			t.Errorf("%s seed 7: hashes %s/%s, events %d/%d", name, a.TraceHash, b.TraceHash, a.Events, b.Events)
		}
	}
}

// Each unsafe read path is caught by porcupine within its seed budget, with
// the picture of the violation attached, and the safe setting passes the
// same seeds.
func TestUnsafeVariantsCaught(t *testing.T) {
	for _, u := range UnsafeCases {
		s, err := scenarios.Lookup(u.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Unsafe {
			t.Errorf("%s is not marked Unsafe", u.Name)
		}
		found := uint64(0)
		for seed := uint64(1); seed <= u.Seeds; seed++ {
			res := scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{})
			if res.Failure != nil && res.Failure.Checker == u.Checker {
				found = seed
				if html := res.Artifacts[kvsrv.Picture]; !strings.Contains(string(html), "<html") || !strings.Contains(string(html), "leads term") {
					t.Errorf("%s seed %d: no annotated porcupine picture (%d bytes)", u.Name, seed, len(html))
				}
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
		t.Logf("%s: caught by %s at seed %d", u.Name, u.Checker, found)
		for seed := uint64(1); seed <= found; seed++ {
			if res := scenarios.Run(s, u.Safe, seed, scenarios.Config{}); !res.Passed {
				t.Errorf("%s --variant %s seed %d: %v %v", u.Name, u.Safe, seed, res.Failure, res.Undecided)
			}
		}
	}
}

// The Raft state bound catches state that outgrows 8 x maxraftstate (a
// bound no Raft can meet with maxraftstate 1: its term, vote and log
// headers alone are larger), and a snapshot where -1 forbids any.
func TestStateBoundCaught(t *testing.T) {
	s, _ := scenarios.Lookup("kv/snapshot-recover")
	res := scenarios.Run(s, scenarios.Variant{kMaxRaftState: "1"}, 1, scenarios.Config{})
	if res.Failure == nil || res.Failure.Checker != CheckStateSize {
		t.Errorf("maxraftstate 1: %v, want %s", res.Failure, CheckStateSize)
	}
	s, _ = scenarios.Lookup("kv/basic")
	res = scenarios.Run(s, scenarios.Variant{}, 1, scenarios.Config{})
	if !res.Passed || res.Metrics["max_snapshot_bytes"] != 0 {
		t.Errorf("kv/basic with maxraftstate -1: passed %v, snapshot %v B", res.Passed, res.Metrics["max_snapshot_bytes"])
	}
}

// Variant keys out of their declared range are refused before any seed.
func TestBadVariant(t *testing.T) {
	s, _ := scenarios.Lookup("kv/swarm")
	for _, v := range []scenarios.Variant{{kClients: "0"}, {kMaxRaftState: "-2"}, {kTimeout: "0"}, {kRead: "bogus"}, {"kv.nope": "1"}} {
		if err := s.Validate(v); err == nil {
			t.Errorf("variant %v accepted", v)
		}
	}
}
