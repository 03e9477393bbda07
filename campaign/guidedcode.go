package campaign

import (
	"strconv"

	"github.com/smilingraft/dsim/cover"
	"github.com/smilingraft/dsim/scenarios"
)

// CodeSignal is the signal of Go code coverage (package cover): one
// feature per executed block of the systems under test and hit-count
// bucket ("b<block>|<bucket>", across scenarios, as AFL's edge map), plus
// the run's facts (FactSignal). It needs a binary built with coverage
// counters (cover.BuildHint); runs are measured one at a time
// (cover.Measure), so it serialises the workers. With Rec set every run is
// also recorded there (campaign --guided --cover DIR). A run whose counters
// cannot be read still counts, with its facts only.
type CodeSignal struct {
	Rec *cover.Recorder
}

// Name returns "code".
func (CodeSignal) Name() string { return "code" }

// Exclusive is true: Go's coverage counters are process-wide.
func (CodeSignal) Exclusive() bool { return true }

// Observe runs run under the coverage counters and returns its blocks and
// facts as features.
func (c CodeSignal) Observe(scenario string, seed uint64, run func() *scenarios.Result) (*scenarios.Result, []string) {
	var res *scenarios.Result
	fn := func() { res = run() }
	var p *cover.Profile
	var err error
	if c.Rec != nil {
		p, err = c.Rec.Seed(scenario, seed, fn)
	} else {
		p, err = cover.Measure(fn)
	}
	if res == nil { // the counters failed before the run
		res = run()
	}
	feats := FactFeatures(res)
	if err != nil {
		return res, feats
	}
	for _, h := range p.Hits {
		feats = append(feats, "b"+strconv.FormatUint(uint64(h.Block), 10)+"|"+strconv.Itoa(bucket(uint64(h.Count))))
	}
	return res, feats
}
