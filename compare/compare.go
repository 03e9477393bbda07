// Package compare runs protocol variants of one scenario over the same
// seeds and compares their metrics the way benchstat compares benchmarks:
// per metric and variant the median with a confidence interval, and
// against the first variant the relative change of the medians and a
// Mann-Whitney U test (golang.org/x/perf/benchmath, assuming nothing about
// the distributions). Failures count too: per variant the failure rate and
// how many seeds of the shared corpus ran until the first failure.
//
// Every variant runs the same seeds, so where a variant does not change the
// fault options, every seed's fault plan (drawn from the seed) is the same
// for all of them: the variants differ only in the protocol. Metrics are
// taken from the runs that passed: a failed run stops early and its
// metrics describe a truncated run. Wall-clock metrics (names containing
// "wall") are left out: they measure the machine, not the protocol.
//
// The package also writes the runs in Go benchmark format
// (golang.org/x/perf/benchfmt), so that benchstat reproduces a
// comparison, and draws the distributions with gonum.org/v1/plot.
//
// It may import sim, scenarios, replay and the two modules above.
package compare

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/perf/benchmath"

	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
)

// MaxSeeds bounds Options.Seeds: a comparison keeps every run's metrics
// (exact statistics need the values), about 1 KB per run and variant.
const MaxSeeds = 1_000_000

// Options configure a comparison.
type Options struct {
	Scenario *scenarios.Scenario
	// Scenarios, when set, gives every variant its own scenario (one per
	// variant, in order): implementations side by side on the same seeds,
	// such as raft/halves and etcd/halves (see sidebyside.go). Scenario
	// may then be nil.
	Scenarios []*scenarios.Scenario
	// Variants are compared against the first; at least two.
	Variants []scenarios.Variant
	// Labels name the variants in tables and plots (default A, B, C...).
	Labels []string
	// SweepKey, when set, says the variants differ only in this key (a
	// sweep): plots draw each metric against its value.
	SweepKey string
	// From and Seeds: the seed corpus From..From+Seeds-1, the same for
	// every variant.
	From, Seeds uint64
	// Workers is how many worlds run at once (0: GOMAXPROCS).
	Workers int
	// Metrics restricts the comparison to these metric names (nil: every
	// metric some run recorded).
	Metrics []string
	// Watchdog is each run's wall-clock limit (0: 60s).
	Watchdog time.Duration
	// Confidence is the confidence level of the intervals (0: 0.95);
	// Alpha the significance level of the U test (0: 0.05).
	Confidence, Alpha float64
	// Stop, when closed, stops dispatching runs (Ctrl-C): the result holds
	// the seeds every variant finished and is marked Interrupted.
	Stop <-chan struct{}
}

// Validate checks options a comparison cannot run with.
func (o Options) Validate() error {
	switch {
	case o.Scenario == nil && len(o.Scenarios) == 0:
		return fmt.Errorf("no scenario")
	case len(o.Scenarios) > 0 && len(o.Scenarios) != len(o.Variants):
		return fmt.Errorf("%d scenarios for %d variants: give one variant per scenario", len(o.Scenarios), len(o.Variants))
	case len(o.Variants) < 2:
		return fmt.Errorf("want at least two variants to compare, got %d", len(o.Variants))
	case o.Seeds == 0:
		return fmt.Errorf("--seeds must be at least 1")
	case o.Seeds > MaxSeeds:
		return fmt.Errorf("--seeds %d: at most %d (a comparison keeps every value)", o.Seeds, MaxSeeds)
	case o.Seeds-1 > math.MaxUint64-o.From:
		return fmt.Errorf("%d seeds from %d run past the last seed, 2^64-1", o.Seeds, o.From)
	case len(o.Labels) > 0 && len(o.Labels) != len(o.Variants):
		return fmt.Errorf("%d labels for %d variants", len(o.Labels), len(o.Variants))
	}
	for i, v := range o.Variants {
		if err := o.scenario(i).Validate(v); err != nil {
			return err
		}
	}
	return nil
}

