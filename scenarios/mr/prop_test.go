package mr_test

// Property tests and fuzz targets for dsim's MapReduce (issue 14): rapid
// draws a seed and a plan of faults aimed at the workers (or the file
// system) and shrinks any failure; go test -fuzz explores plans from bytes,
// seeded from the regression corpus (testdata/failures). CI runs a bounded
// number of cases (CheckN); the nightly job sets RAPID_CHECKS and runs the
// fuzz targets for minutes. Scenarios without a fault phase (mr/crash's
// workers exit by themselves) take no plan and are left to the campaign.

import (
	"testing"
	"time"

	"github.com/smilingraft/dsim/campaign/proptest"
	_ "github.com/smilingraft/dsim/scenarios/mr"
	"github.com/smilingraft/dsim/sim"
)

// crashKinds are long and short crashes, crash points and pauses.
var crashKinds = []string{sim.ActCrash, proptest.KindShortCrash, sim.ActCrashPoint, sim.ActPause}

// Workers crash and stall on a lossy network.
func TestPropLossyCrashes(t *testing.T) {
	proptest.CheckN(t, "mr/lossy", crashKinds, 40)
}

// The file system crashes (torn unsynced writes) at drawn instants and
// around its own disk operations.
func TestPropFSCrash(t *testing.T) {
	proptest.CheckN(t, "mr/fs-crash", crashKinds, 40)
}

func TestPropSwarm(t *testing.T) {
	proptest.CheckN(t, "mr/swarm", proptest.AllKinds, 40)
}

// The unsafe variant with a fault phase is still found within a few cases.
func TestPropFindsUnsafeNoRename(t *testing.T) {
	start := time.Now()
	res, err := proptest.FindWith("mr/unsafe-no-rename", crashKinds, proptest.FindOptions{Checks: 10, ShrinkTime: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res == nil || res.Failure.Checker != "mr-published" {
		t.Fatalf("rapid found %v in 10 cases, want an mr-published failure", res)
	}
	t.Logf("found %s in %v, plan %v", res.Failure.Checker, time.Since(start), res.Plan)
}

// Fuzz targets (go test -run '^$' -fuzz FuzzMRLossy ./scenarios/mr).

func FuzzMRLossy(f *testing.F) { proptest.Fuzz(f, "mr/lossy", crashKinds) }

func FuzzMRFSCrash(f *testing.F) { proptest.Fuzz(f, "mr/fs-crash", crashKinds) }

func FuzzMRSwarm(f *testing.F) { proptest.Fuzz(f, "mr/swarm", proptest.AllKinds) }
