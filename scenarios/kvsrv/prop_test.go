package kvsrv_test

// Property tests and fuzz targets for the single-server versioned KV and
// its lock (issue 14): rapid draws a seed and a fault plan and shrinks any
// failure (porcupine checks the KV histories, mutual exclusion is checked
// online); go test -fuzz explores plans from bytes, seeded from the
// regression corpus (testdata/failures). CI runs a bounded number of cases
// (CheckN); the nightly job sets RAPID_CHECKS and runs the fuzz targets for
// minutes. The server's state is in memory by design (LABS 2.2), so no
// crash kinds: pauses, clogs and lossy links between clerks and server.

import (
	"testing"

	"github.com/smilingraft/dsim/campaign/proptest"
	_ "github.com/smilingraft/dsim/scenarios/kvsrv"
	"github.com/smilingraft/dsim/sim"
)

// stallKinds stall the server or its links without losing its memory.
var stallKinds = []string{sim.ActPause, sim.ActIsolate, sim.ActFlaky, sim.ActClog, sim.ActHeal}

func TestPropSwarm(t *testing.T) {
	proptest.CheckN(t, "kvsrv/swarm", stallKinds, 40)
}

func TestPropLockUnreliable(t *testing.T) {
	proptest.CheckN(t, "lock/many-clients-unreliable", stallKinds, 40)
}

// Fuzz targets (go test -run '^$' -fuzz FuzzKVSrvSwarm ./scenarios/kvsrv).

func FuzzKVSrvSwarm(f *testing.F) { proptest.Fuzz(f, "kvsrv/swarm", stallKinds) }

func FuzzLockUnreliable(f *testing.F) {
	proptest.Fuzz(f, "lock/many-clients-unreliable", stallKinds)
}