// CheckMetrics refuses, before the corpus runs, a metric name in
// o.Metrics that the scenario does not record: it runs the first seed of
// every variant and looks at the names those runs recorded. Execute checks
// again over every run.
func (o Options) CheckMetrics() error {
	if len(o.Metrics) == 0 {
		return nil
	}
	limit := o.Watchdog
	if limit == 0 {
		limit = 60 * time.Second
	}
	names := map[string]bool{}
	for i, v := range o.Variants {
		r := replay.RunLimited(o.scenario(i), v, o.From, scenarios.Config{}, limit)
		for k := range r.Metrics {
			if !strings.Contains(k, "wall") {
				names[k] = true
			}
		}
	}
	for _, m := range o.Metrics {
		if !names[m] {
			return fmt.Errorf("unknown metric %q: the first seed of %s records none by that name (recorded: %s)", m, o.name(), strings.Join(sortedKeys(names), ", "))
		}
	}
	return nil
}

// Run is one seed of one variant.
type Run struct {
	Seed    uint64             `json:"seed"`
	Passed  bool               `json:"passed"`
	Failure string             `json:"failure,omitempty"` // "checker: message"
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Plan fingerprints the run's fault plan (see planKey).
	Plan string `json:"-"`
}

// Arm is one variant's runs over the corpus, in seed order.
type Arm struct {
	Label   string            `json:"label"`
	Variant scenarios.Variant `json:"variant"`
	// Scenario is the arm's own scenario (Options.Scenarios only).
	Scenario string `json:"scenario,omitempty"`
	Runs     []Run  `json:"runs"`
}

// Failures counts the runs that did not pass.
func (a *Arm) Failures() int {
	n := 0
	for _, r := range a.Runs {
		if !r.Passed {
			n++
		}
	}
	return n
}

// SeedsToFirstFailure returns how many seeds of the corpus (in order) ran
// up to and including the first failing one, and that seed; 0 if none
// failed.
func (a *Arm) SeedsToFirstFailure() (n int, seed uint64) {
	for i, r := range a.Runs {
		if !r.Passed {
			return i + 1, r.Seed
		}
	}
	return 0, 0
}

// Values returns a metric's values over the runs that passed and recorded
// it, in seed order.
func (a *Arm) Values(metric string) []float64 {
	var out []float64
	for _, r := range a.Runs {
		if v, ok := r.Metrics[metric]; ok && r.Passed && !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, v)
		}
	}
	return out
}

// Result is a comparison's raw data: every run of every variant.
type Result struct {
	Scenario string `json:"scenario"`
	From     uint64 `json:"from"`
	Seeds    uint64 `json:"seeds"`
	SweepKey string `json:"sweep_key,omitempty"`
	Arms     []*Arm `json:"arms"`
	// Metrics are the names compared, sorted.
	Metrics    []string `json:"metrics"`
	Confidence float64  `json:"confidence"`
	Alpha      float64  `json:"alpha"`
	WallNs     int64    `json:"wall_ns"`
	// Interrupted means Options.Stop cut the corpus short: Seeds is the
	// number of seeds every variant finished.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Label returns the default label of variant i: A, B, ..., Z, V27, ...
func Label(i int) string {
	if i < 26 {
		return string(rune('A' + i))
	}
	return fmt.Sprintf("V%d", i+1)
}

// Execute runs every variant over the corpus (seeds interleaved, so a
// comparison stopped early is still balanced) and returns the runs.
func Execute(o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Watchdog == 0 {
		o.Watchdog = 60 * time.Second
	}
	if o.Confidence == 0 {
		o.Confidence = 0.95
	}
	if o.Alpha == 0 {
		o.Alpha = 0.05
	}
	res := &Result{Scenario: o.name(), From: o.From, Seeds: o.Seeds, SweepKey: o.SweepKey,
		Confidence: o.Confidence, Alpha: o.Alpha}
	for i, v := range o.Variants {
		l := Label(i)
		if len(o.Labels) > 0 {
			l = o.Labels[i]
		}
		a := &Arm{Label: l, Variant: v, Runs: make([]Run, o.Seeds)}
		if len(o.Scenarios) > 0 {
			a.Scenario = o.Scenarios[i].Name
		}
		res.Arms = append(res.Arms, a)
	}
	type job struct {
		arm int
		k   uint64
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				seed := o.From + j.k
				r := replay.RunLimited(o.scenario(j.arm), res.Arms[j.arm].Variant, seed, scenarios.Config{}, o.Watchdog)
				run := Run{Seed: seed, Passed: r.Passed, Metrics: r.Metrics, Plan: planKey(r)}
				switch {
				case r.Failure != nil:
					run.Failure = r.Failure.Checker + ": " + r.Failure.Message
				case !r.Passed:
					run.Failure = "undecided: " + strings.Join(r.Undecided, "; ")
				}
				res.Arms[j.arm].Runs[j.k] = run // each slot written by one worker
			}
		}()
	}
	dispatched := uint64(0) // whole seeds handed out
