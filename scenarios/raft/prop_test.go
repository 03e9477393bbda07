package raft_test

// Property tests and fuzz targets for dsim's Raft (issue 14): rapid draws a
// seed and a fault plan, runs the scenario with it, and shrinks any failure
// to a minimal plan; go test -fuzz explores plans from bytes, seeded from
// the regression corpus (testdata/failures). CI runs a bounded number of
// cases (CheckN); the nightly job sets RAPID_CHECKS and runs the fuzz
// targets for minutes.

import (
	"testing"
	"time"

	"github.com/smilingraft/dsim/campaign/proptest"
	_ "github.com/smilingraft/dsim/scenarios/raft"
	"github.com/smilingraft/dsim/sim"
)

// crashKinds are long and short crashes and crash points: what the
// persistence scenarios must survive.
var crashKinds = []string{sim.ActCrash, proptest.KindShortCrash, sim.ActCrashPoint}

// The lab scripts bound agreement (one() within 10 s), so they take short
// crashes and crash points: each promise a peer makes must survive a crash
// right after it leaves.
func TestPropPersist2(t *testing.T) {
	proptest.CheckN(t, "raft/persist2", proptest.ShortKinds, 100)
}

func TestPropFigure8(t *testing.T) {
	proptest.CheckN(t, "raft/figure8", proptest.ShortKinds, 100)
}

func TestPropSnapshotInstallCrash(t *testing.T) {
	proptest.CheckN(t, "raft/snapshot-install-crash", proptest.ShortKinds, 100)
}

func TestPropSnapshotAllCrash(t *testing.T) {
	proptest.CheckN(t, "raft/snapshot-all-crash", proptest.ShortKinds, 100)
}

// The nemesis shapes take any plan of their kinds.
func TestPropTornWrites(t *testing.T) {
	proptest.CheckN(t, "raft/torn-writes", crashKinds, 100)
}

func TestPropSwarm(t *testing.T) {
	proptest.CheckN(t, "raft/swarm", proptest.AllKinds, 100)
}

// The unsafe variants are still found by the property tests, within a
// small budget: rapid's first case already fails (their adversary is the
// scenario's script), and it shrinks the plan to nothing.
func TestPropFindsUnsafeVariants(t *testing.T) {
	for _, c := range []struct{ name, checker string }{
		{"raft/unsafe-figure8", "raft.leader-completeness"},
		{"raft/unsafe-lease", "raft.stale-read"},
		{"raft/unsafe-prevote-no-checkquorum", "raft.liveness"},
		{"raft/unsafe-read-before-term-commit", "raft.stale-read"},
	} {
		start := time.Now()
		res, err := proptest.FindWith(c.name, proptest.ShortKinds, proptest.FindOptions{Checks: 10, ShrinkTime: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res == nil {
			t.Errorf("%s: 10 rapid cases found nothing", c.name)
			continue
		}
		if res.Failure.Checker != c.checker {
			t.Errorf("%s: rapid found %v, want a %s failure", c.name, res.Failure, c.checker)
		}
		t.Logf("%s: found %s in %v, plan %v", c.name, res.Failure.Checker, time.Since(start), res.Plan)
	}
}

// Fuzz targets (go test -run '^$' -fuzz FuzzRaftSwarm ./scenarios/raft).

func FuzzRaftPersist2(f *testing.F) { proptest.Fuzz(f, "raft/persist2", proptest.ShortKinds) }

func FuzzRaftFigure8(f *testing.F) { proptest.Fuzz(f, "raft/figure8", proptest.ShortKinds) }

func FuzzRaftTornWrites(f *testing.F) { proptest.Fuzz(f, "raft/torn-writes", crashKinds) }

func FuzzRaftSwarm(f *testing.F) { proptest.Fuzz(f, "raft/swarm", proptest.AllKinds) }
