package scenarios

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"time"

	"github.com/smilingraft/dsim/sim"
)

// Cluster is what a scenario's Setup builds on: the world, the variant, the
// workload stream, and hooks to declare fault targets, checkers, liveness
// conditions and metrics.
type Cluster struct {
	W        *sim.World
	Scenario *Scenario
	Variant  Variant
	Seed     uint64
	// Workload is the workload's PRNG stream, independent of the nemesis's.
	Workload *sim.Rand

	servers  []sim.NodeID
	checks   []named
	progress []named
	onHeal   []func()
	metrics  map[string]float64
	healed   bool
	files    map[string][]byte
	unknown  []string
	cleanup  []func()
}

type named struct {
	name string
	fn   func() error
}

// Servers declares the fault targets: plan node indices refer to them in
// this order.
func (c *Cluster) Servers(ids ...sim.NodeID) { c.servers = append(c.servers, ids...) }

// Targets returns the declared fault targets.
func (c *Cluster) Targets() []sim.NodeID { return c.servers }

// Check registers an offline checker, run once at the end of the run; an
// error is a failure named after the checker.
func (c *Cluster) Check(name string, fn func() error) { c.checks = append(c.checks, named{name, fn}) }

// Progress registers a liveness condition: after healing, fn must return nil
// within the scenario's Liveness bound; its last error explains a failure.
func (c *Cluster) Progress(name string, fn func() error) {
	c.progress = append(c.progress, named{name, fn})
}

// OnHeal registers fn to run when the fault phase ends and everything is
// healed (e.g. clients start their final operations).
func (c *Cluster) OnHeal(fn func()) { c.onHeal = append(c.onHeal, fn) }

// Every runs fn at intervals drawn from [lo, hi) by the workload stream
// until the fault phase is nearly over (hi before its end, so fn's faults
// can be undone by the next call): scripted fault shapes reshuffle their
// partitions with it.
func (c *Cluster) Every(lo, hi sim.Duration, fn func()) {
	end := sim.Time(c.Scenario.Duration) - sim.Time(hi)
	var tick func()
	tick = func() {
		if c.W.Now() >= end {
			return
		}
		fn()
		c.W.After(c.Workload.Between(lo, hi), tick)
	}
	c.W.After(c.Workload.Between(lo, hi), tick)
}

// Healed reports whether the liveness phase has begun.
func (c *Cluster) Healed() bool { return c.healed }

// Cleanup registers fn to run when the run ends, however it ends (a script
// still suspended is unwound there).
func (c *Cluster) Cleanup(fn func()) { c.cleanup = append(c.cleanup, fn) }

// Metric records a named measurement of the run.
func (c *Cluster) Metric(name string, v float64) { c.metrics[name] = v }

// Artifact attaches a file a checker produced (porcupine's picture of a
// violation, say) to the run's result under a short name such as
// "porcupine.html"; campaigns write it next to the failure file and replay
// regenerates it. Artifacts are not part of the trace or its hash.
func (c *Cluster) Artifact(name string, data []byte) {
	if c.files == nil {
		c.files = map[string][]byte{}
	}
	c.files[name] = data
}

// Undecided is the error an offline checker returns when it could not reach
// a verdict (porcupine's timeout): the run is then neither passed nor
// failed, and campaigns count it as incomplete, never as a pass.
type Undecided struct{ Reason string }

func (u *Undecided) Error() string { return "undecided: " + u.Reason }

// Evidence is the error of an offline checker that can say where in the
// run the violation happened: the failure keeps Moment (sim.Failure.Moment)
// beside the end-of-run event at which it was detected. Its message is
// Err's, so the failure and the trace hash are those of Err alone.
type Evidence struct {
	Err    error
	Moment *sim.Moment
}

// Error is Err's message.
func (e *Evidence) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *Evidence) Unwrap() error { return e.Err }

// Config adjusts one run: an explicit fault plan or options (replay,
// shrinking), a trace, an event to stop at.
type Config struct {
	// Plan, when set, is used instead of a generated plan.
	Plan *sim.Plan
	// Faults, when set, are used instead of the seed's swarm draw.
	Faults *sim.Faults
	// Trace receives the full JSON-lines trace.
	Trace io.Writer
	// BreakAt stops the run after that event (0: never).
	BreakAt uint64
	// Observe, when set, is called with the world before Setup: tools
	// attach hooks (crash-state enumeration) or keep it to ask after the
	// run which node an event belonged to.
	Observe func(w *sim.World)
}

