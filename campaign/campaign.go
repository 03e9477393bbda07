// Package campaign runs many seeds of many scenarios across worker
// goroutines (each world single-threaded), writes a failure file the moment
// a failure is found, double-runs a share of seeds to check determinism,
// guards each seed with a wall-clock watchdog, splits campaigns into
// disjoint shards (flag or job-engine environment variables) and merges
// per-shard summaries back into one.
//
// Results are aggregated deterministically (sorted by scenario and seed), so
// a summary does not depend on scheduling.
//
// It may import sim, scenarios and replay.
package campaign

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Options configure a campaign.
type Options struct {
	// Scenarios to run; every seed runs on each of them.
	Scenarios []*scenarios.Scenario
	// Variant applies to every scenario.
	Variant scenarios.Variant
	// Seeds is how many seeds per scenario the whole campaign covers, over
	// all shards (from From to From+Seeds-1). Zero with Time set: run until
	// the time is up.
	Seeds uint64
	// Time bounds the campaign's wall time (0: none).
	Time time.Duration
	// From is the first seed.
	From uint64
	// Workers is how many worlds run at once (0: GOMAXPROCS).
	Workers int
	// Shard selects this process's part of the seeds (zero value: all).
	Shard Shard
	// Out is the directory failure files are written to ("": none).
	Out string
	// CheckDeterminism runs every seed twice; otherwise one seed in
	// DoubleRunEvery is (0: 64; 1: every seed).
	CheckDeterminism bool
	DoubleRunEvery   uint64
	// Watchdog is each seed's wall-clock limit (0: 60s; negative: none).
	Watchdog time.Duration
	// Progress, when set, is called about every ProgressEvery (default 1s)
	// and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// OnFailure, when set, is called as each failure is recorded.
	OnFailure func(Failure)
}

// Progress is a snapshot of a running campaign.
type Progress struct {
	Runs, Failures uint64
	// Total is the number of runs this shard will make (0: time-bounded).
	Total   uint64
	Elapsed time.Duration
	// Remaining is the estimated time left (0 when unknown).
	Remaining time.Duration
	SeedsPerS float64
	Done      bool
}

// Failure is one failing seed in a summary.
type Failure struct {
	Scenario string   `json:"scenario"`
	Variant  string   `json:"variant"`
	Seed     uint64   `json:"seed"`
	Checker  string   `json:"checker"`
	Message  string   `json:"message"`
	Event    uint64   `json:"event"`
	VTime    sim.Time `json:"vtime_ns"`
	File     string   `json:"file,omitempty"`
	Repro    string   `json:"repro"`
}

// SeedRange says which seeds of one scenario a summary covers: shard
// Shard of From..From+Seeds-1 (Seeds 0: a time-bounded campaign, whose
// shard covers its first Runs seeds).
type SeedRange struct {
	Scenario string `json:"scenario"`
	Variant  string `json:"variant"`
	From     uint64 `json:"from"`
	Seeds    uint64 `json:"seeds"`
	Shard    Shard  `json:"shard"`
	Runs     uint64 `json:"runs"`
	// Shards lists the shard indices merged into this range.
	Shards []int `json:"shards,omitempty"`
}

// Facts are one scenario's coverage facts: how many seeds reached each
// "sometimes" fact, and facts other scenarios of its system reached but it
// never did.
type Facts struct {
	Reached   map[string]uint64 `json:"reached"`
	Unreached []string          `json:"unreached"`
}

// Summary is a campaign's outcome; its JSON form is the CLI contract's.
type Summary struct {
	Runs         uint64      `json:"runs"`
	Passed       uint64      `json:"passed"`
	Failures     []Failure   `json:"failures"`
	FailureFiles []string    `json:"failure_files"`
	Events       uint64      `json:"events"`
	VTimeNs      int64       `json:"vtime_ns"`
	WallNs       int64       `json:"wall_ns"`
	SeedsPerS    float64     `json:"seeds_per_s"`
	Workers      int         `json:"workers"`
	DoubleRuns   uint64      `json:"double_runs"`
	Interrupted  bool        `json:"interrupted"`
	Seeds        []SeedRange `json:"seeds"`
	// Coverage is per scenario.
	Coverage map[string]*Facts `json:"coverage"`
	// Problems lists missing or duplicated shards (merged summaries).
	Problems []string `json:"problems,omitempty"`
}

