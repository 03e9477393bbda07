package campaign

// Guided campaigns: a greybox search over fault plans.
//
// A plain campaign runs seeds From, From+1, ... and forgets each run. A
// guided one keeps a corpus: every passing run that reached something no
// earlier run did (a new feature of its Signal: by default a declared
// "sometimes" fact, or a fact reached a new number of times, counted in
// AFL's hit-count buckets) joins it as (scenario, seed, faults, explicit
// plan). Most runs then take a corpus entry, chosen with a weight that
// grows with the features it brought and decays each time it is picked
// (AFL's energy, ModelFuzz's decaying exploration bonus), and mutate its
// plan (Mutate: add, drop, shift, lengthen, retarget, change options, move
// crash points, cross with another entry, toggle torn writes, reseed); the
// rest are fresh seeds taken in order, exactly the runs a plain campaign
// makes, so the search never does worse than a quarter of a plain
// campaign.
//
// Every run is an ordinary run of scenarios.Run with an explicit plan
// (scenarios.Config.Plan): its failure file holds that plan and replays
// and shrinks like any other. The search is reproducible from its seed:
// one goroutine draws every mutation from one stream (sim.NewRand), workers
// only run, and results are applied to the corpus in run order, the input
// of run i being drawn from the corpus as it stood after runs 0..i-Window
// (never from whichever runs happened to finish first). So two guided
// campaigns with the same options, any worker count, reach the same corpus
// and the same failures.

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Window is how far behind the runs in flight a guided campaign's corpus
// may be: the input of run i is drawn after the results of runs 0..i-Window
// are applied. It is fixed, not the worker count, so that the search does
// not depend on how many workers ran it; it also caps useful workers.
const Window = 16

// Signal tells a guided campaign what a run reached, as features: opaque
// strings, a run being new when it reaches a feature no earlier run did.
// Observe runs the run of scenario's seed (it is called on worker
// goroutines, concurrently) and returns its result and features: a signal
// read from the result (FactSignal) just calls run; one read from
// process-wide state (Go's coverage counters, CodeSignal) clears it before
// and reads it after, holding the process to one run at a time.
type Signal interface {
	// Name names the signal in reports ("facts", "code").
	Name() string
	Observe(scenario string, seed uint64, run func() *scenarios.Result) (*scenarios.Result, []string)
	// Exclusive reports whether Observe reads process-wide state that any
	// node code running meanwhile would disturb: the campaign then runs
	// one run at a time and runs no node code (a scenario's Setup, a
	// failure's rerun for its trace tail) while one is measured.
	Exclusive() bool
}

// FactSignal is the signal of declared "sometimes" facts
// (sim.Env.Sometimes, scenarios.Result.Coverage): one feature per
// (scenario, fact, hit-count bucket), the buckets being AFL's (1, 2, 3,
// 4-7, 8-15, 16-31, 32-127, 128+), so that a fact reached far more often
// than before is new too.
type FactSignal struct{}

// Name returns "facts".
func (FactSignal) Name() string { return "facts" }

// Exclusive is false: facts come with each run's result.
func (FactSignal) Exclusive() bool { return false }

// Observe runs run and returns its facts as features.
func (FactSignal) Observe(_ string, _ uint64, run func() *scenarios.Result) (*scenarios.Result, []string) {
	res := run()
	return res, FactFeatures(res)
}

// FactFeatures returns a run's facts as features, sorted.
func FactFeatures(res *scenarios.Result) []string {
	out := make([]string, 0, len(res.Coverage))
	for k, n := range res.Coverage {
		out = append(out, fmt.Sprintf("%s|%s|%d", res.Scenario, k, bucket(n)))
	}
	sort.Strings(out)
	return out
}

// StateSignal is FactSignal plus a coarse abstraction of the run's
// state: each metric the scenario records (leader changes, the highest
// term, leaderless windows, retries, snapshots, latencies...) in
// power-of-two buckets ("scenario|m:metric|bucket", durations in
// milliseconds), so that a run that went somewhere unusual (twice the
// elections, a longer leaderless window) is new, as Mallory rewards new
// abstract states rather than new code only.
type StateSignal struct{}