// Result is the outcome of one run; its JSON form is the CLI contract's.
type Result struct {
	Scenario  string             `json:"scenario"`
	Variant   string             `json:"variant"`
	Seed      uint64             `json:"seed"`
	Passed    bool               `json:"passed"`
	Failure   *sim.Failure       `json:"failure"`
	Events    uint64             `json:"events"`
	VTime     sim.Time           `json:"vtime_ns"`
	WallNs    int64              `json:"wall_ns"`
	TraceHash string             `json:"trace_hash"`
	Faults    *sim.Faults        `json:"faults,omitempty"`
	Plan      sim.Plan           `json:"plan"`
	Net       sim.NetStats       `json:"net"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	Coverage  map[string]uint64  `json:"coverage,omitempty"`
	Repro     string             `json:"repro"`
	// Inspect holds every node's state when the run stopped at BreakAt.
	Inspect map[string]any `json:"inspect,omitempty"`
	// Undecided lists "checker: reason" for checkers that reached no
	// verdict; a run with any is not Passed (and has no Failure).
	Undecided []string `json:"undecided,omitempty"`
	// Artifacts are files checkers attached (Cluster.Artifact), by name.
	Artifacts map[string][]byte `json:"-"`
}

// Repro returns the one-line command that reruns (scenario, variant, seed).
func Repro(name string, v Variant, seed uint64) string {
	cmd := fmt.Sprintf("dsim run %s --seed %d", name, seed)
	if len(v) > 0 {
		cmd += " --variant " + v.String()
	}
	return cmd
}

// FaultsFor returns the fault options of (scenario, variant, seed): the
// scenario's fixed faults, or the seed's swarm draw over its kinds.
func (s *Scenario) FaultsFor(v Variant, seed uint64) *sim.Faults {
	switch {
	case s.Faults != nil:
		f := s.Faults(v)
		return &f
	case s.Kinds != nil:
		f := sim.Swarm(sim.NewRand(sim.StreamSeed(seed, "swarm")), *s.Kinds)
		return &f
	}
	return nil
}

// FaultTargets returns how many fault targets (servers) the scenario
// declares for variant v and seed: its Setup runs on a throwaway world and
// no event runs. ok is false when Setup fails or panics (the run itself
// then reports that). Replay uses it to check a failure file's plan against
// the scenario before running anything.
func (s *Scenario) FaultTargets(v Variant, seed uint64) (n int, ok bool) {
	ids, ok := s.TargetIDs(v, seed)
	return len(ids), ok
}

// TargetIDs returns the scenario's fault targets for variant v and seed, in
// the order plan actions index them, the same way FaultTargets does.
func (s *Scenario) TargetIDs(v Variant, seed uint64) (ids []sim.NodeID, ok bool) {
	if s.Validate(v) != nil {
		return nil, false
	}
	w := sim.NewWorld(seed, sim.Options{MaxEvents: 1})
	c := &Cluster{W: w, Scenario: s, Variant: v, Seed: seed, Workload: w.Rand("workload"), metrics: map[string]float64{}}
	defer func() {
		if r := recover(); r != nil {
			ids, ok = nil, false
		}
	}()
	if err := s.Setup(c); err != nil || w.Failure() != nil {
		return nil, false
	}
	return c.servers, true
}

// Run executes one (scenario, variant, seed). A panic in node or scenario
// code is a failure of the run, never a crash of the caller.
func Run(s *Scenario, v Variant, seed uint64, cfg Config) (res *Result) {
	start := time.Now()
	res = &Result{Scenario: s.Name, Variant: v.String(), Seed: seed, Repro: Repro(s.Name, v, seed)}
	if err := s.Validate(v); err != nil {
		res.Failure = &sim.Failure{Checker: "usage", Message: err.Error()}
		return res
	}
	faults := cfg.Faults
	if faults == nil {
		faults = s.FaultsFor(v, seed)
	}
	opts := sim.Options{MaxEvents: s.MaxEvents, Trace: cfg.Trace}
	if opts.MaxEvents == 0 {
		opts.MaxEvents = 50_000_000
	}
	if faults != nil {
		opts.Disk.Torn = faults.Disk.Torn
	}
	w := sim.NewWorld(seed, opts)
	w.BreakAt(cfg.BreakAt)
	if cfg.Observe != nil {
		cfg.Observe(w)
	}
	c := &Cluster{W: w, Scenario: s, Variant: v, Seed: seed,
		Workload: w.Rand("workload"), metrics: map[string]float64{}}
	defer func() {
		if r := recover(); r != nil {
			w.Fail("panic", "in scenario %s: %v", s.Name, r)
			w.Failure().Stack = string(debug.Stack())
		}
		for i := len(c.cleanup) - 1; i >= 0; i-- {
			c.cleanup[i]()
		}
		_ = w.FlushTrace()
		res.Failure = w.Failure()
		res.Undecided = c.unknown
		res.Passed = res.Failure == nil && len(res.Undecided) == 0
		res.Artifacts = c.files
		res.Events = w.Events()
		res.VTime = w.Now()
		res.WallNs = time.Since(start).Nanoseconds()
		res.TraceHash = fmt.Sprintf("%016x", w.Hash())
		res.Net = w.Stats()
		if len(c.metrics) > 0 {
			res.Metrics = c.metrics
		}
		if cov := w.Coverage(); len(cov) > 0 {
			res.Coverage = cov
		}
		if cfg.BreakAt > 0 && w.Events() >= cfg.BreakAt {
			res.Inspect = w.Inspect()
		}
	}()
	if err := s.Setup(c); err != nil {
		w.Fail("setup", "%v", err)
		return res
	}
	plan := sim.Plan{}
	switch {
	case cfg.Plan != nil:
		plan = *cfg.Plan
	case faults != nil:
		plan = sim.GeneratePlan(sim.StreamSeed(seed, "nemesis"), *faults, len(c.servers), s.Duration)
	}
	if err := plan.Validate(len(c.servers)); err != nil {
		w.Fail("plan", "%v", err)
		return res
	}
	res.Faults, res.Plan = faults, plan
	w.Schedule(plan, c.servers)
	w.Note("phase faults until %v", s.Duration)
	if !w.RunUntil(sim.Time(s.Duration)) {
		if w.Halted() {
			// A scripted scenario stopped the world when its script ended:
			// its offline checks still run.
			c.runChecks()
		}
		return res
	}
	if s.Liveness <= 0 {
		c.runChecks()
		return res
	}
	calm := s.Calm
	if calm == (sim.NetOptions{}) {
		calm = sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond}
	}
	w.Note("phase liveness: heal everything, progress within %v", s.Liveness)
	c.healed = true
	w.HealAll(c.servers, calm)
	for _, fn := range c.onHeal {
		fn()
	}
	deadline := w.Now().Add(s.Liveness)
	var lastErr error
	lastName := ""
	for {
		lastErr = nil
		for _, p := range c.progress {
			if err := p.fn(); err != nil {
				lastErr, lastName = err, p.name
				break
			}
		}
		if lastErr == nil || w.Now() >= deadline {
			break
		}
		if !w.RunUntil(minTime(w.Now().Add(10*sim.Millisecond), deadline)) {
			if w.Halted() {
				c.runChecks()
			}
			return res
		}
	}
	if lastErr != nil {
		w.Fail("liveness", "%s: no progress within %v after healing: %v", lastName, s.Liveness, lastErr)
		return res
	}
	c.Metric("liveness_ns", float64(w.Now()-sim.Time(s.Duration)))
	c.runChecks()
	return res
}

func (c *Cluster) runChecks() {
	for _, ch := range c.checks {
		if c.W.Failure() != nil {
			return
		}
		err := ch.fn()
		var u *Undecided
		switch {
		case errors.As(err, &u):
			c.unknown = append(c.unknown, ch.name+": "+u.Reason)
		case err != nil:
			c.W.Fail(ch.name, "%v", err)
			var ev *Evidence
			if errors.As(err, &ev) && c.W.Failure() != nil && c.W.Failure().Checker == ch.name {
				c.W.Failure().Moment = ev.Moment
			}
		}
	}
}

func minTime(a, b sim.Time) sim.Time {
	if a < b {
		return a
	}
	return b
}

// Names returns the names of scenarios, sorted.
func Names(ss []*Scenario) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	sort.Strings(out)
	return out
}
