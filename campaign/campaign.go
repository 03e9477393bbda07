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
	"math"
	"math/bits"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/smilingraft/dsim/cover"
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
	// Workers is how many worlds run at once (0: GOMAXPROCS). Run caps it
	// at the number of runs a seed-bounded campaign makes and at MaxWorkers.
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
	// MaxFailures stops dispatching new seeds once this many have failed
	// (0: no limit). Seeds already running finish and are counted, so a
	// summary may hold a few more; it is complete about what ran.
	MaxFailures uint64
	// FilesPerChecker bounds the failure files written per (scenario,
	// checker): the first ones found get a file, later ones are listed in
	// the summary with their repro command only (0: DefaultFilesPerChecker;
	// negative: no limit).
	FilesPerChecker int
	// Cover, when set, records the Go coverage of every seed's first run
	// (the binary must be built with -cover -covermode=atomic; see package
	// cover). Counters are process-wide, so Run then runs one seed at a
	// time (Workers 1): shard the campaign over processes instead.
	Cover *cover.Recorder
}

// Limits on what a campaign or a summary may ask for.
const (
	// MaxWorkers caps Options.Workers: every world runs single-threaded
	// and CPU-bound, so more workers than this only cost memory.
	MaxWorkers = 256
	// MaxShards caps a shard count (flag, environment or summary). Job
	// engines top out well below it (Slurm's MaxArraySize, a GitHub matrix
	// of 256, Kubernetes' 100,000 completions).
	MaxShards = 1 << 20
	// DefaultFilesPerChecker is Options.FilesPerChecker's zero value: a
	// failing system writes about 12 KB per failing seed, and the first few
	// files of one checker are enough to replay and shrink.
	DefaultFilesPerChecker = 10
)

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
	// FileError says why the failure file could not be written (File is
	// then empty): the failure is real, its file is lost.
	FileError string `json:"file_error,omitempty"`
	// FileSkipped means no file was written on purpose: its (scenario,
	// checker) already had Options.FilesPerChecker files. Repro reruns it.
	FileSkipped bool   `json:"file_skipped,omitempty"`
	Repro       string `json:"repro"`
	// Artifacts are the checker files written beside File (porcupine's
	// picture of a linearizability violation, ...).
	Artifacts []string `json:"artifacts,omitempty"`
	// Moment is where an offline checker placed the violation, in one line
	// (sim.Moment.Why; "" when it placed none): part of the Signature.
	Moment string `json:"moment,omitempty"`
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
// never did; the facts the scenario declares it expects
// (scenarios.Scenario.Expect), and those of them no seed reached, which the
// campaign reports.
type Facts struct {
	Reached   map[string]uint64 `json:"reached"`
	Unreached []string          `json:"unreached"`
	// Declared are the facts the scenario expects a campaign to reach.
	Declared []string `json:"declared,omitempty"`
	// DeclaredUnreached are the declared facts no seed reached: a warning
	// (the scenario did not exercise what it is named for), not a failure.
	DeclaredUnreached []string `json:"declared_unreached,omitempty"`
}

// Work summarises one scenario's work_under_faults metric
// (scenarios.WorkUnderFaults) over the runs that reported it: how much
// client work completed while a fault was active. Counts are whole numbers,
// summed exactly, so that a summary does not depend on the order runs
// finished in.
type Work struct {
	// Runs is how many runs reported the metric.
	Runs uint64 `json:"runs"`
	// Sum, Min and Max are over those runs; Mean is Sum / Runs.
	Sum  uint64  `json:"sum"`
	Min  uint64  `json:"min"`
	Max  uint64  `json:"max"`
	Mean float64 `json:"mean"`
	// ZeroRuns is how many of them did no work under faults.
	ZeroRuns uint64 `json:"zero_runs"`
}

// add counts one run's value.
func (w *Work) add(v uint64) {
	if w.Runs == 0 || v < w.Min {
		w.Min = v
	}
	if v > w.Max {
		w.Max = v
	}
	if v == 0 {
		w.ZeroRuns++
	}
	w.Runs++
	w.Sum = satAdd(w.Sum, v)
}