// Name returns "state".
func (StateSignal) Name() string { return "state" }

// Exclusive is false: facts and metrics come with each run's result.
func (StateSignal) Exclusive() bool { return false }

// Observe runs run and returns its facts and metric buckets as features.
func (StateSignal) Observe(_ string, _ uint64, run func() *scenarios.Result) (*scenarios.Result, []string) {
	res := run()
	return res, append(FactFeatures(res), MetricFeatures(res)...)
}

// MetricFeatures returns a run's metrics as features, sorted: the bit
// length of each value (of its milliseconds for a metric named *_ns),
// negative values apart.
func MetricFeatures(res *scenarios.Result) []string {
	out := make([]string, 0, len(res.Metrics))
	for k, v := range res.Metrics {
		if strings.HasSuffix(k, "_ns") {
			v /= 1e6
		}
		sign := ""
		if v < 0 {
			sign, v = "-", -v
		}
		b := 0
		if v >= 1 && v < 1<<62 {
			b = bits.Len64(uint64(v))
		} else if v >= 1<<62 {
			b = 63
		}
		out = append(out, fmt.Sprintf("%s|m:%s|%s%d", res.Scenario, k, sign, b))
	}
	sort.Strings(out)
	return out
}

// bucket is AFL's hit-count bucket of n.
func bucket(n uint64) int {
	switch {
	case n <= 3:
		return int(n)
	case n < 8:
		return 4
	case n < 16:
		return 8
	case n < 32:
		return 16
	case n < 128:
		return 32
	}
	return 128
}

// GuidedOptions configure a guided campaign. The fields shared with
// Options mean the same; From is both the first fresh seed and the seed of
// the search itself.
type GuidedOptions struct {
	Scenarios []*scenarios.Scenario
	Variant   scenarios.Variant
	// Runs is how many runs per scenario (0 with Time: until time is up).
	Runs uint64
	Time time.Duration
	// From is the first fresh seed, and seeds the mutation stream.
	From             uint64
	Workers          int
	Out              string
	CheckDeterminism bool
	DoubleRunEvery   uint64
	Watchdog         time.Duration
	Progress         func(Progress)
	ProgressEvery    time.Duration
	OnFailure        func(Failure)
	MaxFailures      uint64
	FilesPerChecker  int
	// Signal is what counts as new (nil: FactSignal).
	Signal Signal
	lock   *sync.Mutex // see RunGuided's nodeMu
	// FreshEvery makes one run in FreshEvery (drawn) a fresh seed rather
	// than a mutation (0: 4).
	FreshEvery int
}

// Entry is one corpus entry: a passing run that reached new features.
type Entry struct {
	// Run is the index of the run that added it (runs count from 0 over
	// the whole campaign).
	Run      uint64      `json:"run"`
	Scenario string      `json:"scenario"`
	Seed     uint64      `json:"seed"`
	Faults   *sim.Faults `json:"faults,omitempty"`
	Plan     sim.Plan    `json:"plan"`
	// Parent is the run that added the entry it was mutated from (-1: a
	// fresh seed), Ops the operators applied.
	Parent int64    `json:"parent"`
	Ops    []string `json:"ops,omitempty"`
	// New is how many features it reached first.
	New int `json:"new"`
	// Picks is how many times it was mutated.
	Picks   int `json:"picks"`
	targets int
}

// CurvePoint is the number of distinct features reached after Runs runs.
type CurvePoint struct {
	Runs     uint64 `json:"runs"`
	Features int    `json:"features"`
}

// GuidedReport is what a guided campaign found besides its summary.
type GuidedReport struct {
	Signal string `json:"signal"`
	// From seeds the search; Window is the corpus lag (see Window).
	From   uint64 `json:"from"`
	Window int    `json:"window"`
	// Fresh and Mutated count runs of each kind; NewFresh and NewMutated
	// those that reached new features.
	Fresh      uint64 `json:"fresh"`
	Mutated    uint64 `json:"mutated"`
	NewFresh   uint64 `json:"new_fresh"`
	NewMutated uint64 `json:"new_mutated"`
	// Features is how many distinct features all runs reached.
	Features int `json:"features"`
	// Curve is Features after 1, 2, 4, 8, ... runs and at the end.
	Curve []CurvePoint `json:"curve"`
	// Corpus holds every entry, in the order they joined.
	Corpus []*Entry `json:"corpus"`
}

