package compare

import (
	"encoding/json"
	"hash/fnv"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/scenarios/raftshape"
)

// Implementations side by side: with Options.Scenarios each variant runs
// its own scenario on the same seeds, e.g. raft/halves (dsim's Raft) and
// etcd/halves (etcd raft) from the shared shapes of scenarios/raftshape,
// which give both the same fault plan from a seed. The statistics are the
// ones variants get; each run also keeps a fingerprint of its fault plan,
// so the comparison says on how many seeds the arms really faced the same
// faults.

// scenario returns the scenario variant i runs.
func (o Options) scenario(i int) *scenarios.Scenario {
	if len(o.Scenarios) > 0 {
		return o.Scenarios[i]
	}
	return o.Scenario
}

// name is the comparison's name: the scenario, or with Options.Scenarios
// the arms' scenarios joined by "+", the same one repeated too (no spaces:
// it names the benchmark lines).
func (o Options) name() string {
	if len(o.Scenarios) == 0 {
		return o.Scenario.Name
	}
	n := ""
	for i, s := range o.Scenarios {
		if i > 0 {
			n += "+"
		}
		n += s.Name
	}
	return n
}

// planKey fingerprints a run's fault plan: the generated plan's actions
// without crash points' message types (each implementation names its own:
// raftshape picks them by role in the same order) and a scripted shape's
// drawn timeline (raftshape.TimelineArtifact). Empty for a run without
// either.
func planKey(r *scenarios.Result) string {
	tl := r.Artifacts[raftshape.TimelineArtifact]
	if len(r.Plan) == 0 && len(tl) == 0 {
		return ""
	}
	h := fnv.New64a()
	for _, a := range r.Plan {
		a.Msg = ""
		b, _ := json.Marshal(a)
		h.Write(b)
	}
	h.Write([]byte{0})
	h.Write(tl)
	return string(h.Sum(nil))
}

// SamePlans counts the seeds on which arm i's fault plan is the first
// arm's (compared where both recorded one), and how many were compared.
func (r *Result) SamePlans(i int) (same, compared int) {
	a, b := r.Arms[0], r.Arms[i]
	for k := range a.Runs {
		if k >= len(b.Runs) || a.Runs[k].Plan == "" || b.Runs[k].Plan == "" {
			continue
		}
		compared++
		if a.Runs[k].Plan == b.Runs[k].Plan {
			same++
		}
	}
	return same, compared
}