// workValue converts a run's work_under_faults metric to a count: rounded,
// negative or NaN as 0.
func workValue(v float64) uint64 {
	if !(v > 0) {
		return 0
	}
	if v >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(math.Round(v))
}

// SummaryFormat is the version of the summary JSON this build writes and
// the newest it merges.
const SummaryFormat = 1

// Summary is a campaign's outcome; its JSON form is the CLI contract's.
type Summary struct {
	// DsimVersion and FormatVersion name the build that wrote the summary
	// (replay.Version) and its JSON format (SummaryFormat): Merge refuses
	// summaries of different builds. Summaries of older builds carry
	// neither; they merge with each other as before.
	DsimVersion   string `json:"dsim_version,omitempty"`
	FormatVersion int    `json:"format_version,omitempty"`

	Runs         uint64    `json:"runs"`
	Passed       uint64    `json:"passed"`
	Failures     []Failure `json:"failures"`
	FailureFiles []string  `json:"failure_files"`
	Events       uint64    `json:"events"`
	VTimeNs      int64     `json:"vtime_ns"`
	WallNs       int64     `json:"wall_ns"`
	SeedsPerS    float64   `json:"seeds_per_s"`
	Workers      int       `json:"workers"`
	DoubleRuns   uint64    `json:"double_runs"`
	// Interrupted means the campaign was stopped (Ctrl-C, SIGTERM, a
	// cancelled context) before its seeds were done: it is incomplete.
	Interrupted bool        `json:"interrupted"`
	Seeds       []SeedRange `json:"seeds"`
	// Coverage is per scenario.
	Coverage map[string]*Facts `json:"coverage"`
	// Work is per scenario: work completed under faults (scenarios that
	// report none are absent).
	Work map[string]*Work `json:"work_under_faults"`
	// Metrics is per scenario, per metric: every metric the scenario's
	// runs recorded (scenarios.Cluster.Metric), over the runs that
	// recorded it, passed or failed (see Dist).
	Metrics map[string]map[string]*Dist `json:"metrics,omitempty"`
	// UnwrittenFiles counts failures whose file could not be written
	// (full disk, removed directory...): results lost, so incomplete.
	UnwrittenFiles uint64 `json:"unwritten_files"`
	// FilesSkipped counts failures left without a file by
	// Options.FilesPerChecker.
	FilesSkipped uint64 `json:"files_skipped"`
	// StoppedAfterFailures is Options.MaxFailures when the campaign
	// stopped dispatching because it was reached (0: it was not).
	StoppedAfterFailures uint64 `json:"stopped_after_failures,omitempty"`
	// RecoveredFiles are failure files finished from temp files an earlier,
	// killed campaign left in the output directory (see PrepareOut);
	// PartialTempFiles are the temp files that could not be finished.
	RecoveredFiles   []string `json:"recovered_files,omitempty"`
	PartialTempFiles []string `json:"partial_temp_files,omitempty"`
	// Undecided lists "scenario seed N: checker: reason", one per run whose
	// checkers reached no verdict (porcupine's timeout): neither passed nor
	// failed, so the campaign is incomplete.
	Undecided []string `json:"undecided,omitempty"`
	// Problems lists what makes the summary incomplete besides the fields
	// above: missing, duplicated or interrupted shards (merged summaries),
	// options Run refused, a counter that would have overflowed.
	Problems []string `json:"problems,omitempty"`
	// Groups are the failures grouped by cause (see Groups): always
	// derived from Failures (by finish, Merge and ParseSummary), never
	// trusted from a file, so a summary written before groups existed
	// gets them when it is read.
	Groups []Group `json:"groups"`
}