dispatch:
	for k := uint64(0); k < o.Seeds; k++ {
		for i := range res.Arms {
			select {
			case jobs <- job{i, k}:
			case <-o.Stop:
				res.Interrupted = true
				break dispatch
			}
		}
		dispatched++
	}
	close(jobs)
	wg.Wait()
	if res.Interrupted { // every seed handed out to every variant is done
		res.Seeds = dispatched
		for _, a := range res.Arms {
			a.Runs = a.Runs[:dispatched]
		}
	}
	names := map[string]bool{}
	for _, a := range res.Arms {
		for _, r := range a.Runs {
			for k := range r.Metrics {
				if !strings.Contains(k, "wall") {
					names[k] = true
				}
			}
		}
	}
	if len(o.Metrics) > 0 {
		for _, m := range o.Metrics {
			if !names[m] && !res.Interrupted {
				return nil, fmt.Errorf("unknown metric %q: no run of %s recorded it (recorded: %s)", m, o.name(), strings.Join(sortedKeys(names), ", "))
			}
		}
		names = map[string]bool{}
		for _, m := range o.Metrics {
			names[m] = true
		}
	}
	res.Metrics = sortedKeys(names)
	res.WallNs = time.Since(start).Nanoseconds()
	return res, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Cell is one variant's statistics for one metric.
type Cell struct {
	// N is how many passed runs recorded the metric.
	N int `json:"n"`
	// Median and its confidence interval [Lo, Hi] (benchmath, assuming
	// nothing about the distribution; ±Inf when too few runs).
	Median float64 `json:"median"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	// Against the first variant (absent for the first): P is the U test's
	// p-value, Significant P < Alpha, Delta the relative change of the
	// medians as benchstat prints it ("~" when not significant).
	P           float64 `json:"p,omitempty"`
	Significant bool    `json:"significant,omitempty"`
	Delta       string  `json:"delta,omitempty"`
	// Warnings are benchmath's (too few runs for an interval or a test).
	Warnings []string `json:"warnings,omitempty"`
}

// Row is one metric across the variants.
type Row struct {
	Metric string `json:"metric"`
	Cells  []Cell `json:"cells"`
}

// Table computes the statistics of every compared metric.
func (r *Result) Table() []Row {
	th := &benchmath.Thresholds{CompareAlpha: r.Alpha}
	var rows []Row
	for _, m := range r.Metrics {
		row := Row{Metric: m}
		var base *benchmath.Sample
		var baseMedian float64
		for i, a := range r.Arms {
			vs := a.Values(m)
			c := Cell{N: len(vs), Median: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
			if len(vs) > 0 {
				s := benchmath.NewSample(vs, th)
				sum := benchmath.AssumeNothing.Summary(s, r.Confidence)
				c.Median, c.Lo, c.Hi = sum.Center, sum.Lo, sum.Hi
				for _, w := range sum.Warnings {
					c.Warnings = append(c.Warnings, w.Error())
				}
				if i == 0 {
					base, baseMedian = s, sum.Center
				} else if base != nil {
					cmp := benchmath.AssumeNothing.Compare(base, s)
					c.P, c.Significant = cmp.P, cmp.P < cmp.Alpha
					c.Delta = cmp.FormatDelta(baseMedian, sum.Center)
					for _, w := range cmp.Warnings {
						c.Warnings = append(c.Warnings, w.Error())
					}
				}
			}
			row.Cells = append(row.Cells, c)
		}
		rows = append(rows, row)
	}
	return rows
}

// Find returns the row of metric (nil if it is not compared).
func Find(rows []Row, metric string) *Row {
	for i := range rows {
		if rows[i].Metric == metric {
			return &rows[i]
		}
	}
	return nil
}
