package campaign

import (
	"time"

	"github.com/smilingraft/dsim/scenarios"
)

// Counting shared by plain and guided campaigns, so that both summaries
// read alike.

// progressOf is the progress of a campaign el into its run that made
// sum.Runs of total runs (0: unknown), or that runs for limit (0: none).
func progressOf(sum *Summary, total uint64, limit, el time.Duration, done bool) Progress {
	p := Progress{Runs: sum.Runs, Failures: uint64(len(sum.Failures)), Total: total, Elapsed: el, Done: done}
	if el > 0 {
		p.SeedsPerS = float64(sum.Runs) / el.Seconds()
	}
	if total > 0 && sum.Runs > 0 && sum.Runs < total {
		p.Remaining = time.Duration(float64(el) * float64(total-sum.Runs) / float64(sum.Runs))
	} else if limit > 0 && !done {
		p.Remaining = limit - el
	}
	return p
}

// tally counts a run of scenario name's facts, work under faults and
// metrics.
func (s *Summary) tally(name string, res *scenarios.Result) {
	facts := s.facts(name)
	for k := range res.Coverage {
		facts.Reached[k]++
	}
	if v, ok := res.Metrics[scenarios.WorkUnderFaults]; ok {
		wk := s.Work[name]
		if wk == nil {
			wk = &Work{}
			s.Work[name] = wk
		}
		wk.add(workValue(v))
	}
	if len(res.Metrics) > 0 {
		if s.Metrics[name] == nil {
			s.Metrics[name] = map[string]*Dist{}
		}
		addMetrics(s.Metrics[name], res.Metrics)
	}
}

// facts returns scenario name's facts, made on first use.
func (s *Summary) facts(name string) *Facts {
	f := s.Coverage[name]
	if f == nil {
		f = &Facts{Reached: map[string]uint64{}}
		s.Coverage[name] = f
	}
	return f
}

// declare records the facts sc declares it should reach.
func (s *Summary) declare(sc *scenarios.Scenario) {
	if len(sc.Expect) > 0 {
		f := s.facts(sc.Name)
		f.Declared = mergeNames(f.Declared, sc.Expect)
	}
}

// addFailure records f, counts its file's fate and tells on (if any).
func (s *Summary) addFailure(f Failure, on func(Failure)) {
	s.Failures = append(s.Failures, f)
	switch {
	case f.FileError != "":
		s.UnwrittenFiles++
	case f.FileSkipped:
		s.FilesSkipped++
	}
	if on != nil {
		on(f)
	}
}