// Incomplete lists why the summary does not cover its whole campaign
// (nil: it does). An incomplete campaign is not a pass even without
// failures; the CLI gives it its own exit status.
func (s *Summary) Incomplete() []string {
	var why []string
	if s.Interrupted {
		why = append(why, fmt.Sprintf("interrupted after %d runs", s.Runs))
	}
	if n := len(s.Undecided); n > 0 {
		why = append(why, fmt.Sprintf("%d checks reached no verdict (porcupine timed out; not a pass)", n))
	}
	if s.UnwrittenFiles > 0 {
		why = append(why, fmt.Sprintf("%d failure files could not be written", s.UnwrittenFiles))
	}
	return append(why, s.Problems...)
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

// Validate checks options a campaign cannot run with: a seed range past
// 2^64-1, a bad shard, a negative worker count. The CLI reports its error
// as bad usage; Run refuses such options too (see Run).
func (o Options) Validate() error {
	if o.Shard != (Shard{}) {
		if err := o.Shard.Check(); err != nil {
			return err
		}
	}
	if o.Seeds > 0 && o.Seeds-1 > math.MaxUint64-o.From {
		return fmt.Errorf("%d seeds from %d run past the last seed, 2^64-1 = %d", o.Seeds, o.From, uint64(math.MaxUint64))
	}
	if o.Workers < 0 {
		return fmt.Errorf("workers %d is negative", o.Workers)
	}
	return nil
}

// Run runs a campaign until its seeds are done, its time is up, its
// MaxFailures are reached, or ctx is cancelled (then Interrupted is set and
// the summary covers what finished). Failure files are written as failures
// are found; a write error is counted in UnwrittenFiles and given in the
// failure's FileError. Options that fail Validate run nothing: the summary
// says why in Problems. Unless GOGC (GOMEMLIMIT) is set, the garbage
// collector runs at GCPercent (under a soft memory limit that grows with
// the workers, gc.go) for the campaign's duration.
func Run(ctx context.Context, o Options) *Summary {
	start := time.Now()
	defer setGC(o.Workers)() // GCPercent and a memory limit, unless GOGC or GOMEMLIMIT is set
	if o.Shard == (Shard{}) {
		o.Shard = All
	}
	if err := o.Validate(); err != nil {
		sum := &Summary{DsimVersion: replay.Version, FormatVersion: SummaryFormat, Problems: []string{"campaign not run: " + err.Error()}}
		sum.finish()
		sum.Seeds = []SeedRange{}
		return sum
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
	if o.FilesPerChecker == 0 {
		o.FilesPerChecker = DefaultFilesPerChecker
	}
	perScenario := o.Shard.Len(o.Seeds)
	total := uint64(0) // runs this shard makes; 0: time-bounded
	if o.Seeds > 0 {
		total = satMul(perScenario, uint64(len(o.Scenarios)))
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Workers > MaxWorkers {
		o.Workers = MaxWorkers
	}
	if o.Cover != nil {
		o.Workers = 1
	}
	if total > 0 && uint64(o.Workers) > total {
		o.Workers = int(total)
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
	halt := make(chan struct{})    // closed when MaxFailures is reached
	go func() {
		defer close(jobs)
		for k := uint64(0); o.Seeds == 0 || k < perScenario; k++ {
			seed, ok := o.Shard.SeedOK(o.From, k)
			if !ok {
				return // a time-bounded campaign ran every seed up to 2^64-1
			}
			for i := range o.Scenarios {
				select {
				case jobs <- job{i, seed}:
				case <-halt:
					return
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
	budget := &fileBudget{limit: o.FilesPerChecker, used: map[[2]string]int{}}
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				select {
				case <-halt:
					// Dispatch raced with MaxFailures: a seed handed out
					// after it was reached is not run, so at most the seeds
					// running or finished but not yet counted (two per
					// worker) come after the last allowed failure.
					continue
				default:
				}
				results <- runJob(o, budget, j)
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	sum := &Summary{DsimVersion: replay.Version, FormatVersion: SummaryFormat, Workers: o.Workers, Coverage: map[string]*Facts{}, Work: map[string]*Work{},
		Metrics: map[string]map[string]*Dist{}}
	var overflow []string
	add := func(name string, to *uint64, n uint64) {
		if v, carry := bits.Add64(*to, n, 0); carry == 0 {
			*to = v
		} else if *to != math.MaxUint64 {
			*to = math.MaxUint64
			overflow = append(overflow, name+" overflowed: saturated at 2^64-1")
		}
	}
	runs := make([]uint64, len(o.Scenarios))
	ticker := time.NewTicker(o.ProgressEvery)
	defer ticker.Stop()
	report := func(done bool) {
		if o.Progress != nil {
			o.Progress(progressOf(sum, total, o.Time, time.Since(start), done))
		}
	}
	var vtime uint64 // summed unsigned, then checked against int64
	for loop := true; loop; {
		select {
		case r, ok := <-results:
			if !ok {
				loop = false
				break
			}
			add("runs", &sum.Runs, 1)
			runs[r.sc]++
			if r.double {
				sum.DoubleRuns++
			}
			add("events", &sum.Events, r.res.Events)
			if r.res.VTime > 0 {
				add("vtime_ns", &vtime, uint64(r.res.VTime))
			}
			name := o.Scenarios[r.sc].Name
			sum.tally(name, r.res)
			if r.fail == nil && len(r.res.Undecided) > 0 {
				sum.Undecided = append(sum.Undecided, fmt.Sprintf("%s seed %d: %s", name, r.seed, strings.Join(r.res.Undecided, "; ")))
				break
			}
			if r.fail == nil {
				sum.Passed++
				break
			}
			sum.addFailure(*r.fail, o.OnFailure)
			if o.MaxFailures > 0 && uint64(len(sum.Failures)) == o.MaxFailures {
				sum.StoppedAfterFailures = o.MaxFailures
				close(halt)
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
	if vtime > math.MaxInt64 {
		vtime = math.MaxInt64
		overflow = append(overflow, "vtime_ns overflowed: saturated at 2^63-1")
	}
	sum.VTimeNs = int64(vtime)
	sum.Problems = append(sum.Problems, overflow...)
	for i, s := range o.Scenarios {
		sum.Seeds = append(sum.Seeds, SeedRange{Scenario: s.Name, Variant: o.Variant.String(),
			From: o.From, Seeds: o.Seeds, Shard: o.Shard, Runs: runs[i]})
		sum.declare(s)
	}
	sum.WallNs = time.Since(start).Nanoseconds()
	sum.finish()
	report(true)
	return sum
}

// fileBudget hands out the failure files allowed per (scenario, checker).
type fileBudget struct {
	mu    sync.Mutex
	limit int // negative: none
	used  map[[2]string]int
}

// take reserves a file for k; give returns one that was not written.
func (b *fileBudget) take(k [2]string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit >= 0 && b.used[k] >= b.limit {
		return false
	}
	b.used[k]++
	return true
}

func (b *fileBudget) give(k [2]string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used[k]--
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
		f.Declared = mergeNames(nil, f.Declared)
		f.DeclaredUnreached = nil
		for _, k := range f.Declared {
			if f.Reached[k] == 0 {
				f.DeclaredUnreached = append(f.DeclaredUnreached, k)
			}
		}
	}
	if s.Work == nil {
		s.Work = map[string]*Work{}
	}
	for _, w := range s.Work {
		w.Mean = 0
		if w.Runs > 0 {
			w.Mean = float64(w.Sum) / float64(w.Runs)
		}
	}
	for _, ms := range s.Metrics {
		for _, d := range ms {
			d.finish()
		}
	}
	if s.WallNs > 0 {
		s.SeedsPerS = float64(s.Runs) / (float64(s.WallNs) / 1e9)
	}
	s.Groups = Groups(s.Failures)
}

// mergeNames returns the sorted union of a and b without duplicates (nil
// when both are empty).
func mergeNames(a, b []string) []string {
	var out []string
	out = append(out, a...)
	out = append(out, b...)
	sort.Strings(out)
	return dedup(out)
}

// doubleRun decides deterministically whether a seed is run twice.
func doubleRun(o Options, seed uint64) bool {
	if o.CheckDeterminism || o.DoubleRunEvery == 1 {
		return true
	}
	return sim.StreamSeed(seed, "campaign/double-run")%o.DoubleRunEvery == 0
}

func runJob(o Options, budget *fileBudget, j job) outcome {
	s := o.Scenarios[j.sc]
	limit := o.Watchdog
	if limit < 0 {
		limit = 0
	}
	var res *scenarios.Result
	run := func() { res = replay.RunLimited(s, o.Variant, j.seed, scenarios.Config{}, limit) }
	if o.Cover != nil {
		if _, err := o.Cover.Seed(s.Name, j.seed, run); err != nil && res == nil {
			run() // the counters failed before the run: it still counts
		}
	} else {
		run()
	}
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
		Message: res.Failure.Message, Event: res.Failure.Event, VTime: res.Failure.VTime, Repro: res.Repro,
		Moment: momentWhy(res.Failure)}
	out.fail = f
	if o.Out == "" {
		return out
	}
	key := [2]string{s.Name, res.Failure.Checker}
	if !budget.take(key) {
		f.FileSkipped = true
		return out
	}
	*f = WriteFailure(res, "campaign", o.Out, limit)
	if f.FileError != "" {
		budget.give(key)
	}
	return out
}

// WriteFailure writes the failure file of a failed run into dir, as a
// campaign does the moment it finds one: the file first, so the failure is
// on disk before anything else can go wrong, then the checker's artifacts
// beside it (porcupine's picture of a linearizability violation), then the
// file again with the trace tail before the failure (a rerun bounded by
// limit). A hang keeps no plan (rerunning it would hang again) and gets no
// tail, nor does a divergence. It returns the failure as a summary lists
// it: File and Repro set, or FileError saying why the file is lost.
func WriteFailure(res *scenarios.Result, foundBy, dir string, limit time.Duration) Failure {
	f := failureOf(res)
	file := replay.FromResult(res, foundBy)
	if res.Failure.Checker == replay.HangChecker {
		file.Plan, file.PlanGenerated = nil, true
	}
	path, err := file.Write(dir)
	if err != nil {
		f.FileError = err.Error()
		return f
	}
	finishFile(&f, file, path, res, limit)
	return f
}

// failureOf is res's failure as a summary lists it, before any file.
func failureOf(res *scenarios.Result) Failure {
	return Failure{Scenario: res.Scenario, Variant: res.Variant, Seed: res.Seed, Checker: res.Failure.Checker,
		Message: res.Failure.Message, Event: res.Failure.Event, VTime: res.Failure.VTime, Repro: res.Repro,
		Moment: momentWhy(res.Failure)}
}

// finishFile completes f once res's failure file is written at path: File
// and Repro set, the artifacts written beside it (named in the message),
// and, but for a hang or a divergence, the file rewritten with the trace
// tail before the failure (a rerun bounded by limit).
func finishFile(f *Failure, file *replay.File, path string, res *scenarios.Result, limit time.Duration) {
	f.File, f.Repro = path, file.Repro
	if len(res.Artifacts) > 0 {
		arts, err := replay.WriteArtifacts(path, res.Artifacts)
		f.Artifacts = arts
		if err != nil {
			f.Message += " (artifact not written: " + err.Error() + ")"
		} else {
			f.Message += " (picture: " + strings.Join(arts, ", ") + ")"
		}
	}
	if res.Failure.Checker != replay.HangChecker && res.Failure.Checker != replay.DivergenceChecker {
		file.Capture(40, limit)
		_, _ = file.WriteAs(path)
	}
}

func verdict(r *scenarios.Result) string {
	if r.Failure == nil {
		return "passed"
	}
	return r.Failure.Checker
}
