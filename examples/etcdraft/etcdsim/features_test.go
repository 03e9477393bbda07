package etcdsim

import (
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
)

// TestFeatureBrokenHostsCaught: each feature class has a broken host, and
// the checker named for it catches it on most seeds: serializable reads and
// reads that do not wait for the applied index (linearizability), an async
// append thread that answers before its writes are durable
// (sync-before-promise), a leader that applies conf changes when it appends
// them (the membership checks, or etcd raft's own assertion when a second
// change lands in a joint configuration). The conf-on-append host is
// caught on fewer seeds (10 of 60 on raft v3.6, 5 of 60 on v3.7, whose first
// catch is seed 14), so it runs 24 seeds, stopping at the first catch.
func TestFeatureBrokenHostsCaught(t *testing.T) {
	const seeds = 12
	cases := []struct {
		name     string
		checkers []string
		atLeast  int
		seeds    uint64
	}{
		{"etcd/unsafe-serializable-reads", []string{"linearizability"}, seeds * 3 / 4, seeds},
		{"etcd/unsafe-read-no-wait", []string{"linearizability"}, seeds / 3, seeds},
		{"etcd/unsafe-async-respond-early", []string{"raft.sync-before-promise"}, seeds, seeds},
		{"etcd/unsafe-leader-local-reads", []string{"linearizability"}, seeds / 2, seeds},
		{"etcd/unsafe-apply-to-commit", []string{"raft.in-order-apply", StateDigest}, seeds * 3 / 4, seeds},
		{"etcd/unsafe-conf-on-append", []string{CheckConfAgree, CheckConfValid, CheckOneConfChange, CheckQuorum, "panic"}, 1, 24},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := scenarios.Lookup(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			caught, all, ran := 0, map[string]int{}, uint64(0)
			for seed := uint64(1); seed <= tc.seeds && (tc.seeds == seeds || caught < tc.atLeast); seed++ {
				ran++
				res := scenarios.Run(s, nil, seed, scenarios.Config{})
				if res.Failure == nil {
					continue
				}
				all[res.Failure.Checker]++
				for _, c := range tc.checkers {
					if res.Failure.Checker == c {
						caught++
						if caught == 1 {
							t.Logf("seed %d: %s: %s", seed, c, res.Failure.Message)
						}
					}
				}
			}
			t.Logf("failures by checker over %d seeds: %v", ran, all)
			if caught < tc.atLeast {
				t.Errorf("%v caught it on %d seeds, want at least %d (all failures: %v)", tc.checkers, caught, tc.atLeast, all)
			}
		})
	}
}

// TestFeatureFacts: every feature scenario reaches the facts it declares
// (a read served by ReadIndex on a follower, a joint configuration entered
// and left, a transfer completed, an async append after a restart, a
// paginated Ready, ...) within a few seeds, and passes.
func TestFeatureFacts(t *testing.T) {
	names := []string{"etcd/reads", "etcd/lease-reads", "etcd/membership", "etcd/membership-adversarial", "etcd/transfer",
		"etcd/async", "etcd/limits", "etcd/rolling-upgrade", "etcd/features"}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := scenarios.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for seed := uint64(1); seed <= 8; seed++ {
				res := scenarios.Run(s, nil, seed, scenarios.Config{})
				if !res.Passed {
					t.Errorf("%s: %+v (undecided %v)", res.Repro, res.Failure, res.Undecided)
				}
				for f := range res.Coverage {
					seen[f] = true
				}
			}
			var missing []string
			for _, f := range s.Expect {
				if !seen[f] {
					missing = append(missing, f)
				}
			}
			if len(missing) > 0 {
				t.Errorf("facts never reached in 8 seeds: %s", strings.Join(missing, "; "))
			}
		})
	}
}
