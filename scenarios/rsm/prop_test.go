package rsm_test

// Property tests and fuzz targets for the replicated state machine over
// Raft (issue 14): rapid draws a seed and a fault plan and shrinks any
// failure; go test -fuzz explores plans from bytes, seeded from the
// regression corpus (testdata/failures). CI runs a bounded number of cases
// (CheckN); the nightly job sets RAPID_CHECKS and runs the fuzz targets for
// minutes.

import (
	"testing"
	"time"

	"github.com/smilingraft/dsim/campaign/proptest"
	_ "github.com/smilingraft/dsim/scenarios/rsm"
	"github.com/smilingraft/dsim/sim"
)

// crashKinds are long and short crashes and crash points.
var crashKinds = []string{sim.ActCrash, proptest.KindShortCrash, sim.ActCrashPoint}

func TestPropSnapshotChurn(t *testing.T) {
	proptest.CheckN(t, "rsm/snapshot-churn", crashKinds, 40)
}

func TestPropSwarm(t *testing.T) {
	proptest.CheckN(t, "rsm/swarm", proptest.AllKinds, 40)
}

// rsm/unsafe-no-dedup needs a fault to make a clerk retry an Inc whose first
// copy committed: the drawn plan must supply it. rapid finds it within a
// small budget and shrinks it towards one crash and its restart.
func TestPropFindsUnsafeNoDedup(t *testing.T) {
	start := time.Now()
	res, err := proptest.FindWith("rsm/unsafe-no-dedup", crashKinds, proptest.FindOptions{Checks: 30, ShrinkTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res == nil || res.Failure.Checker != "rsm.exactly-once" {
		t.Fatalf("rapid found %v in 30 cases, want an rsm.exactly-once failure", res)
	}
	if len(res.Plan) == 0 {
		t.Fatalf("rsm/unsafe-no-dedup failed without a fault: %v", res.Failure)
	}
	t.Logf("found %s in %v, plan %v", res.Failure.Checker, time.Since(start), res.Plan)
}

// Fuzz targets (go test -run '^$' -fuzz FuzzRSMSwarm ./scenarios/rsm).

func FuzzRSMSnapshotChurn(f *testing.F) { proptest.Fuzz(f, "rsm/snapshot-churn", crashKinds) }

func FuzzRSMSwarm(f *testing.F) { proptest.Fuzz(f, "rsm/swarm", proptest.AllKinds) }