type job struct {
	sc   int
	seed uint64
}

type outcome struct {
	job
	res    *scenarios.Result
	double bool
	fail   *Failure
}

// Run runs a campaign until its seeds are done, its time is up, or ctx is
// cancelled (then Interrupted is set and the summary covers what finished).
// Failure files are written as failures are found; a write error is
// reported in the failure's File field as "error: ...".
func Run(ctx context.Context, o Options) *Summary {
	start := time.Now()
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Shard.Count == 0 {
		o.Shard = All
	}
	if o.DoubleRunEvery == 0 {
		o.DoubleRunEvery = 64
	}
	if o.Watchdog == 0 {
		o.Watchdog = 60 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	perScenario := o.Shard.Len(o.Seeds)
	total := perScenario * uint64(len(o.Scenarios))
	if o.Seeds == 0 {
		total = 0
	}
	var deadline <-chan time.Time
	if o.Time > 0 {
		t := time.NewTimer(o.Time)
		defer t.Stop()
		deadline = t.C
	}

	jobs := make(chan job)
	results := make(chan outcome, o.Workers)
	stopped := make(chan struct{}) // closed when dispatch stopped early
	go func() {
		defer close(jobs)
		for k := uint64(0); o.Seeds == 0 || k < perScenario; k++ {
			seed := o.Shard.Seed(o.From, k)
			for i := range o.Scenarios {
				select {
				case jobs <- job{i, seed}:
				case <-ctx.Done():
					close(stopped)
					return
				case <-deadline:
					if o.Seeds != 0 {
						close(stopped)
					}
					return
				}
			}
			if len(o.Scenarios) == 0 {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				results <- runJob(o, j)
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	sum := &Summary{Workers: o.Workers, Coverage: map[string]*Facts{}}
	runs := make([]uint64, len(o.Scenarios))
	ticker := time.NewTicker(o.ProgressEvery)
	defer ticker.Stop()
	report := func(done bool) {
		if o.Progress == nil {
			return
		}
		el := time.Since(start)
		p := Progress{Runs: sum.Runs, Failures: uint64(len(sum.Failures)), Total: total, Elapsed: el, Done: done}
		if el > 0 {
			p.SeedsPerS = float64(sum.Runs) / el.Seconds()
		}
		if total > 0 && sum.Runs > 0 && sum.Runs < total {
			p.Remaining = time.Duration(float64(el) * float64(total-sum.Runs) / float64(sum.Runs))
		} else if o.Time > 0 && !done {
			p.Remaining = o.Time - el
		}
		o.Progress(p)
	}
	for loop := true; loop; {
		select {
		case r, ok := <-results:
			if !ok {
				loop = false
				break
			}
			sum.Runs++
			runs[r.sc]++
			if r.double {
				sum.DoubleRuns++
			}
			sum.Events += r.res.Events
			sum.VTimeNs += int64(r.res.VTime)
			name := o.Scenarios[r.sc].Name
			facts := sum.Coverage[name]
			if facts == nil {
				facts = &Facts{Reached: map[string]uint64{}}
				sum.Coverage[name] = facts
			}
			for k := range r.res.Coverage {
				facts.Reached[k]++
			}
			if r.fail != nil {
				sum.Failures = append(sum.Failures, *r.fail)
				if o.OnFailure != nil {
					o.OnFailure(*r.fail)
				}
			} else {
				sum.Passed++
			}
		case <-ticker.C:
			report(false)
		}
	}
	select {
	case <-stopped:
		sum.Interrupted = true
	default:
	}
	for i, s := range o.Scenarios {
		sum.Seeds = append(sum.Seeds, SeedRange{Scenario: s.Name, Variant: o.Variant.String(),
			From: o.From, Seeds: o.Seeds, Shard: o.Shard, Runs: runs[i]})
	}
	sum.WallNs = time.Since(start).Nanoseconds()
	sum.finish()
	report(true)
	return sum
}

// finish sorts everything deterministically and derives the totals that
// depend on the whole: failure file list, unreached facts, seeds per second.
func (s *Summary) finish() {
	sort.Slice(s.Failures, func(i, j int) bool {
		a, b := s.Failures[i], s.Failures[j]
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		if a.Seed != b.Seed {
			return a.Seed < b.Seed
		}
		return a.Checker < b.Checker
	})
	if s.Failures == nil {
		s.Failures = []Failure{}
	}
	s.FailureFiles = []string{}
	for _, f := range s.Failures {
		if f.File != "" && !strings.HasPrefix(f.File, "error:") {
			s.FailureFiles = append(s.FailureFiles, f.File)
		}
	}
	sort.Slice(s.Seeds, func(i, j int) bool {
		a, b := s.Seeds[i], s.Seeds[j]
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		return a.Variant < b.Variant
	})
	if s.Coverage == nil {
		s.Coverage = map[string]*Facts{}
	}
	for _, r := range s.Seeds {
		if s.Coverage[r.Scenario] == nil {
			s.Coverage[r.Scenario] = &Facts{Reached: map[string]uint64{}}
		}
	}
	// A fact reached by one scenario of a system is expected of its others.
	bySystem := map[string]map[string]bool{}
	for name, f := range s.Coverage {
		sys, _, _ := strings.Cut(name, "/")
		if bySystem[sys] == nil {
			bySystem[sys] = map[string]bool{}
		}
		for k := range f.Reached {
			bySystem[sys][k] = true
		}
	}
	for name, f := range s.Coverage {
		sys, _, _ := strings.Cut(name, "/")
		f.Unreached = []string{}
		for k := range bySystem[sys] {
			if f.Reached[k] == 0 {
				f.Unreached = append(f.Unreached, k)
			}
		}
		sort.Strings(f.Unreached)
	}
	if s.WallNs > 0 {
		s.SeedsPerS = float64(s.Runs) / (float64(s.WallNs) / 1e9)
	}
}

// doubleRun decides deterministically whether a seed is run twice.
func doubleRun(o Options, seed uint64) bool {
	if o.CheckDeterminism || o.DoubleRunEvery == 1 {
		return true
	}
	return sim.StreamSeed(seed, "campaign/double-run")%o.DoubleRunEvery == 0
}

func runJob(o Options, j job) outcome {
	s := o.Scenarios[j.sc]
	limit := o.Watchdog
	if limit < 0 {
		limit = 0
	}
	res := replay.RunLimited(s, o.Variant, j.seed, scenarios.Config{}, limit)
	out := outcome{job: j, res: res}
	hung := res.Failure != nil && res.Failure.Checker == replay.HangChecker
	if !hung && doubleRun(o, j.seed) {
		out.double = true
		again := replay.RunLimited(s, o.Variant, j.seed, scenarios.Config{}, limit)
		if again.TraceHash != res.TraceHash || (again.Failure == nil) != (res.Failure == nil) {
			msg := fmt.Sprintf("two runs of seed %d differ: hash %s (%s) vs %s (%s)", j.seed,
				res.TraceHash, verdict(res), again.TraceHash, verdict(again))
			if d := replay.Diverge(s, o.Variant, j.seed, scenarios.Config{}); d != "" {
				msg += "; " + strings.ReplaceAll(d, "\n", " ")
			}
			res.Failure = &sim.Failure{Checker: replay.DivergenceChecker, Message: msg}
			res.Passed = false
		}
	}
	if res.Failure == nil {
		return out
	}
	f := &Failure{Scenario: s.Name, Variant: o.Variant.String(), Seed: j.seed, Checker: res.Failure.Checker,
		Message: res.Failure.Message, Event: res.Failure.Event, VTime: res.Failure.VTime, Repro: res.Repro}
	out.fail = f
	if o.Out == "" {
		return out
	}
	file := replay.FromResult(res, "campaign")
	if hung {
		file.Plan, file.PlanGenerated = nil, true
	}
	// Write first, so the failure is on disk before anything else can go
	// wrong; then enrich it with the trace tail and write it again.
	path, err := file.Write(o.Out)
	if err != nil {
		f.File = "error: " + err.Error()
		return out
	}
	f.File, f.Repro = path, file.Repro
	if !hung && res.Failure.Checker != replay.DivergenceChecker {
		file.Capture(40, limit)
		_, _ = file.WriteAs(path)
	}
	return out
}

func verdict(r *scenarios.Result) string {
	if r.Failure == nil {
		return "passed"
	}
	return r.Failure.Checker
}