// input is one run a guided campaign makes.
type input struct {
	idx    uint64
	sc     int
	seed   uint64
	cfg    scenarios.Config
	fresh  bool
	parent int64
	ops    []string
	// targets is the parent's fault targets (a mutation's seed has as many).
	targets int
}

type guidedOut struct {
	in     input
	res    *scenarios.Result
	feats  []string
	double bool
}

type scState struct {
	s      *scenarios.Scenario
	kinds  sim.Kinds
	any    bool
	fresh  uint64 // fresh seeds drawn
	corpus []*Entry
	runs   uint64
}

// validate checks what RunGuided cannot run with.
func (o GuidedOptions) validate() error {
	if o.Runs > 0 && o.Runs-1 > math.MaxUint64-o.From {
		return fmt.Errorf("%d runs from seed %d run past the last seed", o.Runs, o.From)
	}
	if o.Workers < 0 {
		return fmt.Errorf("workers %d is negative", o.Workers)
	}
	if o.FreshEvery < 0 {
		return fmt.Errorf("fresh-every %d is negative", o.FreshEvery)
	}
	return nil
}

// RunGuided runs a guided campaign until its runs are done, its time is
// up, MaxFailures failures are applied, or ctx is cancelled (Interrupted).
// Its summary reads like a plain campaign's (Seeds says how many runs each
// scenario had, from seed From); the report holds the corpus.
func RunGuided(ctx context.Context, o GuidedOptions) (*Summary, *GuidedReport) {
	start := time.Now()
	defer setGC(o.Workers)() // as Run does
	sum := &Summary{DsimVersion: replay.Version, FormatVersion: SummaryFormat, Coverage: map[string]*Facts{},
		Work: map[string]*Work{}, Metrics: map[string]map[string]*Dist{}}
	if o.Signal == nil {
		o.Signal = FactSignal{}
	}
	rep := &GuidedReport{Signal: o.Signal.Name(), From: o.From, Window: Window, Corpus: []*Entry{}}
	if err := o.validate(); err != nil {
		sum.Problems = []string{"campaign not run: " + err.Error()}
		sum.finish()
		sum.Seeds = []SeedRange{}
		return sum, rep
	}
	if o.DoubleRunEvery == 0 {
		o.DoubleRunEvery = 64
	}
	if o.Watchdog == 0 {
		o.Watchdog = 60 * time.Second
	}
	limit := o.Watchdog
	if limit < 0 {
		limit = 0
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	if o.FilesPerChecker == 0 {
		o.FilesPerChecker = DefaultFilesPerChecker
	}
	if o.FreshEvery == 0 {
		o.FreshEvery = 4
	}
	total := uint64(0)
	if o.Runs > 0 {
		total = satMul(o.Runs, uint64(len(o.Scenarios)))
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Workers > Window {
		o.Workers = Window
	}
	if o.Signal.Exclusive() {
		o.Workers = 1
	}
	if total > 0 && uint64(o.Workers) > total {
		o.Workers = int(total)
	}
	sum.Workers = o.Workers
	var deadline <-chan time.Time
	if o.Time > 0 {
		t := time.NewTimer(o.Time)
		defer t.Stop()
		deadline = t.C
	}

	states := make([]*scState, len(o.Scenarios))
	for i, s := range o.Scenarios {
		k, any := KindsOf(s, o.Variant)
		states[i] = &scState{s: s, kinds: k, any: any}
	}
	r := sim.NewRand(sim.StreamSeed(o.From, "campaign/guided"))
	// nodeMu keeps node code outside runs (Setup for a target count, a
	// failure's rerun) from overlapping a run an exclusive signal measures.
	var nodeMu sync.Mutex
	if o.Signal.Exclusive() {
		o.lock = &nodeMu
	}
	seen := map[string]bool{}
	budget := map[[2]string]int{}

	jobs := make(chan input, o.Workers)
	results := make(chan guidedOut, o.Workers)
	for w := 0; w < o.Workers; w++ {
		go func() {
			for in := range jobs {
				var g guidedOut
				o.locked(func() { g = runGuided(o, states[in.sc].s, in, limit) })
				results <- g
			}
		}()
	}
	pending := map[uint64]guidedOut{}
	var applied, next, inflight uint64
	stop := false   // no more inputs: done, time up, interrupted or halted
	halted := false // MaxFailures reached: later results are not counted
	ticker := time.NewTicker(o.ProgressEvery)
	defer ticker.Stop()
	report := func(done bool) {
		if o.Progress != nil {
			o.Progress(progressOf(sum, total, o.Time, time.Since(start), done))
		}
	}
	// receive waits for one result, or for a reason to stop drawing inputs.
	receive := func() {
		select {
		case g := <-results:
			inflight--
			pending[g.in.idx] = g
		case <-ctx.Done():
			stop, sum.Interrupted = true, true
		case <-deadline:
			stop, deadline = true, nil
		case <-ticker.C:
			report(false)
		}
	}
	// applyNext applies the result of run applied, which is pending.
	applyNext := func() {
		g := pending[applied]
		delete(pending, applied)
		applied++
		if halted {
			return
		}
		o.applyGuided(sum, rep, states, seen, budget, g, limit)
		if n := sum.Runs; n&(n-1) == 0 {
			rep.Curve = append(rep.Curve, CurvePoint{Runs: n, Features: len(seen)})
		}
		if o.MaxFailures > 0 && uint64(len(sum.Failures)) >= o.MaxFailures {
			halted, stop = true, true
			sum.StoppedAfterFailures = o.MaxFailures
		}
	}
	for !stop && (total == 0 || next < total) {
		select {
		case <-ctx.Done():
			stop, sum.Interrupted = true, true
			continue
		default:
		}
		// Input next is drawn from the corpus as it stands after runs
		// 0..next-Window, and no later one.
		for !stop && next >= Window && applied <= next-Window {
			if _, ok := pending[applied]; ok {
				applyNext()
				continue
			}
			receive()
		}
		for !stop && inflight >= uint64(o.Workers) {
			receive()
		}
		if stop {
			break
		}
		jobs <- o.nextInput(r, states, next)
		next++
		inflight++
	}
	close(jobs)
	for inflight > 0 {
		g := <-results
		inflight--
		pending[g.in.idx] = g
	}
	for applied < next {
		applyNext()
	}
	rep.Features = len(seen)
	if n := sum.Runs; len(rep.Curve) == 0 || rep.Curve[len(rep.Curve)-1].Runs != n {
		rep.Curve = append(rep.Curve, CurvePoint{Runs: n, Features: len(seen)})
	}
	for _, st := range states {
		rep.Corpus = append(rep.Corpus, st.corpus...)
	}
	sort.Slice(rep.Corpus, func(i, j int) bool { return rep.Corpus[i].Run < rep.Corpus[j].Run })
	for i, s := range o.Scenarios {
		sum.Seeds = append(sum.Seeds, SeedRange{Scenario: s.Name, Variant: o.Variant.String(),
			From: o.From, Seeds: o.Runs, Shard: All, Runs: states[i].runs})
		sum.declare(s)
	}
	sum.WallNs = time.Since(start).Nanoseconds()
	sum.finish()
	report(true)
	return sum, rep
}

// locked runs fn holding the lock of an exclusive signal, if any.
func (o GuidedOptions) locked(fn func()) {
	if o.lock != nil {
		o.lock.Lock()
		defer o.lock.Unlock()
	}
	fn()
}

// nextInput draws run idx: its scenario in turn, then a fresh seed (one
// run in FreshEvery, and always while the scenario's corpus is empty or it
// allows no faults to mutate) or a mutation of a corpus entry.
func (o GuidedOptions) nextInput(r *sim.Rand, states []*scState, idx uint64) input {
	sc := int(idx % uint64(len(states)))
	st := states[sc]
	in := input{idx: idx, sc: sc, parent: -1}
	if len(st.corpus) == 0 || r.Intn(o.FreshEvery) == 0 || (!st.any && allEmpty(st.corpus)) {
		in.fresh = true
		in.seed = o.From + st.fresh
		st.fresh++
		return in
	}
	parent := pickEntry(r, st.corpus)
	parent.Picks++
	var other sim.Plan
	if len(st.corpus) > 1 {
		e := st.corpus[r.Intn(len(st.corpus))]
		if e != parent && o.targetsOf(st, e) == o.targetsOf(st, parent) {
			other = e.Plan
		}
	}
	k := FaultKinds{Kinds: st.kinds, Targets: o.targetsOf(st, parent), Duration: st.s.Duration}
	var faults sim.Faults
	if parent.Faults != nil {
		faults = *parent.Faults
	}
	m := Mutate(r, k, parent.Plan, faults, other)
	in.seed = parent.Seed
	if m.Reseed {
		seed := r.Uint64()
		o.locked(func() {
			if n, ok := st.s.FaultTargets(o.Variant, seed); ok && n == parent.targets {
				in.seed = seed
			}
		})
	}
	plan := m.Plan
	in.cfg.Plan = &plan
	if parent.Faults != nil || m.Faults != (sim.Faults{}) {
		f := m.Faults
		in.cfg.Faults = &f
	}
	in.parent = int64(parent.Run)
	in.ops = m.Ops
	in.targets = k.Targets
	return in
}

func allEmpty(c []*Entry) bool {
	for _, e := range c {
		if len(e.Plan) > 0 {
			return false
		}
	}
	return true
}

// pickEntry draws an entry with weight (1+New)*64/(8+Picks): entries that
// brought more features get more mutations, and each pick lowers the
// weight, so fresh entries get their turn.
func pickEntry(r *sim.Rand, c []*Entry) *Entry {
	w := make([]uint64, len(c))
	var total uint64
	for i, e := range c {
		w[i] = uint64(1+e.New) * 64 / uint64(8+e.Picks)
		if w[i] == 0 {
			w[i] = 1
		}
		total += w[i]
	}
	x := r.Uint64n(total)
	for i := range c {
		if x < w[i] {
			return c[i]
		}
		x -= w[i]
	}
	return c[len(c)-1]
}

// runGuided makes one run on a worker, double-running it when the
// campaign says so.
func runGuided(o GuidedOptions, s *scenarios.Scenario, in input, limit time.Duration) guidedOut {
	cfg := func() scenarios.Config {
		c := in.cfg
		if c.Plan != nil {
			p := clonePlan(*c.Plan)
			c.Plan = &p
		}
		return c
	}
	res, feats := o.Signal.Observe(s.Name, in.seed, func() *scenarios.Result { return replay.RunLimited(s, o.Variant, in.seed, cfg(), limit) })
	out := guidedOut{in: in, res: res, feats: feats}
	hung := res.Failure != nil && res.Failure.Checker == replay.HangChecker
	if !hung && (o.CheckDeterminism || o.DoubleRunEvery == 1 ||
		sim.StreamSeed(in.idx, "campaign/guided/double-run")%o.DoubleRunEvery == 0) {
		out.double = true
		again := replay.RunLimited(s, o.Variant, in.seed, cfg(), limit)
		if again.TraceHash != res.TraceHash || (again.Failure == nil) != (res.Failure == nil) {
			msg := fmt.Sprintf("two runs of seed %d differ: hash %s (%s) vs %s (%s)", in.seed,
				res.TraceHash, verdict(res), again.TraceHash, verdict(again))
			if d := replay.Diverge(s, o.Variant, in.seed, cfg()); d != "" {
				msg += "; " + strings.ReplaceAll(d, "\n", " ")
			}
			res.Failure = &sim.Failure{Checker: replay.DivergenceChecker, Message: msg}
			res.Passed = false
		}
	}
	return out
}

// applyGuided counts one result in the summary, writes its failure file,
// and adds it to the corpus when it passed and reached a new feature.
func (o GuidedOptions) applyGuided(sum *Summary, rep *GuidedReport, states []*scState, seen map[string]bool,
	budget map[[2]string]int, g guidedOut, limit time.Duration) {
	st := states[g.in.sc]
	st.runs++
	res := g.res
	name := st.s.Name
	sum.Runs++
	if g.double {
		sum.DoubleRuns++
	}
	sum.Events = satAdd(sum.Events, res.Events)
	if res.VTime > 0 && sum.VTimeNs <= math.MaxInt64-int64(res.VTime) {
		sum.VTimeNs += int64(res.VTime)
	}
	sum.tally(name, res)
	newFeats := 0
	for _, f := range g.feats {
		if !seen[f] {
			seen[f] = true
			newFeats++
		}
	}
	if g.in.fresh {
		rep.Fresh++
	} else {
		rep.Mutated++
	}
	if newFeats > 0 {
		if g.in.fresh {
			rep.NewFresh++
		} else {
			rep.NewMutated++
		}
	}
	switch {
	case res.Failure != nil:
		var f Failure
		o.locked(func() { f = o.guidedFailure(res, g.in, budget, limit) })
		sum.addFailure(f, o.OnFailure)
	case len(res.Undecided) > 0:
		sum.Undecided = append(sum.Undecided, fmt.Sprintf("%s seed %d (guided run %d): %s", name, g.in.seed, g.in.idx, strings.Join(res.Undecided, "; ")))
	default:
		sum.Passed++
		if newFeats == 0 {
			return
		}
		targets := -1 // a fresh entry's: counted when it is first picked
		if !g.in.fresh {
			targets = g.in.targets
		}
		e := &Entry{Run: g.in.idx, Scenario: name, Seed: g.in.seed, Faults: res.Faults, Plan: clonePlan(res.Plan),
			Parent: g.in.parent, Ops: g.in.ops, New: newFeats, targets: targets}
		if e.Plan == nil {
			e.Plan = sim.Plan{}
		}
		st.corpus = append(st.corpus, e)
	}
}

// targetsOf returns how many fault targets entry e's seed has, running
// the scenario's Setup once, the first time it is asked (most entries are
// never picked). A Setup that fails counts none: mutations of such an
// entry only reseed.
func (o GuidedOptions) targetsOf(st *scState, e *Entry) int {
	if e.targets < 0 {
		e.targets = 0
		o.locked(func() {
			if n, ok := st.s.FaultTargets(o.Variant, e.Seed); ok {
				e.targets = n
			}
		})
	}
	return e.targets
}

// guidedFailure writes a failed run's file: a fresh seed's under the plain
// campaign's name, a mutated plan's under that name with "-g" and the run
// index, so that two plans of one seed never overwrite each other. Its
// Repro replays the file: a mutated run has no "dsim run" command line.
func (o GuidedOptions) guidedFailure(res *scenarios.Result, in input, budget map[[2]string]int, limit time.Duration) Failure {
	f := failureOf(res)
	if !in.fresh {
		f.Repro = fmt.Sprintf("guided run %d: replay its failure file (no dsim run line reproduces a mutated plan)", in.idx)
	}
	if o.Out == "" {
		return f
	}
	key := [2]string{res.Scenario, res.Failure.Checker}
	if o.FilesPerChecker >= 0 && budget[key] >= o.FilesPerChecker {
		f.FileSkipped = true
		return f
	}
	budget[key]++
	if in.fresh {
		w := WriteFailure(res, "guided", o.Out, limit)
		if w.FileError != "" {
			budget[key]--
		}
		return w
	}
	file := replay.FromResult(res, "guided")
	if in.cfg.Plan != nil {
		file.Plan = clonePlan(*in.cfg.Plan)
		file.Faults = in.cfg.Faults
	}
	path := filepath.Join(o.Out, strings.TrimSuffix(file.Name(), ".json")+fmt.Sprintf("-g%d.json", in.idx))
	if _, err := file.WriteAs(path); err != nil {
		budget[key]--
		f.FileError = err.Error()
		return f
	}
	finishFile(&f, file, path, res, limit)
	return f
}
