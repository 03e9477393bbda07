package kv_test

// Property tests and fuzz targets for the versioned KV on Raft (issue 14):
// rapid draws a seed and a plan of crashes and partitions and shrinks any
// failure (porcupine checks every history); go test -fuzz explores plans
// from bytes, seeded from the regression corpus (testdata/failures). CI
// runs a bounded number of cases (CheckN: a KV run costs tens of ms); the
// nightly job sets RAPID_CHECKS and runs the fuzz targets for minutes.

import (
	"testing"
	"time"

	"github.com/smilingraft/dsim/campaign/proptest"
	_ "github.com/smilingraft/dsim/scenarios/kv"
	"github.com/smilingraft/dsim/sim"
)

var (
	// crashKinds are long and short crashes and crash points.
	crashKinds = []string{sim.ActCrash, proptest.KindShortCrash, sim.ActCrashPoint}
	// partitionKinds are crashes and partitions (isolation, flaky links,
	// heals), no clock faults: the lease read path assumes bounded drift.
	partitionKinds = []string{sim.ActCrash, proptest.KindShortCrash, sim.ActCrashPoint,
		sim.ActIsolate, sim.ActFlaky, sim.ActHeal}
)

// The lab's crash-and-restart script takes short crashes and crash points
// between its own crashes.
func TestPropPersistOneClient(t *testing.T) {
	proptest.CheckN(t, "kv/persist-one-client", proptest.ShortKinds, 20)
}

// Partitions and crashes under each read path.
func TestPropPartialPartitions(t *testing.T) {
	proptest.CheckN(t, "kv/partial-partitions", partitionKinds, 20)
}

func TestPropPartialPartitionsReadIndex(t *testing.T) {
	proptest.CheckN(t, "kv/partial-partitions-readindex", partitionKinds, 20)
}

// kv/disk's script waits for a quiet moment to wipe a follower, so only
// short crashes and crash points (a long drawn crash starves that wait).
func TestPropDisk(t *testing.T) {
	proptest.CheckN(t, "kv/disk", proptest.ShortKinds, 20)
}

func TestPropSwarm(t *testing.T) {
	proptest.CheckN(t, "kv/swarm", proptest.AllKinds, 30)
}

// The unsafe variants are still found by the property tests within a few
// cases (their adversary is the scenario's script; porcupine names the bad
// history).
func TestPropFindsUnsafeLease(t *testing.T) {
	start := time.Now()
	res, err := proptest.FindWith("kv/unsafe-lease", partitionKinds, proptest.FindOptions{Checks: 5, ShrinkTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res == nil || res.Failure.Checker != "linearizability" {
		t.Fatalf("rapid found %v in 5 cases, want a linearizability failure", res)
	}
	t.Logf("found %s in %v, plan %v", res.Failure.Checker, time.Since(start), res.Plan)
}

// Fuzz targets (go test -run '^$' -fuzz FuzzKVSwarm ./scenarios/kv).

func FuzzKVPartialPartitions(f *testing.F) {
	proptest.Fuzz(f, "kv/partial-partitions", partitionKinds)
}

func FuzzKVDisk(f *testing.F) { proptest.Fuzz(f, "kv/disk", proptest.ShortKinds) }

func FuzzKVSwarm(f *testing.F) { proptest.Fuzz(f, "kv/swarm", proptest.AllKinds) }
