package etcdsim

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	raftsc "github.com/smilingraft/dsim/scenarios/raft"
	"github.com/smilingraft/dsim/scenarios/raftshape"
)

// sharedPairs are the shared shapes as dsim's Raft and etcd raft register
// them.
var sharedPairs = [][2]string{
	{"raft/swarm", "etcd/swarm"}, {"raft/halves", "etcd/halves"}, {"raft/bridge", "etcd/bridge"},
	{"raft/ring", "etcd/ring"}, {"raft/one-way", "etcd/one-way"},
	{"raft/leader-isolation-loop", "etcd/isolate-leader"},
	{"raft/crash-restart", "etcd/crash-restart"}, {"raft/churn", "etcd/churn"},
}

// TestSharedShapesSamePlan runs each shared shape on dsim's Raft and on
// etcd raft from the same seeds: both must get the identical fault plan,
// the generated plan (crash points' messages compared by role) and the
// scripted shape's drawn timeline alike, however differently the two
// implementations behave under it. That is the point of sharing the
// shapes: a side-by-side comparison measures the implementations, not two
// different fault schedules.
func TestSharedShapesSamePlan(t *testing.T) {
	for _, p := range sharedPairs {
		rs, err := scenarios.Lookup(p[0])
		if err != nil {
			t.Fatal(err)
		}
		es, err := scenarios.Lookup(p[1])
		if err != nil {
			t.Fatal(err)
		}
		for seed := uint64(1); seed <= 2; seed++ {
			r := scenarios.Run(rs, nil, seed, scenarios.Config{})
			e := scenarios.Run(es, nil, seed, scenarios.Config{})
			if !r.Passed || !e.Passed {
				t.Errorf("%s / %s seed %d: passed %v / %v: %v / %v", p[0], p[1], seed, r.Passed, e.Passed, r.Failure, e.Failure)
				continue
			}
			rp, _ := json.Marshal(raftsc.Promises().Neutral(r.Plan))
			ep, _ := json.Marshal(Promises().Neutral(e.Plan))
			if !bytes.Equal(rp, ep) {
				t.Errorf("%s / %s seed %d: plans differ:\n%s\n%s", p[0], p[1], seed, rp, ep)
			}
			rt, et := r.Artifacts[raftshape.TimelineArtifact], e.Artifacts[raftshape.TimelineArtifact]
			if !bytes.Equal(rt, et) {
				t.Errorf("%s / %s seed %d: timelines differ:\n%s\n%s", p[0], p[1], seed, rt, et)
			}
			if len(r.Plan) == 0 && len(rt) == 0 {
				t.Errorf("%s seed %d: neither a plan nor a timeline: nothing was compared", p[0], seed)
			}
			if r.TraceHash == e.TraceHash {
				t.Errorf("%s / %s seed %d: same trace hash %s: not two implementations", p[0], p[1], seed, r.TraceHash)
			}
		}
	}
}

// TestSharedShapesPlanControl: the comparison above is not vacuous: two
// different shapes, or one shape from two seeds, give different timelines.
func TestSharedShapesPlanControl(t *testing.T) {
	timeline := func(name string, seed uint64) []byte {
		s, err := scenarios.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		return scenarios.Run(s, nil, seed, scenarios.Config{}).Artifacts[raftshape.TimelineArtifact]
	}
	a, b, c := timeline("raft/halves", 1), timeline("etcd/bridge", 1), timeline("etcd/halves", 2)
	if len(a) == 0 || bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatalf("timelines should differ:\n%s\n%s\n%s", a, b, c)
	}
	t.Logf("raft/halves seed 1:\n%s", a)
}
